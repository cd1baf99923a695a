/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * One traced run: a launched command, attached PIDs, or a process the
 * kernel captured, in a kernel group of its own, with its own trace, process
 * table and summary. The runner (trace/runner.h) drives every run the same
 * way: records in (run__record), the end noticed (run__poll_end), then
 * finished (run__finish) and its summary written (trace/summary.h).
 */
#ifndef MEMTRACE_TRACE_RUN_H
#define MEMTRACE_TRACE_RUN_H

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>
#include "analysis/baseline.h"
#include "analysis/spikes.h"
#include "format/csv.h"
#include "lib/files.h"
#include "trace/guard.h"
#include "trace/logcap.h"
#include "trace/procs.h"
#include "trace/thin.h"
#include "trace/tracer.h"

#define MEMTRACE_VERSION "0.1.0"

/* The spikes a run's summary lists (it counts them all). */
#define SUMMARY_TOP_SPIKES 20

/* The environment variable naming the marker fd of a launched command. */
#define MARK_FD_ENV "MEMTRACE_MARK_FD"

/* --max-peak and --tolerance: judged on the run's exact peak. */
struct peak_limit {
	uint64_t max_peak_kb;	/* 0: no limit */
	uint64_t tolerance_kb;
	double tolerance_pct;
};

/* The limit with its tolerance, in kB. */
uint64_t peak_limit_kb(const struct peak_limit *l);
/* A peak over it (false without a limit). */
bool peak_limit_exceeded(const struct peak_limit *l, uint64_t peak_kb);

/* What a run is asked to do. The run keeps its own copies of the file
 * paths; the other strings are the caller's and must live as long as it. */
struct run_spec {
	const char *mode;		/* the summary's: "launch", "attach",
					   "campaign", "capture" */
	char **cmd;			/* launch: argv, NULL-terminated */
	int ncmd;
	const pid_t *pids;		/* attach */
	int npids;
	char **envp;			/* launch: environment (NULL: ours); used
					   before run__launch returns */
	const char *output_log;		/* launch: stdout+stderr to this file, stdin
					   from /dev/null (NULL: inherited) */
	bool as_root;			/* under sudo: do not drop to SUDO_UID */
	bool own_pgrp;			/* launch in a process group of its own: it
					   is signalled whole, and killed when the
					   run must stop (a campaign's); otherwise
					   the command is the user's and is left
					   running */
	bool no_mark_fd;		/* launch: no MEMTRACE_MARK_FD */
	const regex_t *ckpt_regex;	/* launch: stdout/stderr through pipes, passed
					   on, kept in ckpt_log, matched lines as
					   log rows (NULL: inherited) */
	const char *ckpt_regex_src;	/* the pattern as given */
	const char *ckpt_log;
	bool ckpt_keep_only;		/* the output kept in ckpt_log, not passed
					   on (stdin from /dev/null) */
	bool sigpipe_ignored;		/* what we inherited, passed on */
	const char *csv_path;		/* "-": stdout */
	bool jsonl;			/* the trace as JSON Lines (format/jsonl.h) */
	const char *summary_path;	/* NULL: none */
	const int *dirfd;		/* the directory the files above go in
					   (their last components), NULL: each
					   path's own */
	const struct peak_limit *limit;	/* NULL: none (judged in the summary) */
	const struct guard_spec *guard;	/* --kill-at, --alert, --timeout...
					   (NULL: none) */
	const char *monitor_log;	/* --monitor-log (NULL: none) */
	const char *metrics_path;	/* --metrics: a Prometheus textfile,
					   rewritten whole (NULL: none) */
	struct metrics_http *metrics_http; /* --metrics ADDR: the same text
					   served (lib/metrics_http.h; NULL:
					   none); the caller's */
	const char *label;		/* which run, in messages (a campaign's
					   CONFIG #N; copied); NULL: the only one */
	uint64_t resolution_ns;		/* --resolution: RSS rows thinned to a
					   window's extremes (trace/thin.h);
					   0: every change */
	bool baseline;			/* keep the tree's total over the last
					   tenth of the command's life, for its
					   baseline (a campaign's result.csv) */
};

/* The baseline's window: the last BASELINE_PCT % of the command's life. */
#define BASELINE_PCT 10

/* A run's files (lib/files.h): created when it is set up, before anything
 * runs; the output log at once, the trace and its log once tracing has
 * started, the summary when it is written at the end. */
enum run_file { RUN_TRACE, RUN_SUMMARY, RUN_OUTPUT_LOG, RUN_CKPT_LOG, RUN_MONITOR_LOG,
		RUN_NFILES };

/* A process that closed or replaced its marker fd. */
struct mark_lost {
	pid_t pid;
	uint32_t nr;		/* the syscall */
	uint64_t ts_ns;
};
#define RUN_MAX_LOST 16

/* A matched log line waiting for its place in the time order. */
struct pending_log {
	uint64_t ts_ns;
	pid_t pid, tid;		/* tid 0: not known */
	const char *stream;	/* static */
	char *line, *value;
	int64_t kb;		/* < 0: unknown unit */
};

struct run {
	bool inited;			/* run__init reached it (a calloc'd run
					   whose start failed before: nothing
					   to free, its fds are not 0) */
	struct run_spec spec;
	char *paths[RUN_NFILES];	/* its copies of spec's file paths */
	struct out_file files[RUN_NFILES];
	uint64_t summary_room;		/* bytes reserved for the summary */
	struct tracer *tracer;
	uint32_t group;			/* its kernel group, given back at the end */
	unsigned int page_kb;
	/* what the records told */
	struct csv_out trace;
	struct thin *thin;		/* --resolution (NULL: off) */
	bool trace_open;
	bool trace_failed;		/* a write failed: no more rows (said) */
	bool summary_short;		/* the disk held only the short summary (said) */
	struct procs procs;
	struct spikes *spikes;		/* live analysis (NULL if it could not start) */
	int64_t tree_pages;		/* the group's RSS at the last record */
	/* the largest VmSize and VmData any one process had, at its rows */
	uint64_t peak_vm_pages, peak_data_pages;
	struct baseline baseline;	/* spec.baseline: the tree's total, its
					   last tenth (analysis/baseline.h) */
	bool baseline_end;		/* the command exited: no more of it */
	uint64_t marks, checkpoints, mark_fd_lost;
	struct mark_lost lost[RUN_MAX_LOST];	/* the first ones */
	size_t nlost;
	struct pending_log *logs;	/* in time order */
	size_t nlogs, logs_cap;
	uint64_t log_rows;
	/* an expected process (run__expect): a pidfd of it */
	bool expecting;
	int expect_pidfd;
	/* the launched command */
	pid_t child;
	bool have_status;
	bool exec_failed;		/* it could not run (status 126/127) */
	int status;			/* wait status */
	struct rusage ru;
	int mark_fd;			/* MEMTRACE_MARK_FD given to it, -1: none */
	struct logcap out;		/* --checkpoint-regex */
	bool out_on;
	uint64_t log_unknown_units;
	uint64_t out_wait_since;	/* its output still held by others since */
	bool out_wait_said;
	/* its course */
	uint64_t start_ns, end_ns;
	bool ended;			/* nothing more to wait for; end_ns set */
	bool interrupted;		/* stopped before it ended by itself */
	struct guard_state gs;		/* spec.guard's course */
	char label[96];			/* spec.label's copy */
	void *tag;			/* the client's */
};

/* How a run starts. Each takes a kernel group (tracer__group_take) and
 * creates the trace only once tracing has started: a failure before that
 * leaves an earlier trace at that path as it was. 0 or -errno, with a
 * sentence in err.
 * Launch: forks the command held before exec, registers it, lets it exec.
 * -ENOENT/-EACCES and friends with r->exec_failed when the command could
 * not run (nothing traced, r->status holds its 126/127). */
int run__launch(struct run *r, struct tracer *t, const struct run_spec *s, char *err,
		size_t errlen);
/* Attach: an exact snapshot of each PID now. */
int run__attach(struct run *r, struct tracer *t, const struct run_spec *s, char *err,
		size_t errlen);
/* A group the kernel started itself (capture), at start_ns. */
/* Expect: a process someone else forked and holds before its exec (a
 * Slurm task in slurmstepd: pid) is registered in a new group, traced
 * from its exec; the run is over when that process exits (its leftovers
 * are not waited for), its exit status is the kernel's. s->cmd, if set,
 * names the binary it will exec (its MEMTRACE_MARK probes). */
int run__expect(struct run *r, struct tracer *t, const struct run_spec *s, pid_t pid,
		char *err, size_t errlen);
int run__adopt(struct run *r, struct tracer *t, const struct run_spec *s, uint32_t group,
	       uint64_t start_ns, char *err, size_t errlen);
/* A run that traces nothing (stopped before it could start): its files
 * say so. */
int run__empty(struct run *r, struct tracer *t, const struct run_spec *s, char *err,
	       size_t errlen);

/* What every way of starting does: the run set up for group g of t from
 * spec s, started at start_ns, its files created; then, once tracing has
 * started, its trace begun and put in place. t NULL: a run with no kernel
 * behind it (the unit tests feed it records). 0 or -errno, with a sentence
 * in err. */
int run__init(struct run *r, struct tracer *t, const struct run_spec *s, uint32_t group,
	      uint64_t start_ns, char *err, size_t errlen);
int run__open_trace(struct run *r, char *err, size_t errlen);

/* A record of the run's group: the one place a record's type is looked at
 * (a row, the process table, the counters). 0 or -errno. */
int run__record(struct run *r, const struct mt_rec *rec);
/* --checkpoint-regex: a line matched (a logcap_fn, ctx the run): queued as
 * a log row for its place in the time order. */
int run__log_line(void *ctx, uint64_t ts_ns, pid_t pid, pid_t tid, const char *stream,
		  uint64_t lineno, const char *line, const char *value);
/* --checkpoint-regex: waits up to timeout_ms for the command's output (or
 * for extra_fd), passes it on and queues the matched lines. final: the last
 * of it, pipes closed. */
void run__pump_output(struct run *r, int timeout_ms, int extra_fd, bool final);
/* The queued log rows stamped at or before cut_ns are written (every
 * record up to then is in). */
void run__emit_logs(struct run *r, uint64_t cut_ns);
/* Has the run ended? Launch: its command exited (wait4) and its output is
 * passed on; attach and capture: no process of its group is alive. Sets
 * ended and end_ns. */
bool run__poll_end(struct run *r, uint64_t now_ns);
/* A stop signal (first: the first one). A launched command gets it (a
 * process group of its own always; otherwise only when it was sent to us
 * alone, a terminal's Ctrl-C reached it already) and the run ends when it
 * exits; a later one kills a process group of our own, or leaves the
 * user's command running and ends the run now. Attached and captured
 * processes are not ours to signal: their run ends now. */
void run__stop(struct run *r, int sig, bool first, bool from_user, uint64_t now_ns);
/* --detach-after: the run ends now, its processes left running. */
void run__detach(struct run *r, uint64_t now_ns);
/* Something failed that ends every run: a process group of our own gets
 * SIGTERM (its run ends when it exits), anything else ends now (a user's
 * command is left running). */
void run__abort(struct run *r, uint64_t now_ns);
/* Totals of the run's group: RSS now, exact peak, drops. */
void run__group(const struct run *r, struct mt_group *g);
/* After its last records: the kernel's final state of every process
 * (peaks, faults, exits whose records were dropped), the last log rows,
 * the trace closed. 0 or -errno (said on stderr). */
int run__finish(struct run *r);
/* The baseline of a finished run (spec.baseline): the time-weighted
 * median of the tree's total RSS over the last BASELINE_PCT % of
 * [start_ns, end_ns] (the command's exec and exit), in kB. 0, or -errno
 * when it is not known (no spec.baseline, out of memory, a window before
 * what was kept). */
int run__baseline(const struct run *r, uint64_t start_ns, uint64_t end_ns, int64_t *kb);
/* The command's name, for messages ("process" when there is none). */
const char *run__name(const struct run *r);
void run__free(struct run *r);

#endif
