// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * One trace as one static SVG chart (papers, CI artefacts), and the
 * plotting pieces the campaign page shares: axes with round ticks, sizes
 * in the unit that suits them. Per pixel column the chart draws the exact
 * lowest and highest value of the finest buckets under it.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/spikes_report.h"
#include "lib/units.h"
#include "report/model.h"

double nice_step(double span, int n)
{
	double raw = span / (n > 0 ? n : 1), mag, f;

	if (!(raw > 0))
		return 1;
	mag = pow(10, floor(log10(raw)));
	f = raw / mag;
	return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

void size_unit(double max_kb, double *div, const char **unit)
{
	if (max_kb >= 4.0 * 1024 * 1024) {
		*div = 1024.0 * 1024;
		*unit = "GiB";
	} else if (max_kb >= 4.0 * 1024) {
		*div = 1024;
		*unit = "MiB";
	} else {
		*div = 1;
		*unit = "KiB";
	}
}

double svg_x(const struct svg_frame *fr, double v)
{
	return fr->left + (v - fr->x0) * fr->width / (fr->x1 > fr->x0 ? fr->x1 - fr->x0 : 1);
}

double svg_y(const struct svg_frame *fr, double v)
{
	return fr->top + fr->height - (v - fr->y0) * fr->height / (fr->y1 > fr->y0 ? fr->y1 - fr->y0 : 1);
}

void svg_axes(FILE *f, const struct svg_frame *fr, const char *xlabel, const char *ylabel)
{
	/* ticks at round values of the unit shown */
	double y0 = fr->y0 / fr->ydiv, y1 = fr->y1 / fr->ydiv, st = nice_step(y1 - y0, 6);
	double sx = nice_step(fr->x1 - fr->x0, 8);
	int xdec = sx >= 1 ? 0 : (int)ceil(-log10(sx) - 1e-9);

	fprintf(f, "<g class=\"axes\" font-size=\"11\" fill=\"#444\">\n");
	for (double v = ceil(y0 / st) * st; v <= y1 + st * 1e-9; v += st) {
		double y = svg_y(fr, v * fr->ydiv);

		fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
			"<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", fr->left,
			fr->left + fr->width, y, y, fr->left - 6, y + 4, v);
	}
	for (double v = ceil(fr->x0 / sx) * sx; !fr->xcat && v <= fr->x1 + sx * 1e-9; v += sx) {
		double x = svg_x(fr, v);

		fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#f0f0f0\"/>"
			"<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.*f</text>\n", x, x, fr->top,
			fr->top + fr->height, x, fr->top + fr->height + 16, xdec, v);
	}
	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#999\"/>\n",
		fr->left, fr->top, fr->width, fr->height);
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", fr->left + fr->width / 2,
		fr->top + fr->height + 34);
	html_text(f, xlabel);
	fprintf(f, "</text><text transform=\"translate(%d,%d) rotate(-90)\" text-anchor=\"middle\">",
		fr->left - 46, fr->top + fr->height / 2);
	html_text(f, ylabel);
	fputs("</text></g>\n", f);
}

/* Per pixel column of [x0, x1) (ns): the lowest and highest value of the
 * buckets of g under it, and the parts at the highest. has[c]: a value. */
struct columns {
	int n;
	double *lo, *hi, *x;	/* x: 3 per column */
	bool *has;
};

static int columns_of(const struct mm_grid *g, uint64_t x0, uint64_t x1, int n, struct columns *c)
{
	double span = (double)(x1 > x0 ? x1 - x0 : 1);

	c->n = n;
	c->lo = calloc((size_t)n, sizeof(double));
	c->hi = calloc((size_t)n, sizeof(double));
	c->x = calloc((size_t)n * 3, sizeof(double));
	c->has = calloc((size_t)n, sizeof(bool));
	if (!c->lo || !c->hi || !c->x || !c->has)
		return -ENOMEM;
	for (int k = 0; k < n && g->n; k++) {
		uint64_t ta = x0 + (uint64_t)(span * k / n), tb = x0 + (uint64_t)(span * (k + 1) / n);
		uint64_t i0, i1;

		if (tb <= ta)
			tb = ta + 1;
		if (tb <= g->origin)
			continue;
		i0 = ta > g->origin ? (ta - g->origin) / g->w : 0;
		i1 = (tb - 1 - g->origin) / g->w;
		if (i0 >= g->n)
			continue;
		if (i1 >= g->n)
			i1 = g->n - 1;
		for (uint64_t i = i0; i <= i1; i++) {
			const struct mm_bucket *b = &g->b[i];

			if (!(b->flags & MM_HAS))
				continue;
			if (!c->has[k] || b->lo < c->lo[k])
				c->lo[k] = (double)b->lo;
			if (!c->has[k] || b->hi > c->hi[k]) {
				c->hi[k] = (double)b->hi;
				for (int j = 0; j < g->nx; j++)
					c->x[3 * k + j] = (double)b->xhi[j];
			}
			c->has[k] = true;
		}
	}
	return 0;
}

static void columns_free(struct columns *c)
{
	free(c->lo);
	free(c->hi);
	free(c->x);
	free(c->has);
}

/* A step path along the columns: (v(k) at each column's two edges). */
static void step_path(FILE *f, const struct svg_frame *fr, const struct columns *c,
		      const double *v, int stride, double scale, bool close_to_zero)
{
	bool pen = false;
	int first = -1, last = -1;

	fputs(" d=\"", f);
	for (int k = 0; k < c->n; k++) {
		double y;

		if (!c->has[k]) {
			pen = false;
			continue;
		}
		y = svg_y(fr, v[k * stride] * scale);
		fprintf(f, "%c%d %.1f L%d %.1f ", pen ? 'L' : 'M', fr->left + k, y, fr->left + k + 1, y);
		if (first < 0)
			first = k;
		last = k;
		pen = true;
	}
	if (close_to_zero && first >= 0)
		fprintf(f, "L%d %.1f L%d %.1f Z", fr->left + last + 1, svg_y(fr, 0), fr->left + first,
			svg_y(fr, 0));
	fputs("\"", f);
}

/* Stage bands and spikes, under the lines. */
static void svg_backdrops(struct report *r, FILE *f, const struct svg_frame *fr, uint64_t x0,
			  size_t nsp)
{
	char a[64], b[64];

	for (size_t i = 0; r->st.marks && i < r->st.niv && i < REP_BANDS; i++) {
		static const char *const col[] = { "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1",
						   "#76b7b2", "#edc948", "#ff9da7", "#9c755f" };
		struct stage_iv v;
		double sx, ex;

		if (stages__iv(&r->st, i, &v))
			break;
		sx = svg_x(fr, secs_since(v.start_ts_ns, x0));
		ex = svg_x(fr, secs_since(v.end_ts_ns, x0));
		fprintf(f, "<rect class=\"stage\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"6\" "
			"fill=\"%s\"><title>", sx, fr->top, ex - sx > 0.5 ? ex - sx : 0.5, col[v.sum % 8]);
		html_text(f, r->st.sums[v.sum].name);
		fputs("</title></rect>\n", f);
	}
	for (size_t i = 0; i < nsp && i < 50; i++) {
		const struct spike *s = spikes__get(r->spikes, i);
		double sx = svg_x(fr, secs_since(s->start_ts, x0)), ex = svg_x(fr, secs_since(s->end_ts, x0));

		fprintf(f, "<rect class=\"spike\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
			"fill=\"#e15759\" fill-opacity=\"0.13\"><title>spike +%s in %s (pid %d)</title></rect>\n",
			sx, fr->top, ex - sx > 1 ? ex - sx : 1, fr->height,
			rep_size(s->peak_kb - s->base_kb, a, sizeof(a)),
			format_duration(s->end_ts - s->start_ts, b, sizeof(b)), s->pid);
	}
}

/* anon, file and shmem stacked. 0 or -ENOMEM. */
static int svg_parts(FILE *f, const struct svg_frame *fr, const struct columns *tot)
{
	static const char *const col[] = { "#9ecae1", "#c7e9c0", "#fdd0a2" };
	static const char *const name[] = { "anon", "file", "shmem" };
	double *cum = calloc((size_t)fr->width * 3, sizeof(double));

	if (!cum) {
		return -ENOMEM;
	}
	for (int k = 0; k < fr->width; k++)
		for (int j = 0; j < 3; j++)
			cum[3 * k + j] = tot->x[3 * k + j] + (j ? cum[3 * k + j - 1] : 0);
	/* the highest layer first: each covers those below it */
	for (int j = 2; j >= 0; j--) {
		fprintf(f, "<path class=\"part\" fill=\"%s\" stroke=\"none\"", col[j]);
		step_path(f, fr, tot, cum + j, 3, 1, true);
		fprintf(f, "><title>%s</title></path>\n", name[j]);
	}
	free(cum);
	return 0;
}

/* The band between each column's lowest and highest. */
static void svg_minmax(FILE *f, const struct svg_frame *fr, const struct columns *tot)
{
	fputs("<path class=\"band\" fill=\"#1f4e79\" fill-opacity=\"0.35\" stroke=\"none\" d=\"", f);
	for (int k = 0, pen = 0; k <= fr->width; k++) {
		if (k < fr->width && tot->has[k]) {
			fprintf(f, "%c%d %.1f L%d %.1f ", pen ? 'L' : 'M', fr->left + k, svg_y(fr, tot->hi[k]),
				fr->left + k + 1, svg_y(fr, tot->hi[k]));
			pen++;
			continue;
		}
		/* back along the lows of the stretch just drawn */
		for (int j = k - 1; pen && j >= k - pen; j--)
			fprintf(f, "L%d %.1f L%d %.1f ", fr->left + j + 1, svg_y(fr, tot->lo[j]), fr->left + j,
				svg_y(fr, tot->lo[j]));
		if (pen)
			fputs("Z ", f);
		pen = 0;
	}
}

/* VmSize's own scale (the right axis). */
struct vm_scale {
	double div, step, top;
	const char *unit;
};

/* VmSize on its own scale, the right axis: round ticks of its unit at the
 * left axis's quarters. */
static void svg_vmsize(FILE *f, const struct svg_frame *fr, const struct columns *vms, double vmax,
		       struct vm_scale *vs)
{
	/* VmSize on its own scale, the right axis: round ticks of its
	 * unit at the left axis's quarters */
	double sc;

	size_unit(vmax, &vs->div, &vs->unit);
	vs->step = nice_step(vmax * 1.08 / vs->div, 4);
	vs->top = ceil(vmax * 1.08 / vs->div / vs->step) * vs->step;
	sc = fr->y1 / (vs->top * vs->div);

	fputs("<path class=\"vmsize\" fill=\"none\" stroke=\"#76b7b2\" stroke-width=\"1.2\" "
	      "stroke-dasharray=\"2 2\"", f);
	step_path(f, fr, vms, vms->hi, 1, sc, false);
	fputs("/>\n", f);
}

/* Guard and alert thresholds, marks. */
static void svg_lines(struct report *r, FILE *f, const struct svg_frame *fr, uint64_t x0)
{
	char a[64];

	for (size_t i = 0; i < r->nthr; i++) {
		const struct rep_threshold *t = &r->thr[i];
		double y = svg_y(fr, (double)t->limit_kb);

		fprintf(f, "<line class=\"threshold\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" "
			"stroke=\"%s\" stroke-dasharray=\"6 3\"/><text x=\"%d\" y=\"%.1f\" font-size=\"10\" "
			"fill=\"%s\">%s %s</text>\n", fr->left, fr->left + fr->width, y, y,
			t->guard ? "#c00" : "#e68a00", fr->left + 4, y - 3, t->guard ? "#c00" : "#e68a00",
			t->guard ? "--kill-at" : "alert", rep_size(t->limit_kb, a, sizeof(a)));
	}
	for (size_t i = 0; i < r->nmarks && i < 2000; i++) {
		double x = svg_x(fr, secs_since(r->marks[i].ts, x0));

		fprintf(f, "<line class=\"mark\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#555\">"
			"<title>", x, x, fr->top + 6, fr->top + 14);
		html_text(f, r->marks[i].name);
		fputs("</title></line>\n", f);
	}
}

/* The exact peak. */
static void svg_peak(struct report *r, FILE *f, const struct svg_frame *fr, uint64_t x0)
{
	char a[64];
	double px = svg_x(fr, secs_since(r->peak_ts, x0)), py = svg_y(fr, (double)r->peak_kb);
	bool right = px > fr->left + fr->width * 0.7;

	fprintf(f, "<g id=\"peak\" data-kb=\"%" PRId64 "\" data-time-s=\"%.9f\">"
		"<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#c00\"/>"
		"<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"#c00\" text-anchor=\"%s\">peak %s "
		"at %.6f s</text></g>\n", r->peak_kb, secs_since(r->peak_ts, r->t0), px, py,
		px + (right ? -8 : 8), py < fr->top + 14 ? py + 14 : py - 6, right ? "end" : "start",
		rep_size(r->peak_kb, a, sizeof(a)), secs_since(r->peak_ts, r->t0));
}

/* VmSize's axis, on the right. */
static void svg_vmsize_axis(FILE *f, const struct svg_frame *fr, const struct vm_scale *vs)
{
	fprintf(f, "<g font-size=\"11\" fill=\"#3a8a84\">");
	for (double v = 0; v <= vs->top + vs->step * 1e-9; v += vs->step)
		fprintf(f, "<text x=\"%d\" y=\"%.1f\">%g</text>", fr->left + fr->width + 6,
			svg_y(fr, fr->y1 * v / vs->top) + 4, v);
	fprintf(f, "<text transform=\"translate(%d,%d) rotate(90)\" text-anchor=\"middle\">VmSize "
		"(%s)</text></g>\n", fr->left + fr->width + 56, fr->top + fr->height / 2, vs->unit);
}

/* The legend, under the plot. */
static void svg_legend(struct report *r, FILE *f, int left, int height, bool vm, bool swap,
		       bool spikes)
{
	struct { const char *col, *name; bool on; } lg[] = {
		{ "#1f4e79", "total RSS (column min-max)", true },
		{ "#9ecae1", "anon", r->has_parts }, { "#c7e9c0", "file", r->has_parts },
		{ "#fdd0a2", "shmem", r->has_parts },
		{ "#f28e2b", "10 ms poller", true }, { "#76b7b2", "VmSize", vm },
		{ "#b07aa1", "swap", swap }, { "#e15759", "spikes", spikes },
	};
	int x = left;

	fputs("<g class=\"legend\" font-size=\"11\">", f);
	for (size_t i = 0; i < sizeof(lg) / sizeof(lg[0]); i++) {
		if (!lg[i].on)
			continue;
		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>"
			"<text x=\"%d\" y=\"%d\">%s</text>", x, height - 16, lg[i].col, x + 14,
			height - 7, lg[i].name);
		x += 26 + (int)strlen(lg[i].name) * 7;
	}
	fputs("</g>\n", f);
}

int report__svg(struct report *r, FILE *f, int width, int height)
{
	struct svg_frame fr = { .left = 80, .top = 56, .width = width - 80 - 80,
				.height = height - 56 - 58 };
	uint64_t x0 = r->first_ts, x1 = r->last_ts > r->first_ts ? r->last_ts : r->first_ts + 1000000;
	struct columns tot = { 0 }, vms = { 0 }, swp = { 0 }, pol = { 0 };
	double ymax = (double)r->peak_kb, vmax = 0;
	struct vm_scale vs = { 1, 1, 1, "MiB" };
	const char *unit;
	char a[64], yl[64];
	size_t nsp = spikes__kept(r->spikes);
	double ystep;
	int e;

	if (fr.width < 100 || fr.height < 60)
		return -EINVAL;
	e = columns_of(&r->s[S_TOTAL], x0, x1 + 1, fr.width, &tot);
	if (!e)
		e = columns_of(&r->s[S_POLL0], x0, x1 + 1, fr.width, &pol);
	if (!e && r->has_vmsize)
		e = columns_of(&r->s[S_VMSIZE], x0, x1 + 1, fr.width, &vms);
	if (!e && r->has_swap)
		e = columns_of(&r->s[S_SWAP], x0, x1 + 1, fr.width, &swp);
	if (e)
		goto out;
	for (int k = 0; k < fr.width; k++) {
		if (swp.n && swp.has[k] && swp.hi[k] > ymax)
			ymax = swp.hi[k];
		if (vms.n && vms.has[k] && vms.hi[k] > vmax)
			vmax = vms.hi[k];
	}
	for (size_t i = 0; i < r->nthr; i++)
		if ((double)r->thr[i].limit_kb > ymax && (double)r->thr[i].limit_kb < 2 * ymax)
			ymax = (double)r->thr[i].limit_kb;
	if (ymax <= 0)
		ymax = 1024;
	size_unit(ymax, &fr.ydiv, &unit);
	fr.x0 = 0;
	fr.x1 = (double)(x1 - x0) / 1e9;
	fr.y0 = 0;
	ystep = nice_step(ymax * 1.08 / fr.ydiv, 6);
	fr.y1 = ceil(ymax * 1.08 / fr.ydiv / ystep) * ystep * fr.ydiv;
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		"font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" data-peak-kb=\"%" PRId64 "\">\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n<title>", width, height,
		width, height, r->peak_kb);
	html_text(f, r->title);
	fputs("</title>\n<text x=\"80\" y=\"22\" font-size=\"15\" font-weight=\"bold\">", f);
	html_text(f, r->title);
	fprintf(f, "</text>\n<text x=\"80\" y=\"40\" font-size=\"11\" fill=\"#555\">exact RSS of %s, "
		"%" PRIu64 " rows, %s; each pixel column: the lowest and highest value in it</text>\n",
		r->tree ? "the traced tree" : "the process", r->rows,
		format_duration(x1 - x0, a, sizeof(a)));
	snprintf(yl, sizeof(yl), "RSS (%s)", unit);
	svg_axes(f, &fr, "time (s)", yl);
	fprintf(f, "<clipPath id=\"plot\"><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/></clipPath>\n"
		"<g clip-path=\"url(#plot)\">\n", fr.left, fr.top, fr.width, fr.height);
	svg_backdrops(r, f, &fr, x0, nsp);
	if (r->has_parts && (e = svg_parts(f, &fr, &tot)))
		goto out;
	svg_minmax(f, &fr, &tot);
	fputs("\"/>\n<path class=\"total\" fill=\"none\" stroke=\"#1f4e79\" stroke-width=\"1.2\"", f);
	step_path(f, &fr, &tot, tot.hi, 1, 1, false);
	fputs("/>\n<path class=\"poll\" fill=\"none\" stroke=\"#f28e2b\" stroke-width=\"1.2\" "
	      "stroke-dasharray=\"4 2\"", f);
	step_path(f, &fr, &pol, pol.hi, 1, 1, false);
	fputs("/>\n", f);
	if (swp.n) {
		fputs("<path class=\"swap\" fill=\"none\" stroke=\"#b07aa1\" stroke-width=\"1.2\"", f);
		step_path(f, &fr, &swp, swp.hi, 1, 1, false);
		fputs("/>\n", f);
	}
	if (vms.n && vmax > 0)
		svg_vmsize(f, &fr, &vms, vmax, &vs);
	svg_lines(r, f, &fr, x0);
	fputs("</g>\n", f);
	svg_peak(r, f, &fr, x0);
	if (vms.n && vmax > 0)
		svg_vmsize_axis(f, &fr, &vs);
	svg_legend(r, f, fr.left, height, vms.n && vmax > 0, swp.n > 0, nsp > 0);
	fputs("</svg>\n", f);
	if (ferror(f))
		e = -EIO;
out:
	columns_free(&tot);
	columns_free(&vms);
	columns_free(&swp);
	columns_free(&pol);
	return e;
}
