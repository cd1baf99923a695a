/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* record --comm NAME / --cgroup PATH -d DIR: every matching process that
 * starts while we run, traced from its exec, one trace each. */
#ifndef MEMTRACE_CMD_CAPTURE_H
#define MEMTRACE_CMD_CAPTURE_H

#include <stdbool.h>

struct capture_opts {
	const char *comm;	/* NULL: any name */
	const char *cgroup;	/* as given (NULL: any cgroup) */
	const char *dir;	/* DIR/COMM-PID/trace.csv, summary.json */
	int trace_format;	/* enum zformat: trace.csv, .csv.gz, .csv.zst */
	bool trace_format_set;
	bool quiet;
	const struct guard_spec *guard;	/* each run's (NULL: none) */
};

/* Loads the tracer with the capture set and runs until SIGINT/SIGTERM.
 * Returns the exit status. */
int capture_main(const struct capture_opts *o);

#endif
