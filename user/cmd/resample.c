// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* memtrace-bpf resample TRACE.csv: the timeline at a fixed period, for
 * tools written for a poller's evenly spaced rows. */
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "analysis/resample.h"
#include "cmd/cmd.h"
#include "format/csv.h"
#include "lib/files.h"
#include "lib/units.h"

#define RESAMPLE_HEADER "time_s,vmrss_kb,vmsize_kb,max_vmrss_kb,min_vmrss_kb,max_time_s,rows"
/* Rows written at most: 1,000,000,000 is 115 days at 10 ms, 11.6 days at
 * 1 ms, ~60 GB of CSV; more is a mistake (a period too short, or a bogus
 * time in the trace), said before anything that large is written. */
#define RESAMPLE_MAX_ROWS 1000000000ULL

static struct {
	const char *trace, *output;
	uint64_t every_ns;
	pid_t pid;
} ra;

enum { OPT_EVERY = 1200, OPT_PID };

static const char doc[] =
"Resample a memtrace-bpf trace at a fixed period, for tools written for a\n"
"/proc poller's evenly spaced rows.\n"
"\n"
"USAGE: memtrace-bpf resample TRACE.csv [--every PERIOD] [-o FILE] [--pid PID]\n"
"\n"
"A trace has a row per change, at uneven times: a script that counts rows\n"
"as time (rates, moving averages, \"rose 20 MB between two samples\") is\n"
"wrong on it. This writes one row per instant 0, PERIOD, 2*PERIOD... of the\n"
"trace's time_s, from its first row to the first instant at or after its\n"
"last row. First the columns of a poller's file, time_s,vmrss_kb,vmsize_kb,\n"
"with the exact value at that instant (the last trace row at or before it);\n"
"then max_vmrss_kb and min_vmrss_kb, the highest and lowest value held\n"
"since the previous instant (so no transient between two instants is lost),\n"
"max_time_s, when that max was first held, and rows, the trace rows in\n"
"that interval.\n"
"\n"
"vmrss_kb is the traced tree's total (total_rss_kb: every process traced,\n"
"as the summary's peak counts them; for one process, its VmRSS) and\n"
"vmsize_kb the sum of the VmSize of the processes alive. --pid: that one\n"
"process (0 after its exit). Also reads a poller's time_s,vmrss_kb file.\n"
"For exact questions (the peak, when, what made it) use the trace itself.\n"
"\n"
"EXAMPLES:\n"
"  memtrace-bpf resample t.csv --every 10ms -o p.csv  # as a 10 ms poller\n"
"  memtrace-bpf resample t.csv --every 1s             # a row a second\n"
"  memtrace-bpf resample t.csv --pid 4242 -o p.csv    # one process\n"
"  memtrace-bpf resample t.csv | cut -d, -f1-3        # a poller's columns\n"
"\n"
"Exit status: 0 written; 1 the trace cannot be read or has no rows (of\n"
"--pid), or the output cannot be written; 2 bad command line.\n"
"\n"
"OPTIONS:";

static const struct argp_option opts[] = {
	{ "every", OPT_EVERY, "PERIOD", 0, "The period, 1us or more (default 10ms): 10ms, 100ms, 1s", 0 },
	{ "output", 'o', "FILE", 0, "Write to FILE (default, or -: stdout); written whole, then put in place", 0 },
	{ "pid", OPT_PID, "PID", 0, "That process's VmRSS and VmSize (default: the tree's total)", 0 },
	{},
};

#define usage_err(...) usage_exit("resample", __VA_ARGS__)

static error_t parse(int key, char *arg, struct argp_state *st)
{
	unsigned long u;

	(void)st;
	switch (key) {
	case OPT_EVERY:
		if (parse_duration(arg, &ra.every_ns) || ra.every_ns < 1000)
			usage_err("--every %s: not a period of 1us or more (e.g. 10ms, 1s)", arg);
		break;
	case 'o':
		if (!*arg)
			usage_err("-o: an empty file name (give a file, or - for stdout)");
		ra.output = arg;
		break;
	case OPT_PID:
		if (parse_uint(arg, 0x7fffffff, &u) || !u)
			usage_err("--pid %s: not a PID", arg);
		ra.pid = (pid_t)u;
		break;
	case ARGP_KEY_ARG:
		if (ra.trace)
			usage_err("one trace at a time (got %s and %s)", ra.trace, arg);
		ra.trace = arg;
		break;
	case ARGP_KEY_END:
		if (!ra.trace)
			usage_err("which trace? e.g. memtrace-bpf resample trace.csv --every 10ms");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* Nanoseconds as seconds with 9 decimals. */
static void put_secs(FILE *f, uint64_t ns)
{
	fprintf(f, "%llu.%09llu", (unsigned long long)(ns / 1000000000ULL),
		(unsigned long long)(ns % 1000000000ULL));
}

struct writer {
	FILE *f;
	uint64_t t0_ns;
	bool header;		/* written */
	int err;		/* the first write error (errno), 0: none */
};

static int write_row(void *ctx, const struct resample_row *row)
{
	struct writer *w = ctx;

	/* with the first row: a trace refused before it leaves stdout empty */
	if (!w->header)
		fprintf(w->f, "%s\n", RESAMPLE_HEADER);
	w->header = true;
	put_secs(w->f, row->ts_ns - w->t0_ns);
	fprintf(w->f, ",%lld,", (long long)row->value_kb);
	if (row->vmsize_kb >= 0)
		fprintf(w->f, "%lld", (long long)row->vmsize_kb);
	fprintf(w->f, ",%lld,%lld,", (long long)row->max_kb, (long long)row->min_kb);
	put_secs(w->f, row->max_ts_ns - w->t0_ns);
	fprintf(w->f, ",%llu\n", (unsigned long long)row->rows);
	/* a full disk or a closed pipe stops the reading too */
	if (ferror(w->f)) {
		w->err = errno ? errno : EIO;
		return -ECANCELED;
	}
	return 0;
}

/* The trace's rows into s (made at the first row: time_s 0 is known from
 * it), written by w. 0, or -1 said. */
static int resample_rows(struct resample *s, bool *inited, struct csv_reader *r,
			 struct writer *w)
{
	struct csv_row row;
	char per[32];
	int e;

	while ((e = csvr__next(r, &row)) > 0) {
		if (!*inited) {
			struct resample_cfg cfg = { .period_ns = ra.every_ns, .t0_ns = r->t0_ns,
						    .pid = ra.pid, .use_total = r->c_total >= 0,
						    .max_rows = RESAMPLE_MAX_ROWS };

			resample__init(s, &cfg, write_row, w);
			w->t0_ns = r->t0_ns;
			*inited = true;
		}
		e = resample__row(s, row.ts_ns, row.pid, row.type == MT_REC_EXIT || row.type == MT_REC_LEAVE,
				  row.vmrss_kb,
				  row.vmsize_kb, row.total_rss_kb);
		if (e)
			break;
	}
	if (e == -EFBIG) {
		fprintf(stderr, "memtrace-bpf resample: %s:%llu: its time (%.3f s) is more than "
			"%llu instants of %s after the first row; give a longer --every\n", ra.trace,
			(unsigned long long)r->line, secs_since(row.ts_ns, r->t0_ns), RESAMPLE_MAX_ROWS,
			format_duration(ra.every_ns, per, sizeof(per)));
		return -1;
	}
	if (e == -ENOMEM) {
		fprintf(stderr, "memtrace-bpf resample: out of memory at %s:%llu\n", ra.trace,
			(unsigned long long)r->line);
		return -1;
	}
	if (e < 0 && !w->err) {
		fprintf(stderr, "memtrace-bpf resample: %s\n", r->err[0] ? r->err : "read error");
		return -1;
	}
	if (!e) {
		e = *inited ? resample__finish(s) : -ENODATA;
		if (e == -ENODATA) {
			say_no_rows("resample", "resample", *inited ? ra.pid : 0, ra.trace);
			return -1;
		}
	}
	return 0;
}

int cmd_resample(int argc, char **argv)
{
	static const struct argp argp = { .options = opts, .parser = parse, .doc = doc };
	static char obuf[1 << 16];
	struct cmd_out out;
	struct csv_reader r;
	struct resample s;
	struct writer w = { 0 };
	bool inited = false;
	char per[32];
	int ret = EXIT_TRACE_ERR;

	memset(&ra, 0, sizeof(ra));
	ra.every_ns = 10000000ULL;
	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return EXIT_USAGE;
	memset(&r, 0, sizeof(r));
	r.fd = -1;
	if (cmd_out__open(&out, "resample", ra.output, "the rows", false))
		goto out;
	w.f = out.f;
	setvbuf(w.f, obuf, _IOFBF, sizeof(obuf));
	if (csvr__open(&r, ra.trace)) {
		fprintf(stderr, "memtrace-bpf resample: %s\n", r.err);
		goto out;
	}
	r.sizes = true;
	if (resample_rows(&s, &inited, &r, &w))
		goto out;
	if (!w.err && (fflush(w.f) || ferror(w.f)))
		w.err = errno ? errno : EIO;
	if (w.err) {
		fprintf(stderr, "memtrace-bpf resample: writing %s failed: %s\n",
			out.path ? out.path : "the rows to stdout", strerror(w.err));
		goto out;
	}
	if (cmd_out__publish(&out))
		goto out;
	if (out.path)
		fprintf(stderr, "memtrace-bpf resample: %s: %llu trace rows -> %s: %llu rows, every %s\n",
			ra.trace, (unsigned long long)s.rows_in, out.path,
			(unsigned long long)s.rows_out, format_duration(ra.every_ns, per, sizeof(per)));
	ret = 0;
out:
	cmd_out__close(&out);
	if (inited)
		resample__free(&s);
	csvr__close(&r);
	return ret;
}
