// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "grow.h"
#include "stages.h"

void stages__init(struct stages *s)
{
	memset(s, 0, sizeof(*s));
}

static struct stage_sum *sum_of(struct stages *s, const char *name, bool span)
{
	struct stage_sum *x;

	for (size_t i = 0; i < s->nsums; i++)
		if (s->sums[i].span == span && !strcmp(s->sums[i].name, name))
			return &s->sums[i];
	if (grow(&s->sums, &s->sums_cap, s->nsums, sizeof(*s->sums), 16))
		return NULL;
	x = &s->sums[s->nsums++];
	memset(x, 0, sizeof(*x));
	snprintf(x->name, sizeof(x->name), "%s", name);
	x->span = span;
	return x;
}

static struct stage_pid *pid_of(struct stages *s, pid_t pid)
{
	long i = pidmap__get(&s->pidx, pid);

	if (i >= 0)
		return &s->pids[i];
	if (grow(&s->pids, &s->pids_cap, s->npids, sizeof(*s->pids), 16) ||
	    pidmap__put(&s->pidx, pid, s->npids))
		return NULL;
	memset(&s->pids[s->npids], 0, sizeof(s->pids[0]));
	return &s->pids[s->npids++];
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

static int close_iv(struct stages *s, size_t i, uint64_t ts, int64_t kb)
{
	struct stage_iv *o = &s->open[i];
	struct stage_pid *pp = pid_of(s, o->pid);

	if (!pp || grow(&s->iv, &s->iv_cap, s->niv, sizeof(*s->iv), 64))
		return -ENOMEM;
	peak_since(pp, o->start_seq, &o->peak_kb, &o->peak_ts_ns);
	pp->nopen--;
	o->end_ts_ns = ts;
	o->exit_kb = kb;
	s->iv[s->niv++] = *o;
	s->open[i] = s->open[--s->nopen];
	return 0;
}

static int open_iv(struct stages *s, const char *name, bool span, pid_t pid, uint64_t ts,
		   int64_t kb)
{
	struct stage_pid *pp = pid_of(s, pid);
	struct stage_iv *o;

	if (!pp || grow(&s->open, &s->open_cap, s->nopen, sizeof(*s->open), 16))
		return -ENOMEM;
	pp->nopen++;
	o = &s->open[s->nopen++];
	memset(o, 0, sizeof(*o));
	o->start_seq = s->seq;
	snprintf(o->name, sizeof(o->name), "%s", name);
	o->span = span;
	o->pid = pid;
	o->start_ts_ns = ts;
	o->entry_kb = o->peak_kb = kb;
	o->peak_ts_ns = ts;
	return 0;
}

/* The open interval of (name, span, pid), the latest opened; -1: none. */
static long find_open(struct stages *s, const char *name, bool span, pid_t pid)
{
	for (size_t i = s->nopen; i-- > 0;)
		if (s->open[i].pid == pid && s->open[i].span == span &&
		    !strcmp(s->open[i].name, name))
			return (long)i;
	return -1;
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
	bool begin, end;
	size_t n;
	long i;

	struct stage_pid *pp;

	if (!strcmp(event, "log"))
		return 0;	/* a copy of a state, not a change */
	pp = pid_of(s, pid);
	if (!pp)
		return -ENOMEM;
	s->seq++;
	/* nothing open: no peak since an earlier row will be asked for */
	if (!pp->nopen)
		pp->npt = 0;
	while (pp->npt && pp->pt[pp->npt - 1].kb < vmrss_kb)
		pp->npt--;
	if (grow(&pp->pt, &pp->pt_cap, pp->npt, sizeof(*pp->pt), 16))
		return -ENOMEM;
	pp->pt[pp->npt++] = (struct stage_pt){ .seq = s->seq, .ts_ns = ts_ns, .kb = vmrss_kb };
	if (strcmp(event, "mark"))
		return 0;
	s->marks++;
	snprintf(name, sizeof(name), "%s", label);
	n = strlen(name);
	while (n && (name[n - 1] == ' ' || name[n - 1] == '\t'))
		name[--n] = 0;
	begin = strip_suffix(name, ":begin");
	end = !begin && strip_suffix(name, ":end");
	if (!sum_of(s, name, begin || end))
		return -ENOMEM;
	if (end) {
		i = find_open(s, name, true, pid);
		if (i < 0) {
			s->unmatched_ends++;
			sum_of(s, name, true)->unmatched_ends++;
			return 0;
		}
		return close_iv(s, (size_t)i, ts_ns, vmrss_kb);
	}
	if (!begin && (i = find_open(s, name, false, pid)) >= 0 &&
	    close_iv(s, (size_t)i, ts_ns, vmrss_kb))
		return -ENOMEM;
	{
		/* a span begun inside an open one of the same name (its
		 * depth: how many are open around it) */
		unsigned int depth = 0;

		for (size_t k = 0; begin && k < s->nopen; k++)
			depth += s->open[k].pid == pid && s->open[k].span &&
				 !strcmp(s->open[k].name, name);
		if (open_iv(s, name, begin, pid, ts_ns, vmrss_kb))
			return -ENOMEM;
		s->open[s->nopen - 1].depth = depth;
	}
	return 0;
}

int stages__finish(struct stages *s)
{
	for (size_t i = 0; i < s->niv; i++) {
		const struct stage_iv *v = &s->iv[i];
		struct stage_sum *x = sum_of(s, v->name, v->span);
		uint64_t d = v->end_ts_ns - v->start_ts_ns;

		if (!x)
			return -ENOMEM;
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
	for (size_t i = 0; i < s->nopen; i++) {
		struct stage_sum *x;

		if (!s->open[i].span)
			continue;	/* the last mark of a repeated name */
		x = sum_of(s, s->open[i].name, true);
		if (!x)
			return -ENOMEM;
		x->unclosed++;
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
	pidmap__free(&s->pidx);
	memset(s, 0, sizeof(*s));
}
