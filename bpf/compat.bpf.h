/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel differences live here, and only here. Each shim names the kernel
 * change it covers. Nothing is keyed on LINUX_VERSION_CODE: CO-RE asks the
 * running kernel's BTF.
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
 * True when the exiting task's thread group is dead. Since 6.16
 * sched_process_exit carries a group_dead argument, but older kernels pass
 * only the task; signal->live is decremented before the tracepoint in both
 * (do_exit: group_dead = atomic_dec_and_test(&tsk->signal->live)), so
 * reading it works on every kernel.
 */
static __always_inline bool task_group_dead(struct task_struct *p)
{
	return p->signal->live.counter == 0;
}

#endif /* MEMTRACE_COMPAT_BPF_H */
