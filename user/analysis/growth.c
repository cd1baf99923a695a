// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <math.h>
#include <string.h>
#include "analysis/growth.h"

/* The least-squares line through env[a, b] (x: bucket index): its slope
 * and squared error, from sums over the range. */
struct sums {
	double n, x, y, xx, xy, yy;
};

static void sums_of(const int64_t *env, int a, int b, struct sums *s)
{
	memset(s, 0, sizeof(*s));
	for (int i = a; i <= b; i++) {
		double y = (double)env[i];

		s->n++;
		s->x += i;
		s->y += y;
		s->xx += (double)i * i;
		s->xy += i * y;
		s->yy += y * y;
	}
}

static double slope_of(const struct sums *s)
{
	double d = s->n * s->xx - s->x * s->x;

	return d > 0 ? (s->n * s->xy - s->x * s->y) / d : 0;
}

static double sse_of(const struct sums *s)
{
	double d = s->n * s->xx - s->x * s->x, b, a;

	if (d <= 0)
		return 0;
	b = (s->n * s->xy - s->x * s->y) / d;
	a = (s->y - b * s->x) / s->n;
	/* sum (y - a - b x)^2, expanded */
	return fmax(0, s->yy - 2 * a * s->y - 2 * b * s->xy + a * a * s->n + 2 * a * b * s->x +
			 b * b * s->xx);
}

static void sub(struct sums *r, const struct sums *all, const struct sums *part)
{
	r->n = all->n - part->n;
	r->x = all->x - part->x;
	r->y = all->y - part->y;
	r->xx = all->xx - part->xx;
	r->xy = all->xy - part->xy;
	r->yy = all->yy - part->yy;
}

/* The end of the start-up: the breakpoint b (in the first quarter) of the
 * best two-line fit of env[0, last] if the first line climbs much faster
 * than the second (a warm-up, then the working rate), else 0. */
static int startup_end(const int64_t *env, int last, int64_t min_rise)
{
	struct sums all, left, right;
	double best = -1;
	int bb = 0;

	sums_of(env, 0, last, &all);
	memset(&left, 0, sizeof(left));
	for (int b = 0; b < last; b++) {
		double y = (double)env[b], err;

		left.n++;
		left.x += b;
		left.y += y;
		left.xx += (double)b * b;
		left.xy += b * y;
		left.yy += y * y;
		/* a start-up is in the first quarter of the run */
		if (b < 1 || last - b < 3 || b > last / 4)
			continue;
		sub(&right, &all, &left);
		err = sse_of(&left) + sse_of(&right);
		if (best < 0 || err < best) {
			best = err;
			bb = b + 1;
		}
	}
	if (!bb)
		return 0;
	sums_of(env, 0, bb - 1, &left);
	sums_of(env, bb, last, &right);
	/* a warm-up: it rose min_rise or more, four times as fast as after */
	if (env[bb - 1] - env[0] >= min_rise && slope_of(&left) > 0 &&
	    slope_of(&left) > 4 * fmax(slope_of(&right), 0))
		return bb;
	return 0;
}

/* The floor without the transients: each bucket's lowest over the
 * buckets within n/40 of it (5% of the run: a transient shorter than
 * that, even one filling a whole bucket, is not the floor). */
static void smooth(const int64_t *in, int n, int64_t *out)
{
	int r = n / 40;

	for (int i = 0; i < n; i++) {
		int64_t m = in[i];

		for (int j = i - r; j <= i + r; j++)
			if (j >= 0 && j < n && in[j] < m)
				m = in[j];
		out[i] = m;
	}
}

void growth_judge(const int64_t *raw, int n, uint64_t w_ns, int64_t min_rise, int64_t peak_kb,
		  struct growth *g)
{
	int64_t top = INT64_MIN, bottom = INT64_MAX, tol, first, last_f, env[GROWTH_MAX_BUCKETS];
	int td = 0, su, len, k;
	struct sums s;

	memset(g, 0, sizeof(*g));
	g->verdict = GROWTH_TOO_SHORT;
	if (n < GROWTH_MIN_BUCKETS || (uint64_t)n * w_ns < GROWTH_MIN_NS || n > GROWTH_MAX_BUCKETS)
		return;
	smooth(raw, n, env);
	for (int i = 0; i < n; i++) {
		top = env[i] > top ? env[i] : top;
		bottom = env[i] < bottom ? env[i] : bottom;
	}
	/* teardown: after the last bucket whose floor is up at the top (a
	 * leak's last level, a plateau's end); what follows only goes down */
	tol = (top - bottom) / 10;
	if (tol < min_rise / 2)
		tol = min_rise / 2;
	for (int i = 0; i < n; i++)
		if (env[i] >= top - tol)
			td = i;
	/* start-up: the climb to a plateau held to the teardown for a
	 * quarter of the run or more (loading, then the work); else a fast
	 * first climb (a warm-up before a steady rise) */
	su = 0;
	while (su < td && env[su] < top - tol)
		su++;
	if ((td - su) * 4 < td + 1) {
		su = startup_end(env, td, min_rise);
	} else {
		/* a slow climb passes top - tol before it is up: the start-up
		 * goes on while the floor still rises four times as fast as
		 * the plateau's trend (and a 16th of min_rise a bucket) */
		sums_of(env, su, td, &s);
		while (su < td && env[su + 1] - env[su] > min_rise / 16 &&
		       env[su + 1] - env[su] > 4 * fmax(slope_of(&s), 0))
			su++;
	}
	len = td - su + 1;
	g->startup_end_ns = (uint64_t)su * w_ns;
	g->teardown_start_ns = (uint64_t)(td + 1) * w_ns;
	if (len < GROWTH_MIN_BUCKETS / 2 || (uint64_t)len * w_ns < GROWTH_MIN_NS)
		return;
	g->enough = true;
	/* the floor at each end of the working phase: the lowest of its
	 * first and last twentieths */
	k = len / 20 > 0 ? len / 20 : 1;
	first = INT64_MAX;
	last_f = INT64_MAX;
	for (int i = 0; i < k; i++) {
		first = env[su + i] < first ? env[su + i] : first;
		last_f = env[td - i] < last_f ? env[td - i] : last_f;
	}
	sums_of(env, su, td, &s);
	g->slope_kb_s = slope_of(&s) / (w_ns / 1e9);
	g->envelope_start_kb = first;
	g->envelope_end_kb = last_f;
	g->growth_kb = last_f - first;
	/* growing: the floor rose min_rise and 5% of where it started over
	 * the working phase (a program's own pages paged in as it goes, a
	 * few percent, are not growth), the trend rising */
	g->verdict = g->growth_kb >= min_rise && g->growth_kb * 20 >= (first > 0 ? first : 0) &&
		     g->slope_kb_s > 0 ? GROWTH_GROWING : GROWTH_STABLE;
	g->leak = g->verdict == GROWTH_GROWING;
}

const char *growth_verdict_name(enum growth_verdict v)
{
	switch (v) {
	case GROWTH_GROWING:	return "growing";
	case GROWTH_STABLE:	return "stable";
	default:		return "too short to say";
	}
}
