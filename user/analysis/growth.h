/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Is a process's memory growing? The verdict on its floor (the lowest
 * RSS in each time bucket, then over 5% of the run around it: transients
 * on top do not move it) over its
 * working phase: after its start-up (the climb to a plateau held for a
 * quarter of the run or more, up to where the floor stops rising four
 * times as fast as the plateau's trend; else a climb in the first quarter much
 * faster than what follows, by the best two-line fit; none when neither
 * is there) and before its
 * teardown (what follows the last time the floor was up at its top).
 * Growing: the floor at the end of the working phase is min_rise (and 5%
 * of itself) above the floor at its start, the trend rising; too short
 * to say: under GROWTH_MIN_NS or GROWTH_MIN_BUCKETS of working phase.
 */
#ifndef MEMTRACE_GROWTH_H
#define MEMTRACE_GROWTH_H

#include <stdbool.h>
#include <stdint.h>

#define GROWTH_MIN_BUCKETS 8
#define GROWTH_MAX_BUCKETS 4096
#define GROWTH_MIN_NS 100000000ULL	/* 100 ms */

enum growth_verdict { GROWTH_TOO_SHORT = 0, GROWTH_STABLE, GROWTH_GROWING };

struct growth {
	enum growth_verdict verdict;
	bool enough;		/* a working phase long enough to judge */
	bool leak;		/* growing (the JSON's likely_leak) */
	double slope_kb_s;	/* trend of the floor over the working phase */
	int64_t envelope_start_kb, envelope_end_kb;	/* its floor at each end */
	int64_t growth_kb;	/* the difference: what the verdict rests on */
	uint64_t startup_end_ns, teardown_start_ns;	/* after the first row */
};

/* env[0, n): the floor per bucket of w_ns from the first row. */
void growth_judge(const int64_t *env, int n, uint64_t w_ns, int64_t min_rise, int64_t peak_kb,
		  struct growth *g);
const char *growth_verdict_name(enum growth_verdict v);

#endif
