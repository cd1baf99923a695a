/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* campaign --slurm: the plan's unfinished runs as a Slurm job array
 * (cmd/campaign_slurm.c). */
#ifndef MEMTRACE_CMD_CAMPAIGN_SLURM_H
#define MEMTRACE_CMD_CAMPAIGN_SLURM_H

#include <stdbool.h>
#include <stddef.h>
#include "cmd/campaign_plan.h"

struct campaign_slurm_opts {
	char **sbatch;		/* --slurm-opt: one sbatch argument each */
	int nsbatch;
	unsigned long max_parallel;	/* array tasks at once (%N), 0: Slurm's */
	unsigned int poll_s;	/* between squeue calls */
	bool quiet, tty;
};

/* sbatch, squeue and sacct are on PATH. 0, or -errno with msg. */
int campaign_slurm_check(char *msg, size_t len);
/* Submits the plan's unfinished runs (p->runs[i].done false) as one job
 * array whose task K runs `memtrace-bpf campaign --slurm-task K
 * --slurm-sub LIST ARGS` (ARGS: the campaign's own), follows it, then
 * writes each run's slurm.csv from sacct and keeps a partial result of a
 * run Slurm stopped at its limits (status timeout, or killed for
 * OUT_OF_MEMORY). *lost: runs left unfinished (cancelled, node failure:
 * redone by the same command). 0, or the exit status (said). */
int campaign_slurm_run(const struct plan *p, int dirfd, char *const *args, int nargs,
		       const struct campaign_slurm_opts *o, size_t *lost);
/* Array task k's run: line k of the list sub. 0, or -errno with msg. */
int campaign_slurm_task_index(const char *sub, long k, size_t nruns, size_t *idx, char *msg,
			      size_t len);

#endif
