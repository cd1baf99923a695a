// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <malloc.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "lib/clock.h"
#include "lib/files.h"
#include "lib/grow.h"
#include "trace/tracer.h"
#include "memtrace.skel.h"

#define MAX_USDT_LINKS 64

struct local_tracer {
	struct tracer base;	/* first: a struct tracer * is one of these */
	struct memtrace_bpf *skel;
	/* one link per binary (attached for every process: a second link on
	 * the same file would record each mark twice) */
	struct bpf_link *usdt[MAX_USDT_LINKS];
	dev_t usdt_dev[MAX_USDT_LINKS];
	ino_t usdt_ino[MAX_USDT_LINKS];
	int nusdt;
	struct ring_buffer *rb;
	/* records of one drain, sorted by time before they are handed on */
	struct mt_rec *batch;
	size_t n, cap;
	size_t most;		/* the largest batch since shrink_ns */
	uint64_t shrink_ns;	/* when room was last looked at */
	int batch_err;
	uint32_t group_cursor;	/* where tracer__group_take looks first */
	uint32_t nslots;	/* mms with per-CPU slot records at once */
	uint64_t ring_bytes;
	uint64_t released_ns;	/* tracer__released_ns */
	uint64_t window_ns;	/* tracer_opts */
	bool exclusive;		/* tracer_opts */
	bool capped;		/* a group has had a ring share (the daemon's):
				   each record read gives its room back */
	uint64_t ring_records;	/* read from the ring (a window one) */
	uint64_t ring_windows;	/* of them, kernel windows */
};

static const struct tracer_ops local_ops;
static void local_destroy(struct tracer *base);
static uint64_t local_hold_ns(const struct tracer *base);

static bool verbose_log;
/* libbpf's last messages, replayed when a step fails (-v prints them all). */
static char last_log[4096];

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[512];
	size_t used, n;

	if (verbose_log)
		return vfprintf(stderr, fmt, ap);
	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	used = strlen(last_log);
	n = strlen(line);
	if (used + n >= sizeof(last_log))
		last_log[0] = 0, used = 0;
	memcpy(last_log + used, line, n + 1);
	return 0;
}

static void explain(char *err, size_t len, const char *step, int e, const char *next)
{
	snprintf(err, len, "%s failed: %s.%s%s%s%s", step, strerror(e),
		 next ? " " : "", next ? next : "",
		 last_log[0] ? "\nlibbpf said:\n" : "", last_log);
}

void rec_sort(struct mt_rec *r, size_t n)
{
	/* insertion sort: linear on nearly sorted input, and stable */
	for (size_t i = 1; i < n; i++) {
		struct mt_rec x;
		size_t j = i;

		if (r[i - 1].ts_ns <= r[i].ts_ns)
			continue;
		x = r[i];
		while (j > 0 && r[j - 1].ts_ns > x.ts_ns) {
			r[j] = r[j - 1];
			j--;
		}
		r[j] = x;
	}
}

size_t rec_ready(const struct mt_rec *r, size_t n, uint64_t cutoff_ns)
{
	size_t k = n;

	while (k > 0 && r[k - 1].ts_ns > cutoff_ns)
		k--;
	return k;
}

static int batch_add(struct local_tracer *t, const struct mt_rec *r)
{
	if (grow(&t->batch, &t->cap, t->n, sizeof(*t->batch), 4096)) {
		t->batch_err = -ENOMEM;
		return -ENOMEM;
	}
	memcpy(&t->batch[t->n++], r, sizeof(*r));
	return 0;
}

/* A kernel window (its minimum, maximum and last change) as the records
 * of its distinct changes, in time order, `folded` giving the changes
 * each stands for: one each, the last the rest. */
static int add_window(struct local_tracer *t, const struct mt_win_out *w)
{
	const struct mt_rec *in[3] = { &w->rec[0], &w->rec[1], &w->rec[2] };
	uint32_t n = w->rec[0].folded, k = 0;
	struct mt_rec out[3];

	for (int i = 1; i < 3; i++)	/* by time: three, by hand */
		for (int j = i; j > 0 && in[j - 1]->ts_ns > in[j]->ts_ns; j--) {
			const struct mt_rec *x = in[j];

			in[j] = in[j - 1];
			in[j - 1] = x;
		}
	for (int i = 0; i < 3; i++) {
		if (k && out[k - 1].ts_ns == in[i]->ts_ns && out[k - 1].tid == in[i]->tid)
			continue;	/* one change, twice an extreme */
		out[k] = *in[i];
		out[k].folded = 1;
		k++;
	}
	out[k - 1].folded = n > k - 1 ? n - (k - 1) : 1;
	for (uint32_t i = 0; i < k; i++)
		if (batch_add(t, &out[i]))
			return -ENOMEM;
	return 0;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct local_tracer *t = ctx;

	t->ring_records++;
	if (size == sizeof(struct mt_win_out)) {
		t->ring_windows++;
		return add_window(t, data);
	}
	if (size < sizeof(struct mt_rec)) {
		fprintf(stderr, "memtrace-bpf: bug: short record (%zu bytes)\n", size);
		return 0;
	}
	if (t->capped) {
		/* read: one less of its group's ring share in use */
		struct mt_group *g = &t->skel->bss->groups[((const struct mt_rec *)data)->group &
							   (MT_MAX_GROUPS - 1)];

		if (__atomic_load_n(&g->ring_cap, __ATOMIC_RELAXED))
			__atomic_fetch_sub(&g->pending, 1, __ATOMIC_RELAXED);
	}
	return batch_add(t, data);
}

/* The windows the kernel holds (processes alive at the end, or that went
 * quiet before their timer fired): read under their locks, into the
 * batch. A window the kernel writes to the ring meanwhile is in the batch
 * twice; tracer__poll drops the copy. */
static int flush_windows(struct local_tracer *t)
{
	int fd = bpf_map__fd(t->skel->maps.wins);
	__u64 key, next, *prev = NULL;
	struct mt_win v;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem_flags(fd, &key, &v, BPF_F_LOCK) || !v.n)
			continue;
		v.win.rec[0].folded = v.n;
		if (add_window(t, &v.win))
			return -ENOMEM;
	}
	return 0;
}

/* After a final flush: a window read from the map and from the ring is
 * there twice, record for record; the copies are dropped (sorted: equal
 * times are together). */
static void drop_copies(struct local_tracer *t)
{
	size_t k = 0;

	for (size_t i = 0; i < t->n; i++) {
		bool copy = false;

		for (size_t j = k; j-- > 0 && t->batch[j].ts_ns == t->batch[i].ts_ns;)
			if (t->batch[i].type == MT_REC_RSS &&
			    !memcmp(&t->batch[j], &t->batch[i], sizeof(t->batch[i]))) {
				copy = true;
				break;
			}
		if (!copy)
			t->batch[k++] = t->batch[i];
	}
	t->n = k;
}

int tracer__open(struct tracer **out, const struct tracer_opts *o, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = o->btf_path);
	struct local_tracer *t;
	int cpus, e;

	verbose_log = o->verbose;
	libbpf_set_print(libbpf_print);
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->base.ops = &local_ops;
	t->ring_bytes = o->ring_bytes;
	t->exclusive = o->exclusive;
	cpus = libbpf_num_possible_cpus();
	if (cpus <= 0 || cpus > MT_MAX_CPUS) {
		snprintf(err, errlen, "this machine has %d possible CPUs; memtrace-bpf supports 1 to %d",
			 cpus, MT_MAX_CPUS);
		e = -ERANGE;
		goto fail;
	}
	t->skel = memtrace_bpf__open_opts(&oo);
	if (!t->skel) {
		e = -errno;
		explain(err, errlen, "opening the BPF object", -e,
			"Check that the kernel BTF (--btf) is readable.");
		goto fail;
	}
	t->skel->rodata->nr_cpus = (__u32)cpus;
	t->skel->rodata->follow_children = o->follow;
	if (o->capture_comm)
		strncpy((char *)t->skel->rodata->capture_comm, o->capture_comm, MT_COMM_LEN - 1);
	t->skel->rodata->capture_cgroup_id = o->capture_cgroup_id;
	t->skel->rodata->capture_cgroup_level = o->capture_cgroup_level;
	/* wake the consumer once an eighth of the ring is waiting */
	t->skel->rodata->wakeup_bytes = o->ring_bytes / 8;
	bpf_map__set_max_entries(t->skel->maps.rb, (__u32)o->ring_bytes);
	bpf_map__set_max_entries(t->skel->maps.procs, o->max_procs);
	bpf_map__set_max_entries(t->skel->maps.mms, o->max_procs);
	bpf_map__set_max_entries(t->skel->maps.exited, o->max_procs);
	t->window_ns = o->window_ns;
	t->skel->rodata->window_ns = o->window_ns;
	bpf_map__set_max_entries(t->skel->maps.wins, o->window_ns ? o->max_procs : 1);
	/* the per-CPU slot records of the mms whose exact values move by one
	 * read (rss.bpf.h); past that many at once, full sums */
	t->nslots = o->max_procs < TRACER_MAX_SLOTS ? o->max_procs : TRACER_MAX_SLOTS;
	bpf_map__set_max_entries(t->skel->maps.slots, t->nslots);
	bpf_map__set_max_entries(t->skel->maps.slot_free, t->nslots);
	bpf_program__set_autoattach(t->skel->progs.snapshot_targets, false);
	bpf_program__set_autoattach(t->skel->progs.fold_faults, false);
	bpf_program__set_autoattach(t->skel->progs.untrace_tasks, false);
	bpf_program__set_autoattach(t->skel->progs.on_usdt_mark, false);

	e = memtrace_bpf__load(t->skel);
	if (e) {
		explain(err, errlen, "loading the BPF programs", -e,
			"This kernel needs BTF, tp_btf and a ring buffer (5.8+; exact sums need 6.2+); run with -v for the verifier log.");
		goto fail;
	}
	/* learn the per-CPU offsets once, before anything can race it */
	{
		LIBBPF_OPTS(bpf_test_run_opts, ro);

		e = bpf_prog_test_run_opts(bpf_program__fd(t->skel->progs.learn_cpu_offsets), &ro);
		if (e || ro.retval || !t->skel->bss->cpu_off_ready) {
			e = e ? -errno : -ENOTSUP;
			snprintf(err, errlen,
				 "learning the per-CPU counter offsets failed (%s, step %u): "
				 "exact RSS sums are not possible on this kernel. Run with -v for details.",
				 strerror(-e), ro.retval);
			goto fail;
		}
	}
	for (__u32 i = 0; i < t->nslots; i++) {
		if (bpf_map_update_elem(bpf_map__fd(t->skel->maps.slot_free), NULL, &i, BPF_ANY)) {
			e = -errno;
			explain(err, errlen, "filling the slot index queue", -e, NULL);
			goto fail;
		}
	}
	/* capture: each group the kernel starts gets these from its first
	 * event, so they are in place before anything is attached */
	if (o->capture_guard)
		t->skel->bss->capture_guard = *o->capture_guard;
	e = memtrace_bpf__attach(t->skel);
	if (e) {
		explain(err, errlen, "attaching to the kernel tracepoints", -e,
			"rss_stat, page_fault_user, sys_enter/sys_exit and sched_process_* must exist; run with -v for details.");
		goto fail;
	}
	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.rb), on_record, t, NULL);
	if (!t->rb) {
		e = -errno;
		explain(err, errlen, "opening the ring buffer", -e, NULL);
		goto fail;
	}
	*out = &t->base;
	return 0;
fail:
	local_destroy(&t->base);
	return e < 0 ? e : -EINVAL;
}

static void local_destroy(struct tracer *base)
{
	struct local_tracer *t = (struct local_tracer *)base;

	if (!t)
		return;
	ring_buffer__free(t->rb);
	for (int i = 0; i < t->nusdt; i++)
		bpf_link__destroy(t->usdt[i]);
	memtrace_bpf__destroy(t->skel);
	free(t->batch);
	free(t);
}

static int local_expect_exec(struct tracer *base, pid_t pid, uint32_t group)
{
	struct local_tracer *t = (struct local_tracer *)base;
	struct mt_proc p = { .flags = MT_PROC_PENDING_EXEC, .group = group };
	__u32 key = (__u32)pid;

	/* exclusive: a pid another group (another user's) traces is not
	 * taken over */
	if (bpf_map_update_elem(bpf_map__fd(t->skel->maps.procs), &key, &p,
				t->exclusive ? BPF_NOEXIST : BPF_ANY))
		return errno == EEXIST && t->exclusive ? -EBUSY : -errno;
	return 0;
}

static int local_attach_marks(struct tracer *base, const char *binary)
{
	struct local_tracer *t = (struct local_tracer *)base;
	struct bpf_link *l;
	char path[4096], magic[4];
	struct stat st;
	int fd, e;

	/* a script (a pyenv shim, a shell wrapper) or a missing file has no
	 * probes: libbpf would only fail on it */
	if (exec_path(binary, path, sizeof(path)))
		return -ENOENT;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	e = fstat(fd, &st) == 0 && read(fd, magic, 4) == 4 && !memcmp(magic, "\177ELF", 4);
	close(fd);
	if (!e)
		return -ENOENT;
	for (int i = 0; i < t->nusdt; i++)
		if (t->usdt_dev[i] == st.st_dev && t->usdt_ino[i] == st.st_ino)
			return 0;	/* a campaign's next run of the same binary */
	if (t->nusdt == MAX_USDT_LINKS)
		return -E2BIG;
	last_log[0] = 0;
	l = bpf_program__attach_usdt(t->skel->progs.on_usdt_mark, -1, path, "memtrace", "mark",
				     NULL);
	if (!l) {
		e = -errno;
		/* no memtrace:mark note in the binary: not an error */
		return e == -ENOENT || e == -ESRCH ? -ENOENT : e;
	}
	t->usdt_dev[t->nusdt] = st.st_dev;
	t->usdt_ino[t->nusdt] = st.st_ino;
	t->usdt[t->nusdt++] = l;
	return 0;
}

static int local_set_mark_fd(struct tracer *base, pid_t pid, int fd, bool log_capture)
{
	struct local_tracer *t = (struct local_tracer *)base;
	int map = bpf_map__fd(t->skel->maps.procs);
	__u32 key = (__u32)pid;
	struct mt_proc p;

	if (bpf_map_lookup_elem(map, &key, &p))
		return -errno;
	p.mark_fd = fd >= 0 ? (__u32)fd + 1 : 0;
	p.mark_file = 0;	/* learnt at exec */
	p.log_capture = log_capture;
	if (bpf_map_update_elem(map, &key, &p, BPF_EXIST))
		return -errno;
	return 0;
}

/* Runs an iter/task program once over every task of the machine. */
static int run_task_iter(struct bpf_program *prog)
{
	struct bpf_link *link = bpf_program__attach_iter(prog, NULL);
	char buf[64];
	int fd, e = 0;

	if (!link)
		return -errno;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		e = -errno;
	} else {
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		close(fd);
	}
	bpf_link__destroy(link);
	return e;
}

static int local_attach_pids(struct tracer *base, const pid_t *pids, int n, uint32_t group,
			bool *no_mm)
{
	struct local_tracer *t = (struct local_tracer *)base;
	int fd = bpf_map__fd(t->skel->maps.procs), e;

	for (int i = 0; i < n; i++) {
		struct mt_proc p = { .flags = MT_PROC_PENDING_ATTACH, .group = group };
		__u32 key = (__u32)pids[i];

		if (bpf_map_update_elem(fd, &key, &p, t->exclusive ? BPF_NOEXIST : BPF_ANY)) {
			e = errno == EEXIST && t->exclusive ? -EBUSY : -errno;
			/* exclusive: all or none (those added here are ours) */
			while (t->exclusive && i-- > 0) {
				key = (__u32)pids[i];
				bpf_map_delete_elem(fd, &key);
			}
			return e;
		}
	}
	e = run_task_iter(t->skel->progs.snapshot_targets);
	if (e)
		return e;
	for (int i = 0; i < n; i++) {
		struct mt_proc p;
		__u32 key = (__u32)pids[i];
		bool found = bpf_map_lookup_elem(fd, &key, &p) == 0;

		/* refused for an owned group (another user's process): gone;
		 * the kernel forgets it on its own if it exits first */
		if (found && (p.flags & MT_PROC_REFUSED)) {
			bpf_map_delete_elem(fd, &key);
			no_mm[i] = true;
			continue;
		}
		no_mm[i] = found ? !p.mm : t->exclusive;
		/* the daemon's: an entry the snapshot did not reach (the
		 * process ended first) must not wait under a PID that may
		 * become another's */
		if (found && !p.mm && t->exclusive)
			bpf_map_delete_elem(fd, &key);
	}
	return 0;
}

static int local_fold_faults(struct tracer *base)
{
	struct local_tracer *t = (struct local_tracer *)base;

	return run_task_iter(t->skel->progs.fold_faults);
}

/* The room of a burst (a drain after a stall can read the whole ring) is
 * given back once a second has gone without needing it: the loader's
 * memory follows what is live, not the largest drain of the run (a 5-min
 * soak at --resolution 1ms held 15 MB more at its end without this). */
#define BATCH_KEEP 4096
static void shrink_batch(struct local_tracer *t, uint64_t now)
{
	size_t want = t->most * 2 < BATCH_KEEP ? BATCH_KEEP : t->most * 2;
	struct mt_rec *b;

	if (now - t->shrink_ns < 1000000000ULL)
		return;
	t->shrink_ns = now;
	t->most = t->n;
	if (t->cap <= want || want < t->n)
		return;
	b = realloc(t->batch, want * sizeof(*b));
	if (b) {
		t->batch = b;
		t->cap = want;
	}
	/* glibc keeps a freed block in its heap: give its pages back */
	malloc_trim(0);
}

static int local_poll(struct tracer *base, int timeout_ms, bool final, tracer_rec_fn fn,
		 tracer_rec_fn urgent, void *ctx)
{
	struct local_tracer *t = (struct local_tracer *)base;
	size_t ready, held = t->n;
	int e = ring_buffer__poll(t->rb, timeout_ms);

	if (e < 0 && e != -EINTR)
		return e;
	/* records submitted with BPF_RB_NO_WAKEUP only show up on consume;
	 * what was committed before t0 is read by it: the release is
	 * counted from t0, not from after the read and the sort (a large
	 * batch takes milliseconds, and records committed meanwhile would
	 * come late, behind rows already written) */
	uint64_t t0 = mono_ns();

	e = ring_buffer__consume(t->rb);
	if (e < 0 && e != -EINTR)
		return e;
	if (t->batch_err) {
		e = t->batch_err;
		t->batch_err = 0;
		t->n = 0;
		return e;
	}
	/* the windows the kernel still holds, then what the ring got while
	 * they were read (a timer may have written one of them meanwhile) */
	if (final && t->window_ns) {
		if ((e = flush_windows(t)) || (e = ring_buffer__consume(t->rb)) < 0 || t->batch_err) {
			e = e < 0 ? e : t->batch_err ? t->batch_err : 0;
			t->batch_err = 0;
			if (e < 0 && e != -EINTR) {
				t->n = 0;
				return e;
			}
		}
	}
	/* a guard or an alert is acted on as soon as it is read; its row
	 * takes its place in the time order below */
	for (size_t i = held; urgent && i < t->n; i++)
		if (t->batch[i].type == MT_REC_GUARD || t->batch[i].type == MT_REC_ALERT)
			urgent(ctx, &t->batch[i]);
	/* the records held from the last call are at the front */
	rec_sort(t->batch, t->n);
	if (final && t->window_ns)
		drop_copies(t);
	t->released_ns = final ? UINT64_MAX : t0 - local_hold_ns(&t->base);
	ready = rec_ready(t->batch, t->n, t->released_ns);
	e = 0;
	for (size_t i = 0; i < ready && !e; i++)
		e = fn(ctx, &t->batch[i]);
	memmove(t->batch, t->batch + ready, (t->n - ready) * sizeof(*t->batch));
	if (t->n > t->most)
		t->most = t->n;
	t->n -= ready;
	shrink_batch(t, t0);
	return e < 0 ? e : 0;
}

static void local_ring_counts(const struct tracer *base, uint64_t *records, uint64_t *windows)
{
	const struct local_tracer *t = (const struct local_tracer *)base;

	*records = t->ring_records;
	*windows = t->ring_windows;
}

static uint64_t local_hold_ns(const struct tracer *base)
{
	const struct local_tracer *t = (const struct local_tracer *)base;

	/* a window reaches the ring at its end, its timer a little later */
	return 2000000ULL + (t->window_ns ? t->window_ns + TRACER_WINDOW_LAG_NS : 0);
}

static uint64_t local_released_ns(const struct tracer *base)
{
	const struct local_tracer *t = (const struct local_tracer *)base;

	return t->released_ns;
}

static uint64_t local_ring_bytes(const struct tracer *base)
{
	const struct local_tracer *t = (const struct local_tracer *)base;

	return t->ring_bytes;
}

static int local_poll_fd(struct tracer *base)
{
	struct local_tracer *t = (struct local_tracer *)base;

	return ring_buffer__epoll_fd(t->rb);
}

static void local_counters(struct tracer *base, struct mt_counters *c)
{
	struct local_tracer *t = (struct local_tracer *)base;

	*c = t->skel->bss->counters;
}

static void local_cost(struct tracer *base, struct mt_cost *c)
{
	struct local_tracer *t = (struct local_tracer *)base;
	int ncpu = libbpf_num_possible_cpus();
	struct mt_cost *per;
	__u32 zero = 0;

	memset(c, 0, sizeof(*c));
	if (ncpu <= 0 || !(per = calloc((size_t)ncpu, sizeof(*per))))
		return;
	if (!bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.cost), &zero, per)) {
		for (int i = 0; i < ncpu; i++) {
			c->rss_events += per[i].rss_events;
			c->full_sums += per[i].full_sums;
		}
	}
	free(per);
}

static void local_group(struct tracer *base, uint32_t group, struct mt_group *g)
{
	struct local_tracer *t = (struct local_tracer *)base;

	*g = t->skel->bss->groups[group & (MT_MAX_GROUPS - 1)];
}

static void group_reset(struct local_tracer *t, uint32_t group)
{
	struct mt_group *g = &t->skel->bss->groups[group & (MT_MAX_GROUPS - 1)];

	g->tree_pages = 0;
	g->tree_peak_pages = 0;
	g->tree_peak_ts_ns = 0;
	g->lost = 0;
	g->untraced = 0;
	g->ring_cap = 0;
	g->pending = 0;
	g->live_cap = 0;
	memset(&g->guard, 0, sizeof(g->guard));
	/* root's until tracer__group_setup says whose */
	g->owner_uid = 0;
	g->owner_gid = 0;
	g->gflags = 0;
	g->left = 0;
}

static int local_group_take(struct tracer *base, uint32_t *group)
{
	struct local_tracer *t = (struct local_tracer *)base;

	for (uint32_t i = 0; i < MT_MAX_GROUPS - 1; i++) {
		uint32_t idx = (t->group_cursor + i) % (MT_MAX_GROUPS - 1) + 1, zero = 0;
		struct mt_group *g = &t->skel->bss->groups[idx];

		/* the kernel's capture search takes groups the same way */
		if (__atomic_load_n(&g->live, __ATOMIC_ACQUIRE) ||
		    !__atomic_compare_exchange_n(&g->busy, &zero, 1, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			continue;
		t->group_cursor = idx;
		group_reset(t, idx);
		*group = idx;
		return 0;
	}
	return -EBUSY;
}

static void local_group_guard(struct tracer *base, uint32_t group, const struct mt_guard *gd)
{
	struct local_tracer *t = (struct local_tracer *)base;
	struct mt_group *g = &t->skel->bss->groups[group & (MT_MAX_GROUPS - 1)];

	/* before any process of the group runs: the kernel reads it from
	 * the first change on */
	g->guard = *gd;
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static size_t local_group_pids(struct tracer *base, uint32_t group, pid_t *pids, size_t max)
{
	struct local_tracer *t = (struct local_tracer *)base;
	int fd = bpf_map__fd(t->skel->maps.procs);
	__u32 k, next;
	struct mt_proc p;
	void *prev = NULL;
	size_t n = 0;

	while (n < max && !bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (!bpf_map_lookup_elem(fd, &k, &p) && p.group == group &&
		    !(p.flags & MT_PROC_EXITED))
			pids[n++] = (pid_t)k;
	}
	return n;
}

static void local_group_give_back(struct tracer *base, uint32_t group)
{
	struct local_tracer *t = (struct local_tracer *)base;

	__atomic_store_n(&t->skel->bss->groups[group & (MT_MAX_GROUPS - 1)].busy, 0,
			 __ATOMIC_RELEASE);
}

static int local_proc(struct tracer *base, pid_t pid, struct mt_proc *p)
{
	struct local_tracer *t = (struct local_tracer *)base;
	__u32 key = (__u32)pid;
	struct mt_mm m;

	if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.procs), &key, p))
		return -errno;
	if (p->flags & MT_PROC_REFUSED)
		return -ENOENT;	/* refused by an attach: not traced, going */
	if (p->mm && !bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.mms), &p->mm, &m)) {
		if (m.peak_pages > p->peak_pages) {
			p->peak_pages = m.peak_pages;
			p->peak_ts_ns = m.peak_ts_ns;
		}
	}
	return 0;
}


static void local_exit_seen(struct tracer *base, pid_t pid, uint64_t exit_ts_ns)
{
	struct local_tracer *t = (struct local_tracer *)base;
	struct mt_exited_key k = { .tgid = (__u32)pid, .exit_ts_ns = exit_ts_ns };

	bpf_map_delete_elem(bpf_map__fd(t->skel->maps.exited), &k);
}

static int local_each_exited(struct tracer *base, int (*fn)(void *ctx, pid_t pid, const struct mt_proc *p),
			void *ctx)
{
	struct local_tracer *t = (struct local_tracer *)base;
	int fd = bpf_map__fd(t->skel->maps.exited), e;
	struct mt_exited_key k, next;
	struct mt_proc p;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &p))
			continue;
		e = fn(ctx, (pid_t)k.tgid, &p);
		if (e)
			return e;
	}
	return 0;
}

/* The tracer in this process: the BPF side loaded here (tracer__open). */
static const struct tracer_ops local_ops = {
	.destroy = local_destroy,
	.expect_exec = local_expect_exec,
	.attach_marks = local_attach_marks,
	.set_mark_fd = local_set_mark_fd,
	.attach_pids = local_attach_pids,
	.fold_faults = local_fold_faults,
	.poll = local_poll,
	.ring_counts = local_ring_counts,
	.hold_ns = local_hold_ns,
	.released_ns = local_released_ns,
	.ring_bytes = local_ring_bytes,
	.poll_fd = local_poll_fd,
	.counters = local_counters,
	.cost = local_cost,
	.group = local_group,
	.group_take = local_group_take,
	.group_guard = local_group_guard,
	.group_pids = local_group_pids,
	.group_give_back = local_group_give_back,
	.proc = local_proc,
	.exit_seen = local_exit_seen,
	.each_exited = local_each_exited,
};

/* ---- the daemon's owned groups (local tracer only) ---- */

int tracer__group_setup(struct tracer *base, uint32_t group, uint32_t uid, uint32_t gid)
{
	struct local_tracer *t = (struct local_tracer *)base;
	struct mt_group *g;

	if (!base || base->ops != &local_ops)
		return -EOPNOTSUPP;
	g = &t->skel->bss->groups[group & (MT_MAX_GROUPS - 1)];
	/* before any process of the group exists: the owner first, then the
	 * flag that makes the kernel read it */
	g->owner_uid = uid;
	g->owner_gid = gid;
	g->left = 0;
	__atomic_store_n(&g->gflags, MT_GROUP_OWNED, __ATOMIC_RELEASE);
	return 0;
}

/* Pids of the group's procs entries; traced: only of processes traced
 * (not exiting, not refused), else all. */
static int group_entries(struct local_tracer *t, uint32_t group, bool traced, __u32 **out,
			 size_t *n, size_t *cap)
{
	int fd = bpf_map__fd(t->skel->maps.procs);
	__u32 k, next;
	struct mt_proc p;
	void *prev = NULL;

	*n = 0;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &p) || p.group != group ||
		    (traced && (p.flags & (MT_PROC_EXITED | MT_PROC_REFUSED))))
			continue;
		if (grow(out, cap, *n, sizeof(**out), 64))
			return -ENOMEM;
		(*out)[(*n)++] = k;
	}
	return 0;
}

/* An mms entry of the group goes from user space: as mm_forget() and
 * totals_drop() would (its slot index back, its window gone, its pages
 * out of the group's total). */
static void mm_forget_user(struct local_tracer *t, uint32_t group, __u64 key)
{
	struct mt_group *g = &t->skel->bss->groups[group & (MT_MAX_GROUPS - 1)];
	int fd = bpf_map__fd(t->skel->maps.mms);
	struct mt_mm m;

	if (bpf_map_lookup_elem(fd, &key, &m) || m.group != group)
		return;
	if (bpf_map_delete_elem(fd, &key))
		return;		/* the kernel's meanwhile */
	__atomic_fetch_sub(&g->tree_pages, m.rss, __ATOMIC_RELAXED);
	if (m.anon && (g->guard.flags & MT_GUARD_ANON))
		__atomic_fetch_sub(&g->guard.anon_pages, m.anon, __ATOMIC_RELAXED);
	if (m.slot_idx >= 0) {
		__u32 idx = (__u32)m.slot_idx;

		bpf_map_update_elem(bpf_map__fd(t->skel->maps.slot_free), NULL, &idx, BPF_ANY);
	}
	bpf_map_delete_elem(bpf_map__fd(t->skel->maps.wins), &key);
}

/* Entries the iterator could not reach: no task left under the pid (a
 * launched child reaped before its exec, a race with a fork or an exit).
 * A live process's entry is left to the next round (or to its exit). */
static void sweep_entry(struct local_tracer *t, uint32_t group, __u32 pid)
{
	struct mt_group *g = &t->skel->bss->groups[group & (MT_MAX_GROUPS - 1)];
	int fd = bpf_map__fd(t->skel->maps.procs);
	struct mt_proc p;

	if (bpf_map_lookup_elem(fd, &pid, &p) || p.group != group ||
	    (p.flags & MT_PROC_EXITED))
		return;		/* gone, or its exit (or pass 2) holds it */
	if (!(kill((pid_t)pid, 0) && errno == ESRCH))
		return;
	if (bpf_map_delete_elem(fd, &pid))
		return;
	if (p.flags & MT_PROC_COUNTED)
		__atomic_fetch_sub(&g->live, 1, __ATOMIC_RELAXED);
	if (p.mm)
		mm_forget_user(t, group, p.mm);
}

int tracer__untrace(struct tracer *base, uint32_t group)
{
	struct local_tracer *t = (struct local_tracer *)base;
	__u32 *pids = NULL, *seen = NULL;
	size_t n = 0, cap = 0, nseen = 0, cap_seen = 0;
	struct mt_group *g;
	int e = 0;

	if (!base || base->ops != &local_ops)
		return -EOPNOTSUPP;
	g = &t->skel->bss->groups[group & (MT_MAX_GROUPS - 1)];
	/* fork and exec add nothing to it from now on */
	__atomic_fetch_or(&g->gflags, MT_GROUP_RELEASING, __ATOMIC_ACQ_REL);
	for (int round = 0; round < 3; round++) {
		if ((e = group_entries(t, group, true, &pids, &n, &cap)))
			goto out;
		for (size_t i = 0; i < n; i++) {
			size_t j = 0;

			while (j < nseen && seen[j] != pids[i])
				j++;
			if (j == nseen) {
				if (grow(&seen, &cap_seen, nseen, sizeof(*seen), 64)) {
					e = -ENOMEM;
					goto out;
				}
				seen[nseen++] = pids[i];
			}
		}
		if ((e = group_entries(t, group, false, &pids, &n, &cap)))
			goto out;
		if (!n)
			break;
		t->skel->bss->untrace_group = group;
		t->skel->bss->untrace_pass = 1;
		if ((e = run_task_iter(t->skel->progs.untrace_tasks)))
			goto out;
		t->skel->bss->untrace_pass = 2;
		if ((e = run_task_iter(t->skel->progs.untrace_tasks)))
			goto out;
		if ((e = group_entries(t, group, false, &pids, &n, &cap)))
			goto out;
		if (!n)
			break;
		for (size_t i = 0; i < n; i++)
			sweep_entry(t, group, pids[i]);
		if (round < 2)
			usleep(5000);	/* an exit in flight finishes */
	}
	/* what the kernel may still have added in a race with the flag (an
	 * exec's new mm): no entry of the group may stay */
	{
		int fd = bpf_map__fd(t->skel->maps.mms);
		__u64 k, next, *prev = NULL;
		struct mt_mm m;
		__u64 *keys = NULL;
		size_t nk = 0, cap_k = 0;

		while (!bpf_map_get_next_key(fd, prev, &next)) {
			k = next;
			prev = &k;
			if (!bpf_map_lookup_elem(fd, &k, &m) && m.group == group &&
			    !grow(&keys, &cap_k, nk, sizeof(*keys), 64))
				keys[nk++] = k;
		}
		if ((e = group_entries(t, group, false, &pids, &n, &cap))) {
			free(keys);
			goto out;
		}
		/* those no entry of the group uses any more */
		for (size_t i = 0; i < nk; i++) {
			bool used = false;

			for (size_t j = 0; j < n && !used; j++) {
				struct mt_proc p;

				used = !bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.procs),
							    &pids[j], &p) && p.mm == keys[i];
			}
			if (!used)
				mm_forget_user(t, group, keys[i]);
		}
		free(keys);
		if (n)
			fprintf(stderr, "memtrace-bpf: untracing group %u: %zu process%s still "
				"traced after 3 rounds (exiting?)\n", group, n, n == 1 ? "" : "es");
	}
	/* its kept exits: nobody will read them */
	{
		int fd = bpf_map__fd(t->skel->maps.exited);
		struct mt_exited_key k, next;
		void *prev = NULL;
		struct mt_proc p;

		while (!bpf_map_get_next_key(fd, prev, &next)) {
			if (!bpf_map_lookup_elem(fd, &next, &p) && p.group == group &&
			    !bpf_map_delete_elem(fd, &next))
				continue;	/* deleted: the next key after the same prev */
			k = next;
			prev = &k;
		}
	}
out:
	free(pids);
	free(seen);
	return e ? e : (int)nseen;
}

int tracer__group_entries(struct tracer *base, uint32_t group, size_t *procs, size_t *mms)
{
	struct local_tracer *t = (struct local_tracer *)base;
	__u32 *pids = NULL;
	size_t n = 0, cap = 0;
	int fd, e;
	__u64 k, next, *prev = NULL;
	struct mt_mm m;

	if (!base || base->ops != &local_ops)
		return -EOPNOTSUPP;
	e = group_entries(t, group, false, &pids, &n, &cap);
	free(pids);
	if (e)
		return e;
	*procs = n;
	*mms = 0;
	fd = bpf_map__fd(t->skel->maps.mms);
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (!bpf_map_lookup_elem(fd, &k, &m) && m.group == group)
			(*mms)++;
	}
	return 0;
}

int tracer__group_follow(struct tracer *base, uint32_t group, bool follow)
{
	struct local_tracer *t = (struct local_tracer *)base;
	struct mt_group *g;

	if (!base || base->ops != &local_ops)
		return -EOPNOTSUPP;
	/* before any process of it: on_fork reads it from the first fork on */
	g = &t->skel->bss->groups[group & (MT_MAX_GROUPS - 1)];
	if (follow)
		__atomic_fetch_and(&g->gflags, ~(__u32)MT_GROUP_NO_FOLLOW, __ATOMIC_RELEASE);
	else
		__atomic_fetch_or(&g->gflags, (__u32)MT_GROUP_NO_FOLLOW, __ATOMIC_RELEASE);
	return 0;
}

size_t tracer__count_procs(struct tracer *base)
{
	struct local_tracer *t = (struct local_tracer *)base;
	int fd = bpf_map__fd(t->skel->maps.procs);
	__u32 k, next;
	void *prev = NULL;
	size_t n = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

int tracer__group_caps(struct tracer *base, uint32_t group, uint64_t records, uint32_t procs)
{
	struct local_tracer *t = (struct local_tracer *)base;
	struct mt_group *g;

	if (!base || base->ops != &local_ops)
		return -EOPNOTSUPP;
	g = &t->skel->bss->groups[group & (MT_MAX_GROUPS - 1)];
	if (records)
		t->capped = true;
	__atomic_store_n(&g->ring_cap, records, __ATOMIC_RELEASE);
	__atomic_store_n(&g->live_cap, procs, __ATOMIC_RELEASE);
	return 0;
}
