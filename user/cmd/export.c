// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* memtrace-bpf export --perfetto TRACE.csv: the trace for Perfetto's UI
 * and trace_processor. */
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cmd/cmd.h"
#include "format/csv.h"
#include "format/perfetto.h"
#include "lib/files.h"
#include "lib/units.h"

#define SUFFIX ".pftrace"

static struct {
	const char *trace, *output;
	bool perfetto;
	pid_t pid;
} ea;

enum { OPT_PERFETTO = 1300, OPT_PID };

static const char doc[] =
"Export a memtrace-bpf trace to Perfetto's trace format, to look at it in\n"
"ui.perfetto.dev or query it with trace_processor.\n"
"\n"
"USAGE: memtrace-bpf export --perfetto TRACE.csv [-o FILE] [--pid PID]\n"
"\n"
"Writes Perfetto's protobuf trace (a .pftrace file): a process track per\n"
"process (its pid and name), with the counters Perfetto names its own\n"
"process memory counters by: mem.rss, mem.rss.anon, mem.rss.file,\n"
"mem.rss.shmem, mem.swap, and mem.virt (VmSize), each value the trace's\n"
"exact one, a value per change; mem.rss.tree, the traced tree's total;\n"
"instants for checkpoints, marks, log lines, --kill-at and --alert\n"
"crossings, fork, exec, attach and exit (the row's columns as arguments);\n"
"NAME:begin .. NAME:end marks as slices. Timestamps are the trace's ts_ns,\n"
"CLOCK_MONOTONIC, declared as the trace's clock. After its exit, a\n"
"process's counters are 0. Open the file in ui.perfetto.dev (Open trace\n"
"file: it is read in the browser, not uploaded) or a local trace_processor.\n"
"\n"
"EXAMPLES:\n"
"  memtrace-bpf export --perfetto t.csv                    # writes t.pftrace\n"
"  memtrace-bpf export --perfetto t.csv -o run.pftrace     # another name\n"
"  memtrace-bpf export --perfetto t.csv --pid 4242         # one process\n"
"  memtrace-bpf export --perfetto t.csv -o - | gzip >t.gz  # to a pipe\n"
"\n"
"Exit status: 0 written; 1 the trace cannot be read or has no rows (of\n"
"--pid), or the output cannot be written; 2 bad command line.\n"
"\n"
"OPTIONS:";

static const struct argp_option opts[] = {
	{ "perfetto", OPT_PERFETTO, NULL, 0, "Perfetto's protobuf trace format (the one format so far)", 0 },
	{ "output", 'o', "FILE", 0, "Write to FILE (default: the trace's name with .pftrace for .csv; -: stdout); written whole, then put in place", 0 },
	{ "pid", OPT_PID, "PID", 0, "Only this process (without the tree's total)", 0 },
	{},
};

#define usage_err(...) usage_exit("export", __VA_ARGS__)

static error_t parse(int key, char *arg, struct argp_state *st)
{
	unsigned long u;

	(void)st;
	switch (key) {
	case OPT_PERFETTO:
		ea.perfetto = true;
		break;
	case 'o':
		if (!*arg)
			usage_err("-o: an empty file name (give a file, or - for stdout)");
		ea.output = arg;
		break;
	case OPT_PID:
		if (parse_uint(arg, 0x7fffffff, &u) || !u)
			usage_err("--pid %s: not a PID", arg);
		ea.pid = (pid_t)u;
		break;
	case ARGP_KEY_ARG:
		if (ea.trace)
			usage_err("one trace at a time (got %s and %s)", ea.trace, arg);
		ea.trace = arg;
		break;
	case ARGP_KEY_END:
		if (!ea.trace)
			usage_err("which trace? e.g. memtrace-bpf export --perfetto trace.csv");
		if (!ea.perfetto)
			usage_err("which format? --perfetto (Perfetto's trace format, the one so far)");
		if (!ea.output && !strcmp(ea.trace, "-"))
			usage_err("the trace comes from stdin: give -o FILE (or -o - for stdout)");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* trace.csv (.csv.zst, .csv.gz) -> trace.pftrace, other names get
 * .pftrace appended. */
static const char *default_output(char *buf, size_t len)
{
	if (!zpath_beside(buf, len, ea.trace, SUFFIX + 1))
		usage_err("%s: too long a name to put %s after; give -o FILE", ea.trace, SUFFIX);
	return buf;
}

/* Output path b is the file trace a is read from: renamed over at the
 * end, the trace would be gone. (b as it is: a link there is refused
 * anyway, by out_file.) */
static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return strcmp(a, "-") && strcmp(b, "-") && !stat(a, &sa) && !lstat(b, &sb) &&
	       sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The trace's rows, as Perfetto packets into pf, whose stream f is named
 * name in messages. 0, or -1 said. */
static int export_rows(struct pf_out *pf, struct csv_reader *r, const struct pf_columns *cols,
		       FILE *f, const char *name)
{
	struct csv_row row;
	struct pf_row pr;
	int e, we = 0;

	while ((e = csvr__next(r, &row)) > 0) {
		if (ea.pid && row.pid != ea.pid)
			continue;
		e = pf_row__read(&pr, r, &row, cols);
		if (e)
			break;
		we = pf_out__row(pf, &pr);
		if (we)
			break;
	}
	if (we == -ENOMEM) {
		fprintf(stderr, "memtrace-bpf export: out of memory at %s:%llu\n", ea.trace,
			(unsigned long long)r->line);
		return -1;
	}
	if (we == -EMSGSIZE) {
		fprintf(stderr, "memtrace-bpf export: %s:%llu: the row does not fit in a packet of "
			"our buffer (more text than a line may hold)\n", ea.trace,
			(unsigned long long)r->line);
		return -1;
	}
	if (e < 0) {
		fprintf(stderr, "memtrace-bpf export: %s\n", r->err[0] ? r->err : "read error");
		return -1;
	}
	if (!we && !pf->st.rows) {
		say_no_rows("export", "export", ea.pid, ea.trace);
		return -1;
	}
	/* a full disk or a closed pipe (-EIO) */
	if (we || fflush(f) || ferror(f)) {
		fprintf(stderr, "memtrace-bpf export: writing %s failed: %s\n", name,
			strerror(errno ? errno : EIO));
		return -1;
	}
	return 0;
}

int cmd_export(int argc, char **argv)
{
	static const struct argp argp = { .options = opts, .parser = parse, .doc = doc };
	static char obuf[1 << 20];
	char out_path[PATH_MAX], size[32];
	struct cmd_out out;
	struct csv_reader r;
	struct pf_out pf;
	struct pf_cfg cfg = { 0 };
	struct pf_columns cols;
	const char *output;
	bool inited = false;
	off_t bytes;
	int ret = EXIT_TRACE_ERR;

	memset(&ea, 0, sizeof(ea));
	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return EXIT_USAGE;
	output = ea.output ? ea.output : default_output(out_path, sizeof(out_path));
	if (same_file(ea.trace, output))
		usage_err("-o %s is the trace itself: the export would replace it; give another name",
			  output);
	memset(&r, 0, sizeof(r));
	r.fd = -1;
	if (cmd_out__open(&out, "export", output, "the trace", true))
		goto out;
	setvbuf(out.f, obuf, _IOFBF, sizeof(obuf));
	if (csvr__open(&r, ea.trace)) {
		fprintf(stderr, "memtrace-bpf export: %s\n", r.err);
		goto out;
	}
	r.sizes = true;
	pf_columns__find(&cols, &cfg, &r, !ea.pid);
	cfg.title = ea.trace;
	if (pf_out__init(&pf, &cfg, out.f)) {
		fprintf(stderr, "memtrace-bpf export: out of memory for the output buffer\n");
		goto out;
	}
	inited = true;
	if (export_rows(&pf, &r, &cols, out.f, out.path ? out.path : "the trace to stdout"))
		goto out;
	bytes = ftello(out.f);
	if (cmd_out__publish(&out))
		goto out;
	if (out.path)
		fprintf(stderr, "memtrace-bpf export: %s: %llu rows -> %s (%s): %llu process%s, "
			"%llu counter values, %llu instants, %llu slices\n", ea.trace,
			(unsigned long long)pf.st.rows, output,
			format_size(bytes > 0 ? (uint64_t)bytes : 0, size, sizeof(size)),
			(unsigned long long)pf.st.processes, pf.st.processes == 1 ? "" : "es",
			(unsigned long long)pf.st.counter_values,
			(unsigned long long)pf.st.instants, (unsigned long long)pf.st.slices);
	ret = 0;
out:
	cmd_out__close(&out);
	if (inited)
		pf_out__free(&pf);
	csvr__close(&r);
	return ret;
}
