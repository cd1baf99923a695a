/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The runner: the one loop every tracing subcommand runs. It drains the
 * ring buffer, hands each record to the run of its group, writes the rows,
 * notices the end of each run (trace/run.h: the command's exit; every
 * traced process gone; the kernel's live count of a captured group), then
 * finishes it: its trace closed, its summary written, its files given to
 * the sudo user, its group given back. It acts on signals, and says drops
 * as they happen. record, campaign and capture are its clients: they start
 * runs and take what each finished run tells.
 */
#ifndef MEMTRACE_TRACE_RUNNER_H
#define MEMTRACE_TRACE_RUNNER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include "trace/run.h"

/* Signals (SIGINT, SIGTERM, SIGHUP): the handler only records; the runner
 * acts. Installed first thing, so a signal while BPF loads is not lost. */
extern volatile sig_atomic_t sig_count, sig_last, sig_from_user;
extern bool sig_inherited_ignore[NSIG];	/* as inherited (SIGPIPE is passed on) */
void signals__install(void);

struct runner;

struct runner_client {
	/* Each turn, before the ring is drained, while no stop is under way:
	 * start runs (runner__add), show progress. 0, or -errno to stop every
	 * run (said already). */
	int (*turn)(void *ctx, struct runner *rn, uint64_t now_ns);
	/* A record of a group no run holds: a run for it (added with
	 * runner__add), or NULL to drop the record. */
	struct run *(*adopt)(void *ctx, struct runner *rn, uint32_t group,
			     const struct mt_rec *rec);
	/* A run is over: its trace closed and its summary written (err: 0, or
	 * -errno when a file of it is incomplete, said already). The runner
	 * frees it afterwards. 0, or -errno to stop every run. */
	int (*finished)(void *ctx, struct runner *rn, struct run *r, int err);
	/* A stop signal arrived (first: the first one), before the runs get
	 * it. */
	void (*signalled)(void *ctx, struct runner *rn, int sig, bool first);
	/* true while runs may still start; the runner ends once it is false
	 * and its runs are over. NULL: only the runs added before. */
	bool (*more)(void *ctx);
};

struct runner {
	struct tracer *tracer;
	const struct runner_client *client;
	void *ctx;
	struct run *by_group[MT_MAX_GROUPS];	/* the runs in progress */
	int nruns;
	int stop_sig;		/* the first stop signal, 0: none */
	bool failed;		/* stopped by an error */
	bool read_failed;	/* reading records failed (said) */
	int signals_seen;
	uint64_t lost_said, next_lost_ns;
	bool tty;		/* stderr is a terminal */
};

void runner__init(struct runner *rn, struct tracer *t, const struct runner_client *c, void *ctx);
/* A run that started (trace/run.h): its group's records go to it. */
void runner__add(struct runner *rn, struct run *r);
/* Runs the loop until every run is over and no more can start. 0, or
 * -errno when it stopped on an error (said on stderr). */
int runner__run(struct runner *rn);

#endif
