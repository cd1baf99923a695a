// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/prominence.h"
#include "lib/grow.h"

#define NONE INT64_MAX		/* no value (a peak with no row after it yet) */

void prom_init(struct prom *p, int64_t min_rise, int64_t settle_kb, double settle_pct)
{
	memset(p, 0, sizeof(*p));
	p->min_rise = min_rise > 0 ? min_rise : 1;
	p->settle_kb = settle_kb;
	p->settle_pct = settle_pct;
	p->gmin = NONE;
	p->quantum_before = p->quantum_after = 16;
}

void prom_free(struct prom *p)
{
	free(p->before);
	free(p->after);
	free(p->pk);
	free(p->pend);
	memset(p, 0, sizeof(*p));
}

/* The lowest value after the top peak (NONE: no row yet), or, with no
 * peak open, the lowest value so far. */
static int64_t low_since_top(const struct prom *p)
{
	if (!p->npk)
		return p->gmin;
	return p->nafter > p->pk[p->npk - 1].aseg ? p->after[p->nafter - 1].v : NONE;
}

/* Bounded memory: points within *q kB of the one kept before them, in the
 * same stretch between open peaks, go; of such a group the lowest stays
 * (the answer to "the last row at or below x before", and "the first
 * after", moves by less than *q in level: a window edge by the time RSS
 * took to move that much). *q doubles until a quarter of the points go.
 * after_side: a point at a peak's own time is before it (after[]) or
 * after it (before[]). *thin_ts: the newest point that went. */
static void thin(struct prom *p, struct prom_point *a, size_t *n, bool after_side,
		 int64_t *q, uint64_t *thin_ts)
{
	for (;;) {
		size_t k = 0, j = 0, last_range = (size_t)-1;

		for (size_t i = 0; i < *n; i++) {
			/* the stretch: how many open peaks lie before it */
			while (j < p->npk && (after_side ? p->pk[j].ts < a[i].ts : p->pk[j].ts <= a[i].ts))
				j++;
			if (k && j == last_range && llabs(a[i].v - a[k - 1].v) < *q) {
				if (a[i].ts > *thin_ts || a[k - 1].ts > *thin_ts)
					*thin_ts = a[i].ts > a[k - 1].ts ? a[i].ts : a[k - 1].ts;
				if (a[i].v < a[k - 1].v)
					a[k - 1] = a[i];
				continue;
			}
			last_range = j;
			a[k++] = a[i];
		}
		if (*n - k >= *n / 4 || *q > ((int64_t)1 << 40)) {
			*n = k;
			return;
		}
		*n = k;
		*q *= 2;
	}
}

/* ---- window edges ---- */

/* The last row before the top peak t at or below level: the window
 * starts at the row after it. It lies after the higher peak below t (t's
 * left low point does): before[below's bseg, t->bseg) holds the suffix
 * minima of the rows between them as they stood when t rose,
 * non-decreasing in value and time. NULL: none. */
static const struct prom_point *start_of(const struct prom *p, const struct prom_peak *t,
					 int64_t level)
{
	size_t lo = p->npk > 1 ? p->pk[p->npk - 2].bseg : 0, hi = t->bseg, first = lo;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->before[mid].v <= level)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > first ? &p->before[lo - 1] : NULL;
}

/* The first of the top peak's new minima at or below level (they fall
 * strictly: the first row after the peak that low). NULL: none. */
static const struct prom_point *end_of(const struct prom *p, int64_t level)
{
	size_t lo = p->pk[p->npk - 1].aseg, hi = p->nafter;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->after[mid].v > level)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < p->nafter ? &p->after[lo] : NULL;
}

/* How long a point's level was held: until the row after it, or, while
 * it is the last row, until now; 0 for a level inside a call. */
static uint64_t held(const struct prom *p, const struct prom_point *x)
{
	if (!x->next_ts)
		return p->ts - x->ts;
	return x->mid ? 0 : x->next_ts - x->ts;
}

/* The program's clock (prom_push): at a point, */
static uint64_t clock_at(const struct prom_point *x)
{
	return x->ts - x->in;
}

/* at the row after it (now, while it is the last one), */
static uint64_t clock_after(const struct prom *p, const struct prom_point *x)
{
	return clock_at(x) + held(p, x);
}

/* and now. */
static uint64_t clock_now(const struct prom *p)
{
	return p->ts - p->in;
}

static int64_t settle_of(const struct prom *p, int64_t rise)
{
	return p->settle_kb > 0 ? p->settle_kb : (int64_t)((double)rise * p->settle_pct / 100.0);
}

/* The spike of the top peak t on base: from the row after s (the last at
 * or below the base, give or take a little, before it) to e (the first
 * back within settle of the base after it). */
static int spike_of(struct prom *p, const struct prom_peak *t, int64_t base,
		    const struct prom_point *s, const struct prom_point *e, prom_emit_fn fn,
		    void *ctx)
{
	struct spike sp;

	memset(&sp, 0, sizeof(sp));
	sp.start_ts = s->next_ts && s->next_ts <= t->ts ? s->next_ts : t->ts;
	sp.peak_ts = t->ts;
	sp.end_ts = e->ts;
	sp.base_kb = base;
	sp.peak_kb = t->h;
	sp.end_kb = e->v;
	/* from the first row above the base to the row back at it */
	for (int k = 0; k < SEV_NR; k++)
		sp.events[k] = (uint32_t)(e->ev[k] - s->ev[k]);
	/* a point thinned away after its start, or after its peak: the
	 * window may be wider than it was */
	sp.approx = p->thin_before_ts > s->ts || p->thin_after_ts > t->ts;
	(void)fn;
	(void)ctx;
	/* final once RSS has not gone on through the base's band */
	if (grow(&p->pend, &p->cappend, p->npend, sizeof(*p->pend), 4))
		return -ENOMEM;
	p->pend[p->npend++] = (struct prom_pending){
		.sp = sp, .floor = base - settle_of(p, t->h - base),
		.back_clock = clock_at(e) };
	return 0;
}

/* The spikes decided a moment ago: one whose fall went on through its
 * base's band (below floor) within PROM_PLUNGE_NS of reaching it is no
 * spike (a teardown freeing memory in steps passes through every level:
 * what stood above it is the top of the teardown); the others are final
 * once that time has passed (end: at once). */
static int settle_pending(struct prom *p, int64_t v, bool end, prom_emit_fn fn, void *ctx)
{
	size_t k = 0;
	int e = 0;

	for (size_t i = 0; i < p->npend; i++) {
		struct prom_pending *q = &p->pend[i];

		if (!end && clock_now(p) - q->back_clock < PROM_PLUNGE_NS) {
			if (v >= q->floor)
				p->pend[k++] = *q;	/* not yet final */
			continue;			/* else: a plunge, gone */
		}
		if (!e)
			e = fn(ctx, &q->sp);
	}
	p->npend = k;
	return e;
}

/* Where a window starts: the last row at or below base + a little (a
 * page or two of difference between the level before and after is the
 * same level), at most settle. */
static int64_t start_slack(const struct prom *p, int64_t rise)
{
	int64_t s = rise / 100, settle = settle_of(p, rise);

	if (s < 64)
		s = 64;
	return s < settle ? s : settle;
}

/* How long RSS stayed within [level - settle, ...] before it rose from
 * a (the suffix minima before a, back to the first one below that band). */
static uint64_t hold_before(const struct prom *p, const struct prom_point *a, int64_t settle)
{
	const struct prom_point *j = a;

	while (j > p->before && j[-1].v >= a->v - settle)
		j--;
	return clock_after(p, a) - clock_at(j);
}

/* How long RSS stayed at or above level - settle after it came back (e),
 * up to now (the top peak's new minima after e). */
static uint64_t hold_after(const struct prom *p, const struct prom_point *e, int64_t floor)
{
	for (const struct prom_point *f = e; f < p->after + p->nafter; f++)
		if (f->v < floor)
			return clock_at(f) - clock_at(e);
	return clock_now(p) - clock_at(e);
}

/* The shelf of the top peak t's left side, after s, at or below level
 * and not below floor: the last point there held PROM_SHELF_NS (not a row
 * of the rise itself), else the last point at or below level. NULL: none. */
static const struct prom_point *left_at(const struct prom *p, const struct prom_peak *t,
					const struct prom_point *s, int64_t level, int64_t floor)
{
	size_t lo = (size_t)(s - p->before) + 1, hi = t->bseg, first = lo;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->before[mid].v <= level)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == first)
		return NULL;
	for (size_t i = lo; i-- > first && p->before[i].v >= floor;)
		if (held(p, &p->before[i]) >= PROM_SHELF_NS)
			return &p->before[i];
	return &p->before[lo - 1];
}

/* The spike inside the top peak's, on a shelf (prominence.h): the first
 * level its right side comes back to and holds (PROM_SHELF_NS) above the
 * outer spike's base, its left side's shelf at that level (its base: the
 * higher of the two). RSS was in that band (within settle), before the rise or after
 * the return, for a quarter of the spike's time at least: a step of a
 * staircase up or down is held for much less than the stairs above it,
 * and is the program's shape, not a spike. Only the innermost one. */
static int nested(struct prom *p, const struct prom_peak *t, int64_t base,
		  const struct prom_point *s, prom_emit_fn fn, void *ctx)
{
	for (const struct prom_point *b = p->after + t->aseg; b < p->after + p->nafter; b++) {
		const struct prom_point *a, *e;
		uint64_t need, dur;
		int64_t settle;

		if (t->h - b->v < p->min_rise || held(p, b) < PROM_SHELF_NS)
			continue;
		settle = settle_of(p, t->h - b->v);
		if (b->v - base <= settle)
			break;		/* the outer spike's own base */
		a = left_at(p, t, s, b->v + start_slack(p, t->h - b->v), b->v - settle);
		if (!a || !a->next_ts || a->v < b->v - settle)
			continue;	/* its left side was not at that level */
		e = end_of(p, b->v + settle);
		dur = clock_at(e) - clock_after(p, a);
		need = dur / 4 > PROM_SHELF_NS ? dur / 4 : PROM_SHELF_NS;
		/* its base: the higher of the shelf it rose from and the level
		 * it came back to (as a prominence's) */
		if (hold_before(p, a, settle) >= need || hold_after(p, e, b->v - settle) >= need)
			return spike_of(p, t, a->v > b->v ? a->v : b->v, a, e, fn, ctx);
	}
	return 0;
}

/* The top peak is decided: a spike if it stands min_rise above the higher
 * of its two low points (the right one: the lowest after it, up to now);
 * and the spikes on shelves under its summit. */
static int decide_top(struct prom *p, prom_emit_fn fn, void *ctx)
{
	const struct prom_peak *t = &p->pk[p->npk - 1];
	int64_t right = low_since_top(p), base, rise;
	const struct prom_point *s, *e;
	int err;

	if (right == NONE)
		return 0;	/* no row after it: not a peak, a step of a climb */
	base = t->left > right ? t->left : right;
	rise = t->h - base;
	if (rise < p->min_rise)
		return 0;
	s = start_of(p, t, base + start_slack(p, rise));
	e = end_of(p, base + settle_of(p, rise));
	if (!s || !e)
		return 0;
	err = spike_of(p, t, base, s, e, fn, ctx);
	return err ? err : nested(p, t, base, s, fn, ctx);
}

/* The top peak goes. Its new minima that are new minima for the peak
 * below too join that one's (all go when it was the last one); its left
 * side and the rows since join again as one run of suffix minima. */
static void pop_top(struct prom *p)
{
	const struct prom_peak *t = &p->pk[--p->npk];
	size_t floor = p->npk ? p->pk[p->npk - 1].bseg : 0, k = t->bseg;

	/* before[]: t's left side loses what rows after t went below */
	if (t->bseg < p->nbefore) {
		int64_t first = p->before[t->bseg].v;

		while (k > floor && p->before[k - 1].v > first)
			k--;
		memmove(&p->before[k], &p->before[t->bseg], (p->nbefore - t->bseg) * sizeof(*p->before));
		p->nbefore = k + (p->nbefore - t->bseg);
	}
	/* after[]: t->left is the lowest point the peak below had seen until t */
	if (!p->npk) {
		p->nafter = 0;
		return;
	}
	k = t->aseg;
	{
		size_t i = t->aseg;

		while (i < p->nafter && p->after[i].v >= t->left)
			i++;
		memmove(&p->after[k], &p->after[i], (p->nafter - i) * sizeof(*p->after));
		p->nafter = k + (p->nafter - i);
	}
}

/* After thinning: each open peak's points start at the first one after
 * it (before[]: the first at or after it) in time. */
static void recount(struct prom *p)
{
	size_t a = 0, b = 0;

	for (size_t j = 0; j < p->npk; j++) {
		while (a < p->nafter && p->after[a].ts <= p->pk[j].ts)
			a++;
		while (b < p->nbefore && p->before[b].ts < p->pk[j].ts)
			b++;
		p->pk[j].aseg = a;
		p->pk[j].bseg = b;
	}
}

static int add_after(struct prom *p, const struct prom_point *pt)
{
	if (p->nafter >= PROM_MAX_POINTS) {
		thin(p, p->after, &p->nafter, true, &p->quantum_after, &p->thin_after_ts);
		recount(p);
	}
	if (grow(&p->after, &p->capafter, p->nafter, sizeof(*p->after), 16))
		return -ENOMEM;
	p->after[p->nafter++] = *pt;
	return 0;
}

/* pt joins the suffix minima since the top peak (the open peaks' left
 * sides stay as they were). */
static int add_before(struct prom *p, const struct prom_point *pt)
{
	size_t floor = p->npk ? p->pk[p->npk - 1].bseg : 0;

	while (p->nbefore > floor && p->before[p->nbefore - 1].v > pt->v)
		p->nbefore--;
	if (p->nbefore >= PROM_MAX_POINTS) {
		thin(p, p->before, &p->nbefore, false, &p->quantum_before, &p->thin_before_ts);
		recount(p);
	}
	if (grow(&p->before, &p->capbefore, p->nbefore, sizeof(*p->before), 16))
		return -ENOMEM;
	p->before[p->nbefore++] = *pt;
	return 0;
}

static int push_peak(struct prom *p, int64_t h, uint64_t ts, int64_t left)
{
	if (p->npk == PROM_MAX_PEAKS) {
		/* bounded memory: the oldest open peak is given up (4096
		 * levels of peaks, each lower than the one before; not seen
		 * in a real program) */
		memmove(p->pk, p->pk + 1, (p->npk - 1) * sizeof(*p->pk));
		p->npk--;
	}
	if (grow(&p->pk, &p->cappk, p->npk, sizeof(*p->pk), 8))
		return -ENOMEM;
	p->pk[p->npk++] = (struct prom_peak){ .h = h, .ts = ts, .left = left, .aseg = p->nafter,
					      .bseg = p->nbefore };
	return 0;
}

int prom_push(struct prom *p, int64_t v, uint64_t ts, const uint64_t *ev, bool mid,
	      prom_emit_fn fn, void *ctx)
{
	struct prom_point pt = { .v = v, .ts = ts };
	int e = 0;

	for (int k = 0; k < SEV_NR; k++)
		pt.ev[k] = (uint32_t)ev[k];
	mid = mid && p->have;
	/* the row before this one is held until now (or passed through) */
	if (p->nbefore && p->before[p->nbefore - 1].ts == p->ts) {
		p->before[p->nbefore - 1].next_ts = ts;
		p->before[p->nbefore - 1].mid = mid;
	}
	if (p->nafter && p->after[p->nafter - 1].ts == p->ts) {
		p->after[p->nafter - 1].next_ts = ts;
		p->after[p->nafter - 1].mid = mid;
	}
	if (mid)
		p->in += ts - p->ts;
	pt.in = p->in;
	p->ts = ts;
	if (p->npend)
		e = settle_pending(p, v, false, fn, ctx);
	if (e) {
		/* nothing */
	} else if (!p->have) {
		p->have = true;
	} else if (v > p->v) {
		/* higher ground for the open peaks at or below v (of equal
		 * summits, the last is measured to what lies beyond the others;
		 * the spike it is, if it stands on a shelf, is nested()'s) */
		while (!e && p->npk && p->pk[p->npk - 1].h <= v) {
			e = decide_top(p, fn, ctx);
			pop_top(p);
		}
		/* a peak that may stand min_rise above its left low point */
		if (!e && low_since_top(p) != NONE && v - low_since_top(p) >= p->min_rise)
			e = push_peak(p, v, ts, low_since_top(p));
	} else if (v < p->v) {
		if (p->npk && v < low_since_top(p))
			e = add_after(p, &pt);
		/* back at or below a peak's left low point: its base is that
		 * point, whatever comes later */
		while (!e && p->npk && low_since_top(p) <= p->pk[p->npk - 1].left) {
			e = decide_top(p, fn, ctx);
			pop_top(p);
		}
	}
	if (v < p->gmin)
		p->gmin = v;
	p->v = v;
	return e ? e : add_before(p, &pt);
}

int prom_end(struct prom *p, prom_emit_fn fn, void *ctx)
{
	int e = 0;

	while (!e && p->npk) {
		e = decide_top(p, fn, ctx);
		pop_top(p);
	}
	return e ? e : settle_pending(p, 0, true, fn, ctx);
}
