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
#include "analysis/stages_report.h"
#include "lib/units.h"

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

int cmd_stages(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &trace_file_argp, 0, NULL, 0 },
		{},
	};
	static const struct argp argp = { .doc = doc, .children = children };
	struct csv_reader r;
	struct csv_row row;
	struct stages s;
	int e, ret = EXIT_TRACE_ERR;

	trace_file.sub = "stages";
	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return EXIT_USAGE;
	stages__init(&s);
	if (csvr__open(&r, trace_file.path)) {
		fprintf(stderr, "memtrace-bpf stages: %s\n", r.err);
		goto out;
	}
	if (r.c_event < 0 || r.c_label < 0) {
		fprintf(stderr, "memtrace-bpf stages: %s has no event/label columns: stages needs a "
			"trace written by memtrace-bpf with marks (sudo memtrace-bpf -o trace.csv -- "
			"COMMAND)\n", trace_file.path);
		goto out;
	}
	while ((e = csvr__next(&r, &row)) > 0) {
		if (trace_file.only_pid && row.pid != trace_file.only_pid)
			continue;
		if (stages__row(&s, row.ts_ns, row.pid, row.vmrss_kb, row.event, row.label)) {
			fprintf(stderr, "memtrace-bpf stages: out of memory at %s:%llu\n", trace_file.path,
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
			"the application's own readings use 'memtrace-bpf validate %s'.\n", trace_file.path,
			trace_file.only_pid ? " for that pid" : "", trace_file.path);
		goto out;
	}
	if (stages__finish(&s)) {
		fprintf(stderr, "memtrace-bpf stages: out of memory\n");
		goto out;
	}
	if (trace_file.json)
		stages_report_json(stdout, &s, trace_file.path, r.t0_ns);
	else
		stages_report_table(stdout, &s, trace_file.path);
	ret = report_written("stages");
out:
	stages__free(&s);
	csvr__close(&r);
	return ret;
}
