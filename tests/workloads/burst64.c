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
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024UL * 1024UL)
#define BURST (64 * MIB)

static char status_buf[16384];
static char out_buf[1024];

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static __attribute__((noinline)) void touch_stack(void)
{
	volatile char pad[64 * 1024];
	size_t i;

	for (i = 0; i < sizeof(pad); i += 256)
		pad[i] = 0;
}

static long field(const char *buf, const char *name)
{
	const char *p = strstr(buf, name);

	if (!p)
		return -1;
	return strtol(p + strlen(name), NULL, 10);
}

static __attribute__((noreturn)) void raw_exit(int code)
{
	for (;;)
		__asm__ volatile("syscall" : : "a"(SYS_exit_group), "D"(code) : "rcx", "r11", "memory");
}

static int format(int pid, long long ta, long long t0, long long t1, long rss,
		  long anon, long file, long shmem, void *addr)
{
	return snprintf(out_buf, sizeof(out_buf),
			"BURST %d %lld %lld %lld %ld %ld %ld %ld 0x%lx %lu\n", pid, ta,
			t0, t1, rss, anon, file, shmem, (unsigned long)addr, BURST);
}

int main(int argc, char **argv)
{
	int code = argc > 1 ? atoi(argv[1]) : 0;
	int pid = getpid(), fd, n;
	long long ta, t0, t1;
	ssize_t r, got = 0;
	char *p;
	size_t i;

	/* warm-up: stack, buffers, every function used after the burst */
	touch_stack();
	memset(status_buf, 0, sizeof(status_buf));
	memset(out_buf, 0, sizeof(out_buf));
	n = format(pid, 1, 2, 3, 4, 5, 6, 7, status_buf);
	if (write(1, out_buf, 0) < 0)
		raw_exit(98);
	fd = open("/proc/self/status", O_RDONLY);
	if (fd < 0)
		raw_exit(99);
	(void)now_ns();
	while ((r = read(fd, status_buf, sizeof(status_buf) - 1)) > 0)
		;
	close(fd);
	(void)field(status_buf, "\nVmRSS:");
	memset(status_buf, 0, sizeof(status_buf));

	ta = now_ns();
	p = mmap(NULL, BURST, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		raw_exit(97);
	for (i = 0; i < BURST; i += 4096)
		((volatile char *)p)[i] = 1;

	fd = open("/proc/self/status", O_RDONLY);
	if (fd < 0)
		raw_exit(99);
	t0 = now_ns();
	while ((r = read(fd, status_buf + got, sizeof(status_buf) - 1 - (size_t)got)) > 0)
		got += r;
	t1 = now_ns();
	close(fd);
	status_buf[got] = 0;
	n = format(pid, ta, t0, t1, field(status_buf, "\nVmRSS:"),
		   field(status_buf, "\nRssAnon:"), field(status_buf, "\nRssFile:"),
		   field(status_buf, "\nRssShmem:"), p);
	if (write(1, out_buf, (size_t)n) != n)
		raw_exit(96);
	raw_exit(code);
}
