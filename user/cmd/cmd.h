/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Subcommands: memtrace-bpf NAME ARGS (argv[0] is NAME). */
#ifndef MEMTRACE_CMDS_H
#define MEMTRACE_CMDS_H

#include <stdbool.h>
#include <sys/types.h>

int cmd_spikes(int argc, char **argv);
int cmd_campaign(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_stages(int argc, char **argv);

/* A bad command line: "memtrace-bpf SUB: MESSAGE", where to find help,
 * exit status 2 (every subcommand's usage error). */
void usage_exit(const char *sub, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

/* What every subcommand that reads one trace takes: TRACE.csv, --format
 * table|json (TOPT_FORMAT), --pid PID (TOPT_PID). A parser calls this
 * first: 0 when it handled key; ARGP_ERR_UNKNOWN otherwise (also after
 * checking, at ARGP_KEY_END, that a trace was given). */
enum { TOPT_FORMAT = 1090, TOPT_PID };
int trace_args_parse(const char *sub, int key, char *arg, const char **trace, bool *json,
		     pid_t *only_pid);

#endif
