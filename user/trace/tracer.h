/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The kernel side's lifecycle: open, configure, load, attach, drain. */
#ifndef MEMTRACE_TRACER_H
#define MEMTRACE_TRACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "memtrace.h"

struct tracer_opts {
	bool follow;		/* trace children forked by traced processes */
	uint64_t ring_bytes;	/* ring buffer size (power of two) */
	uint32_t max_procs;	/* processes (and address spaces) at once */
	const char *btf_path;	/* NULL: the running kernel's */
	/* capture mode: processes that exec into this comm and/or run in this
	 * cgroup (v2 id, at this level) each start a group of their own */
	const char *capture_comm;
	uint64_t capture_cgroup_id;
	uint32_t capture_cgroup_level;
	const struct mt_guard *capture_guard;	/* and each of them gets this
						   guard (NULL: none) */
	uint64_t window_ns;	/* --resolution folded in the kernel
				   (bpf/window.bpf.h); 0: every change a record */
	/* the daemon's: tracer__expect_exec and tracer__attach_pids refuse
	 * (-EBUSY) a pid traced already, by any group, instead of taking it
	 * over; false: root's runs, a later registration wins */
	bool exclusive;
	bool verbose;
};

struct tracer;

/* Called for each record, in timestamp order within a drained batch. */
typedef int (*tracer_rec_fn)(void *ctx, const struct mt_rec *r);

/* Loads and attaches everything. On failure returns -errno and puts a
 * sentence naming the failed step and a next step in err. */
int tracer__open(struct tracer **out, const struct tracer_opts *o, char *err, size_t errlen);
void tracer__destroy(struct tracer *t);

/* Launch mode: trace @pid from its next exec, in @group (-EBUSY:
 * exclusive, and @pid is traced already). */
int tracer__expect_exec(struct tracer *t, pid_t pid, uint32_t group);
/* Attaches the memtrace:mark USDT probe (MEMTRACE_MARK) in @binary, a
 * path or a name looked up in PATH, for every process; marks are recorded
 * for traced ones only. Returns 0, -ENOENT when the binary has no such
 * probe (or is not ELF), another -errno when attaching failed. */
int tracer__attach_marks(struct tracer *t, const char *binary);
/* After tracer__expect_exec, before the exec: @fd of @pid is its marker fd
 * (MEMTRACE_MARK_FD, -1: none); writes to the file behind it become marks.
 * log_capture: its stdout/stderr are our pipes (--checkpoint-regex); its
 * writes to them become OUTPUT records, to time the lines. */
int tracer__set_mark_fd(struct tracer *t, pid_t pid, int fd, bool log_capture);
/* Attach mode: exact snapshot of each pid now, in @group; no_mm[i] set for
 * a pid found without an address space (kernel thread), and for one the
 * kernel refused for an owned group (not its owner's: no longer traced,
 * tracer__proc says -ENOENT). Returns 0 or -errno (-EBUSY: exclusive, and
 * a pid is traced already; none of @pids is then added). */
int tracer__attach_pids(struct tracer *t, const pid_t *pids, int n, uint32_t group,
			bool *no_mm);
/* A group's totals (RSS now, exact peak, drops, live processes). */
void tracer__group(struct tracer *t, uint32_t group, struct mt_group *g);
/* Takes a free group (1..MT_MAX_GROUPS-1: not busy, no live process) into
 * *group, totals zeroed. -EBUSY when none is free (processes of earlier
 * runs still alive hold them). */
int tracer__group_take(struct tracer *t, uint32_t *group);
/* The group's guard and alerts (--kill-at, --alert), set after taking it
 * and before any of its processes runs. */
void tracer__group_guard(struct tracer *t, uint32_t group, const struct mt_guard *gd);
/* The live processes of a group, as the kernel traces them (up to max). */
size_t tracer__group_pids(struct tracer *t, uint32_t group, pid_t *pids, size_t max);
/* The run of this group has ended: it may be taken again once its
 * processes (children that outlived the run) have exited too. */
void tracer__group_give_back(struct tracer *t, uint32_t group);

/* Adds the fault counts of threads still running to their processes
 * (exited threads were added when they exited). */
int tracer__fold_faults(struct tracer *t);

/* Waits up to timeout_ms for a wake-up, then drains everything pending and
 * hands on the records in time order, except those younger than 2 ms, held
 * for the next call so records of two drains cannot cross; final: all.
 * urgent (may be NULL) gets each GUARD and ALERT record as soon as it is
 * read, before fn gets it in its place. */
int tracer__poll(struct tracer *t, int timeout_ms, bool final, tracer_rec_fn fn,
		 tracer_rec_fn urgent, void *ctx);

/* What exactness cost so far, summed over the CPUs: rss_stat runs on
 * traced mms, and how many of them summed every CPU's slot. */
void tracer__cost(struct tracer *t, struct mt_cost *c);
/* mms whose exact value moves by one read at once (memory: 16 bytes a
 * CPU each); past that, full sums. */
#define TRACER_MAX_SLOTS 4096

/* Every record stamped at or before this has been handed on (by the
 * last tracer__poll; UINT64_MAX after a final one). */
uint64_t tracer__released_ns(const struct tracer *t);
/* How far behind the drain the release is: 2 ms, and with windows folded
 * in the kernel a window and its timer's lateness more. */
#define TRACER_WINDOW_LAG_NS 20000000ULL
uint64_t tracer__hold_ns(const struct tracer *t);
/* Records read from the ring so far, and of them kernel windows (each
 * standing for its changes), for the whole tracer. */
void tracer__ring_counts(const struct tracer *t, uint64_t *records, uint64_t *windows);

/* The ring buffer's size (--ring-size), for messages. */
uint64_t tracer__ring_bytes(const struct tracer *t);
/* An fd that polls readable when records wait (the ring buffer's epoll). */
int tracer__poll_fd(struct tracer *t);
void tracer__counters(struct tracer *t, struct mt_counters *c);
/* The loader has the exit record of this process: its kept state can go. */
void tracer__exit_seen(struct tracer *t, pid_t pid, uint64_t exit_ts_ns);
/* Calls fn for each exited process whose exit record the loader has not
 * seen (it was dropped); stops at fn's first non-zero return. */
int tracer__each_exited(struct tracer *t, int (*fn)(void *ctx, pid_t pid, const struct mt_proc *p),
			void *ctx);
/* Kernel-kept state of a traced process alive: the peak includes its live
 * mm; faults, the threads folded so far (tracer__fold_faults adds the rest). */
int tracer__proc(struct tracer *t, pid_t pid, struct mt_proc *p);

/* The last refusal of a tracer that can refuse (a service's client), as
 * a sentence ("PID 42 is not yours: ..."), or NULL. */
const char *tracer__why(struct tracer *t);
/* Is it a client of the service (memtrace-bpf daemon)? For messages: the
 * ring's size is then the service's. */
bool tracer__remote(const struct tracer *t);

/* ---- the daemon's, on its local tracer only (-EOPNOTSUPP on another) ----
 * An owned group: right after tracer__group_take and before any process
 * of it, the kernel is told to keep @group to the unprivileged processes
 * of @uid/@gid (bpf/lifecycle.bpf.h: group_admits(): a set-id exec leaves
 * it with a LEAVE record, an attach target of another user is refused,
 * the guard signals only the owner's tasks). */
int tracer__group_setup(struct tracer *t, uint32_t group, uint32_t uid, uint32_t gid);
/* Stops tracing every process of @group (they run on untouched): the
 * untrace_tasks passes, then a sweep of what they could not reach,
 * repeated at most 3 times; the group's kept exits are dropped too.
 * Returns how many processes it untraced, or -errno. After it the group's
 * live count is 0 and no procs or mms entry of it is left (a straggler is
 * said on stderr). The group stays MT_GROUP_RELEASING until taken again. */
int tracer__untrace(struct tracer *t, uint32_t group);
/* How many procs and mms entries the kernel holds for @group (a status
 * line; the tests' check that untrace left none). */
int tracer__group_entries(struct tracer *t, uint32_t group, size_t *procs, size_t *mms);
/* Whether the group's processes' children are followed (the tracer's
 * follow setting is every group's; the daemon's clients say per group). */
int tracer__group_follow(struct tracer *t, uint32_t group, bool follow);
/* A user's shares, split among its groups (the daemon's
 * --user-ring-share, --user-procs): at most @records of the group's
 * records wait in the ring at once, and children past @procs of it alive
 * are not followed (counted untraced); 0: no cap. */
int tracer__group_caps(struct tracer *t, uint32_t group, uint64_t records, uint32_t procs);
/* procs entries in all (the daemon's status). */
size_t tracer__count_procs(struct tracer *t);

/* ---- implementations ----
 * A tracer is one of: the local one (tracer.c: the BPF side loaded in this
 * process, tracer__open) or another that hands on records the same way (a
 * test's scripted one; a client of a service). Each tracer__ function
 * above calls its implementation's op (trace/tracer_ops.c); an
 * implementation's struct begins with struct tracer. */
struct tracer_ops {
	void (*destroy)(struct tracer *t);
	int (*expect_exec)(struct tracer *t, pid_t pid, uint32_t group);
	int (*attach_marks)(struct tracer *t, const char *binary);
	int (*set_mark_fd)(struct tracer *t, pid_t pid, int fd, bool log_capture);
	int (*attach_pids)(struct tracer *t, const pid_t *pids, int n, uint32_t group,
			   bool *no_mm);
	int (*fold_faults)(struct tracer *t);
	int (*poll)(struct tracer *t, int timeout_ms, bool final, tracer_rec_fn fn,
		    tracer_rec_fn urgent, void *ctx);
	void (*ring_counts)(const struct tracer *t, uint64_t *records, uint64_t *windows);
	uint64_t (*hold_ns)(const struct tracer *t);
	uint64_t (*released_ns)(const struct tracer *t);
	uint64_t (*ring_bytes)(const struct tracer *t);
	int (*poll_fd)(struct tracer *t);
	void (*counters)(struct tracer *t, struct mt_counters *c);
	void (*cost)(struct tracer *t, struct mt_cost *c);
	void (*group)(struct tracer *t, uint32_t group, struct mt_group *g);
	int (*group_take)(struct tracer *t, uint32_t *group);
	void (*group_guard)(struct tracer *t, uint32_t group, const struct mt_guard *gd);
	size_t (*group_pids)(struct tracer *t, uint32_t group, pid_t *pids, size_t max);
	void (*group_give_back)(struct tracer *t, uint32_t group);
	int (*proc)(struct tracer *t, pid_t pid, struct mt_proc *p);
	void (*exit_seen)(struct tracer *t, pid_t pid, uint64_t exit_ts_ns);
	int (*each_exited)(struct tracer *t,
			   int (*fn)(void *ctx, pid_t pid, const struct mt_proc *p), void *ctx);
	const char *(*why)(struct tracer *t);	/* NULL: never refuses */
	bool remote;
};

struct tracer {
	const struct tracer_ops *ops;
};

/* Sorts records by ts_ns, keeping the order of equal times. Made for
 * drained batches: nearly in order already (CPUs interleave by a few). */
void rec_sort(struct mt_rec *r, size_t n);
/* After rec_sort: how many of the first records may be handed on now:
 * those stamped at or before cutoff_ns (CLOCK_MONOTONIC). Younger ones wait
 * for the next drain, where a record reserved earlier but committed later
 * (on another CPU) can still sort before them. */
size_t rec_ready(const struct mt_rec *r, size_t n, uint64_t cutoff_ns);

#endif
