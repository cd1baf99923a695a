/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * RSS: tracking an address space (an mms entry holding its exact counters,
 * from the first snapshot on), peaks (per mm and per group total), the
 * rss_stat program that follows every change, the page fault program
 * that says what caused one, and the mmap-family SYSCALL records.
 * Relies on compat.bpf.h (member_sum(), mm_generation(); which tracepoints
 * and why), records.bpf.h, and memtrace.bpf.c's shared state (mms, tctx,
 * group_of(), mm_key(), untraced()).
 */
#ifndef MEMTRACE_RSS_BPF_H
#define MEMTRACE_RSS_BPF_H

static __always_inline void peak_update(__u64 *peak, __u64 *peak_ts, __s64 v,
					__u64 ts)
{
	__u64 cur = *peak;
	int i;

	/* bounded compare-and-swap: threads of one mm race here */
	for (i = 0; i < 8 && v > 0 && (__u64)v > cur; i++) {
		__u64 seen = __sync_val_compare_and_swap(peak, cur, (__u64)v);

		if (seen == cur) {
			*peak_ts = ts;
			return;
		}
		cur = seen;
	}
}

/* An mm of group g changed its RSS by delta: fold it into the group's total. */
static __always_inline __s64 tree_update(__u32 g, __s64 delta, __u64 ts)
{
	struct mt_group *gr = group_of(g);
	__s64 tree = __sync_add_and_fetch(&gr->tree_pages, delta);

	peak_update(&gr->tree_peak_pages, &gr->tree_peak_ts_ns, tree, ts);
	return tree;
}

/* anon+shmem of a MT_GUARD_ANON group moved by delta: the new total, and
 * its peak (0 for other groups: they count the tree's total). */
static __always_inline __s64 anon_add(__u32 g, __s64 delta, __u64 ts)
{
	struct mt_guard *gd = &group_of(g)->guard;
	__s64 t;

	if (!(gd->flags & MT_GUARD_ANON))
		return 0;
	t = __sync_add_and_fetch(&gd->anon_pages, delta);
	peak_update(&gd->anon_peak_pages, &gd->anon_peak_ts_ns, t, ts);
	return t;
}

/* An mm's pages leave its group's totals (it is gone, or stale). */
static __always_inline void totals_drop(struct mt_mm *e, __u64 ts)
{
	tree_update(e->group, -e->rss, ts);
	anon_add(e->group, -e->anon, ts);
}

/* What mm_track() read of a new mm, and the group's total it made: one
 * instant, for the record that starts it (its rows' other reads race with
 * the mm's own threads on other CPUs: a total and counters a page apart). */
struct mm_snap {
	__s64 pages[MT_NR_MEMBERS];
	__s64 tree;
	__s64 anon;		/* the group's anon+shmem (MT_GUARD_ANON) */
	bool fresh;		/* false: the mm was tracked already */
};

/* Start tracing an address space: exact snapshot of all counters. */

static __always_inline struct mt_mm *mm_track(struct mm_struct *mm, __u32 owner,
					      __u32 group, __u64 ts, struct mm_snap *snap)
{
	__u64 key = mm_key(mm);
	struct mt_mm *e, fresh = {};

	/* All of it, not only fresh: callers read tree/anon only when fresh,
	 * but clang may move those reads before the test, and the verifier
	 * refuses a register loaded from a stack slot never written ("R7
	 * !read_ok" in on_fork, once struct mt_rec grew by data_vm). */
	__builtin_memset(snap, 0, sizeof(*snap));
	e = bpf_map_lookup_elem(&mms, &key);
	if (e && e->gen == mm_generation(mm)) {
		__sync_fetch_and_add(&e->users, 1);
		return e;
	}
	if (e)
		totals_drop(e, ts);	/* a stale entry at a reused address */
	fresh.gen = mm_generation(mm);
	fresh.owner = owner;
	fresh.group = group;
	fresh.users = 1;
	fresh.pages[MT_FILE] = member_sum(mm, MT_FILE);
	fresh.pages[MT_ANON] = member_sum(mm, MT_ANON);
	fresh.pages[MT_SWAP] = member_sum(mm, MT_SWAP);
	fresh.pages[MT_SHMEM] = member_sum(mm, MT_SHMEM);
	fresh.rss = fresh.pages[MT_FILE] + fresh.pages[MT_ANON] + fresh.pages[MT_SHMEM];
	fresh.anon = fresh.pages[MT_ANON] + fresh.pages[MT_SHMEM];
	fresh.peak_pages = fresh.rss;
	fresh.peak_ts_ns = ts;
	/* the total first: a change raised on another CPU once the entry is
	 * in the map moves it from there on, as the entry's own rss does */
	snap->tree = tree_update(group, fresh.rss, ts);
	snap->anon = anon_add(group, fresh.anon, ts);
	if (bpf_map_update_elem(&mms, &key, &fresh, BPF_ANY)) {
		totals_drop(&fresh, ts);
		untraced(group);
		return NULL;
	}
	__builtin_memcpy(snap->pages, fresh.pages, sizeof(snap->pages));
	snap->fresh = true;
	return bpf_map_lookup_elem(&mms, &key);
}

/* A traced process stops using an mm (exec or exit): keep its peak and
 * fault count in the process entry; forget the mm when no traced process
 * uses it any more. */
static __always_inline void mm_release(struct mt_proc *pr, __u64 key, __u64 ts)
{
	struct mt_mm *e = bpf_map_lookup_elem(&mms, &key);

	if (!e)
		return;
	/* a child that only borrowed its parent's mm (vfork) does not take
	 * the parent's peak as its own */
	if (!(pr->flags & MT_PROC_SHARED_MM) && e->peak_pages > pr->peak_pages) {
		pr->peak_pages = e->peak_pages;
		pr->peak_ts_ns = e->peak_ts_ns;
	}
	pr->flags &= ~MT_PROC_SHARED_MM;
	if (__sync_sub_and_fetch(&e->users, 1) == 0) {
		totals_drop(e, ts);
		bpf_map_delete_elem(&mms, &key);
	}
}

/* (mm, member): the first two arguments on every kernel since 5.5, see
 * compat.bpf.h. */
SEC("tp_btf/rss_stat")
int BPF_PROG(on_rss_stat, struct mm_struct *mm, int member)
{
	struct mt_mm *e;
	struct mt_rec *r;
	__u64 key = mm_key(mm), ts;
	__s64 v, rss, old, tree = 0, counted = 0;

	e = bpf_map_lookup_elem(&mms, &key);
	if (!e)
		return 0;
	if (e->gen != mm_generation(mm)) {
		/* the traced mm was freed and this is a new one at its address:
		 * its memory leaves the total with it */
		totals_drop(e, bpf_ktime_get_ns());
		bpf_map_delete_elem(&mms, &key);
		return 0;
	}
	if (member < 0 || member >= MT_NR_MEMBERS)
		return 0;
	v = member_sum(mm, member);
	if (v == e->pages[member & 3])
		return 0;	/* some events carry no change (batched updates) */
	e->pages[member & 3] = v;
	ts = bpf_ktime_get_ns();
	if (member != MT_SWAP) {
		rss = e->pages[MT_FILE] + e->pages[MT_ANON] + e->pages[MT_SHMEM];
		old = __sync_lock_test_and_set(&e->rss, rss);
		peak_update(&e->peak_pages, &e->peak_ts_ns, rss, ts);
		tree = tree_update(e->group, rss - old, ts);
		counted = rss > old ? tree : 0;
		if (group_of(e->group)->guard.flags & MT_GUARD_ANON) {
			__s64 anon = e->pages[MT_ANON] + e->pages[MT_SHMEM];

			old = __sync_lock_test_and_set(&e->anon, anon);
			counted = anon_add(e->group, anon - old, ts);
			counted = anon > old ? counted : 0;
		}
	}

	r = rec_reserve(MT_REC_RSS, e->owner, e->group, ts);
	if (r) {
		rec_fill_mm(r, e, mm);
		/* the total this change made, not one another CPU has moved
		 * since (a swap-only change leaves it as the counter says) */
		if (member != MT_SWAP)
			r->tree_pages = tree;
		rec_cause(r, key);
		rec_submit(r);
	}
	/* after its record: the crossing row follows the change's */
	if (counted)
		guard_watch(e->group, counted, e, mm, ts);
	return 0;
}

/* x86 only: see compat.bpf.h. */
SEC("tp_btf/page_fault_user")
int BPF_PROG(on_page_fault_user, unsigned long address, struct pt_regs *regs,
	     unsigned long error_code)
{
	struct task_ctx *tc = task_ctx_of(bpf_get_current_task_btf(), false);

	if (!tc)
		return 0;	/* not a thread of a traced process */
	tc->faults++;
	tc->cause = MT_CAUSE_FAULT;
	tc->nr = 0;
	tc->addr = address;
	tc->ip = regs->ip;
	return 0;
}

/* The calls that map, unmap or advise memory: each gets a SYSCALL record
 * when it returns. */
static __always_inline bool mm_family(long nr)
{
	return nr == MT_NR_MMAP || nr == MT_NR_MUNMAP || nr == MT_NR_BRK ||
	       nr == MT_NR_MREMAP || nr == MT_NR_MADVISE;
}

/* sys_enter of an mm_family() call: keep its arguments until it returns. */
static __always_inline void family_enter(struct task_ctx *tc, struct pt_regs *regs)
{
	tc->watch = W_FAMILY;
	tc->args[0] = regs->di;
	tc->args[1] = regs->si;
	tc->args[2] = regs->dx;
}

/* sys_exit of an mm_family() call: the SYSCALL record, with the counters
 * its rss records (if any) left. */
static __always_inline void family_exit(struct task_struct *cur, struct task_ctx *tc,
					long ret)
{
	struct mt_mm *e = mm_entry_of(cur);
	struct mt_rec *r;

	if (e && (r = rec_reserve(MT_REC_SYSCALL, e->owner, e->group,
					  bpf_ktime_get_ns()))) {
		rec_fill_mm(r, e, cur->mm);
		r->nr = tc->nr;
		r->addr = tc->args[0];
		r->len = tc->args[1];
		r->ret = ret;
		rec_submit(r);
	}
}

#endif /* MEMTRACE_RSS_BPF_H */
