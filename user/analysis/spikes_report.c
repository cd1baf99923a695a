// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <inttypes.h>
#include <string.h>
#include "analysis/spikes_report.h"
#include "lib/units.h"

char *period_name(uint64_t ns, char *buf, size_t len)
{
	if (ns % 1000000000ULL == 0)
		snprintf(buf, len, "%" PRIu64 "s", (uint64_t)(ns / 1000000000ULL));
	else if (ns % 1000000ULL == 0)
		snprintf(buf, len, "%" PRIu64 "ms", (uint64_t)(ns / 1000000ULL));
	else if (ns % 1000ULL == 0)
		snprintf(buf, len, "%" PRIu64 "us", (uint64_t)(ns / 1000ULL));
	else
		snprintf(buf, len, "%" PRIu64 "ns", ns);
	return buf;
}

static double rate_mb_s(const struct spike *sp)
{
	uint64_t up = sp->peak_ts - sp->start_ts;

	/* a rise inside one event (a huge page) has no measurable duration */
	return up ? (sp->peak_kb - sp->base_kb) / 1024.0 / (up / 1e9) : 0;
}

void spikes_report_table(FILE *f, struct spikes *s, uint64_t t0, size_t top)
{
	const struct spikes_cfg *c = spikes__cfg(s);
	size_t n = spikes__count(s), kept = spikes__kept(s);
	size_t shown = top && top < kept ? top : kept;
	char a[32], b[32], d[32], e[32], pn[16];

	if (!n) {
		fprintf(f, "No spikes of %s or more.\n", format_kb(c->min_rise_kb, a, sizeof(a)));
		return;
	}
	fprintf(f, "%-7s %-7s %11s %11s %11s %10s %10s %10s %7s %5s %6s %4s %7s",
		"pid", "depth", "start_s", "rise", "peak", "duration", "to peak", "MB/s",
		"faults", "mmap", "munmap", "brk", "madvise");
	for (int k = 0; k < c->npoll; k++) {
		char h[24];

		snprintf(h, sizeof(h), "p(%s)", period_name(c->poll_ns[k], pn, sizeof(pn)));
		fprintf(f, " %8s", h);
	}
	fputc('\n', f);
	for (size_t i = 0; i < shown; i++) {
		const struct spike *sp = spikes__get(s, i);

		fprintf(f, "%-7d %-7u %11.6f %11s %11s %10s %10s %10.0f %7" PRIu64 " %5" PRIu64
			" %6" PRIu64 " %4" PRIu64 " %7" PRIu64,
			sp->pid, sp->depth, secs_since(sp->start_ts, t0),
			format_kb(sp->peak_kb - sp->base_kb, a, sizeof(a)), format_kb(sp->peak_kb, b, sizeof(b)),
			format_duration(sp->end_ts - sp->start_ts, d, sizeof(d)),
			format_duration(sp->peak_ts - sp->start_ts, e, sizeof(e)), rate_mb_s(sp),
			sp->events[SEV_FAULT], sp->events[SEV_MMAP], sp->events[SEV_MUNMAP],
			sp->events[SEV_BRK], sp->events[SEV_MADVISE]);
		for (int k = 0; k < c->npoll; k++)
			fprintf(f, " %7.0f%%", 100 * spike_catch_prob(sp, c->poll_ns[k]));
		fputc('\n', f);
	}
	if (shown < n)
		fprintf(f, "(%zu more; --top 0 or --format json for all)\n", n - shown);
}

void spikes_report_growth(FILE *f, struct spikes *s, uint64_t t0)
{
	char a[32], b[32];

	fprintf(f, "Growth (the floor under the transients, over each process's working phase:\n"
		"after its start-up, before its teardown):\n");
	for (size_t i = 0; i < spikes__npids(s); i++) {
		const struct pid_report *p = spikes__pid(s, i);
		const struct growth *g = &p->growth;

		if (!g->enough) {
			fprintf(f, "  pid %-7d too short to say (traced for %s; a working phase of "
				"%s is needed)\n", p->pid,
				format_duration(p->last_ts - p->first_ts, a, sizeof(a)),
				format_duration(GROWTH_MIN_NS, b, sizeof(b)));
			continue;
		}
		fprintf(f, "  pid %-7d %-8s %s -> %s (%+.1f MiB, %+.0f kB/s) from %.3f s to %.3f s\n",
			p->pid, growth_verdict_name(g->verdict),
			format_kb(g->envelope_start_kb, a, sizeof(a)),
			format_kb(g->envelope_end_kb, b, sizeof(b)), g->growth_kb / 1024.0, g->slope_kb_s,
			secs_since(p->first_ts + g->startup_end_ns, t0),
			secs_since(p->first_ts + g->teardown_start_ns, t0));
	}
}

void spikes_report_polling(FILE *f, struct spikes *s, uint64_t t0)
{
	char a[32], b[32], c[32], d[32], pn[16];

	if (!spikes__cfg(s)->npoll)
		return;
	fprintf(f, "What a /proc poller would have reported as the peak (over %d phases):\n",
		SPIKES_PHASES);
	for (size_t i = 0; i < spikes__npids(s); i++) {
		const struct pid_report *p = spikes__pid(s, i);

		fprintf(f, "  pid %-7d true peak %s at %.6f s\n", p->pid, format_kb(p->peak_kb, a, sizeof(a)),
			secs_since(p->peak_ts, t0));
		fprintf(f, "    %-8s %11s %11s %11s  %s\n", "period", "best", "worst", "expected",
			"error of expected");
		for (int k = 0; k < p->npoll; k++) {
			const struct poll_result *r = &p->poll[k];
			double err = r->expected_kb - (double)p->peak_kb;

			fprintf(f, "    %-8s %11s %11s %11s  %s (%.1f%%)\n",
				period_name(r->period_ns, pn, sizeof(pn)),
				format_kb(r->best_kb, a, sizeof(a)), format_kb(r->worst_kb, b, sizeof(b)),
				format_kb((int64_t)r->expected_kb, c, sizeof(c)), format_kb((int64_t)err, d, sizeof(d)),
				p->peak_kb ? 100.0 * err / (double)p->peak_kb : 0.0);
		}
	}
}

void spikes_report_json(struct jw *w, struct spikes *s, uint64_t t0, size_t top)
{
	const struct spikes_cfg *c = spikes__cfg(s);
	size_t n = spikes__kept(s);
	char pn[16];

	if (top && top < n)
		n = top;
	jw_str(w, "rule", c->window_ns ? "window" : "transient");
	jw_i64(w, "min_rise_kb", c->min_rise_kb);
	if (c->window_ns)
		jw_f64(w, "window_s", c->window_ns / 1e9, 9);
	else if (c->settle_kb > 0)
		jw_i64(w, "settle_kb", c->settle_kb);
	else
		jw_f64(w, "settle_percent", c->settle_pct, 1);
	jw_u64(w, "spike_count", spikes__count(s));
	jw_arr(w, "spikes");
	for (size_t i = 0; i < n; i++) {
		const struct spike *sp = spikes__get(s, i);

		jw_obj(w, NULL);
		jw_i64(w, "pid", sp->pid);
		jw_u64(w, "depth", sp->depth);
		jw_f64(w, "start_time_s", secs_since(sp->start_ts, t0), 9);
		jw_u64(w, "start_ts_ns", sp->start_ts);
		jw_f64(w, "peak_time_s", secs_since(sp->peak_ts, t0), 9);
		jw_u64(w, "peak_ts_ns", sp->peak_ts);
		jw_f64(w, "end_time_s", secs_since(sp->end_ts, t0), 9);
		jw_u64(w, "end_ts_ns", sp->end_ts);
		jw_bool(w, "window_exact", !sp->approx);
		jw_i64(w, "base_kb", sp->base_kb);
		jw_i64(w, "peak_kb", sp->peak_kb);
		jw_i64(w, "end_kb", sp->end_kb);
		jw_i64(w, "rise_kb", sp->peak_kb - sp->base_kb);
		jw_f64(w, "duration_ms", (sp->end_ts - sp->start_ts) / 1e6, 6);
		jw_f64(w, "time_to_peak_ms", (sp->peak_ts - sp->start_ts) / 1e6, 6);
		jw_f64(w, "rate_mb_s", rate_mb_s(sp), 1);
		jw_obj(w, "events");
		jw_u64(w, "faults", sp->events[SEV_FAULT]);
		jw_u64(w, "mmap", sp->events[SEV_MMAP]);
		jw_u64(w, "munmap", sp->events[SEV_MUNMAP]);
		jw_u64(w, "mremap", sp->events[SEV_MREMAP]);
		jw_u64(w, "brk", sp->events[SEV_BRK]);
		jw_u64(w, "madvise", sp->events[SEV_MADVISE]);
		jw_obj_end(w);
		jw_obj(w, "catch_probability");
		for (int k = 0; k < c->npoll; k++)
			jw_f64(w, period_name(c->poll_ns[k], pn, sizeof(pn)),
			       spike_catch_prob(sp, c->poll_ns[k]), 4);
		jw_obj_end(w);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_arr(w, "process_analysis");
	for (size_t i = 0; i < spikes__npids(s); i++) {
		const struct pid_report *p = spikes__pid(s, i);

		jw_obj(w, NULL);
		jw_i64(w, "pid", p->pid);
		jw_i64(w, "peak_kb", p->peak_kb);
		jw_u64(w, "peak_ts_ns", p->peak_ts);
		jw_obj(w, "growth");
		jw_str(w, "verdict", growth_verdict_name(p->growth.verdict));
		if (p->growth.enough) {
			jw_f64(w, "slope_kb_s", p->growth.slope_kb_s, 3);
			jw_i64(w, "envelope_start_kb", p->growth.envelope_start_kb);
			jw_i64(w, "envelope_end_kb", p->growth.envelope_end_kb);
			jw_i64(w, "growth_kb", p->growth.growth_kb);
			jw_bool(w, "likely_leak", p->growth.leak);
		} else {
			/* the same keys whatever the data: null when too few */
			jw_null(w, "slope_kb_s");
			jw_null(w, "envelope_start_kb");
			jw_null(w, "envelope_end_kb");
			jw_null(w, "growth_kb");
			jw_bool(w, "likely_leak", false);
		}
		jw_f64(w, "working_start_s", secs_since(p->first_ts + p->growth.startup_end_ns, t0), 6);
		jw_f64(w, "working_end_s", secs_since(p->first_ts + p->growth.teardown_start_ns, t0), 6);
		jw_obj_end(w);
		jw_arr(w, "polling");
		for (int k = 0; k < p->npoll; k++) {
			const struct poll_result *r = &p->poll[k];

			jw_obj(w, NULL);
			jw_str(w, "period", period_name(r->period_ns, pn, sizeof(pn)));
			jw_i64(w, "best_peak_kb", r->best_kb);
			jw_i64(w, "worst_peak_kb", r->worst_kb);
			jw_f64(w, "expected_peak_kb", r->expected_kb, 1);
			jw_f64(w, "error_kb", r->expected_kb - (double)p->peak_kb, 1);
			jw_f64(w, "error_percent", p->peak_kb ?
			       100.0 * (r->expected_kb - (double)p->peak_kb) / (double)p->peak_kb : 0.0, 2);
			jw_obj_end(w);
		}
		jw_arr_end(w);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}
