/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * One traced run: a launched command (or attached PIDs, or a captured
 * process) in its own kernel group, with its own trace, summary and process
 * table. The plain CLI has one; a campaign has several at once, all fed by
 * one loaded tracer.
 */
#ifndef MEMTRACE_RUN_H
#define MEMTRACE_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>
#include "trace/logcap.h"
#include "trace/session.h"
#include "trace/tracer.h"

#define MEMTRACE_VERSION "0.1.0"

/* The memory gate (--max-peak, --tolerance). */
struct gate {
	uint64_t max_peak_kb;	/* 0: no gate */
	uint64_t tolerance_kb;
	double tolerance_pct;
};

uint64_t gate_limit_kb(const struct gate *g);
bool gate_exceeded(const struct gate *g, uint64_t peak_kb);

struct run_spec {
	uint32_t group;			/* kernel group (MT_MAX_GROUPS slots) */
	const char *mode;		/* "launch", "attach", "campaign", "capture" */
	char **cmd;			/* launch: argv, NULL-terminated */
	int ncmd;
	const pid_t *pids;		/* attach */
	int npids;
	char **envp;			/* launch: environment (NULL: ours) */
	const char *log_path;		/* launch: stdout+stderr to this file, stdin
					   from /dev/null (NULL: inherited) */
	bool as_root;			/* under sudo: do not drop to SUDO_UID */
	bool own_pgrp;			/* launch in a process group of its own
					   (signal it whole: kill(-child)) */
	bool no_mark_fd;		/* launch: no MEMTRACE_MARK_FD for the command */
	const regex_t *ckpt_regex;	/* launch: stdout/stderr through pipes, passed
					   on, kept in ckpt_log_path, matched lines
					   as log rows (NULL: inherited) */
	const char *ckpt_regex_src;	/* the pattern as given */
	const char *ckpt_log_path;
	bool sigpipe_ignored;		/* what we inherited, passed on */
	const char *csv_path;		/* "-": stdout */
	const char *summary_path;	/* NULL: none */
	const struct gate *gate;	/* NULL: none (reported in the summary) */
};

struct run {
	struct run_spec spec;
	struct tracer *tracer;
	struct session sess;
	uint64_t start_ns, end_ns;
	bool files_open;
	bool interrupted;
	bool have_status;
	bool exec_failed;		/* the command could not run (status 126/127) */
	int status;			/* wait status of the launched command */
	struct rusage ru;
	pid_t child;
	int mark_fd;			/* MEMTRACE_MARK_FD given to the command, -1: none */
	struct logcap logs;		/* --checkpoint-regex */
	bool logs_on;
	uint64_t log_unknown_units;
};

/* Signals (SIGINT, SIGTERM, SIGHUP): the handler only records; the loops
 * act. Installed first thing, so a signal during BPF loading is not lost. */
extern volatile sig_atomic_t sig_count, sig_last, sig_from_user;
extern bool sig_inherited_ignore[NSIG];	/* as inherited (SIGPIPE is passed on) */
void signals__install(void);

/* CLOCK_MONOTONIC in ns: bpf_ktime_get_ns()'s clock. */
uint64_t mono_ns(void);

/* The environment variable naming the marker fd of a launched command. */
#define MARK_FD_ENV "MEMTRACE_MARK_FD"

/* Under sudo, who asked: commands run as them, files belong to them. */
bool sudo_ids(uid_t *uid, gid_t *gid);

/* Launch: forks the command held before exec, registers it in the spec's
 * group, lets it exec, opens the trace. Returns 0, or an errno (positive)
 * with a sentence in err: ENOENT/EACCES and friends when the command could
 * not run (nothing traced), others when tracing could not start. */
int run__launch(struct run *r, struct tracer *t, const struct run_spec *s,
		uint64_t start_ns, char *err, size_t errlen);
/* Attach: exact snapshot of each PID now, then opens the trace. */
int run__attach(struct run *r, struct tracer *t, const struct run_spec *s,
		uint64_t start_ns, char *err, size_t errlen);
/* A run whose processes the kernel put in its group itself (capture). */
int run__adopt(struct run *r, struct tracer *t, const struct run_spec *s,
	       uint64_t start_ns, char *err, size_t errlen);

/* A record of this run's group: to the trace and the process table. */
int run__record(struct run *r, const struct mt_rec *rec);
/* --checkpoint-regex: waits up to timeout_ms for the command's output
 * (or for extra_fd), passes it on and queues matched lines. final: the
 * last of it, pipes closed. Then cut_ns: the queued log rows stamped at or
 * before it are written (records up to then are in). */
void run__pump_logs(struct run *r, int timeout_ms, int extra_fd, bool final);
/* --checkpoint-regex: a process may still write to the command's stdout
 * or stderr (a background job that outlived it), or bytes wait to be
 * passed on. */
bool run__logs_busy(const struct run *r);
void run__emit_logs(struct run *r, uint64_t cut_ns);
/* Launch: has the command exited? (wait4, without blocking) */
bool run__reap(struct run *r);
/* The kernel's state of every process of the run: peaks, exits. */
void run__sync(struct run *r);
/* Totals of the run's group: RSS now, exact peak, drops. */
void run__group(struct run *r, struct mt_group *g);
/* After the last records: final process states, the trace closed, the
 * summary written (atomically), files given to the sudo user. Returns 0 or
 * -errno; what failed is said on stderr. */
int run__finish(struct run *r, uint64_t end_ns);
void run__free(struct run *r);

#endif
