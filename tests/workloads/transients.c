// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * transients: known RSS transients with their own CLOCK_MONOTONIC times,
 * for the spike tests.
 *
 *   transients [full|short N HOLD_US SIZE_MIB|ladder]
 *
 * full (default): transients of 1 to 64 MiB lasting from under 1 ms to
 *   about 20 ms, 30 ms of quiet between them, then a staircase of 4 x 8 MiB
 *   steps that is never freed (growth, not a spike).
 * short N HOLD_US SIZE_MIB: N transients of SIZE_MIB held HOLD_US each
 *   (sleeping, to leave the CPU to a poller beside it), 40 ms apart (for replaying pollers against a real one).
 * ladder: transients of 4 to 64 MiB held (sleeping) 2, 5, 10, 20, 50, 100
 *   and 150 ms, 30 ms apart (for a thinned trace: --resolution).
 *
 * Prints after the work, one line per transient:
 *   T size_kb t_start_ns t_full_ns t_end_ns
 * (t_start before the mmap, t_full when every page is in, t_end after the
 * munmap), and per staircase step:  S size_kb t_ns
 * Pages are 4 KiB (no THP) and populated by the kernel in one call, so a
 * transient's rise is exactly its size.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define MiB (1024UL * 1024UL)

struct tr {
	unsigned long kb;
	unsigned long long start, full, end;
} trs[256];
static int ntr;

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void sleep_us(unsigned long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts))
		;
}

static void spin_us(unsigned long us)
{
	unsigned long long end = now_ns() + us * 1000ULL;

	while (now_ns() < end)
		;
}

static void transient(unsigned long mib, unsigned long hold_us, bool spin)
{
	struct tr *t = &trs[ntr++];
	size_t bytes = mib * MiB;
	char *p;

	t->kb = mib * 1024;
	t->start = now_ns();
	/* MAP_POPULATE: filled in one call, fast enough for sub-ms spikes */
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		perror("transients: mmap");
		exit(1);
	}
	t->full = now_ns();
	/* spin for exact holds; sleep to leave the CPU to others (a poller
	 * beside us on a 2-CPU machine) */
	if (hold_us && spin)
		spin_us(hold_us);
	else if (hold_us)
		sleep_us(hold_us);
	munmap(p, bytes);
	t->end = now_ns();
}

int main(int argc, char **argv)
{
	static const struct { unsigned long mib, hold_us; } full[] = {
		{ 1, 0 }, { 2, 200 }, { 4, 500 }, { 8, 2000 }, { 16, 5000 },
		{ 32, 10000 }, { 64, 20000 }, { 1, 3000 }, { 64, 0 },
	};
	unsigned long long steps[4];
	static const struct { unsigned long mib, hold_us; } ladder[] = {
		{ 4, 2000 }, { 8, 5000 }, { 16, 10000 }, { 32, 20000 }, { 64, 50000 },
		{ 16, 100000 }, { 8, 150000 },
	};
	bool short_mode = argc >= 5 && !strcmp(argv[1], "short");
	bool ladder_mode = argc == 2 && !strcmp(argv[1], "ladder");
	int n = short_mode ? atoi(argv[2]) : 0;
	unsigned long hold = short_mode ? strtoul(argv[3], NULL, 10) : 0;
	unsigned long mib = short_mode ? strtoul(argv[4], NULL, 10) : 0;
	char *warm;

	if (short_mode && (n < 1 || n > 256 || !mib)) {
		fprintf(stderr, "usage: transients short N HOLD_US SIZE_MIB\n");
		return 2;
	}
	/* 4 KiB pages whatever the THP mode: a rise is exactly the size */
	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	/* Warm up everything used between the transients, so that no first
	 * use faults in code or data inside one: the argument parsing above,
	 * the results array (.bss), mmap/munmap, the clock and the sleeps.
	 * The warm-up mapping is 64 KiB: below any --min-rise. */
	memset(trs, 0, sizeof(trs));
	warm = mmap(NULL, 64 << 10, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | MAP_NORESERVE, -1, 0);
	munmap(warm, 64 << 10);
	(void)now_ns();
	spin_us(1);
	sleep_us(30000);

	if (ladder_mode) {
		for (size_t i = 0; i < sizeof(ladder) / sizeof(ladder[0]); i++) {
			transient(ladder[i].mib, ladder[i].hold_us, false);
			sleep_us(30000);
		}
	} else if (short_mode) {
		for (int i = 0; i < n; i++) {
			transient(mib, hold, false);
			sleep_us(40000);
		}
	} else {
		for (size_t i = 0; i < sizeof(full) / sizeof(full[0]); i++) {
			transient(full[i].mib, full[i].hold_us, true);
			sleep_us(30000);
		}
		for (int i = 0; i < 4; i++) {
			char *p = mmap(NULL, 8 * MiB, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

			if (p == MAP_FAILED)
				return 1;
			steps[i] = now_ns();
			sleep_us(30000);
		}
	}
	for (int i = 0; i < ntr; i++)
		printf("T %lu %llu %llu %llu\n", trs[i].kb, trs[i].start, trs[i].full, trs[i].end);
	if (!short_mode && !ladder_mode)
		for (int i = 0; i < 4; i++)
			printf("S %lu %llu\n", 8 * 1024UL, steps[i]);
	return 0;
}
