/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Records and constants shared by the kernel side (bpf/memtrace.bpf.c) and
 * the loader (user/). Stands on its own: fixed-width __u32/__u64 only.
 */
#ifndef MEMTRACE_H
#define MEMTRACE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#include <linux/bpf.h>		/* struct bpf_spin_lock, bpf_timer (mt_win) */
#endif

#define MT_COMM_LEN	16
/* Upper bound for the per-CPU walk; the real count is set at load time. */
#define MT_MAX_CPUS	1024
/* Groups: each traced tree (a launched command, a campaign run, a captured
 * process) has its own totals, so one loaded set of programs can trace many
 * runs at once and each run's trace stays separate. Group 0 is the plain
 * launch/attach run. A power of two: ids are used modulo this. */
#define MT_MAX_GROUPS	1024

/* Indexes of mm->rss_stat[] (the kernel's MM_FILEPAGES, MM_ANONPAGES,
 * MM_SWAPENTS, MM_SHMEMPAGES; stable since 4.x). */
enum mt_member {
	MT_FILE = 0,
	MT_ANON = 1,
	MT_SWAP = 2,
	MT_SHMEM = 3,
	MT_NR_MEMBERS = 4,
};

/* Every ring-buffer record starts with one of these. */
enum mt_rec_type {
	MT_REC_RSS = 1,		/* a member of a traced mm changed */
	MT_REC_SYSCALL = 2,	/* mmap/munmap/mremap/brk/madvise returned */
	MT_REC_FORK = 3,	/* a followed child appeared */
	MT_REC_EXEC = 4,	/* a traced process installed a new mm */
	MT_REC_EXIT = 5,	/* a traced process's last thread exited */
	MT_REC_ATTACH = 6,	/* attach-time snapshot of a running process */
	MT_REC_CHECKPOINT = 7,	/* a traced process read its own memory figures
				   (cause: enum mt_ckpt_kind) */
	MT_REC_MARK = 8,	/* a stage marker (cause: enum mt_mark_kind) */
	MT_REC_MARK_FD_LOST = 9,/* a process closed or replaced its marker fd
				   (nr: the syscall that did it) */
	MT_REC_OUTPUT = 10,	/* --checkpoint-regex: a write(2) to the
				   command's stdout (cause 0) or stderr (1)
				   pipe returned len bytes; label: their start.
				   Times its log lines; not a CSV row */
	MT_REC_GUARD = 11,	/* the group's counted total went over its
				   --kill-at (len: the limit in pages; ret: the
				   signal sent to pid, 0 none; cause, addr, ip:
				   the change that crossed it) */
	MT_REC_ALERT = 12,	/* ... over an --alert threshold (len), once */
	MT_REC_LEAVE = 13,	/* a traced process left its owned group at
				   exec (MT_GROUP_OWNED): comm is the new one,
				   pages the old mm's last; ret: enum
				   mt_leave_why bits. No record of it after */
	MT_REC_TYPE_MAX,
};

/* What the task was doing when an RSS record was made. */
enum mt_cause {
	MT_CAUSE_OTHER = 0,	/* raised from another task: reclaim, fork copy,
				   teardown, khugepaged... (tid says who) */
	MT_CAUSE_SELF = 1,	/* the process itself, outside a fault/syscall
				   we saw begin */
	MT_CAUSE_FAULT = 2,	/* a user page fault at addr, from ip */
	MT_CAUSE_SYSCALL = 3,	/* inside syscall nr (addr = its first arg) */
};

/* What a CHECKPOINT record saw the process read. */
enum mt_ckpt_kind {
	MT_CKPT_STATUS = 1,	/* /proc/{self,thread-self,PID}/status */
	MT_CKPT_STATM = 2,	/* .../statm */
	MT_CKPT_SMAPS_ROLLUP = 3,	/* .../smaps_rollup */
	MT_CKPT_GETRUSAGE = 4,	/* getrusage(2) */
};

/* Where a MARK record came from. */
enum mt_mark_kind {
	MT_MARK_FD = 1,		/* a write to the MEMTRACE_MARK_FD file */
	MT_MARK_USDT = 2,	/* the memtrace:mark USDT probe (mark.h) */
};

/* x86_64 syscall numbers of the calls we record or watch (MT_NR_READ...),
 * and their names for userspace to print: one list, in syscalls.h. */
#include "syscalls.h"

/* A mark's name: the first bytes written (or passed to the probe), cut
 * at this length; NUL-terminated only when shorter. */
#define MT_LABEL_LEN	40

struct mt_rec {
	__u32 type;		/* enum mt_rec_type */
	__u32 pid;		/* tgid that owns the mm (fork: the child) */
	__u32 tid;		/* task running when the record was made */
	__u32 cause;		/* enum mt_cause (RSS records) */
	__u64 ts_ns;		/* CLOCK_MONOTONIC */
	__s64 pages[MT_NR_MEMBERS];	/* exact counters after the event */
	__u64 total_vm;		/* VmSize in pages after the event */
	__u64 data_vm;		/* VmData in pages (private writable mappings,
				   not stacks) after the event */
	__s64 tree_pages;	/* file+anon+shmem summed over all traced mms */
	__u64 addr;		/* fault address, or syscall arg 0 */
	__u64 ip;		/* fault ip */
	__u64 len;		/* syscall arg 1 (length) */
	__s64 ret;		/* syscall result; exit: exit_code (wait status) */
	__u32 nr;		/* syscall number (SYSCALL, or RSS with cause SYSCALL) */
	__u32 ppid;		/* FORK/EXEC/ATTACH/EXIT: parent tgid */
	__u32 group;		/* the traced tree this record belongs to */
	__u32 folded;		/* RSS, of a kernel window (struct mt_win_out):
				   the window's changes; 0 otherwise */
	/* The tail is either a lifecycle record's or a mark's name: marks
	 * reuse it instead of making every record (one per fault) longer. */
	union {
		struct {
			char comm[MT_COMM_LEN];
			/* EXIT only: what the kernel kept for the process */
			__u64 peak_pages;
			__u64 peak_ts_ns;
			__u64 faults;
		};
		char label[MT_LABEL_LEN];	/* MARK */
		struct {			/* GUARD, ALERT */
			__s64 counted_pages;	/* the value that crossed */
			__u32 counted_flags;	/* enum mt_guard_flags */
		};
	};
};
/* No hole between fields (the __u32s come in pairs), so clang -target bpf
 * and the loader's compiler lay it out alike, and a multiple of 8 bytes, as
 * the ring buffer rounds records. An RSS record is written per fault: mind
 * its size before making it longer (README: Overhead). */
_Static_assert(sizeof(struct mt_rec) == 168, "struct mt_rec: 168 bytes, 8-byte aligned");

/* --resolution folded in the kernel (bpf/window.bpf.h): one process's
 * window as one ring record: its minimum, its maximum (each the first
 * change that reached it) and its last change, the first with `folded` =
 * the window's count of changes. Told from an mt_rec by its size. */
struct mt_win_out {
	struct mt_rec rec[3];
};

/* wins map: an mm's window being folded (key: mm pointer); the loader
 * reads the open ones at the end (BPF_F_LOCK). */
struct mt_win {
	struct bpf_spin_lock lock;
	__u32 n;		/* changes in the window (0: none held) */
	__u64 idx;		/* the window: ts / window_ns */
	struct bpf_timer timer;
	struct mt_win_out win;	/* minimum, maximum, last */
};

/* procs map: one entry per traced process alive (key: tgid); deleted when
 * the process exits, after its exit record carried the final state. */
enum mt_proc_flags {
	MT_PROC_PENDING_ATTACH = 1,	/* snapshot at the next iterator run */
	MT_PROC_PENDING_EXEC = 2,	/* launched child: trace from its exec */
	MT_PROC_EXITED = 4,
	MT_PROC_SHARED_MM = 16,		/* its mm is another traced process's
					   (vfork/posix_spawn child before exec) */
	MT_PROC_COUNTED = 32,		/* counted in its group's `live` */
	MT_PROC_REFUSED = 64,		/* attach snapshot: the target is not
					   its owned group's owner's (no mm) */
};

struct mt_proc {
	__u64 mm;		/* current mm (0 while pending) */
	__u64 peak_pages;	/* folded from mms no longer in use */
	__u64 peak_ts_ns;
	__u64 faults;		/* of threads that exited (and folded at the end) */
	__u64 exit_ts_ns;
	__s32 exit_code;
	__u32 ppid;
	__u32 flags;		/* enum mt_proc_flags */
	__u32 group;		/* inherited by followed children */
	__u32 mark_fd;		/* launch: MEMTRACE_MARK_FD + 1 (0: none);
				   inherited by followed children */
	char comm[MT_COMM_LEN];
	__u64 mark_file;	/* the struct file behind mark_fd at exec: a
				   write to any fd of it is a mark */
	__u64 out_file[2];	/* --checkpoint-regex: the files behind fds 1
				   and 2 at exec (our pipes), 0: not watched */
	__u32 log_capture;	/* launch with --checkpoint-regex: learn
				   out_file at exec */
	__u32 pad2;
};

/* exited map: a process's final state, from its exit until the loader has
 * its exit record (which may have been dropped). Key: tgid and exit time,
 * so a reused PID never collides. */
struct mt_exited_key {
	__u32 tgid;
	__u32 pad;
	__u64 exit_ts_ns;
};

/* mms map: one entry per traced address space (key: mm pointer). */
struct mt_mm {
	__u64 gen;		/* generation: detects a reused mm address */
	__u32 owner;		/* tgid the records are attributed to */
	__u32 users;		/* traced processes sharing it (CLONE_VM) */
	__u32 group;		/* the owner's */
	__u32 pad;
	__s64 pages[MT_NR_MEMBERS];
	__s64 rss;		/* file+anon+shmem, last value */
	__u64 peak_pages;
	__u64 peak_ts_ns;
	__s64 anon;		/* anon+shmem, last value (MT_GUARD_ANON) */
	__s64 count_seen[MT_NR_MEMBERS];	/* each counter's folded count when
						   pages[] was last summed whole */
	__s32 slot_idx;		/* its per-CPU slots in `slots` (-1: none:
				   every value a full sum) */
	__u32 pad2;
};

/* What each CPU's slot of an mm's counters held when last read (the
 * `slots` per-CPU array, at the mm's slot_idx). */
struct mt_slots {
	__s32 s[MT_NR_MEMBERS];
};

/* The cost of exactness, per CPU (summed by the loader). */
struct mt_cost {
	__u64 rss_events;	/* rss_stat runs on a traced mm */
	__u64 full_sums;	/* of those, values read from every CPU's slot */
};

/* Global counters in .bss, read by the loader. */
struct mt_counters {
	__u64 lost;		/* ring buffer full: record dropped */
	__u64 untraced;		/* a process we should follow could not be
				   added (procs/mms map full) */
	__u32 next_group;	/* capture mode: where the next search starts */
	__u32 capture_missed;	/* capture: no free group for a match */
};

/* A group's guard and alerts (--kill-at, --alert): written by whoever
 * takes the group before any process of it runs, then only by the
 * kernel. The thresholds are on the counted total: file+anon+shmem, or
 * anon+shmem with MT_GUARD_ANON (the memory reclaim cannot take back). */
#define MT_MAX_ALERTS 8
enum mt_guard_flags {
	MT_GUARD_ANON = 1,
};
struct mt_guard {
	__u64 watch_pages;	/* the lowest threshold still to cross (0: none):
				   the one compare on the hot path */
	__u64 kill_at_pages;	/* 0: no guard */
	__u64 alert_pages[MT_MAX_ALERTS];	/* ascending */
	__u32 nalerts;
	__u32 flags;		/* enum mt_guard_flags */
	__u32 signal;		/* sent to the process that crossed (9, 15) */
	__u32 fired;		/* the limit was crossed */
	__u32 alerts_fired;	/* bit i: alert i was crossed */
	__u32 signals_sent;	/* by the kernel, to processes of the group */
	__s64 anon_pages;	/* anon+shmem over the group's mms (MT_GUARD_ANON) */
	__u64 anon_peak_pages;
	__u64 anon_peak_ts_ns;
	/* the crossing, kept here even if its record is dropped */
	__u64 cross_ts_ns;
	__s64 cross_pages;	/* the counted total it made */
	__u32 cross_pid, cross_tid;
};

/* Per-group totals in .bss (groups[id % MT_MAX_GROUPS]), read by the
 * loader. A group is taken (busy) by whoever starts it: the loader for a
 * launch or a campaign run, the kernel for a captured process; it can be
 * taken again only once its taker gave it back (busy 0) and no process of
 * it is alive (live 0): a run's child that outlives it keeps its group
 * from being reused under a new run. Zeroed by the taker. */
struct mt_group {
	__s64 tree_pages;	/* file+anon+shmem summed over the group's mms */
	__u64 tree_peak_pages;	/* exact peak of that sum */
	__u64 tree_peak_ts_ns;
	__u64 lost;		/* the group's records dropped */
	/* The daemon's per-user ring share: with ring_cap set, at most that
	 * many of the group's records wait in the ring at once (pending:
	 * reserved by the kernel, not yet read by the loader); past it a
	 * record is lost as if the ring were full, and other users' records
	 * still find room. Next to tree_pages, which each change writes. */
	__s64 pending;
	__u64 ring_cap;		/* 0: no cap (root's runs) */
	__u32 busy;		/* taken (1) */
	__u32 live;		/* its processes alive (MT_PROC_COUNTED) */
	__u32 untraced;		/* its children that could not be traced */
	__u32 root_tgid;	/* capture: the process that started it */
	__u64 start_ts_ns;	/* capture: when it started */
	char comm[MT_COMM_LEN];	/* capture: its root's name */
	struct mt_guard guard;
	/* A group traced for an unprivileged user (the daemon's): with
	 * MT_GROUP_OWNED the kernel keeps it to that user's unprivileged
	 * processes (lifecycle.bpf.h: group_admits()). All 0 for root's
	 * runs. Set by the taker before any process of the group runs. */
	__u32 owner_uid, owner_gid;
	__u32 gflags;		/* enum mt_group_flags */
	__u32 left;		/* its processes that left it: LEAVE records,
				   and followed children not admitted */
	__u32 live_cap;		/* owned: children past this many alive are
				   not followed (counted untraced): the
				   daemon's --user-procs; 0: none */
	__u32 pad3;
};

enum mt_group_flags {
	MT_GROUP_OWNED = 1,	/* owner_uid/gid's: group_admits() applies */
	MT_GROUP_RELEASING = 4,	/* tracer__untrace() is emptying it: fork
				   and exec add nothing to it */
	MT_GROUP_NO_FOLLOW = 8,	/* its children are not followed (a daemon's
				   client said --no-follow; the tracer's
				   follow_children is every group's) */
};

/* Why a process left its owned group (MT_REC_LEAVE's ret): bits. */
enum mt_leave_why {
	MT_LEAVE_SECURE = 1,	/* its exec was set-id / AT_SECURE (bprm->secureexec) */
	MT_LEAVE_UID = 2,	/* a real, effective, saved or fs uid not the owner's */
	MT_LEAVE_GID = 4,	/* ... gid */
	MT_LEAVE_DUMPABLE = 8,	/* its new mm is not SUID_DUMP_USER */
};

#endif /* MEMTRACE_H */
