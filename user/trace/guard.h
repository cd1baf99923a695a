/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a run does while it goes, beyond recording: the guard (--kill-at:
 * the kernel signals the process whose change crossed the limit, this
 * ends the rest of the tree), alerts (--alert: said the moment the kernel
 * saw each threshold crossed; --on-alert runs a command), --timeout and
 * --detach-after, and the monitor log (--monitor-log: status lines,
 * alerts, new peaks and actions, with wall-clock times, for tail -f).
 * The runner calls guard__tick every turn; run.c hands it the GUARD and
 * ALERT records; the summary and the exit status take its verdict.
 */
#ifndef MEMTRACE_TRACE_GUARD_H
#define MEMTRACE_TRACE_GUARD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "memtrace.h"

struct run;
struct jw;

/* The options, as given (one per run kind: record, each campaign run,
 * each captured process). */
struct guard_spec {
	uint64_t kill_at_kb;		/* 0: no guard */
	int kill_signal;		/* to the crossing process and the tree */
	uint64_t grace_ns;		/* after a SIGTERM-like signal: SIGKILL */
	bool count_anon;		/* count anon+shmem, not file pages */
	uint64_t alert_kb[MT_MAX_ALERTS];	/* ascending, distinct */
	int nalerts;
	const char *on_alert;		/* run by sh -c at each alert */
	uint64_t timeout_ns;		/* launch: end it after this */
	uint64_t detach_ns;		/* stop tracing after this, leave it */
	uint64_t status_ns;		/* monitor log: a status line each */
	uint64_t peak_step_kb;		/* monitor log: a line each time the
					   peak grew this much (0: none) */
	uint64_t metrics_ns;		/* --metrics: the file rewritten each */
	bool force;			/* attach: a limit already passed */
};

/* Does the spec ask for anything? */
bool guard_spec__active(const struct guard_spec *s);
/* The kernel's settings for it. */
void guard_spec__kernel(const struct guard_spec *s, unsigned int page_kb, struct mt_guard *out);
/* A guard's first watch: the lowest of its first alert and its limit (the
 * kernel's one compare until something is crossed). */
void guard__watch_first(struct mt_guard *g);

struct guard_state {
	bool crossed;			/* the kernel saw the limit crossed, we acted */
	struct mt_guard seen;		/* the kernel's state when we acted */
	struct mt_rec cross;		/* the GUARD record (type 0: not in) */
	uint64_t term_ns, kill_ns;	/* when the tree got SIGTERM-like / SIGKILL */
	int term_sig;
	uint32_t term_n, kill_n;	/* processes signalled */
	bool timed_out, detached;
	uint64_t last_exit_ns;		/* the last exit of a process of the run */
	struct mt_rec alert[MT_MAX_ALERTS];	/* each ALERT record (type 0: none) */
	pid_t hook[MT_MAX_ALERTS];	/* --on-alert processes not reaped */
	uint32_t hooks_failed;
	/* the monitor log */
	int log_fd;			/* -1: none */
	bool log_failed;
	uint64_t next_status_ns, peak_logged_kb;
	/* --metrics */
	uint64_t next_metrics_ns;
	bool metrics_failed;
};

/* Before the run's processes start (its group taken): the kernel's
 * settings (kernel false: the kernel set them itself, capture), the
 * monitor log's first line. */
void guard__arm(struct run *r, bool kernel);
/* A GUARD or ALERT record of the run, as soon as it is read: the alert is
 * said, the tree ended. */
void guard__urgent(struct run *r, const struct mt_rec *rec, uint64_t now_ns);
/* The same record in its place in the time order (said already, unless
 * it came in the last drain). */
void guard__record(struct run *r, const struct mt_rec *rec);
/* Each turn: the limit crossed (ends the tree), a grace, --timeout,
 * --detach-after run out, --on-alert commands done, monitor lines. */
void guard__tick(struct run *r, uint64_t now_ns);
/* After the run's last records: what the kernel kept that no record
 * brought (a dropped record), the log's last line. */
void guard__finish(struct run *r);
/* The summary's guard, alerts, timeout and detached entries. */
void guard__json(struct jw *w, const struct run *r);
/* The lines on stderr at the end (even with -q: they are verdicts). */
void guard__print(const struct run *r);
/* EXIT_GUARD, EXIT_TIMEOUT, or 0. */
int guard__exit_status(const struct run *r);

#endif
