/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Transient spikes, growth and poller fidelity, from an exact RSS timeline,
 * in one streaming pass with bounded memory per process.
 *
 * A spike: RSS rises at least min_rise above the level before the rise
 * (its base), then comes back to within `settle` of that base. Candidates
 * are kept on a per-process stack of bases, so a spike on top of another
 * is reported with its own base. A rise that never comes back is growth.
 */
#ifndef MEMTRACE_SPIKES_H
#define MEMTRACE_SPIKES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include "memtrace.h"
#include "analysis/growth.h"

#define SPIKES_MAX_POLLS 4
#define SPIKES_PHASES 1000	/* pollers replayed per period, evenly phased */

enum spike_ev {
	SEV_OTHER = 0,
	SEV_FAULT,	/* rss row caused by a page fault */
	SEV_MMAP,
	SEV_MUNMAP,
	SEV_MREMAP,
	SEV_BRK,
	SEV_MADVISE,
	SEV_EXIT,
	SEV_IN_CALL,	/* rss row inside a syscall (e.g. a munmap's zap) */
	SEV_EXEC,	/* a new program image: a new timeline for spikes */
	SEV_NR,
};

/* What a record (or a trace row, read back as one) is to the analysis:
 * the one mapping, for the live summary and for `spikes` on a file. */
static inline enum spike_ev spike_ev_of(uint32_t type, uint32_t nr, uint32_t cause)
{
	switch (type) {
	case MT_REC_RSS:
		return cause == MT_CAUSE_FAULT ? SEV_FAULT :
		       cause == MT_CAUSE_SYSCALL ? SEV_IN_CALL : SEV_OTHER;
	case MT_REC_EXIT:
		return SEV_EXIT;
	case MT_REC_EXEC:
		return SEV_EXEC;
	case MT_REC_SYSCALL:
		switch (nr) {
		case MT_NR_MMAP:	return SEV_MMAP;
		case MT_NR_MUNMAP:	return SEV_MUNMAP;
		case MT_NR_MREMAP:	return SEV_MREMAP;
		case MT_NR_BRK:		return SEV_BRK;
		case MT_NR_MADVISE:	return SEV_MADVISE;
		}
	}
	return SEV_OTHER;
}

/* Which call of the mmap family a row of RSS is inside (its thread and
 * syscall number, never 0), or 0: not inside one. Those calls end with a
 * SYSCALL record of their own, so two rows of one call follow each other
 * with no record of its end between them; a level between them is the
 * kernel's progress through the call (a MAP_POPULATE filling, a munmap
 * zapping), not one the program held. */
static inline uint64_t spike_call_of(uint32_t type, uint32_t nr, uint32_t cause, uint32_t tid)
{
	if (type != MT_REC_RSS || cause != MT_CAUSE_SYSCALL)
		return 0;
	if (nr != MT_NR_MMAP && nr != MT_NR_MUNMAP && nr != MT_NR_BRK && nr != MT_NR_MREMAP &&
	    nr != MT_NR_MADVISE)
		return 0;
	return (uint64_t)tid << 32 | (nr + 1);
}

struct spike {
	pid_t pid;
	uint32_t depth;		/* 0 = outermost; >0 = on top of another */
	uint64_t start_ts, peak_ts, end_ts;	/* ns, CLOCK_MONOTONIC */
	int64_t base_kb, peak_kb, end_kb;
	uint64_t events[SEV_NR];	/* rows of each kind inside it */
	bool approx;		/* an edge of its window fell where the stored
				   points were thinned (bounded memory): it may
				   start earlier or end later than it did */
};

struct spikes_cfg {
	int64_t min_rise_kb;	/* default 1024 */
	int64_t settle_kb;	/* > 0: absolute; else settle_pct of the rise */
	double settle_pct;	/* default 10 */
	uint64_t window_ns;	/* > 0: classic rule "rose min_rise within window" */
	int npoll;
	uint64_t poll_ns[SPIKES_MAX_POLLS];
	size_t keep_top;	/* > 0: keep only the top spikes by rise */
};

struct poll_result {
	uint64_t period_ns;
	int64_t best_kb, worst_kb;
	double expected_kb;
};


struct pid_report {
	pid_t pid;
	uint64_t first_ts, last_ts;
	int64_t peak_kb;
	uint64_t peak_ts;
	uint64_t rows;
	struct growth growth;
	int npoll;
	struct poll_result poll[SPIKES_MAX_POLLS];
};

struct spikes;

struct spikes *spikes__new(const struct spikes_cfg *cfg);
void spikes__free(struct spikes *s);
/* One row of the timeline of @pid (rows of one pid in time order); call:
 * spike_call_of() of the row. */
int spikes__push(struct spikes *s, pid_t pid, uint64_t ts, int64_t vmrss_kb,
		 enum spike_ev ev, uint64_t call);
/* Closes every process's timeline at @end_ts (0: each at its last row) and
 * computes the reports. Call once, after the last push. */
int spikes__finish(struct spikes *s, uint64_t end_ts);

/* After finish: how many spikes were found; the spikes kept (all of them,
 * or the top keep_top), sorted by rise, biggest first. */
size_t spikes__count(const struct spikes *s);
size_t spikes__kept(const struct spikes *s);
const struct spike *spikes__get(const struct spikes *s, size_t i);
/* After finish: the processes, in the order of their first row; their
 * reports (kept on disk past the first few thousand: the one returned is
 * valid until the next call). */
size_t spikes__npids(const struct spikes *s);
const struct pid_report *spikes__pid(struct spikes *s, size_t i);
const struct spikes_cfg *spikes__cfg(const struct spikes *s);

/* Probability that a poller of @period_ns samples at least once inside
 * the spike (uniform phase). */
double spike_catch_prob(const struct spike *sp, uint64_t period_ns);

#endif
