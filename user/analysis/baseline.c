// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/baseline.h"
#include "lib/grow.h"

void baseline__init(struct baseline *b, uint64_t start_ns, unsigned int pct)
{
	memset(b, 0, sizeof(*b));
	b->start_ns = start_ns;
	b->pct = pct < 1 ? 1 : pct > 100 ? 100 : pct;
}

/* ceil(d * pct / 100), without overflow */
static uint64_t part_up(uint64_t d, unsigned int pct)
{
	return d / 100 * pct + (d % 100 * pct + 99) / 100;
}

int baseline__push(struct baseline *b, uint64_t ts_ns, int64_t kb)
{
	uint64_t keep_from;

	if (b->failed)
		return -ENOMEM;
	if (b->n && b->pt[b->head + b->n - 1].kb == kb)
		return 0;	/* no change */
	/* A window ends at the run's end (at or after now) and spans pct % of
	 * a run that began at start_ns or later: it cannot start before
	 * now - ceil((now - start) * pct / 100). Of the points before that,
	 * only the last is needed (its value holds there). */
	keep_from = ts_ns > b->start_ns ? ts_ns - part_up(ts_ns - b->start_ns, b->pct) : ts_ns;
	while (b->n >= 2 && b->pt[b->head + 1].ts_ns <= keep_from) {
		b->head++;
		b->n--;
		b->dropped = true;
	}
	if (b->head && b->head + b->n == b->cap && b->head >= b->cap / 2) {
		/* at the end of the array, half of it dropped: the kept ones
		 * to its start (half or more of it: amortized O(1) a push) */
		memmove(b->pt, b->pt + b->head, b->n * sizeof(*b->pt));
		b->head = 0;
	}
	if (grow(&b->pt, &b->cap, b->head + b->n, sizeof(*b->pt), 256)) {
		b->failed = true;
		return -ENOMEM;
	}
	b->pt[b->head + b->n++] = (struct baseline_pt){ ts_ns, kb };
	return 0;
}

struct held {
	int64_t kb;
	uint64_t ns;
};

static int cmp_held(const void *a, const void *b)
{
	const struct held *x = a, *y = b;

	return (x->kb > y->kb) - (x->kb < y->kb);
}

int baseline__median(const struct baseline *b, uint64_t from_ns, uint64_t to_ns, int64_t *kb)
{
	const struct baseline_pt *pt = b->pt + b->head;
	struct held *h;
	uint64_t total = 0, sum = 0;
	size_t nh = 0;

	if (b->failed)
		return -ENOMEM;
	if (b->dropped && from_ns < pt[0].ts_ns)
		return -ERANGE;
	if (to_ns < from_ns)
		to_ns = from_ns;
	if (to_ns == from_ns) {
		*kb = 0;
		for (size_t i = 0; i < b->n && pt[i].ts_ns <= from_ns; i++)
			*kb = pt[i].kb;
		return 0;
	}
	h = malloc((b->n + 1) * sizeof(*h));
	if (!h)
		return -ENOMEM;
	/* before the first point: 0 */
	if (!b->n || from_ns < pt[0].ts_ns)
		h[nh++] = (struct held){ 0, (b->n && pt[0].ts_ns < to_ns ? pt[0].ts_ns : to_ns) -
					    from_ns };
	for (size_t i = 0; i < b->n && pt[i].ts_ns < to_ns; i++) {
		uint64_t s = pt[i].ts_ns > from_ns ? pt[i].ts_ns : from_ns;
		uint64_t e = i + 1 < b->n && pt[i + 1].ts_ns < to_ns ? pt[i + 1].ts_ns : to_ns;

		if (e > s)
			h[nh++] = (struct held){ pt[i].kb, e - s };
	}
	qsort(h, nh, sizeof(*h), cmp_held);
	for (size_t i = 0; i < nh; i++)
		total += h[i].ns;
	/* the smallest value held, with those below it, for half the time */
	for (size_t i = 0; i < nh; i++) {
		sum += h[i].ns;
		if (2 * sum >= total) {
			*kb = h[i].kb;
			break;
		}
	}
	free(h);
	return 0;
}

void baseline__free(struct baseline *b)
{
	free(b->pt);
	b->pt = NULL;
	b->n = b->cap = b->head = 0;
}
