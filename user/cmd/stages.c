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
"A point mark NAME starts a stage that the next mark of the same process\n"
"ends, whatever its name: a frame marked decode, detect, write gives the\n"
"stages decode->detect, detect->write and write->the next decode. The last\n"
"one ends at the process's exit (or the end of the trace). NAME:begin ..\n"
"NAME:end is a span: it ends only at its NAME:end (spans nest), and its\n"
"marks end a point stage too. Per stage: how many, time (total, mean,\n"
"longest), RSS at the first entry and the last exit, the highest RSS\n"
"inside, the largest rise inside one stage above its entry, and the growth\n"
"(exit - entry, summed). Marks come from a write to $MEMTRACE_MARK_FD (any\n"
"language) or MEMTRACE_MARK() in C/C++ (#include <memtrace/mark.h>); see\n"
"README.\n"
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
	/* the table needs the stages' figures only, not every interval */
	s.keep_intervals = trace_file.json;
	while ((e = csvr__next(&r, &row)) > 0) {
		if (trace_file.only_pid && row.pid != trace_file.only_pid) {
			stages__time(&s, row.ts_ns);	/* the trace goes on */
			continue;
		}
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
	if (trace_file.json) {
		e = stages_report_json(stdout, &s, trace_file.path, r.t0_ns);
		if (e) {
			fflush(stdout);
			fprintf(stderr, "memtrace-bpf stages: cannot read back the intervals kept in a "
				"temporary file ($TMPDIR, else /var/tmp): %s; the JSON is cut short. "
				"Without --format json the table needs none.\n", strerror(-e));
			goto out;
		}
	} else {
		stages_report_table(stdout, &s, trace_file.path);
	}
	ret = report_written("stages");
out:
	stages__free(&s);
	csvr__close(&r);
	return ret;
}
