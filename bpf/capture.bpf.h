/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Capture mode (record --comm / --cgroup): a process that execs into the
 * chosen comm, or runs in the chosen cgroup or below it, and is not traced
 * yet starts a group of its own; its exec record is the loader's cue to
 * open a trace for it. Called by on_exec (lifecycle.bpf.h).
 * Relies on memtrace.bpf.c: the capture_* settings, counters, group_of(),
 * procs.
 */
#ifndef MEMTRACE_CAPTURE_BPF_H
#define MEMTRACE_CAPTURE_BPF_H

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
	/* root's capture: never an owned group */
	gr->gflags = 0;
	gr->owner_uid = 0;
	gr->owner_gid = 0;
	gr->left = 0;
	gr->root_tgid = tgid;
	gr->start_ts_ns = ts;
	/* --kill-at, --alert: the settings every captured run gets */
	gr->guard = capture_guard;
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

#endif /* MEMTRACE_CAPTURE_BPF_H */
