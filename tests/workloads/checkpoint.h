// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * checkpoint.h: the exact ground-truth checkpoint the workloads share
 * (checkpoints, holder, threads, forker, burst64). Each workload is still
 * built from its one .c file; everything here is static.
 *
 * A checkpoint is: t0 = clock_gettime(CLOCK_MONOTONIC); read
 * /proc/self/status; t1 = clock_gettime(). Nothing between t0 and t1
 * allocates or touches a page for the first time: cp_take() writes the
 * stack (64 KiB below it), the status buffer and the result before t0, which
 * also copies any page a fork left shared. A workload pre-faults whatever
 * else it writes around a checkpoint, and warms the code paths up with one
 * checkpoint before the first that counts. /proc/PID/status values are exact
 * on 6.16+ kernels (percpu_counter_sum).
 *
 * Define CP_PROG, the program name error messages start with, before
 * including this file.
 */
#ifndef MEMTRACE_WORKLOAD_CHECKPOINT_H
#define MEMTRACE_WORKLOAD_CHECKPOINT_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifndef CP_PROG
#error "define CP_PROG (the program name for error messages) before including checkpoint.h"
#endif

#define MIB (1024UL * 1024UL)

/* One checkpoint: times in CLOCK_MONOTONIC ns, sizes in kB. */
struct cp {
	long long t0, t1;
	long vmrss, anon, file, shmem, vmsize, vmdata;
	char label[24];
};

static inline long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Write-touch 64 KiB of stack below the caller, so nothing between t0 and
 * t1 faults a stack page in (or copies one after fork). Not inline: the
 * pad must lie below the frame it protects ("unused": not every workload
 * calls it). */
static __attribute__((noinline, unused)) void touch_stack(void)
{
	volatile char pad[64 * 1024];
	size_t i;

	for (i = 0; i < sizeof(pad); i += 256)
		pad[i] = 0;
}

/* The number after NAME in a /proc/PID/status text, -1 without NAME. */
static inline long field(const char *buf, const char *name)
{
	const char *p = strstr(buf, name);

	if (!p)
		return -1;
	return strtol(p + strlen(name), NULL, 10);
}

/* "CP_PROG: WHAT: strerror(errno)" on stderr, exit 99. */
static inline __attribute__((noreturn)) void die(const char *what)
{
	int e = errno;
	char msg[256];
	int n = snprintf(msg, sizeof(msg), CP_PROG ": %s: %s\n", what, strerror(e));

	if (write(2, msg, (size_t)n) < 0)
		_exit(99);
	_exit(99);
}

/* LEN bytes of private anonymous memory, VALUE written into every page (all
 * of it resident); dies if mmap() fails. */
static inline char *map_touched(size_t len, char value)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t off;

	if (p == MAP_FAILED)
		die("mmap");
	for (off = 0; off < len; off += 4096)
		((volatile char *)p)[off] = value;
	return p;
}

/* Takes one exact checkpoint into *c, labelled LABEL (cut to fit). */
static inline void cp_take(struct cp *c, const char *label)
{
	static char status_buf[16384];
	long long t0, t1;
	ssize_t n, got = 0;
	int fd;

	touch_stack();
	memset(c, 0, sizeof(*c));
	memset(status_buf, 0, sizeof(status_buf));
	fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open /proc/self/status");
	t0 = now_ns();
	while ((n = read(fd, status_buf + got, sizeof(status_buf) - 1 - (size_t)got)) > 0)
		got += n;
	t1 = now_ns();
	close(fd);
	status_buf[got] = 0;
	c->t0 = t0;
	c->t1 = t1;
	c->vmrss = field(status_buf, "\nVmRSS:");
	c->anon = field(status_buf, "\nRssAnon:");
	c->file = field(status_buf, "\nRssFile:");
	c->shmem = field(status_buf, "\nRssShmem:");
	c->vmsize = field(status_buf, "\nVmSize:");
	c->vmdata = field(status_buf, "\nVmData:");
	snprintf(c->label, sizeof(c->label), "%s", label);
}

/* Formats c into buf as snprintf() would, as the line
 *   CP <pid> <t0> <t1> <vmrss> <anon> <file> <shmem> <vmsize> <vmdata> <label> */
static inline int cp_format(char *buf, size_t size, int pid, const struct cp *c)
{
	return snprintf(buf, size, "CP %d %lld %lld %ld %ld %ld %ld %ld %ld %s\n", pid, c->t0,
			c->t1, c->vmrss, c->anon, c->file, c->shmem, c->vmsize, c->vmdata,
			c->label);
}

/* cp_format() of cps[0..n-1], one line after the other; returns the length
 * written (buf must hold them all). */
static inline size_t cp_format_all(char *buf, size_t size, int pid, const struct cp *cps, int n)
{
	size_t off = 0;
	int i;

	for (i = 0; i < n; i++)
		off += (size_t)cp_format(buf + off, size - off, pid, &cps[i]);
	return off;
}

#endif /* MEMTRACE_WORKLOAD_CHECKPOINT_H */
