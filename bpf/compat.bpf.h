/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel differences live here, and only here: what the programs rely on
 * that depends on the kernel's version, configuration or architecture.
 * Each shim names the kernel change it covers. Nothing is keyed on
 * LINUX_VERSION_CODE: CO-RE asks the running kernel's BTF.
 *
 * Holds the exact percpu_counter sum (with the per-CPU offsets it learns
 * at run time), mm generations, the sched_process_exit facts, and the
 * facts behind which tracepoints the other headers attach to.
 * Relies on memtrace.bpf.c for nr_cpus (and memtrace.h's MT_*); included
 * by it right after the shared state, before every concern's header.
 */
#ifndef MEMTRACE_COMPAT_BPF_H
#define MEMTRACE_COMPAT_BPF_H

#include <bpf/bpf_core_read.h>

/*
 * Generation of an mm, so state keyed by the mm's address is not inherited
 * by a new mm that reuses the address after the old one is freed.
 * x86 gives every mm a unique, increasing mm->context.ctx_id
 * (init_new_context(), since 4.15 "x86/mm: Give each mm a unique ID").
 * Elsewhere we fall back to the owner task pointer (CONFIG_MEMCG), which
 * changes when the address is reused by another process's mm, and to 0
 * (no check) where neither exists.
 */
static __always_inline __u64 mm_generation(struct mm_struct *mm)
{
	if (bpf_core_field_exists(mm->context.ctx_id))
		return mm->context.ctx_id;
	if (bpf_core_field_exists(mm->owner))
		return (__u64)mm->owner;
	return 0;
}

/*
 * sched_process_exit. Since 6.16 do_exit() raises it before exit_mm(), and
 * with a group_dead argument; before, it came after exit_mm(), with the
 * task only.
 *
 * True when the exiting task's thread group is dead. signal->live is
 * decremented before the tracepoint on every kernel (do_exit: group_dead =
 * atomic_dec_and_test(&tsk->signal->live)), so reading it works with or
 * without the 6.16 argument.
 */
static __always_inline bool task_group_dead(struct task_struct *p)
{
	return p->signal->live.counter == 0;
}

/*
 * The exiting task's mm as sched_process_exit sees it. From 6.16 (before
 * exit_mm()) it is still in place: the exit record carries the RSS the
 * process held when it died, and the teardown that follows is not traced
 * (the caller forgets the mm there). Before 6.16 exit_mm() had already
 * cleared it (NULL: the record's total_vm reads 0) and the teardown showed
 * first, as rss records.
 */
static __always_inline struct mm_struct *exit_tp_mm(struct task_struct *p)
{
	return p->mm;
}

/*
 * Exact RSS: mm->rss_stat[] are percpu_counters since 6.2 ("mm: convert
 * mm's rss stats into percpu_counter"). Their folded ->count lags the truth
 * by up to batch-1 pages per CPU, so we add every CPU's delta, as
 * percpu_counter_sum() does. (Before 6.2 rss_stat was a struct of atomic
 * counts fed from per-thread caches flushed about every 64 faults
 * (SPLIT_RSS_COUNTING): the accesses below do not relocate there, so the
 * programs that read them do not load.)
 *
 * Reading another CPU's slot needs its per-CPU offset. Without kallsyms
 * data symbols (CONFIG_KALLSYMS_ALL unset) there is no __per_cpu_offset[]
 * to take as a __ksym, and a vmlinux BTF without __percpu type tags (every
 * GCC-built kernel) makes the verifier reject bpf_per_cpu_ptr() on
 * ->counters. Instead the offsets are learnt at run time: the address of a
 * PERCPU_ARRAY's element on CPU n (bpf_map_lookup_percpu_elem) minus the
 * array's per-cpu base pointer (struct bpf_array.pptrs[0]) is CPU n's
 * per-cpu offset.
 *
 * The verifier only lets those pointers become numbers through a global
 * (allowed with CAP_PERFMON). A global is shared by every CPU, so this runs
 * once, from the loader (BPF_PROG_RUN), before any tracepoint is attached:
 * nothing can race it.
 */
__u64 cpu_off[MT_MAX_CPUS] = {};
__u32 cpu_off_ready = 0;
volatile __u64 launder = 0;	/* learn_cpu_offsets() only */

/* One element per CPU: its addresses reveal the per-CPU offsets. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} pcpu_probe SEC(".maps");

SEC("syscall")
int learn_cpu_offsets(void *ctx)
{
	struct bpf_array *arr;
	__u64 base = 0, elem;
	__u32 zero = 0, cpu;
	void *p;

	launder = (__u64)(void *)&pcpu_probe;
	arr = (struct bpf_array *)launder;
	if (bpf_probe_read_kernel(&base, sizeof(base),
				  (void *)arr + bpf_core_field_offset(struct bpf_array, pptrs)))
		return 1;
	for (cpu = 0; cpu < MT_MAX_CPUS && cpu < nr_cpus; cpu++) {
		p = bpf_map_lookup_percpu_elem(&pcpu_probe, &zero, cpu);
		if (!p)
			return 2;
		launder = (__u64)p;
		elem = launder;
		cpu_off[cpu] = elem - base;
	}
	cpu_off_ready = 1;
	return 0;
}

/* 6.2+, like the percpu_counter rss_stat itself ("bpf: Add a kfunc for
 * generic type cast"): an arbitrary kernel address as an untrusted BTF
 * pointer, read with plain (fault-safe) loads instead of a
 * bpf_probe_read_kernel() call per CPU. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/* One CPU's slot of a percpu_counter (cpu < nr_cpus): its change since
 * the last fold. The exact value is count + every CPU's slot, as
 * percpu_counter_sum() adds them (rss.bpf.h: sum_recording(), and when
 * only one slot moved, exact_value()). Read without the counter's lock: a
 * concurrent fold on another CPU can move a batch between the two places
 * mid-read (see README). */
static __always_inline __s32 counter_slot(struct percpu_counter *pc, __u32 cpu)
{
	struct qspinlock *slot = bpf_rdonly_cast((void *)((__u64)pc->counters +
							  cpu_off[cpu & (MT_MAX_CPUS - 1)]),
						 bpf_core_type_id_kernel(struct qspinlock));

	return slot->val.counter;
}

/* The percpu_counter of member m. A constant offset per member: the
 * verifier takes no variable offset into a BTF pointer. */
static __always_inline struct percpu_counter *member_counter(struct mm_struct *mm, int member)
{
	switch (member) {
	case MT_FILE:	return &mm->rss_stat[MT_FILE];
	case MT_ANON:	return &mm->rss_stat[MT_ANON];
	case MT_SWAP:	return &mm->rss_stat[MT_SWAP];
	default:	return &mm->rss_stat[MT_SHMEM];
	}
}

/*
 * An mm's dumpable state (get_dumpable(): SUID_DUMP_DISABLE 0, USER 1,
 * ROOT 2), the low two bits of mm->flags (MMF_DUMPABLE_MASK), which
 * begin_new_exec() sets from the new credentials and which ptrace's
 * access check reads. 6.18 ("mm: convert mm->flags to mm_flags_t")
 * turned `unsigned long flags` into `mm_flags_t flags`, a bitmap whose
 * first word holds the same bits. Both layouts as local flavours: CO-RE
 * keeps the one the running kernel has, the other branch is dead code.
 */
#define MT_SUID_DUMP_USER 1

typedef struct {
	unsigned long __mm_flags[1];
} mm_flags_t___mt;

struct mm_struct___bitmap_flags {
	mm_flags_t___mt flags;
} __attribute__((preserve_access_index));

struct mm_struct___word_flags {
	unsigned long flags;
} __attribute__((preserve_access_index));

static __always_inline __u32 mm_dumpable(struct mm_struct *mm)
{
	if (bpf_core_type_exists(mm_flags_t___mt))
		return ((struct mm_struct___bitmap_flags *)mm)->flags.__mm_flags[0] & 3;
	return ((struct mm_struct___word_flags *)mm)->flags & 3;
}

/*
 * Tracepoints the other headers attach to, and what each assumes:
 *
 * - tp_btf/rss_stat (kmem:rss_stat, since 5.5 "mm: emit tracepoint when
 *   RSS changes"): the BTF arguments were (mm, member, count) until 6.2
 *   dropped count with the percpu_counter conversion: (mm, member). The
 *   handler declares only the two both have and reads the value itself
 *   (rss.bpf.h: exact_value()), never count. The classic tracefs event's `size` field
 *   is exact but has no mm pointer, and needs tracefs mounted.
 *
 * - tp_btf/page_fault_user (exceptions:page_fault_user, args address,
 *   regs, error_code): x86 only (arch/x86/include/asm/trace/exceptions.h);
 *   arm64 and the rest have no such tracepoint (perf's page-faults
 *   software event would stand in). It fires before the fault is handled.
 *   One reason the Makefile refuses other arches.
 *
 * - tp_btf/sys_enter and tp_btf/sys_exit (raw_syscalls, args (regs, id) and
 *   (regs, ret)): every syscall, filtered here by number (syscalls.h, x86_64
 *   numbering) rather than attached to syscalls:sys_enter_mmap & co: those
 *   are synthetic events that ftrace's syscall tracing
 *   (kernel/trace/trace_syscalls.c) creates, not tracepoints, so tp_btf and
 *   raw_tp cannot attach to them, and the tracefs `tracepoint/` route
 *   needs tracefs mounted. Arguments are read from the x86_64 pt_regs of
 *   the syscall ABI: di, si, dx, r10 (args 0-3), orig_ax (the number).
 */

#endif /* MEMTRACE_COMPAT_BPF_H */
