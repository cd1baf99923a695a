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
 *   CP <pid> <t0> <t1> <vmrss> <anon> <file> <shmem> <vmsize> <vmdata> <label>
 *   DONE <pid>
 */
#define CP_PROG "threads"
#include "checkpoint.h"

#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define MAX_T 16
#define MAX_CP 64

static struct cp cps[MAX_CP];
static int ncp;
static char out_buf[16384];
static pthread_barrier_t bar;
static int nthreads = 2, rounds = 4;
static size_t region;
static pid_t tids[MAX_T];

/* A checkpoint labelled LABEL followed by ROUND. */
static void checkpoint(const char *label, int round)
{
	char name[sizeof(cps[0].label)];

	if (ncp >= MAX_CP)
		return;
	snprintf(name, sizeof(name), "%s%d", label, round);
	cp_take(&cps[ncp], name);
	ncp++;
}

static void *worker(void *arg)
{
	int id = (int)(long)arg, r;
	char *p;

	tids[id] = (pid_t)syscall(SYS_gettid);
	touch_stack();
	pthread_barrier_wait(&bar);		/* all started */
	pthread_barrier_wait(&bar);		/* main took its checkpoint */
	for (r = 0; r < rounds; r++) {
		p = map_touched(region, (char)r);
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
	off += cp_format_all(out_buf + off, sizeof(out_buf) - off, (int)getpid(), cps, ncp);
	off += (size_t)snprintf(out_buf + off, sizeof(out_buf) - off, "DONE %d\n", (int)getpid());
	if (write(1, out_buf, off) != (ssize_t)off)
		return 98;
	return 0;
}
