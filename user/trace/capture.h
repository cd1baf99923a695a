/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Capture mode: trace every process that starts with a name / in a cgroup. */
#ifndef MEMTRACE_CAPTURE_H
#define MEMTRACE_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "trace/tracer.h"

struct capture_opts {
	const char *comm;	/* NULL: any name */
	const char *cgroup;	/* as given, for messages */
	const char *dir;	/* DIR/COMM-PID/trace.csv, summary.json */
	bool quiet;
};

/* A cgroup v2 directory (absolute, or relative to /sys/fs/cgroup) to its
 * id and level. Returns 0, or -1 with a message. */
int capture_resolve_cgroup(const char *arg, uint64_t *id, uint32_t *level, char *msg, size_t len);

/* Runs until SIGINT/SIGTERM; the tracer was opened with the capture set.
 * Returns the exit status. */
int capture_main(const struct capture_opts *o, struct tracer *t);

#endif
