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
 *   checkpoints.bpf.h  /proc/self/status & co. reads, getrusage
 *   marks.bpf.h        marker fd writes and loss, the USDT mark, output
 * (capture and lifecycle are still below, for now)
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
#include "checkpoints.bpf.h"
#include "marks.bpf.h"

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

/* Process lifecycle: fork, exec, exit, the attach and fold iterators. */
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
	marks_fork(&cp, pp);
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
	marks_exec(p, pr);
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

/* When this fires relative to exit_mm(), and why the group is dead: see
 * compat.bpf.h. */
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
	pr->exit_code = p->exit_code;
	pr->exit_ts_ns = ts;
	/* the RSS it died with (from 6.16), then the mm is forgotten */
	rec_lifecycle(MT_REC_EXIT, p, pr, e, exit_tp_mm(p), ts);
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

/* Filtered by syscall number (why not syscalls:sys_enter_mmap & co:
 * compat.bpf.h); each case hands the call to the concern that watches it,
 * and sys_exit hands it the result. */
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
		ckpt_open_enter(tc, id, regs);
		break;
	case MT_NR_READ:
		ckpt_read_enter(tc);
		break;
	case MT_NR_PREAD64:
		ckpt_pread_enter(tc, regs);
		break;
	case MT_NR_LSEEK:
		ckpt_lseek_enter(tc, regs);
		break;
	case MT_NR_GETRUSAGE:
		ckpt_getrusage_enter(tc);
		break;
	case MT_NR_CLOSE:
	case MT_NR_DUP2:
	case MT_NR_DUP3:
	case MT_NR_CLOSE_RANGE:
		/* checkpoints forget the fd (dup2/dup3: newfd, args[1]),
		 * marks see the marker fd go */
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

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	struct task_ctx *tc = task_ctx_of(cur, false);
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
		ckpt_open_exit(cur, tc, ret);
		return 0;
	case W_READ:
		ckpt_read_exit(cur, tc, ret);
		return 0;
	case W_REWIND:
		ckpt_rewind_exit(cur, tc, ret);
		return 0;
	case W_GETRUSAGE:
		ckpt_getrusage_exit(cur, tc, ret);
		return 0;
	case W_CLOSE: {
		/* read once for both, and the procs key mark_close_exit uses */
		__u32 tgid = cur->tgid;

		ckpt_close_exit(tc, tgid, ret);
		mark_close_exit(cur, tc, &tgid, ret);
		return 0;
	}
	case W_OUTPUT:
		output_exit(cur, tc, ret);
		return 0;
	default:
		return 0;
	}
	family_exit(cur, tc, ret);	/* W_FAMILY */
	return 0;
}
