/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * RSS: tracking an address space (an mms entry holding its exact counters,
 * from the first snapshot on), peaks (per mm and per group total), the
 * rss_stat program that follows every change, the page fault program
 * that says what caused one, and the mmap-family SYSCALL records.
 * Relies on compat.bpf.h (counter_slot(), mm_generation(); which tracepoints
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

/* ---- exact values, amortized O(1) per change ----
 *
 * A full sum reads every possible CPU's slot of the counter: 2 reads here,
 * 256 on the nodes solvers run on, for every change. But the kernel's
 * percpu_counter moves its shared count only when a CPU's slot passes the
 * batch (a fold: the slot goes to 0, count takes it). Between folds, a
 * change made on CPU c moved slot c alone. So, per mm: the exact value of
 * each counter (pages[]), the count it was summed against (count_seen[]),
 * and what each CPU's slot held then (`slots`, per CPU, at slot_idx). An
 * event on CPU c whose count has not moved and whose slot c did: the value
 * moves by slot c's change, one read. Anything else (a fold anywhere, or
 * no change on this CPU: an event that changed nothing, or a change made
 * on another CPU before this task moved here between the add and the
 * tracepoint) is a full sum, which records every CPU's slot afresh.
 *
 * Concurrency: two CPUs changing one mm add their own slot's change each
 * (atomically) and keep their own slot's record: exact. A fold on another
 * CPU while this one sums (or a change it made between a full sum's read
 * of its slot and the record of it) can leave the value off by that
 * change until the next full sum, which comes with the next fold (within
 * batch changes of one CPU): the same kind of race as the unlocked full
 * sum's, a little longer (README: What "exact" means here).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4096);	/* resized by the loader */
	__type(key, __u32);
	__type(value, struct mt_slots);
} slots SEC(".maps");

/* The free slot indices (the loader fills it). */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 4096);	/* resized by the loader */
	__type(value, __u32);
} slot_free SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mt_cost);
} cost SEC(".maps");

static __always_inline struct mt_cost *cost_here(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&cost, &zero);
}

/* Full sum of counter m of mm (clamped at zero, as the kernel's
 * percpu_counter_sum_positive()); each CPU's slot recorded at idx (if
 * any); the count it was summed against into *count. */
static __always_inline __s64 sum_recording(struct mm_struct *mm, int m, __s32 idx, __s64 *count)
{
	struct percpu_counter *pc = member_counter(mm, m);
	__s64 sum = pc->count;
	__u32 cpu, key = (__u32)idx;

	*count = sum;
	for (cpu = 0; cpu < MT_MAX_CPUS && cpu < nr_cpus; cpu++) {
		__s32 v = counter_slot(pc, cpu);
		struct mt_slots *sl;

		sum += v;
		if (idx >= 0 && (sl = bpf_map_lookup_percpu_elem(&slots, &key, cpu)))
			sl->s[m & 3] = v;
	}
	return sum < 0 ? 0 : sum;
}

/* The exact value of counter m of e's mm after this change, and whether
 * it moved; e->pages[m] kept up to date. */
static __always_inline bool exact_value(struct mt_mm *e, struct mm_struct *mm, int m, __s64 *out)
{
	struct percpu_counter *pc = member_counter(mm, m);
	struct mt_cost *c = cost_here();
	__u32 cpu = bpf_get_smp_processor_id(), key = (__u32)e->slot_idx;
	__s64 count = pc->count, v;
	struct mt_slots *sl;

	if (c)
		c->rss_events++;
	if (e->slot_idx >= 0 && cpu < nr_cpus && count == e->count_seen[m & 3] &&
	    (sl = bpf_map_lookup_elem(&slots, &key))) {
		__s32 cur = counter_slot(pc, cpu);

		if (cur != sl->s[m & 3]) {
			__s64 d = (__s64)cur - sl->s[m & 3];

			sl->s[m & 3] = cur;
			v = __sync_add_and_fetch(&e->pages[m & 3], d);
			*out = v < 0 ? 0 : v;
			return true;
		}
	}
	if (c)
		c->full_sums++;
	v = sum_recording(mm, m, e->slot_idx, &count);
	e->count_seen[m & 3] = count;
	if (v == e->pages[m & 3])
		return false;	/* some events carry no change (batched updates) */
	e->pages[m & 3] = v;
	*out = v;
	return true;
}

/* An mm's entry goes: its slot index is free again. */
static __always_inline void mm_forget(struct mt_mm *e, __u64 key)
{
	if (e->slot_idx >= 0) {
		__u32 idx = (__u32)e->slot_idx;

		bpf_map_push_elem(&slot_free, &idx, 0);
	}
	win_release(key);
	bpf_map_delete_elem(&mms, &key);
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
	if (e) {
		win_release(key);
		totals_drop(e, ts);	/* a stale entry at a reused address */
		if (e->slot_idx >= 0) {
			__u32 idx = (__u32)e->slot_idx;

			bpf_map_push_elem(&slot_free, &idx, 0);
		}
	}
	fresh.gen = mm_generation(mm);
	fresh.owner = owner;
	fresh.group = group;
	fresh.users = 1;
	fresh.slot_idx = -1;
	{
		__u32 idx;

		if (!bpf_map_pop_elem(&slot_free, &idx))
			fresh.slot_idx = (__s32)idx;
	}
	fresh.pages[MT_FILE] = sum_recording(mm, MT_FILE, fresh.slot_idx,
					     &fresh.count_seen[MT_FILE]);
	fresh.pages[MT_ANON] = sum_recording(mm, MT_ANON, fresh.slot_idx,
					     &fresh.count_seen[MT_ANON]);
	fresh.pages[MT_SWAP] = sum_recording(mm, MT_SWAP, fresh.slot_idx,
					     &fresh.count_seen[MT_SWAP]);
	fresh.pages[MT_SHMEM] = sum_recording(mm, MT_SHMEM, fresh.slot_idx,
					      &fresh.count_seen[MT_SHMEM]);
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
		if (fresh.slot_idx >= 0) {
			__u32 idx = (__u32)fresh.slot_idx;

			bpf_map_push_elem(&slot_free, &idx, 0);
		}
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
		mm_forget(e, key);
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
	__s64 v, rss, old, tree = 0, counted = 0, before = 0;

	e = bpf_map_lookup_elem(&mms, &key);
	if (!e)
		return 0;
	if (e->gen != mm_generation(mm)) {
		/* the traced mm was freed and this is a new one at its address:
		 * its memory leaves the total with it */
		totals_drop(e, bpf_ktime_get_ns());
		mm_forget(e, key);
		return 0;
	}
	if (member < 0 || member >= MT_NR_MEMBERS)
		return 0;
	if (!exact_value(e, mm, member, &v))
		return 0;
	ts = bpf_ktime_get_ns();
	if (member != MT_SWAP) {
		rss = e->pages[MT_FILE] + e->pages[MT_ANON] + e->pages[MT_SHMEM];
		old = __sync_lock_test_and_set(&e->rss, rss);
		peak_update(&e->peak_pages, &e->peak_ts_ns, rss, ts);
		tree = tree_update(e->group, rss - old, ts);
		counted = rss > old ? tree : 0;
		before = tree - (rss - old);
		if (group_of(e->group)->guard.flags & MT_GUARD_ANON) {
			__s64 anon = e->pages[MT_ANON] + e->pages[MT_SHMEM];

			old = __sync_lock_test_and_set(&e->anon, anon);
			counted = anon_add(e->group, anon - old, ts);
			before = counted - (anon - old);
			counted = anon > old ? counted : 0;
		}
	}

	if (window_ns) {
		/* --resolution: folded into its window (window.bpf.h) */
		struct win_scratch *sc = win_scratch_here();

		if (sc) {
			r = &sc->in;
			rec_head(r, MT_REC_RSS, e->owner, e->group, ts);
			rec_fill_mm(r, e, mm);
			if (member != MT_SWAP)
				r->tree_pages = tree;
			rec_cause(r, key);
			if (win_fold(key, r))
				goto folded;
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
folded:
	/* after its record: the crossing row follows the change's */
	if (counted)
		guard_watch(e->group, counted, before, e, mm, ts);
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
