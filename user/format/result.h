/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A campaign run's result.csv (and the rows of campaign.csv): written
 * last, it is what marks a run finished; read back by `campaign report`. */
#ifndef MEMTRACE_FORMAT_RESULT_H
#define MEMTRACE_FORMAT_RESULT_H

#include <stddef.h>
#include <stdint.h>

/* One finished run, as result.csv holds it. */
struct run_result {
	int index;		/* position in the plan */
	char config[256];
	int repeat;
	int exit_code;		/* shell style; 126/127: could not run */
	char status[16];	/* ok, failed, killed, not-run */
	uint64_t peak_rss_kb;
	double peak_time_s, duration_s;
	uint64_t spikes, lost_events, events;
	uint64_t untraced;	/* child processes not traced (--max-procs) */
	int64_t rusage_maxrss_kb;
	char start_time[40];	/* ISO 8601, UTC */
	/* appended since; -1: not known (a run that did not run, a result
	 * of an earlier version) */
	int64_t baseline_kb;	/* the tree's time-weighted median RSS over the
				   last tenth of the command's life */
	int64_t peak_vmsize_kb, peak_vmdata_kb;	/* the largest of any one
						   process of the run */
	/* not in result.csv: a --slurm run's slurm.csv, beside it, for
	 * campaign.csv (slurm_job[0] 0: none; maxrss -1: Slurm had none) */
	char slurm_job[48], slurm_state[32];
	int64_t slurm_maxrss_kb;
};

/* campaign.csv: result.csv's columns, then a --slurm run's (empty for
 * the others): the array task, how Slurm says it ended, the MaxRSS Slurm
 * measured, and how far below the exact peak that was. */
#define CAMPAIGN_HEADER RESULT_HEADER ",slurm_job_id,slurm_state,slurm_maxrss_kb,maxrss_gap_kb"


/* The columns of the first version: a result.csv written by it has them
 * alone, and is read (campaign report, a resumed campaign). */
#define RESULT_HEADER_V1 "index,config,repeat,exit_code,status,peak_rss_kb,peak_time_s," \
			 "duration_s,spikes,lost_events,events,rusage_maxrss_kb,start_time," \
			 "untraced_processes"
/* What is written now: columns are only ever appended. */
#define RESULT_HEADER RESULT_HEADER_V1 ",baseline_rss_kb,peak_vmsize_kb,peak_vmdata_kb"

/* One line (with newline) for result.csv / campaign.csv (an unknown
 * figure: an empty field). */
int result_format(char *buf, size_t len, const struct run_result *r);
/* Reads a result.csv (header + one row), of this version or of the first
 * (RESULT_HEADER_V1: the figures appended since are -1): a regular file
 * only (a FIFO, device or symbolic link is refused without blocking), no
 * NUL byte, a row of at most 1 KiB, numbers in range, times finite.
 * Returns 0, or -errno with err (naming FILE:LINE where a line is at
 * fault). */
int result_read(const char *path, struct run_result *r, char *err, size_t errlen);

#endif
