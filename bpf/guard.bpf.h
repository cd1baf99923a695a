/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The guard and alerts (--kill-at, --alert): acting in the event that
 * crosses a threshold of the group's counted total, not after it.
 *
 * Each change that raises a group's total compares it with one number,
 * the lowest threshold still to cross (watch_pages). Past it, the slow
 * path: each alert crossed for the first time gets an ALERT record; the
 * kill limit crossed gets a GUARD record (once) and a signal to the
 * process that made the change, if it is of the group (bpf_send_signal:
 * delivered before that task returns to user space). With SIGKILL every
 * later raise above the limit by a process of the group gets one too, so
 * a tree cannot outgrow the limit while the loader ends the rest of it.
 * Both records wake the loader at once.
 *
 * The counted total is file+anon+shmem (the group's tree_pages), or
 * anon+shmem (MT_GUARD_ANON: memory reclaim cannot take back), which is
 * then kept beside it, per mm (mt_mm.anon) and per group.
 * Relies on memtrace.bpf.c (group_of(), procs, mm_key()), records.bpf.h.
 */
#ifndef MEMTRACE_GUARD_BPF_H
#define MEMTRACE_GUARD_BPF_H

/* The tgid of the task running now, if it is a live process of group g
 * (0: a change made from elsewhere: reclaim, the loader's attach). For a
 * group owned by a user (MT_GROUP_OWNED), also only if the task runs as
 * that user: bpf_send_signal() makes no permission check of its own, and
 * the guard must not signal what the owner could not (a set-uid process
 * between its exec and the LEAVE that follows, a task that switched its
 * uid without exec). */
static __always_inline __u32 current_of_group(__u32 g)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct mt_proc *p = bpf_map_lookup_elem(&procs, &tgid);
	struct mt_group *gr = group_of(g);

	if (!p || p->group != g || (p->flags & MT_PROC_EXITED))
		return 0;
	if ((gr->gflags & MT_GROUP_OWNED) &&
	    bpf_get_current_task_btf()->real_cred->uid.val != gr->owner_uid)
		return 0;
	return tgid;
}

static __always_inline void guard_rec(__u32 type, __u32 g, struct mt_guard *gd, __u64 limit,
				      __s64 v, struct mt_mm *e, struct mm_struct *mm,
				      __u64 ts, __u32 sent)
{
	struct mt_rec *r = rec_reserve(type, e->owner, g, ts);

	if (!r)
		return;
	rec_fill_mm(r, e, mm);
	rec_cause(r, mm_key(mm));
	r->len = limit;
	r->ret = sent;
	r->counted_pages = v;
	r->counted_flags = gd->flags;
	bpf_ringbuf_submit(r, BPF_RB_FORCE_WAKEUP);
}

/* Past the watch: the alerts and the limit v has crossed, and the next
 * watch. e, mm: the address space whose change made v out of prev (the
 * counted total just before it, by the same atomic add). */
static __always_inline void guard_cross(__u32 g, __s64 v, __s64 prev, struct mt_mm *e,
					struct mm_struct *mm, __u64 ts)
{
	struct mt_guard *gd = &group_of(g)->guard;
	__u32 n = gd->nalerts, i;
	__u64 next = 0, lim;

	for (i = 0; i < MT_MAX_ALERTS; i++) {
		__u32 bit = 1u << i;
		__u64 a;

		if (i >= n)
			break;
		a = gd->alert_pages[i];
		if ((__u64)v <= a) {
			if (!next || a < next)
				next = a;
			continue;
		}
		if (!(gd->alerts_fired & bit) &&
		    !(__sync_fetch_and_or(&gd->alerts_fired, bit) & bit))
			guard_rec(MT_REC_ALERT, g, gd, a, v, e, mm, ts, 0);
	}
	lim = gd->kill_at_pages;
	if (lim) {
		if ((__u64)v > lim) {
			/* the crossing is the change that took the total over
			 * the limit (one add does, the adds being atomic), not
			 * whichever later raise on another CPU gets here first */
			bool first = prev <= (__s64)lim &&
				     !__sync_val_compare_and_swap(&gd->fired, 0, 1);
			__u32 sig = gd->signal, sent = 0;

			/* SIGKILL to each raise past the limit; a gentler
			 * signal once, the loader follows with SIGKILL */
			if ((first || sig == 9) && current_of_group(g) && !bpf_send_signal(sig)) {
				sent = sig;
				__sync_fetch_and_add(&gd->signals_sent, 1);
			}
			if (first) {
				gd->cross_pages = v;
				gd->cross_pid = e->owner;
				gd->cross_tid = (__u32)bpf_get_current_pid_tgid();
				gd->cross_ts_ns = ts;	/* last: the loader's "fired" */
				guard_rec(MT_REC_GUARD, g, gd, lim, v, e, mm, ts, sent);
			}
		}
		if (!next || lim < next)
			next = lim;	/* kept: later raises are signalled */
	}
	gd->watch_pages = next;
}

/* The hot path: one compare. v: the counted total after a raise, prev:
 * before it. */
static __always_inline void guard_watch(__u32 g, __s64 v, __s64 prev, struct mt_mm *e,
					struct mm_struct *mm, __u64 ts)
{
	__u64 w = group_of(g)->guard.watch_pages;

	if (w && v > 0 && (__u64)v > w)
		guard_cross(g, v, prev, e, mm, ts);
}

/* The counted total a new mm made (fork, exec, attach snapshot). */
static __always_inline __s64 guard_counted(__u32 g, __s64 tree, __s64 anon)
{
	return group_of(g)->guard.flags & MT_GUARD_ANON ? anon : tree;
}

#endif /* MEMTRACE_GUARD_BPF_H */
