/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Records: the ring buffer, reserving a record (counting the loss when it
 * is full), submitting it with batched wake-ups, and filling it with an
 * mm's exact counters. Every other concern writes its records through
 * these.
 * Relies on memtrace.bpf.c: wakeup_bytes, counters, group_of(),
 * mm_entry_of().
 */
#ifndef MEMTRACE_RECORDS_BPF_H
#define MEMTRACE_RECORDS_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);	/* resized by the loader */
} rb SEC(".maps");

/* A record's head, in the ring or elsewhere (a window's scratch). */
static __always_inline void rec_head(struct mt_rec *r, __u32 type, __u32 pid, __u32 group,
				     __u64 ts)
{
	/* RSS records (one per fault) set every field they carry and leave
	 * the lifecycle tail unwritten; the rest start from zero */
	if (type != MT_REC_RSS)
		__builtin_memset(r, 0, sizeof(*r));
	r->type = type;
	r->pid = pid;
	r->group = group;
	r->tid = (__u32)bpf_get_current_pid_tgid();
	r->ts_ns = ts;
	r->folded = 0;
}

/* A record of group's that the full ring could not take. */
static __always_inline void rec_lost(__u32 group)
{
	__sync_fetch_and_add(&counters.lost, 1);
	__sync_fetch_and_add(&group_of(group)->lost, 1);
}

static __always_inline struct mt_rec *rec_reserve(__u32 type, __u32 pid, __u32 group,
						  __u64 ts)
{
	struct mt_group *gr = group_of(group);
	__u64 cap = gr->ring_cap;
	struct mt_rec *r;

	/* a daemon's group: its user's share of the ring (the loader
	 * subtracts what it reads) */
	if (cap && __sync_fetch_and_add(&gr->pending, 1) >= (__s64)cap) {
		__sync_fetch_and_add(&gr->pending, -1);
		rec_lost(group);
		return NULL;
	}
	r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
	if (!r) {
		if (cap)
			__sync_fetch_and_add(&gr->pending, -1);
		rec_lost(group);
		return NULL;
	}
	rec_head(r, type, pid, group, ts);
	return r;
}

/* Batched wake-ups: one per record would triple the cost of a fault
 * (kernel notes); wake the consumer only when enough data is waiting.
 * The loader drains on a short timer otherwise. For any record of rb. */
static __always_inline __u64 rb_submit_flags(void)
{
	return bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA) >= wakeup_bytes ?
	       BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline void rec_submit(struct mt_rec *r)
{
	bpf_ringbuf_submit(r, rb_submit_flags());
}

static __always_inline void rec_fill_mm(struct mt_rec *r, struct mt_mm *e,
					struct mm_struct *mm)
{
	r->pages[MT_FILE] = e->pages[MT_FILE];
	r->pages[MT_ANON] = e->pages[MT_ANON];
	r->pages[MT_SWAP] = e->pages[MT_SWAP];
	r->pages[MT_SHMEM] = e->pages[MT_SHMEM];
	r->total_vm = mm->total_vm;
	r->data_vm = mm->data_vm;
	r->tree_pages = group_of(e->group)->tree_pages;
}

/* What the task running now was doing, if it is the one whose mm (key)
 * changed: a fault (address, ip), a syscall (number, first argument), or
 * neither (self); another task's change (reclaim, the fork copy) is other.
 * Also clears the columns a record of a change leaves empty. */
static __always_inline void rec_cause(struct mt_rec *r, __u64 key)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	struct task_ctx *tc;

	r->cause = MT_CAUSE_OTHER;
	r->nr = 0;
	r->addr = 0;
	r->ip = 0;
	r->len = 0;
	r->ret = 0;
	r->ppid = 0;
	if (mm_key(cur->mm) != key)
		return;
	tc = task_ctx_of(cur, false);
	/* a fresh context (all zero) has seen no fault nor syscall yet */
	r->cause = tc && tc->cause != MT_CAUSE_OTHER ? tc->cause : MT_CAUSE_SELF;
	if (r->cause != MT_CAUSE_SELF) {
		r->nr = tc->nr;
		r->addr = tc->addr;
		r->ip = tc->ip;
	}
}

/* A record of type CHECKPOINT/MARK/MARK_FD_LOST/OUTPUT with the process's
 * exact counters as they are now (the mms entry follows every change). */
static __always_inline struct mt_rec *rec_state(__u32 type, struct task_struct *cur)
{
	struct mt_mm *e = mm_entry_of(cur);
	struct mt_rec *r;

	if (!e)
		return NULL;
	r = rec_reserve(type, e->owner, e->group, bpf_ktime_get_ns());
	if (r)
		rec_fill_mm(r, e, cur->mm);
	return r;
}

#endif /* MEMTRACE_RECORDS_BPF_H */
