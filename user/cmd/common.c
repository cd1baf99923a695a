// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cmd/cmd.h"
#include "lib/files.h"
#include "lib/units.h"
#include "trace/preflight.h"
#include "trace/remote.h"
#include "trace/run.h"

bool stdio_closed[3];

void stdio_reserve(void)
{
	for (int fd = 0; fd < 3; fd++) {
		int null;

		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		stdio_closed[fd] = true;
		/* the lowest free number: this one */
		null = open("/dev/null", fd ? O_WRONLY : O_RDONLY);
		if (null >= 0 && null != fd)
			close(null);
	}
}

void usage_exit(const char *sub, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "memtrace-bpf%s%s: ", sub ? " " : "", sub ? sub : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'memtrace-bpf%s%s --help' for the options and examples.\n",
		sub ? " " : "", sub ? sub : "");
	exit(EXIT_USAGE);
}

struct trace_cli trace_cli = {
	.follow = -1,
	.ring_bytes = 8ULL << 20,
	.max_procs = 16384,
};

enum { OPT_NO_FOLLOW = 1500, OPT_AS_ROOT, OPT_RING_SIZE, OPT_MAX_PROCS, OPT_BTF, OPT_RESOLUTION };

static const struct argp_option trace_cli_options[] = {
	{ NULL, 0, NULL, 0, "Tracing:", 0 },
	{ "no-follow", OPT_NO_FOLLOW, NULL, 0, "Trace the command only, not its children (launch, campaign)", 0 },
	{ "as-root", OPT_AS_ROOT, NULL, 0, "Under sudo, run the command as root (default: as the sudo user)", 0 },
	{ "ring-size", OPT_RING_SIZE, "SIZE", 0, "Kernel ring buffer size, a power of two from 64K to 1G (default 8M: 0 lost with two processes faulting flat out here); raise it if events are lost", 0 },
	{ "max-procs", OPT_MAX_PROCS, "N", 0, "Processes traced at once, over all runs (default 16384)", 0 },
	{ "resolution", OPT_RESOLUTION, "DURATION", 0, "Thin the trace: per process and DURATION window, only its minimum and maximum RSS (exact, each at its own time) and the level it ends at; every other row kept, the summary's peak exact (default: every change)", 0 },
	{ "btf", OPT_BTF, "FILE", 0, "Kernel BTF to use instead of /sys/kernel/btf/vmlinux", 0 },
	{ "verbose", 'v', NULL, 0, "Print libbpf's debug output", 0 },
	{},
};

static void set_follow(int follow)
{
	if (trace_cli.follow >= 0 && trace_cli.follow != follow)
		usage_exit(trace_cli.sub, "--follow and --no-follow contradict each other; give one");
	trace_cli.follow = follow;
}

void trace_cli__follow(void)
{
	set_follow(1);
}

static error_t trace_cli_parse(int key, char *arg, struct argp_state *st)
{
	const char *sub = trace_cli.sub;
	unsigned long v;

	(void)st;
	switch (key) {
	case OPT_NO_FOLLOW:
		set_follow(0);
		break;
	case OPT_AS_ROOT:
		trace_cli.as_root = true;
		break;
	case 'v':
		trace_cli.verbose = true;
		break;
	case OPT_RING_SIZE:
		trace_cli.ring_set = true;
		if (parse_size(arg, &trace_cli.ring_bytes))
			usage_exit(sub, "--ring-size %s: not a size (use e.g. 16M, 64M, 1G)", arg);
		if (trace_cli.ring_bytes < (64 << 10) || trace_cli.ring_bytes > (1ULL << 30) ||
		    (trace_cli.ring_bytes & (trace_cli.ring_bytes - 1)))
			usage_exit(sub, "--ring-size %s: must be a power of two from 64K to 1G (e.g. 16M, 64M)",
				   arg);
		break;
	case OPT_MAX_PROCS:
		if (parse_uint(arg, 1 << 20, &v) || v < 1)
			usage_exit(sub, "--max-procs %s: not a number from 1 to 1048576", arg);
		trace_cli.max_procs = v;
		trace_cli.procs_set = true;
		break;
	case OPT_BTF:
		trace_cli.btf = arg;
		break;
	case OPT_RESOLUTION:
		if (parse_duration(arg, &trace_cli.resolution_ns))
			usage_exit(sub, "--resolution %s: not a duration (use e.g. 1ms, 100us, 10ms)",
				   arg);
		if (trace_cli.resolution_ns < 1000 || trace_cli.resolution_ns > 3600000000000ULL)
			usage_exit(sub, "--resolution %s: from 1us to 1h (e.g. 1ms)", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp trace_cli_argp = { .options = trace_cli_options, .parser = trace_cli_parse };

void trace_cli__tracer_opts(struct tracer_opts *to, bool follow)
{
	to->follow = follow;
	to->ring_bytes = trace_cli.ring_bytes;
	to->max_procs = (uint32_t)trace_cli.max_procs;
	to->btf_path = trace_cli.btf;
	to->verbose = trace_cli.verbose;
	/* --resolution up to 100 ms is folded in the kernel (rows are held
	 * a window longer before they are written: a longer one would hold a
	 * campaign's runs that long after their end; it saves little more);
	 * MEMTRACE_FOLD=loader folds every change in the loader instead
	 * (same rows: the A/B of make bench) */
	to->window_ns = trace_cli.resolution_ns <= 100 * 1000000ULL ? trace_cli.resolution_ns : 0;
	{
		const char *f = getenv("MEMTRACE_FOLD");

		/* the service folds nothing in the kernel (its windows would
		 * be every client's): a client thins in itself */
		if ((f && !strcmp(f, "loader")) || trace_cli.remote)
			to->window_ns = 0;
	}
}

void say_no_rows(const char *sub, const char *verb, int pid, const char *path)
{
	if (pid)
		fprintf(stderr, "memtrace-bpf %s: no rows of pid %d in %s\n", sub, pid, path);
	else
		fprintf(stderr, "memtrace-bpf %s: %s has a header but no rows: nothing to %s\n", sub,
			path, verb);
}

int report_written(const char *sub)
{
	if (!fflush(stdout) && !ferror(stdout))
		return 0;
	fprintf(stderr, "memtrace-bpf %s: writing the report failed: %s\n", sub, strerror(errno));
	return EXIT_TRACE_ERR;
}

struct trace_file trace_file;

enum { OPT_FORMAT = 1090, OPT_PID };

static const struct argp_option trace_file_options[] = {
	{ "format", OPT_FORMAT, "table|json", 0, "Output format (default table)", 0 },
	{ "pid", OPT_PID, "PID", 0, "Only this process", 0 },
	{},
};

static error_t trace_file_parse(int key, char *arg, struct argp_state *st)
{
	const char *sub = trace_file.sub;
	unsigned long u;

	(void)st;
	switch (key) {
	case OPT_FORMAT:
		if (strcmp(arg, "json") && strcmp(arg, "table"))
			usage_exit(sub, "--format %s: use table or json", arg);
		trace_file.json = !strcmp(arg, "json");
		break;
	case OPT_PID:
		if (parse_uint(arg, 0x7fffffff, &u) || !u)
			usage_exit(sub, "--pid %s: not a PID", arg);
		trace_file.only_pid = (pid_t)u;
		break;
	case ARGP_KEY_ARG:
		if (trace_file.path)
			usage_exit(sub, "one trace at a time (got %s and %s)", trace_file.path, arg);
		trace_file.path = arg;
		break;
	case ARGP_KEY_END:
		if (!trace_file.path)
			usage_exit(sub, "which trace? e.g. memtrace-bpf %s trace.csv", sub);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp trace_file_argp = { .options = trace_file_options, .parser = trace_file_parse };

void ckpt_regex_compile(const char *sub, const char *arg, regex_t *re)
{
	int rc = regcomp(re, arg, REG_EXTENDED);

	if (rc) {
		char why[256];

		regerror(rc, re, why, sizeof(why));
		usage_exit(sub, "--checkpoint-regex '%s': not a POSIX extended regex: %s", arg, why);
	}
	if (re->re_nsub < 1)
		usage_exit(sub, "--checkpoint-regex '%s': needs a group around the value, e.g. "
			   "'Peak RSS: ([0-9.]+ ?[KMG]B)'", arg);
}

void gate_option(const char *sub, bool tolerance, const char *arg, struct peak_limit *l)
{
	uint64_t b;
	int e;

	if (!tolerance) {
		if (parse_size(arg, &b) || b < 1024)
			usage_exit(sub, "--max-peak %s: not a size of 1K or more (e.g. 512M, 3000M, 2G)",
				   arg);
		l->max_peak_kb = b / 1024;
		return;
	}
	e = parse_pct_or_size(arg, 1000, &l->tolerance_pct, &b);
	if (e)
		usage_exit(sub, "--tolerance %s: %s", arg,
			   e == -ERANGE && strchr(arg, '%') ? "a percentage from 0% to 1000% (e.g. 10%)"
							    : "a percentage (10%) or a size (100M)");
	l->tolerance_kb = b / 1024;
}

/* ---- an offline subcommand's output ---- */

int cmd_out__open(struct cmd_out *o, const char *sub, const char *path, const char *what,
		  bool binary)
{
	char msg[1024];

	memset(o, 0, sizeof(*o));
	out_file__init(&o->of);
	o->sub = sub;
	o->path = path && strcmp(path, "-") ? path : NULL;
	if (!o->path) {
		if (stdio_closed[STDOUT_FILENO]) {
			fprintf(stderr, "memtrace-bpf %s: our stdout is closed, %s would go nowhere; "
				"give -o FILE\n", sub, what);
			return -1;
		}
		if (binary && isatty(STDOUT_FILENO)) {
			fprintf(stderr, "memtrace-bpf %s: stdout is a terminal and %s is binary; give "
				"-o FILE, or send stdout to a file or a pipe\n", sub, what);
			return -1;
		}
		o->f = stdout;
		return 0;
	}
	if (out_file__create(&o->of, AT_FDCWD, o->path, "output", msg, sizeof(msg))) {
		fprintf(stderr, "memtrace-bpf %s: %s\n", sub, msg);
		return -1;
	}
	o->f = out_file__stream(&o->of);
	if (!o->f) {
		fprintf(stderr, "memtrace-bpf %s: cannot write %s: %s\n", sub, o->path,
			strerror(errno));
		return -1;
	}
	return 0;
}

int cmd_out__publish(struct cmd_out *o)
{
	char msg[1024];
	int e;

	if (!o->path)
		return 0;
	e = out_file__stream_end(&o->of, o->f);
	o->f = NULL;
	if (e) {
		fprintf(stderr, "memtrace-bpf %s: writing %s failed: %s\n", o->sub, o->path,
			strerror(-e));
		return -1;
	}
	if (out_file__publish(&o->of, msg, sizeof(msg))) {
		fprintf(stderr, "memtrace-bpf %s: %s\n", o->sub, msg);
		return -1;
	}
	return 0;
}

void cmd_out__close(struct cmd_out *o)
{
	if (o->path && o->f)
		fclose(o->f);
	o->f = NULL;
	out_file__close(&o->of);
}

int trace_cli__access(char *msg, size_t len)
{
	const char *sub = trace_cli.sub, *path = remote__socket_path();
	char own[1024];

	trace_cli.remote = false;
	if (!check_privileges(own, sizeof(own)))
		return check_btf(trace_cli.btf, msg, len);
	if (geteuid() == 0 || !remote__present(path)) {
		/* root without the capabilities, or no service here */
		snprintf(msg, len, "%s%s", own, geteuid() == 0 ? "" :
			 " Or, without sudo: have an administrator enable the memtrace-bpf "
			 "service (its systemd unit memtrace-bpf.socket, or memtrace-bpf daemon), "
			 "which traces your own processes for you.");
		return -EPERM;
	}
	/* the service's own settings, and what only root may do */
	if (trace_cli.as_root)
		usage_exit(sub, "--as-root: only under sudo (you are not root, and the "
			   "memtrace-bpf service runs your commands as you)");
	if (trace_cli.ring_set || trace_cli.procs_set || trace_cli.btf)
		usage_exit(sub, "--%s belongs to the memtrace-bpf service when you trace without "
			   "root: its administrator sets it (memtrace-bpf daemon --%s)",
			   trace_cli.ring_set ? "ring-size" : trace_cli.procs_set ? "max-procs" : "btf",
			   trace_cli.ring_set ? "ring-size" : trace_cli.procs_set ? "max-procs" : "btf");
	trace_cli.remote = true;
	return 0;
}

int trace_cli__tracer_open(struct tracer **t, const struct tracer_opts *to, char *err,
			   size_t errlen)
{
	if (!trace_cli.remote)
		return tracer__open(t, to, err, errlen);
	return tracer__connect(t, remote__socket_path(), to, err, errlen);
}
