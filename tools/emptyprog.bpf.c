// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * emptyprog.bpf.c: yardsticks for `make bench`, loaded by tools/emptyprog.c.
 *
 * empty_rss_stat, empty_fault: programs on the two tracepoints memtrace-bpf
 * needs per change (tp_btf/rss_stat, tp_btf/page_fault_user) that return at
 * once. What a storm costs under them is what any tool built on these
 * tracepoints pays before it does anything: the limit of the approach.
 *
 * slots_rss_stat (instead of the empty ones, with emptyprog -r N): on every
 * rss_stat event, N reads of the event's counter's per-CPU slots, CPU after
 * CPU round the possible CPUs, the way a full sum of a percpu_counter walks
 * them (the CPU's per-cpu offset from a global array, an untrusted cast of
 * slot address, one 4-byte load, an add); with keep set, each value is also
 * stored in that CPU's element of a per-CPU array, as a full sum that keeps
 * every slot for the next event's comparison does. The ns/call at N reads
 * minus the ns/call at 0 reads, over N, is the cost of one slot read
 * (tools/progcost.py). Every event pays, whoever's mm it is: run_cnt is then
 * the number of events that did N reads.
 *
 * floor_rss_stat (emptyprog -f, instead of the empty ones): on every
 * rss_stat event, the least a tool that keeps every change with its time
 * does: one clock read (bpf_ktime_get_ns) and one record of memtrace-bpf's
 * record size (EP_REC_BYTES) reserved in a ring buffer, stamped and
 * submitted without a wake-up; the loader drains the ring as memtrace-bpf
 * does. No lookup, no sum, no peak, no cause: its ns/call over the empty
 * program's is the floor of the per-change cost ratio.
 *
 * Per-CPU offsets without data symbols in kallsyms (kernels built without
 * CONFIG_KALLSYMS_ALL have no __per_cpu_offset and no percpu __ksym, and
 * their BTF no __percpu tags for bpf_per_cpu_ptr()): the address of
 * CPU n's element of a PERCPU_ARRAY map, minus the map's per-cpu pointer
 * (struct bpf_array.pptrs[0]), is CPU n's offset; learn_offsets() runs once
 * from the loader (BPF_PROG_RUN) before anything is attached. Written here
 * again rather than shared with bpf/: this object measures the method, and
 * must not change when memtrace-bpf's own programs do.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define EP_MAX_CPUS 1024	/* a power of two: the index mask below */
#define EP_MAX_READS 4096

const volatile __u32 nr_cpus = 1;	/* possible CPUs (the loader's count) */
const volatile __u32 reads = 0;		/* slot reads per rss_stat event */
const volatile bool keep = false;	/* also store each value, per CPU */

__u64 cpu_offset[EP_MAX_CPUS] = {};
__s64 sink = 0;				/* the reads' sum: they must happen */
volatile __u64 as_number = 0;		/* a pointer becomes a number here */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __s32);
} percpu_probe SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __s32);
} kept SEC(".maps");

/* memtrace-bpf's struct mt_rec is this size (bpf/memtrace.h) */
#define EP_REC_BYTES 168

struct ep_rec {
	__u64 ts;
	__u8 rest[EP_REC_BYTES - 8];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} floor_ring SEC(".maps");

__u64 floor_lost = 0;			/* the ring was full */

/* 6.2+: a kernel address as an untrusted BTF pointer, read with plain
 * fault-safe loads (the verifier inlines the call away). */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

SEC("tp_btf/rss_stat")
int empty_rss_stat(void *ctx)
{
	return 0;
}

SEC("tp_btf/page_fault_user")
int empty_fault(void *ctx)
{
	return 0;
}

SEC("tp_btf/rss_stat")
int floor_rss_stat(void *ctx)
{
	struct ep_rec *r = bpf_ringbuf_reserve(&floor_ring, sizeof(*r), 0);

	if (!r) {
		__sync_fetch_and_add(&floor_lost, 1);
		return 0;
	}
	r->ts = bpf_ktime_get_ns();
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}

/* The per-CPU slots of counter member of mm (constant indices: the
 * verifier refuses a variable offset into a trusted pointer). */
static __always_inline __u64 slots_of(struct mm_struct *mm, int member)
{
	switch (member) {
	case 0: return (__u64)mm->rss_stat[0].counters;
	case 1: return (__u64)mm->rss_stat[1].counters;
	case 2: return (__u64)mm->rss_stat[2].counters;
	default: return (__u64)mm->rss_stat[3].counters;
	}
}

/* (mm, member) are the first two arguments since 5.5; the slots exist
 * since 6.2 made mm->rss_stat percpu_counters. */
SEC("tp_btf/rss_stat")
int BPF_PROG(slots_rss_stat, struct mm_struct *mm, int member)
{
	__u64 slots = slots_of(mm, member);
	__u32 i, cpu = 0, zero = 0;
	__s64 sum = 0;

	for (i = 0; i < EP_MAX_READS && i < reads; i++) {
		/* refcount_struct: a kernel struct that is one 4-byte int, as
		 * a slot is (bpf_rdonly_cast wants a struct type) */
		struct refcount_struct *slot =
			bpf_rdonly_cast((void *)(slots + cpu_offset[cpu & (EP_MAX_CPUS - 1)]),
					bpf_core_type_id_kernel(struct refcount_struct));
		__s32 v = slot->refs.counter;

		sum += v;
		if (keep) {
			__s32 *k = bpf_map_lookup_percpu_elem(&kept, &zero, cpu);

			if (k)
				*k = v;
		}
		if (++cpu >= nr_cpus)
			cpu = 0;
	}
	sink += sum;
	return 0;
}

SEC("syscall")
int learn_offsets(void *ctx)
{
	__u64 pptr = 0;
	__u32 zero = 0, cpu;

	as_number = (__u64)(void *)&percpu_probe;
	if (bpf_probe_read_kernel(&pptr, sizeof(pptr),
				  (void *)(as_number + bpf_core_field_offset(struct bpf_array, pptrs))))
		return 1;
	for (cpu = 0; cpu < EP_MAX_CPUS && cpu < nr_cpus; cpu++) {
		void *elem = bpf_map_lookup_percpu_elem(&percpu_probe, &zero, cpu);

		if (!elem)
			return 2;
		as_number = (__u64)elem;
		cpu_offset[cpu] = as_number - pptr;
	}
	return 0;
}
