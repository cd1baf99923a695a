/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Stages from marks, per process. A point mark NAME opens a stage that the
 * process's next mark of any name closes (a frame marked A, B, C: A->B,
 * B->C, C->the next A); the last one closes at the process's exit, or at
 * the end of the trace. NAME:begin ... NAME:end is a span; spans of one
 * name nest. Each stage instance (an interval) gets the RSS at entry and
 * exit, the exact peak inside and the growth. Fed row by row, in time
 * order.
 */
#ifndef MEMTRACE_STAGES_H
#define MEMTRACE_STAGES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "lib/idmap.h"
#include "lib/recstore.h"

#define STAGE_NAME_LEN 64

/* What closed an interval. */
enum stage_end {
	STAGE_END_MARK,		/* a mark of its process (a span: its NAME:end) */
	STAGE_END_EXIT,		/* its process's exit row: no mark after it */
	STAGE_END_TRACE,	/* the end of the trace: its process still ran */
};

/* One closed interval (a stage instance), as kept and reported. */
struct stage_iv {
	uint64_t start_ts_ns, end_ts_ns;
	uint64_t peak_ts_ns;
	int64_t entry_kb, exit_kb, peak_kb;
	uint32_t sum;		/* its stage: stages.sums[sum] (name, kind) */
	uint32_t depth;		/* spans of the same name and process open
				   around it (recursion): 0 outermost */
	pid_t pid;
	bool span;		/* NAME:begin .. NAME:end */
	uint8_t end;		/* enum stage_end */
};

/* An open interval: a slot of stages.open. */
struct stage_open {
	struct stage_iv iv;
	uint64_t start_seq;	/* its row's number */
	long prev;		/* a span: the open one of its name and process
				   it was opened on top of, -1: none; a free
				   slot: the next free one */
	long pid_prev, pid_next;	/* its process's open ones, -1: none */
	bool live;		/* in use */
};

/* Per name: the intervals summed up, as they close. */
struct stage_sum {
	char name[STAGE_NAME_LEN];
	bool span;
	uint64_t count;
	uint64_t total_ns, max_ns;
	int64_t first_entry_kb, last_exit_kb;
	int64_t peak_kb;	/* highest inside any interval */
	int64_t max_rise_kb;	/* largest peak - entry of one interval */
	int64_t growth_kb;	/* sum of exit - entry */
	uint64_t unclosed;	/* spans begun and never ended */
	uint64_t unmatched_ends;	/* NAME:end without an open NAME:begin */
	uint64_t nested;	/* spans inside a span of the same name: in the
				   intervals, not in count/time/growth (the
				   outer one holds them already) */
	uint64_t to_exit;	/* of count: closed by their process's exit */
	uint64_t to_trace_end;	/* of count: open at the end of the trace */
	uint64_t first_start_ts_ns;	/* of the interval first_entry_kb is of */
};

/* Per process: its rows' RSS as a non-increasing stack (a row pops the
 * lower ones before it), so the peak since any row is the first entry at
 * or after it: found by bisection when an interval closes, instead of
 * every row updating every open interval. */
struct stage_pid {
	pid_t pid;
	long open_head;		/* its open intervals (slots), -1: none */
	long point;		/* its open point stage (a slot), -1: none */
	struct stage_pt {
		uint64_t seq, ts_ns;
		int64_t kb;
	} *pt;
	size_t npt, pt_cap;
	size_t nopen;		/* its open intervals: none, nothing to keep */
};

struct stages {
	struct recstore ivs;	/* closed intervals, in closing order
				   (stages__iv); kept when keep_intervals */
	size_t niv;		/* intervals closed */
	bool keep_intervals;	/* true after stages__init */
	struct stage_open *open;	/* open ones: slots, live or free */
	size_t nopen, open_len, open_cap;	/* live, slots used, room */
	long free_slot;		/* a free slot (chained by prev), -1: none */
	struct idmap heads;	/* (span stage, pid) -> its latest open slot + 1 */
	struct idmap names;	/* hash of (name, kind) -> sums[] */
	struct stage_sum *sums;	/* in order of first use */
	size_t nsums, sums_cap;
	uint64_t marks, unmatched_ends;
	struct stage_pid *pids;
	size_t npids, pids_cap;
	struct idmap pidx;	/* pid -> pids[] */
	uint64_t seq;		/* rows seen */
	uint64_t last_ts_ns;	/* the trace's latest row (the end of the trace) */
};

void stages__init(struct stages *s);
/* One trace row: a mark (event "mark", label its name) or any row that
 * carries the process's RSS. Returns 0 or -ENOMEM. */
int stages__row(struct stages *s, uint64_t ts_ns, pid_t pid, int64_t vmrss_kb,
		const char *event, const char *label);
/* A row not fed to stages__row (another process under --pid): the trace
 * goes on until ts_ns, where a stage still open at its end closes. */
void stages__time(struct stages *s, uint64_t ts_ns);
/* After the last row: the point stages still open close at the end of the
 * trace, the spans still open are counted. 0 or -ENOMEM. */
int stages__finish(struct stages *s);
/* Closed interval i (0 <= i < niv, in closing order) into *v, when
 * keep_intervals. 0, or -ENOENT / -errno. */
int stages__iv(const struct stages *s, size_t i, struct stage_iv *v);
void stages__free(struct stages *s);

#endif
