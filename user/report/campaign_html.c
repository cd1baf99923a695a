// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A campaign's page: per configuration its statistics (analysis/stats.h,
 * as campaign report prints them), the distribution of its peaks (each
 * run a dot, a box over the runs that exited 0) and its runs' timelines
 * overlaid from their start; then every run, its status flagged, linked
 * to its own page. Static SVG in HTML: no script needed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "analysis/stats.h"
#include "lib/units.h"
#include "report/assets.h"
#include "report/model.h"

static const char *const run_colors[] = { "#4e79a7", "#59a14f", "#9c755f", "#76b7b2",
					  "#b07aa1", "#edc948", "#ff9da7", "#bab0ac" };

static bool flagged(const struct campaign_run *r)
{
	return strcmp(r->res.status, "ok") != 0;
}

/* A path component as a URL path segment (RFC 3986 unreserved kept). */
static void url_part(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~')
			fputc(c, f);
		else
			fprintf(f, "%%%02X", c);
	}
}

static void run_href(FILE *f, const struct campaign_run *r, const char *file)
{
	url_part(f, r->res.config);
	fprintf(f, "/%d/", r->res.repeat);
	url_part(f, file);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The value at quantile q of sorted v[0..n) (linear between points). */
static double quantile(const double *v, int n, double q)
{
	double p = q * (n - 1);
	int i = (int)floor(p);

	if (i + 1 >= n)
		return v[n - 1];
	return v[i] + (p - i) * (v[i + 1] - v[i]);
}

static void stats_table(FILE *f, const struct config_stats *st, int nst)
{
	char a[32];

	fputs("<table class=\"grid\" id=\"config-table\"><thead><tr><th>config</th><th>runs</th>"
	      "<th>failed</th><th>peak: mean</th><th>std (n-1)</th><th>CV %</th><th>min</th>"
	      "<th>max</th><th>baseline: mean</th><th>time s: mean</th><th>CV %</th></tr></thead>"
	      "<tbody>\n", f);
	for (int i = 0; i < nst; i++) {
		const struct config_stats *s = &st[i];

		fputs("<tr><td>", f);
		html_text(f, s->config);
		fprintf(f, "</td><td>%d</td><td>%s%d%s</td>", s->runs, s->failed ? "<b class=\"bad\">" : "",
			s->failed, s->failed ? "</b>" : "");
		if (!s->runs) {
			fputs("<td colspan=\"8\">no run exited 0</td></tr>\n", f);
			continue;
		}
		fprintf(f, "<td>%s</td>", rep_size((int64_t)s->mean_peak_kb, a, sizeof(a)));
		fprintf(f, "<td>%s</td><td>%.2f</td>", rep_size((int64_t)s->std_peak_kb, a, sizeof(a)),
			s->cv_peak_pct);
		fprintf(f, "<td>%s</td>", rep_size((int64_t)s->min_peak_kb, a, sizeof(a)));
		fprintf(f, "<td>%s</td>", rep_size((int64_t)s->max_peak_kb, a, sizeof(a)));
		if (s->baseline_runs)
			fprintf(f, "<td>%s</td>", rep_size((int64_t)s->mean_base_kb, a, sizeof(a)));
		else
			fputs("<td>-</td>", f);
		fprintf(f, "<td>%.3f</td><td>%.2f</td></tr>\n", s->mean_dur_s, s->cv_dur_pct);
	}
	fputs("</tbody></table>\n<p class=\"hint\">Statistics over the runs that exited 0; std is "
	      "the sample standard deviation (n-1); baseline: the median RSS over each run's last "
	      "tenth.</p>\n", f);
}

/* Each configuration a column: a dot per run (flagged ones red, hollow),
 * a box (quartiles, median) and whiskers (min, max) over those that
 * exited 0. */
static int peaks_plot(FILE *f, const struct campaign_run *runs, size_t n,
		      const struct config_stats *st, int nst)
{
	int colw = nst > 12 ? 60 : 100, width = 90 + nst * colw + 30, height = 300;
	struct svg_frame fr = { .left = 80, .top = 16, .width = nst * colw, .height = 250,
				.xcat = true };
	double ymax = 0, *v = malloc((n ? n : 1) * sizeof(double));
	const char *unit;
	char yl[32];

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if ((double)runs[i].res.peak_rss_kb > ymax)
			ymax = (double)runs[i].res.peak_rss_kb;
	if (ymax <= 0)
		ymax = 1024;
	size_unit(ymax, &fr.ydiv, &unit);
	fr.y0 = 0;
	fr.y1 = ymax * 1.1;
	fr.x0 = 0;
	fr.x1 = nst;
	fprintf(f, "<svg class=\"plot\" id=\"peaks-plot\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, sans-serif\">\n", width,
		height, width, height);
	snprintf(yl, sizeof(yl), "peak RSS (%s)", unit);
	svg_axes(f, &fr, "", yl);
	for (int c = 0; c < nst; c++) {
		double cx = fr.left + (c + 0.5) * colw;
		int m = 0, k = 0;

		for (size_t i = 0; i < n; i++)
			if (!strcmp(runs[i].res.config, st[c].config) && runs[i].res.exit_code == 0)
				v[m++] = (double)runs[i].res.peak_rss_kb;
		if (m) {
			double q1, med, q3;

			qsort(v, (size_t)m, sizeof(double), cmp_double);
			q1 = quantile(v, m, 0.25);
			med = quantile(v, m, 0.5);
			q3 = quantile(v, m, 0.75);
			fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#888\"/>"
				"<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"#dde7f1\" "
				"stroke=\"#4e79a7\"/><line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
				"stroke=\"#1f4e79\" stroke-width=\"2\"/>\n", cx, cx, svg_y(&fr, v[0]),
				svg_y(&fr, v[m - 1]), cx - colw * 0.25, svg_y(&fr, q3), colw / 2,
				svg_y(&fr, q1) - svg_y(&fr, q3) < 1 ? 1 : svg_y(&fr, q1) - svg_y(&fr, q3),
				cx - colw * 0.25, cx + colw * 0.25, svg_y(&fr, med), svg_y(&fr, med));
		}
		for (size_t i = 0; i < n; i++) {
			const struct campaign_run *r = &runs[i];
			double jx = cx + ((k++ % 7) - 3) * colw * 0.045;
			char a[32];

			if (strcmp(r->res.config, st[c].config))
				continue;
			fprintf(f, "<circle class=\"run%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\" "
				"stroke=\"%s\"><title>", flagged(r) ? " flagged" : "", jx,
				svg_y(&fr, (double)r->res.peak_rss_kb), flagged(r) ? "none" : "#1f4e79",
				flagged(r) ? "#c00" : "#1f4e79");
			html_text(f, r->res.config);
			fprintf(f, " #%d: %s, peak %s</title></circle>\n", r->res.repeat, r->res.status,
				rep_size((int64_t)r->res.peak_rss_kb, a, sizeof(a)));
		}
		fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">", cx,
			fr.top + fr.height + 16);
		html_text(f, st[c].config);
		fputs("</text>\n", f);
	}
	fputs("</svg>\n", f);
	free(v);
	return 0;
}

/* The runs of one configuration, overlaid from their first row: each
 * run's band between its buckets' lowest and highest, its top as a line. */
static void timelines_plot(FILE *f, const struct campaign_run *runs, size_t n, const char *config,
			   int idx)
{
	struct svg_frame fr = { .left = 80, .top = 12, .width = 620, .height = 190 };
	double xmax = 0, ymax = 0;
	const char *unit;
	char yl[32];
	int k = 0;

	for (size_t i = 0; i < n; i++) {
		const struct campaign_run *r = &runs[i];

		if (strcmp(r->res.config, config) || !r->lo)
			continue;
		if (r->n * (double)r->w / 1e9 > xmax)
			xmax = r->n * (double)r->w / 1e9;
		for (size_t j = 0; j < r->n; j++)
			if ((double)r->hi[j] > ymax)
				ymax = (double)r->hi[j];
	}
	if (ymax <= 0)
		return;
	size_unit(ymax, &fr.ydiv, &unit);
	fr.x1 = xmax > 0 ? xmax : 1;
	fr.y1 = ymax * 1.08;
	fprintf(f, "<svg class=\"plot timelines\" id=\"timelines-%d\" xmlns=\"http://www.w3.org/2000/svg\" "
		"width=\"760\" height=\"250\" viewBox=\"0 0 760 250\" font-family=\"DejaVu Sans, "
		"sans-serif\">\n", idx);
	snprintf(yl, sizeof(yl), "RSS (%s)", unit);
	svg_axes(f, &fr, "time since the run's first row (s)", yl);
	for (size_t i = 0; i < n; i++) {
		const struct campaign_run *r = &runs[i];
		const char *col = flagged(r) ? "#c00" : run_colors[k % 8];
		bool pen = false;

		if (strcmp(r->res.config, config) || !r->lo)
			continue;
		k++;
		fprintf(f, "<g class=\"timeline\"><title>#%d: %s</title><path fill=\"%s\" fill-opacity=\"0.25\" "
			"stroke=\"none\" d=\"", r->res.repeat, r->res.status, col);
		/* the band: along the highs, back along the lows */
		for (size_t j = 0; j < r->n; j++) {
			if (r->hi[j] < 0)
				continue;
			fprintf(f, "%c%.1f %.1f ", pen ? 'L' : 'M', svg_x(&fr, j * (double)r->w / 1e9),
				svg_y(&fr, (double)r->hi[j]));
			pen = true;
		}
		for (size_t j = r->n; pen && j-- > 0;)
			if (r->lo[j] >= 0)
				fprintf(f, "L%.1f %.1f ", svg_x(&fr, (j + 1) * (double)r->w / 1e9),
					svg_y(&fr, (double)r->lo[j]));
		fprintf(f, "%s\"/><path fill=\"none\" stroke=\"%s\" stroke-width=\"1.2\"%s d=\"",
			pen ? "Z" : "", col, flagged(r) ? " stroke-dasharray=\"4 2\"" : "");
		pen = false;
		for (size_t j = 0; j < r->n; j++) {
			if (r->hi[j] < 0) {
				pen = false;
				continue;
			}
			fprintf(f, "%c%.1f %.1f L%.1f %.1f ", pen ? 'L' : 'M',
				svg_x(&fr, j * (double)r->w / 1e9), svg_y(&fr, (double)r->hi[j]),
				svg_x(&fr, (j + 1) * (double)r->w / 1e9), svg_y(&fr, (double)r->hi[j]));
			pen = true;
		}
		fputs("\"/></g>\n", f);
	}
	fputs("</svg>\n", f);
}

static void runs_table(FILE *f, const struct campaign_run *runs, size_t n)
{
	char a[32], b[32];

	fputs("<table class=\"grid\" id=\"run-table\"><thead><tr><th>#</th><th>config</th>"
	      "<th>repeat</th><th>status</th><th>exit</th><th>peak</th><th>peak at s</th>"
	      "<th>time s</th><th>baseline</th><th>spikes</th><th>lost</th><th>started (UTC)</th>"
	      "<th>report</th><th>trace</th></tr></thead><tbody>\n", f);
	for (size_t i = 0; i < n; i++) {
		const struct campaign_run *r = &runs[i];

		fprintf(f, "<tr class=\"run\" data-status=\"%s\"><td>%d</td><td>", r->res.status,
			r->res.index + 1);
		html_text(f, r->res.config);
		fprintf(f, "</td><td>%d</td><td><span class=\"status %s\">", r->res.repeat,
			flagged(r) ? "flag" : "ok");
		html_text(f, r->res.status);
		fprintf(f, "</span></td><td>%d</td><td>%s</td><td>%.3f</td><td>%.3f</td><td>%s</td>"
			"<td>%" PRIu64 "</td><td>%s%" PRIu64 "%s</td><td>", r->res.exit_code,
			rep_size((int64_t)r->res.peak_rss_kb, a, sizeof(a)), r->res.peak_time_s,
			r->res.duration_s, r->res.baseline_kb >= 0 ? rep_size(r->res.baseline_kb, b, sizeof(b)) : "-",
			r->res.spikes, r->res.lost_events ? "<b class=\"bad\">" : "", r->res.lost_events,
			r->res.lost_events ? "</b>" : "");
		html_text(f, r->res.start_time);
		fputs("</td><td>", f);
		if (r->report[0]) {
			fputs("<a class=\"report\" href=\"", f);
			run_href(f, r, r->report);
			fputs("\">page</a>", f);
		} else if (r->err[0]) {
			fputs("<span class=\"bad\" title=\"", f);
			html_text(f, r->err);
			fputs("\">none</span>", f);
		}
		fputs("</td><td>", f);
		if (r->have_trace) {
			fputs("<a href=\"", f);
			run_href(f, r, r->trace_name);
			fputs("\">", f);
			html_text(f, r->trace_name);
			fputs("</a>", f);
		}
		fputs("</td></tr>\n", f);
	}
	fputs("</tbody></table>\n", f);
}

int campaign_html(FILE *f, const char *dir, const struct campaign_run *runs, size_t n,
		  const char *version)
{
	struct run_result *res = malloc((n ? n : 1) * sizeof(*res));
	struct config_stats *st = NULL;
	size_t nflag = 0;
	int nst, e = 0;

	if (!res)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		res[i] = runs[i].res;
		nflag += flagged(&runs[i]);
	}
	nst = stats_by_config(res, (int)n, &st);
	free(res);
	if (nst < 0)
		return nst;
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>", f);
	html_text(f, dir);
	fputs(" - memtrace-bpf campaign</title>\n<style>\n", f);
	fwrite(ASSET(report_css), 1, ASSET_LEN(report_css), f);
	fputs("</style></head>\n<body>\n<header><h1>Campaign ", f);
	html_text(f, dir);
	fprintf(f, "</h1><p class=\"sub\">%zu finished run%s, %d configuration%s%s</p></header>\n", n,
		n == 1 ? "" : "s", nst, nst == 1 ? "" : "s", nflag ? "" : "; every run ok");
	if (nflag)
		fprintf(f, "<p class=\"bad\" id=\"flagged\">%zu run%s did not end ok (failed, killed, "
			"over --max-peak, stopped by --kill-at or --timeout, or could not run): flagged "
			"in red below.</p>\n", nflag, nflag == 1 ? "" : "s");
	fputs("<section id=\"configs\"><h2>Per configuration</h2>\n", f);
	stats_table(f, st, nst);
	fputs("<h3>Peaks</h3>\n", f);
	if (n)
		e = peaks_plot(f, runs, n, st, nst);
	fputs("<p class=\"hint\">Each dot a run (red rings: runs that did not end ok); the box: the "
	      "quartiles and median of the runs that exited 0, the whiskers their lowest and "
	      "highest.</p>\n", f);
	for (int c = 0; c < nst && !e; c++) {
		fputs("<h3>Timelines: ", f);
		html_text(f, st[c].config);
		fputs("</h3>\n", f);
		timelines_plot(f, runs, n, st[c].config, c);
	}
	fputs("</section>\n<section id=\"runs\"><h2>Runs</h2>\n", f);
	runs_table(f, runs, n);
	fputs("</section>\n<footer>Made by <code>memtrace-bpf campaign report --html</code>", f);
	if (version) {
		fputc(' ', f);
		html_text(f, version);
	}
	fputs(". Self-contained: no network needed.</footer>\n</body></html>\n", f);
	free(st);
	if (!e && ferror(f))
		e = -EIO;
	return e;
}

#define OVERVIEW_BUCKETS 600

static const char *const trace_names[] = { "trace.csv.zst", "trace.csv.gz", "trace.csv" };

int campaign_run__load(struct campaign_run *cr, const char *rundir, bool rewrite,
		       const char *version)
{
	char trace[4096], sum[4096], page[4096];
	struct report_opts o = { .trace = trace, .summary = sum, .version = version };
	struct report *r = NULL;
	struct stat st;
	int e;

	cr->report[0] = cr->err[0] = 0;
	cr->lo = cr->hi = NULL;
	cr->n = 0;
	snprintf(sum, sizeof(sum), "%s/summary.json", rundir);
	snprintf(page, sizeof(page), "%s/trace.html", rundir);
	/* the run's trace in whichever --trace-format the campaign used */
	cr->have_trace = false;
	for (size_t k = 0; k < sizeof(trace_names) / sizeof(trace_names[0]) && !cr->have_trace;
	     k++) {
		snprintf(trace, sizeof(trace), "%s/%s", rundir, trace_names[k]);
		snprintf(cr->trace_name, sizeof(cr->trace_name), "%s", trace_names[k]);
		cr->have_trace = !stat(trace, &st) && S_ISREG(st.st_mode);
	}
	if (!cr->have_trace) {
		snprintf(cr->err, sizeof(cr->err), "no trace.csv.zst, trace.csv.gz or trace.csv");
		return -ENOENT;
	}
	e = report__read(&r, &o, cr->err, sizeof(cr->err));
	if (e)
		return e;
	cr->lo = malloc(OVERVIEW_BUCKETS * sizeof(int64_t));
	cr->hi = malloc(OVERVIEW_BUCKETS * sizeof(int64_t));
	if (!cr->lo || !cr->hi) {
		e = -ENOMEM;
		snprintf(cr->err, sizeof(cr->err), "out of memory");
		goto out;
	}
	cr->n = report__overview(r, OVERVIEW_BUCKETS, cr->lo, cr->hi, &cr->w);
	if (!rewrite && !stat(page, &st) && S_ISREG(st.st_mode)) {
		snprintf(cr->report, sizeof(cr->report), "trace.html");
		goto out;
	}
	e = report__write_file(r, REPORT_HTML, AT_FDCWD, page, cr->err, sizeof(cr->err));
	if (!e)
		snprintf(cr->report, sizeof(cr->report), "trace.html");
out:
	report__free(r);
	return e;
}

void campaign_run__free(struct campaign_run *cr)
{
	free(cr->lo);
	free(cr->hi);
	cr->lo = cr->hi = NULL;
}
