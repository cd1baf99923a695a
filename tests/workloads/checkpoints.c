// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * checkpoints: a fixed sequence of memory operations (anonymous mmap of
 * 1..64 MiB, munmap, mremap, malloc/free through brk, a file-backed mmap,
 * a MAP_SHARED|MAP_ANONYMOUS shmem region, madvise(MADV_DONTNEED), a
 * failing madvise), with an exact ground-truth checkpoint after each step.
 *
 *   checkpoints [TMPDIR]
 *
 * A checkpoint is: t0 = clock_gettime(CLOCK_MONOTONIC); read
 * /proc/self/status; t1 = clock_gettime(). Nothing between t0 and t1
 * allocates or touches a page for the first time: the status buffer, the
 * result arrays and the stack are written before t0, and the code paths
 * are warmed up once before the first real checkpoint. /proc/PID/status
 * values are exact on 6.16+ kernels (percpu_counter_sum).
 *
 * Output at the end (stdout, one write per line):
 *   OP <name> <addr-hex> <len> <ret>          every mm syscall we made
 *   CP <pid> <t0> <t1> <vmrss> <anon> <file> <shmem> <vmsize> <vmdata> <label>
 *   DONE <pid>
 * Sizes in kB, times in CLOCK_MONOTONIC ns.
 */
#define CP_PROG "checkpoints"
#include "checkpoint.h"

#include <malloc.h>
#include <stdint.h>
#include <sys/mman.h>

#define PAGE 4096UL
#define MAX_CP 64
#define MAX_OP 64

struct op {
	const char *name;
	uintptr_t addr;
	unsigned long len;
	long ret;
};

static struct cp cps[MAX_CP];
static int ncp;
static struct op ops[MAX_OP];
static int nop;
static char out_buf[65536];
static char io_buf[65536];

static void checkpoint(const char *label)
{
	if (ncp >= MAX_CP)
		return;
	cp_take(&cps[ncp], label);
	ncp++;
}

static void record_op(const char *name, void *addr, unsigned long len, long ret)
{
	if (nop >= MAX_OP)
		return;
	ops[nop].name = name;
	ops[nop].addr = (uintptr_t)addr;
	ops[nop].len = len;
	ops[nop].ret = ret;
	nop++;
}

static void touch(void *p, size_t len, size_t step)
{
	volatile char *c = p;
	size_t i;

	for (i = 0; i < len; i += step)
		c[i] = (char)(i >> 12);
}

static unsigned long read_touch(const void *p, size_t len)
{
	const volatile char *c = p;
	unsigned long sum = 0;
	size_t i;

	for (i = 0; i < len; i += PAGE)
		sum += (unsigned char)c[i];
	return sum;
}

static void *do_mmap(size_t len, int prot, int flags, int fd)
{
	void *p = mmap(NULL, len, prot, flags, fd, 0);

	record_op("mmap", NULL, len, p == MAP_FAILED ? -errno : (long)(uintptr_t)p);
	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

static void do_munmap(void *p, size_t len)
{
	int r = munmap(p, len);

	record_op("munmap", p, len, r ? -errno : 0);
	if (r)
		die("munmap");
}

static long do_madvise(void *p, size_t len, int advice)
{
	int r = madvise(p, len, advice);
	long ret = r ? -errno : 0;

	record_op("madvise", p, len, ret);
	return ret;
}

static void flush_out(void)
{
	size_t len = strlen(out_buf), off = 0;
	ssize_t n;

	while (off < len) {
		n = write(1, out_buf + off, len - off);
		if (n <= 0)
			_exit(98);
		off += (size_t)n;
	}
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	static const size_t sizes[] = { 1, 4, 16, 64 };
	void *anon[4];
	char path[4096], *heap, *brk0, *brk1, *brk2;
	char *file_map, *shm, *grow, *grown;
	unsigned long sum = 0;
	size_t i, off;
	int fd;
	pid_t pid = getpid();

	/* Pre-fault everything the checkpoints and the output write into,
	 * warm up every code path, then mark the baseline. */
	memset(cps, 0, sizeof(cps));
	memset(ops, 0, sizeof(ops));
	memset(out_buf, 0, sizeof(out_buf));
	memset(io_buf, 'x', sizeof(io_buf));
	checkpoint("warmup");
	checkpoint("warmup");
	(void)cp_format(out_buf, sizeof(out_buf), (int)pid, &cps[0]);
	ncp = 0;
	checkpoint("start");

	/* 1. anonymous mmaps of growing sizes, touched page by page */
	for (i = 0; i < 4; i++) {
		anon[i] = do_mmap(sizes[i] * MIB, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1);
		touch(anon[i], sizes[i] * MIB, PAGE);
		checkpoint(i == 0 ? "anon1M" : i == 1 ? "anon4M" : i == 2 ? "anon16M" : "anon64M");
	}

	/* 2. half of the 16 MiB region touched once more (no change), and
	 *    every other page of a fresh 8 MiB region */
	touch(anon[2], 8 * MIB, PAGE);
	checkpoint("retouch");
	heap = do_mmap(8 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	touch(heap, 8 * MIB, 2 * PAGE);
	checkpoint("sparse8M");

	/* 3. madvise(MADV_DONTNEED) on half of the 64 MiB region */
	do_madvise((char *)anon[3] + 32 * MIB, 32 * MIB, MADV_DONTNEED);
	checkpoint("dontneed32M");

	/* 4. a failing madvise: bad advice -> -EINVAL, no change */
	do_madvise(anon[0], MIB, 12345);
	checkpoint("madvise_einval");

	/* 5. munmap the 4 MiB and the sparse region */
	do_munmap(anon[1], 4 * MIB);
	checkpoint("munmap4M");
	do_munmap(heap, 8 * MIB);
	checkpoint("munmap_sparse");

	/* 6. malloc/free through brk */
	mallopt(M_MMAP_MAX, 0);
	mallopt(M_TRIM_THRESHOLD, 128 * 1024);
	mallopt(M_TOP_PAD, 0);
	brk0 = sbrk(0);
	heap = malloc(12 * MIB);
	if (!heap)
		die("malloc");
	brk1 = sbrk(0);
	record_op("brk", NULL, 0, (long)(uintptr_t)brk1);
	touch(heap, 12 * MIB, PAGE);
	checkpoint("malloc12M");
	free(heap);
	brk2 = sbrk(0);
	record_op("brk", NULL, 0, (long)(uintptr_t)brk2);
	checkpoint("free12M");
	(void)brk0;

	/* 7. file-backed mmap of a temp file, read page by page */
	snprintf(path, sizeof(path), "%s/memtrace-cp-XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0)
		die("mkstemp");
	unlink(path);
	for (off = 0; off < 6 * MIB; off += sizeof(io_buf))
		if (write(fd, io_buf, sizeof(io_buf)) != (ssize_t)sizeof(io_buf))
			die("write temp file");
	file_map = do_mmap(6 * MIB, PROT_READ, MAP_PRIVATE, fd);
	sum += read_touch(file_map, 6 * MIB);
	checkpoint("file6M");
	/* a private written copy of the first 1 MiB: file -> anon */
	do_munmap(file_map, 6 * MIB);
	checkpoint("file_munmap");
	file_map = do_mmap(2 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd);
	sum += read_touch(file_map, 2 * MIB);
	touch(file_map, MIB, PAGE);
	checkpoint("file_cow1M");
	do_munmap(file_map, 2 * MIB);
	close(fd);
	checkpoint("file_closed");

	/* 8. shmem: MAP_SHARED|MAP_ANONYMOUS, touched, half dropped */
	shm = do_mmap(10 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1);
	touch(shm, 10 * MIB, PAGE);
	checkpoint("shmem10M");
	do_madvise(shm, 4 * MIB, MADV_DONTNEED);
	checkpoint("shmem_dontneed4M");
	do_munmap(shm, 10 * MIB);
	checkpoint("shmem_munmap");

	/* 9. mremap: grow 4 MiB to 12 MiB (may move), touch the new part */
	grow = do_mmap(4 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	touch(grow, 4 * MIB, PAGE);
	checkpoint("mremap_before");
	grown = mremap(grow, 4 * MIB, 12 * MIB, MREMAP_MAYMOVE);
	record_op("mremap", grow, 4 * MIB, grown == MAP_FAILED ? -errno : (long)(uintptr_t)grown);
	if (grown == MAP_FAILED)
		die("mremap");
	touch(grown + 4 * MIB, 8 * MIB, PAGE);
	checkpoint("mremap12M");
	do_munmap(grown, 12 * MIB);
	checkpoint("mremap_munmap");

	/* 10. release everything else */
	do_munmap(anon[0], MIB);
	do_munmap(anon[2], 16 * MIB);
	do_munmap(anon[3], 64 * MIB);
	checkpoint("end");

	/* Output (everything above is final; nothing is measured after). */
	off = 0;
	for (i = 0; i < (size_t)nop; i++)
		off += (size_t)snprintf(out_buf + off, sizeof(out_buf) - off,
					"OP %s 0x%lx %lu %ld\n", ops[i].name,
					(unsigned long)ops[i].addr, ops[i].len, ops[i].ret);
	off += cp_format_all(out_buf + off, sizeof(out_buf) - off, (int)pid, cps, ncp);
	snprintf(out_buf + off, sizeof(out_buf) - off, "DONE %d %lu\n", (int)pid, sum & 1);
	flush_out();
	return 0;
}
