// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * memtrace-bpf kernel side: exact RSS of selected processes, event by event.
 *
 * Fields of BTF-typed pointers (tp_btf arguments, what they point to) are
 * read with plain loads: the verifier turns them into fault-safe PROBE_MEM
 * loads with CO-RE offsets, without the helper call BPF_CORE_READ makes.
 * These handlers run on every page fault of a traced process.
 *
 * State is keyed by address space (mm pointer), never by the current pid:
 * fork copies, exit, reclaim and khugepaged change a traced process's RSS
 * from another task's context. Every RSS record carries the exact counter
 * values after the change (not deltas), so a dropped record never skews
 * the records after it, and the peak is kept here, in kernel memory.
 *
 * One compilation unit: this file holds the settings, the state several
 * concerns share, and the sys_enter/sys_exit programs that dispatch each
 * syscall to the concern that watches it. Each concern is a header,
 * included below in dependency order:
 *   compat.bpf.h       kernel differences, the exact percpu_counter sum
 *   records.bpf.h      the ring buffer and filling records
 *   rss.bpf.h          mm tracking, peaks, rss_stat and page faults
 * (checkpoints, marks, capture and lifecycle are still below, for now)
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/usdt.bpf.h>
#include "memtrace.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader between open and load. */
const volatile __u32 nr_cpus = 1;		/* possible CPUs */
const volatile bool follow_children = false;
const volatile __u64 wakeup_bytes = 1 << 20;	/* wake the consumer past this */
/* Capture mode: a process that execs into this comm (and/or runs in this
 * cgroup or below it) starts a group of its own. Empty / 0: off. */
const volatile char capture_comm[MT_COMM_LEN] = {};
const volatile __u64 capture_cgroup_id = 0;
const volatile __u32 capture_cgroup_level = 0;

struct mt_counters counters = {};
struct mt_group groups[MT_MAX_GROUPS] = {};

static __always_inline struct mt_group *group_of(__u32 g)
{
	return &groups[g & (MT_MAX_GROUPS - 1)];
}

static __always_inline void untraced(__u32 group)
{
	__sync_fetch_and_add(&counters.untraced, 1);
	__sync_fetch_and_add(&group_of(group)->untraced, 1);
}

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);	/* resized by the loader */
	__type(key, __u32);
	__type(value, struct mt_proc);
} procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);	/* resized by the loader */
	__type(key, __u64);
	__type(value, struct mt_mm);
} mms SEC(".maps");

/*
 * What each thread of a traced process is doing: set on user page fault
 * and syscall entry, read by the rss_stat handler to say what caused a
 * change, and holding an mmap-family call's arguments until it returns.
 * Task-local: it follows the thread across preemption and migration (a
 * per-CPU slot lost the cause whenever a call slept or moved). Created for
 * every thread of a traced process (fork, exec, attach), so it also says
 * "this thread is traced": for the rest of the machine a fault or a
 * syscall costs one empty storage lookup, and for a traced thread a fault
 * is counted here without a shared atomic (folded into the process when
 * the thread exits, or by fold_faults at the end).
 */
struct task_ctx {
	__u32 cause;		/* enum mt_cause; SELF when idle */
	__u32 nr;		/* syscall in progress */
	__u64 addr;		/* fault address, or syscall arg 0 */
	__u64 ip;		/* fault ip */
	__u64 args[3];		/* arguments of a watched call in flight */
	__u32 watch;		/* enum watch: what sys_exit looks at */
	__u32 mark_lost;	/* the call in flight closes the marker fd */
	__u64 faults;		/* not yet folded into the process entry */
	char path[64];		/* open(): the path, to spot /proc/self/... */
};
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} tctx SEC(".maps");

/* Syscalls of a traced thread whose result sys_exit looks at. */
enum watch {
	W_NONE = 0,
	W_FAMILY,	/* mmap-family call: a SYSCALL record */
	W_OPEN,		/* open/openat: a /proc/self memory file? */
	W_READ,		/* read/pread64: of such a file? */
	W_REWIND,	/* lseek(fd, 0, SEEK_SET): the next read regenerates */
	W_GETRUSAGE,
	W_CLOSE,	/* close/dup2/dup3/close_range */
	W_OUTPUT,	/* write to the command's stdout/stderr pipe (args[2]) */
};

static __always_inline struct task_ctx *task_ctx_of(struct task_struct *t, bool create)
{
	return bpf_task_storage_get(&tctx, t, NULL,
				    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

/* An mm's address as a map key. The cast keeps the verifier's pointer
 * type on the stack slot; using it as key bytes is allowed with CAP_PERFMON
 * (allow_ptr_leaks). No global in between: globals are shared by CPUs. */
static __always_inline __u64 mm_key(struct mm_struct *mm)
{
	return (__u64)mm;
}

static __always_inline struct mt_mm *mm_entry_of(struct task_struct *t)
{
	__u64 key = mm_key(t->mm);

	return bpf_map_lookup_elem(&mms, &key);
}

/* The struct file behind fd in t's table, as a number (0: none). The
 * fdtable is RCU-managed; the reads are fault-safe probes, and a table
 * resized under us gives 0 or the same file. */
static __always_inline __u64 fd_file(struct task_struct *t, __u64 fd)
{
	struct files_struct *files = t->files;
	struct fdtable *fdt;
	__u64 arr = 0, f = 0;

	if (!files)
		return 0;
	fdt = files->fdt;
	if (!fdt || fd >= fdt->max_fds)
		return 0;
	if (bpf_probe_read_kernel(&arr, sizeof(arr), &fdt->fd) || !arr)
		return 0;
	if (bpf_probe_read_kernel(&f, sizeof(f), (void *)(arr + fd * sizeof(void *))))
		return 0;
	return f;
}

#include "compat.bpf.h"
#include "records.bpf.h"
#include "rss.bpf.h"

/*
 * Automatic checkpoints: the /proc files a process reads its own memory
 * figures from, by (tgid, fd). These are seq_files: the text is generated
 * by the first read at offset 0 (after open, an lseek to 0, or a pread at
 * 0) and later reads return the rest of that same text, so only that read
 * is a measurement. The mm is kept so an fd closed by exec (O_CLOEXEC,
 * no close() seen) and reused is not taken for the old file.
 */
struct ckfd_key {
	__u32 tgid;
	__s32 fd;
};
struct ckfd_val {
	__u64 mm;
	__u64 file, inode;	/* the struct file opened and its inode: an fd
				   number put on another file (dup2, dup3,
				   close_range then a new fd) is not this one
				   any more. Files are SLAB_TYPESAFE_BY_RCU, so
				   a new file can get the old one's address;
				   a non-/proc file cannot get a /proc inode's */
	__u32 kind;		/* enum mt_ckpt_kind */
	__u32 fresh;		/* the next read generates a new text */
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct ckfd_key);
	__type(value, struct ckfd_val);
} ckfds SEC(".maps");

static __always_inline __u64 file_inode_of(__u64 f)
{
	struct inode *ino = NULL;

	if (!f || bpf_probe_read_kernel(&ino, sizeof(ino),
					(void *)f + bpf_core_field_offset(struct file, f_inode)))
		return 0;
	return (__u64)ino;
}

/* Byte k of the path buffer equals c. */
#define PATH_IS(p, i, k, c) ((p)[((i) + (k)) & 63] == (c))

/* Which of its own memory files a /proc path names, 0 for any other path:
 * /proc/self/, /proc/thread-self/ or /proc/<its tgid>/, then status,
 * statm or smaps_rollup. Relative opens (openat on a /proc dirfd) are not
 * recognised. */
static __always_inline __u32 proc_self_kind(const char *p, __u32 tgid)
{
	__u32 n = 0, i;

	if (!(PATH_IS(p, 0, 0, '/') && PATH_IS(p, 0, 1, 'p') && PATH_IS(p, 0, 2, 'r') &&
	      PATH_IS(p, 0, 3, 'o') && PATH_IS(p, 0, 4, 'c') && PATH_IS(p, 0, 5, '/')))
		return 0;
	if (PATH_IS(p, 6, 0, 's') && PATH_IS(p, 6, 1, 'e') && PATH_IS(p, 6, 2, 'l') &&
	    PATH_IS(p, 6, 3, 'f') && PATH_IS(p, 6, 4, '/')) {
		i = 11;
	} else if (PATH_IS(p, 6, 0, 't') && PATH_IS(p, 6, 1, 'h') && PATH_IS(p, 6, 6, '-') &&
		   PATH_IS(p, 6, 7, 's') && PATH_IS(p, 6, 10, 'f') && PATH_IS(p, 6, 11, '/')) {
		i = 18;
	} else {
		for (i = 6; i < 17; i++) {
			char c = p[i & 63];

			if (c < '0' || c > '9')
				break;
			n = n * 10 + (__u32)(c - '0');
		}
		if (i == 6 || i == 17 || !PATH_IS(p, i, 0, '/') || n != tgid)
			return 0;
		i++;
	}
	if (PATH_IS(p, i, 0, 's') && PATH_IS(p, i, 1, 't') && PATH_IS(p, i, 2, 'a') &&
	    PATH_IS(p, i, 3, 't')) {
		if (PATH_IS(p, i, 4, 'u') && PATH_IS(p, i, 5, 's') && PATH_IS(p, i, 6, 0))
			return MT_CKPT_STATUS;
		if (PATH_IS(p, i, 4, 'm') && PATH_IS(p, i, 5, 0))
			return MT_CKPT_STATM;
		return 0;
	}
	if (PATH_IS(p, i, 0, 's') && PATH_IS(p, i, 1, 'm') && PATH_IS(p, i, 2, 'a') &&
	    PATH_IS(p, i, 3, 'p') && PATH_IS(p, i, 4, 's') && PATH_IS(p, i, 5, '_') &&
	    PATH_IS(p, i, 6, 'r') && PATH_IS(p, i, 11, 'p') && PATH_IS(p, i, 12, 0))
		return MT_CKPT_SMAPS_ROLLUP;
	return 0;
}

/* write(fd, buf, count) by a traced thread: a mark when fd refers to the
 * file memtrace-bpf opened as MEMTRACE_MARK_FD, whatever its number now (a
 * shell's `echo x >&$MEMTRACE_MARK_FD` writes through a dup on fd 1).
 * Stamped at entry: the instant the program asked. A write to the
 * stdout/stderr pipes (--checkpoint-regex) is only noted here. */
static __always_inline void mark_write(struct task_struct *cur, struct task_ctx *tc,
				       struct pt_regs *regs)
{
	__u32 tgid = cur->tgid, n;
	struct mt_proc *pr = bpf_map_lookup_elem(&procs, &tgid);
	struct mt_rec *r;
	__u64 count = regs->dx, f;

	if (!pr || !(pr->mark_file || pr->out_file[0] || pr->out_file[1]))
		return;
	f = fd_file(cur, regs->di);
	if (f && (f == pr->out_file[0] || f == pr->out_file[1])) {
		tc->watch = W_OUTPUT;
		tc->args[1] = regs->si;
		tc->args[2] = f == pr->out_file[1];
		return;
	}
	if (!f || f != pr->mark_file)
		return;
	r = rec_state(MT_REC_MARK, cur);
	if (!r)
		return;
	r->cause = MT_MARK_FD;
	r->nr = MT_NR_WRITE;
	r->addr = regs->di;
	r->len = count;
	/* 39 bytes, as a USDT name (read as a string, with its NUL) */
	n = count < MT_LABEL_LEN - 1 ? (__u32)count : MT_LABEL_LEN - 1;
	if (n > MT_LABEL_LEN - 1)
		n = MT_LABEL_LEN - 1;
	if (n && bpf_probe_read_user(r->label, n, (void *)regs->si))
		r->label[0] = 0;
	rec_submit(r);
}

/* close/dup2/dup3/close_range by a traced thread: does it close (or put
 * another file on) the advertised marker fd while it still holds the
 * marker file? Checked before the call, reported if the call succeeds. */
static __always_inline bool closes_mark_fd(struct task_struct *cur, long id,
					   struct pt_regs *regs)
{
	__u32 tgid = cur->tgid;
	struct mt_proc *pr = bpf_map_lookup_elem(&procs, &tgid);
	__u64 fd;

	if (!pr || !pr->mark_fd)
		return false;
	fd = pr->mark_fd - 1;
	switch (id) {
	case MT_NR_CLOSE:
		if (regs->di != fd)
			return false;
		break;
	case MT_NR_DUP2:
	case MT_NR_DUP3:
		if (regs->si != fd || regs->di == fd)
			return false;
		break;
	case MT_NR_CLOSE_RANGE:
		/* also with CLOSE_RANGE_CLOEXEC: gone at the next exec */
		if ((__u32)regs->di > fd || (__u32)regs->si < fd)
			return false;
		break;
	default:
		return false;
	}
	return pr->mark_file && fd_file(cur, fd) == pr->mark_file;
}

/* Filtered by syscall number here rather than attached to
 * syscalls:sys_enter_mmap & co: those are ftrace-synthetic events that
 * tp_btf cannot attach to, and tracefs may not be mounted. */
SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	/* every syscall on the machine passes here: one storage lookup,
	 * empty for threads of untraced processes */
	struct task_struct *cur = bpf_get_current_task_btf();
	struct task_ctx *tc = task_ctx_of(cur, false);

	if (!tc)
		return 0;
	tc->cause = MT_CAUSE_SYSCALL;
	tc->nr = (__u32)id;
	tc->addr = regs->di;
	tc->ip = 0;
	tc->watch = W_NONE;
	if (mm_family(id)) {
		family_enter(tc, regs);
		return 0;
	}
	switch (id) {
	case MT_NR_OPEN:
	case MT_NR_OPENAT:
		tc->watch = W_OPEN;
		tc->args[0] = id == MT_NR_OPEN ? regs->di : regs->si;
		break;
	case MT_NR_READ:
		tc->watch = W_READ;
		tc->args[1] = 0;
		break;
	case MT_NR_PREAD64:
		tc->watch = W_READ;
		tc->args[1] = regs->r10 == 0;	/* at offset 0: a new text */
		break;
	case MT_NR_LSEEK:
		if (regs->si == 0 && regs->dx == 0 /* SEEK_SET */)
			tc->watch = W_REWIND;
		break;
	case MT_NR_GETRUSAGE:
		tc->watch = W_GETRUSAGE;
		break;
	case MT_NR_CLOSE:
	case MT_NR_DUP2:
	case MT_NR_DUP3:
	case MT_NR_CLOSE_RANGE:
		tc->watch = W_CLOSE;
		tc->args[1] = regs->si;
		tc->mark_lost = closes_mark_fd(cur, id, regs);
		break;
	case MT_NR_WRITE:
		mark_write(cur, tc, regs);
		break;
	}
	return 0;
}

static __always_inline void on_open_exit(struct task_struct *cur, struct task_ctx *tc, long ret)
{
	struct ckfd_key k = { .tgid = cur->tgid, .fd = (__s32)ret };
	struct ckfd_val v = {};

	if (ret < 0)
		return;
	__builtin_memset(tc->path, 0, sizeof(tc->path));
	if (bpf_probe_read_user_str(tc->path, sizeof(tc->path), (void *)tc->args[0]) <= 0)
		return;
	v.kind = proc_self_kind(tc->path, k.tgid);
	if (!v.kind) {
		/* an fd number we knew, closed unseen (exec) and reused */
		bpf_map_delete_elem(&ckfds, &k);
		return;
	}
	v.mm = mm_key(cur->mm);
	v.file = fd_file(cur, (__u64)ret);
	v.inode = file_inode_of(v.file);
	v.fresh = 1;
	bpf_map_update_elem(&ckfds, &k, &v, BPF_ANY);
}

static __always_inline void on_read_exit(struct task_struct *cur, struct task_ctx *tc, long ret)
{
	struct ckfd_key k = { .tgid = cur->tgid, .fd = (__s32)tc->addr };
	struct ckfd_val *v;
	struct mt_rec *r;
	__u64 f;

	if (ret <= 0)
		return;
	v = bpf_map_lookup_elem(&ckfds, &k);
	if (!v || v->mm != mm_key(cur->mm) || !(v->fresh || tc->args[1]))
		return;
	/* close_range (no per-fd close seen) and a new file on the number */
	f = fd_file(cur, (__u64)k.fd);
	if (f != v->file || file_inode_of(f) != v->inode) {
		bpf_map_delete_elem(&ckfds, &k);
		return;
	}
	v->fresh = 0;
	r = rec_state(MT_REC_CHECKPOINT, cur);
	if (!r)
		return;
	r->cause = v->kind;
	r->nr = tc->nr;
	r->addr = tc->addr;
	r->ret = ret;
	rec_submit(r);
}

static __always_inline void on_close_exit(struct task_struct *cur, struct task_ctx *tc, long ret)
{
	__u32 tgid = cur->tgid;
	struct mt_proc *pr;
	struct mt_rec *r;

	if (ret < 0)
		return;
	if (tc->nr == MT_NR_CLOSE) {
		struct ckfd_key k = { .tgid = tgid, .fd = (__s32)tc->addr };

		bpf_map_delete_elem(&ckfds, &k);
	} else if (tc->nr == MT_NR_DUP2 || tc->nr == MT_NR_DUP3) {
		/* newfd now holds another file */
		struct ckfd_key k = { .tgid = tgid, .fd = (__s32)tc->args[1] };

		bpf_map_delete_elem(&ckfds, &k);
	}
	if (!tc->mark_lost)
		return;
	tc->mark_lost = 0;
	pr = bpf_map_lookup_elem(&procs, &tgid);
	if (!pr || !pr->mark_fd)
		return;
	r = rec_state(MT_REC_MARK_FD_LOST, cur);
	if (r) {
		/* the process that closed it: a vfork/posix_spawn child
		 * closing its inherited fds (close_fds, close_range) borrows
		 * its parent's mm, whose owner rec_state names */
		r->pid = tgid;
		r->nr = tc->nr;
		r->addr = pr->mark_fd - 1;
		r->len = tc->args[1];
		r->ret = ret;
		rec_submit(r);
	}
	/* writes through other fds of the marker file still count */
	pr->mark_fd = 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	struct task_ctx *tc = task_ctx_of(cur, false);
	struct mt_rec *r;
	__u32 watch;

	if (!tc)
		return 0;
	tc->cause = MT_CAUSE_SELF;
	watch = tc->watch;
	if (watch == W_NONE || regs->orig_ax != tc->nr)
		return 0;
	tc->watch = W_NONE;
	switch (watch) {
	case W_FAMILY:
		break;	/* the SYSCALL record, after the switch */
	case W_OPEN:
		on_open_exit(cur, tc, ret);
		return 0;
	case W_READ:
		on_read_exit(cur, tc, ret);
		return 0;
	case W_REWIND:
		if (ret == 0) {
			struct ckfd_key k = { .tgid = cur->tgid, .fd = (__s32)tc->addr };
			struct ckfd_val *v = bpf_map_lookup_elem(&ckfds, &k);

			if (v)
				v->fresh = 1;
		}
		return 0;
	case W_GETRUSAGE:
		/* RUSAGE_CHILDREN (-1) reads the reaped children's figures,
		 * not the caller's: no checkpoint of the caller */
		if (ret == 0 && (int)tc->addr != -1 &&
		    (r = rec_state(MT_REC_CHECKPOINT, cur))) {
			r->cause = MT_CKPT_GETRUSAGE;
			r->nr = tc->nr;
			r->addr = tc->addr;	/* who: 0 self, 1 thread */
			rec_submit(r);
		}
		return 0;
	case W_CLOSE:
		on_close_exit(cur, tc, ret);
		return 0;
	case W_OUTPUT:
		/* stamped when the bytes are in the pipe and the program has
		 * not yet gone on: its log line is timed between its last
		 * measurement and its next, whenever we read the pipe */
		if (ret > 0 && (r = rec_state(MT_REC_OUTPUT, cur))) {
			__u32 n = ret < MT_LABEL_LEN ? (__u32)ret : MT_LABEL_LEN;

			if (n > MT_LABEL_LEN)
				n = MT_LABEL_LEN;
			r->cause = (__u32)tc->args[2];
			r->len = (__u64)ret;
			if (n && bpf_probe_read_user(r->label, n, (void *)tc->args[1]))
				r->len |= 1ULL << 63;	/* start unknown: no check */
			rec_submit(r);
		}
		return 0;
	default:
		return 0;
	}
	family_exit(cur, tc, ret);	/* W_FAMILY */
	return 0;
}

/* MEMTRACE_MARK(name) in a C/C++ program (user/memtrace/mark.h): the
 * memtrace:mark USDT probe, attached by the loader to the launched binary
 * for every process (pid -1); only threads of traced processes record. */
SEC("usdt")
int BPF_USDT(on_usdt_mark, const char *name)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	struct mt_rec *r;

	if (!task_ctx_of(cur, false))
		return 0;
	r = rec_state(MT_REC_MARK, cur);
	if (!r)
		return 0;
	r->cause = MT_MARK_USDT;
	/* no page fault can be taken here: mark.h reads the name's first
	 * byte before the probe, so its page is in */
	if (bpf_probe_read_user_str(r->label, MT_LABEL_LEN, name) < 0)
		r->label[0] = 0;
	rec_submit(r);
	return 0;
}

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);	/* resized by the loader */
	__type(key, struct mt_exited_key);
	__type(value, struct mt_proc);
} exited SEC(".maps");

/* A process of the group now has an mm registered: it counts as alive in
 * it until its exit (once, however it got there). */
static __always_inline void group_count(struct mt_proc *pr)
{
	if (!(pr->flags & MT_PROC_COUNTED)) {
		pr->flags |= MT_PROC_COUNTED;
		__sync_fetch_and_add(&group_of(pr->group)->live, 1);
	}
}

static __always_inline void rec_lifecycle(__u32 type, struct task_struct *p,
					  struct mt_proc *pr, struct mt_mm *e,
					  struct mm_struct *mm, __u64 ts)
{
	struct mt_rec *r = rec_reserve(type, p->tgid, pr->group, ts);

	if (!r)
		return;
	if (e)
		rec_fill_mm(r, e, mm);
	/* "after the event": an exiting process's memory leaves the total */
	if (type == MT_REC_EXIT && e && e->users == 1)
		r->tree_pages -= e->rss;
	r->ppid = pr->ppid;
	__builtin_memcpy(r->comm, pr->comm, sizeof(r->comm));
	if (type == MT_REC_EXIT) {
		/* what mm_release() is about to fold into the process entry */
		r->ret = pr->exit_code;
		r->peak_pages = pr->peak_pages;
		r->peak_ts_ns = pr->peak_ts_ns;
		r->faults = pr->faults;
		if (e && !(pr->flags & MT_PROC_SHARED_MM)) {
			if (e->peak_pages > r->peak_pages) {
				r->peak_pages = e->peak_pages;
				r->peak_ts_ns = e->peak_ts_ns;
			}
		}
	}
	rec_submit(r);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid, ctgid = child->tgid;
	struct mt_proc *pp, cp = {};
	struct mm_struct *mm;
	struct mt_mm *e;
	__u64 ts;

	if (child->pid != ctgid) {
		/* a new thread of a traced process (also while an attach is
		 * pending): it shares the mm and needs its own context */
		if (bpf_map_lookup_elem(&procs, &ctgid))
			task_ctx_of(child, true);
		return 0;
	}
	if (!follow_children)
		return 0;
	pp = bpf_map_lookup_elem(&procs, &ptgid);
	if (!pp || (pp->flags & (MT_PROC_PENDING_EXEC | MT_PROC_PENDING_ATTACH | MT_PROC_EXITED)))
		return 0;
	mm = child->mm;
	if (!mm)
		return 0;
	ts = bpf_ktime_get_ns();
	/* Without CLONE_VM, dup_mm() copied the parent's pages into a new mm
	 * before this tracepoint, raising rss_stat on an mm we did not know:
	 * the snapshot taken here counts them all. With CLONE_VM (vfork,
	 * posix_spawn) the mm is shared and stays attributed to its owner. */
	e = mm_track(mm, ctgid, pp->group, ts);
	if (!e)
		return 0;
	task_ctx_of(child, true);
	cp.mm = mm_key(mm);
	cp.ppid = ptgid;
	cp.group = pp->group;
	/* fork copies (or shares) the fd table: same marker file, same fd */
	cp.mark_fd = pp->mark_fd;
	cp.mark_file = pp->mark_file;
	cp.out_file[0] = pp->out_file[0];
	cp.out_file[1] = pp->out_file[1];
	if (e->owner != ctgid)
		cp.flags |= MT_PROC_SHARED_MM;
	cp.flags |= MT_PROC_COUNTED;
	bpf_probe_read_kernel_str(cp.comm, sizeof(cp.comm), child->comm);
	if (bpf_map_update_elem(&procs, &ctgid, &cp, BPF_NOEXIST)) {
		untraced(cp.group);
		mm_release(&cp, cp.mm, ts);
		return 0;
	}
	__sync_fetch_and_add(&group_of(cp.group)->live, 1);
	rec_lifecycle(MT_REC_FORK, child, &cp, e, mm, ts);
	return 0;
}

/* Capture mode: does the process that just exec'd match? */
static __always_inline bool capture_match(struct task_struct *p)
{
	if (!capture_comm[0] && !capture_cgroup_id)
		return false;
	if (capture_comm[0]) {
		char comm[MT_COMM_LEN];
		int i;

		bpf_probe_read_kernel_str(comm, sizeof(comm), p->comm);
		for (i = 0; i < MT_COMM_LEN; i++) {
			if (comm[i] != capture_comm[i])
				return false;
			if (!comm[i])
				break;
		}
	}
	/* current is p here; its ancestor at the target's level is the
	 * target itself when p runs in it or in a cgroup below it (v2) */
	if (capture_cgroup_id &&
	    bpf_get_current_ancestor_cgroup_id(capture_cgroup_level) != capture_cgroup_id)
		return false;
	return true;
}

/* A matching process not traced yet becomes a new group: its exec record
 * is the loader's cue to open a trace for it. */
static __always_inline struct mt_proc *capture_start(struct task_struct *p, __u32 tgid)
{
	struct mt_proc np = {};
	struct mt_group *gr = NULL;
	__u32 start, g = 0, i;
	__u64 ts;

	if (!capture_match(p))
		return NULL;
	/* a free group: given back by the loader and without live processes
	 * (a bounded search; the loader gives groups back as runs end) */
	start = __sync_fetch_and_add(&counters.next_group, 1);
	for (i = 0; i < 64; i++) {
		/* the compiler knows g < MT_MAX_GROUPS and drops group_of()'s
		 * mask; the verifier cannot bound a modulo and needs it */
		__u32 idx = (start + i) % (MT_MAX_GROUPS - 1) + 1;

		asm volatile("" : "+r"(idx));
		gr = group_of(idx);
		if (!gr->busy && !gr->live && !__sync_val_compare_and_swap(&gr->busy, 0, 1)) {
			g = idx;
			break;
		}
	}
	if (!g || !gr) {
		__sync_fetch_and_add(&counters.capture_missed, 1);
		return NULL;
	}
	ts = bpf_ktime_get_ns();
	gr->tree_pages = 0;
	gr->tree_peak_pages = 0;
	gr->tree_peak_ts_ns = 0;
	gr->lost = 0;
	gr->untraced = 0;
	gr->root_tgid = tgid;
	gr->start_ts_ns = ts;
	bpf_probe_read_kernel_str(gr->comm, sizeof(gr->comm), p->comm);
	/* alive from now: a loader that sees the group before the exec
	 * record must not take it for ended */
	gr->live = 1;
	np.flags = MT_PROC_COUNTED;
	np.group = g;
	np.ppid = p->real_parent->tgid;
	if (bpf_map_update_elem(&procs, &tgid, &np, BPF_NOEXIST)) {
		__sync_fetch_and_add(&counters.capture_missed, 1);
		gr->live = 0;
		gr->busy = 0;
		return NULL;
	}
	return bpf_map_lookup_elem(&procs, &tgid);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = p->tgid;
	struct mm_struct *mm = p->mm;
	struct mt_proc *pr;
	struct mt_mm *e;
	__u64 ts;

	pr = bpf_map_lookup_elem(&procs, &tgid);
	if (!pr)
		pr = capture_start(p, tgid);
	if (!pr || !mm || (pr->flags & MT_PROC_EXITED))
		return 0;
	ts = bpf_ktime_get_ns();
	/* exec_mmap() installed a new mm; the old one is released (its
	 * teardown, if it was the last user, is already in the trace) */
	if (pr->mm && pr->mm != mm_key(mm))
		mm_release(pr, pr->mm, ts);
	e = mm_track(mm, tgid, pr->group, ts);
	if (!e)
		return 0;
	task_ctx_of(p, true);
	pr->mm = mm_key(mm);
	group_count(pr);
	/* launch: the marker fd the loader opened for the command (not
	 * O_CLOEXEC, so it survived); remember which file it is */
	if (pr->mark_fd && !pr->mark_file)
		pr->mark_file = fd_file(p, pr->mark_fd - 1);
	if (pr->log_capture && !pr->out_file[0]) {
		pr->out_file[0] = fd_file(p, 1);
		pr->out_file[1] = fd_file(p, 2);
	}
	/* an exec while an attach is pending registers the new mm: the
	 * iterator must not take a second reference */
	pr->flags &= ~(MT_PROC_PENDING_EXEC | MT_PROC_PENDING_ATTACH);
	bpf_probe_read_kernel_str(pr->comm, sizeof(pr->comm), p->comm);
	if (!pr->ppid)
		pr->ppid = p->real_parent->tgid;
	rec_lifecycle(MT_REC_EXEC, p, pr, e, mm, ts);
	return 0;
}

/* A thread's fault count joins its process's. */
static __always_inline void fold_faults_of(struct task_struct *t, struct mt_proc *pr)
{
	struct task_ctx *tc = task_ctx_of(t, false);

	if (tc && tc->faults) {
		__sync_fetch_and_add(&pr->faults, tc->faults);
		tc->faults = 0;
	}
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p)
{
	__u32 tgid = p->tgid;
	struct mt_proc *pr;
	struct mt_mm *e;
	__u64 ts, key;

	pr = bpf_map_lookup_elem(&procs, &tgid);
	if (!pr)
		return 0;
	fold_faults_of(p, pr);
	if (!task_group_dead(p))
		return 0;	/* other threads still run */
	/* claim the exit once, even if two threads see the group dead */
	if (__sync_fetch_and_or(&pr->flags, MT_PROC_EXITED) & MT_PROC_EXITED)
		return 0;
	ts = bpf_ktime_get_ns();
	key = pr->mm;
	e = key ? bpf_map_lookup_elem(&mms, &key) : NULL;
	/* From 6.16 this fires before exit_mm(): the record carries the RSS
	 * the process held when it died; the teardown that follows is not
	 * traced (the mm is forgotten here). Before 6.16 it fired after
	 * exit_mm(), so the teardown shows as rss records first. */
	pr->exit_code = p->exit_code;
	pr->exit_ts_ns = ts;
	rec_lifecycle(MT_REC_EXIT, p, pr, e, p->mm, ts);
	if (e)
		mm_release(pr, key, ts);
	if (pr->flags & MT_PROC_COUNTED)
		__sync_fetch_and_sub(&group_of(pr->group)->live, 1);
	/* The entry goes, so the PID can be reused by an unrelated process
	 * without it being traced, and --max-procs counts processes alive. The
	 * final state (peak, faults, status) is kept in `exited` until the
	 * loader has the exit record: it survives a dropped record. */
	{
		struct mt_exited_key k = { .tgid = tgid, .exit_ts_ns = ts };

		bpf_map_update_elem(&exited, &k, pr, BPF_ANY);
	}
	bpf_map_delete_elem(&procs, &tgid);
	return 0;
}

/*
 * Attach mode: the loader marks targets MT_PROC_PENDING_ATTACH in procs and
 * runs this iterator once, after every tracepoint is attached. Each target
 * gets an exact snapshot of its current state, so the timeline starts from
 * the truth rather than from zero.
 */
SEC("iter/task")
int snapshot_targets(struct bpf_iter__task *ctx)
{
	struct task_struct *t = ctx->task;
	struct mm_struct *mm;
	struct mt_proc *pr;
	struct mt_mm *e;
	__u32 tgid;
	__u64 ts;

	if (!t)
		return 0;
	tgid = t->tgid;
	pr = bpf_map_lookup_elem(&procs, &tgid);
	if (!pr)
		return 0;
	/* every thread of a target gets its context (leader or not, in
	 * whatever order the iterator visits them) */
	task_ctx_of(t, true);
	/* Not yet registered: from the leader, or from any live thread when the
	 * leader has exited (pthread_exit in main). An exec since the loader
	 * asked has registered it already (and cleared the flag). */
	if (!(pr->flags & MT_PROC_PENDING_ATTACH) || pr->mm)
		return 0;
	mm = t->mm;
	if (!mm)
		return 0;	/* exiting, or a kernel thread: pr->mm stays 0 */
	pr->flags &= ~MT_PROC_PENDING_ATTACH;
	ts = bpf_ktime_get_ns();
	e = mm_track(mm, tgid, pr->group, ts);
	if (!e)
		return 0;
	pr->mm = mm_key(mm);
	group_count(pr);
	pr->ppid = t->real_parent->tgid;
	bpf_probe_read_kernel_str(pr->comm, sizeof(pr->comm), t->group_leader->comm);
	rec_lifecycle(MT_REC_ATTACH, t, pr, e, mm, ts);
	return 0;
}

/* The loader runs this at the end: fault counts of threads still alive. */
SEC("iter/task")
int fold_faults(struct bpf_iter__task *ctx)
{
	struct task_struct *t = ctx->task;
	struct mt_proc *pr;
	__u32 tgid;

	if (!t)
		return 0;
	tgid = t->tgid;
	pr = bpf_map_lookup_elem(&procs, &tgid);
	if (pr)
		fold_faults_of(t, pr);
	return 0;
}
