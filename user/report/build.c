// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A trace read into a report: one streaming pass that keeps the tree's
 * series decimated (report/decimate.h), the processes alive, the first
 * ones listed, and feeds the analyses as their subcommands do (spikes,
 * validate, stages).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "format/csv.h"
#include "lib/grow.h"
#include "lib/units.h"
#include "lib/zstream.h"
#include "report/model.h"

#define SUMMARY_MAX (4 << 20)	/* a run's summary JSON embedded at most */

static const uint64_t poll_periods[REP_POLLS] = { 10000000ULL, 100000000ULL };

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* The index of text s among the raw rows' texts (0: "", or no room). */
static uint16_t intern(struct report *r, const char *s)
{
	uint64_t h;
	long i;

	if (!*s)
		return 0;
	h = fnv1a(s);
	i = idmap__get(&r->str_idx, h);
	if (i >= 0)
		return !strcmp(r->str[i], s) ? (uint16_t)i : 0;
	if (r->nstr >= REP_STRINGS)
		return 0;
	r->str[r->nstr] = strdup(s);
	if (!r->str[r->nstr] || idmap__put(&r->str_idx, h, r->nstr)) {
		free(r->str[r->nstr]);
		r->str[r->nstr] = NULL;
		return 0;
	}
	return (uint16_t)r->nstr++;
}

/* A small regular file, whole (NULL: none, too big, not regular). */
static char *read_small(const char *path, size_t max)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	char *buf = NULL;
	size_t got = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size <= 0 || (size_t)st.st_size > max)
		goto out;
	buf = malloc((size_t)st.st_size + 1);
	while (buf && got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (buf && got == (size_t)st.st_size) {
		buf[got] = 0;
	} else {
		free(buf);
		buf = NULL;
	}
out:
	close(fd);
	return buf;
}

/* The run's summary: -s's, or the one memtrace-bpf writes beside the
 * trace (trace.csv -> trace.summary.json; a campaign run's summary.json). */
static void find_summary(struct report *r)
{
	char p[4096];
	const char *base;

	if (r->o.summary) {
		r->summary_path = strdup(r->o.summary);
		r->summary_json = read_small(r->o.summary, SUMMARY_MAX);
		return;
	}
	if (!strcmp(r->trace_path, "-"))
		return;
	report_path_beside(p, sizeof(p), r->trace_path, "summary.json");
	r->summary_json = read_small(p, SUMMARY_MAX);
	base = strrchr(r->trace_path, '/');
	if (!r->summary_json && !strcmp(base ? base + 1 : r->trace_path, "trace.csv")) {
		snprintf(p, sizeof(p), "%.*ssummary.json",
			 base ? (int)(base - r->trace_path + 1) : 0, r->trace_path);
		r->summary_json = read_small(p, SUMMARY_MAX);
	}
	if (r->summary_json)
		r->summary_path = strdup(p);
}

/* The first row: every grid starts at its time. */
static int start(struct report *r, uint64_t ts, uint64_t t0)
{
	r->t0 = t0;
	r->first_ts = ts;
	for (int k = 0; k < S_N; k++) {
		if (!r->s_on[k])
			continue;
		if (mm_grid__init(&r->s[k], REP_GRID_CAP, ts, 1, k == S_TOTAL && r->has_parts ? 3 : 0))
			return -ENOMEM;
	}
	for (int k = 0; k < REP_POLLS; k++) {
		uint64_t p = poll_periods[k], off = ts - t0;

		r->poll_ns[k] = p;
		/* resample's instants: 0, P, 2P... of time_s, from the first row */
		r->poll_next[k] = t0 + (off + p - 1) / p * p;
	}
	if (mm_raw__init(&r->raw, &r->s[S_TOTAL], sizeof(struct rep_raw), REP_RAW_CAP))
		return -ENOMEM;
	return 0;
}

/* The pollers read the value held before ts at their instants before it:
 * one push per stretch (the same reading at every instant of it). */
static int poll_until(struct report *r, uint64_t ts, bool through)
{
	for (int k = 0; k < REP_POLLS; k++) {
		uint64_t p = r->poll_ns[k], next = r->poll_next[k];

		if (next > ts || (next == ts && !through))
			continue;
		if (mm_grid__push(&r->s[S_POLL0 + k], next, r->poll_cur, NULL))
			return -ERANGE;
		/* the first instant at or after ts: read after ts's rows */
		r->poll_next[k] = next + (ts - next + p - 1) / p * p;
	}
	return 0;
}

static int new_lane(struct report *r, long proc)
{
	struct rep_lane *l = &r->lanes[r->nlanes];

	if (mm_grid__init(&l->g, REP_LANE_CAP, r->first_ts, 1, 0))
		return -ENOMEM;
	l->proc = proc;
	return r->nlanes++;
}

/* The live process of pid, made when it is new. NULL: out of memory. */
static struct rep_live *live_of(struct report *r, pid_t pid, uint64_t ts)
{
	long i = idmap__get(&r->live_idx, (uint64_t)(uint32_t)pid);
	struct rep_live *l;

	if (i >= 0)
		return &r->live[i];
	if (grow(&r->live, &r->live_cap, r->nlive, sizeof(*r->live), 16) ||
	    idmap__put(&r->live_idx, (uint64_t)(uint32_t)pid, r->nlive))
		return NULL;
	l = &r->live[r->nlive++];
	memset(l, 0, sizeof(*l));
	l->pid = pid;
	l->shown = -1;
	l->lane = -1;
	r->nprocs_seen++;
	if (r->nprocs < REP_PROCS) {
		struct rep_proc *p = &r->procs[r->nprocs];

		memset(p, 0, sizeof(*p));
		p->pid = pid;
		p->first_ts = ts;
		p->exit_status = -1;
		p->lane = -1;
		l->shown = (long)r->nprocs++;
	}
	/* lanes: for a tree (one process is the chart itself) */
	if (r->tree && r->nlanes < REP_LANES) {
		int k = new_lane(r, l->shown);

		if (k < 0)
			return NULL;
		l->lane = k;
		if (l->shown >= 0)
			r->procs[l->shown].lane = k;
	} else if (r->tree && !r->others) {
		/* the others' lane, from the first process without one */
		if (new_lane(r, -1) < 0)
			return NULL;
		r->others = true;
	}
	return l;
}

static void live_drop(struct report *r, struct rep_live *l)
{
	size_t i = (size_t)(l - r->live);

	idmap__del(&r->live_idx, (uint64_t)(uint32_t)l->pid);
	if (i != r->nlive - 1) {
		r->live[i] = r->live[r->nlive - 1];
		idmap__put(&r->live_idx, (uint64_t)(uint32_t)r->live[i].pid, i);
	}
	r->nlive--;
}

/* A grid's value, pushed when it changed (sparse series). */
static int push_changed(struct mm_grid *g, uint64_t ts, int64_t v)
{
	if (g->have && g->cur == v)
		return 0;
	return mm_grid__push(g, ts, v, NULL);
}

static int64_t col(int64_t v)
{
	return v < 0 ? 0 : v;
}

/* One row of the processes shown: sums, lanes, the tree's series. */
static int take_row(struct report *r, const struct csv_row *row, bool is_exit, bool names)
{
	struct rep_live *l = live_of(r, row->pid, row->ts_ns);
	int64_t now[6] = { row->vmrss_kb, col(row->anon_kb), col(row->file_kb), col(row->shmem_kb),
			   col(row->vmsize_kb), col(row->swap_kb) };
	int64_t v, x[3];
	struct rep_raw raw;
	int e = 0;

	if (!l)
		return -ENOMEM;
	for (int k = 0; k < 6; k++)
		r->sum[k] += (is_exit ? 0 : now[k]) - l->v[k];
	if (l->lane >= 0)
		r->laned_kb += (is_exit ? 0 : now[0]) - l->v[0];
	if (l->shown >= 0) {
		struct rep_proc *p = &r->procs[l->shown];

		p->last_ts = row->ts_ns;
		if (row->vmrss_kb > p->peak_kb) {
			p->peak_kb = row->vmrss_kb;
			p->peak_ts = row->ts_ns;
		}
		if (names && row->cause_text[0])
			snprintf(p->comm, sizeof(p->comm), "%s", row->cause_text);
		if (is_exit)
			p->exit_status = atoi(row->ret);
	}
	if (is_exit && r->exit_status < 0 && l->shown == 0)
		r->exit_status = atoi(row->ret);
	memcpy(l->v, now, sizeof(now));
	/* the values after the row */
	v = r->tree ? row->total_rss_kb : r->sum[0];
	x[0] = r->sum[1];
	x[1] = r->sum[2];
	x[2] = r->sum[3];
	if (v > r->peak_kb || !r->rows) {
		r->peak_kb = v;
		r->peak_ts = row->ts_ns;
		r->peak_pid = row->pid;
	}
	if (r->sum[5] > r->max_swap)
		r->max_swap = r->sum[5];
	r->poll_cur = v;
	e = mm_grid__push(&r->s[S_TOTAL], row->ts_ns, v, x);
	if (!e && r->s_on[S_VMSIZE])
		e = push_changed(&r->s[S_VMSIZE], row->ts_ns, r->sum[4]);
	if (!e && r->s_on[S_SWAP])
		e = push_changed(&r->s[S_SWAP], row->ts_ns, r->sum[5]);
	if (!e && l->lane >= 0) {
		struct mm_grid *g = &r->lanes[l->lane].g;

		e = push_changed(g, row->ts_ns, row->vmrss_kb);
		if (!e && is_exit)
			e = mm_grid__cut(g, row->ts_ns);
	}
	if (!e && r->others)
		e = push_changed(&r->lanes[REP_LANES].g, row->ts_ns, col(v - r->laned_kb));
	if (e)
		return e;
	memset(&raw, 0, sizeof(raw));
	raw.ts = row->ts_ns;
	raw.total = v;
	raw.anon = x[0];
	raw.file = x[1];
	raw.shmem = x[2];
	raw.vmsize = r->sum[4];
	raw.swap = r->sum[5];
	raw.prss = row->vmrss_kb;
	raw.pid = row->pid;
	raw.ev = intern(r, row->event);
	raw.cause = intern(r, row->cause_text);
	e = mm_raw__push(&r->raw, &raw);
	if (is_exit)
		live_drop(r, l);
	return e;
}

/* Marks, guard and alert rows, kept for the chart. */
static void take_event(struct report *r, const struct csv_row *row)
{
	bool guard = !strcmp(row->event, "guard");

	if (!strcmp(row->event, "mark")) {
		if (r->nmarks < REP_MARKS) {
			struct rep_mark *m = &r->marks[r->nmarks++];

			m->ts = row->ts_ns;
			m->pid = row->pid;
			m->kb = row->vmrss_kb;
			snprintf(m->name, sizeof(m->name), "%s", row->label);
		}
		r->marks_seen++;
	} else if (guard || !strcmp(row->event, "alert")) {
		if (r->nthr < REP_THRESHOLDS) {
			struct rep_threshold *t = &r->thr[r->nthr++];

			t->ts = row->ts_ns;
			t->pid = row->pid;
			t->guard = guard;
			t->limit_kb = strtoll(row->len, NULL, 10);
			t->value_kb = row->reported_kb[0] ? strtoll(row->reported_kb, NULL, 10)
							  : row->vmrss_kb;
			snprintf(t->cause, sizeof(t->cause), "%s", row->cause_text);
		}
		r->thr_seen++;
	} else if (!strcmp(row->event, "log")) {
		r->log_rows++;
	}
}

static int fail(char *err, size_t len, int e, const char *fmt, const char *a, const char *b)
{
	snprintf(err, len, fmt, a, b);
	return e;
}

static int read_rows(struct report *r, struct csv_reader *cr, char *err, size_t len)
{
	const pid_t only = r->o.only_pid;
	bool stages_on = cr->c_event >= 0 && cr->c_label >= 0;
	uint64_t rows = 0;
	struct csv_row row;
	int e;

	while ((e = csvr__next(cr, &row)) > 0) {
		bool is_exit = !strcmp(row.event, "exit");
		bool names = is_exit || !strcmp(row.event, "exec") || !strcmp(row.event, "fork") ||
			     !strcmp(row.event, "attach");

		rows++;
		if (only && row.pid != only) {
			/* as stages and validate take a trace under --pid */
			if (stages_on)
				stages__time(&r->st, row.ts_ns);
			if (r->val_on && !strcmp(row.event, "log") &&
			    validation__row(&r->val, cr->line, row.ts_ns, row.pid, row.vmrss_kb, row.event,
					    row.cause_text, row.label, row.reported))
				return -ENOMEM;
			continue;
		}
		if (!r->rows && (e = start(r, row.ts_ns, cr->t0_ns)))
			return e;
		if ((e = poll_until(r, row.ts_ns, false)))
			return e;
		if ((e = take_row(r, &row, is_exit, names)))
			return e;
		r->rows++;
		r->last_ts = row.ts_ns;
		take_event(r, &row);
		if (spikes__push(r->spikes, row.pid, row.ts_ns, row.vmrss_kb,
				 spike_ev_of(row.type, row.nr, row.cause),
				 spike_call_of(row.type, row.nr, row.cause, row.tid)))
			return -ENOMEM;
		if (!strcmp(row.event, "checkpoint") && ++r->ckpt_rows > REP_CKPTS && r->val_on) {
			/* its memory grows with them: the page says so */
			validation__free(&r->val);
			r->val_on = false;
		}
		if (r->val_on && validation__row(&r->val, cr->line, row.ts_ns, row.pid, row.vmrss_kb,
						 row.event, row.cause_text, row.label, row.reported))
			return -ENOMEM;
		if (stages_on && stages__row(&r->st, row.ts_ns, row.pid, row.vmrss_kb, row.event,
					     row.label))
			return -ENOMEM;
	}
	if (e < 0)
		return fail(err, len, e, "%s%s", cr->err[0] ? cr->err : "read error", "");
	if (!rows)
		return fail(err, len, -EINVAL, "%s has a header but no rows: nothing to show%s",
			    r->trace_path, "");
	if (!r->rows) {
		char pid[16];

		snprintf(pid, sizeof(pid), "%d", only);
		return fail(err, len, -ENOENT, "no rows of pid %s in %s", pid, r->trace_path);
	}
	return 0;
}

static int finish(struct report *r)
{
	int e = poll_until(r, r->last_ts, true);

	if (e)
		return e;
	mm_raw__compact(&r->raw);
	if (spikes__finish(r->spikes, r->last_ts))
		return -ENOMEM;
	if (r->val_on && r->val.ncps)
		validation__finish(&r->val);
	else if (r->val_on) {
		validation__free(&r->val);
		r->val_on = false;
	}
	if (r->st.marks && stages__finish(&r->st))
		return -ENOMEM;
	return 0;
}

int report__read(struct report **out, const struct report_opts *o, char *err, size_t len)
{
	struct spikes_cfg cfg = { .min_rise_kb = 1024, .settle_pct = 10, .npoll = REP_POLLS,
				  .keep_top = REP_SPIKES };
	struct v_cfg vcfg = { .compare = V_CMP_AUTO, .tol_pct = 5 };
	struct csv_reader cr;
	struct report *r;
	int e;

	*out = NULL;
	memset(&cr, 0, sizeof(cr));
	cr.fd = -1;
	r = calloc(1, sizeof(*r));
	if (!r)
		return fail(err, len, -ENOMEM, "out of memory reading %s%s", o->trace, "");
	r->o = *o;
	r->exit_status = -1;
	r->trace_path = strdup(o->trace);
	r->title = strdup(o->title ? o->title : o->trace);
	r->procs = calloc(REP_PROCS, sizeof(*r->procs));
	r->marks = calloc(REP_MARKS, sizeof(*r->marks));
	r->str[r->nstr++] = strdup("");
	for (int k = 0; k < REP_POLLS; k++)
		cfg.poll_ns[k] = poll_periods[k];
	r->spikes = spikes__new(&cfg);
	stages__init(&r->st);
	if (!r->trace_path || !r->title || !r->procs || !r->marks || !r->str[0] || !r->spikes) {
		e = fail(err, len, -ENOMEM, "out of memory reading %s%s", o->trace, "");
		goto out;
	}
	if ((e = csvr__open(&cr, o->trace))) {
		snprintf(err, len, "%s", cr.err);
		goto out;
	}
	cr.sizes = cr.parts = true;
	r->tree = cr.c_total >= 0 && !o->only_pid;
	r->has_parts = cr.c_anon >= 0 && cr.c_file >= 0 && cr.c_shmem >= 0;
	r->has_vmsize = cr.c_vmsize >= 0;
	r->s_on[S_TOTAL] = r->s_on[S_POLL0] = r->s_on[S_POLL1] = true;
	r->s_on[S_VMSIZE] = r->has_vmsize;
	r->s_on[S_SWAP] = cr.c_swap >= 0;
	/* validate needs what validate needs: events and causes */
	if (cr.c_event >= 0 && cr.c_cause >= 0) {
		validation__init(&r->val, &vcfg);
		r->val_on = true;
	}
	e = read_rows(r, &cr, err, len);
	if (!e && (e = finish(r)))
		snprintf(err, len, "out of memory finishing the analysis of %s", o->trace);
	else if (e == -ENOMEM && !err[0])
		snprintf(err, len, "out of memory at %s:%llu", o->trace, (unsigned long long)cr.line);
	r->has_swap = r->s_on[S_SWAP] && r->max_swap > 0;
	if (!e)
		find_summary(r);
out:
	csvr__close(&cr);
	if (e) {
		report__free(r);
		return e;
	}
	*out = r;
	return 0;
}

void report__free(struct report *r)
{
	if (!r)
		return;
	for (int k = 0; k < S_N; k++)
		mm_grid__free(&r->s[k]);
	for (int k = 0; k < r->nlanes; k++)
		mm_grid__free(&r->lanes[k].g);
	mm_raw__free(&r->raw);
	free(r->live);
	idmap__free(&r->live_idx);
	for (size_t i = 0; i < r->nstr; i++)
		free(r->str[i]);
	idmap__free(&r->str_idx);
	spikes__free(r->spikes);
	if (r->val_on)
		validation__free(&r->val);
	stages__free(&r->st);
	free(r->procs);
	free(r->marks);
	free(r->summary_json);
	free(r->summary_path);
	free(r->trace_path);
	free(r->title);
	free(r);
}

size_t report__overview(const struct report *r, size_t max, int64_t *lo, int64_t *hi,
			uint64_t *w)
{
	const struct mm_grid *g = &r->s[S_TOTAL];
	struct mm_grid c;
	unsigned int k = 0;
	size_t n;

	while (((g->n + ((size_t)1 << k) - 1) >> k) > max)
		k++;
	if (mm_grid__coarsen(g, k, &c))
		return 0;
	for (n = 0; n < c.n; n++) {
		bool has = c.b[n].flags & MM_HAS;

		lo[n] = has ? c.b[n].lo : -1;
		hi[n] = has ? c.b[n].hi : -1;
	}
	*w = c.w;
	mm_grid__free(&c);
	return n;
}

void report__peak(const struct report *r, int64_t *peak_kb, uint64_t *span_ns)
{
	*peak_kb = r->peak_kb;
	*span_ns = r->last_ts - r->first_ts;
}

char *report_path_beside(char *buf, size_t len, const char *trace, const char *ext)
{
	if (!zpath_beside(buf, len, trace, ext) && len)
		buf[0] = 0;
	return buf;
}

/* As the page's script writes them (fmtKB), so the tables and the chart
 * say the same figure. */
char *rep_size(int64_t kb, char *buf, size_t len)
{
	double a = (double)(kb < 0 ? -kb : kb);
	const char *s = kb < 0 ? "-" : "";

	if (a < 1024)
		snprintf(buf, len, "%s%.0f KiB", s, a);
	else if (a < 1024 * 1024)
		snprintf(buf, len, "%s%.*f MiB", s, a < 10240 ? 2 : 1, a / 1024);
	else
		snprintf(buf, len, "%s%.2f GiB", s, a / 1048576);
	return buf;
}
