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
 *   guard.bpf.h        --kill-at and --alert: acting in the crossing event
 *   rss.bpf.h          mm tracking, peaks, rss_stat and page faults
 *   checkpoints.bpf.h  /proc/self/status & co. reads, getrusage
 *   marks.bpf.h        marker fd writes and loss, the USDT mark, output
 *   capture.bpf.h      capture mode's match and group start
 *   lifecycle.bpf.h    fork, exec, exit, the attach and fold iterators
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
/* Capture mode: the guard and alerts each captured group starts with. */
struct mt_guard capture_guard = {};

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
#include "window.bpf.h"
#include "guard.bpf.h"
#include "rss.bpf.h"
#include "checkpoints.bpf.h"
#include "marks.bpf.h"
#include "capture.bpf.h"
#include "lifecycle.bpf.h"

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
