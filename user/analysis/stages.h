/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Stages from marks: per process, a mark NAME opens an interval that the
 * next mark of the same NAME closes (one frame, one iteration); a span is
 * NAME:begin ... NAME:end. Each interval gets the RSS at entry and exit,
 * the exact peak inside and the growth. Fed row by row, in time order.
 */
#ifndef MEMTRACE_STAGES_H
#define MEMTRACE_STAGES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "lib/idmap.h"

#define STAGE_NAME_LEN 64

struct stage_iv {
	char name[STAGE_NAME_LEN];
	pid_t pid;
	bool span;		/* NAME:begin .. NAME:end */
	unsigned int depth;	/* spans of the same name and process open
				   around it (recursion): 0 outermost */
	uint64_t start_ts_ns, end_ts_ns;
	uint64_t start_seq;	/* its row's number */
	int64_t entry_kb, exit_kb, peak_kb;
	uint64_t peak_ts_ns;
	/* while open: */
	size_t sum;		/* its stage_sum */
	long prev;		/* the open one of its name and process it
				   was opened on top of, -1: none */
	long pid_prev, pid_next;	/* its process's open ones, -1: none */
	bool live;		/* a slot of stages.open in use */
};

/* Per name: the intervals summed up. */
struct stage_sum {
	char name[STAGE_NAME_LEN];
	bool span;
	uint64_t count;
	uint64_t total_ns, max_ns;
	int64_t first_entry_kb, last_exit_kb;
	int64_t peak_kb;	/* highest inside any interval */
	int64_t max_rise_kb;	/* largest peak - entry of one interval */
	int64_t growth_kb;	/* sum of exit - entry */
	uint64_t unclosed;	/* opened and never closed (the last of a
				   repeated mark is not counted here) */
	uint64_t unmatched_ends;	/* NAME:end without an open NAME:begin */
	uint64_t nested;	/* spans inside a span of the same name: in the
				   intervals, not in count/time/growth (the
				   outer one holds them already) */
	uint64_t first_start_ts_ns;	/* of the interval first_entry_kb is of */
};

/* Per process: its rows' RSS as a non-increasing stack (a row pops the
 * lower ones before it), so the peak since any row is the first entry at
 * or after it: found by bisection when an interval closes, instead of
 * every row updating every open interval. */
struct stage_pid {
	pid_t pid;
	long open_head;		/* its open intervals (slots), -1: none */
	struct stage_pt {
		uint64_t seq, ts_ns;
		int64_t kb;
	} *pt;
	size_t npt, pt_cap;
	size_t nopen;		/* its open intervals: none, nothing to keep */
};

struct stages {
	struct stage_iv *iv;	/* closed intervals, in closing order */
	size_t niv, iv_cap;
	struct stage_iv *open;	/* open ones: slots, live or free */
	size_t nopen, open_len, open_cap;	/* live, slots used, room */
	long free_slot;		/* a free slot (chained by prev), -1: none */
	struct idmap heads;	/* (stage, pid) -> its latest open slot + 1 */
	struct idmap names;	/* hash of (name, kind) -> sums[] */
	struct stage_sum *sums;	/* after stages__finish, in order of first use */
	size_t nsums, sums_cap;
	uint64_t marks, unmatched_ends;
	struct stage_pid *pids;
	size_t npids, pids_cap;
	struct idmap pidx;	/* pid -> pids[] */
	uint64_t seq;		/* rows seen */
};

void stages__init(struct stages *s);
/* One trace row: a mark (event "mark", label its name) or any row that
 * carries the process's RSS. Returns 0 or -ENOMEM. */
int stages__row(struct stages *s, uint64_t ts_ns, pid_t pid, int64_t vmrss_kb,
		const char *event, const char *label);
int stages__finish(struct stages *s);
void stages__free(struct stages *s);

#endif
