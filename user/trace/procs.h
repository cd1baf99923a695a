/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A run's processes, as its records told them: one entry per process (a
 * reused PID gets a new one), found by PID while it lives. An entry whose
 * exit is known is kept a little longer (a line it wrote may still be on
 * its way), then moved to a record store (lib/recstore.h): memory follows
 * the processes alive, not every process a long build ever ran. The
 * launched command's own entry stays.
 */
#ifndef MEMTRACE_TRACE_PROCS_H
#define MEMTRACE_TRACE_PROCS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "memtrace.h"
#include "lib/idmap.h"
#include "lib/recstore.h"

struct proc_info {
	pid_t pid, ppid;
	char comm[MT_COMM_LEN];
	uint64_t peak_pages, peak_ts_ns, faults;
	uint64_t first_ts_ns, end_ts_ns;
	int64_t rss_pages;	/* last vmrss seen */
	int64_t pages[MT_NR_MEMBERS];	/* last counters seen (for log rows) */
	uint64_t total_vm, data_vm;	/* last VmSize, VmData seen (pages) */
	int exit_code;		/* shell-style; valid when exited */
	bool exited, known_exit;
	bool left;		/* left its owned group (a LEAVE record): ended,
				   without an exit status */
	uint32_t index;		/* order of appearance in the run */
};

struct procs {
	struct proc_info *v;	/* in memory: alive, or ended a moment ago */
	size_t nv, cap;
	struct idmap index;	/* pid -> v[] slot */
	size_t n;		/* every process seen */
	size_t live;		/* not yet exited */
	struct recstore done;	/* the others, by index */
	pid_t *ended;		/* known exits not yet moved, oldest first */
	size_t nended, ended_cap;
	pid_t pinned;		/* kept in memory (0: none) */
};

void procs__init(struct procs *t);
/* The entry of the process with this PID (the newest); create: a new
 * entry when there is none in memory. NULL when absent (or out of
 * memory). Valid until the next call that creates or retires one. */
struct proc_info *procs__get(struct procs *t, pid_t pid, bool create);
/* A new process with this PID (the previous one exited): a new entry. */
struct proc_info *procs__new(struct procs *t, pid_t pid);
/* The process has exited. known: exit_code and ts_ns are the real status
 * (an exit record, wait4, the kernel's kept state) and win over an exit
 * only inferred earlier (its entry gone from the kernel); an inferred exit
 * never replaces a known one. */
void procs__exited(struct procs *t, struct proc_info *p, int exit_code, uint64_t ts_ns,
		   bool known);
/* Entries whose exit has been known for a while leave memory (call when
 * no entry pointer is held). */
void procs__retire(struct procs *t);
/* Every entry, in order of appearance; stops at fn's first non-zero
 * return (returned). */
int procs__each(struct procs *t, int (*fn)(void *ctx, const struct proc_info *p), void *ctx);
void procs__free(struct procs *t);

#endif
