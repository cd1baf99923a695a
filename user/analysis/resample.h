/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * An event timeline resampled at a fixed period, as a poller would have
 * read it, without losing what happened between two reads: at each
 * instant t0 + k * period, the exact value then (the last row at or before
 * it), and the highest and lowest value held since the previous instant.
 * Fed row by row, in time order; memory follows the processes alive.
 */
#ifndef MEMTRACE_ANALYSIS_RESAMPLE_H
#define MEMTRACE_ANALYSIS_RESAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "lib/idmap.h"

struct resample_cfg {
	uint64_t period_ns;	/* > 0 */
	uint64_t t0_ns;		/* time 0: instants are t0_ns + k * period_ns */
	pid_t pid;		/* one process: its vmrss_kb (0 after its exit);
				   0: the whole trace (the tree) */
	bool use_total;		/* the tree's value is the rows' total_rss_kb;
				   false: the sum of each live process's
				   vmrss_kb (a poller's file: its one process) */
	uint64_t max_rows;	/* more instants than this from the first row
				   to a row: -EFBIG (0: no limit) */
};

/* One resampled row. */
struct resample_row {
	uint64_t ts_ns;		/* the instant */
	int64_t value_kb;	/* at the instant */
	int64_t vmsize_kb;	/* at the instant (the tree: summed over the
				   processes alive); -1: the trace has none */
	/* over the interval (previous instant, this one]: the first one
	 * starts at the first row */
	int64_t max_kb, min_kb;
	uint64_t max_ts_ns;	/* when the max was first held in it (the
				   previous instant: held since before) */
	uint64_t rows;		/* trace rows in it */
};

/* Takes each row made; non-zero stops the resampling with that value. */
typedef int (*resample_out_fn)(void *ctx, const struct resample_row *row);

struct resample {
	struct resample_cfg cfg;
	resample_out_fn out;
	void *ctx;
	bool started;
	uint64_t first_ns;	/* the first instant */
	uint64_t next_ns;	/* the instant the open interval ends at */
	int64_t value_kb;	/* now */
	struct resample_row cur;	/* the open interval */
	/* the processes alive (the tree's sums, one process's values) */
	struct idmap index;	/* pid -> procs[] slot */
	struct resample_proc {
		int64_t rss_kb, vmsize_kb;
	} *procs;
	size_t nprocs, procs_cap;
	size_t *free_slots;	/* slots of exited processes, for reuse */
	size_t nfree, free_cap;
	int64_t rss_sum_kb, vmsize_sum_kb;
	bool have_vmsize;	/* a row carried a vmsize_kb */
	uint64_t rows_in;	/* rows taken (of cfg.pid, with one) */
	uint64_t rows_out;
};

void resample__init(struct resample *s, const struct resample_cfg *cfg, resample_out_fn out,
		    void *ctx);
/* A trace row at ts_ns (not before the previous one) of process pid:
 * exit: its exit row (the process is gone after it); vmsize_kb, total_kb:
 * -1 when the trace has none. 0, -ENOMEM, -EFBIG (past cfg.max_rows
 * instants, none of them made), or the out function's value. */
int resample__row(struct resample *s, uint64_t ts_ns, pid_t pid, bool exit, int64_t vmrss_kb,
		  int64_t vmsize_kb, int64_t total_kb);
/* The last row: the first instant at or after the last row taken (its
 * interval holds that row). 0, -ENODATA when no row was taken, or the out
 * function's value. */
int resample__finish(struct resample *s);
void resample__free(struct resample *s);

#endif
