// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * shapes: memory shapes with known answers, for the analysis tests
 * (tests/test_spikes.py): transients where a rule measuring from the
 * level before a rise misses them, leaks freed at teardown, staircases,
 * healthy runs with a warm-up, runs too short to judge.
 *
 *   shapes MODE
 *
 * MODE:
 *   slope-up    loads 96 MiB at ~640 MiB/s, 1 MiB at a time, and takes an
 *               8 MiB scratch buffer for 5 ms while still loading (no dip
 *               between: the buffer rises from the climb, and the climb
 *               goes on from a higher level after it)
 *   slope-down  holds 96 MiB, frees it 1 MiB at a time, and takes an 8 MiB
 *               scratch buffer for 5 ms while freeing
 *   nested      a 48 MiB buffer for 60 ms, with a 16 MiB one for 5 ms on
 *               top of it, in its middle
 *   at-exec     an 8 MiB buffer from the start, 3 ms, then 10 ms of quiet
 *   at-exit     30 ms of quiet with 2 MiB held, then an 8 MiB buffer for
 *               3 ms, freed 1 ms before exit
 *   leak        leaks 80 MiB over ~1 s (256 KiB every ~3 ms), with 4 MiB
 *               transients every 100 ms, then frees everything and exits
 *               (as a C program that frees before returning)
 *   stairs      4 steps of 8 MiB 60 ms apart, never freed, then 60 ms
 *   healthy     warms up to 64 MiB in 20 ms, then 1 s of work with 4 MiB
 *               transients every 50 ms and no growth, then frees and exits
 *   slow-warmup the same with a warm-up of 300 ms (1 MiB every ~4.7 ms:
 *               as a VM whose host backs fresh memory late makes it)
 *   tiny        a 2 MiB buffer and exit, in under 2 ms
 *
 * Pages are 4 KiB (THP off for the process), filled with MAP_POPULATE or
 * page by page as the mode says, so each rise is exactly its size.
 * Prints, after the work (times CLOCK_MONOTONIC ns):
 *   T size_kb t_start t_full t_end     per transient: before it is mapped,
 *                                      once it is filled, after it is freed
 *   L rate_kb_s t_from t_to            leak: the rate it leaked at, over
 *                                      [t_from, t_to] (its working phase)
 *   P ns                               slopes: the longest a level
 *                                      between two chunks was held over
 *                                      its plan (a stalled vCPU)
 *   V verdict                          the expected growth verdict:
 *                                      growing, stable, too-short (-: none
 *                                      claimed)
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
#define KiB 1024UL

struct tr {
	unsigned long kb;
	unsigned long long start, full, end;
};
/* Writes len bytes into a memfd and closes it: the guest touches those
 * pages and frees them again just before they are needed (no RSS counter
 * moves: file pages written with write(2) are not mapped). */
static void warm(size_t len)
{
	char buf[64 << 10];
	int fd = memfd_create("shapes-warm", MFD_CLOEXEC);

	if (fd < 0)
		return;
	memset(buf, 0x5a, sizeof(buf));
	for (size_t done = 0; done < len; done += sizeof(buf))
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			break;
	close(fd);
}

static struct tr trs[64];
static int ntr;

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void spin_us(unsigned long us)
{
	unsigned long long end = now_ns() + us * 1000ULL;

	while (now_ns() < end)
		;
}

static char *take(size_t bytes)
{
	char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED) {
		perror("shapes: mmap");
		exit(1);
	}
	return p;
}

/* A transient of mib MiB held hold_us (spinning: exact). */
static void transient(unsigned long mib, unsigned long hold_us)
{
	struct tr *t = &trs[ntr++];
	char *p;

	t->kb = mib * 1024;
	t->start = now_ns();
	p = take(mib * MiB);
	t->full = now_ns();
	spin_us(hold_us);
	munmap(p, mib * MiB);
	t->end = now_ns();
}

/* 1 MiB chunks: loaded (kept in chunks[]) or freed, one every us_each. */
static char *chunks[512];
/* The longest a level between two chunks was held over its plan (ns):
 * the shape a slope draws is the one designed only while this stays
 * small (a VM's host can stall a vCPU for tens of ms, inside the spin:
 * a step of the slope then is a shelf, and what stood above it a spike) */
static unsigned long long over_plan;

static void paced(unsigned long us_each)
{
	unsigned long long t = now_ns(), plan = us_each * 1000ULL;

	spin_us(us_each);
	t = now_ns() - t;
	if (t > plan && t - plan > over_plan)
		over_plan = t - plan;
}

static void load(int from, int to, unsigned long us_each, int scratch_at)
{
	for (int i = from; i < to; i++) {
		chunks[i] = take(MiB);
		if (i == scratch_at)
			transient(8, 5000);
		paced(us_each);
	}
}

static void unload(int from, int to, unsigned long us_each, int scratch_at)
{
	for (int i = to - 1; i >= from; i--) {
		munmap(chunks[i], MiB);
		if (i == scratch_at)
			transient(8, 5000);
		paced(us_each);
	}
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	const char *verdict = "-";
	unsigned long long lf = 0, lt = 0;
	double rate = 0;
	char *keep = NULL;

	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	if (!strcmp(mode, "slope-up")) {
		spin_us(20000);
		load(0, 96, 1500, 48);
		spin_us(30000);
		unload(0, 96, 0, -1);
		verdict = "-";
	} else if (!strcmp(mode, "slope-down")) {
		load(0, 96, 0, -1);
		spin_us(30000);
		unload(0, 96, 1500, 48);
		spin_us(20000);
		verdict = "-";
	} else if (!strcmp(mode, "nested")) {
		struct tr *o = &trs[ntr++];
		char *p;

		spin_us(60000);
		o->kb = 48 * 1024;
		o->start = now_ns();
		p = take(48 * MiB);
		o->full = now_ns();
		spin_us(27000);
		transient(16, 5000);
		spin_us(28000);
		munmap(p, 48 * MiB);
		o->end = now_ns();
		/* a buffer held over half a program's life, from its first
		 * fifth or to its last, is the program's shape, not a spike
		 * (spikes.c is_shape): when the host made the 48 MiB take
		 * 100 ms to fill (seen), the quiet after it lasts longer */
		spin_us((o->end - o->start) / 500 > 60000 ? (o->end - o->start) / 500 : 60000);
		verdict = "-";
	} else if (!strcmp(mode, "at-exec")) {
		/* the buffer at once, touched at the pace of warm memory: this
		 * VM hands freed memory back to its host, and a fresh page's
		 * first touch then costs a host fault (~10 us: kernel notes);
		 * 8 MiB of them stretched the rise to 6 ms, over the tail of
		 * the start-up's own faults, and the transient no longer came
		 * back to the level it rose from (found 1 run in 3 here, where
		 * it had been found every time). Cycling 16 MiB through a memfd
		 * first moves no RSS counter */
		warm(16 << 20);
		transient(8, 3000);
		spin_us(10000);
		verdict = "too-short";
	} else if (!strcmp(mode, "at-exit")) {
		keep = take(2 * MiB);
		spin_us(30000);
		transient(8, 3000);
		spin_us(1000);
		munmap(keep, 2 * MiB);
		verdict = "too-short";
	} else if (!strcmp(mode, "leak")) {
		unsigned long long t0;

		spin_us(20000);
		t0 = lf = now_ns();
		for (int i = 0; i < 320; i++) {
			chunks[i] = mmap(NULL, 256 * KiB, PROT_READ | PROT_WRITE,
					 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
			if (i % 33 == 16)
				transient(4, 1000);
			spin_us(3000);
		}
		lt = now_ns();
		rate = 320 * 256.0 / ((lt - t0) / 1e9);
		for (int i = 0; i < 320; i++)
			munmap(chunks[i], 256 * KiB);
		spin_us(5000);
		verdict = "growing";
	} else if (!strcmp(mode, "stairs")) {
		spin_us(20000);
		for (int i = 0; i < 4; i++) {
			take(8 * MiB);
			spin_us(60000);
		}
		verdict = "growing";
	} else if (!strcmp(mode, "healthy") || !strcmp(mode, "slow-warmup")) {
		if (!strcmp(mode, "healthy"))
			keep = take(64 * MiB);
		else
			load(0, 64, 4700, -1);
		for (int i = 0; i < 20; i++) {
			transient(4, 2000);
			spin_us(48000);
		}
		if (keep)
			munmap(keep, 64 * MiB);
		else
			unload(0, 64, 0, -1);
		spin_us(5000);
		verdict = "stable";
	} else if (!strcmp(mode, "tiny")) {
		transient(2, 200);
		verdict = "too-short";
	} else {
		fprintf(stderr, "usage: shapes slope-up|slope-down|nested|at-exec|at-exit|leak|"
			"stairs|healthy|tiny\n");
		return 2;
	}
	for (int i = 0; i < ntr; i++)
		printf("T %lu %llu %llu %llu\n", trs[i].kb, trs[i].start, trs[i].full, trs[i].end);
	if (rate > 0)
		printf("L %.0f %llu %llu\n", rate, lf, lt);
	printf("V %s\n", verdict);
	printf("P %llu\n", over_plan);
	return 0;
}
