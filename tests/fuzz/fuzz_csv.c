// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: the trace reader (format/csv_read.c) read to its end,
 * each row fed to the analyses the offline subcommands run on it (spikes
 * in both its rules, validate, stages) and to the Perfetto writer, then
 * their reports, table and JSON, written to /dev/null. What
 * cmd/spikes.c, validate.c, stages.c and export.c do with a trace, less
 * their command lines.
 *
 * Built by `make fuzz` with a small CSV_MAX_LINE and read buffer, so that
 * small inputs reach the line limit and lines that cross a refill.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "analysis/spikes.h"
#include "analysis/spikes_report.h"
#include "analysis/stages.h"
#include "analysis/stages_report.h"
#include "analysis/validate.h"
#include "analysis/validate_report.h"
#include "format/csv.h"
#include "format/json.h"
#include "format/jsonl.h"
#include "format/perfetto.h"
#include "lib/units.h"

static int memfd = -1;
static char path[64];
static FILE *devnull;

/* The input as a file: csvr__open takes a path, and reads it as a trace
 * is read, from its start, in chunks. */
static int as_file(const uint8_t *data, size_t size)
{
	if (memfd < 0) {
		memfd = memfd_create("fuzz-trace", 0);
		devnull = fopen("/dev/null", "w");
		if (memfd < 0 || !devnull)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	}
	if (ftruncate(memfd, 0) || pwrite(memfd, data, size, 0) != (ssize_t)size)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spikes_cfg cfg[2] = {
		{ .min_rise_kb = 1024, .settle_pct = 10, .npoll = 2,
		  .poll_ns = { 10000000, 100000000 } },
		{ .min_rise_kb = 4, .settle_kb = 4, .window_ns = 1000000, .npoll = 1,
		  .poll_ns = { 1000 } },
	};
	struct v_cfg vcfg = { .compare = V_CMP_AUTO, .tol_pct = 5 };
	struct spikes *s[2];
	struct validation v;
	struct stages st;
	struct csv_reader r;
	struct csv_row row;
	struct pf_out pf;
	struct pf_columns pcols;
	struct pf_cfg pcfg;
	struct pf_row pr;
	bool pf_on = false;
	uint64_t last_ts = 0, rows = 0;
	int e;

	/* the JSON Lines writer on the input as a row (ours are well formed:
	 * this is for its bounds), into a buffer of a size the input picks */
	{
		static char out[JSONL_MAX_ROW];

		jsonl_from_csv_row(out, 64 + (size_t)(size ? data[0] : 0) * 40, (const char *)data,
				   size < 4096 ? size : 4096);
	}
	as_file(data, size);
	s[0] = spikes__new(&cfg[0]);
	s[1] = spikes__new(&cfg[1]);
	validation__init(&v, &vcfg);
	stages__init(&st);
	if (!s[0] || !s[1])
		abort();
	e = csvr__open(&r, path);
	if (!e) {
		pf_columns__find(&pcols, &pcfg, &r, true);
		pcfg.title = path;
		if (pf_out__init(&pf, &pcfg, devnull))
			abort();
		pf_on = true;
		while ((e = csvr__next(&r, &row)) > 0) {
			int64_t kb;

			rows++;
			if (row.ts_ns > last_ts)
				last_ts = row.ts_ns;
			for (int i = 0; i < 2; i++)
				if (spikes__push(s[i], row.pid, row.ts_ns, row.vmrss_kb,
						 spike_ev_of(row.type, row.nr, row.cause),
						 spike_call_of(row.type, row.nr, row.cause, row.tid)))
					abort();	/* out of memory: not on these sizes */
			if (!strcmp(row.event, "log") && row.reported[0])
				parse_reported_kb(row.reported, false, &kb);
			if (r.c_event >= 0 && r.c_cause >= 0 &&
			    validation__row(&v, r.line, row.ts_ns, row.pid, row.vmrss_kb, row.event,
					    row.cause_text, row.label, row.reported))
				abort();
			if (r.c_event >= 0 && r.c_label >= 0 &&
			    stages__row(&st, row.ts_ns, row.pid, row.vmrss_kb, row.event, row.label))
				abort();
			/* a malformed size stops the export (as export does); a
			 * packet over its buffer is our bug */
			if (pf_on && pf_row__read(&pr, &r, &row, &pcols))
				pf_on = false;
			else if (pf_on && pf_out__row(&pf, &pr))
				abort();
		}
		pf_out__free(&pf);
	}
	/* an error is a message naming the file, never 0 rows said as the end */
	if (e < 0 && !r.err[0])
		abort();
	if (!e && rows) {
		for (int i = 0; i < 2; i++) {
			struct jw w;

			spikes__finish(s[i], last_ts);
			spikes_report_table(devnull, s[i], r.t0_ns, i ? 0 : 20);
			spikes_report_growth(devnull, s[i], r.t0_ns);
			spikes_report_polling(devnull, s[i], r.t0_ns);
			jw_begin(&w, devnull);
			jw_obj(&w, NULL);
			spikes_report_json(&w, s[i], r.t0_ns, 0);
			jw_obj_end(&w);
		}
		if (v.ncps) {
			validation__finish(&v);
			validate_report_table(devnull, &v, path, r.t0_ns);
			validate_report_json(devnull, &v, path, r.t0_ns);
		}
		if (st.marks && !stages__finish(&st)) {
			stages_report_table(devnull, &st, path);
			stages_report_json(devnull, &st, path, r.t0_ns);
		}
	}
	csvr__close(&r);
	stages__free(&st);
	validation__free(&v);
	spikes__free(s[0]);
	spikes__free(s[1]);
	return 0;
}
