// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * One trace's page: the tables as HTML, the chart's data as JSON in the
 * page (levels of min/max buckets per series, coarsest first, as many as
 * the size allows; then rows kept whole), the script and style inlined.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/spikes_report.h"
#include "format/json.h"
#include "format/text.h"
#include "lib/units.h"
#include "report/assets.h"
#include "report/model.h"

void html_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x80) {
			int k = utf8_seq(s, strnlen(s, 4));

			if (k > 0) {
				fwrite(s, 1, (size_t)k, f);
				s += k - 1;
			} else {
				fputs("\xef\xbf\xbd", f);	/* U+FFFD */
			}
		} else if (c == '&') {
			fputs("&amp;", f);
		} else if (c == '<') {
			fputs("&lt;", f);
		} else if (c == '>') {
			fputs("&gt;", f);
		} else if (c == '"') {
			fputs("&quot;", f);
		} else if (c == '\'') {
			fputs("&#39;", f);
		} else if (c < 0x20 && c != '\n' && c != '\t') {
			fputc(' ', f);
		} else {
			fputc(c, f);
		}
	}
}

static long long rel(const struct report *r, uint64_t ts)
{
	return (long long)(int64_t)(ts - r->t0);
}

static double secs(const struct report *r, uint64_t ts)
{
	return secs_since(ts, r->t0);
}

/* ---- the chart's data ---- */

static bool emitted(const struct mm_bucket *b)
{
	return b->n || (b->flags & MM_CUT);
}

static void put_val(FILE *f, bool first, bool has, int64_t v)
{
	if (!first)
		fputc(',', f);
	if (has)
		fprintf(f, "%" PRId64, v);
	else
		fputs("null", f);
}

/* One level: bucket i starts at o + i*w (ns after t0); listed are the
 * buckets with rows (or where the value ended): i as the step from the
 * previous one listed, lo/hi (null: no value), end (null: none at its
 * end), n (rows), xh/xe (the parts at hi and at the end, three each). */
static void level_json(FILE *f, const struct report *r, const struct mm_grid *g, bool counts)
{
	const char *arr[] = { "lo", "hi", "end" };
	long prev = -1;
	bool first = true;

	fprintf(f, "{\"w\":%" PRIu64 ",\"o\":%lld,\"i\":[", g->w, rel(r, g->origin));
	for (size_t i = 0; i < g->n; i++) {
		if (!emitted(&g->b[i]))
			continue;
		fprintf(f, first ? "%ld" : ",%ld", (long)i - prev);
		prev = (long)i;
		first = false;
	}
	for (int a = 0; a < 3; a++) {
		fprintf(f, "],\"%s\":[", arr[a]);
		first = true;
		for (size_t i = 0; i < g->n; i++) {
			const struct mm_bucket *b = &g->b[i];

			if (!emitted(b))
				continue;
			put_val(f, first, a < 2 ? (b->flags & MM_HAS) : (b->flags & MM_END),
				a == 0 ? b->lo : a == 1 ? b->hi : b->end);
			first = false;
		}
	}
	if (counts) {
		fputs("],\"n\":[", f);
		first = true;
		for (size_t i = 0; i < g->n; i++) {
			if (!emitted(&g->b[i]))
				continue;
			fprintf(f, first ? "%u" : ",%u", g->b[i].n);
			first = false;
		}
	}
	for (int a = 0; a < 2 && g->nx; a++) {
		fprintf(f, "],\"%s\":[", a ? "xe" : "xh");
		first = true;
		for (size_t i = 0; i < g->n; i++) {
			const struct mm_bucket *b = &g->b[i];
			const int64_t *x = a ? b->xend : b->xhi;
			bool has = a ? (b->flags & MM_END) : (b->flags & MM_HAS);

			if (!emitted(b))
				continue;
			for (int k = 0; k < g->nx; k++) {
				put_val(f, first, has, x[k]);
				first = false;
			}
		}
	}
	fputs("]}", f);
}

/* A piece of the data: one level of one series, or the rows kept whole. */
struct piece {
	char *buf;
	size_t len;
	bool taken;
};

struct series_out {
	const char *key;	/* "total", ..., or NULL for a lane */
	const struct mm_grid *g;
	bool counts;
	struct piece *lv;	/* coarsest first */
	int nlv;
	bool closed;
};

/* Renders into p with fn(f, arg...). 0 or -ENOMEM. */
static int piece_open(struct piece *p, FILE **f)
{
	p->buf = NULL;
	p->len = 0;
	p->taken = false;
	*f = open_memstream(&p->buf, &p->len);
	return *f ? 0 : -ENOMEM;
}

static int piece_close(struct piece *p, FILE *f)
{
	if (fclose(f)) {
		free(p->buf);
		p->buf = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* The levels of one series: the finest, then 4 buckets merged into one
 * until REP_LEVEL_MIN or fewer. */
static int series_levels(const struct report *r, struct series_out *s)
{
	struct mm_grid c;
	int n = 1, e = 0;

	for (size_t m = s->g->n; m > REP_LEVEL_MIN; m = (m + 3) / 4)
		n++;
	s->lv = calloc((size_t)n, sizeof(*s->lv));
	if (!s->lv)
		return -ENOMEM;
	s->nlv = n;
	for (int k = 0; k < n && !e; k++) {
		struct piece *p = &s->lv[n - 1 - k];	/* coarsest first */
		FILE *f;

		if (k && mm_grid__coarsen(s->g, (unsigned int)(2 * k), &c))
			return -ENOMEM;
		e = piece_open(p, &f);
		if (!e) {
			level_json(f, r, k ? &c : s->g, s->counts);
			e = piece_close(p, f);
		}
		if (k)
			mm_grid__free(&c);
	}
	return e;
}

static void put_str_array(FILE *f, const char *const *s, size_t n)
{
	fputc('[', f);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		json_escape_html(f, s[i]);
	}
	fputc(']', f);
}

/* The rows kept whole: b lists the finest buckets whose every row is
 * here (steps, as i), then each row: ts as the step from the previous
 * (the first from t0), the tree's value and parts, VmSize, swap, the
 * row's own process and its RSS, event and cause (str[] indexes). */
static int raw_piece(const struct report *r, struct piece *p)
{
	const struct mm_raw *raw = &r->raw;
	const struct mm_grid *g = &r->s[S_TOTAL];
	const char *names[] = { "v", "an", "fi", "sh", "vs", "sw", "pr", "pid", "ev", "ca" };
	long prev = -1;
	bool first = true;
	FILE *f;
	int e = piece_open(p, &f);

	if (e)
		return e;
	fprintf(f, "{\"w\":%" PRIu64 ",\"o\":%lld,\"per\":%u,\"b\":[", g->w, rel(r, g->origin),
		raw->per);
	for (size_t i = 0; i < g->n; i++) {
		if (!g->b[i].n || !mm_raw__whole(raw, i))
			continue;
		fprintf(f, first ? "%ld" : ",%ld", (long)i - prev);
		prev = (long)i;
		first = false;
	}
	fputs("],\"ts\":[", f);
	for (size_t k = 0; k < raw->n; k++) {
		uint64_t ts = mm_raw__ts(raw, k);

		fprintf(f, k ? ",%lld" : "%lld", (long long)(int64_t)(ts - (k ? mm_raw__ts(raw, k - 1) : r->t0)));
	}
	for (int a = 0; a < 10; a++) {
		fprintf(f, "],\"%s\":[", names[a]);
		for (size_t k = 0; k < raw->n; k++) {
			const struct rep_raw *w = (const void *)(raw->rec + k * raw->size);
			const int64_t v[] = { w->total, w->anon, w->file, w->shmem, w->vmsize,
					      w->swap, w->prss, w->pid, w->ev, w->cause };

			fprintf(f, k ? ",%" PRId64 : "%" PRId64, v[a]);
		}
	}
	fputs("],\"str\":", f);
	put_str_array(f, (const char *const *)r->str, r->nstr);
	fputc('}', f);
	return piece_close(p, f);
}

static void json_key(FILE *f, const char *k)
{
	fprintf(f, ",\"%s\":", k);
}

/* What the chart marks: the peak, spikes, marks, stage bands,
 * checkpoints and the values reported with them, thresholds, lanes'
 * names. */
static int overlays_json(FILE *f, struct report *r)
{
	const struct spikes_cfg *c = spikes__cfg(r->spikes);
	size_t n = spikes__kept(r->spikes);

	fprintf(f, "\"peak\":{\"kb\":%" PRId64 ",\"t\":%lld,\"pid\":%d}", r->peak_kb,
		rel(r, r->peak_ts), r->peak_pid);
	/* spikes: [pid, depth, start, peak, end, base_kb, peak_kb, end_kb,
	 * faults, window exact, p(10ms), p(100ms)] */
	json_key(f, "spikes");
	fputc('[', f);
	for (size_t i = 0; i < n; i++) {
		const struct spike *s = spikes__get(r->spikes, i);

		fprintf(f, "%s[%d,%u,%lld,%lld,%lld,%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRIu64
			",%d", i ? "," : "", s->pid, s->depth, rel(r, s->start_ts), rel(r, s->peak_ts),
			rel(r, s->end_ts), s->base_kb, s->peak_kb, s->end_kb, s->events[SEV_FAULT],
			!s->approx);
		for (int k = 0; k < c->npoll; k++)
			fprintf(f, ",%.4f", spike_catch_prob(s, c->poll_ns[k]));
		fputc(']', f);
	}
	fprintf(f, "],\"spike_count\":%zu", spikes__count(r->spikes));
	/* marks: [t, pid, kb, name] */
	json_key(f, "marks");
	fputc('[', f);
	for (size_t i = 0; i < r->nmarks; i++) {
		const struct rep_mark *m = &r->marks[i];

		fprintf(f, "%s[%lld,%d,%" PRId64 ",", i ? "," : "", rel(r, m->ts), m->pid, m->kb);
		json_escape_html(f, m->name);
		fputc(']', f);
	}
	fprintf(f, "],\"mark_count\":%" PRIu64, r->marks_seen);
	/* stage bands: [start, end, stage, pid, depth, entry_kb, peak_kb,
	 * exit_kb]; stages: their names and kinds */
	json_key(f, "bands");
	fputc('[', f);
	for (size_t i = 0; r->st.marks && i < r->st.niv && i < REP_BANDS; i++) {
		struct stage_iv v;

		if (stages__iv(&r->st, i, &v))
			return -EIO;
		fprintf(f, "%s[%lld,%lld,%u,%d,%u,%" PRId64 ",%" PRId64 ",%" PRId64 "]", i ? "," : "",
			rel(r, v.start_ts_ns), rel(r, v.end_ts_ns), v.sum, v.pid, v.depth, v.entry_kb,
			v.peak_kb, v.exit_kb);
	}
	fprintf(f, "],\"band_count\":%zu", r->st.marks ? r->st.niv : 0);
	json_key(f, "stages");
	fputc('[', f);
	for (size_t i = 0; r->st.marks && i < r->st.nsums; i++) {
		fputs(i ? ",[" : "[", f);
		json_escape_html(f, r->st.sums[i].name);
		fprintf(f, ",%d]", r->st.sums[i].span);
	}
	fputc(']', f);
	/* checkpoints: [t, pid, exact_kb, max_since_prev_kb,
	 * max_since_prev_t, prev index (-1), source]; reported: [t, kb (null:
	 * unit unknown), checkpoint (-1), compared with the peak, reference_kb,
	 * text] */
	json_key(f, "checkpoints");
	fputc('[', f);
	for (size_t i = 0; r->val_on && i < r->val.ncps; i++) {
		const struct v_checkpoint *cp = &r->val.cps[i];

		fprintf(f, "%s[%lld,%d,%" PRId64 ",%" PRId64 ",%lld,%d,", i ? "," : "", rel(r, cp->ts_ns),
			cp->pid, cp->exact_kb, cp->max_since_prev_kb, rel(r, cp->max_since_prev_ts_ns),
			cp->prev_cp);
		json_escape_html(f, cp->source);
		fputc(']', f);
	}
	fputc(']', f);
	json_key(f, "reported");
	fputc('[', f);
	for (size_t i = 0; r->val_on && i < r->val.nrep; i++) {
		const struct v_reported *v = &r->val.rep[i];

		fprintf(f, "%s[%lld,", i ? "," : "", rel(r, v->ts_ns));
		put_val(f, true, v->kb >= 0, v->kb);
		fprintf(f, ",%d,%d,%" PRId64 ",", v->cp, v->cmp == V_CMP_PEAK, v->ref_kb);
		json_escape_html(f, v->text);
		fputc(']', f);
	}
	fprintf(f, "],\"checkpoint_rows\":%" PRIu64, r->ckpt_rows);
	/* thresholds: [t, guard, limit_kb, value_kb, pid, cause] */
	json_key(f, "thresholds");
	fputc('[', f);
	for (size_t i = 0; i < r->nthr; i++) {
		const struct rep_threshold *t = &r->thr[i];

		fprintf(f, "%s[%lld,%d,%" PRId64 ",%" PRId64 ",%d,", i ? "," : "", rel(r, t->ts), t->guard,
			t->limit_kb, t->value_kb, t->pid);
		json_escape_html(f, t->cause);
		fputc(']', f);
	}
	fputc(']', f);
	return 0;
}

static void free_series(struct series_out *s, int n)
{
	for (int i = 0; i < n; i++) {
		for (int k = 0; k < s[i].nlv; k++)
			free(s[i].lv[k].buf);
		free(s[i].lv);
	}
}

/* The data, within budget bytes: every series' coarsest level, then the
 * next finer level of each in turn while they fit, then the rows kept
 * whole (when the finest level of the tree's series is in). */
static int data_json(FILE *f, struct report *r, size_t budget, size_t *used)
{
	static const char *const keys[S_N] = { "total", "vmsize", "swap", "poll0", "poll1" };
	struct series_out s[S_N + REP_LANES + 1];
	int ns = 0, e = 0, maxlv = 0;
	struct piece raw = { 0 };
	bool lanes = r->nlanes && r->nprocs_seen > 1;
	size_t size = 0;

	memset(s, 0, sizeof(s));
	for (int k = 0; k < S_N; k++) {
		if (!r->s_on[k] || (k == S_SWAP && !r->has_swap))
			continue;
		s[ns] = (struct series_out){ .key = keys[k], .g = &r->s[k], .counts = k == S_TOTAL };
		e = e ? e : series_levels(r, &s[ns]);
		ns++;
	}
	for (int k = 0; lanes && k < r->nlanes; k++) {
		s[ns] = (struct series_out){ .g = &r->lanes[k].g };
		e = e ? e : series_levels(r, &s[ns]);
		ns++;
	}
	if (!e)
		e = raw_piece(r, &raw);
	if (e)
		goto out;
	for (int i = 0; i < ns; i++)
		if (s[i].nlv > maxlv)
			maxlv = s[i].nlv;
	for (int j = 0; j < maxlv; j++) {
		for (int i = 0; i < ns; i++) {
			struct piece *p;

			if (j >= s[i].nlv || s[i].closed)
				continue;
			p = &s[i].lv[j];
			if (j && size + p->len > budget) {
				s[i].closed = true;
				continue;
			}
			p->taken = true;
			size += p->len + 1;
		}
	}
	raw.taken = raw.len && s[0].lv[s[0].nlv - 1].taken && size + raw.len <= budget;
	if (raw.taken)
		size += raw.len;
	*used = size;

	fprintf(f, "{\"version\":1,\"t0\":\"%" PRIu64 "\",\"first\":%lld,\"last\":%lld,\"rows\":%"
		PRIu64 ",\"tree\":%s,\"pid\":%d,\"parts\":%s,\"polls\":[%" PRIu64 ",%" PRIu64 "],",
		r->t0, rel(r, r->first_ts), rel(r, r->last_ts), r->rows, r->tree ? "true" : "false",
		r->o.only_pid, r->has_parts ? "true" : "false", r->poll_ns[0], r->poll_ns[1]);
	fputs("\"series\":{", f);
	for (int i = 0, k = 0; i < ns; i++) {
		if (!s[i].key)
			continue;
		fprintf(f, "%s\"%s\":[", k++ ? "," : "", s[i].key);
		for (int j = 0, m = 0; j < s[i].nlv; j++)
			if (s[i].lv[j].taken) {
				fputs(m++ ? "," : "", f);
				fwrite(s[i].lv[j].buf, 1, s[i].lv[j].len, f);
			}
		fputc(']', f);
	}
	fputs("},\"lanes\":[", f);
	for (int i = 0, k = 0; i < ns; i++) {
		const struct rep_lane *l;
		const struct rep_proc *p;

		if (s[i].key)
			continue;
		l = &r->lanes[k];
		p = l->proc >= 0 ? &r->procs[l->proc] : NULL;
		fprintf(f, "%s{\"pid\":%d,\"name\":", k++ ? "," : "", p ? p->pid : 0);
		json_escape_html(f, p ? p->comm : "");
		fprintf(f, ",\"peak_kb\":%" PRId64 ",\"others\":%s,\"levels\":[",
			p ? p->peak_kb : 0, p ? "false" : "true");
		for (int j = 0, m = 0; j < s[i].nlv; j++)
			if (s[i].lv[j].taken) {
				fputs(m++ ? "," : "", f);
				fwrite(s[i].lv[j].buf, 1, s[i].lv[j].len, f);
			}
		fputs("]}", f);
	}
	fprintf(f, "],\"others_count\":%" PRIu64 ",\"raw\":",
		r->others && r->nprocs_seen > REP_LANES ? r->nprocs_seen - REP_LANES : 0);
	if (raw.taken)
		fwrite(raw.buf, 1, raw.len, f);
	else
		fputs("null", f);
	fputc(',', f);
	e = overlays_json(f, r);
	fputs("}", f);
out:
	free(raw.buf);
	free_series(s, ns);
	return e;
}

/* ---- the tables ---- */

static void th(FILE *f, const char *const *h, size_t n)
{
	fputs("<thead><tr>", f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "<th>%s</th>", h[i]);
	fputs("</tr></thead>\n", f);
}

static void row_kv(FILE *f, const char *k, const char *v)
{
	fprintf(f, "<tr><th>%s</th><td>", k);
	html_text(f, v);
	fputs("</td></tr>\n", f);
}

static void summary_table(FILE *f, struct report *r)
{
	char a[64], b[64], pn[32], line[512];
	int64_t poll_max[REP_POLLS] = { 0 };

	fputs("<section id=\"summary\"><h2>Summary</h2>\n<table class=\"kv\" id=\"summary-table\">\n", f);
	row_kv(f, "Trace", r->trace_path);
	snprintf(line, sizeof(line), "%s at %.6f s (pid %d)%s", rep_size(r->peak_kb, a, sizeof(a)),
		 secs(r, r->peak_ts), r->peak_pid,
		 r->tree ? ", the traced tree's total" : "");
	fputs("<tr><th>Peak (exact, from the rows)</th><td id=\"peak-value\" data-kb=\"", f);
	fprintf(f, "%" PRId64 "\">", r->peak_kb);
	html_text(f, line);
	fputs("</td></tr>\n", f);
	snprintf(line, sizeof(line), "%s (%.6f s to %.6f s)",
		 format_duration(r->last_ts - r->first_ts, a, sizeof(a)), secs(r, r->first_ts),
		 secs(r, r->last_ts));
	row_kv(f, "Duration", line);
	snprintf(line, sizeof(line), "%" PRIu64 "%s", r->rows,
		 r->o.only_pid ? " (of the process shown)" : "");
	row_kv(f, "Rows", line);
	snprintf(line, sizeof(line), "%" PRIu64, r->nprocs_seen);
	row_kv(f, "Processes", line);
	if (r->exit_status >= 0)
		snprintf(line, sizeof(line), "%d%s", r->exit_status,
			 r->exit_status > 128 ? " (128 + the signal that killed it)" : "");
	else
		snprintf(line, sizeof(line), "none in the trace (still running when tracing stopped?)");
	row_kv(f, "Exit status (first process)", line);
	snprintf(line, sizeof(line), "%zu of 1 MiB or more", spikes__count(r->spikes));
	row_kv(f, "Spikes", line);
	for (int k = 0; k < REP_POLLS; k++) {
		const struct mm_grid *g = &r->s[S_POLL0 + k];

		for (size_t i = 0; i < g->n; i++)
			if ((g->b[i].flags & MM_HAS) && g->b[i].hi > poll_max[k])
				poll_max[k] = g->b[i].hi;
		period_name(r->poll_ns[k], pn, sizeof(pn));
		if (g->rows)
			snprintf(line, sizeof(line), "a peak of %s, %s below the exact one (sampling at "
				 "0, %s, ... of time_s)", rep_size(poll_max[k], a, sizeof(a)),
				 rep_size(r->peak_kb - poll_max[k], b, sizeof(b)), pn);
		else
			snprintf(line, sizeof(line), "nothing: the trace is shorter than its period");
		fprintf(f, "<tr><th>A %s poller would have read</th><td class=\"poll\" data-kb=\"%"
			PRId64 "\">", pn, poll_max[k]);
		html_text(f, line);
		fputs("</td></tr>\n", f);
	}
	snprintf(line, sizeof(line), "%" PRIu64 " checkpoints, %" PRIu64 " marks, %" PRIu64
		 " log rows, %" PRIu64 " guard/alert rows", r->ckpt_rows, r->marks_seen, r->log_rows,
		 r->thr_seen);
	row_kv(f, "Also in the trace", line);
	fputs("</table>\n<div id=\"run-summary\"></div>\n</section>\n", f);
}

static double rate_mb_s(const struct spike *sp)
{
	uint64_t up = sp->peak_ts - sp->start_ts;

	return up ? (sp->peak_kb - sp->base_kb) / 1024.0 / (up / 1e9) : 0;
}

static void spikes_table(FILE *f, struct report *r)
{
	static const char *const h[] = { "#", "pid", "depth", "start s", "peak s", "rise", "peak",
					 "duration", "to peak", "MB/s", "faults", "p(10ms)",
					 "p(100ms)" };
	size_t n = spikes__kept(r->spikes), all = spikes__count(r->spikes);
	char a[32], b[32], c[32], d[32];

	fputs("<section id=\"spikes\"><h2>Spikes</h2>\n", f);
	if (!all) {
		fputs("<p>No spike of 1 MiB or more (a rise that comes back).</p></section>\n", f);
		return;
	}
	fprintf(f, "<p>%zu spike%s of 1 MiB or more, biggest first%s; p(P): the chance that a "
		"poller of period P samples inside it. Click a row to zoom to it.</p>\n", all,
		all == 1 ? "" : "s", n < all ? " (the largest listed; memtrace-bpf spikes for all)" : "");
	fputs("<table class=\"grid\" id=\"spike-table\">", f);
	th(f, h, sizeof(h) / sizeof(h[0]));
	fputs("<tbody>\n", f);
	for (size_t i = 0; i < n; i++) {
		const struct spike *s = spikes__get(r->spikes, i);

		fprintf(f, "<tr class=\"zoom\" data-t0=\"%.9f\" data-t1=\"%.9f\"><td>%zu</td><td>%d</td>"
			"<td>%u</td><td>%.6f</td><td>%.6f</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
			"<td>%.0f</td><td>%" PRIu64 "</td><td>%.0f%%</td><td>%.0f%%</td></tr>\n",
			secs(r, s->start_ts), secs(r, s->end_ts), i + 1, s->pid, s->depth,
			secs(r, s->start_ts), secs(r, s->peak_ts),
			rep_size(s->peak_kb - s->base_kb, a, sizeof(a)), rep_size(s->peak_kb, b, sizeof(b)),
			format_duration(s->end_ts - s->start_ts, c, sizeof(c)),
			format_duration(s->peak_ts - s->start_ts, d, sizeof(d)), rate_mb_s(s),
			s->events[SEV_FAULT], 100 * spike_catch_prob(s, r->poll_ns[0]),
			100 * spike_catch_prob(s, r->poll_ns[1]));
	}
	fputs("</tbody></table></section>\n", f);
}

/* Per process: growth and what pollers would have reported (the first
 * ones: spikes --format json has all). */
static void growth_table(FILE *f, struct report *r)
{
	static const char *const h[] = { "pid", "growth", "floor", "true peak", "10 ms poller: best",
					 "worst", "expected", "100 ms poller: expected" };
	size_t n = spikes__npids(r->spikes);
	char a[32], b[32], c[32], d[32], e[32], g[32];

	fputs("<section id=\"growth\"><h2>Growth and pollers, per process</h2>\n<table class=\"grid\">", f);
	th(f, h, sizeof(h) / sizeof(h[0]));
	fputs("<tbody>\n", f);
	for (size_t i = 0; i < n && i < 20; i++) {
		const struct pid_report *p = spikes__pid(r->spikes, i);
		const struct growth *gr = &p->growth;

		fprintf(f, "<tr><td>%d</td><td>%s</td><td>", p->pid,
			growth_verdict_name(gr->verdict));
		if (gr->enough)
			fprintf(f, "%s &rarr; %s (%+.0f kB/s)", rep_size(gr->envelope_start_kb, a, sizeof(a)),
				rep_size(gr->envelope_end_kb, b, sizeof(b)), gr->slope_kb_s);
		fprintf(f, "</td><td>%s</td>", rep_size(p->peak_kb, c, sizeof(c)));
		if (p->npoll >= 2)
			fprintf(f, "<td>%s</td><td>%s</td><td>%s</td><td>%s</td>",
				rep_size(p->poll[0].best_kb, d, sizeof(d)),
				rep_size(p->poll[0].worst_kb, e, sizeof(e)),
				rep_size((int64_t)p->poll[0].expected_kb, g, sizeof(g)),
				rep_size((int64_t)p->poll[1].expected_kb, a, sizeof(a)));
		fputs("</tr>\n", f);
	}
	fputs("</tbody></table>", f);
	if (n > 20)
		fprintf(f, "<p>%zu more processes: memtrace-bpf spikes TRACE --format json.</p>", n - 20);
	fputs("</section>\n", f);
}

static void checkpoints_table(FILE *f, struct report *r)
{
	static const char *const h[] = { "#", "time s", "pid", "source", "stage", "exact",
					 "max since previous", "excess", "reported", "vs" };
	const struct validation *v = &r->val;
	char a[32], b[32], c[32], d[32];

	if (!r->ckpt_rows)
		return;
	fputs("<section id=\"checkpoints\"><h2>Checkpoints: the application's own readings</h2>\n", f);
	if (!r->val_on) {
		fprintf(f, "<p>%" PRIu64 " checkpoints: more than the page lists (%d); "
			"<code>memtrace-bpf validate</code> has them all.</p></section>\n", r->ckpt_rows,
			REP_CKPTS);
		return;
	}
	if (v->worst_excess >= 0)
		fprintf(f, "<p>Largest excursion no checkpoint saw: %s above both checkpoints, before "
			"checkpoint %d.</p>\n", rep_size(v->cps[v->worst_excess].excess_kb, a, sizeof(a)),
			v->worst_excess + 1);
	if (v->peak_trusted >= 0)
		fprintf(f, "<p>The application's peak figure %s: it reported %s; the true peak was %s."
			"</p>\n", v->peak_trusted ? "can be trusted" : "<strong>cannot be trusted</strong>",
			rep_size(v->app_peak_kb, b, sizeof(b)), rep_size(v->true_peak_kb, c, sizeof(c)));
	fputs("<table class=\"grid\" id=\"checkpoint-table\">", f);
	th(f, h, sizeof(h) / sizeof(h[0]));
	fputs("<tbody>\n", f);
	for (size_t i = 0; i < v->ncps && i < REP_CKPT_ROWS; i++) {
		const struct v_checkpoint *cp = &v->cps[i];

		fprintf(f, "<tr class=\"zoom\" data-t0=\"%.9f\" data-t1=\"%.9f\"><td>%zu</td><td>%.6f</td>"
			"<td>%d</td><td>", secs(r, cp->ts_ns), secs(r, cp->ts_ns), i + 1,
			secs(r, cp->ts_ns), cp->pid);
		html_text(f, cp->source);
		fputs("</td><td>", f);
		html_text(f, cp->stage);
		fprintf(f, "</td><td>%s</td><td>%s</td><td>%s</td><td>", rep_size(cp->exact_kb, a, sizeof(a)),
			rep_size(cp->max_since_prev_kb, b, sizeof(b)), rep_size(cp->excess_kb, c, sizeof(c)));
		for (int k = 0; k < cp->nreported; k++) {
			const struct v_reported *rp = &v->rep[cp->first_reported + k];

			html_text(f, rp->text);
			fputs(k + 1 < cp->nreported ? "<br>" : "", f);
		}
		fputs("</td><td>", f);
		for (int k = 0; k < cp->nreported; k++) {
			const struct v_reported *rp = &v->rep[cp->first_reported + k];

			if (rp->kb >= 0)
				fprintf(f, "%s %s", rep_size(rp->diff_kb, d, sizeof(d)),
					rp->cmp == V_CMP_PEAK ? "(peak)" : "");
			fputs(k + 1 < cp->nreported ? "<br>" : "", f);
		}
		fputs("</td></tr>\n", f);
	}
	fputs("</tbody></table>", f);
	if (v->ncps > REP_CKPT_ROWS)
		fprintf(f, "<p>%zu more: <code>memtrace-bpf validate</code>.</p>", v->ncps - REP_CKPT_ROWS);
	fputs("</section>\n", f);
}

static void stages_table(FILE *f, struct report *r)
{
	static const char *const h[] = { "stage", "kind", "count", "total ms", "mean ms", "max ms",
					 "entry", "exit", "peak", "max rise", "growth" };
	char a[32], b[32], c[32], d[32], e[32];

	if (!r->st.marks)
		return;
	fprintf(f, "<section id=\"stages\"><h2>Stages, from %" PRIu64 " marks</h2>\n"
		"<table class=\"grid\" id=\"stage-table\">", r->st.marks);
	th(f, h, sizeof(h) / sizeof(h[0]));
	fputs("<tbody>\n", f);
	for (size_t i = 0; i < r->st.nsums; i++) {
		const struct stage_sum *s = &r->st.sums[i];

		fprintf(f, "<tr><td class=\"stage s%zu\">", i % 8);
		html_text(f, s->name);
		fprintf(f, "</td><td>%s</td><td>%" PRIu64 "</td><td>%.3f</td><td>%.3f</td><td>%.3f</td>",
			s->span ? "span" : "repeat", s->count, s->total_ns / 1e6,
			s->count ? s->total_ns / 1e6 / (double)s->count : 0, s->max_ns / 1e6);
		if (s->count)
			fprintf(f, "<td>%s</td><td>%s</td><td>%s</td>", rep_size(s->first_entry_kb, a, sizeof(a)),
				rep_size(s->last_exit_kb, b, sizeof(b)), rep_size(s->peak_kb, c, sizeof(c)));
		else
			fputs("<td></td><td></td><td></td>", f);
		fprintf(f, "<td>%s</td><td>%s</td></tr>\n", rep_size(s->max_rise_kb, d, sizeof(d)),
			rep_size(s->growth_kb, e, sizeof(e)));
	}
	fputs("</tbody></table></section>\n", f);
}

static void thresholds_table(FILE *f, struct report *r)
{
	static const char *const h[] = { "time s", "row", "threshold", "value", "pid", "cause" };
	char a[32], b[32];

	if (!r->nthr)
		return;
	fputs("<section id=\"thresholds\"><h2>Guard and alerts</h2>\n<table class=\"grid\">", f);
	th(f, h, sizeof(h) / sizeof(h[0]));
	fputs("<tbody>\n", f);
	for (size_t i = 0; i < r->nthr; i++) {
		const struct rep_threshold *t = &r->thr[i];

		fprintf(f, "<tr class=\"zoom\" data-t0=\"%.9f\" data-t1=\"%.9f\"><td>%.6f</td><td>%s</td>"
			"<td>%s</td><td>%s</td><td>%d</td><td>", secs(r, t->ts), secs(r, t->ts),
			secs(r, t->ts), t->guard ? "guard (--kill-at)" : "alert",
			rep_size(t->limit_kb, a, sizeof(a)), rep_size(t->value_kb, b, sizeof(b)), t->pid);
		html_text(f, t->cause);
		fputs("</td></tr>\n", f);
	}
	fputs("</tbody></table></section>\n", f);
}

static void procs_table(FILE *f, struct report *r)
{
	static const char *const h[] = { "pid", "name", "first s", "last s", "peak", "peak at s",
					 "exit status", "lane" };
	char a[32];

	if (r->nprocs_seen < 2)
		return;
	fprintf(f, "<section id=\"processes\"><h2>Processes (%" PRIu64 ")</h2>\n<table class=\"grid\">",
		r->nprocs_seen);
	th(f, h, sizeof(h) / sizeof(h[0]));
	fputs("<tbody>\n", f);
	for (size_t i = 0; i < r->nprocs; i++) {
		const struct rep_proc *p = &r->procs[i];

		fprintf(f, "<tr><td>%d</td><td>", p->pid);
		html_text(f, p->comm);
		fprintf(f, "</td><td>%.6f</td><td>%.6f</td><td>%s</td><td>%.6f</td><td>", secs(r, p->first_ts),
			secs(r, p->last_ts), rep_size(p->peak_kb, a, sizeof(a)), secs(r, p->peak_ts));
		if (p->exit_status >= 0)
			fprintf(f, "%d", p->exit_status);
		fprintf(f, "</td><td>%s</td></tr>\n", p->lane >= 0 ? "yes" : "summed");
	}
	fputs("</tbody></table>", f);
	if (r->nprocs_seen > r->nprocs)
		fprintf(f, "<p>%" PRIu64 " more processes not listed.</p>", r->nprocs_seen - r->nprocs);
	fputs("</section>\n", f);
}

/* The controls of what the chart shows (the script wires them). */
static void chart_box(FILE *f, struct report *r)
{
	static const struct { const char *id, *label; int on; } cb[] = {
		{ "parts", "anon / file / shmem", 1 }, { "total", "total RSS (min-max)", 1 },
		{ "vmsize", "VmSize (right axis)", 1 }, { "swap", "swap", 1 },
		{ "poll0", "10 ms poller", 1 }, { "poll1", "100 ms poller", 1 },
		{ "spikes", "spikes", 1 }, { "marks", "marks", 1 }, { "stages", "stages", 1 },
		{ "checkpoints", "checkpoints", 1 }, { "thresholds", "guard / alerts", 1 },
	};
	bool have[] = { r->has_parts, true, r->has_vmsize, r->has_swap, true, true,
			spikes__count(r->spikes) > 0, r->nmarks > 0, r->st.marks && r->st.niv,
			r->val_on && r->val.ncps, r->nthr > 0 };

	fputs("<section id=\"chart-box\">\n<div id=\"controls\">", f);
	for (size_t i = 0; i < sizeof(cb) / sizeof(cb[0]); i++)
		if (have[i])
			fprintf(f, "<label class=\"k-%s\"><input type=\"checkbox\" id=\"show-%s\"%s> %s</label>",
				cb[i].id, cb[i].id, cb[i].on ? " checked" : "", cb[i].label);
	fputs("<span class=\"buttons\"><button id=\"zoom-out\" type=\"button\">zoom out</button>"
	      "<button id=\"reset\" type=\"button\">whole run</button></span></div>\n"
	      "<div id=\"range\"></div>\n<div id=\"chart\"></div>\n<div id=\"lanes\"></div>\n"
	      "<p class=\"hint\">Drag to zoom into a stretch, wheel to zoom, shift+drag to pan, "
	      "double-click for the whole run. Each pixel column shows the exact lowest and "
	      "highest RSS in it; zoomed in far enough, single rows (hover for each).</p>\n"
	      "<noscript><p>The chart needs JavaScript; the tables below do not.</p></noscript>\n"
	      "</section>\n", f);
}

int report__html(struct report *r, FILE *f)
{
	char *tables = NULL, *data = NULL;
	size_t tlen = 0, dlen = 0, fixed, budget, used = 0;
	FILE *t = open_memstream(&tables, &tlen), *d;
	uint64_t max = r->o.max_bytes ? r->o.max_bytes : REPORT_MAX_BYTES;
	int e = 0;

	if (!t)
		return -ENOMEM;
	chart_box(t, r);
	summary_table(t, r);
	spikes_table(t, r);
	growth_table(t, r);
	checkpoints_table(t, r);
	stages_table(t, r);
	thresholds_table(t, r);
	procs_table(t, r);
	if (fclose(t)) {
		free(tables);
		return -ENOMEM;
	}
	fixed = tlen + ASSET_LEN(report_js) + ASSET_LEN(report_css) + 4096 + strlen(r->title) * 6 +
		(r->summary_json ? strlen(r->summary_json) * 6 / 5 : 0);
	budget = max > fixed ? max - fixed : 0;
	d = open_memstream(&data, &dlen);
	if (!d) {
		free(tables);
		return -ENOMEM;
	}
	e = data_json(d, r, budget, &used);
	if (fclose(d) && !e)
		e = -ENOMEM;
	if (e)
		goto out;

	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<meta name=\"generator\" content=\"memtrace-bpf ", f);
	html_text(f, r->o.version ? r->o.version : "");
	fputs("\">\n<title>", f);
	html_text(f, r->title);
	fputs(" - memtrace-bpf report</title>\n<style>\n", f);
	fwrite(ASSET(report_css), 1, ASSET_LEN(report_css), f);
	fputs("</style></head>\n<body>\n<header><h1>", f);
	html_text(f, r->title);
	fprintf(f, "</h1><p class=\"sub\">memtrace-bpf report: every RSS change of %s, exact to the "
		"page</p></header>\n", r->tree ? "the traced processes" : "the process");
	fwrite(tables, 1, tlen, f);
	fputs("<footer>Made by <code>memtrace-bpf report</code>", f);
	if (r->o.version) {
		fputc(' ', f);
		html_text(f, r->o.version);
	}
	fputs(". Self-contained: no network needed.</footer>\n", f);
	fputs("<script type=\"application/json\" id=\"memtrace-data\">", f);
	fwrite(data, 1, dlen, f);
	fputs("</script>\n<script type=\"application/json\" id=\"memtrace-summary\">", f);
	if (r->summary_json) {
		/* '<' only inside its strings (JSON): escaped there, so no
		 * "</script>" ends the element early */
		for (const char *s = r->summary_json; *s; s++) {
			if (*s == '<')
				fputs("\\u003c", f);
			else
				fputc(*s, f);
		}
	} else {
		fputs("null", f);
	}
	fputs("</script>\n<script>\n", f);
	fwrite(ASSET(report_js), 1, ASSET_LEN(report_js), f);
	fputs("</script>\n</body></html>\n", f);
	if (ferror(f))
		e = -EIO;
out:
	free(tables);
	free(data);
	return e;
}
