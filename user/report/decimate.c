// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "report/decimate.h"

int mm_grid__init(struct mm_grid *g, size_t cap, uint64_t origin, uint64_t w0, int nx)
{
	memset(g, 0, sizeof(*g));
	if (cap < 2 || (cap & 1) || !w0 || nx < 0 || nx > MM_MAX_EXTRA)
		return -EINVAL;
	g->b = malloc(cap * sizeof(*g->b));
	if (!g->b)
		return -ENOMEM;
	g->cap = cap;
	g->origin = origin;
	g->w = w0;
	g->nx = nx;
	return 0;
}

void mm_grid__free(struct mm_grid *g)
{
	free(g->b);
	g->b = NULL;
	g->n = g->cap = 0;
}

void mm_bucket_merge(struct mm_bucket *a, const struct mm_bucket *b, int nx)
{
	size_t xs = (size_t)nx * sizeof(int64_t);

	if (b->flags & MM_HAS) {
		if (!(a->flags & MM_HAS)) {
			a->lo = b->lo;
			a->hi = b->hi;
			memcpy(a->xhi, b->xhi, xs);
		} else {
			if (b->lo < a->lo)
				a->lo = b->lo;
			if (b->hi > a->hi) {	/* the first to reach it: a on a tie */
				a->hi = b->hi;
				memcpy(a->xhi, b->xhi, xs);
			}
		}
	}
	/* the end is the later one's, defined or not */
	a->end = b->end;
	memcpy(a->xend, b->xend, xs);
	a->flags = (uint8_t)(((a->flags | b->flags) & (MM_HAS | MM_CUT)) | (b->flags & MM_END));
	a->n += b->n;
}

/* Width doubled: buckets 2k and 2k+1 become bucket k. */
static void fold(struct mm_grid *g)
{
	size_t n = g->n;

	for (size_t k = 0; 2 * k < n; k++) {
		struct mm_bucket m = g->b[2 * k];

		if (2 * k + 1 < n)
			mm_bucket_merge(&m, &g->b[2 * k + 1], g->nx);
		g->b[k] = m;
	}
	g->n = (n + 1) / 2;
	g->w *= 2;
}

/* A new bucket: the value held is carried into it. */
static void open_bucket(struct mm_grid *g, struct mm_bucket *b)
{
	size_t xs = (size_t)g->nx * sizeof(int64_t);

	memset(b, 0, sizeof(*b));
	if (!g->have)
		return;
	b->lo = b->hi = b->end = g->cur;
	memcpy(b->xhi, g->curx, xs);
	memcpy(b->xend, g->curx, xs);
	b->flags = MM_HAS | MM_END;
}

/* The bucket of ts, made (and the grid widened) as needed; NULL when ts
 * is before the origin or the previous push. */
static struct mm_bucket *bucket_at(struct mm_grid *g, uint64_t ts)
{
	uint64_t i;

	if (ts < g->origin || (g->rows && ts < g->last_ts))
		return NULL;
	for (;;) {
		i = (ts - g->origin) / g->w;
		if (i < g->cap)
			break;
		/* w doubles at most 64 times: a ts within 2^64 ns of the origin
		 * always ends up in the first cap buckets */
		fold(g);
	}
	while (g->n <= i)
		open_bucket(g, &g->b[g->n++]);
	g->last_ts = ts;
	return &g->b[i];
}

int mm_grid__push(struct mm_grid *g, uint64_t ts, int64_t v, const int64_t *x)
{
	struct mm_bucket *b = bucket_at(g, ts);
	size_t xs = (size_t)g->nx * sizeof(int64_t);

	if (!b)
		return -ERANGE;
	if (!(b->flags & MM_HAS)) {
		b->lo = b->hi = v;
		if (xs)
			memcpy(b->xhi, x, xs);
	} else if (v < b->lo) {
		b->lo = v;
	} else if (v > b->hi) {
		b->hi = v;
		if (xs)
			memcpy(b->xhi, x, xs);
	}
	b->end = v;
	if (xs) {
		memcpy(b->xend, x, xs);
		memcpy(g->curx, x, xs);
	}
	b->flags |= MM_HAS | MM_END;
	b->n++;
	g->cur = v;
	g->have = true;
	g->rows++;
	return 0;
}

int mm_grid__cut(struct mm_grid *g, uint64_t ts)
{
	struct mm_bucket *b;

	if (!g->have)
		return 0;
	b = bucket_at(g, ts);
	if (!b)
		return -ERANGE;
	b->flags = (uint8_t)((b->flags & ~MM_END) | MM_CUT);
	g->have = false;
	return 0;
}

long mm_grid__index(const struct mm_grid *g, uint64_t ts)
{
	uint64_t i;

	if (ts < g->origin)
		return -1;
	i = (ts - g->origin) / g->w;
	return i < g->n ? (long)i : -1;
}

int mm_grid__coarsen(const struct mm_grid *src, unsigned int k, struct mm_grid *dst)
{
	size_t f = (size_t)1 << k;
	size_t n = (src->n + f - 1) / f, cap = n + (n & 1);

	if (k >= 32 || mm_grid__init(dst, cap < 2 ? 2 : cap, src->origin, src->w << k, src->nx))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct mm_bucket m = src->b[i * f];

		for (size_t j = i * f + 1; j < (i + 1) * f && j < src->n; j++)
			mm_bucket_merge(&m, &src->b[j], src->nx);
		dst->b[i] = m;
	}
	dst->n = n;
	dst->have = src->have;
	dst->cur = src->cur;
	memcpy(dst->curx, src->curx, sizeof(dst->curx));
	dst->rows = src->rows;
	dst->last_ts = src->last_ts;
	return 0;
}

int mm_raw__init(struct mm_raw *r, const struct mm_grid *g, size_t size, size_t cap)
{
	memset(r, 0, sizeof(*r));
	if (size < sizeof(uint64_t) || size % sizeof(uint64_t) || cap < 2)
		return -EINVAL;
	r->rec = malloc(size * cap);
	if (!r->rec)
		return -ENOMEM;
	r->size = size;
	r->cap = cap;
	r->per = UINT32_MAX;
	r->g = g;
	return 0;
}

void mm_raw__free(struct mm_raw *r)
{
	free(r->rec);
	r->rec = NULL;
	r->n = 0;
}

void mm_raw__compact(struct mm_raw *r)
{
	size_t k = 0;

	for (size_t j = 0; j < r->n; j++) {
		long i = mm_grid__index(r->g, mm_raw__ts(r, j));

		if (i < 0 || !mm_raw__whole(r, (size_t)i))
			continue;
		if (k != j)
			memcpy(r->rec + k * r->size, r->rec + j * r->size, r->size);
		k++;
	}
	r->n = k;
}

/* The store is full: per lowered until what is kept fits in half of it. */
static void make_room(struct mm_raw *r)
{
	mm_raw__compact(r);
	while (r->n > r->cap / 2) {
		uint32_t most = 0;

		/* from the fullest bucket kept, not from UINT32_MAX down */
		for (size_t i = 0; i < r->g->n; i++)
			if (r->g->b[i].n <= r->per && r->g->b[i].n > most)
				most = r->g->b[i].n;
		r->per = most / 2;
		mm_raw__compact(r);
	}
}

int mm_raw__push(struct mm_raw *r, const void *rec)
{
	uint64_t ts = *(const uint64_t *)rec;
	long i = mm_grid__index(r->g, ts);

	if (i < 0)
		return -ERANGE;
	if (!mm_raw__whole(r, (size_t)i))
		return 0;
	if (r->n == r->cap) {
		make_room(r);
		if (!mm_raw__whole(r, (size_t)i))
			return 0;
	}
	memcpy(r->rec + r->n * r->size, rec, r->size);
	r->n++;
	return 0;
}
