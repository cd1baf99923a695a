// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * burst64: allocates and touches 64 MiB right at the start, reads its exact
 * VmRSS, prints it and exits at once, so its whole life is one rise.
 *
 *   burst64 [EXIT_CODE]
 *
 * Output (stdout, one write):
 *   BURST <pid> <ts_alloc> <t0> <t1> <vmrss_kb> <anon_kb> <file_kb> <shmem_kb> <addr-hex> <len>
 * ts_alloc is taken just before the mmap, t0/t1 bracket the read of
 * /proc/self/status. Nothing is faulted in after t1: the output buffer,
 * the stack, snprintf() and write() are warmed up before the burst, and the
 * exit is a raw exit_group syscall (no libc page touched after t1).
 */
#define CP_PROG "burst64"
#include "checkpoint.h"

#include <sys/mman.h>
#include <sys/syscall.h>

#define BURST (64 * MIB)

static char out_buf[1024];

static __attribute__((noreturn)) void raw_exit(int code)
{
	for (;;)
		__asm__ volatile("syscall" : : "a"(SYS_exit_group), "D"(code) : "rcx", "r11", "memory");
}

static int format(int pid, long long ta, const struct cp *c, void *addr)
{
	return snprintf(out_buf, sizeof(out_buf),
			"BURST %d %lld %lld %lld %ld %ld %ld %ld 0x%lx %lu\n", pid, ta,
			c->t0, c->t1, c->vmrss, c->anon, c->file, c->shmem, (unsigned long)addr,
			BURST);
}

int main(int argc, char **argv)
{
	int code = argc > 1 ? atoi(argv[1]) : 0;
	int pid = getpid(), n;
	struct cp c;
	long long ta;
	char *p;
	size_t i;

	/* warm-up: stack, buffers, every function used after the burst
	 * (cp_take() writes the stack, the status buffer and c) */
	memset(out_buf, 0, sizeof(out_buf));
	cp_take(&c, "warmup");
	(void)format(pid, 1, &c, out_buf);
	if (write(1, out_buf, 0) < 0)
		raw_exit(98);

	ta = now_ns();
	p = mmap(NULL, BURST, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		raw_exit(97);
	for (i = 0; i < BURST; i += 4096)
		((volatile char *)p)[i] = 1;

	cp_take(&c, "burst");
	n = format(pid, ta, &c, p);
	if (write(1, out_buf, (size_t)n) != n)
		raw_exit(96);
	raw_exit(code);
}
