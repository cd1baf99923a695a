// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "lib/grow.h"
#include "lib/idmap.h"
#include "lib/recstore.h"
#include "analysis/prominence.h"
#include "analysis/spikes.h"

#define ENV_BUCKETS	256	/* lower-envelope buckets per process */

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
	uint64_t call;		/* the call every row at it so far was inside
				   (spike_call_of), 0: none */
	uint64_t totals[SEV_NR];
	struct prom prom;	/* the transients, by prominence */
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
	struct spike *sp;	/* its spikes, final when it ends */
	size_t img_sp;		/* those of its current program image from here */
	uint64_t img_start;	/* that image's first row (exec) */
	size_t nsp, spcap;
	size_t rep_idx;		/* its report's place: order of first row */
	struct pid_report rep;
};

/* A process's state lives from its first row to its end (its exit row,
 * or spikes__finish): then its spikes join the others, its report goes to
 * the store, and the state is freed. Memory follows the processes alive,
 * not those ever seen. */
struct spikes {
	struct spikes_cfg cfg;
	struct pstate **ps;	/* the live ones */
	size_t nps, cap;
	struct idmap index;	/* pid -> ps[] */
	struct spike *sp;	/* of ended processes (the top keep_top of them) */
	size_t nsp, spcap;
	size_t nsp_total;
	struct recstore reports;	/* by rep_idx */
	size_t nreports;
	struct pid_report cur;	/* spikes__pid()'s */
	bool finished;
	int err;
};

#define REPORTS_IN_MEMORY 4096

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
	recstore__init(&s->reports, sizeof(struct pid_report), REPORTS_IN_MEMORY);
	return s;
}

static void pstate_free(struct pstate *p)
{
	if (!p)
		return;
	prom_free(&p->prom);
	free(p->dq);
	free(p->sp);
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
	recstore__free(&s->reports);
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
	prom_init(&p->prom, s->cfg.min_rise_kb, s->cfg.settle_kb, s->cfg.settle_pct);
	p->rep_idx = s->nreports++;
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

/* A spike of p's: decided with the rest of its spikes when p ends. */
static int emit(struct pstate *p, const struct spike *sp)
{
	if (grow(&p->sp, &p->spcap, p->nsp, sizeof(*p->sp), 8))
		return -ENOMEM;
	p->sp[p->nsp++] = *sp;
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
		return emit(p, &p->w_cur);
	}
	return 0;
}

/* A spike the prominence rule found in p's timeline. */
static int prom_found(void *ctx, const struct spike *sp)
{
	struct pstate *p = ctx;
	struct spike x = *sp;

	x.pid = p->pid;
	return emit(p, &x);
}

static int pid_end(struct spikes *s, struct pstate *p, uint64_t end_ts);
static int image_end(struct spikes *s, struct pstate *p, uint64_t to);

int spikes__push(struct spikes *s, pid_t pid, uint64_t ts, int64_t v, enum spike_ev ev,
		 uint64_t call)
{
	struct pstate *p = pstate_get(s, pid);
	int e = 0;

	if (!p)
		return -ENOMEM;
	if (!p->have) {
		p->have = true;
		p->v = v;
		p->ts = ts;
		p->rep.first_ts = ts;
		p->rep.peak_kb = v;
		p->rep.peak_ts = ts;
		p->rep.rows = 1;
		p->img_start = ts;
		p->call = call;
		if ((unsigned)ev < SEV_NR)
			p->totals[ev]++;
		env_add(p, ts, v);
		if (s->cfg.window_ns)
			e = window_rule(s, p, ts, v);
		else
			e = prom_push(&p->prom, v, ts, p->totals, false, prom_found, p);
		if (!e && ev == SEV_EXIT) {
			p->closed = true;
			e = pid_end(s, p, 0);
		}
		return e;
	}
	if (ts < p->ts)
		ts = p->ts;	/* keep time monotonic per process */
	if ((unsigned)ev < SEV_NR)
		p->totals[ev]++;
	p->rep.rows++;
	if (ev == SEV_EXEC && !s->cfg.window_ns) {
		/* another program in the process: what the last one held
		 * going at the exec is no transient; its spikes are decided */
		e = image_end(s, p, ts);
		prom_free(&p->prom);
		prom_init(&p->prom, s->cfg.min_rise_kb, s->cfg.settle_kb, s->cfg.settle_pct);
		if (!e && v == p->v)	/* the exec row starts it */
			e = prom_push(&p->prom, v, ts, p->totals, false, prom_found, p);
		p->call = 0;
		if (e)
			return e;
	}
	if (v != p->v) {
		poll_segment(s, p, p->ts, ts, p->v);
		env_add(p, ts, v);
		if (s->cfg.window_ns)
			e = window_rule(s, p, ts, v);
		else
			e = prom_push(&p->prom, v, ts, p->totals, call && call == p->call,
				      prom_found, p);
		p->v = v;
		p->ts = ts;
		p->call = call;
		if (v > p->rep.peak_kb) {
			p->rep.peak_kb = v;
			p->rep.peak_ts = ts;
		}
	} else if (call != p->call) {
		p->call = 0;	/* the call ended (its SYSCALL record) or
				   another row came: the level is held */
	}
	p->rep.last_ts = ts;
	if (!e && ev == SEV_EXIT) {
		/* its last row: a PID seen again is another process */
		p->closed = true;
		e = pid_end(s, p, 0);
	}
	return e;
}

static void growth_of(const struct spikes *s, struct pstate *p)
{
	growth_judge(p->env_min, p->env_n, p->env_w, s->cfg.min_rise_kb, p->rep.peak_kb,
		     &p->rep.growth);
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

/* Its report: the poll replay's readings and the growth of the floor. */
static void report_of(const struct spikes *s, struct pstate *p)
{
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

/* A hump over most of a program's life (from its exec to the next, or to
 * the exit) that rises with its start or falls with its end is its
 * overall shape (load, then free everything before exit), not a
 * transient. */
static bool is_shape(uint64_t from, uint64_t to, const struct spike *sp)
{
	uint64_t life = to - from;

	return life && (sp->end_ts - sp->start_ts) * 2 > life &&
	       (sp->start_ts - from <= life / 5 || to - sp->end_ts <= life / 5);
}

/* The program image running since p->img_start ended at `to`: its
 * spikes are decided; its shape goes. */
static int image_end(struct spikes *s, struct pstate *p, uint64_t to)
{
	size_t k;
	int e = prom_end(&p->prom, prom_found, p);

	k = p->img_sp;
	for (size_t i = p->img_sp; i < p->nsp; i++)
		if (!is_shape(p->img_start, to, &p->sp[i]))
			p->sp[k++] = p->sp[i];
	p->nsp = k;
	p->img_sp = k;
	p->img_start = to;
	return e;
}

/* Its spikes, final: each gets its depth (how many of its spikes enclose it); then
 * they join the others (the top keep_top of them, by rise). */
static int spikes_of(struct spikes *s, struct pstate *p)
{
	size_t kept = 0, nopen = 0, *open;

	for (size_t i = 0; i < p->nsp; i++) {
		struct spike *sp = &p->sp[i];

		p->sp[kept++] = *sp;
	}
	p->nsp = kept;
	if (!kept)
		return 0;
	qsort(p->sp, p->nsp, sizeof(*p->sp), cmp_nest);
	/* a transient found both by its prominence and by its shelves is
	 * one spike */
	kept = 1;
	for (size_t i = 1; i < p->nsp; i++) {
		const struct spike *q = &p->sp[kept - 1];

		if (p->sp[i].start_ts == q->start_ts && p->sp[i].end_ts == q->end_ts &&
		    p->sp[i].peak_ts == q->peak_ts)
			continue;
		p->sp[kept++] = p->sp[i];
	}
	p->nsp = kept;
	open = malloc(p->nsp * sizeof(*open));
	if (!open)
		return -ENOMEM;
	for (size_t i = 0; i < p->nsp; i++) {
		while (nopen && p->sp[open[nopen - 1]].end_ts < p->sp[i].end_ts)
			nopen--;
		p->sp[i].depth = (uint32_t)nopen;
		open[nopen++] = i;
	}
	free(open);
	for (size_t i = 0; i < p->nsp; i++) {
		if (grow(&s->sp, &s->spcap, s->nsp, sizeof(*s->sp), 64))
			return -ENOMEM;
		s->sp[s->nsp++] = p->sp[i];
		s->nsp_total++;
		if (s->cfg.keep_top && s->nsp >= 2 * s->cfg.keep_top) {
			qsort(s->sp, s->nsp, sizeof(*s->sp), cmp_rise);
			s->nsp = s->cfg.keep_top;
		}
	}
	return 0;
}

/* p's timeline is over at end_ts (0: at its last row): its spikes and its
 * report are final, its state goes. */
static int pid_end(struct spikes *s, struct pstate *p, uint64_t end_ts)
{
	uint64_t end = p->rep.last_ts > p->ts ? p->rep.last_ts : p->ts;
	size_t slot = (size_t)idmap__get(&s->index, (uint64_t)(uint32_t)p->pid);
	int e;

	/* the last value is held until the process's exit row, or, for a
	 * process still running when tracing stopped, until the end */
	if (!p->closed && end_ts > end)
		end = end_ts;
	poll_segment(s, p, p->ts, end, p->v);
	e = s->cfg.window_ns ? 0 : image_end(s, p, end);
	if (!e && s->cfg.window_ns && p->w_active) {
		p->w_active = false;
		p->w_cur.end_ts = p->ts;
		p->w_cur.end_kb = p->v;
		for (int k = 0; k < SEV_NR; k++)
			p->w_cur.events[k] = p->totals[k] - p->w_cur.events[k];
		e = emit(p, &p->w_cur);
	}
	report_of(s, p);
	if (!e)
		e = spikes_of(s, p);
	if (!e)
		e = recstore__put(&s->reports, p->rep_idx, &p->rep);
	/* its slot goes to the last live one */
	idmap__del(&s->index, (uint64_t)(uint32_t)p->pid);
	if (slot != s->nps - 1) {
		s->ps[slot] = s->ps[s->nps - 1];
		idmap__put(&s->index, (uint64_t)(uint32_t)s->ps[slot]->pid, slot);
	}
	s->nps--;
	pstate_free(p);
	return e;
}

int spikes__finish(struct spikes *s, uint64_t end_ts)
{
	if (s->finished)
		return 0;
	s->finished = true;
	while (s->nps) {
		struct pstate *p = s->ps[s->nps - 1];
		int e;

		if (!p->have) {
			/* no row (an allocation failed at its first one) */
			idmap__del(&s->index, (uint64_t)(uint32_t)p->pid);
			s->nps--;
			pstate_free(p);
			continue;
		}
		e = pid_end(s, p, end_ts);
		if (e)
			return e;
	}
	if (s->nsp)
		qsort(s->sp, s->nsp, sizeof(*s->sp), cmp_rise);
	if (s->cfg.keep_top && s->nsp > s->cfg.keep_top)
		s->nsp = s->cfg.keep_top;
	return 0;
}

size_t spikes__count(const struct spikes *s) { return s->nsp_total; }
size_t spikes__kept(const struct spikes *s) { return s->nsp; }
const struct spike *spikes__get(const struct spikes *s, size_t i) { return &s->sp[i]; }
size_t spikes__npids(const struct spikes *s) { return s->nreports; }

const struct pid_report *spikes__pid(struct spikes *s, size_t i)
{
	if (recstore__get(&s->reports, i, &s->cur))
		memset(&s->cur, 0, sizeof(s->cur));
	return &s->cur;
}
const struct spikes_cfg *spikes__cfg(const struct spikes *s) { return &s->cfg; }

double spike_catch_prob(const struct spike *sp, uint64_t period_ns)
{
	double d = (double)(sp->end_ts - sp->start_ts);

	if (!period_ns)
		return 1.0;
	return d >= (double)period_ns ? 1.0 : d / (double)period_ns;
}
