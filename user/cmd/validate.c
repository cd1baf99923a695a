// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* memtrace-bpf validate TRACE.csv: an application's own memory readings
 * and printed figures against the exact timeline. */
#include <argp.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd/cmd.h"
#include "format/csv.h"
#include "format/json.h"
#include "format/text.h"
#include "lib/units.h"
#include "analysis/validate.h"

#define WARN_MAX 5	/* unit warnings said in full; the rest counted */

static struct {
	const char *trace;
	struct v_cfg cfg;
	bool json;
	pid_t only_pid;
} va;

enum { OPT_COMPARE = 1200, OPT_TOLERANCE, OPT_SI };

static const char doc[] =
"Check an application's own memory measurements against the exact timeline.\n"
"\n"
"USAGE: memtrace-bpf validate TRACE.csv [OPTIONS]\n"
"\n"
"Each checkpoint (a read of /proc/self/status, statm, smaps_rollup, or a\n"
"getrusage call, recorded automatically; named by the last mark before it)\n"
"is listed with the exact RSS at that instant and the true peak since the\n"
"previous checkpoint: how far memory went beyond what either checkpoint saw.\n"
"Values the application printed (record with --checkpoint-regex) are paired\n"
"with the latest checkpoint at or before their line (of the process that\n"
"wrote it, if it has one), and compared with its RSS, or with the exact peak\n"
"so far when the line speaks of a peak (peak, max, HWM, high; --compare).\n"
"Units: B; K, KB, KiB, M, MB, MiB, G, GB, GiB (KB/MB/GB 1024-based unless\n"
"--si). The verdict names the largest error, the largest excursion no\n"
"checkpoint saw, and whether the application's peak figure can be trusted.\n"
"\n"
"EXAMPLES:\n"
"  memtrace-bpf validate trace.csv                  # table and verdict\n"
"  memtrace-bpf validate trace.csv --format json    # \"checkpoints\": [...]\n"
"  memtrace-bpf validate trace.csv --compare peak   # values are peaks\n"
"  memtrace-bpf validate trace.csv --tolerance 2%   # stricter peak verdict\n"
"\n"
"Exit status: 0 report written; 1 the trace cannot be read or has no\n"
"checkpoint; 2 bad command line.\n"
"\n"
"OPTIONS:";

static const struct argp_option opts[] = {
	{ "format", TOPT_FORMAT, "table|json", 0, "Output format (default table)", 0 },
	{ "pid", TOPT_PID, "PID", 0, "Only this process's checkpoints", 0 },
	{ "compare", OPT_COMPARE, "auto|rss|peak", 0, "What a reported value is compared with (default auto: peak when the line says peak/max/HWM/high)", 0 },
	{ "tolerance", OPT_TOLERANCE, "PCT%|SIZE", 0, "How close the reported peak must be to the true peak to be trusted (default 5%)", 0 },
	{ "si", OPT_SI, NULL, 0, "Read KB, MB, GB in reported values as 1000-based", 0 },
	{},
};

#define usage_err(...) usage_exit("validate", __VA_ARGS__)

static error_t parse(int key, char *arg, struct argp_state *st)
{
	if (!trace_args_parse("validate", key, arg, &va.trace, &va.json, &va.only_pid))
		return 0;
	switch (key) {
	case OPT_COMPARE:
		if (!strcmp(arg, "auto"))
			va.cfg.compare = V_CMP_AUTO;
		else if (!strcmp(arg, "rss"))
			va.cfg.compare = V_CMP_RSS;
		else if (!strcmp(arg, "peak"))
			va.cfg.compare = V_CMP_PEAK;
		else
			usage_err("--compare %s: use auto, rss or peak", arg);
		break;
	case OPT_TOLERANCE: {
		double pct;
		uint64_t b;
		int e = parse_pct_or_size(arg, 100, &pct, &b);

		if (e || (!strchr(arg, '%') && b < 1024))
			usage_err("--tolerance %s: %s", arg,
				  e == -ERANGE && strchr(arg, '%') ? "a percentage from 0% to 100% (e.g. 5%)"
								   : "a percentage (5%) or a size of 1K or more (10M)");
		if (strchr(arg, '%'))
			va.cfg.tol_pct = pct;
		va.cfg.tol_kb = (int64_t)(b / 1024);	/* 0 for a percentage */
		break;
	}
	case OPT_SI:
		va.cfg.si = true;
		break;
	case ARGP_KEY_END:
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	(void)st;
	return 0;
}

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
	jw_i64(w, "reference_kb", r->ref_kb);
	if (r->kb >= 0)
		jw_i64(w, "diff_kb", r->diff_kb);
	else
		jw_null(w, "diff_kb");
	jw_obj_end(w);
}

static void print_json(const struct validation *v, uint64_t t0)
{
	struct jw w;

	jw_begin(&w, stdout);
	jw_obj(&w, NULL);
	jw_str(&w, "trace", va.trace);
	jw_u64(&w, "rows", v->rows);
	jw_arr(&w, "checkpoints");
	for (size_t i = 0; i < v->ncps; i++) {
		const struct v_checkpoint *c = &v->cps[i];

		jw_obj(&w, NULL);
		jw_u64(&w, "index", i + 1);
		jw_i64(&w, "pid", c->pid);
		jw_u64(&w, "ts_ns", c->ts_ns);
		jw_f64(&w, "time_s", secs_since(c->ts_ns, t0), 9);
		jw_str(&w, "source", c->source);
		jw_str(&w, "stage", c->stage[0] ? c->stage : NULL);
		jw_i64(&w, "exact_kb", c->exact_kb);
		jw_i64(&w, "peak_so_far_kb", c->peak_so_far_kb);
		jw_i64(&w, "max_since_prev_kb", c->max_since_prev_kb);
		jw_u64(&w, "max_since_prev_ts_ns", c->max_since_prev_ts_ns);
		if (c->prev_exact_kb >= 0)
			jw_i64(&w, "prev_exact_kb", c->prev_exact_kb);
		else
			jw_null(&w, "prev_exact_kb");
		/* the same process's previous checkpoint (1-based, as index) */
		if (c->prev_cp >= 0)
			jw_u64(&w, "prev_checkpoint", (uint64_t)c->prev_cp + 1);
		else
			jw_null(&w, "prev_checkpoint");
		jw_i64(&w, "excess_kb", c->excess_kb);
		if (c->first_reported >= 0) {
			const struct v_reported *r = &v->rep[c->first_reported];

			if (r->kb >= 0) {
				jw_i64(&w, "reported_kb", r->kb);
				jw_i64(&w, "diff_kb", r->diff_kb);
			} else {
				jw_null(&w, "reported_kb");
				jw_null(&w, "diff_kb");
			}
			jw_str(&w, "reported_text", r->text);
			jw_arr(&w, "reported");
			for (size_t k = 0; k < v->nrep; k++)
				if (v->rep[k].cp == (int)i)
					json_reported(&w, NULL, &v->rep[k], t0);
			jw_arr_end(&w);
		} else {
			jw_null(&w, "reported_kb");
			jw_null(&w, "diff_kb");
			jw_null(&w, "reported_text");
			jw_arr(&w, "reported");
			jw_arr_end(&w);
		}
		jw_obj_end(&w);
	}
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
	jw_obj(&w, "verdict");
	if (v->worst_error >= 0) {
		const struct v_reported *r = &v->rep[v->worst_error];

		jw_i64(&w, "largest_error_kb", r->diff_kb);
		jw_f64(&w, "largest_error_pct", r->ref_kb ? 100.0 * r->diff_kb / r->ref_kb : 0, 2);
		if (r->cp >= 0)
			jw_u64(&w, "largest_error_checkpoint", (uint64_t)r->cp + 1);
		else
			jw_null(&w, "largest_error_checkpoint");
	} else {
		jw_null(&w, "largest_error_kb");
		jw_null(&w, "largest_error_pct");
		jw_null(&w, "largest_error_checkpoint");
	}
	if (v->worst_excess >= 0) {
		jw_i64(&w, "largest_excursion_kb", v->cps[v->worst_excess].excess_kb);
		jw_u64(&w, "largest_excursion_checkpoint", (uint64_t)v->worst_excess + 1);
		if (v->cps[v->worst_excess].prev_cp >= 0)
			jw_u64(&w, "largest_excursion_prev_checkpoint",
			       (uint64_t)v->cps[v->worst_excess].prev_cp + 1);
		else
			jw_null(&w, "largest_excursion_prev_checkpoint");
	} else {
		jw_i64(&w, "largest_excursion_kb", 0);
		jw_null(&w, "largest_excursion_checkpoint");
		jw_null(&w, "largest_excursion_prev_checkpoint");
	}
	jw_i64(&w, "after_last_checkpoint_kb", v->worst_tail >= 0 ? v->tails[v->worst_tail].excess_kb : 0);
	jw_i64(&w, "true_peak_kb", v->true_peak_kb);
	jw_u64(&w, "true_peak_ts_ns", v->true_peak_ts_ns);
	jw_i64(&w, "true_peak_pid", v->true_peak_pid);
	jw_i64(&w, "checkpoint_max_kb", v->checkpoint_max_kb);
	if (v->app_peak_rep >= 0)
		jw_i64(&w, "reported_peak_kb", v->app_peak_kb);
	else
		jw_null(&w, "reported_peak_kb");
	if (v->peak_trusted >= 0)
		jw_bool(&w, "peak_trusted", v->peak_trusted);
	else
		jw_null(&w, "peak_trusted");
	jw_u64(&w, "unknown_units", v->unknown_units);
	jw_obj_end(&w);
	jw_obj_end(&w);
}

static void print_rep_cols(const struct v_reported *r)
{
	char t[160];

	snprintf(t, sizeof(t), "%s%s", r->text, r->cmp == V_CMP_PEAK ? " (peak)" : "");
	fputs("  ", stdout);
	put_col(stdout, t, 18);
	if (r->kb >= 0)
		printf(" %+10" PRId64, r->diff_kb);
	else
		printf(" %10s", "unit?");
}

static void print_table(const struct validation *v, uint64_t t0)
{
	char a[32], b[32], c_[32];
	size_t sources[4] = { 0 };
	static const char *names[4] = { "status", "statm", "smaps_rollup", "getrusage" };
	size_t nproc_cp = 0;

	for (size_t i = 0; i < v->ncps; i++)
		for (int k = 0; k < 4; k++)
			if (!strcmp(v->cps[i].source, names[k]))
				sources[k]++;
	for (size_t i = 0; i < v->nprocs; i++)
		nproc_cp += v->procs[i].last_cp >= 0;
	printf("%s: %zu checkpoint%s (", va.trace, v->ncps, v->ncps == 1 ? "" : "s");
	for (int k = 0, first = 1; k < 4; k++) {
		if (!sources[k])
			continue;
		printf("%s%s %zu", first ? "" : ", ", names[k], sources[k]);
		first = 0;
	}
	printf(") in %zu process%s; %zu reported value%s\n", nproc_cp, nproc_cp == 1 ? "" : "es",
	       v->nrep, v->nrep == 1 ? "" : "s");
	printf("\n%4s %11s %8s %-12s %-14s %12s %10s %17s %10s  %-18s %10s\n", "#", "time_s", "pid",
	       "source", "stage", "exact_kb", "peak_kb", "max_since_prev_kb", "excess_kb", "reported",
	       "diff_kb");
	for (size_t i = 0; i < v->ncps; i++) {
		const struct v_checkpoint *c = &v->cps[i];
		int shown = 0;

		printf("%4zu %11.6f %8d %-12s ", i + 1, secs_since(c->ts_ns, t0), c->pid, c->source);
		put_col(stdout, c->stage[0] ? c->stage : "-", 14);
		printf(" %12" PRId64 " %10" PRId64 " %17" PRId64 " %10" PRId64,
		       c->exact_kb, c->peak_so_far_kb, c->max_since_prev_kb, c->excess_kb);
		for (size_t k = 0; k < v->nrep; k++) {
			if (v->rep[k].cp != (int)i)
				continue;
			if (shown++)
				printf("\n%4s %11s %8s %-12s %-14s %12s %10s %17s %10s", "", "", "", "",
				       "", "", "", "", "");
			print_rep_cols(&v->rep[k]);
		}
		if (!shown)
			printf("  %-18s %10s", "-", "-");
		putchar('\n');
	}
	for (size_t k = 0; k < v->nrep; k++) {
		const struct v_reported *r = &v->rep[k];

		if (r->cp >= 0)
			continue;
		printf("%4s %11.6f %8s %-12s %-14s %12" PRId64 " %10s %17s %10s", "-", secs_since(r->ts_ns, t0),
		       "", "(none)", "", r->ref_kb, "", "", "");
		print_rep_cols(r);
		putchar('\n');
	}
	printf("\nverdict:\n");
	if (v->worst_error >= 0) {
		const struct v_reported *r = &v->rep[v->worst_error];

		printf("  largest error       %s%s (%+.1f%%): \"%s\" vs the exact %s %s",
		       r->diff_kb > 0 ? "+" : "", format_kb(r->diff_kb, a, sizeof(a)),
		       r->ref_kb ? 100.0 * r->diff_kb / r->ref_kb : 0.0, r->text,
		       r->cmp == V_CMP_PEAK ? "peak so far" : "RSS", format_kb(r->ref_kb, b, sizeof(b)));
		if (r->cp >= 0)
			printf(" at checkpoint %d\n", r->cp + 1);
		else
			printf(" (no checkpoint before it)\n");
	} else if (v->nrep) {
		printf("  largest error       none comparable: no reported value has a known unit\n");
	} else {
		printf("  largest error       nothing reported to compare (record with "
		       "--checkpoint-regex to capture what the application printed)\n");
	}
	if (v->worst_excess >= 0) {
		const struct v_checkpoint *c = &v->cps[v->worst_excess];

		/* the same process's previous checkpoint, which need not be
		 * the row above (other processes' checkpoints interleave) */
		if (c->prev_cp >= 0)
			printf("  unseen excursion    +%s above both checkpoints, between checkpoints "
			       "%d and %d", format_kb(c->excess_kb, a, sizeof(a)), c->prev_cp + 1,
			       v->worst_excess + 1);
		else
			printf("  unseen excursion    +%s above checkpoint %d, before its process's "
			       "first checkpoint", format_kb(c->excess_kb, a, sizeof(a)),
			       v->worst_excess + 1);
		printf(" (pid %d, max %s at %.6f s)\n", c->pid,
		       format_kb(c->max_since_prev_kb, b, sizeof(b)), secs_since(c->max_since_prev_ts_ns, t0));
	} else {
		printf("  unseen excursion    none: memory never went above the checkpoints around it\n");
	}
	if (v->worst_tail >= 0) {
		const struct v_tail *t = &v->tails[v->worst_tail];

		printf("  after the last one  +%s (pid %d, max %s at %.6f s)\n",
		       format_kb(t->excess_kb, a, sizeof(a)), t->pid, format_kb(t->max_kb, b, sizeof(b)),
		       secs_since(t->max_ts_ns, t0));
	}
	if (v->peak_trusted >= 0) {
		int64_t d = v->app_peak_kb - v->true_peak_kb;

		printf("  peak figure         %s: the application reported %s (\"%s\"); the true "
		       "peak was %s at %.6f s (pid %d), %s%s off\n",
		       v->peak_trusted ? "can be trusted" : "CANNOT be trusted",
		       format_kb(v->app_peak_kb, a, sizeof(a)), v->rep[v->app_peak_rep].text,
		       format_kb(v->true_peak_kb, b, sizeof(b)), secs_since(v->true_peak_ts_ns, t0),
		       v->true_peak_pid, d > 0 ? "+" : "", format_kb(d, c_, sizeof(c_)));
	} else {
		printf("  peak figure         nothing reported; the checkpoints saw at most %s, the "
		       "true peak was %s at %.6f s (pid %d)\n",
		       format_kb(v->checkpoint_max_kb, a, sizeof(a)), format_kb(v->true_peak_kb, b, sizeof(b)),
		       secs_since(v->true_peak_ts_ns, t0), v->true_peak_pid);
	}
}

int cmd_validate(int argc, char **argv)
{
	static const struct argp argp = { .options = opts, .parser = parse, .doc = doc };
	struct validation v;
	struct csv_reader r;
	struct csv_row row;
	uint64_t nwarn = 0;
	int e, ret = EXIT_TRACE_ERR;

	memset(&va, 0, sizeof(va));
	va.cfg.tol_pct = 5;
	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return EXIT_USAGE;
	validation__init(&v, &va.cfg);
	if (csvr__open(&r, va.trace)) {
		fprintf(stderr, "memtrace-bpf validate: %s\n", r.err);
		goto out;
	}
	if (r.c_event < 0 || r.c_cause < 0) {
		fprintf(stderr, "memtrace-bpf validate: %s has no event/cause columns: validate needs a "
			"trace written by memtrace-bpf (sudo memtrace-bpf -o trace.csv -- COMMAND)\n",
			va.trace);
		goto out;
	}
	while ((e = csvr__next(&r, &row)) > 0) {
		int pe;

		if (va.only_pid && row.pid != va.only_pid && strcmp(row.event, "log"))
			continue;
		/* the first few said in full, the rest counted below */
		if (!strcmp(row.event, "log") && row.reported[0] &&
		    (pe = parse_reported_kb(row.reported, va.cfg.si, &(int64_t){ 0 })) &&
		    nwarn++ < WARN_MAX)
			fprintf(stderr, "memtrace-bpf validate: warning: %s:%llu: the reported value "
				"'%.*s' %s; shown as text, not compared. Line: %.*s%s\n", va.trace,
				(unsigned long long)r.line, utf8_cut(row.reported, 64), row.reported,
				pe == -EDOM ? "has no unit or one validate does not know (B, K/KB/KiB, "
				"M/MB/MiB, G/GB/GiB, T/TB/TiB)" : "is not a number with a unit",
				utf8_cut(row.label, 160), row.label,
				strlen(row.label) > 160 ? " [...]" : "");
		if (validation__row(&v, r.line, row.ts_ns, row.pid, row.vmrss_kb, row.event, row.cause_text,
				    row.label, row.reported)) {
			fprintf(stderr, "memtrace-bpf validate: out of memory at %s:%llu\n", va.trace,
				(unsigned long long)r.line);
			goto out;
		}
	}
	if (e < 0) {
		fprintf(stderr, "memtrace-bpf validate: %s\n", r.err[0] ? r.err : "read error");
		goto out;
	}
	if (nwarn > WARN_MAX)
		fprintf(stderr, "memtrace-bpf validate: warning: %llu more reported values without a "
			"known unit (%llu in all; shown as text, not compared)\n",
			(unsigned long long)(nwarn - WARN_MAX), (unsigned long long)nwarn);
	if (!v.ncps) {
		if (va.only_pid)
			fprintf(stderr, "memtrace-bpf validate: no checkpoint of pid %d in %s\n",
				va.only_pid, va.trace);
		else
			fprintf(stderr, "memtrace-bpf validate: %s has no checkpoint rows: the traced "
				"program never read /proc/self/status, statm or smaps_rollup nor called "
				"getrusage while traced (a trace older than checkpoints has none either). "
				"For named stages use marks and 'memtrace-bpf stages %s'.\n",
				va.trace, va.trace);
		goto out;
	}
	validation__finish(&v);
	if (va.json)
		print_json(&v, r.t0_ns);
	else
		print_table(&v, r.t0_ns);
	ret = report_written("validate");
out:
	validation__free(&v);
	csvr__close(&r);
	return ret;
}
