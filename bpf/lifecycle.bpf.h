/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Process lifecycle: which processes are traced and with which mm. Fork
 * (followed children, new threads), exec (a new mm; capture's start),
 * exit (the final state, kept in `exited` until the loader has it), the
 * attach snapshot and fault-folding iterators, and the FORK/EXEC/EXIT/
 * ATTACH records.
 * Relies on compat.bpf.h (task_group_dead(), exit_tp_mm()), records.bpf.h,
 * guard.bpf.h (guard_watch()), rss.bpf.h (mm_track(), mm_release()), marks.bpf.h (marks_exec(),
 * marks_fork()), capture.bpf.h (capture_start()) and memtrace.bpf.c's
 * shared state (follow_children, procs, mms, tctx, group_of(), untraced(),
 * mm_key()).
 */
#ifndef MEMTRACE_LIFECYCLE_BPF_H
#define MEMTRACE_LIFECYCLE_BPF_H

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
					  struct mm_struct *mm, __u64 ts,
					  const struct mm_snap *snap)
{
	struct mt_rec *r = rec_reserve(type, p->tgid, pr->group, ts);

	if (!r)
		return;
	if (snap && snap->fresh) {
		/* the counters and the total of one instant */
		__builtin_memcpy(r->pages, snap->pages, sizeof(r->pages));
		r->total_vm = mm->total_vm;
		r->data_vm = mm->data_vm;
		r->tree_pages = snap->tree;
	} else if (e) {
		rec_fill_mm(r, e, mm);
	}
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

/* A new mm (fork, exec, attach) raised its group's total: past a guard
 * or alert threshold? Checked after the record that starts it. */
static __always_inline void lifecycle_guard(__u32 g, const struct mm_snap *snap,
					    struct mt_mm *e, struct mm_struct *mm, __u64 ts)
{
	__s64 anon = snap->pages[MT_ANON] + snap->pages[MT_SHMEM];
	__s64 added = group_of(g)->guard.flags & MT_GUARD_ANON ? anon : anon + snap->pages[MT_FILE];
	__s64 v = guard_counted(g, snap->tree, snap->anon);

	if (snap->fresh)
		guard_watch(g, v, v - added, e, mm, ts);
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

/*
 * A group owned by a user (the daemon's, MT_GROUP_OWNED) holds only that
 * user's unprivileged processes: what ptrace would let the user read.
 * Returns why p may not be in group g (enum mt_leave_why bits), 0 when it
 * may; 0 at once for root's groups (one load).
 *
 * The objective credentials, p->real_cred (ptrace's __task_cred), not
 * p->cred, which override_creds() changes for a while. At exec
 * (sched_process_exec, bprm given) begin_new_exec() has committed the new
 * credentials already, and bprm->secureexec is what becomes AT_SECURE
 * (a set-id file, file capabilities, an LSM's secure transition). The mm's
 * dumpable state (compat.bpf.h: mm_dumpable()) is what begin_new_exec()
 * decided from those ids and an unreadable binary, and what a process set
 * with prctl(PR_SET_DUMPABLE); checked wherever p has an mm, as ptrace
 * does. Under no_new_privs set-id bits are ignored: nothing changes and
 * the process rightly stays.
 */
static __always_inline __u32 group_admits(struct task_struct *p, __u32 g,
					   struct linux_binprm *bprm)
{
	struct mt_group *gr = group_of(g);
	const struct cred *rc;
	struct mm_struct *mm;
	__u32 uid, gid, why = 0;

	if (!(gr->gflags & MT_GROUP_OWNED))
		return 0;
	uid = gr->owner_uid;
	gid = gr->owner_gid;
	rc = p->real_cred;
	if (rc->uid.val != uid || rc->euid.val != uid || rc->suid.val != uid ||
	    rc->fsuid.val != uid)
		why |= MT_LEAVE_UID;
	if (rc->gid.val != gid || rc->egid.val != gid || rc->sgid.val != gid ||
	    rc->fsgid.val != gid)
		why |= MT_LEAVE_GID;
	if (bprm && BPF_CORE_READ_BITFIELD(bprm, secureexec))
		why |= MT_LEAVE_SECURE;
	mm = p->mm;
	if (mm && mm_dumpable(mm) != MT_SUID_DUMP_USER)
		why |= MT_LEAVE_DUMPABLE;
	return why;
}

/* p stops being traced, quietly (no record): its mm released, its
 * entry and its thread's context gone, its group's live count down. The
 * caller holds pr, p's procs entry, claimed (no other path frees it). */
static __always_inline void untrace_proc(struct task_struct *p, struct mt_proc *pr, __u32 tgid,
					 __u64 ts)
{
	if (pr->mm)
		mm_release(pr, pr->mm, ts);
	if (pr->flags & MT_PROC_COUNTED)
		__sync_fetch_and_sub(&group_of(pr->group)->live, 1);
	bpf_task_storage_delete(&tctx, p);
	bpf_map_delete_elem(&procs, &tgid);
}

/* A traced process of an owned group exec'd into something its owner may
 * not trace (group_admits(): why): it leaves the group. Its LEAVE record
 * carries the old mm's last counters (that mm is gone, so no VmSize) and
 * the new name; nothing of it is recorded after, and no `exited` entry is
 * kept: it did not exit. One thread is left after de_thread(). */
static __always_inline void leave(struct task_struct *p, struct mt_proc *pr, __u32 tgid,
				  __u32 why, __u64 ts)
{
	__u32 g = pr->group;
	__u64 key = pr->mm;
	struct mt_mm *e = key ? bpf_map_lookup_elem(&mms, &key) : NULL;
	struct mt_rec *r = rec_reserve(MT_REC_LEAVE, tgid, g, ts);

	fold_faults_of(p, pr);
	if (r) {
		/* what it ends with, as an exit record: a vfork child's old mm
		 * was its parent's, not its pages nor its peak */
		r->peak_pages = pr->peak_pages;
		r->peak_ts_ns = pr->peak_ts_ns;
		r->faults = pr->faults;
		if (e && !(pr->flags & MT_PROC_SHARED_MM)) {
			r->pages[MT_FILE] = e->pages[MT_FILE];
			r->pages[MT_ANON] = e->pages[MT_ANON];
			r->pages[MT_SWAP] = e->pages[MT_SWAP];
			r->pages[MT_SHMEM] = e->pages[MT_SHMEM];
			if (e->peak_pages > r->peak_pages) {
				r->peak_pages = e->peak_pages;
				r->peak_ts_ns = e->peak_ts_ns;
			}
		}
		r->ppid = pr->ppid ? pr->ppid : p->real_parent->tgid;
		r->ret = why;
		bpf_probe_read_kernel_str(r->comm, sizeof(r->comm), p->comm);
	}
	untrace_proc(p, pr, tgid, ts);
	__sync_fetch_and_add(&group_of(g)->left, 1);
	if (r) {
		/* "after the event": its memory has left the total */
		r->tree_pages = group_of(g)->tree_pages;
		rec_submit(r);
	}
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid, ctgid = child->tgid;
	struct mt_proc *pp, cp = {};
	struct mm_snap snap;
	struct mm_struct *mm;
	struct mt_mm *e;
	__u64 ts;

	if (child->pid != ctgid) {
		/* a new thread of a traced process (also while an attach is
		 * pending): it shares the mm and needs its own context */
		pp = bpf_map_lookup_elem(&procs, &ctgid);
		if (pp && !(pp->flags & MT_PROC_REFUSED))
			task_ctx_of(child, true);
		return 0;
	}
	if (!follow_children)
		return 0;
	pp = bpf_map_lookup_elem(&procs, &ptgid);
	if (!pp || (pp->flags & (MT_PROC_PENDING_EXEC | MT_PROC_PENDING_ATTACH | MT_PROC_EXITED |
				 MT_PROC_REFUSED)))
		return 0;
	mm = child->mm;
	if (!mm)
		return 0;
	/* copy_creds() gave the child its parent's credentials, so this
	 * refuses only what changed them meanwhile (a parent that switched
	 * its uid without exec); a group being untraced takes no child */
	if (group_of(pp->group)->gflags) {
		if (group_of(pp->group)->gflags & (MT_GROUP_RELEASING | MT_GROUP_NO_FOLLOW))
			return 0;
		if (group_admits(child, pp->group, NULL)) {
			untraced(pp->group);
			__sync_fetch_and_add(&group_of(pp->group)->left, 1);
			return 0;
		}
		/* one user's share of procs: a fork bomb fills its own */
		if (group_of(pp->group)->live_cap &&
		    group_of(pp->group)->live >= group_of(pp->group)->live_cap) {
			untraced(pp->group);
			return 0;
		}
	}
	ts = bpf_ktime_get_ns();
	/* Without CLONE_VM, dup_mm() copied the parent's pages into a new mm
	 * before this tracepoint, raising rss_stat on an mm we did not know:
	 * the snapshot taken here counts them all. With CLONE_VM (vfork,
	 * posix_spawn) the mm is shared and stays attributed to its owner. */
	e = mm_track(mm, ctgid, pp->group, ts, &snap);
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
	rec_lifecycle(MT_REC_FORK, child, &cp, e, mm, ts, &snap);
	lifecycle_guard(cp.group, &snap, e, mm, ts);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = p->tgid;
	struct mm_struct *mm = p->mm;
	struct mm_snap snap;
	struct mt_proc *pr;
	struct mt_mm *e;
	__u64 ts;

	pr = bpf_map_lookup_elem(&procs, &tgid);
	if (!pr)
		pr = capture_start(p, tgid);
	if (!pr || !mm || (pr->flags & (MT_PROC_EXITED | MT_PROC_REFUSED)))
		return 0;
	ts = bpf_ktime_get_ns();
	/* an owned group keeps only its owner's unprivileged processes: a
	 * set-id exec (also a launched child's first) leaves it; a group being
	 * untraced lets its processes go */
	if (group_of(pr->group)->gflags) {
		__u32 why;

		if (group_of(pr->group)->gflags & MT_GROUP_RELEASING) {
			if (!(__sync_fetch_and_or(&pr->flags, MT_PROC_EXITED) & MT_PROC_EXITED))
				untrace_proc(p, pr, tgid, ts);
			return 0;
		}
		why = group_admits(p, pr->group, bprm);
		if (why) {
			if (!(__sync_fetch_and_or(&pr->flags, MT_PROC_EXITED) & MT_PROC_EXITED))
				leave(p, pr, tgid, why, ts);
			return 0;
		}
	}
	/* exec_mmap() installed a new mm; the old one is released (its
	 * teardown, if it was the last user, is already in the trace) */
	if (pr->mm && pr->mm != mm_key(mm))
		mm_release(pr, pr->mm, ts);
	e = mm_track(mm, tgid, pr->group, ts, &snap);
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
	rec_lifecycle(MT_REC_EXEC, p, pr, e, mm, ts, &snap);
	lifecycle_guard(pr->group, &snap, e, mm, ts);
	return 0;
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
	if (pr->flags & MT_PROC_REFUSED) {
		/* another user's process the attach refused: nothing of it,
		 * not even its exit, reaches the owner's trace */
		if (task_group_dead(p))
			bpf_map_delete_elem(&procs, &tgid);
		return 0;
	}
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
	rec_lifecycle(MT_REC_EXIT, p, pr, e, exit_tp_mm(p), ts, NULL);
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
	struct mm_snap snap;
	struct mm_struct *mm;
	struct mt_proc *pr;
	struct mt_mm *e;
	__u32 tgid;
	__u64 ts;

	if (!t)
		return 0;
	tgid = t->tgid;
	pr = bpf_map_lookup_elem(&procs, &tgid);
	if (!pr || (pr->flags & MT_PROC_REFUSED))
		return 0;
	/* a target of an owned group must be its owner's (the daemon checked
	 * it in /proc; this closes the gap since): else refused, with no
	 * context on any of its threads, no mm, no record. The loader
	 * deletes the entry. */
	if ((pr->flags & MT_PROC_PENDING_ATTACH) && !pr->mm && group_admits(t, pr->group, NULL)) {
		pr->flags = (pr->flags & ~MT_PROC_PENDING_ATTACH) | MT_PROC_REFUSED;
		return 0;
	}
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
	e = mm_track(mm, tgid, pr->group, ts, &snap);
	if (!e)
		return 0;
	pr->mm = mm_key(mm);
	group_count(pr);
	pr->ppid = t->real_parent->tgid;
	bpf_probe_read_kernel_str(pr->comm, sizeof(pr->comm), t->group_leader->comm);
	rec_lifecycle(MT_REC_ATTACH, t, pr, e, mm, ts, &snap);
	lifecycle_guard(pr->group, &snap, e, mm, ts);
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

/*
 * Untrace (tracer__untrace()): the processes of untrace_group stop being
 * traced and run on untouched. The loader sets the group
 * MT_GROUP_RELEASING (fork and exec add nothing to it from then on) and
 * runs this twice: pass 1 deletes the context of every thread of the
 * group's processes, pass 2, from the leader or any live thread with an
 * mm, releases the process's mm, takes it out of `live` and deletes its
 * entry (claimed as an exit is: a process exiting meanwhile is the exit
 * handler's). Entries with no task left the loader deletes itself.
 */
__u32 untrace_group = 0;
__u32 untrace_pass = 0;

SEC("iter/task")
int untrace_tasks(struct bpf_iter__task *ctx)
{
	struct task_struct *t = ctx->task;
	struct mt_proc *pr;
	__u32 tgid;

	if (!t)
		return 0;
	tgid = t->tgid;
	pr = bpf_map_lookup_elem(&procs, &tgid);
	if (!pr || pr->group != untrace_group)
		return 0;
	if (untrace_pass == 1) {
		bpf_task_storage_delete(&tctx, t);
		return 0;
	}
	if (!t->mm && pr->mm)
		return 0;	/* an exiting thread: another, or the exit, does it */
	if (__sync_fetch_and_or(&pr->flags, MT_PROC_EXITED) & MT_PROC_EXITED)
		return 0;
	untrace_proc(t, pr, tgid, bpf_ktime_get_ns());
	return 0;
}

#endif /* MEMTRACE_LIFECYCLE_BPF_H */
