// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* memtrace-bpf stages TRACE.csv: per-stage time and memory from marks. */
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
#include "analysis/stages.h"
#include "lib/units.h"

static struct {
	const char *trace;
	bool json;
	pid_t only_pid;
} sa;

static const char doc[] =
"Per-stage time and memory from the marks in a memtrace-bpf trace.\n"
"\n"
"USAGE: memtrace-bpf stages TRACE.csv [OPTIONS]\n"
"\n"
"A stage runs from a mark NAME to the next mark NAME of the same process\n"
"(one frame, one iteration), or from NAME:begin to NAME:end (a span). Per\n"
"stage: how many, time (total, mean, longest), RSS at the first entry and\n"
"the last exit, the highest RSS inside, the largest rise inside one stage\n"
"above its entry, and the growth (exit - entry, summed). Marks come from\n"
"a write to $MEMTRACE_MARK_FD (any language) or MEMTRACE_MARK() in C/C++\n"
"(#include <memtrace/mark.h>); see README.\n"
"\n"
"EXAMPLES:\n"
"  memtrace-bpf stages trace.csv                    # table per stage\n"
"  memtrace-bpf stages trace.csv --format json      # and every interval\n"
"  memtrace-bpf stages trace.csv --pid 4242         # one process\n"
"\n"
"Exit status: 0 report written; 1 the trace cannot be read or has no\n"
"mark; 2 bad command line.\n"
"\n"
"OPTIONS:";

static const struct argp_option opts[] = {
	{ "format", TOPT_FORMAT, "table|json", 0, "Output format (default table)", 0 },
	{ "pid", TOPT_PID, "PID", 0, "Only this process", 0 },
	{},
};

/* stages has only the options every trace subcommand has */
static error_t parse(int key, char *arg, struct argp_state *st)
{
	(void)st;
	return trace_args_parse("stages", key, arg, &sa.trace, &sa.json, &sa.only_pid);
}

static void print_json(const struct stages *s, uint64_t t0)
{
	struct jw w;

	jw_begin(&w, stdout);
	jw_obj(&w, NULL);
	jw_str(&w, "trace", sa.trace);
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
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_arr(&w, "intervals");
	for (size_t i = 0; i < s->niv; i++) {
		const struct stage_iv *v = &s->iv[i];

		jw_obj(&w, NULL);
		jw_str(&w, "name", v->name);
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
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
}

static void print_table(const struct stages *s)
{
	printf("%s: %" PRIu64 " mark%s, %zu stage%s, %zu interval%s\n\n", sa.trace, s->marks,
	       s->marks == 1 ? "" : "s", s->nsums, s->nsums == 1 ? "" : "s", s->niv,
	       s->niv == 1 ? "" : "s");
	printf("%-24s %-6s %6s %11s %10s %10s %12s %12s %12s %12s %12s\n", "stage", "kind", "count",
	       "total_ms", "mean_ms", "max_ms", "entry_kb", "exit_kb", "peak_kb", "max_rise_kb",
	       "growth_kb");
	for (size_t i = 0; i < s->nsums; i++) {
		const struct stage_sum *x = &s->sums[i];

		put_col(stdout, x->name, 24);
		printf(" %-6s %6" PRIu64 " %11.3f %10.3f %10.3f",
		       x->span ? "span" : "repeat", x->count, x->total_ns / 1e6,
		       x->count ? x->total_ns / 1e6 / x->count : 0.0, x->max_ns / 1e6);
		if (x->count)
			printf(" %12" PRId64 " %12" PRId64 " %12" PRId64 " %12" PRId64 " %+12" PRId64 "\n",
			       x->first_entry_kb, x->last_exit_kb, x->peak_kb, x->max_rise_kb,
			       x->growth_kb);
		else
			printf("  (%s)\n", !x->span ? "marked once: a stage needs two marks of a "
			       "name, or NAME:begin/NAME:end" : x->unclosed ? "begun, never ended" :
			       "ended, never begun");
		if (x->unclosed)
			printf("%-24s %" PRIu64 " %s:begin without %s:end\n", "", x->unclosed, x->name,
			       x->name);
		if (x->unmatched_ends)
			printf("%-24s %" PRIu64 " %s:end without %s:begin\n", "", x->unmatched_ends,
			       x->name, x->name);
		if (x->nested)
			printf("%-24s %" PRIu64 " nested inside a %s span (in the intervals, not "
			       "counted again here)\n", "", x->nested, x->name);
	}
	if (s->unmatched_ends)
		printf("\n%" PRIu64 " NAME:end mark%s without a NAME:begin before it (ignored)\n",
		       s->unmatched_ends, s->unmatched_ends == 1 ? "" : "s");
}

int cmd_stages(int argc, char **argv)
{
	static const struct argp argp = { .options = opts, .parser = parse, .doc = doc };
	struct csv_reader r;
	struct csv_row row;
	struct stages s;
	int e, ret = EXIT_TRACE_ERR;

	memset(&sa, 0, sizeof(sa));
	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return EXIT_USAGE;
	stages__init(&s);
	if (csvr__open(&r, sa.trace)) {
		fprintf(stderr, "memtrace-bpf stages: %s\n", r.err);
		goto out;
	}
	if (r.c_event < 0 || r.c_label < 0) {
		fprintf(stderr, "memtrace-bpf stages: %s has no event/label columns: stages needs a "
			"trace written by memtrace-bpf with marks (sudo memtrace-bpf -o trace.csv -- "
			"COMMAND)\n", sa.trace);
		goto out;
	}
	while ((e = csvr__next(&r, &row)) > 0) {
		if (sa.only_pid && row.pid != sa.only_pid)
			continue;
		if (stages__row(&s, row.ts_ns, row.pid, row.vmrss_kb, row.event, row.label)) {
			fprintf(stderr, "memtrace-bpf stages: out of memory at %s:%llu\n", sa.trace,
				(unsigned long long)r.line);
			goto out;
		}
	}
	if (e < 0) {
		fprintf(stderr, "memtrace-bpf stages: %s\n", r.err[0] ? r.err : "read error");
		goto out;
	}
	if (!s.marks) {
		fprintf(stderr, "memtrace-bpf stages: %s has no mark rows%s: mark stages by writing a "
			"line to the fd in $MEMTRACE_MARK_FD (shell: echo frame >&$MEMTRACE_MARK_FD) or "
			"with MEMTRACE_MARK(\"frame\") from <memtrace/mark.h>, then record again. For "
			"the application's own readings use 'memtrace-bpf validate %s'.\n", sa.trace,
			sa.only_pid ? " for that pid" : "", sa.trace);
		goto out;
	}
	if (stages__finish(&s)) {
		fprintf(stderr, "memtrace-bpf stages: out of memory\n");
		goto out;
	}
	if (sa.json)
		print_json(&s, r.t0_ns);
	else
		print_table(&s);
	ret = report_written("stages");
out:
	stages__free(&s);
	csvr__close(&r);
	return ret;
}
