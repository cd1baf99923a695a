/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * memtrace-bpf's exit statuses, every subcommand's, in one place (listed
 * in each --help and in the README). A launch returns its command's own
 * status otherwise.
 */
#ifndef MEMTRACE_LIB_EXIT_H
#define MEMTRACE_LIB_EXIT_H

enum {
	EXIT_TRACE_ERR = 1,	/* cannot trace or write: privileges, PID,
				   output, BTF; an offline subcommand's input
				   cannot be read */
	EXIT_USAGE = 2,		/* bad command line */
	EXIT_RUNS_FAILED = 3,	/* campaign finished; some runs did not exit 0 */
	EXIT_OVER_LIMIT = 88,	/* --max-peak exceeded (the command succeeded) */
	EXIT_GUARD = 89,	/* --kill-at stopped the run (the command's own
				   status is in the summary) */
	EXIT_TIMEOUT = 124,	/* --timeout stopped it (as timeout(1)) */
	EXIT_NOEXEC = 126,	/* the command cannot be executed */
	EXIT_NOTFOUND = 127,	/* the command is not found */
	EXIT_SIGNAL = 128,	/* + N: stopped by signal N */
};

#endif
