/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Subcommands: memtrace-bpf NAME ARGS (argv[0] is NAME). */
#ifndef MEMTRACE_CMDS_H
#define MEMTRACE_CMDS_H

int cmd_spikes(int argc, char **argv);
int cmd_campaign(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_stages(int argc, char **argv);

/* A bad command line: "memtrace-bpf SUB: MESSAGE", where to find help,
 * exit status 2 (every subcommand's usage error). */
void usage_exit(const char *sub, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

#endif
