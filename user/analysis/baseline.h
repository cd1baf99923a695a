/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A run's baseline: the time-weighted median of a step function (the
 * tree's total RSS) over the last part of the run, computed while the run
 * goes, before its end is known. The window can only start after
 * start + (100 - pct)% of the time elapsed so far, so what lies before
 * that is dropped as the run goes: memory follows the changes of the last
 * pct% of the run, not the whole run.
 */
#ifndef MEMTRACE_ANALYSIS_BASELINE_H
#define MEMTRACE_ANALYSIS_BASELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct baseline {
	struct baseline_pt {
		uint64_t ts_ns;
		int64_t kb;		/* the value from ts_ns on */
	} *pt;
	size_t head, n, cap;	/* pt[head .. head + n) */
	uint64_t start_ns;	/* no window starts before this */
	unsigned int pct;	/* the window: the last pct % of the run */
	bool dropped;		/* points before pt[head] went */
	bool failed;		/* out of memory: no median */
};

/* A window of the last pct % (1..100) of a run that started at start_ns
 * (or later). */
void baseline__init(struct baseline *b, uint64_t start_ns, unsigned int pct);
/* The value is kb from ts_ns on (ts_ns not before the last push; ts_ns is
 * also "now": what no window can reach any more is dropped). 0 or
 * -ENOMEM (then the median is not known). */
int baseline__push(struct baseline *b, uint64_t ts_ns, int64_t kb);
/* The time-weighted median of the value over [from_ns, to_ns): the
 * smallest value v such that the value is v or less for at least half of
 * that time (the value before the first push: 0). An empty window
 * (from == to): the value at from_ns. 0, -ERANGE (the window starts
 * before what was kept: from_ns earlier than start + (100 - pct)% of the
 * time up to a push after to_ns), -ENOMEM. */
int baseline__median(const struct baseline *b, uint64_t from_ns, uint64_t to_ns, int64_t *kb);
void baseline__free(struct baseline *b);

#endif
