// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/grow.h"
#include "analysis/stages.h"

void stages__init(struct stages *s)
{
	memset(s, 0, sizeof(*s));
	s->free_slot = -1;
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

/* The latest open interval of stage sum in process pid; -1: none. */
static long find_open(struct stages *s, size_t sum, pid_t pid)
{
	long v = idmap__get(&s->heads, head_key(sum, pid));

	return v > 0 ? v - 1 : -1;
}

/* Slot i is open no more: out of its process's list, onto the free list. */
static void free_slot(struct stages *s, struct stage_pid *pp, size_t i)
{
	struct stage_iv *o = &s->open[i];

	if (o->pid_prev >= 0)
		s->open[o->pid_prev].pid_next = o->pid_next;
	else
		pp->open_head = o->pid_next;
	if (o->pid_next >= 0)
		s->open[o->pid_next].pid_prev = o->pid_prev;
	pp->nopen--;
	o->live = false;
	o->prev = s->free_slot;
	s->free_slot = (long)i;
	s->nopen--;
}

/* The process has exited: its open intervals will never close. A span
 * begun and never ended is counted as such; the last of a repeated mark is
 * not; then its state goes. */
static void pid_exit(struct stages *s, struct stage_pid *pp, pid_t pid)
{
	while (pp->open_head >= 0) {
		size_t i = (size_t)pp->open_head;
		struct stage_iv *o = &s->open[i];

		if (o->span)
			s->sums[o->sum].unclosed++;
		idmap__del(&s->heads, head_key(o->sum, pid));
		free_slot(s, pp, i);
	}
	pid_drop(s, pp, pid);
}

/* Closes the latest open interval of its stage and process, slot i. */
static int close_iv(struct stages *s, size_t i, uint64_t ts, int64_t kb)
{
	struct stage_iv *o = &s->open[i];
	struct stage_pid *pp = pid_of(s, o->pid, false);

	if (!pp || grow(&s->iv, &s->iv_cap, s->niv, sizeof(*s->iv), 64))
		return -ENOMEM;
	/* the one it was opened on top of is the latest again (none: its
	 * name and process are forgotten) */
	if (o->prev < 0)
		idmap__del(&s->heads, head_key(o->sum, o->pid));
	else if (idmap__put(&s->heads, head_key(o->sum, o->pid), (size_t)(o->prev + 1)))
		return -ENOMEM;
	peak_since(pp, o->start_seq, &o->peak_kb, &o->peak_ts_ns);
	o->end_ts_ns = ts;
	o->exit_kb = kb;
	s->iv[s->niv++] = *o;
	free_slot(s, pp, i);
	return 0;
}

/* Opens an interval of stage sum in process pid, on top of its open ones
 * (spans of one name nest: its depth is how many are open around it). */
static int open_iv(struct stages *s, size_t sum, pid_t pid, uint64_t ts, int64_t kb)
{
	struct stage_pid *pp = pid_of(s, pid, true);
	long head = find_open(s, sum, pid);
	struct stage_iv *o;
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
	if (idmap__put(&s->heads, head_key(sum, pid), i + 1))
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
	o->sum = sum;
	o->prev = head;
	o->depth = head >= 0 ? s->open[head].depth + 1 : 0;
	o->start_seq = s->seq;
	snprintf(o->name, sizeof(o->name), "%s", s->sums[sum].name);
	o->span = s->sums[sum].span;
	o->pid = pid;
	o->pid_prev = -1;
	o->pid_next = pp->open_head;
	if (pp->open_head >= 0)
		s->open[pp->open_head].pid_prev = (long)i;
	pp->open_head = (long)i;
	o->start_ts_ns = ts;
	o->entry_kb = o->peak_kb = kb;
	o->peak_ts_ns = ts;
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
	if (pp && !strcmp(event, "exit")) {
		pid_exit(s, pp, pid);
		return 0;
	}
	if (pp && !pp->nopen)
		pid_drop(s, pp, pid);
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
	i = find_open(s, sum, pid);
	if (end) {
		if (i < 0) {
			s->unmatched_ends++;
			x->unmatched_ends++;
			return 0;
		}
		return close_iv(s, (size_t)i, ts_ns, vmrss_kb);
	}
	/* a repeated mark ends the previous one of its name */
	if (!begin && i >= 0 && close_iv(s, (size_t)i, ts_ns, vmrss_kb))
		return -ENOMEM;
	return open_iv(s, sum, pid, ts_ns, vmrss_kb);
}

int stages__finish(struct stages *s)
{
	for (size_t i = 0; i < s->niv; i++) {
		const struct stage_iv *v = &s->iv[i];
		struct stage_sum *x = &s->sums[v->sum];
		uint64_t d = v->end_ts_ns - v->start_ts_ns;

		if (v->depth) {
			/* inside an outer span of its name: counted there */
			x->nested++;
			continue;
		}
		/* intervals are in closing order: the entry is the one that
		 * began first, the exit the one that ended last */
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
	}
	for (size_t i = 0; i < s->open_len; i++) {
		/* the last mark of a repeated name is not "unclosed" */
		if (s->open[i].live && s->open[i].span)
			s->sums[s->open[i].sum].unclosed++;
	}
	return 0;
}

void stages__free(struct stages *s)
{
	free(s->iv);
	free(s->open);
	free(s->sums);
	for (size_t i = 0; i < s->npids; i++)
		free(s->pids[i].pt);
	free(s->pids);
	idmap__free(&s->pidx);
	idmap__free(&s->heads);
	idmap__free(&s->names);
	memset(s, 0, sizeof(*s));
	s->free_slot = -1;
}
