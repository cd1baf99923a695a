/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Transients of one RSS timeline by topographic prominence, in one
 * streaming pass: a peak's prominence is its height above the higher of
 * the two lowest points that separate it from higher ground on each side
 * (from the start, or the end, where there is none). A peak whose
 * prominence is at least min_rise is a spike; its base is that higher
 * low point, its window runs from the last row at or below the base
 * before the peak to the first row at or below it after. So a scratch
 * buffer taken while RSS is still climbing, or a block that rises straight
 * from exec, is found with its own base.
 *
 * A spike inside a spike shares its summit with the one around it: the
 * inner one stands on a shelf, a level held for PROM_SHELF_NS or more
 * before its rise and come back to, and held again, after it (within
 * settle of each other). The innermost such pair under a summit is a
 * spike of its own, its base the higher of the two.
 *
 * A window runs from the last row before the peak at or below its base
 * (give or take start_slack: a page or two of difference between the
 * level before and after is one level) to the first row after it back
 * within settle of the base; a fall that goes through that band on its way
 * further down (a teardown) is no return, and what stood above it no
 * spike.
 *
 * Cost: O(1) amortized per row. Memory: the peaks still open (each is
 * higher than the next and stands min_rise above its own left low point),
 * the suffix minima before them (where a window may start) and the new
 * minima after them (where it may end); each of the last two is capped
 * (PROM_MAX_POINTS): past it, levels closer than a quantum (16 kB, doubled
 * as needed) are merged, and a spike whose window edge fell where points
 * were merged says so (struct spike.approx).
 */
#ifndef MEMTRACE_PROMINENCE_H
#define MEMTRACE_PROMINENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "analysis/spikes.h"

#ifndef PROM_MAX_POINTS
#define PROM_MAX_POINTS 16384
#endif
#define PROM_MAX_PEAKS 4096
/* A level held this long before a rise (or after a fall) is a shelf (a
 * rise of page faults pauses for less). */
#define PROM_SHELF_NS 1000000ULL
/* A fall through a spike's base band this fast is not a return to it. */
#define PROM_PLUNGE_NS 250000ULL

/* A row: its value, time, the time of the row after it (0: none yet) and
 * the event totals up to and including it; how much time before it RSS
 * spent at levels reached inside a call (prom_push's mid), and whether its
 * own level was one. */
struct prom_point {
	int64_t v;
	uint64_t ts, next_ts;
	uint64_t in;
	bool mid;
	uint32_t ev[SEV_NR];
};

struct prom_peak {
	int64_t h;
	uint64_t ts;		/* the first row at h */
	int64_t left;		/* lowest point between the higher peak before
				   it (or the start) and it */
	size_t aseg;		/* its new minima start at after[aseg] */
	size_t bseg;		/* its left side is before[0, bseg), kept as
				   it was when it rose */
};

/* A spike decided, final once RSS has not gone on through its base. */
struct prom_pending {
	struct spike sp;
	int64_t floor;		/* base - settle */
	uint64_t back_clock;	/* when it came back within settle of it, on
				   the program's clock (prom_push) */
};

struct prom {
	int64_t min_rise;
	int64_t settle_kb;	/* > 0: shelves this close match; else */
	double settle_pct;	/* this percentage of the rise above them */
	bool have;
	int64_t v;		/* the last row's value */
	uint64_t ts;		/* and time */
	uint64_t in;		/* time spent at levels inside a call, so far */
	int64_t gmin;		/* lowest value so far */
	struct prom_point *before;	/* suffix minima: v non-decreasing */
	size_t nbefore, capbefore;
	struct prom_point *after;	/* per open peak: the new minima since it */
	size_t nafter, capafter;
	struct prom_peak *pk;	/* open peaks: h decreasing, left increasing */
	size_t npk, cappk;
	struct prom_pending *pend;
	size_t npend, cappend;
	uint64_t thin_before_ts, thin_after_ts;	/* newest row thinned away */
	int64_t quantum_before, quantum_after;	/* kB: levels closer are one */
};

/* A spike found (pid left 0 for the caller). 0, or -errno to stop. */
typedef int (*prom_emit_fn)(void *ctx, const struct spike *sp);

void prom_init(struct prom *p, int64_t min_rise, int64_t settle_kb, double settle_pct);
/* The next row of the timeline (times non-decreasing). ev: the event
 * totals up to and including it. mid: the level since the row before
 * was one the kernel passed through inside one call (spike_call_of):
 * the time spent there is not the program's (a VM whose host stalls a
 * vCPU for milliseconds halfway through a munmap's zap, or a
 * MAP_POPULATE's fill, makes such a level last as long as one the
 * program held), and shelves, holds and plunges are measured on the
 * program's clock: time less that. */
int prom_push(struct prom *p, int64_t v, uint64_t ts, const uint64_t *ev, bool mid,
	      prom_emit_fn fn, void *ctx);
/* The timeline is over: the peaks still open are decided. */
int prom_end(struct prom *p, prom_emit_fn fn, void *ctx);
void prom_free(struct prom *p);

#endif
