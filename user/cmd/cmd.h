/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Subcommands (memtrace-bpf NAME ARGS, argv[0] is NAME) and what their
 * command lines share: one usage-error path, the tracing options of every
 * subcommand that traces, the arguments of every subcommand that reads a
 * trace. Exit statuses are in lib/exit.h.
 */
#ifndef MEMTRACE_CMD_H
#define MEMTRACE_CMD_H

#include <argp.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "lib/exit.h"
#include "lib/files.h"
#include "trace/guard.h"
#include "trace/tracer.h"

int cmd_record(int argc, char **argv);
int cmd_campaign(int argc, char **argv);
int cmd_spikes(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_stages(int argc, char **argv);
int cmd_resample(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_daemon(int argc, char **argv);
int cmd_slurm_helper(int argc, char **argv);

/* First thing: fds 0, 1 and 2 that are closed get /dev/null, so no file
 * we open later takes their number (a write to "stdout" would land in it);
 * stdio_closed[i] says which were. */
extern bool stdio_closed[3];
void stdio_reserve(void);

/* The output of an offline subcommand that writes a file (export,
 * resample): FILE, made whole and put in place at the end (lib/files.h),
 * or stdout (path NULL or "-"). Errors are said on stderr as
 * "memtrace-bpf SUB: ...". */
struct cmd_out {
	const char *sub;
	const char *path;	/* NULL: stdout */
	struct out_file of;
	FILE *f;
};
/* Opens it before a long read (a path that cannot be one is refused at
 * once); stdout must be open, and no terminal when binary. what: what
 * would go nowhere ("the trace", "the rows"). 0, or -1 said. */
int cmd_out__open(struct cmd_out *o, const char *sub, const char *path, const char *what,
		  bool binary);
/* The file written and in place (stdout: nothing to do). 0, or -1 said. */
int cmd_out__publish(struct cmd_out *o);
void cmd_out__close(struct cmd_out *o);

/* A bad command line: "memtrace-bpf[ SUB]: MESSAGE" and where to find
 * help, exit status EXIT_USAGE. sub NULL: the main command (record). */
void usage_exit(const char *sub, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

/* The options of every subcommand that traces (record, campaign): how
 * commands are run and followed, and the tracer's settings. Parsed by the
 * argp child below into trace_cli; the subcommand sets trace_cli.sub (for
 * messages) before parsing. */
struct trace_cli {
	const char *sub;
	int follow;		/* -1 unset, 0 --no-follow, 1 --follow (record) */
	bool as_root;
	bool verbose;
	uint64_t ring_bytes;
	unsigned long max_procs;
	const char *btf;
	uint64_t resolution_ns;	/* --resolution (0: every change) */
	bool ring_set, procs_set;	/* --ring-size, --max-procs given */
	bool remote;		/* not root: through the service (trace_cli__access) */
};
extern struct trace_cli trace_cli;
extern const struct argp trace_cli_argp;
/* --follow (record, attach mode): the other side of --no-follow. */
void trace_cli__follow(void);
/* The tracer's settings; follow: trace children. */
void trace_cli__tracer_opts(struct tracer_opts *to, bool follow);
/* May this process trace, and how: with root's capabilities itself, else
 * through the service (memtrace-bpf daemon) when its socket is there
 * (trace_cli.remote). 0, or -errno with msg (what is missing and what to
 * do). A root-only option (--as-root, and those the service holds:
 * --ring-size, --max-procs, --btf) given without root is a usage error. */
int trace_cli__access(char *msg, size_t len);
/* The tracer, local or the service's client (after trace_cli__access). */
int trace_cli__tracer_open(struct tracer **t, const struct tracer_opts *to, char *err,
			   size_t errlen);

/* The guard and alert options (--kill-at, --alert, --timeout...) of record
 * and campaign: an argp child parsed into guard_cli.spec; the subcommand
 * sets guard_cli.sub before parsing, and calls guard_cli__check with its
 * mode once the command line is read. */
struct guard_cli {
	const char *sub;
	struct guard_spec spec;
	bool signal_set, grace_set, count_set;
};
enum guard_mode { GUARD_LAUNCH, GUARD_ATTACH, GUARD_CAPTURE, GUARD_CAMPAIGN };
extern struct guard_cli guard_cli;
extern const struct argp guard_cli_argp;
/* record's --detach-after (its --force sets guard_cli.spec.force). */
void guard_cli__detach_after(const char *arg);
/* What the options ask agrees with itself and with the mode (usage_exit
 * otherwise). */
void guard_cli__check(enum guard_mode mode);

/* --max-peak ARG (tolerance false) or --tolerance ARG into l, or
 * usage_exit with why. */
struct peak_limit;
void gate_option(const char *sub, bool tolerance, const char *arg, struct peak_limit *l);

/* --checkpoint-regex ARG compiled into re (POSIX extended, with a group
 * around the value), or usage_exit with why. */
void ckpt_regex_compile(const char *sub, const char *arg, regex_t *re);

/* The report an offline subcommand printed on stdout is all out: 0, or
 * EXIT_TRACE_ERR (said). */
int report_written(const char *sub);
/* A trace that gave nothing to SUB: "no rows of pid PID in PATH" (pid not
 * 0), else "PATH has a header but no rows: nothing to VERB". */
void say_no_rows(const char *sub, const char *verb, int pid, const char *path);

/* What every subcommand that reads one trace takes: TRACE.csv, --format
 * table|json, --pid PID. Parsed by the argp child below into trace_file;
 * the subcommand sets trace_file.sub (for messages) before parsing. */
struct trace_file {
	const char *sub;
	const char *path;
	bool json;
	pid_t only_pid;		/* 0: every process */
};
extern struct trace_file trace_file;
extern const struct argp trace_file_argp;

#endif
