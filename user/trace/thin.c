// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "lib/grow.h"
#include "lib/idmap.h"
#include "trace/thin.h"

#define NO_WINDOW UINT64_MAX

/* A process's changes in one window. */
struct twin {
	uint64_t idx;		/* the window (NO_WINDOW: none); listed in its slot */
	uint64_t n;		/* changes in it */
	struct mt_rec min, max, end;
};

struct tproc {
	uint32_t pid;
	bool used, exited;
	struct twin w[2];	/* by window index & 1 */
};

/* One window, all processes: who changed in it, and its other records. */
struct slot {
	uint64_t idx;		/* NO_WINDOW: empty */
	size_t *procs;
	size_t nprocs, cap_procs;
	struct mt_rec *held;
	size_t nheld, cap_held;
};

struct item {
	const struct mt_rec *rec;
	uint64_t folded;
	size_t seq;
};

struct thin {
	uint64_t res;
	thin_out_fn out;
	void *ctx;
	bool any;
	uint64_t next;		/* the oldest window not written */
	struct slot s[2];
	struct idmap ids;
	struct tproc *procs;
	size_t nprocs, cap_procs;	/* entries made (used or free) */
	size_t *free_procs;
	size_t nfree, cap_free;
	size_t live;
	struct item *items;
	size_t cap_items;
};

int thin__new(struct thin **out, uint64_t res_ns, thin_out_fn out_fn, void *ctx)
{
	struct thin *t;

	*out = NULL;
	if (!res_ns)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->res = res_ns;
	t->out = out_fn;
	t->ctx = ctx;
	t->s[0].idx = t->s[1].idx = NO_WINDOW;
	*out = t;
	return 0;
}

static struct tproc *proc_get(struct thin *t, uint32_t pid)
{
	long i = idmap__get(&t->ids, pid);
	size_t k;

	if (i >= 0)
		return &t->procs[i];
	if (t->nfree) {
		k = t->free_procs[--t->nfree];
	} else {
		if (grow(&t->procs, &t->cap_procs, t->nprocs, sizeof(*t->procs), 16))
			return NULL;
		k = t->nprocs;
	}
	if (idmap__put(&t->ids, pid, k)) {
		if (k < t->nprocs)
			t->free_procs[t->nfree++] = k;
		return NULL;
	}
	if (k == t->nprocs)
		t->nprocs++;
	memset(&t->procs[k], 0, sizeof(t->procs[k]));
	t->procs[k].pid = pid;
	t->procs[k].used = true;
	t->procs[k].w[0].idx = t->procs[k].w[1].idx = NO_WINDOW;
	t->live++;
	return &t->procs[k];
}

static void proc_free(struct thin *t, size_t k)
{
	/* room was made for it when it was made (cap_free >= nprocs) */
	idmap__del(&t->ids, t->procs[k].pid);
	t->procs[k].used = false;
	t->free_procs[t->nfree++] = k;
	t->live--;
}

/* p's window w, listed in its slot (once). */
static struct twin *proc_window(struct thin *t, struct tproc *p, uint64_t w, int *err)
{
	struct twin *win = &p->w[w & 1];
	struct slot *s = &t->s[w & 1];

	if (win->idx == w)
		return win;
	if (grow(&s->procs, &s->cap_procs, s->nprocs, sizeof(*s->procs), 16)) {
		*err = -ENOMEM;
		return NULL;
	}
	s->procs[s->nprocs++] = (size_t)(p - t->procs);
	win->idx = w;
	win->n = 0;
	return win;
}

static int by_time(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->rec->ts_ns != y->rec->ts_ns)
		return x->rec->ts_ns < y->rec->ts_ns ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int add_item(struct thin *t, size_t *n, const struct mt_rec *rec, uint64_t folded)
{
	if (grow(&t->items, &t->cap_items, *n, sizeof(*t->items), 64))
		return -ENOMEM;
	t->items[*n] = (struct item){ .rec = rec, .folded = folded, .seq = *n };
	(*n)++;
	return 0;
}

/* Window k (its slot's), written in time order, and its slot emptied. */
static int emit(struct thin *t, uint64_t k)
{
	struct slot *s = &t->s[k & 1];
	size_t n = 0;
	int e = 0;

	if (s->idx != k)
		return 0;
	for (size_t i = 0; i < s->nprocs && !e; i++) {
		struct tproc *p = &t->procs[s->procs[i]];
		struct twin *win = &p->w[k & 1], *after = &p->w[(k + 1) & 1];
		const struct mt_rec *first, *second;
		bool end_too;

		if (!win->n)
			continue;	/* listed for its exit only */
		first = win->min.ts_ns <= win->max.ts_ns ? &win->min : &win->max;
		second = first == &win->min ? &win->max : &win->min;
		if (second->ts_ns == first->ts_ns)
			second = NULL;	/* one change, or both at one instant */
		/* the level it then holds, when nothing follows at once */
		end_too = win->end.ts_ns > (second ? second : first)->ts_ns &&
			  !(after->idx == k + 1 && after->n);
		e = add_item(t, &n, first, second || end_too ? 0 : win->n);
		if (!e && second)
			e = add_item(t, &n, second, end_too ? 0 : win->n);
		if (!e && end_too)
			e = add_item(t, &n, &win->end, win->n);
	}
	for (size_t i = 0; i < s->nheld && !e; i++)
		e = add_item(t, &n, &s->held[i], 0);
	if (!e) {
		qsort(t->items, n, sizeof(*t->items), by_time);
		for (size_t i = 0; i < n && !e; i++)
			e = t->out(t->ctx, t->items[i].rec, t->items[i].folded);
	}
	for (size_t i = 0; i < s->nprocs; i++) {
		size_t pk = s->procs[i];
		struct tproc *p = &t->procs[pk];
		struct twin *after = &p->w[(k + 1) & 1];

		p->w[k & 1].idx = NO_WINDOW;
		p->w[k & 1].n = 0;
		/* gone, and nothing of it left to write */
		if (p->used && p->exited && after->idx != k + 1)
			proc_free(t, pk);
	}
	s->nprocs = 0;
	s->nheld = 0;
	s->idx = NO_WINDOW;
	return e;
}

/* Writes windows before `until` (every one of them is whole). */
static int write_before(struct thin *t, uint64_t until)
{
	int e = 0;

	while (!e && t->next < until) {
		if (t->s[t->next & 1].idx != t->next && t->s[(t->next + 1) & 1].idx != t->next + 1) {
			/* nothing held: on to the window of `until` */
			t->next = until;
			break;
		}
		e = emit(t, t->next);
		t->next++;
	}
	return e;
}

int thin__push(struct thin *t, const struct mt_rec *rec)
{
	uint64_t w = rec->ts_ns / t->res;
	struct slot *s;
	struct tproc *p;
	int e = 0;

	if (!t->any) {
		t->any = true;
		t->next = w;
	}
	if (w < t->next)
		/* later than its window's writing (a record the ring gave
		 * late): as it is, where it comes */
		return t->out(t->ctx, rec, 0);
	/* windows before w - 1 are whole: w's records have begun */
	if (w >= 1 && (e = write_before(t, w - 1)))
		return e;
	s = &t->s[w & 1];
	if (s->idx != w)
		s->idx = w;
	if (rec->type == MT_REC_RSS) {
		struct twin *win;

		p = proc_get(t, rec->pid);
		if (!p || grow(&t->free_procs, &t->cap_free, t->nprocs, sizeof(size_t), 16))
			return -ENOMEM;
		win = proc_window(t, p, w, &e);
		if (!win)
			return e;
		/* the first change to reach an extreme keeps it (its time is
		 * when the level was reached) */
		if (!win->n || rec->pages[MT_FILE] + rec->pages[MT_ANON] + rec->pages[MT_SHMEM] <
				       win->min.pages[MT_FILE] + win->min.pages[MT_ANON] +
				       win->min.pages[MT_SHMEM])
			win->min = *rec;
		if (!win->n || rec->pages[MT_FILE] + rec->pages[MT_ANON] + rec->pages[MT_SHMEM] >
				       win->max.pages[MT_FILE] + win->max.pages[MT_ANON] +
				       win->max.pages[MT_SHMEM])
			win->max = *rec;
		win->end = *rec;
		/* a record of a kernel window stands for `folded` changes */
		win->n += rec->folded ? rec->folded : 1;
		return 0;
	}
	if (grow(&s->held, &s->cap_held, s->nheld, sizeof(*s->held), 16))
		return -ENOMEM;
	s->held[s->nheld++] = *rec;
	if (rec->type == MT_REC_EXIT || rec->type == MT_REC_LEAVE) {
		/* freed once the window of its exit (or leave: nothing of it
		 * comes after) is written */
		long i = idmap__get(&t->ids, rec->pid);

		if (i >= 0) {
			p = &t->procs[i];
			p->exited = true;
			if (!proc_window(t, p, w, &e))
				return e;
		}
	}
	return 0;
}

int thin__advance(struct thin *t, uint64_t released_ns)
{
	/* window k is decided when every record before k + 2 is in */
	uint64_t whole = released_ns == UINT64_MAX ? UINT64_MAX : (released_ns + 1) / t->res;

	if (!t->any || whole < 1)
		return 0;
	return write_before(t, whole - 1);
}

int thin__flush(struct thin *t)
{
	int e;

	if (!t->any)
		return 0;
	e = emit(t, t->next);
	if (!e)
		e = emit(t, t->next + 1);
	t->next += 2;
	return e;
}

uint64_t thin__written_until(const struct thin *t)
{
	if (!t->any)
		return UINT64_MAX;
	return t->next > UINT64_MAX / t->res ? UINT64_MAX : t->next * t->res;
}

size_t thin__nprocs(const struct thin *t)
{
	return t->live;
}

void thin__free(struct thin *t)
{
	if (!t)
		return;
	for (int i = 0; i < 2; i++) {
		free(t->s[i].procs);
		free(t->s[i].held);
	}
	idmap__free(&t->ids);
	free(t->procs);
	free(t->free_procs);
	free(t->items);
	free(t);
}
