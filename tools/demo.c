// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The demo workload: a toy "solver" whose memory has the shapes people
 * miss with a 10 ms poller. It loads data in steps, rehashes a table
 * (briefly holding old and new), takes three short-lived 40 MiB scratch
 * buffers (2 MiB pages, held 1 ms: the true peak, and shorter than
 * a poller's period), then frees everything. It prints each phase with its CLOCK_MONOTONIC
 * time, the clock the trace uses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MiB (1024UL * 1024UL)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* huge: back with 2 MiB pages where the kernel allows (THP "madvise" or
 * "always"): a few faults fill it fast, like a big malloc'd scratch
 * buffer; otherwise one fault per 4 KiB page. */
static char *take(size_t bytes, int huge)
{
	size_t align = huge ? 2 * MiB : 0;
	char *p = mmap(NULL, bytes + align, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("demo: mmap");
		exit(1);
	}
	if (huge) {
		char *a = (char *)(((unsigned long)p + align - 1) & ~(align - 1));

		if (a > p)
			munmap(p, (size_t)(a - p));
		munmap(a + bytes, (size_t)(p + align - a));
		p = a;
	}
	madvise(p, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	for (size_t o = 0; o < bytes; o += 4096)
		p[o] = (char)o;
	return p;
}

static void pause_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int main(void)
{
	char *data[12], *scratch, *table, *bigger;
	double t;

	printf("demo: %.6f load 12 x 8 MiB, 20 ms apart\n", now_s());
	for (int i = 0; i < 12; i++) {
		data[i] = take(8 * MiB, 0);
		pause_ms(20);
	}
	table = take(16 * MiB, 0);
	pause_ms(40);
	t = now_s();
	bigger = take(32 * MiB, 0);
	memcpy(bigger, table, 16 * MiB);
	munmap(table, 16 * MiB);
	printf("demo: %.6f rehash 16 -> 32 MiB took %.1f ms\n", t, (now_s() - t) * 1e3);
	for (int i = 0; i < 3; i++) {
		pause_ms(40);
		t = now_s();
		scratch = take(40 * MiB, 1);
		pause_ms(1);
		munmap(scratch, 40 * MiB);
		printf("demo: %.6f scratch 40 MiB lived %.1f ms\n", t, (now_s() - t) * 1e3);
	}
	pause_ms(60);
	for (int i = 0; i < 12; i++)
		munmap(data[i], 8 * MiB);
	munmap(bigger, 32 * MiB);
	printf("demo: %.6f freed everything\n", now_s());
	return 0;
}
