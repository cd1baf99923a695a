// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Checkpoint validation as a table and as JSON. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "analysis/validate_report.h"
#include "format/json.h"
#include "format/text.h"
#include "lib/units.h"

static void json_reported(struct jw *w, const char *key, const struct v_reported *r,
			  uint64_t t0)
{
	jw_obj(w, key);
	jw_u64(w, "ts_ns", r->ts_ns);
	jw_f64(w, "time_s", secs_since(r->ts_ns, t0), 9);
	jw_u64(w, "trace_line", r->line);
	jw_str(w, "text", r->text);
	jw_str(w, "log", r->log);
	if (r->kb >= 0)
		jw_i64(w, "reported_kb", r->kb);
	else
		jw_null(w, "reported_kb");
	jw_str(w, "compared_to", r->cmp == V_CMP_PEAK ? "peak_so_far" : "rss");
	jw_str(w, "compare_basis", r->basis == V_BASIS_OPTION ? "option" :
				   r->basis == V_BASIS_LABEL ? "label" : "line");
	jw_str(w, "compare_label", r->basis == V_BASIS_LABEL ? r->label : NULL);
	jw_i64(w, "reference_kb", r->ref_kb);
	if (r->kb >= 0)
		jw_i64(w, "diff_kb", r->diff_kb);
	else
		jw_null(w, "diff_kb");
	jw_obj_end(w);
}

/* One checkpoint, with the values reported at it. */
static void json_checkpoint(struct jw *w, const struct validation *v, size_t i, uint64_t t0)
{
	const struct v_checkpoint *c = &v->cps[i];

	jw_obj(w, NULL);
	jw_u64(w, "index", i + 1);
	jw_i64(w, "pid", c->pid);
	jw_u64(w, "ts_ns", c->ts_ns);
	jw_f64(w, "time_s", secs_since(c->ts_ns, t0), 9);
	jw_str(w, "source", c->source);
	jw_str(w, "stage", c->stage[0] ? c->stage : NULL);
	jw_i64(w, "exact_kb", c->exact_kb);
	jw_i64(w, "peak_so_far_kb", c->peak_so_far_kb);
	jw_i64(w, "max_since_prev_kb", c->max_since_prev_kb);
	jw_u64(w, "max_since_prev_ts_ns", c->max_since_prev_ts_ns);
	if (c->prev_exact_kb >= 0)
		jw_i64(w, "prev_exact_kb", c->prev_exact_kb);
	else
		jw_null(w, "prev_exact_kb");
	/* the same process's previous checkpoint (1-based, as index) */
	if (c->prev_cp >= 0)
		jw_u64(w, "prev_checkpoint", (uint64_t)c->prev_cp + 1);
	else
		jw_null(w, "prev_checkpoint");
	jw_i64(w, "excess_kb", c->excess_kb);
	if (c->first_reported >= 0) {
		const struct v_reported *r = &v->rep[c->first_reported];

		if (r->kb >= 0) {
			jw_i64(w, "reported_kb", r->kb);
			jw_i64(w, "diff_kb", r->diff_kb);
		} else {
			jw_null(w, "reported_kb");
			jw_null(w, "diff_kb");
		}
		jw_str(w, "reported_text", r->text);
		jw_arr(w, "reported");
		for (size_t k = 0; k < v->nrep; k++)
			if (v->rep[k].cp == (int)i)
				json_reported(w, NULL, &v->rep[k], t0);
		jw_arr_end(w);
	} else {
		jw_null(w, "reported_kb");
		jw_null(w, "diff_kb");
		jw_null(w, "reported_text");
		jw_arr(w, "reported");
		jw_arr_end(w);
	}
	jw_obj_end(w);
}

/* The largest error, the largest unseen excursion, the peak verdict. */
static void json_verdict(struct jw *w, const struct validation *v)
{
	jw_obj(w, "verdict");
	if (v->worst_error >= 0) {
		const struct v_reported *r = &v->rep[v->worst_error];

		jw_i64(w, "largest_error_kb", r->diff_kb);
		jw_f64(w, "largest_error_pct", r->ref_kb ? 100.0 * r->diff_kb / r->ref_kb : 0, 2);
		if (r->cp >= 0)
			jw_u64(w, "largest_error_checkpoint", (uint64_t)r->cp + 1);
		else
			jw_null(w, "largest_error_checkpoint");
	} else {
		jw_null(w, "largest_error_kb");
		jw_null(w, "largest_error_pct");
		jw_null(w, "largest_error_checkpoint");
	}
	if (v->worst_excess >= 0) {
		jw_i64(w, "largest_excursion_kb", v->cps[v->worst_excess].excess_kb);
		jw_u64(w, "largest_excursion_checkpoint", (uint64_t)v->worst_excess + 1);
		if (v->cps[v->worst_excess].prev_cp >= 0)
			jw_u64(w, "largest_excursion_prev_checkpoint",
			       (uint64_t)v->cps[v->worst_excess].prev_cp + 1);
		else
			jw_null(w, "largest_excursion_prev_checkpoint");
	} else {
		jw_i64(w, "largest_excursion_kb", 0);
		jw_null(w, "largest_excursion_checkpoint");
		jw_null(w, "largest_excursion_prev_checkpoint");
	}
	jw_i64(w, "after_last_checkpoint_kb", v->worst_tail >= 0 ? v->tails[v->worst_tail].excess_kb : 0);
	jw_i64(w, "true_peak_kb", v->true_peak_kb);
	jw_u64(w, "true_peak_ts_ns", v->true_peak_ts_ns);
	jw_i64(w, "true_peak_pid", v->true_peak_pid);
	jw_i64(w, "checkpoint_max_kb", v->checkpoint_max_kb);
	if (v->app_peak_rep >= 0)
		jw_i64(w, "reported_peak_kb", v->app_peak_kb);
	else
		jw_null(w, "reported_peak_kb");
	if (v->peak_trusted >= 0)
		jw_bool(w, "peak_trusted", v->peak_trusted);
	else
		jw_null(w, "peak_trusted");
	jw_u64(w, "unknown_units", v->unknown_units);
	jw_obj_end(w);
}

void validate_report_json(FILE *out, const struct validation *v, const char *trace, uint64_t t0)
{
	struct jw w;

	jw_begin(&w, out);
	jw_obj(&w, NULL);
	jw_str(&w, "trace", trace);
	jw_u64(&w, "rows", v->rows);
	jw_arr(&w, "checkpoints");
	for (size_t i = 0; i < v->ncps; i++)
		json_checkpoint(&w, v, i, t0);
	jw_arr_end(&w);
	jw_arr(&w, "reported_before_any_checkpoint");
	for (size_t k = 0; k < v->nrep; k++)
		if (v->rep[k].cp < 0)
			json_reported(&w, NULL, &v->rep[k], t0);
	jw_arr_end(&w);
	jw_arr(&w, "after_last_checkpoint");
	for (size_t i = 0; i < v->ntails; i++) {
		jw_obj(&w, NULL);
		jw_i64(&w, "pid", v->tails[i].pid);
		jw_i64(&w, "last_exact_kb", v->tails[i].last_exact_kb);
		jw_i64(&w, "max_kb", v->tails[i].max_kb);
		jw_u64(&w, "max_ts_ns", v->tails[i].max_ts_ns);
		jw_i64(&w, "excess_kb", v->tails[i].excess_kb);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	json_verdict(&w, v);
	jw_obj_end(&w);
}

static void print_rep_cols(FILE *out, const struct v_reported *r)
{
	char t[160];

	snprintf(t, sizeof(t), "%s%s", r->text, r->cmp == V_CMP_PEAK ? " (peak)" : "");
	fputs("  ", out);
	put_col(out, t, 18);
	if (r->kb >= 0)
		fprintf(out, " %+10" PRId64, r->diff_kb);
	else
		fprintf(out, " %10s", "unit?");
}

/* The verdict: the largest error, the largest excursion no checkpoint
 * saw, what came after the last one, whether the peak figure holds. */
static void table_verdict(FILE *out, const struct validation *v, uint64_t t0)
{
	char a[32], b[32], c_[32];

	if (v->worst_error >= 0) {
		const struct v_reported *r = &v->rep[v->worst_error];

		fprintf(out, "  largest error       %s%s (%+.1f%%): \"%s\" vs the exact %s %s",
		       r->diff_kb > 0 ? "+" : "", format_kb(r->diff_kb, a, sizeof(a)),
		       r->ref_kb ? 100.0 * r->diff_kb / r->ref_kb : 0.0, r->text,
		       r->cmp == V_CMP_PEAK ? "peak so far" : "RSS", format_kb(r->ref_kb, b, sizeof(b)));
		if (r->cp >= 0)
			fprintf(out, " at checkpoint %d\n", r->cp + 1);
		else
			fprintf(out, " (no checkpoint before it)\n");
	} else if (v->nrep) {
		fprintf(out, "  largest error       none comparable: no reported value has a known unit\n");
	} else {
		fprintf(out, "  largest error       nothing reported to compare (record with "
		       "--checkpoint-regex to capture what the application printed)\n");
	}
	if (v->worst_excess >= 0) {
		const struct v_checkpoint *c = &v->cps[v->worst_excess];

		/* the same process's previous checkpoint, which need not be
		 * the row above (other processes' checkpoints interleave) */
		if (c->prev_cp >= 0)
			fprintf(out, "  unseen excursion    +%s above both checkpoints, between checkpoints "
			       "%d and %d", format_kb(c->excess_kb, a, sizeof(a)), c->prev_cp + 1,
			       v->worst_excess + 1);
		else
			fprintf(out, "  unseen excursion    +%s above checkpoint %d, before its process's "
			       "first checkpoint", format_kb(c->excess_kb, a, sizeof(a)),
			       v->worst_excess + 1);
		fprintf(out, " (pid %d, max %s at %.6f s)\n", c->pid,
		       format_kb(c->max_since_prev_kb, b, sizeof(b)), secs_since(c->max_since_prev_ts_ns, t0));
	} else {
		fprintf(out, "  unseen excursion    none: memory never went above the checkpoints around it\n");
	}
	if (v->worst_tail >= 0) {
		const struct v_tail *t = &v->tails[v->worst_tail];

		fprintf(out, "  after the last one  +%s (pid %d, max %s at %.6f s)\n",
		       format_kb(t->excess_kb, a, sizeof(a)), t->pid, format_kb(t->max_kb, b, sizeof(b)),
		       secs_since(t->max_ts_ns, t0));
	}
	if (v->peak_trusted >= 0) {
		int64_t d = v->app_peak_kb - v->true_peak_kb;

		fprintf(out, "  peak figure         %s: the application reported %s (\"%s\"); the true "
		       "peak was %s at %.6f s (pid %d), %s%s off\n",
		       v->peak_trusted ? "can be trusted" : "CANNOT be trusted",
		       format_kb(v->app_peak_kb, a, sizeof(a)), v->rep[v->app_peak_rep].text,
		       format_kb(v->true_peak_kb, b, sizeof(b)), secs_since(v->true_peak_ts_ns, t0),
		       v->true_peak_pid, d > 0 ? "+" : "", format_kb(d, c_, sizeof(c_)));
	} else {
		fprintf(out, "  peak figure         nothing reported; the checkpoints saw at most %s, the "
		       "true peak was %s at %.6f s (pid %d)\n",
		       format_kb(v->checkpoint_max_kb, a, sizeof(a)), format_kb(v->true_peak_kb, b, sizeof(b)),
		       secs_since(v->true_peak_ts_ns, t0), v->true_peak_pid);
	}
}

void validate_report_table(FILE *out, const struct validation *v, const char *trace, uint64_t t0)
{
	size_t sources[4] = { 0 };
	static const char *names[4] = { "status", "statm", "smaps_rollup", "getrusage" };
	size_t nproc_cp = 0;

	for (size_t i = 0; i < v->ncps; i++)
		for (int k = 0; k < 4; k++)
			if (!strcmp(v->cps[i].source, names[k]))
				sources[k]++;
	nproc_cp = v->nprocs_cp;
	fprintf(out, "%s: %zu checkpoint%s (", trace, v->ncps, v->ncps == 1 ? "" : "s");
	for (int k = 0, first = 1; k < 4; k++) {
		if (!sources[k])
			continue;
		fprintf(out, "%s%s %zu", first ? "" : ", ", names[k], sources[k]);
		first = 0;
	}
	fprintf(out, ") in %zu process%s; %zu reported value%s\n", nproc_cp, nproc_cp == 1 ? "" : "es",
	       v->nrep, v->nrep == 1 ? "" : "s");
	fprintf(out, "\n%4s %11s %8s %-12s %-14s %12s %10s %17s %10s  %-18s %10s\n", "#", "time_s", "pid",
	       "source", "stage", "exact_kb", "peak_kb", "max_since_prev_kb", "excess_kb", "reported",
	       "diff_kb");
	for (size_t i = 0; i < v->ncps; i++) {
		const struct v_checkpoint *c = &v->cps[i];
		int shown = 0;

		fprintf(out, "%4zu %11.6f %8d %-12s ", i + 1, secs_since(c->ts_ns, t0), c->pid, c->source);
		put_col(out, c->stage[0] ? c->stage : "-", 14);
		fprintf(out, " %12" PRId64 " %10" PRId64 " %17" PRId64 " %10" PRId64,
		       c->exact_kb, c->peak_so_far_kb, c->max_since_prev_kb, c->excess_kb);
		for (size_t k = 0; k < v->nrep; k++) {
			if (v->rep[k].cp != (int)i)
				continue;
			if (shown++)
				fprintf(out, "\n%4s %11s %8s %-12s %-14s %12s %10s %17s %10s", "", "", "", "",
				       "", "", "", "", "");
			print_rep_cols(out, &v->rep[k]);
		}
		if (!shown)
			fprintf(out, "  %-18s %10s", "-", "-");
		fputc('\n', out);
	}
	for (size_t k = 0; k < v->nrep; k++) {
		const struct v_reported *r = &v->rep[k];

		if (r->cp >= 0)
			continue;
		fprintf(out, "%4s %11.6f %8s %-12s %-14s %12" PRId64 " %10s %17s %10s", "-", secs_since(r->ts_ns, t0),
		       "", "(none)", "", r->ref_kb, "", "", "");
		print_rep_cols(out, r);
		fputc('\n', out);
	}
	fprintf(out, "\nverdict:\n");
	table_verdict(out, v, t0);
}
