/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A run's processes, as its records told them: one entry per process
 * (a reused PID gets a new one), found by PID. */
#ifndef MEMTRACE_TRACE_PROCS_H
#define MEMTRACE_TRACE_PROCS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "memtrace.h"
#include "lib/idmap.h"

struct proc_info {
	pid_t pid, ppid;
	char comm[MT_COMM_LEN];
	uint64_t peak_pages, peak_ts_ns, faults;
	uint64_t first_ts_ns, end_ts_ns;
	int64_t rss_pages;	/* last vmrss seen */
	int64_t pages[MT_NR_MEMBERS];	/* last counters seen (for log rows) */
	uint64_t total_vm;
	int exit_code;		/* shell-style; valid when exited */
	bool exited, known_exit;
};

struct procs {
	struct proc_info *v;	/* in order of appearance */
	size_t n, cap;
	struct idmap index;	/* pid -> its newest entry in v[] */
	size_t live;		/* not yet exited */
};

/* The newest process with this PID; create: a new entry when there is
 * none. NULL when absent (or out of memory). */
struct proc_info *procs__get(struct procs *t, pid_t pid, bool create);
/* A new process with this PID (the previous one exited): a new entry. */
struct proc_info *procs__new(struct procs *t, pid_t pid);
/* The process has exited. known: exit_code and ts_ns are the real status
 * (an exit record, wait4, the kernel's kept state) and win over an exit
 * only inferred earlier (its entry gone from the kernel); an inferred exit
 * never replaces a known one. */
void procs__exited(struct procs *t, struct proc_info *p, int exit_code, uint64_t ts_ns,
		   bool known);
void procs__free(struct procs *t);

#endif
