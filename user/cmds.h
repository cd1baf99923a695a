/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Subcommands: memtrace-bpf NAME ARGS (argv[0] is NAME). */
#ifndef MEMTRACE_CMDS_H
#define MEMTRACE_CMDS_H

int cmd_spikes(int argc, char **argv);
int cmd_campaign(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_stages(int argc, char **argv);

#endif
