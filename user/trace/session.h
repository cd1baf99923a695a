/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* One tracing run: records in, CSV rows and the process table out. */
#ifndef MEMTRACE_SESSION_H
#define MEMTRACE_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "memtrace.h"
#include "format/output.h"
#include "analysis/spikes.h"

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

/* A process that closed or replaced its marker fd. */
struct mark_lost {
	pid_t pid;
	uint32_t nr;		/* the syscall */
	uint64_t ts_ns;
};
#define SESSION_MAX_LOST 16

/* A matched log line waiting for its place in the time order. */
struct pending_log {
	uint64_t ts_ns;
	pid_t pid, tid;		/* tid 0: not known */
	const char *stream;	/* static */
	char *line, *value;
	int64_t kb;		/* < 0: unknown unit */
};

struct session {
	struct linebuf csv;
	uint64_t start_ns;
	unsigned int page_kb;
	struct proc_info *procs;
	size_t nprocs, cap;
	int *index;		/* open addressing: pid -> procs[] slot */
	size_t index_cap;
	size_t live;		/* traced processes not yet exited */
	uint64_t rows, last_ts_ns;
	int64_t tree_pages;
	int err;		/* first error writing the CSV */
	struct spikes *spikes;	/* live analysis (NULL if it could not start) */
	uint64_t marks, checkpoints, mark_fd_lost;
	struct mark_lost lost[SESSION_MAX_LOST];	/* the first ones */
	size_t nlost;
	struct pending_log *logs;	/* in time order */
	size_t nlogs, logs_cap;
	uint64_t log_rows;
};

int session__init(struct session *s, const char *csv_path, uint64_t start_ns);
/* tracer_rec_fn: writes the row, updates the process table */
int session__record(void *ctx, const struct mt_rec *r);
struct proc_info *session__proc(struct session *s, pid_t pid, bool create);
/* A new process with this PID (the previous one exited): a new entry. */
struct proc_info *session__proc_new(struct session *s, pid_t pid);
/* The process has exited. known: exit_code and ts_ns are the real status
 * (an exit record, wait4, the kernel's kept state) and win over an exit
 * only inferred earlier (its entry gone from the kernel); an inferred exit
 * never replaces a known one. */
void session__mark_exited(struct session *s, struct proc_info *p, int exit_code,
			  uint64_t ts_ns, bool known);
/* A log row for pid at ts_ns (its state then), written before the first
 * record stamped after it, or by session__emit_logs. Returns 0 or -ENOMEM. */
int session__queue_log(struct session *s, uint64_t ts_ns, pid_t pid, pid_t tid,
		       const char *stream, const char *line, const char *value, int64_t kb);
/* Writes the queued log rows stamped at or before cut_ns. */
void session__emit_logs(struct session *s, uint64_t cut_ns);
int session__flush(struct session *s);
int session__close(struct session *s);
void session__free(struct session *s);

#endif
