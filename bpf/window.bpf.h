/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --resolution in the kernel: an mm's RSS changes folded into windows
 * before the ring buffer.
 *
 * With window_ns set, a change is not a record of its own. Per mm and per
 * window (time cut at multiples of window_ns, as the loader cuts it) the
 * kernel keeps three records: the window's minimum and its maximum (each
 * the first change that reached it) and its last change, with the count
 * of changes. The window goes to the ring as one MT_REC_WINDOW-sized
 * record (struct mt_win_out) when it is over: at the mm's next change in a
 * later window, on a timer armed for the window's end (a process that went
 * quiet), or when the mm is released (exec, exit). The loader's thinning
 * (user/trace/thin.c) makes the same rows of it as of every change, so the
 * output does not depend on where the folding was done; what it saves is a
 * ring record and the loader's work for each change folded.
 *
 * Threads of one mm change it on several CPUs at once: a spin lock guards
 * the window. No helper may be called under it, so a record that might be
 * needed (a window to close) is reserved before taking it, and discarded
 * when another CPU closed that window first.
 * Relies on records.bpf.h (rb, rec_submit, counters) and memtrace.bpf.c
 * (group_of()).
 */
#ifndef MEMTRACE_WINDOW_BPF_H
#define MEMTRACE_WINDOW_BPF_H

/* Set by the loader (--resolution): 0, every change is a record. */
const volatile __u64 window_ns = 0;

/* A change of an ended window seen this long after its end is still
 * folded into it (the timer fires this late, to give a change stamped
 * just before the end the time to take the lock). */
#define WIN_TIMER_SLACK_NS 200000ULL

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);	/* the loader: --max-procs, 1 when off */
	__type(key, __u64);		/* mm_key() */
	__type(value, struct mt_win);
} wins SEC(".maps");

/* Per CPU: the change being folded (built here, not on the 512-byte
 * stack), and zeros to create a window from. */
struct win_scratch {
	struct mt_rec in;
	__u8 zero[sizeof(struct mt_win)];
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct win_scratch);
} win_scratch SEC(".maps");

static __always_inline struct win_scratch *win_scratch_here(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&win_scratch, &zero);
}

static __always_inline __s64 rec_rss(const struct mt_rec *r)
{
	return r->pages[MT_FILE] + r->pages[MT_ANON] + r->pages[MT_SHMEM];
}

/* Room for a window in the ring (NULL, and nothing counted, when full:
 * the caller says whether that loses it). */
static __always_inline struct mt_win_out *win_reserve(void)
{
	return bpf_ringbuf_reserve(&rb, sizeof(struct mt_win_out), 0);
}

/* Under st's lock: the window held (if any) into out (if any), and st
 * emptied. Its count of changes (0: none held). */
static __always_inline __u32 win_take(struct mt_win *st, struct mt_win_out *out)
{
	__u32 n = st->n;

	if (n && out)
		*out = st->win;
	st->n = 0;
	return n;
}

/* After the lock: out to the ring with the window's count, or given back
 * when nothing was taken into it. */
static __always_inline void win_send(struct mt_win_out *out, __u32 n)
{
	if (!n) {
		bpf_ringbuf_discard(out, 0);
		return;
	}
	out->rec[0].folded = n;
	bpf_ringbuf_submit(out, rb_submit_flags());
}

/* The timer of a window: writes it once it is over; a window that began
 * after the timer was armed (the old one closed by a change) gets the
 * timer moved to its own end. */
static int win_fire(void *map, __u64 *key, struct mt_win *st)
{
	__u64 now = bpf_ktime_get_ns(), w = now / window_ns;
	struct mt_win_out *out;
	__u32 closed = 0;

	if (!st->n)
		return 0;
	if (st->idx >= w) {
		bpf_timer_start(&st->timer, (st->idx + 1) * window_ns - now + WIN_TIMER_SLACK_NS, 0);
		return 0;
	}
	out = win_reserve();
	if (!out) {
		/* the ring is full: the window stays, tried again later */
		bpf_timer_start(&st->timer, window_ns + WIN_TIMER_SLACK_NS, 0);
		return 0;
	}
	bpf_spin_lock(&st->lock);
	if (st->idx < w)
		closed = win_take(st, out);
	bpf_spin_unlock(&st->lock);
	win_send(out, closed);
	return 0;
}

/* A change (in: this CPU's scratch record) of the mm at key. false: it was
 * not folded (no window could be made for it): the caller writes it as a
 * record of its own. */
static __always_inline bool win_fold(__u64 key, struct mt_rec *in)
{
	struct mt_win *st = bpf_map_lookup_elem(&wins, &key);
	__u64 w = in->ts_ns / window_ns;
	struct mt_win_out *out = NULL;
	__u32 closed = 0, lost = 0;
	bool fresh = false, late = false;
	__s64 v = rec_rss(in);

	if (!st) {
		struct win_scratch *z = win_scratch_here();

		if (!z)
			return false;
		bpf_map_update_elem(&wins, &key, z->zero, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&wins, &key);
		if (!st)
			return false;
		/* -EBUSY when another CPU made it first: one timer */
		bpf_timer_init(&st->timer, &wins, 1 /* CLOCK_MONOTONIC */);
		bpf_timer_set_callback(&st->timer, win_fire);
	}
	/* a window to close, most likely: room for it first */
	if (st->n && st->idx < w)
		out = win_reserve();
	bpf_spin_lock(&st->lock);
	if (st->n && w < st->idx) {
		late = true;	/* stamped before a later window began */
	} else {
		if (st->idx != w) {
			closed = win_take(st, out);
			lost = out ? 0 : closed;
		}
		if (!st->n) {
			st->idx = w;
			st->win.rec[0] = *in;
			st->win.rec[1] = *in;
			st->win.rec[2] = *in;
			st->n = 1;
			fresh = true;
		} else {
			if (v < rec_rss(&st->win.rec[0]))
				st->win.rec[0] = *in;
			if (v > rec_rss(&st->win.rec[1]))
				st->win.rec[1] = *in;
			st->win.rec[2] = *in;
			st->n++;
		}
	}
	bpf_spin_unlock(&st->lock);
	if (out)
		win_send(out, closed);
	if (lost)
		rec_lost(in->group);
	if (late)
		return false;
	/* to the window's end from the change's own time (within it) */
	if (fresh)
		bpf_timer_start(&st->timer, (w + 1) * window_ns - in->ts_ns + WIN_TIMER_SLACK_NS, 0);
	return true;
}

/* The mm at key is released (or was freed unseen): its window, if one is
 * held, goes to the ring now, and the window's entry (and timer) with it. */
static __always_inline void win_release(__u64 key)
{
	struct mt_win *st;
	struct mt_win_out *out;
	__u32 closed = 0, group = 0;

	if (!window_ns)
		return;
	st = bpf_map_lookup_elem(&wins, &key);
	if (!st)
		return;
	out = st->n ? win_reserve() : NULL;
	bpf_spin_lock(&st->lock);
	group = st->win.rec[0].group;
	closed = win_take(st, out);
	bpf_spin_unlock(&st->lock);
	if (out)
		win_send(out, closed);
	else if (closed)
		rec_lost(group);
	bpf_map_delete_elem(&wins, &key);
}

#endif /* MEMTRACE_WINDOW_BPF_H */
