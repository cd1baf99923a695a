/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a report holds once its trace is read (report/build.c), for the
 * writers of the page (html.c) and of the chart (svg.c). Internal to
 * report/.
 */
#ifndef MEMTRACE_REPORT_MODEL_H
#define MEMTRACE_REPORT_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include "analysis/spikes.h"
#include "analysis/stages.h"
#include "analysis/validate.h"
#include "lib/idmap.h"
#include "report/decimate.h"
#include "report/report.h"

/* Buckets of the finest level: the tree's series, a process's lane. */
#define REP_GRID_CAP (1 << 16)
#define REP_LANE_CAP (1 << 13)
/* Coarser levels merge 4 buckets into one, down to this many or fewer. */
#define REP_LEVEL_MIN 2048
/* Processes with a lane of their own (the first seen); the others are
 * summed in one lane. */
#define REP_LANES 16
/* Rows kept whole for single-row zoom (72 bytes each). */
#define REP_RAW_CAP (1 << 17)
/* What the page lists at most (each counted in full). */
#define REP_SPIKES 500
#define REP_PROCS 256
#define REP_MARKS 5000
#define REP_BANDS 5000
#define REP_CKPTS 50000		/* validation stops beyond (its own memory) */
#define REP_CKPT_ROWS 2000	/* checkpoint table rows */
#define REP_THRESHOLDS 64
#define REP_STRINGS 1024	/* distinct event and cause texts of raw rows */
#define REP_POLLS 2		/* 10 ms, 100 ms */

/* The tree's series (each a grid; stacked parts ride on TOTAL). */
enum { S_TOTAL, S_VMSIZE, S_SWAP, S_POLL0, S_POLL1, S_N };

/* A row kept whole (mm_raw). */
struct rep_raw {
	uint64_t ts;
	int64_t total, anon, file, shmem, vmsize, swap, prss;
	int32_t pid;
	uint16_t ev, cause;	/* rep.str[] */
};

/* A process, as the trace shows it. */
struct rep_proc {
	pid_t pid;
	char comm[32];
	uint64_t first_ts, last_ts, peak_ts;
	int64_t peak_kb;
	int exit_status;	/* -1: no exit row */
	int lane;		/* -1: none (summed in "others") */
};

/* A process alive in the trace: its last row. */
struct rep_live {
	pid_t pid;
	int64_t v[6];		/* rss, anon, file, shmem, vmsize, swap */
	long shown;		/* rep.procs[] index, -1: not listed */
	int lane;		/* -1: none */
};

struct rep_mark {
	uint64_t ts;
	pid_t pid;
	int64_t kb;		/* its process's RSS then */
	char name[40];
};

/* A guard or alert row: a threshold crossed. */
struct rep_threshold {
	uint64_t ts;
	pid_t pid;
	bool guard;		/* kill-at, else alert */
	int64_t limit_kb, value_kb;
	char cause[32];
};

struct rep_lane {
	struct mm_grid g;
	long proc;		/* rep.procs[] index, -1: the others */
};

struct report {
	struct report_opts o;
	char *trace_path, *summary_path, *title;	/* copies */
	char *summary_json;	/* the run's summary, as read (NULL: none) */
	/* the trace */
	uint64_t t0;		/* time_s 0, ns */
	uint64_t first_ts, last_ts, rows;
	bool tree;		/* total_rss_kb (the tree's total) is the value */
	bool has_parts, has_vmsize, has_swap;
	int64_t peak_kb;
	uint64_t peak_ts;
	pid_t peak_pid;
	int64_t max_swap;
	/* series, decimated */
	struct mm_grid s[S_N];
	bool s_on[S_N];
	uint64_t poll_ns[REP_POLLS];
	uint64_t poll_next[REP_POLLS];	/* the next poller instant */
	int64_t poll_cur;	/* the value the pollers read now */
	struct mm_raw raw;
	/* processes */
	struct rep_live *live;
	size_t nlive, live_cap;
	struct idmap live_idx;
	struct rep_proc *procs;	/* the first REP_PROCS seen */
	size_t nprocs;
	uint64_t nprocs_seen;
	struct rep_lane lanes[REP_LANES + 1];	/* + the others */
	int nlanes;
	bool others;		/* some process has no lane */
	int64_t laned_kb;	/* RSS of the live processes with a lane */
	int64_t sum[6];		/* the live processes' rss, anon, file, shmem,
				   vmsize, swap */
	int exit_status;	/* the first process's exit status, -1: none */
	/* raw rows' texts */
	char *str[REP_STRINGS];
	size_t nstr;
	struct idmap str_idx;
	/* analyses */
	struct spikes *spikes;
	struct validation val;
	bool val_on;		/* fed (off: too many checkpoints, or none) */
	uint64_t ckpt_rows;
	struct stages st;
	struct rep_mark *marks;
	size_t nmarks;
	uint64_t marks_seen;
	struct rep_threshold thr[REP_THRESHOLDS];
	size_t nthr;
	uint64_t thr_seen;
	uint64_t log_rows;
};

/* An SVG plot: values [x0, x1] x [y0, y1] onto the pixels from (left,
 * top), width x height; sizes shown divided by ydiv. */
struct svg_frame {
	double x0, x1, y0, y1;
	int left, top, width, height;
	double ydiv;
	bool xcat;		/* x is categories: no ticks of its own */
};
double svg_x(const struct svg_frame *fr, double v);
double svg_y(const struct svg_frame *fr, double v);
/* Grid lines, round ticks, the frame and the axes' names. */
void svg_axes(FILE *f, const struct svg_frame *fr, const char *xlabel, const char *ylabel);
/* A round step (1, 2, 5 x 10^k) for about n ticks over span. */
double nice_step(double span, int n);
/* KiB, MiB or GiB for sizes up to max_kb: the divisor of kB and its name. */
void size_unit(double max_kb, double *div, const char **unit);

/* "173.6 MiB" of kB. */
char *rep_size(int64_t kb, char *buf, size_t len);
/* The texts of a page: &, <, >, " escaped. */
void html_text(FILE *f, const char *s);

#endif
