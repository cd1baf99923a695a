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
#include "analysis/validate_report.h"

#define WARN_MAX 5	/* unit warnings said in full; the rest counted */

static struct {
	struct v_cfg cfg;
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
"so far when the words that label the value speak of a peak (peak, max,\n"
"HWM, high): in 'Memory: 13 MB | Images: 20 | Peak: 63 MB' the value\n"
"'13 MB' is labelled 'Memory:' (the current RSS), '63 MB' 'Peak:'. Words\n"
"elsewhere in the line do not count; --compare current|peak decides for all.\n"
"Units: B; K, KB, KiB, M, MB, MiB, G, GB, GiB (KB/MB/GB 1024-based unless\n"
"--si). The verdict names the largest error, the largest excursion no\n"
"checkpoint saw, and whether the application's peak figure can be trusted.\n"
"\n"
"EXAMPLES:\n"
"  memtrace-bpf validate trace.csv                    # table and verdict\n"
"  memtrace-bpf validate trace.csv --format json      # \"checkpoints\": [...]\n"
"  memtrace-bpf validate trace.csv --compare peak     # values are peaks\n"
"  memtrace-bpf validate trace.csv --compare current  # values are the RSS then\n"
"  memtrace-bpf validate trace.csv --tolerance 2%     # stricter peak verdict\n"
"\n"
"Exit status: 0 report written; 1 the trace cannot be read or has no\n"
"checkpoint; 2 bad command line.\n"
"\n"
"OPTIONS:";

static const struct argp_option opts[] = {
	{ "compare", OPT_COMPARE, "auto|rss|peak", 0, "What a reported value is compared with: current (or rss: the RSS at its checkpoint), peak (the exact peak so far) or auto (default: peak when the words that label the value say peak/max/HWM/high)", 0 },
	{ "tolerance", OPT_TOLERANCE, "PCT%|SIZE", 0, "How close the reported peak must be to the true peak to be trusted (default 5%)", 0 },
	{ "si", OPT_SI, NULL, 0, "Read KB, MB, GB in reported values as 1000-based", 0 },
	{},
};

#define usage_err(...) usage_exit("validate", __VA_ARGS__)

static error_t parse(int key, char *arg, struct argp_state *st)
{
	switch (key) {
	case OPT_COMPARE:
		if (!strcmp(arg, "auto"))
			va.cfg.compare = V_CMP_AUTO;
		else if (!strcmp(arg, "current") || !strcmp(arg, "rss"))
			va.cfg.compare = V_CMP_RSS;
		else if (!strcmp(arg, "peak"))
			va.cfg.compare = V_CMP_PEAK;
		else
			usage_err("--compare %s: use current (the RSS at the checkpoint; also spelled "
				  "rss), peak (the exact peak so far) or auto (from the value's label "
				  "in its line)", arg);
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

int cmd_validate(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &trace_file_argp, 0, NULL, 0 },
		{},
	};
	static const struct argp argp = { .options = opts, .parser = parse, .doc = doc,
					  .children = children };
	struct validation v;
	struct csv_reader r;
	struct csv_row row;
	uint64_t nwarn = 0;
	int e, ret = EXIT_TRACE_ERR;

	memset(&va, 0, sizeof(va));
	trace_file.sub = "validate";
	va.cfg.tol_pct = 5;
	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return EXIT_USAGE;
	validation__init(&v, &va.cfg);
	if (csvr__open(&r, trace_file.path)) {
		fprintf(stderr, "memtrace-bpf validate: %s\n", r.err);
		goto out;
	}
	if (r.c_event < 0 || r.c_cause < 0) {
		fprintf(stderr, "memtrace-bpf validate: %s has no event/cause columns: validate needs a "
			"trace written by memtrace-bpf (sudo memtrace-bpf -o trace.csv -- COMMAND)\n",
			trace_file.path);
		goto out;
	}
	while ((e = csvr__next(&r, &row)) > 0) {
		int pe;

		if (trace_file.only_pid && row.pid != trace_file.only_pid && strcmp(row.event, "log"))
			continue;
		/* the first few said in full, the rest counted below */
		if (!strcmp(row.event, "log") && row.reported[0] &&
		    (pe = parse_reported_kb(row.reported, va.cfg.si, &(int64_t){ 0 })) &&
		    nwarn++ < WARN_MAX)
			fprintf(stderr, "memtrace-bpf validate: warning: %s:%llu: the reported value "
				"'%.*s' %s; shown as text, not compared. Line: %.*s%s\n", trace_file.path,
				(unsigned long long)r.line, utf8_cut(row.reported, 64), row.reported,
				pe == -EDOM ? "has no unit or one validate does not know (B, K/KB/KiB, "
				"M/MB/MiB, G/GB/GiB, T/TB/TiB)" : "is not a number with a unit",
				utf8_cut(row.label, 160), row.label,
				strlen(row.label) > 160 ? " [...]" : "");
		if (validation__row(&v, r.line, row.ts_ns, row.pid, row.vmrss_kb, row.event, row.cause_text,
				    row.label, row.reported)) {
			fprintf(stderr, "memtrace-bpf validate: out of memory at %s:%llu\n", trace_file.path,
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
		if (trace_file.only_pid)
			fprintf(stderr, "memtrace-bpf validate: no checkpoint of pid %d in %s\n",
				trace_file.only_pid, trace_file.path);
		else
			fprintf(stderr, "memtrace-bpf validate: %s has no checkpoint rows: the traced "
				"program never read /proc/self/status, statm or smaps_rollup nor called "
				"getrusage while traced (a trace older than checkpoints has none either). "
				"For named stages use marks and 'memtrace-bpf stages %s'.\n",
				trace_file.path, trace_file.path);
		goto out;
	}
	validation__finish(&v);
	if (trace_file.json)
		validate_report_json(stdout, &v, trace_file.path, r.t0_ns);
	else
		validate_report_table(stdout, &v, trace_file.path, r.t0_ns);
	ret = report_written("validate");
out:
	validation__free(&v);
	csvr__close(&r);
	return ret;
}
