// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "lib/grow.h"
#include "lib/idmap.h"
#include "analysis/spikes.h"

#define MAX_STACK	512	/* open candidates per process */
#define ENV_BUCKETS	256	/* lower-envelope buckets per process */
/* A rise after the level held this long starts a new candidate even when
 * the move before was a rise too: a spike on top of a plateau. */
#define PLATEAU_NS	200000ULL
/* Drops closer together than this are one fall (a munmap of a large area
 * zaps in page-table chunks, with gaps of up to a few hundred us). */
#define FALL_GAP_NS	5000000ULL

struct cand {
	int64_t base;
	uint64_t start_ts;
	int64_t peak;
	uint64_t peak_ts;
	uint64_t at_start[SEV_NR];	/* event totals when the rise began */
};

/* Classic windowed rule: a sliding-window minimum (monotonic deque). */
struct wpoint {
	uint64_t ts;
	int64_t v;
};

struct pstate {
	pid_t pid;
	bool have, closed;
	int64_t v;		/* current value */
	uint64_t ts;		/* since when */
	int dir;		/* last move: +1 up, -1 down */
	uint64_t totals[SEV_NR];
	struct cand *stack;
	size_t depth, cap;
	/* poll replay: per period, the max each phase's poller has sampled */
	int64_t poll_floor[SPIKES_MAX_POLLS];
	int64_t *poll_bins[SPIKES_MAX_POLLS];
	/* lower envelope: minimum per time bucket, buckets double in width */
	uint64_t env_t0, env_w;
	int env_n;
	int64_t env_min[ENV_BUCKETS];
	/* windowed rule */
	struct wpoint *dq;
	size_t dq_head, dq_len, dq_cap;
	bool w_active;
	struct spike w_cur;
	/* spikes that ended in the current fall, decided when it ends */
	struct spike *fallv;
	size_t nfall, fallcap;
	int64_t fall_min;
	uint64_t fall_ts;
	bool in_call;		/* last change was inside a syscall not yet returned */
	struct pid_report rep;
};

struct spikes {
	struct spikes_cfg cfg;
	struct pstate **ps;
	size_t nps, cap;
	struct idmap index;	/* pid -> ps[] */
	struct spike *sp;
	size_t nsp, spcap;
	bool finished;
	int err;
};

struct spikes *spikes__new(const struct spikes_cfg *cfg)
{
	struct spikes *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cfg = *cfg;
	if (s->cfg.min_rise_kb <= 0)
		s->cfg.min_rise_kb = 1024;
	if (s->cfg.settle_kb <= 0 && s->cfg.settle_pct <= 0)
		s->cfg.settle_pct = 10;
	if (s->cfg.npoll > SPIKES_MAX_POLLS)
		s->cfg.npoll = SPIKES_MAX_POLLS;
	return s;
}

static void pstate_free(struct pstate *p)
{
	if (!p)
		return;
	free(p->stack);
	free(p->dq);
	free(p->fallv);
	for (int i = 0; i < SPIKES_MAX_POLLS; i++)
		free(p->poll_bins[i]);
	free(p);
}

void spikes__free(struct spikes *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nps; i++)
		pstate_free(s->ps[i]);
	free(s->ps);
	idmap__free(&s->index);
	free(s->sp);
	free(s);
}

static struct pstate *pstate_get(struct spikes *s, pid_t pid)
{
	long i = idmap__get(&s->index, (uint64_t)(uint32_t)pid);
	struct pstate *p;

	if (i >= 0)
		return s->ps[i];
	if (grow(&s->ps, &s->cap, s->nps, sizeof(*s->ps), 16))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	p->rep.pid = pid;
	for (int i = 0; i < s->cfg.npoll; i++) {
		p->poll_bins[i] = calloc(SPIKES_PHASES, sizeof(int64_t));
		if (!p->poll_bins[i]) {
			pstate_free(p);
			return NULL;
		}
	}
	if (idmap__put(&s->index, (uint64_t)(uint32_t)pid, s->nps)) {
		pstate_free(p);
		return NULL;
	}
	s->ps[s->nps++] = p;
	return p;
}

static int emit(struct spikes *s, const struct spike *sp)
{
	if (grow(&s->sp, &s->spcap, s->nsp, sizeof(*s->sp), 64))
		return -ENOMEM;
	s->sp[s->nsp++] = *sp;
	return 0;
}

/* Index of the first sample instant at or after t, counting every sample
 * of every phase: instant j is at (j + 0.5) * P / PHASES. That is
 * ceil(t * PHASES / P - 0.5) = floor((2 t PHASES + P - 1) / 2P). */
static uint64_t sample_index(uint64_t t, uint64_t P)
{
	return (uint64_t)(((__uint128_t)2 * t * SPIKES_PHASES + P - 1) / ((__uint128_t)2 * P));
}

/* The poller of phase i samples at k*P + (i + 0.5)*P/PHASES. A value held
 * over [a, b) is seen by every phase with a sample instant inside. */
static void poll_segment(struct spikes *s, struct pstate *p, uint64_t a, uint64_t b, int64_t v)
{
	for (int i = 0; i < s->cfg.npoll; i++) {
		uint64_t P = s->cfg.poll_ns[i], first, n;
		int64_t *bins = p->poll_bins[i];

		if (b <= a || v <= p->poll_floor[i])
			continue;
		first = sample_index(a, P);
		n = sample_index(b, P) - first;
		if (n >= SPIKES_PHASES) {
			p->poll_floor[i] = v;	/* every phase samples it */
			continue;
		}
		for (uint64_t j = first; j < first + n; j++) {
			size_t k = (size_t)(j % SPIKES_PHASES);

			if (bins[k] < v)
				bins[k] = v;
		}
	}
}

static void env_add(struct pstate *p, uint64_t ts, int64_t v)
{
	uint64_t idx;

	if (!p->env_w) {
		p->env_t0 = ts;
		p->env_w = 1000000;	/* 1 ms to start; doubles as needed */
		p->env_n = 1;
		p->env_min[0] = v;
		return;
	}
	idx = (ts - p->env_t0) / p->env_w;
	while (idx >= ENV_BUCKETS) {
		/* merge pairs: same span, half the buckets, twice as wide */
		int n = 0;

		for (int i = 0; i < p->env_n; i += 2) {
			int64_t m = p->env_min[i];

			if (i + 1 < p->env_n && p->env_min[i + 1] < m)
				m = p->env_min[i + 1];
			p->env_min[n++] = m;
		}
		p->env_n = n;
		p->env_w *= 2;
		idx = (ts - p->env_t0) / p->env_w;
	}
	while ((uint64_t)p->env_n <= idx) {
		/* buckets crossed with no row hold the value carried in */
		p->env_min[p->env_n] = p->v;
		p->env_n++;
	}
	if (v < p->env_min[idx])
		p->env_min[idx] = v;
}

static int stack_push(struct pstate *p, const struct cand *c)
{
	if (p->depth == MAX_STACK) {
		/* Bounded memory: merge the two adjacent open candidates whose
		 * bases are closest (the upper one's rise folds into the lower). */
		size_t best = 1;
		int64_t gap = INT64_MAX;

		for (size_t i = 1; i < p->depth; i++) {
			if (p->stack[i].base - p->stack[i - 1].base < gap) {
				gap = p->stack[i].base - p->stack[i - 1].base;
				best = i;
			}
		}
		if (p->stack[best].peak > p->stack[best - 1].peak) {
			p->stack[best - 1].peak = p->stack[best].peak;
			p->stack[best - 1].peak_ts = p->stack[best].peak_ts;
		}
		memmove(&p->stack[best], &p->stack[best + 1],
			(p->depth - best - 1) * sizeof(*p->stack));
		p->depth--;
	}
	if (grow(&p->stack, &p->cap, p->depth, sizeof(*p->stack), 8))
		return -ENOMEM;
	p->stack[p->depth++] = *c;
	return 0;
}

static int64_t settle_of(const struct spikes *s, const struct cand *c)
{
	if (s->cfg.settle_kb > 0)
		return s->cfg.settle_kb;
	return (int64_t)((c->peak - c->base) * s->cfg.settle_pct / 100.0);
}

static int window_rule(struct spikes *s, struct pstate *p, uint64_t ts, int64_t v)
{
	struct wpoint *front;
	int64_t inc;

	if (p->dq_len == p->dq_cap) {
		size_t cap = p->dq_cap ? p->dq_cap * 2 : 256;
		struct wpoint *n = malloc(cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		for (size_t i = 0; i < p->dq_len; i++)
			n[i] = p->dq[(p->dq_head + i) % p->dq_cap];
		free(p->dq);
		p->dq = n;
		p->dq_cap = cap;
		p->dq_head = 0;
	}
	while (p->dq_len && p->dq[(p->dq_head + p->dq_len - 1) % p->dq_cap].v >= v)
		p->dq_len--;
	p->dq[(p->dq_head + p->dq_len) % p->dq_cap] = (struct wpoint){ ts, v };
	p->dq_len++;
	while (p->dq_len > 1 && p->dq[p->dq_head].ts + s->cfg.window_ns < ts) {
		p->dq_head = (p->dq_head + 1) % p->dq_cap;
		p->dq_len--;
	}
	front = &p->dq[p->dq_head];
	inc = v - front->v;
	if (inc >= s->cfg.min_rise_kb) {
		if (!p->w_active || v > p->w_cur.peak_kb) {
			if (!p->w_active) {
				memset(&p->w_cur, 0, sizeof(p->w_cur));
				p->w_cur.pid = p->pid;
				memcpy(p->w_cur.events, p->totals, sizeof(p->totals));
			}
			p->w_cur.start_ts = front->ts;
			p->w_cur.base_kb = front->v;
			p->w_cur.peak_kb = v;
			p->w_cur.peak_ts = ts;
		}
		p->w_active = true;
	} else if (p->w_active) {
		p->w_active = false;
		p->w_cur.end_ts = ts;
		p->w_cur.end_kb = v;
		for (int i = 0; i < SEV_NR; i++)
			p->w_cur.events[i] = p->totals[i] - p->w_cur.events[i];
		return emit(s, &p->w_cur);
	}
	return 0;
}

/*
 * Spikes that end in one fall (drops with no plateau between) are one hill
 * seen from several of its base levels (a rise in steps opens a candidate
 * per step). When the fall ends, the one whose base is closest to where the
 * fall bottomed out is the spike it undid: a scratch buffer freed back to
 * its plateau, or a whole staircase freed back to the floor.
 */
static int fall_add(struct pstate *p, const struct spike *sp)
{
	if (grow(&p->fallv, &p->fallcap, p->nfall, sizeof(*p->fallv), 8))
		return -ENOMEM;
	p->fallv[p->nfall++] = *sp;
	return 0;
}

static int fall_end(struct spikes *s, struct pstate *p)
{
	size_t best = 0;

	if (!p->nfall)
		return 0;
	for (size_t i = 1; i < p->nfall; i++)
		if (llabs(p->fallv[i].base_kb - p->fall_min) <
		    llabs(p->fallv[best].base_kb - p->fall_min))
			best = i;
	p->nfall = 0;
	return emit(s, &p->fallv[best]);
}

static int transient_rule(struct spikes *s, struct pstate *p, uint64_t ts, int64_t v,
			  const uint64_t *before)
{
	struct cand c;
	int e;

	if (v > p->v) {
		e = fall_end(s, p);
		if (e)
			return e;
		if (p->dir != 1 || !p->depth ||
		    (ts - p->ts >= PLATEAU_NS && p->v > p->stack[p->depth - 1].base)) {
			memset(&c, 0, sizeof(c));
			c.base = p->v;
			c.start_ts = ts;
			c.peak = v;
			c.peak_ts = ts;
			memcpy(c.at_start, before, sizeof(c.at_start));
			e = stack_push(p, &c);
			if (e)
				return e;
		} else if (v > p->stack[p->depth - 1].peak) {
			p->stack[p->depth - 1].peak = v;
			p->stack[p->depth - 1].peak_ts = ts;
		}
		p->dir = 1;
		return 0;
	}
	if (p->dir == -1 && ts - p->fall_ts >= FALL_GAP_NS && !p->in_call) {
		e = fall_end(s, p);	/* a new fall after a plateau */
		if (e)
			return e;
	}
	if (p->dir != -1 || !p->nfall)
		p->fall_min = v;
	p->dir = -1;
	p->fall_ts = ts;
	if (v < p->fall_min)
		p->fall_min = v;
	while (p->depth) {
		struct cand *top = &p->stack[p->depth - 1];
		struct cand *below = p->depth > 1 ? &p->stack[p->depth - 2] : NULL;
		struct spike sp;

		if (v > top->base + settle_of(s, top))
			break;
		if (top->peak - top->base >= s->cfg.min_rise_kb) {
			memset(&sp, 0, sizeof(sp));
			sp.pid = p->pid;
			sp.start_ts = top->start_ts;
			sp.peak_ts = top->peak_ts;
			sp.end_ts = ts;
			sp.base_kb = top->base;
			sp.peak_kb = top->peak;
			sp.end_kb = v;
			/* the row that ends it counts inside it */
			for (int i = 0; i < SEV_NR; i++)
				sp.events[i] = p->totals[i] - top->at_start[i];
			e = fall_add(p, &sp);
			if (e)
				return e;
		}
		p->depth--;
		if (below && top->peak > below->peak) {
			below->peak = top->peak;
			below->peak_ts = top->peak_ts;
		}
	}
	return 0;
}

int spikes__push(struct spikes *s, pid_t pid, uint64_t ts, int64_t v, enum spike_ev ev)
{
	uint64_t before[SEV_NR];
	struct pstate *p = pstate_get(s, pid);
	int e = 0;

	if (!p)
		return -ENOMEM;
	if (p->closed)
		return 0;	/* rows after exit (a reused PID is not followed) */
	if (!p->have) {
		p->have = true;
		p->v = v;
		p->ts = ts;
		p->rep.first_ts = ts;
		p->rep.peak_kb = v;
		p->rep.peak_ts = ts;
		p->rep.rows = 1;
		if ((unsigned)ev < SEV_NR)
			p->totals[ev]++;
		env_add(p, ts, v);
		if (s->cfg.window_ns)
			e = window_rule(s, p, ts, v);
		return e;
	}
	if (ts < p->ts)
		ts = p->ts;	/* keep time monotonic per process */
	memcpy(before, p->totals, sizeof(before));
	if ((unsigned)ev < SEV_NR)
		p->totals[ev]++;
	p->rep.rows++;
	if (v != p->v) {
		poll_segment(s, p, p->ts, ts, p->v);
		env_add(p, ts, v);
		if (s->cfg.window_ns)
			e = window_rule(s, p, ts, v);
		else
			e = transient_rule(s, p, ts, v, before);
		p->v = v;
		p->ts = ts;
		if (v > p->rep.peak_kb) {
			p->rep.peak_kb = v;
			p->rep.peak_ts = ts;
		}
	}
	/* A fall does not end while the syscall doing it is still running (a
	 * munmap's zap preempted for milliseconds is one fall); the syscall's
	 * own row marks its return. Updated after the rules, which must see
	 * the state before this row: a new fall that starts inside a syscall
	 * still ends the previous one. */
	if (ev == SEV_IN_CALL)
		p->in_call = true;
	else if (ev >= SEV_MMAP && ev <= SEV_MADVISE)
		p->in_call = false;
	p->rep.last_ts = ts;
	if (ev == SEV_EXIT)
		p->closed = true;
	return e;
}

static void growth_of(const struct spikes *s, struct pstate *p)
{
	struct growth *g = &p->rep.growth;
	int start = p->env_n / 4, n;
	int64_t third_min[3] = { INT64_MAX, INT64_MAX, INT64_MAX };
	double sx = 0, sy = 0, sxx = 0, sxy = 0;

	if (start < 1)
		start = 1;
	n = p->env_n - start;
	if (n < 6)
		return;	/* too short a trace to speak of a trend */
	g->enough = true;
	for (int i = start; i < p->env_n; i++) {
		double x = (i + 0.5) * p->env_w / 1e9, y = (double)p->env_min[i];
		int t = (i - start) * 3 / n;

		sx += x;
		sy += y;
		sxx += x * x;
		sxy += x * y;
		if (p->env_min[i] < third_min[t])
			third_min[t] = p->env_min[i];
	}
	g->slope_kb_s = (n * sxy - sx * sy) / (n * sxx - sx * sx);
	g->envelope_start_kb = p->env_min[start];
	g->envelope_end_kb = p->env_min[p->env_n - 1];
	/* a leak: after warm-up the floor is higher in each third than in the
	 * one before, and rose by min_rise or more. A process that grew and
	 * then held steady, or freed everything at the end, is not one. */
	g->leak = g->slope_kb_s > 0 && third_min[0] < third_min[1] &&
		  third_min[1] < third_min[2] &&
		  third_min[2] - third_min[0] >= s->cfg.min_rise_kb;
}

static int cmp_rise(const void *a, const void *b)
{
	const struct spike *x = a, *y = b;
	int64_t rx = x->peak_kb - x->base_kb, ry = y->peak_kb - y->base_kb;

	if (rx != ry)
		return rx > ry ? -1 : 1;
	return x->start_ts < y->start_ts ? -1 : x->start_ts > y->start_ts;
}

/* by pid, then start, longest first: an enclosing spike precedes those
 * inside it */
static int cmp_nest(const void *a, const void *b)
{
	const struct spike *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->start_ts != y->start_ts)
		return x->start_ts < y->start_ts ? -1 : 1;
	if (x->end_ts != y->end_ts)
		return x->end_ts > y->end_ts ? -1 : 1;
	return 0;
}

int spikes__finish(struct spikes *s, uint64_t end_ts)
{
	size_t kept = 0;

	if (s->finished)
		return 0;
	s->finished = true;
	for (size_t i = 0; i < s->nps; i++) {
		struct pstate *p = s->ps[i];
		uint64_t end = p->rep.last_ts > p->ts ? p->rep.last_ts : p->ts;

		if (!p->have)
			continue;
		/* the last value is held until the process's exit row, or, for
		 * a process still running when tracing stopped, until the end */
		if (!p->closed && end_ts > end)
			end = end_ts;
		poll_segment(s, p, p->ts, end, p->v);
		if (fall_end(s, p))
			return -ENOMEM;
		if (s->cfg.window_ns && p->w_active) {
			p->w_active = false;
			p->w_cur.end_ts = p->ts;
			p->w_cur.end_kb = p->v;
			for (int k = 0; k < SEV_NR; k++)
				p->w_cur.events[k] = p->totals[k] - p->w_cur.events[k];
			if (emit(s, &p->w_cur))
				return -ENOMEM;
		}
		if (!p->rep.last_ts)
			p->rep.last_ts = p->ts;
		growth_of(s, p);
		p->rep.npoll = s->cfg.npoll;
		for (int k = 0; k < s->cfg.npoll; k++) {
			struct poll_result *r = &p->rep.poll[k];
			double sum = 0;

			r->period_ns = s->cfg.poll_ns[k];
			r->best_kb = INT64_MIN;
			r->worst_kb = INT64_MAX;
			for (int b = 0; b < SPIKES_PHASES; b++) {
				int64_t m = p->poll_bins[k][b] > p->poll_floor[k] ?
					    p->poll_bins[k][b] : p->poll_floor[k];

				if (m > r->best_kb)
					r->best_kb = m;
				if (m < r->worst_kb)
					r->worst_kb = m;
				sum += (double)m;
			}
			r->expected_kb = sum / SPIKES_PHASES;
		}
	}
	/* A rise spanning most of a process's life is its overall shape (load,
	 * then free everything before exit), not a transient: leave it out. */
	for (size_t i = 0; i < s->nsp; i++) {
		struct spike *sp = &s->sp[i];
		long pi = idmap__get(&s->index, (uint64_t)(uint32_t)sp->pid);
		struct pstate *p = pi >= 0 ? s->ps[pi] : NULL;

		if (!s->cfg.window_ns && p && p->rep.last_ts > p->rep.first_ts &&
		    (sp->end_ts - sp->start_ts) * 2 > p->rep.last_ts - p->rep.first_ts)
			continue;
		s->sp[kept++] = *sp;
	}
	s->nsp = kept;
	/* depth: how many reported spikes of the same process enclose it;
	 * no spike: s->sp may be NULL, and qsort's array must not be, even
	 * for 0 elements (its declaration says nonnull) */
	if (s->nsp > 1)
		qsort(s->sp, s->nsp, sizeof(*s->sp), cmp_nest);
	{
		size_t *open = malloc((s->nsp + 1) * sizeof(*open)), nopen = 0;

		for (size_t i = 0; open && i < s->nsp; i++) {
			struct spike *sp = &s->sp[i];

			while (nopen && (s->sp[open[nopen - 1]].pid != sp->pid ||
					 s->sp[open[nopen - 1]].end_ts < sp->end_ts))
				nopen--;
			sp->depth = (uint32_t)nopen;
			open[nopen++] = i;
		}
		free(open);
	}
	if (s->nsp > 1)
		qsort(s->sp, s->nsp, sizeof(*s->sp), cmp_rise);
	return 0;
}

size_t spikes__count(const struct spikes *s) { return s->nsp; }
const struct spike *spikes__get(const struct spikes *s, size_t i) { return &s->sp[i]; }
size_t spikes__npids(const struct spikes *s) { return s->nps; }
const struct pid_report *spikes__pid(const struct spikes *s, size_t i) { return &s->ps[i]->rep; }
const struct spikes_cfg *spikes__cfg(const struct spikes *s) { return &s->cfg; }

double spike_catch_prob(const struct spike *sp, uint64_t period_ns)
{
	double d = (double)(sp->end_ts - sp->start_ts);

	if (!period_ns)
		return 1.0;
	return d >= (double)period_ns ? 1.0 : d / (double)period_ns;
}
