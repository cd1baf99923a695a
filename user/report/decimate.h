/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A step function (the value of the last row at or before t) decimated
 * into min/max buckets, in one pass with bounded memory: a grid of at most
 * `cap` buckets of width w from an origin; a row beyond the last bucket
 * doubles w, merging buckets two by two, so any trace fits. A bucket's lo
 * and hi are exact: the lowest and highest value the function takes in
 * [origin + i*w, origin + (i+1)*w) (the value carried in at its start, and
 * every row in it), so no transient is lost at any width. Coarser levels
 * (a pyramid) are the finest merged again; what a chart draws per pixel
 * column is the min and max of the buckets under it.
 *
 * A value can be undefined (a process before its first row, after its
 * exit): a bucket then holds what was defined in it, or nothing.
 *
 * The rows themselves are kept beside the finest buckets that hold few
 * enough of them (mm_raw): a chart zoomed in past the finest bucket draws
 * single rows where it has them.
 */
#ifndef MEMTRACE_REPORT_DECIMATE_H
#define MEMTRACE_REPORT_DECIMATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Values kept at a bucket's highest point and at its end (a stack of parts
 * whose sum is the value: anon, file, shmem). */
#define MM_MAX_EXTRA 3

/* bucket flags */
#define MM_HAS 1	/* lo and hi hold a value (defined somewhere in it) */
#define MM_END 2	/* end holds the value at its end (defined there) */
#define MM_CUT 4	/* the value became undefined in it */

struct mm_bucket {
	int64_t lo, hi, end;
	int64_t xhi[MM_MAX_EXTRA];	/* the extras at the first value equal to hi */
	int64_t xend[MM_MAX_EXTRA];	/* the extras at its end */
	uint32_t n;			/* rows pushed in it */
	uint8_t flags;
};

struct mm_grid {
	uint64_t origin;	/* ns; bucket i starts at origin + i * w */
	uint64_t w;		/* ns, doubles when the grid is full */
	size_t cap;		/* buckets at most (even) */
	size_t n;		/* buckets made: 0..n-1 (the last one open) */
	struct mm_bucket *b;
	int nx;			/* extras per value, 0..MM_MAX_EXTRA */
	bool have;		/* a value is held now */
	int64_t cur, curx[MM_MAX_EXTRA];
	uint64_t rows, last_ts;
};

/* A grid of at most cap buckets (even, >= 2) of width w0 (>= 1) from
 * origin, nx extras per value. 0 or -ENOMEM. */
int mm_grid__init(struct mm_grid *g, size_t cap, uint64_t origin, uint64_t w0, int nx);
void mm_grid__free(struct mm_grid *g);
/* The value v (extras x, NULL when nx is 0) from ts on. ts >= origin, and
 * not before the previous push (rows in time order). 0 or -ERANGE. */
int mm_grid__push(struct mm_grid *g, uint64_t ts, int64_t v, const int64_t *x);
/* No value from ts on (a process gone); the next push defines it again. */
int mm_grid__cut(struct mm_grid *g, uint64_t ts);
/* The bucket that ts falls in, or -1 (before the origin or past the last
 * bucket made). */
long mm_grid__index(const struct mm_grid *g, uint64_t ts);
/* dst: src with its buckets merged by 2^k (width w * 2^k), as src would be
 * had it been that wide from the start. 0 or -ENOMEM. */
int mm_grid__coarsen(const struct mm_grid *src, unsigned int k, struct mm_grid *dst);
/* Merges b (the later bucket) into a (nx extras): what one bucket twice
 * as wide holds. */
void mm_bucket_merge(struct mm_bucket *a, const struct mm_bucket *b, int nx);

/* Rows kept whole for the finest buckets of a grid: records of `size`
 * bytes starting with their uint64_t ts, at most `cap` of them. A bucket's
 * rows are all kept while it holds at most `per` rows; when the store is
 * full, `per` is halved until what it keeps fits in half of it. */
struct mm_raw {
	size_t size, cap, n;
	char *rec;
	uint32_t per;		/* a bucket with more rows keeps none */
	const struct mm_grid *g;	/* whose buckets: its n counts every row */
};

int mm_raw__init(struct mm_raw *r, const struct mm_grid *g, size_t size, size_t cap);
void mm_raw__free(struct mm_raw *r);
/* After the row was pushed into r->g: keeps rec (its ts first) while its
 * bucket is whole. 0 or -ERANGE. */
int mm_raw__push(struct mm_raw *r, const void *rec);
/* Drops the rows of buckets no longer whole (merged over `per`); after
 * it, the store holds exactly the rows of the buckets with 1..per rows. */
void mm_raw__compact(struct mm_raw *r);
/* Is bucket i of r->g kept whole (every row of it is in the store)? */
static inline bool mm_raw__whole(const struct mm_raw *r, size_t i)
{
	return i < r->g->n && r->g->b[i].n <= r->per;
}
static inline uint64_t mm_raw__ts(const struct mm_raw *r, size_t k)
{
	return *(const uint64_t *)(const void *)(r->rec + k * r->size);
}

#endif
