// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/resample.h"
#include "lib/grow.h"

void resample__init(struct resample *s, const struct resample_cfg *cfg, resample_out_fn out,
		    void *ctx)
{
	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	s->out = out;
	s->ctx = ctx;
}

/* The process's slot, made when it has none (its first row). NULL: out
 * of memory. */
static struct resample_proc *proc_of(struct resample *s, pid_t pid)
{
	long at = idmap__get(&s->index, (uint64_t)(uint32_t)pid);
	size_t slot;

	if (at >= 0)
		return &s->procs[at];
	if (!s->nfree && grow(&s->procs, &s->procs_cap, s->nprocs, sizeof(*s->procs), 16))
		return NULL;
	slot = s->nfree ? s->free_slots[s->nfree - 1] : s->nprocs;
	if (idmap__put(&s->index, (uint64_t)(uint32_t)pid, slot))
		return NULL;
	if (s->nfree)
		s->nfree--;
	else
		s->nprocs++;
	s->procs[slot] = (struct resample_proc){ 0, 0 };
	return &s->procs[slot];
}

/* The process is gone: its memory leaves the sums, its slot is free. */
static int proc_gone(struct resample *s, pid_t pid)
{
	long at = idmap__get(&s->index, (uint64_t)(uint32_t)pid);

	if (at < 0)
		return 0;
	s->rss_sum_kb -= s->procs[at].rss_kb;
	s->vmsize_sum_kb -= s->procs[at].vmsize_kb;
	if (grow(&s->free_slots, &s->free_cap, s->nfree, sizeof(*s->free_slots), 16))
		return -ENOMEM;
	s->free_slots[s->nfree++] = (size_t)at;
	idmap__del(&s->index, (uint64_t)(uint32_t)pid);
	return 0;
}

/* The value now: one process's RSS (0 when it has none: not yet, or
 * gone), or the tree's. */
static int64_t value_now(const struct resample *s, int64_t total_kb)
{
	long at;

	if (s->cfg.pid) {
		at = idmap__get(&s->index, (uint64_t)(uint32_t)s->cfg.pid);
		return at < 0 ? 0 : s->procs[at].rss_kb;
	}
	return s->cfg.use_total ? total_kb : s->rss_sum_kb;
}

static int64_t vmsize_now(const struct resample *s)
{
	long at;

	if (!s->have_vmsize)
		return -1;
	if (s->cfg.pid) {
		at = idmap__get(&s->index, (uint64_t)(uint32_t)s->cfg.pid);
		return at < 0 ? 0 : s->procs[at].vmsize_kb;
	}
	return s->vmsize_sum_kb;
}

/* The value is v from ts on. */
static void hold(struct resample *s, uint64_t ts_ns, int64_t v)
{
	s->value_kb = v;
	if (v > s->cur.max_kb) {
		s->cur.max_kb = v;
		s->cur.max_ts_ns = ts_ns;
	}
	if (v < s->cur.min_kb)
		s->cur.min_kb = v;
}

/* The row of the instant next_ns; the next interval starts holding the
 * value of this instant. */
static int emit(struct resample *s)
{
	int e;

	s->cur.ts_ns = s->next_ns;
	s->cur.value_kb = s->value_kb;
	s->cur.vmsize_kb = vmsize_now(s);
	e = s->out(s->ctx, &s->cur);
	if (e)
		return e;
	s->rows_out++;
	s->cur.rows = 0;
	s->cur.max_kb = s->cur.min_kb = s->value_kb;
	s->cur.max_ts_ns = s->next_ns;
	s->next_ns += s->cfg.period_ns;
	return 0;
}

int resample__row(struct resample *s, uint64_t ts_ns, pid_t pid, bool exit, int64_t vmrss_kb,
		  int64_t vmsize_kb, int64_t total_kb)
{
	struct resample_proc *p;
	int e;

	if (s->cfg.pid && pid != s->cfg.pid)
		return 0;
	if (!s->started) {
		uint64_t since = ts_ns > s->cfg.t0_ns ? ts_ns - s->cfg.t0_ns : 0;
		uint64_t k = (since + s->cfg.period_ns - 1) / s->cfg.period_ns;

		s->started = true;
		s->next_ns = s->first_ns = s->cfg.t0_ns + k * s->cfg.period_ns;
		/* the first interval starts at the first row: nothing before it */
		s->cur.max_kb = INT64_MIN;
		s->cur.min_kb = INT64_MAX;
	}
	/* a time far ahead (a trace of days at 1 ms, or a bogus gap) is said
	 * before its rows are made, not after a disk is full of them */
	if (s->cfg.max_rows && ts_ns > s->first_ns &&
	    (ts_ns - s->first_ns) / s->cfg.period_ns >= s->cfg.max_rows)
		return -EFBIG;
	while (ts_ns > s->next_ns) {
		e = emit(s);
		if (e)
			return e;
	}
	p = proc_of(s, pid);
	if (!p)
		return -ENOMEM;
	s->rss_sum_kb += vmrss_kb - p->rss_kb;
	p->rss_kb = vmrss_kb;
	if (vmsize_kb >= 0) {
		s->vmsize_sum_kb += vmsize_kb - p->vmsize_kb;
		p->vmsize_kb = vmsize_kb;
		s->have_vmsize = true;
	}
	s->rows_in++;
	s->cur.rows++;
	hold(s, ts_ns, value_now(s, total_kb));
	if (exit) {
		/* the state it died with (held for no time), then nothing: an
		 * exit row's total_rss_kb is already the total after it */
		e = proc_gone(s, pid);
		if (e)
			return e;
		hold(s, ts_ns, value_now(s, total_kb));
	}
	return 0;
}

int resample__finish(struct resample *s)
{
	if (!s->started)
		return -ENODATA;
	return emit(s);
}

void resample__free(struct resample *s)
{
	idmap__free(&s->index);
	free(s->procs);
	free(s->free_slots);
	s->procs = NULL;
	s->free_slots = NULL;
}
