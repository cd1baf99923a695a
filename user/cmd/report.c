// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* memtrace-bpf report TRACE.csv: the trace as a page people look at (or
 * one SVG chart). */
#include <argp.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "cmd/cmd.h"
#include "lib/units.h"
#include "report/report.h"
#include "trace/run.h"

static struct {
	struct report_opts o;
	enum report_format fmt;
	const char *out;
	char out_buf[4096];
} ra;

enum { OPT_FORMAT = 1300, OPT_PID, OPT_SUMMARY, OPT_MAX_SIZE, OPT_TITLE };

static const char doc[] =
"One trace as a self-contained HTML page that opens offline in any browser:\n"
"the exact RSS over time (anon, file and shmem stacked; VmSize and swap as\n"
"lines; a lane per process of a tree), spikes shaded, the exact peak marked,\n"
"checkpoints, marks, stages, guard and alert lines, and what a 10 ms and a\n"
"100 ms poller would have read; zoom down to single rows, with the summary\n"
"and the spike table under the chart. --format svg: one static chart.\n"
"\n"
"USAGE: memtrace-bpf report TRACE.csv [-o FILE] [--format html|svg] [OPTIONS]\n"
"\n"
"Each pixel column of the chart shows the exact lowest and highest RSS in\n"
"it, at any zoom: no transient disappears. The page embeds min/max buckets\n"
"at several widths, finer ones as its size allows (--max-size), and the\n"
"rows themselves where they fit; the trace is read once, in bounded memory.\n"
"\n"
"EXAMPLES:\n"
"  memtrace-bpf report trace.csv                   # trace.html beside it\n"
"  memtrace-bpf report trace.csv -o run.html       # elsewhere\n"
"  memtrace-bpf report trace.csv --format svg      # trace.svg: one chart\n"
"  memtrace-bpf report trace.csv --pid 4242        # one process of a tree\n"
"  sudo memtrace-bpf --report -o t.csv -- ./job    # t.html after the run\n"
"\n"
"Exit status: 0 report written; 1 the trace cannot be read (or has no rows)\n"
"or the report cannot be written; 2 bad command line.\n"
"\n"
"OPTIONS:";

static const struct argp_option opts[] = {
	{ "output", 'o', "FILE", 0, "The report (default: beside the trace, trace.csv -> trace.html or trace.svg; - for stdout)", 0 },
	{ "format", OPT_FORMAT, "html|svg", 0, "A page (default) or one static SVG chart", 0 },
	{ "pid", OPT_PID, "PID", 0, "Only this process", 0 },
	{ "summary", OPT_SUMMARY, "FILE", 0, "The run's summary JSON to show with it (default: the one beside the trace, if there)", 0 },
	{ "max-size", OPT_MAX_SIZE, "SIZE", 0, "The page at most about SIZE: finer detail is left out first (default 8M)", 0 },
	{ "title", OPT_TITLE, "TEXT", 0, "The page's title (default: the trace's path)", 0 },
	{},
};

#define usage_err(...) usage_exit("report", __VA_ARGS__)

static error_t parse(int key, char *arg, struct argp_state *st)
{
	unsigned long u;
	uint64_t v;

	(void)st;
	switch (key) {
	case 'o':
		ra.out = arg;
		break;
	case OPT_FORMAT:
		if (!strcmp(arg, "html"))
			ra.fmt = REPORT_HTML;
		else if (!strcmp(arg, "svg"))
			ra.fmt = REPORT_SVG;
		else
			usage_err("--format %s: use html or svg", arg);
		break;
	case OPT_PID:
		if (parse_uint(arg, 0x7fffffff, &u) || !u)
			usage_err("--pid %s: not a PID", arg);
		ra.o.only_pid = (pid_t)u;
		break;
	case OPT_SUMMARY:
		ra.o.summary = arg;
		break;
	case OPT_MAX_SIZE:
		if (parse_size(arg, &v) || v < (256 << 10))
			usage_err("--max-size %s: not a size of 256K or more (e.g. 4M, 8M, 32M)", arg);
		ra.o.max_bytes = v;
		break;
	case OPT_TITLE:
		ra.o.title = arg;
		break;
	case ARGP_KEY_ARG:
		if (ra.o.trace)
			usage_err("one trace at a time (got %s and %s)", ra.o.trace, arg);
		ra.o.trace = arg;
		break;
	case ARGP_KEY_END:
		if (!ra.o.trace)
			usage_err("which trace? e.g. memtrace-bpf report trace.csv");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* The report would replace the trace it is made from. */
static bool same_file(const char *a, const char *b)
{
	struct stat x, y;

	return !stat(a, &x) && !stat(b, &y) && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

int cmd_report(int argc, char **argv)
{
	static const struct argp argp = { .options = opts, .parser = parse, .doc = doc };
	char err[1024];

	memset(&ra, 0, sizeof(ra));
	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return EXIT_USAGE;
	ra.o.version = MEMTRACE_VERSION;
	if (!ra.out) {
		if (!strcmp(ra.o.trace, "-"))
			ra.out = "-";
		else
			ra.out = report_path_beside(ra.out_buf, sizeof(ra.out_buf), ra.o.trace,
						    ra.fmt == REPORT_SVG ? "svg" : "html");
	}
	if (!strcmp(ra.out, "-") && stdio_closed[1])
		usage_err("-o -: our stdout is closed; give -o FILE");
	if (strcmp(ra.out, "-") && same_file(ra.out, ra.o.trace)) {
		fprintf(stderr, "memtrace-bpf report: %s is the trace itself; give -o another name\n",
			ra.out);
		return EXIT_TRACE_ERR;
	}
	if (report_write(&ra.o, ra.fmt, AT_FDCWD, ra.out, err, sizeof(err))) {
		fprintf(stderr, "memtrace-bpf report: %s\n", err);
		return EXIT_TRACE_ERR;
	}
	if (strcmp(ra.out, "-"))
		fprintf(stderr, "memtrace-bpf report: wrote %s\n", ra.out);
	return 0;
}
