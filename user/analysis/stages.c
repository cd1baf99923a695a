// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/grow.h"
#include "lib/recstore.h"
#include "analysis/stages.h"

/* Closed intervals kept in memory; the rest in a temporary file (a trace
 * of a million processes that each mark once has a million of them). */
#define IVS_IN_MEMORY 16384

void stages__init(struct stages *s)
{
	memset(s, 0, sizeof(*s));
	s->free_slot = -1;
	s->keep_intervals = true;
	recstore__init(&s->ivs, sizeof(struct stage_iv), IVS_IN_MEMORY);
}

static uint64_t name_key(const char *name, bool span)
{
	uint64_t h = 14695981039346656037ull;	/* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return h * 2 + span;
}

/* The stage of (name, kind), made on first use. */
static struct stage_sum *sum_of(struct stages *s, const char *name, bool span)
{
	uint64_t key = name_key(name, span);
	long i = idmap__get(&s->names, key);
	struct stage_sum *x;

	if (i >= 0 && s->sums[i].span == span && !strcmp(s->sums[i].name, name))
		return &s->sums[i];
	if (i >= 0) {
		/* two names with one hash: the other is found by looking */
		for (size_t k = 0; k < s->nsums; k++)
			if (s->sums[k].span == span && !strcmp(s->sums[k].name, name))
				return &s->sums[k];
	}
	if (grow(&s->sums, &s->sums_cap, s->nsums, sizeof(*s->sums), 16) ||
	    (i < 0 && idmap__put(&s->names, key, s->nsums)))
		return NULL;
	x = &s->sums[s->nsums++];
	memset(x, 0, sizeof(*x));
	snprintf(x->name, sizeof(x->name), "%s", name);
	x->span = span;
	return x;
}

static uint64_t head_key(size_t sum, pid_t pid)
{
	return (uint64_t)sum << 32 | (uint32_t)pid;
}

/* The process's state (create: made when it has none). A process has one
 * only while an interval of it is open, or about to be. */
static struct stage_pid *pid_of(struct stages *s, pid_t pid, bool create)
{
	long i = idmap__get(&s->pidx, pid);

	if (i >= 0)
		return &s->pids[i];
	if (!create)
		return NULL;
	if (grow(&s->pids, &s->pids_cap, s->npids, sizeof(*s->pids), 16) ||
	    idmap__put(&s->pidx, pid, s->npids))
		return NULL;
	memset(&s->pids[s->npids], 0, sizeof(s->pids[0]));
	s->pids[s->npids].pid = pid;
	s->pids[s->npids].open_head = -1;
	s->pids[s->npids].point = -1;
	return &s->pids[s->npids++];
}

/* A process with nothing open: its state goes. */
static void pid_drop(struct stages *s, struct stage_pid *pp, pid_t pid)
{
	size_t slot = (size_t)(pp - s->pids);

	free(pp->pt);
	idmap__del(&s->pidx, pid);
	if (slot != s->npids - 1) {
		*pp = s->pids[s->npids - 1];
		idmap__put(&s->pidx, pp->pid, slot);
	}
	s->npids--;
}

/* The highest RSS of the process from row seq on, and its first time. */
static void peak_since(const struct stage_pid *pp, uint64_t seq, int64_t *kb, uint64_t *ts)
{
	size_t lo = 0, hi = pp->npt;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pp->pt[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < pp->npt && pp->pt[lo].kb > *kb) {
		*kb = pp->pt[lo].kb;
		*ts = pp->pt[lo].ts_ns;
	}
}

/* The latest open span of stage sum in process pid; -1: none. */
static long find_open(struct stages *s, size_t sum, pid_t pid)
{
	long v = idmap__get(&s->heads, head_key(sum, pid));

	return v > 0 ? v - 1 : -1;
}

/* Slot i is open no more: out of its process's list, onto the free list. */
static void free_slot(struct stages *s, struct stage_pid *pp, size_t i)
{
	struct stage_open *o = &s->open[i];

	if (o->pid_prev >= 0)
		s->open[o->pid_prev].pid_next = o->pid_next;
	else
		pp->open_head = o->pid_next;
	if (o->pid_next >= 0)
		s->open[o->pid_next].pid_prev = o->pid_prev;
	if (pp->point == (long)i)
		pp->point = -1;
	pp->nopen--;
	o->live = false;
	o->prev = s->free_slot;
	s->free_slot = (long)i;
	s->nopen--;
}

/* Interval v, closed, into its stage's figures x. */
static void sum_add(struct stage_sum *x, const struct stage_iv *v)
{
	uint64_t d = v->end_ts_ns - v->start_ts_ns;

	if (v->depth) {
		/* inside an outer span of its name: counted there */
		x->nested++;
		return;
	}
	/* intervals close in time order: the entry is the one that began
	 * first, the exit the one that ended last */
	if (!x->count++ || v->start_ts_ns < x->first_start_ts_ns) {
		x->first_entry_kb = v->entry_kb;
		x->first_start_ts_ns = v->start_ts_ns;
	}
	if (x->count == 1)
		x->peak_kb = v->peak_kb;
	x->last_exit_kb = v->exit_kb;
	x->total_ns += d;
	if (d > x->max_ns)
		x->max_ns = d;
	if (v->peak_kb > x->peak_kb)
		x->peak_kb = v->peak_kb;
	if (v->peak_kb - v->entry_kb > x->max_rise_kb)
		x->max_rise_kb = v->peak_kb - v->entry_kb;
	x->growth_kb += v->exit_kb - v->entry_kb;
	x->to_exit += v->end == STAGE_END_EXIT;
	x->to_trace_end += v->end == STAGE_END_TRACE;
}

/* Closes open interval i of process pp at ts, RSS kb (end: what closed
 * it): its peak since it opened, its stage's figures, kept. */
static int close_iv(struct stages *s, struct stage_pid *pp, size_t i, uint64_t ts, int64_t kb,
		    enum stage_end end)
{
	struct stage_open *o = &s->open[i];
	struct stage_iv *v = &o->iv;

	if (v->span) {
		/* the one it was opened on top of is the latest again (none:
		 * its name and process are forgotten) */
		if (o->prev < 0)
			idmap__del(&s->heads, head_key(v->sum, v->pid));
		else if (idmap__put(&s->heads, head_key(v->sum, v->pid), (size_t)(o->prev + 1)))
			return -ENOMEM;
	}
	peak_since(pp, o->start_seq, &v->peak_kb, &v->peak_ts_ns);
	v->end_ts_ns = ts;
	v->exit_kb = kb;
	v->end = end;
	if (s->keep_intervals && recstore__put(&s->ivs, s->niv, v))
		return -ENOMEM;
	s->niv++;
	sum_add(&s->sums[v->sum], v);
	free_slot(s, pp, i);
	return 0;
}

/* The process has exited (its exit row: ts, RSS kb): its point stage ends
 * here; a span begun and never ended is counted as such. Then its state
 * goes. */
static int pid_exit(struct stages *s, struct stage_pid *pp, pid_t pid, uint64_t ts, int64_t kb)
{
	if (pp->point >= 0 && close_iv(s, pp, (size_t)pp->point, ts, kb, STAGE_END_EXIT))
		return -ENOMEM;
	while (pp->open_head >= 0) {
		size_t i = (size_t)pp->open_head;
		struct stage_open *o = &s->open[i];

		s->sums[o->iv.sum].unclosed++;
		idmap__del(&s->heads, head_key(o->iv.sum, pid));
		free_slot(s, pp, i);
	}
	pid_drop(s, pp, pid);
	return 0;
}

/* Opens an interval of stage sum in process pid: a span on top of the
 * open ones of its name (they nest: its depth is how many are open around
 * it), or its point stage. */
static int open_iv(struct stages *s, size_t sum, pid_t pid, uint64_t ts, int64_t kb)
{
	struct stage_pid *pp = pid_of(s, pid, true);
	bool span = s->sums[sum].span;
	long head = span ? find_open(s, sum, pid) : -1;
	struct stage_open *o;
	size_t i;

	if (!pp)
		return -ENOMEM;
	if (s->free_slot >= 0) {
		i = (size_t)s->free_slot;
	} else {
		if (grow(&s->open, &s->open_cap, s->open_len, sizeof(*s->open), 16))
			return -ENOMEM;
		i = s->open_len;
	}
	if (span && idmap__put(&s->heads, head_key(sum, pid), i + 1))
		return -ENOMEM;
	if (s->free_slot >= 0)
		s->free_slot = s->open[i].prev;
	else
		s->open_len++;
	pp->nopen++;
	s->nopen++;
	o = &s->open[i];
	memset(o, 0, sizeof(*o));
	o->live = true;
	o->prev = head;
	o->start_seq = s->seq;
	o->pid_prev = -1;
	o->pid_next = pp->open_head;
	if (pp->open_head >= 0)
		s->open[pp->open_head].pid_prev = (long)i;
	pp->open_head = (long)i;
	if (!span)
		pp->point = (long)i;
	o->iv.sum = (uint32_t)sum;
	o->iv.span = span;
	o->iv.depth = head >= 0 ? s->open[head].iv.depth + 1 : 0;
	o->iv.pid = pid;
	o->iv.start_ts_ns = ts;
	o->iv.entry_kb = o->iv.peak_kb = kb;
	o->iv.peak_ts_ns = ts;
	return 0;
}

static bool strip_suffix(char *name, const char *suffix)
{
	size_t n = strlen(name), k = strlen(suffix);

	if (n <= k || strcmp(name + n - k, suffix))
		return false;
	name[n - k] = 0;
	return true;
}

int stages__row(struct stages *s, uint64_t ts_ns, pid_t pid, int64_t vmrss_kb,
		const char *event, const char *label)
{
	char name[STAGE_NAME_LEN];
	struct stage_sum *x;
	struct stage_pid *pp;
	bool begin, end;
	size_t n, sum;
	long i;

	if (ts_ns > s->last_ts_ns)
		s->last_ts_ns = ts_ns;
	if (!strcmp(event, "log"))
		return 0;	/* a copy of a state, not a change */
	s->seq++;
	/* the rows of a process with an open interval: its peak since any of
	 * them may be asked for (an interval that opens takes its own row's
	 * value as its entry and first peak) */
	pp = pid_of(s, pid, false);
	if (pp && pp->nopen) {
		while (pp->npt && pp->pt[pp->npt - 1].kb < vmrss_kb)
			pp->npt--;
		if (grow(&pp->pt, &pp->pt_cap, pp->npt, sizeof(*pp->pt), 16))
			return -ENOMEM;
		pp->pt[pp->npt++] = (struct stage_pt){ .seq = s->seq, .ts_ns = ts_ns,
						       .kb = vmrss_kb };
	}
	if (pp && !strcmp(event, "exit"))
		return pid_exit(s, pp, pid, ts_ns, vmrss_kb);
	if (pp && !pp->nopen) {
		pid_drop(s, pp, pid);
		pp = NULL;
	}
	if (strcmp(event, "mark"))
		return 0;
	s->marks++;
	snprintf(name, sizeof(name), "%s", label);
	n = strlen(name);
	while (n && (name[n - 1] == ' ' || name[n - 1] == '\t'))
		name[--n] = 0;
	begin = strip_suffix(name, ":begin");
	end = !begin && strip_suffix(name, ":end");
	x = sum_of(s, name, begin || end);
	if (!x)
		return -ENOMEM;
	sum = (size_t)(x - s->sums);
	/* any mark of the process ends the point stage it is in: the next
	 * step of a frame, a span's begin or end, the next frame */
	if (pp && pp->point >= 0 &&
	    close_iv(s, pp, (size_t)pp->point, ts_ns, vmrss_kb, STAGE_END_MARK))
		return -ENOMEM;
	if (end) {
		i = find_open(s, sum, pid);
		if (i < 0) {
			s->unmatched_ends++;
			x->unmatched_ends++;
			return 0;
		}
		return close_iv(s, pp, (size_t)i, ts_ns, vmrss_kb, STAGE_END_MARK);
	}
	return open_iv(s, sum, pid, ts_ns, vmrss_kb);
}

void stages__time(struct stages *s, uint64_t ts_ns)
{
	if (ts_ns > s->last_ts_ns)
		s->last_ts_ns = ts_ns;
}

static int cmp_start(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int stages__finish(struct stages *s)
{
	/* the point stages still open: they ran until the end of the trace,
	 * their process's RSS there its latest row's (the top of its stack);
	 * closed in the order they began */
	uint64_t (*order)[2] = NULL;
	size_t n = 0;
	int e = 0;

	for (size_t k = 0; k < s->npids; k++)
		n += s->pids[k].point >= 0;
	if (n && !(order = calloc(n, sizeof(*order))))
		return -ENOMEM;
	n = 0;
	for (size_t k = 0; k < s->npids; k++) {
		long i = s->pids[k].point;

		if (i >= 0) {
			order[n][0] = s->open[i].start_seq;
			order[n++][1] = (uint64_t)i;
		}
	}
	if (n)
		qsort(order, n, sizeof(*order), cmp_start);
	for (size_t k = 0; k < n && !e; k++) {
		const struct stage_open *o = &s->open[order[k][1]];
		struct stage_pid *pp = pid_of(s, o->iv.pid, false);
		int64_t kb = pp->npt ? pp->pt[pp->npt - 1].kb : o->iv.entry_kb;

		e = close_iv(s, pp, (size_t)order[k][1], s->last_ts_ns, kb, STAGE_END_TRACE);
	}
	free(order);
	/* the spans still open: begun, never ended */
	for (size_t i = 0; i < s->open_len; i++)
		if (s->open[i].live && s->open[i].iv.span)
			s->sums[s->open[i].iv.sum].unclosed++;
	return e;
}

int stages__iv(const struct stages *s, size_t i, struct stage_iv *v)
{
	if (!s->keep_intervals || i >= s->niv)
		return -ENOENT;
	return recstore__get(&s->ivs, i, v);
}

void stages__free(struct stages *s)
{
	recstore__free(&s->ivs);
	free(s->open);
	free(s->sums);
	for (size_t i = 0; i < s->npids; i++)
		free(s->pids[i].pt);
	free(s->pids);
	idmap__free(&s->pidx);
	idmap__free(&s->heads);
	idmap__free(&s->names);
	stages__init(s);
}
