// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * threads: T threads fault memory into one address space at the same time
 * (the percpu RSS counters are then updated from several CPUs at once),
 * then unmap it at the same time. The main thread takes an exact
 * checkpoint whenever every worker is parked, so nothing changes during it.
 *
 *   threads [T [ROUNDS [MIB]]]     defaults: 2 threads, 4 rounds, 16 MiB each
 *
 * Output (stdout, at the end):
 *   TID <tid>                     each worker's thread id
 *   CP <pid> <t0> <t1> <vmrss> <anon> <file> <shmem> <vmsize> <label>
 *   DONE <pid>
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024UL * 1024UL)
#define MAX_T 16
#define MAX_CP 64

struct cp {
	long long t0, t1;
	long vmrss, anon, file, shmem, vmsize;
	char label[24];
};

static char status_buf[16384];
static struct cp cps[MAX_CP];
static int ncp;
static char out_buf[16384];
static pthread_barrier_t bar;
static int nthreads = 2, rounds = 4;
static size_t region;
static pid_t tids[MAX_T];

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

static void die(const char *what)
{
	int e = errno;
	char msg[256];
	int n = snprintf(msg, sizeof(msg), "threads: %s: %s\n", what, strerror(e));

	if (write(2, msg, (size_t)n) < 0)
		_exit(99);
	_exit(99);
}

static void checkpoint(const char *label, int round)
{
	struct cp *c;
	long long t0, t1;
	ssize_t n, got = 0;
	int fd;

	if (ncp >= MAX_CP)
		return;
	c = &cps[ncp];
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
	snprintf(c->label, sizeof(c->label), "%s%d", label, round);
	ncp++;
}

static void *worker(void *arg)
{
	int id = (int)(long)arg, r;
	char *p;
	size_t off;

	tids[id] = (pid_t)syscall(SYS_gettid);
	touch_stack();
	pthread_barrier_wait(&bar);		/* all started */
	pthread_barrier_wait(&bar);		/* main took its checkpoint */
	for (r = 0; r < rounds; r++) {
		p = mmap(NULL, region, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			die("mmap");
		for (off = 0; off < region; off += 4096)
			((volatile char *)p)[off] = (char)r;
		pthread_barrier_wait(&bar);	/* all touched */
		pthread_barrier_wait(&bar);	/* main took its checkpoint */
		/* give back half by madvise, all by munmap, at the same time */
		if (madvise(p, region / 2, MADV_DONTNEED))
			die("madvise");
		pthread_barrier_wait(&bar);
		pthread_barrier_wait(&bar);
		if (munmap(p, region))
			die("munmap");
		pthread_barrier_wait(&bar);
		pthread_barrier_wait(&bar);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[MAX_T];
	size_t off = 0;
	int i, r;

	if (argc > 1)
		nthreads = atoi(argv[1]);
	if (argc > 2)
		rounds = atoi(argv[2]);
	region = (size_t)(argc > 3 ? atol(argv[3]) : 16) * MIB;
	if (nthreads < 1 || nthreads > MAX_T)
		nthreads = 2;
	memset(cps, 0, sizeof(cps));
	memset(out_buf, 0, sizeof(out_buf));
	checkpoint("warmup", 0);
	checkpoint("warmup", 0);
	ncp = 0;
	if (pthread_barrier_init(&bar, NULL, (unsigned)nthreads + 1))
		die("pthread_barrier_init");
	for (i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, worker, (void *)(long)i))
			die("pthread_create");
	pthread_barrier_wait(&bar);
	checkpoint("started", 0);
	pthread_barrier_wait(&bar);
	for (r = 0; r < rounds; r++) {
		pthread_barrier_wait(&bar);	/* workers touched */
		checkpoint("touched", r);
		pthread_barrier_wait(&bar);
		pthread_barrier_wait(&bar);	/* workers madvised */
		checkpoint("dontneed", r);
		pthread_barrier_wait(&bar);
		pthread_barrier_wait(&bar);	/* workers unmapped */
		checkpoint("unmapped", r);
		pthread_barrier_wait(&bar);
	}
	for (i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	checkpoint("joined", 0);

	for (i = 0; i < nthreads; i++)
		off += (size_t)snprintf(out_buf + off, sizeof(out_buf) - off, "TID %d\n", (int)tids[i]);
	for (i = 0; i < ncp; i++)
		off += (size_t)snprintf(out_buf + off, sizeof(out_buf) - off,
					"CP %d %lld %lld %ld %ld %ld %ld %ld %s\n", (int)getpid(),
					cps[i].t0, cps[i].t1, cps[i].vmrss, cps[i].anon,
					cps[i].file, cps[i].shmem, cps[i].vmsize, cps[i].label);
	off += (size_t)snprintf(out_buf + off, sizeof(out_buf) - off, "DONE %d\n", (int)getpid());
	if (write(1, out_buf, off) != (ssize_t)off)
		return 98;
	return 0;
}
