// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Stages as a table and as JSON. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "analysis/stages_report.h"
#include "format/json.h"
#include "format/text.h"
#include "lib/units.h"

static const char *end_name(uint8_t end)
{
	return end == STAGE_END_EXIT ? "exit" : end == STAGE_END_TRACE ? "trace_end" : "mark";
}

int stages_report_json(FILE *out, const struct stages *s, const char *trace, uint64_t t0)
{
	struct jw w;
	int e = 0;

	jw_begin(&w, out);
	jw_obj(&w, NULL);
	jw_str(&w, "trace", trace);
	jw_u64(&w, "marks", s->marks);
	jw_u64(&w, "unmatched_ends", s->unmatched_ends);
	jw_arr(&w, "stages");
	for (size_t i = 0; i < s->nsums; i++) {
		const struct stage_sum *x = &s->sums[i];

		jw_obj(&w, NULL);
		jw_str(&w, "name", x->name);
		jw_str(&w, "kind", x->span ? "span" : "repeat");
		jw_u64(&w, "count", x->count);
		jw_f64(&w, "total_ms", x->total_ns / 1e6, 3);
		jw_f64(&w, "mean_ms", x->count ? x->total_ns / 1e6 / x->count : 0, 3);
		jw_f64(&w, "max_ms", x->max_ns / 1e6, 3);
		if (x->count) {
			jw_i64(&w, "entry_kb", x->first_entry_kb);
			jw_i64(&w, "exit_kb", x->last_exit_kb);
			jw_i64(&w, "peak_kb", x->peak_kb);
		} else {
			jw_null(&w, "entry_kb");
			jw_null(&w, "exit_kb");
			jw_null(&w, "peak_kb");
		}
		jw_i64(&w, "max_rise_kb", x->max_rise_kb);
		jw_i64(&w, "growth_kb", x->growth_kb);
		jw_u64(&w, "unclosed", x->unclosed);
		jw_u64(&w, "unmatched_ends", x->unmatched_ends);
		jw_u64(&w, "nested", x->nested);
		jw_u64(&w, "to_exit", x->to_exit);
		jw_u64(&w, "to_trace_end", x->to_trace_end);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_arr(&w, "intervals");
	for (size_t i = 0; i < s->niv && s->keep_intervals && !e; i++) {
		struct stage_iv iv;
		const struct stage_iv *v = &iv;

		e = stages__iv(s, i, &iv);
		if (e)
			break;
		jw_obj(&w, NULL);
		jw_str(&w, "name", s->sums[v->sum].name);
		jw_str(&w, "kind", v->span ? "span" : "repeat");
		jw_u64(&w, "depth", v->depth);
		jw_i64(&w, "pid", v->pid);
		jw_u64(&w, "start_ts_ns", v->start_ts_ns);
		jw_u64(&w, "end_ts_ns", v->end_ts_ns);
		jw_f64(&w, "start_time_s", secs_since(v->start_ts_ns, t0), 9);
		jw_f64(&w, "duration_ms", (v->end_ts_ns - v->start_ts_ns) / 1e6, 6);
		jw_i64(&w, "entry_kb", v->entry_kb);
		jw_i64(&w, "exit_kb", v->exit_kb);
		jw_i64(&w, "peak_kb", v->peak_kb);
		jw_u64(&w, "peak_ts_ns", v->peak_ts_ns);
		jw_i64(&w, "rise_kb", v->peak_kb - v->entry_kb);
		jw_i64(&w, "growth_kb", v->exit_kb - v->entry_kb);
		jw_str(&w, "closed_by", end_name(v->end));
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	return e;
}

void stages_report_table(FILE *out, const struct stages *s, const char *trace)
{
	fprintf(out, "%s: %" PRIu64 " mark%s, %zu stage%s, %zu interval%s\n\n", trace, s->marks,
	       s->marks == 1 ? "" : "s", s->nsums, s->nsums == 1 ? "" : "s", s->niv,
	       s->niv == 1 ? "" : "s");
	fprintf(out, "%-24s %-6s %6s %11s %10s %10s %12s %12s %12s %12s %12s\n", "stage", "kind", "count",
	       "total_ms", "mean_ms", "max_ms", "entry_kb", "exit_kb", "peak_kb", "max_rise_kb",
	       "growth_kb");
	for (size_t i = 0; i < s->nsums; i++) {
		const struct stage_sum *x = &s->sums[i];

		put_col(out, x->name, 24);
		fprintf(out, " %-6s %6" PRIu64 " %11.3f %10.3f %10.3f",
		       x->span ? "span" : "repeat", x->count, x->total_ns / 1e6,
		       x->count ? x->total_ns / 1e6 / x->count : 0.0, x->max_ns / 1e6);
		if (x->count)
			fprintf(out, " %12" PRId64 " %12" PRId64 " %12" PRId64 " %12" PRId64 " %+12" PRId64 "\n",
			       x->first_entry_kb, x->last_exit_kb, x->peak_kb, x->max_rise_kb,
			       x->growth_kb);
		else	/* a point mark always makes one: a span */
			fprintf(out, "  (%s)\n", x->unclosed ? "begun, never ended" : "ended, never begun");
		if (x->unclosed)
			fprintf(out, "%-24s %" PRIu64 " %s:begin without %s:end\n", "", x->unclosed, x->name,
			       x->name);
		if (x->unmatched_ends)
			fprintf(out, "%-24s %" PRIu64 " %s:end without %s:begin\n", "", x->unmatched_ends,
			       x->name, x->name);
		if (x->to_exit)
			fprintf(out, "%-24s %" PRIu64 " ran to its process's exit (no mark after it)\n", "",
			       x->to_exit);
		if (x->to_trace_end)
			fprintf(out, "%-24s %" PRIu64 " still open at the end of the trace (counted to "
			       "there)\n", "", x->to_trace_end);
		if (x->nested)
			fprintf(out, "%-24s %" PRIu64 " nested inside a %s span (in the intervals, not "
			       "counted again here)\n", "", x->nested, x->name);
	}
	if (s->unmatched_ends)
		fprintf(out, "\n%" PRIu64 " NAME:end mark%s without a NAME:begin before it (ignored)\n",
		       s->unmatched_ends, s->unmatched_ends == 1 ? "" : "s");
}
