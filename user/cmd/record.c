// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * memtrace-bpf [record]: the exact RSS timeline of a launched command or of
 * running processes (and, with --comm/--cgroup, of processes someone else
 * starts: cmd/capture.c). A client of the runner with one run.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cmd/capture.h"
#include "cmd/cmd.h"
#include "format/jsonl.h"
#include "lib/zstream.h"
#include "lib/files.h"
#include "lib/metrics_http.h"
#include "lib/units.h"
#include "lib/waitstatus.h"
#include "report/report.h"
#include "trace/preflight.h"
#include "trace/runner.h"
#include "trace/summary.h"

#define MAX_PIDS 256

static struct record_env {
	const char *output;
	const char *summary;
	pid_t pids[MAX_PIDS];
	int npids;
	uint64_t interval_ns;
	bool interval_set;
	struct peak_limit limit;
	bool quiet;
	const char *ckpt_regex;
	regex_t ckpt_re;
	const char *ckpt_log;
	const char *monitor_log;
	const char *metrics;		/* --metrics FILE|ADDR */
	struct metrics_http *metrics_http;	/* --metrics ADDR: its server */
	bool report;
	int format;			/* --format: -1 unset, 0 csv, 1 jsonl */
	bool jsonl;			/* the trace's rows (format/jsonl.h) */
	char **cmd;
	int ncmd;
	struct capture_opts capture;
	char output_buf[64], summary_buf[4096], log_buf[4096];
} env = {
	.interval_ns = 1000000000ULL,
	.format = -1,
};

enum {
	OPT_FOLLOW = 1000,
	OPT_MAX_PEAK = 1006,
	OPT_TOLERANCE,
	OPT_COMM,
	OPT_CGROUP,
	OPT_CKPT_REGEX,
	OPT_CKPT_LOG,
	OPT_MONITOR_LOG,
	OPT_METRICS,
	OPT_PEAK_LINES,
	OPT_DETACH,
	OPT_FORCE,
	OPT_REPORT,
	OPT_TRACE_FORMAT,
	OPT_FORMAT,
};

const char *argp_program_version = "memtrace-bpf " MEMTRACE_VERSION;
const char *argp_program_bug_address = NULL;

static const char doc[] =
"memtrace-bpf: every RSS change of a process, exact to the page, from kernel events.\n"
"\n"
"USAGE: memtrace-bpf [record] [OPTIONS] -- COMMAND [ARGS...]\n"
"       memtrace-bpf [record] [OPTIONS] -p PID[,PID...]\n"
"       memtrace-bpf spikes TRACE.csv [OPTIONS]   (memtrace-bpf spikes --help)\n"
"       memtrace-bpf campaign -d DIR [OPTIONS] -- COMMAND {PARAM}  (campaign --help)\n"
"       memtrace-bpf validate TRACE.csv [OPTIONS] (checkpoints vs the timeline)\n"
"       memtrace-bpf stages TRACE.csv [OPTIONS]   (stages, from marks)\n"
"       memtrace-bpf report TRACE.csv [OPTIONS]   (a page to look at)\n"
"\n"
"Launch mode traces COMMAND from its first instruction (and its children);\n"
"attach mode starts from the exact state of running processes. Writes a CSV\n"
"row per change (first columns time_s,vmrss_kb,vmsize_kb, like a /proc\n"
"poller's) and a JSON summary with the exact peak.\n"
"\n"
"EXAMPLES:\n"
"  sudo memtrace-bpf -o trace.csv -- ./solver 1005   # launch, trace from exec\n"
"  sudo memtrace-bpf -p 4242 -o trace.csv            # attach to a process\n"
"  sudo memtrace-bpf -p 4242,4243 --follow -o t.csv  # and children it forks\n"
"  sudo memtrace-bpf -o t.csv -s peak.json -- make   # summary elsewhere\n"
"  sudo memtrace-bpf -i 500ms -o t.csv -- ./render   # status every 500 ms\n"
"  sudo memtrace-bpf --max-peak 3G --tolerance 10% -- ./job  # CI memory gate\n"
"  sudo memtrace-bpf --kill-at 4G -- ./job         # stop it at the page over 4G\n"
"  sudo memtrace-bpf --kill-at 4G --kill-signal TERM --grace 10s -- ./job\n"
"  sudo memtrace-bpf --alert 1G,2G --on-alert 'echo $MEMTRACE_VALUE_KB' -- ./job\n"
"  sudo memtrace-bpf --monitor-log mem.log -i 2s --timeout 1h -- ./job  # tail -f mem.log\n"
"  sudo memtrace-bpf --metrics /var/lib/node_exporter/job.prom -o t.csv -- ./job\n"
"  sudo memtrace-bpf --metrics 9464 -o t.csv -- ./job  # curl localhost:9464/metrics\n"
"  sudo memtrace-bpf record --comm solver_dev -d runs/  # every solver_dev that starts\n"
"  sudo memtrace-bpf --checkpoint-regex 'Peak RSS: ([0-9.]+ ?[KMG]B)' \\\n"
"       -o t.csv -- ./solver 1005                   # what it printed, and\n"
"  memtrace-bpf validate t.csv                       # ... the truth\n"
"  memtrace-bpf stages t.csv                         # per-stage memory (marks)\n"
"  memtrace-bpf spikes trace.csv --poll 10ms         # what a poller missed\n"
"  memtrace-bpf resample t.csv --every 10ms -o p.csv # as a poller: even rows\n"
"  sudo memtrace-bpf --report -o t.csv -- ./job      # and t.html: the run's page\n"
"  memtrace-bpf report t.csv --format svg            # one chart: t.svg\n"
"\n"
"Sizes take K, M, G, T (1024-based): 64K, 16M. Durations take ns, us, ms, s,\n"
"m, h: 250us, 10ms, 2s; a bare number is seconds.\n"
"\n"
"Exit status: launch mode returns the command's status (128+N if killed by\n"
"signal N; 126/127 if it cannot run); attach mode returns 0. 1: cannot trace\n"
"(privileges, PID, output path, BTF). 2: bad command line. 88: the peak was\n"
"above --max-peak (+ --tolerance) and the command itself succeeded. 89: --kill-at\n"
"stopped the run. 124: --timeout stopped it (the command's own status is in the\n"
"summary).\n"
"\n"
"OPTIONS:";

static const struct argp_option opts[] = {
	{ NULL, 0, NULL, 0, "What to trace:", 1 },
	{ "pid", 'p', "PID[,PID]", 0, "Attach to running process(es); repeatable", 1 },
	{ "follow", OPT_FOLLOW, NULL, 0, "Attach mode: also trace children forked after attach", 1 },
	{ "comm", OPT_COMM, "NAME", 0, "Capture: trace every process that starts as NAME from now on, one trace each in -d DIR", 1 },
	{ "cgroup", OPT_CGROUP, "PATH", 0, "Capture: every process that starts in this cgroup v2 (or below it)", 1 },
	{ "dir", 'd', "DIR", 0, "Capture: where each process's trace goes (DIR/NAME-PID/)", 1 },
	{ "trace-format", OPT_TRACE_FORMAT, "FMT", 0, "Capture: each trace as csv (default: trace.csv), zst (trace.csv.zst, about 1/7 of it) or gz (trace.csv.gz)", 1 },
	{ "detach-after", OPT_DETACH, "DURATION", 0, "Stop tracing after DURATION and leave the processes running (exit 0)", 1 },
	{ "force", OPT_FORCE, NULL, 0, "Attach with --kill-at: act even if the processes are over the limit already (they are stopped at once)", 1 },

	{ NULL, 0, NULL, 0, "Output:", 2 },
	{ "output", 'o', "FILE", 0, "The trace (default memtrace-DATE-TIME.csv here, a new name each run, .jsonl with --format jsonl; - for stdout, shared with COMMAND's own stdout)", 2 },
	{ "format", OPT_FORMAT, "FMT", 0, "The trace's rows as csv (the default) or jsonl: JSON Lines, one object per row with the CSV's columns as keys, for jq or a collector (-o trace.jsonl, .jsonl.zst or .jsonl.gz says it too; -o - --format jsonl: to stdout)", 2 },
	{ "summary", 's', "FILE", 0, "JSON summary (default: next to the CSV, trace.csv -> trace.summary.json)", 2 },
	{ "interval", 'i', "DURATION", 0, "Status line on stderr every DURATION, 10ms or more (default 1s on a terminal, off otherwise)", 2 },
	{ "quiet", 'q', NULL, 0, "No summary on stderr at the end (and no status line unless -i is given)", 2 },
	{ "monitor-log", OPT_MONITOR_LOG, "FILE", 0, "Status lines (every -i, default 1s), alerts, guard actions and the end, one line each with its UTC time, to FILE as they happen (for tail -f)", 2 },
	{ "peak-lines", OPT_PEAK_LINES, "SIZE", 0, "With --monitor-log: also a line each time the peak has grown SIZE since the last one", 2 },
	{ "metrics", OPT_METRICS, "FILE|ADDR", 0, "The run's exact RSS now, peak, processes, events, lost events, alerts and guard signals in Prometheus' text format, every -i (default 1s) and at the end: a FILE rewritten whole (node_exporter's textfile collector), or served at http://ADDR/metrics while the run lasts (ADDR: PORT or HOST:PORT; a port alone listens on 127.0.0.1)", 2 },
	{ "report", OPT_REPORT, NULL, 0, "After the run, its HTML report beside the trace (trace.csv -> trace.html; see memtrace-bpf report --help)", 2 },

	{ NULL, 0, NULL, 0, "Memory gate (CI):", 3 },
	{ "max-peak", OPT_MAX_PEAK, "SIZE", 0, "Fail (exit 88) when the peak RSS is above SIZE, e.g. 3000M", 3 },
	{ "tolerance", OPT_TOLERANCE, "PCT%|SIZE", 0, "Allowance over --max-peak: 10% or 100M (default 0)", 3 },

	{ NULL, 0, NULL, 0, "Checkpoints (launch mode; the command also gets $MEMTRACE_MARK_FD):", 5 },
	{ "checkpoint-regex", OPT_CKPT_REGEX, "REGEX", 0, "Match COMMAND's stdout/stderr lines (passed on unchanged) with this POSIX extended regex; its first group is a value the program reported, e.g. 'Peak RSS: ([0-9.]+ ?[KMG]B)'", 5 },
	{ "log", OPT_CKPT_LOG, "FILE", 0, "With --checkpoint-regex: keep COMMAND's output here (default: next to the CSV, trace.csv -> trace.log)", 5 },

	{ NULL, 0, NULL, 0, "Other:", -1 },
	{},
};

#define usage_err(...) usage_exit(NULL, __VA_ARGS__)

static void add_pids(const char *arg)
{
	char *copy = strdup(arg), *save = NULL, *tok;

	if (!copy)
		exit(EXIT_TRACE_ERR);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned long v;

		if (parse_uint(tok, 4194304, &v) || v == 0)
			usage_err("-p %s: '%s' is not a PID (a positive number, e.g. -p 4242 or -p 4242,4243)",
				  arg, tok);
		if (env.npids == MAX_PIDS)
			usage_err("-p: at most %d PIDs", MAX_PIDS);
		env.pids[env.npids++] = (pid_t)v;
	}
	if (!env.npids)
		usage_err("-p needs a PID, e.g. -p 4242");
	free(copy);
}

static void set_regex(const char *arg)
{
	if (env.ckpt_regex)
		usage_err("--checkpoint-regex given twice; give one pattern (alternatives: 'A|B')");
	ckpt_regex_compile(NULL, arg, &env.ckpt_re);
	env.ckpt_regex = arg;
}

/* Capture mode (--comm/--cgroup): what it takes and what it does not. */
static void check_capture_args(void)
{
	if (env.npids || env.ncmd)
		usage_err("--comm/--cgroup capture processes as they start; -p PID and -- COMMAND are other modes");
	if (!env.capture.dir)
		usage_err("--comm/--cgroup write one trace per process: give -d DIR");
	if (env.output || env.summary)
		usage_err("capture mode writes DIR/NAME-PID/trace.csv and summary.json; drop -o/-s");
	if (env.limit.max_peak_kb)
		usage_err("--max-peak is for launch mode (-- COMMAND)");
	if (trace_cli.follow == 1)
		usage_err("capture mode follows children already (--no-follow turns it off)");
	if (env.ckpt_regex || env.ckpt_log)
		usage_err("--checkpoint-regex/--log read a command's output; capture mode does not start the command");
	if (trace_cli.as_root)
		usage_err("--as-root is for launch mode (-- COMMAND)");
	if (env.interval_set)
		usage_err("--interval is not for capture mode (it says each process as it starts and ends)");
	if (env.monitor_log)
		usage_err("--monitor-log is for one launch or attach; capture mode says each process as it starts and ends");
	if (env.metrics)
		usage_err("--metrics is for one launch or attach; capture mode has a run per process");
	if (env.report)
		usage_err("--report is for one launch or attach; for captured runs use memtrace-bpf report DIR/NAME-PID/trace.csv");
	if (env.format == 1)
		usage_err("--format jsonl is for one launch or attach; capture mode writes CSV traces "
			  "(--trace-format: compressed or not)");
	guard_cli__check(GUARD_CAPTURE);
}

/* Launch and attach mode: the options agree with the mode. */
static void check_mode_args(void)
{
	if (env.capture.dir)
		usage_err("-d DIR is for capture mode (--comm NAME or --cgroup PATH)");
	if (env.capture.trace_format_set)
		usage_err("--trace-format is for capture mode (-d DIR); one trace is compressed by "
			  "its name: -o trace.csv.zst");
	if (env.npids && env.ncmd)
		usage_err("give either -p PID (attach) or -- COMMAND (launch), not both");
	if (!env.npids && !env.ncmd)
		usage_err("nothing to trace: give -p PID to attach, or -- COMMAND to launch");
	if (env.npids && trace_cli.follow == 0)
		usage_err("--no-follow is for launch mode; attach mode follows no children unless --follow");
	if (env.ncmd && trace_cli.follow == 1)
		usage_err("--follow is for attach mode; launch mode follows children already (--no-follow turns it off)");
	if (env.npids && trace_cli.as_root)
		usage_err("--as-root is for launch mode (-- COMMAND)");
	if (env.ckpt_regex && !env.ncmd)
		usage_err("--checkpoint-regex is for launch mode (-- COMMAND): it reads the command's output");
	if (env.ckpt_log && !env.ckpt_regex)
		usage_err("--log keeps the output --checkpoint-regex reads; give --checkpoint-regex too");
	if (env.ckpt_regex && env.output && !strcmp(env.output, "-"))
		usage_err("--checkpoint-regex with -o -: the command's output and the trace would mix on stdout; give -o FILE");
	if ((env.limit.tolerance_kb || env.limit.tolerance_pct > 0) && !env.limit.max_peak_kb)
		usage_err("--tolerance needs --max-peak (the limit it adds to)");
	if (env.report && env.output && !strcmp(env.output, "-"))
		usage_err("--report writes the page beside the trace; with -o - there is none: give -o FILE");
	if (guard_cli.spec.detach_ns && env.ckpt_regex)
		usage_err("--detach-after with --checkpoint-regex: the command's output passes through "
			  "memtrace-bpf, which would stop; give one of them");
	guard_cli__check(env.ncmd ? GUARD_LAUNCH : GUARD_ATTACH);
}

static error_t parse_arg(int key, char *arg, struct argp_state *st)
{
	uint64_t b;
	int e;

	switch (key) {
	case 'p':
		add_pids(arg);
		break;
	case 'o':
		env.output = arg;
		break;
	case OPT_FOLLOW:
		trace_cli__follow();
		break;
	case OPT_COMM:
		if (!*arg || strchr(arg, '/'))
			usage_err("--comm %s: give a process name as ps shows it (e.g. --comm solver_dev)", arg);
		if (strlen(arg) >= MT_COMM_LEN) {
			fprintf(stderr, "memtrace-bpf: note: the kernel keeps %d characters of a process "
				"name; matching '%.*s'\n", MT_COMM_LEN - 1, MT_COMM_LEN - 1, arg);
			arg[MT_COMM_LEN - 1] = 0;
		}
		env.capture.comm = arg;
		break;
	case OPT_CGROUP:
		env.capture.cgroup = arg;
		break;
	case 'd':
		env.capture.dir = arg;
		break;
	case OPT_TRACE_FORMAT: {
		int f = zformat_parse(arg);

		if (f < 0)
			usage_err("--trace-format %s: csv (the default), zst or gz", arg);
		env.capture.trace_format = f;
		env.capture.trace_format_set = true;
		break;
	}
	case OPT_FORMAT:
		if (strcmp(arg, "csv") && strcmp(arg, "jsonl"))
			usage_err("--format %s: csv (the default) or jsonl (JSON Lines)", arg);
		env.format = !strcmp(arg, "jsonl");
		break;
	case 's':
		env.summary = arg;
		break;
	case 'i':
		e = parse_duration(arg, &env.interval_ns);
		if (e || env.interval_ns < 10000000ULL)
			usage_err("--interval %s: %s", arg,
				  e ? "not a duration (use e.g. 500ms, 1s, 2m)"
				    : "too short; 10ms is the shortest status interval");
		env.interval_set = true;
		break;
	case 'q':
		env.quiet = true;
		break;
	case OPT_MAX_PEAK:
	case OPT_TOLERANCE:
		gate_option(NULL, key == OPT_TOLERANCE, arg, &env.limit);
		break;
	case OPT_CKPT_REGEX:
		set_regex(arg);
		break;
	case OPT_CKPT_LOG:
		env.ckpt_log = arg;
		break;
	case OPT_MONITOR_LOG:
		env.monitor_log = arg;
		break;
	case OPT_METRICS:
		env.metrics = arg;
		break;
	case OPT_DETACH:
		guard_cli__detach_after(arg);
		break;
	case OPT_FORCE:
		guard_cli.spec.force = true;
		break;
	case OPT_REPORT:
		env.report = true;
		break;
	case OPT_PEAK_LINES:
		if (parse_size(arg, &b) || b < 1024)
			usage_err("--peak-lines %s: not a size of 1K or more (e.g. 100M)", arg);
		guard_cli.spec.peak_step_kb = b / 1024;
		break;
	case ARGP_KEY_ARG:
		/* the command and its arguments: everything from here on */
		env.cmd = &st->argv[st->next - 1];
		env.ncmd = st->argc - st->next + 1;
		st->next = st->argc;
		break;
	case ARGP_KEY_END:
		if (guard_cli.spec.peak_step_kb && !env.monitor_log)
			usage_err("--peak-lines writes to the monitor log; give --monitor-log FILE");
		if (env.monitor_log)
			guard_cli.spec.status_ns = env.interval_ns;
		if (env.metrics)
			guard_cli.spec.metrics_ns = env.interval_ns;
		env.capture.quiet = env.quiet;
		if (env.capture.comm || env.capture.cgroup)
			check_capture_args();
		else
			check_mode_args();
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* Without -o: memtrace-YYYYmmdd-HHMMSS.csv in the current directory, a
 * name no earlier trace (or its summary) has: a trace is never replaced by
 * accident, and a name no repository's ignore list would miss for long. */
static const char *default_output(void)
{
	char stamp[32], sum[sizeof(env.output_buf) + 16];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	for (int k = 1; k < 1000; k++) {
		const char *ext = env.format == 1 ? "jsonl" : "csv";

		if (k == 1)
			snprintf(env.output_buf, sizeof(env.output_buf), "memtrace-%s.%s", stamp, ext);
		else
			snprintf(env.output_buf, sizeof(env.output_buf), "memtrace-%s-%d.%s", stamp, k,
				 ext);
		zpath_beside(sum, sizeof(sum), env.output_buf, "summary.json");
		if (access(env.output_buf, F_OK) && access(sum, F_OK))
			break;
	}
	return env.output_buf;
}

/* The PIDs to attach are processes; a thread id stands for its process. */
static int check_pids(char *msg, size_t len)
{
	for (int i = 0; i < env.npids; i++) {
		pid_t tgid;
		int e;

		if (env.pids[i] == getpid()) {
			snprintf(msg, len, "PID %d is memtrace-bpf itself", env.pids[i]);
			return -EINVAL;
		}
		e = check_target(env.pids[i], &tgid, msg, len);
		if (e)
			return e;
		if (tgid != env.pids[i]) {
			fprintf(stderr, "memtrace-bpf: %d is a thread of process %d; tracing process %d\n",
				env.pids[i], tgid, tgid);
			env.pids[i] = tgid;
		}
	}
	return 0;
}

/* Attach mode with --kill-at: the processes are not ours, so what will be
 * stopped is said first; a limit they are over already is refused (the
 * run would stop them at once) unless --force. 0, or the exit status. */
static int check_attach_guard(void)
{
	const struct guard_spec *s = &guard_cli.spec;
	char who[1024] = "", comm[64], lim[32], now[32];
	uint64_t total = 0, kb;
	size_t n = 0;

	if (!s->kill_at_kb || !env.npids)
		return 0;
	for (int i = 0; i < env.npids; i++) {
		if (proc_memory(env.pids[i], s->count_anon, &kb, comm, sizeof(comm)))
			continue;	/* gone: the attach says so */
		total += kb;
		if (n < sizeof(who) - 64)
			n += (size_t)snprintf(who + n, sizeof(who) - n, "%sPID %d (%s)",
					      i ? (i == env.npids - 1 ? " and " : ", ") : "",
					      env.pids[i], comm);
	}
	format_size(s->kill_at_kb * 1024, lim, sizeof(lim));
	format_size(total * 1024, now, sizeof(now));
	if (total > s->kill_at_kb && !s->force) {
		fprintf(stderr, "memtrace-bpf: --kill-at %s: %s hold%s %s (%s) already, over the "
			"limit; raise --kill-at, or add --force to stop %s now\n", lim, who,
			env.npids == 1 ? "s" : "", now, s->count_anon ? "anon+shmem" : "RSS",
			env.npids == 1 ? "it" : "them");
		return EXIT_USAGE;
	}
	if (total > s->kill_at_kb)
		fprintf(stderr, "memtrace-bpf: --kill-at %s --force: %s hold%s %s already; SIG%s "
			"now\n", lim, who, env.npids == 1 ? "s" : "", now,
			signal_abbrev(s->kill_signal));
	else
		fprintf(stderr, "memtrace-bpf: --kill-at %s: %s%s (%s now) will get SIG%s when %s "
			"%s goes over it\n", lim, who,
			trace_cli.follow == 1 ? " and the children they fork" : "", now,
			signal_abbrev(s->kill_signal), env.npids == 1 ? "its" : "their",
			s->count_anon ? "anon+shmem" : "RSS");
	return 0;
}

/* The trace's format: --format, else its name's; the two agree. */
static int check_format(char *msg, size_t len)
{
	bool named = jsonl_path(env.output), std = !strcmp(env.output, "-");

	env.jsonl = env.format >= 0 ? env.format == 1 : named;
	if (!std && env.format == 1 && !named) {
		snprintf(msg, len, "-o %s with --format jsonl: the name says CSV; name it "
			 "NAME.jsonl (or .jsonl.zst, .jsonl.gz), or drop --format", env.output);
		return -EINVAL;
	}
	if (env.format == 0 && named) {
		snprintf(msg, len, "-o %s with --format csv: the name says JSON Lines; name it "
			 "NAME.csv, or drop --format", env.output);
		return -EINVAL;
	}
	return 0;
}

/* The output files: named, writable, not one another. */
static int check_outputs(char *msg, size_t len)
{
	int e;

	if (!env.output)
		env.output = default_output();
	if ((e = check_format(msg, len)))
		return e;
	if (!strcmp(env.output, "-") && stdio_closed[STDOUT_FILENO]) {
		snprintf(msg, len, "-o -: our stdout is closed, the trace would go nowhere; give "
			 "-o FILE");
		return -EBADF;
	}
	if (!env.summary && strcmp(env.output, "-")) {
		zpath_beside(env.summary_buf, sizeof(env.summary_buf), env.output, "summary.json");
		env.summary = env.summary_buf;
	}
	if ((e = check_output_path(env.output, "trace", msg, len)) ||
	    (env.summary && (e = check_output_path(env.summary, "summary", msg, len))))
		return e;
	if (env.summary && !strcmp(env.summary, "-")) {
		snprintf(msg, len, "--summary - is not supported; give a file name");
		return -EINVAL;
	}
	if (env.ckpt_regex && !env.ckpt_log) {
		zpath_beside(env.log_buf, sizeof(env.log_buf), env.output, "log");
		env.ckpt_log = env.log_buf;
	}
	if (env.ckpt_log && (e = check_output_path(env.ckpt_log, "log", msg, len)))
		return e;
	if (env.ckpt_log && (!strcmp(env.ckpt_log, env.output) ||
			     (env.summary && !strcmp(env.ckpt_log, env.summary)))) {
		snprintf(msg, len, "the log %s would overwrite the trace or the summary; give --log "
			 "another name", env.ckpt_log);
		return -EINVAL;
	}
	if (env.monitor_log) {
		if ((e = check_output_path(env.monitor_log, "monitor log", msg, len)))
			return e;
		if (!strcmp(env.monitor_log, env.output) ||
		    (env.summary && !strcmp(env.monitor_log, env.summary)) ||
		    (env.ckpt_log && !strcmp(env.monitor_log, env.ckpt_log))) {
			snprintf(msg, len, "the monitor log %s would overwrite another output; give "
				 "--monitor-log another name", env.monitor_log);
			return -EINVAL;
		}
	}
	if (env.metrics && metrics_addr(env.metrics)) {
		/* listening before anything runs: a port in use is said now */
		env.metrics_http = metrics_http__start(env.metrics, msg, len);
		if (!env.metrics_http)
			return -EADDRINUSE;
	} else if (env.metrics) {
		if ((e = check_output_path(env.metrics, "metrics file", msg, len)))
			return e;
		if (!strcmp(env.metrics, env.output) ||
		    (env.summary && !strcmp(env.metrics, env.summary)) ||
		    (env.ckpt_log && !strcmp(env.metrics, env.ckpt_log)) ||
		    (env.monitor_log && !strcmp(env.metrics, env.monitor_log))) {
			snprintf(msg, len, "the metrics file %s would overwrite another output; give "
				 "--metrics another name", env.metrics);
			return -EINVAL;
		}
	}
	if (env.summary && !strcmp(env.summary, env.output)) {
		snprintf(msg, len, "the trace and the summary would both be %s; give -s another name",
			 env.output);
		return -EINVAL;
	}
	return 0;
}

/* The runner's client: one run, a status line while it goes, the summary
 * and the verdicts when it is over. */
struct record {
	bool tty, status_lines;
	uint64_t next_status;
	struct run *run;
	int ret;		/* our exit status, once the run is over */
};

static int rec_turn(void *ctx, struct runner *rn, uint64_t now)
{
	struct record *c = ctx;

	(void)rn;
	if (c->status_lines && !c->run->ended && now >= c->next_status) {
		summary__status_line(c->run, c->tty, false);
		c->next_status = now + env.interval_ns;
	}
	return 0;
}

/* Lost data is said even with -q. */
static void print_losses(struct tracer *t)
{
	struct mt_counters k;
	char rs[32];

	tracer__counters(t, &k);
	if (k.lost && tracer__remote(t))
		fprintf(stderr, "memtrace-bpf: %" PRIu64 " records were dropped (your share of the "
			"service's ring, or its queue for you, was full); the peaks in the summary are "
			"still exact (kept in the kernel). The service's administrator can raise "
			"memtrace-bpf daemon --ring-size (now %s), --user-ring-share or "
			"--client-queue.\n", (uint64_t)k.lost,
			format_size(tracer__ring_bytes(t), rs, sizeof(rs)));
	else if (k.lost)
		fprintf(stderr, "memtrace-bpf: %" PRIu64 " records were dropped (ring buffer full); "
			"the peaks in the summary are still exact (kept in the kernel). "
			"Raise --ring-size (now %s) to keep every row.\n",
			(uint64_t)k.lost, format_size(trace_cli.ring_bytes, rs, sizeof(rs)));
	if (k.untraced && tracer__remote(t))
		fprintf(stderr, "memtrace-bpf: %" PRIu64 " child processes could not be traced (more "
			"alive at once than the service traces for one user, or they were not yours "
			"to trace); its administrator sets how many: memtrace-bpf daemon --user-procs, "
			"--max-procs.\n", (uint64_t)k.untraced);
	else if (k.untraced)
		fprintf(stderr, "memtrace-bpf: %" PRIu64 " child processes could not be traced "
			"(more than --max-procs alive at once); raise --max-procs.\n",
			(uint64_t)k.untraced);
}

static int rec_finished(void *ctx, struct runner *rn, struct run *r, int err)
{
	struct record *c = ctx;
	struct mt_group g;

	if (c->status_lines)
		summary__status_line(r, c->tty, true);
	if (!env.quiet)
		summary__print(r);
	print_losses(rn->tracer);
	if (err)
		c->ret = EXIT_TRACE_ERR;
	else if (guard__exit_status(r))
		c->ret = guard__exit_status(r);	/* the command's own is in the summary */
	else if (env.ncmd && !r->gs.detached)
		c->ret = r->have_status ? exit_status_code(r->status)
					: EXIT_SIGNAL + (sig_last ? sig_last : SIGINT);
	if (env.limit.max_peak_kb) {
		uint64_t peak_kb;

		run__group(r, &g);
		peak_kb = g.tree_peak_pages * r->page_kb;
		/* printed even with -q: it is the point of the limit */
		summary__print_limit(&env.limit, peak_kb);
		if (peak_limit_exceeded(&env.limit, peak_kb) && c->ret == 0)
			c->ret = EXIT_OVER_LIMIT;
	}
	/* the trace is complete and closed: its page beside it */
	if (env.report && report_beside(env.output, env.summary, AT_FDCWD, "memtrace-bpf",
					MEMTRACE_VERSION))
		c->ret = EXIT_TRACE_ERR;
	c->run = NULL;
	return err;
}

/* Starts the one run: launch, attach, or (a signal came while BPF was
 * loading) an empty one that says so. 0, or the exit status. */
static int start(struct record *c, struct tracer *t)
{
	struct run_spec spec = {
		.mode = env.ncmd ? "launch" : "attach",
		.cmd = env.cmd, .ncmd = env.ncmd, .pids = env.pids, .npids = env.npids,
		.as_root = trace_cli.as_root, .sigpipe_ignored = sig_inherited_ignore[SIGPIPE],
		.csv_path = env.output, .jsonl = env.jsonl, .summary_path = env.summary,
		.limit = &env.limit,
		.monitor_log = env.monitor_log,
		.metrics_path = env.metrics_http ? NULL : env.metrics,
		.metrics_http = env.metrics_http,
		.resolution_ns = trace_cli.resolution_ns,
	};
	char err[2048];
	int e;

	if (guard_spec__active(&guard_cli.spec))
		spec.guard = &guard_cli.spec;
	if (env.ckpt_regex) {
		spec.ckpt_regex = &env.ckpt_re;
		spec.ckpt_regex_src = env.ckpt_regex;
		spec.ckpt_log = env.ckpt_log;
	}
	c->run = calloc(1, sizeof(*c->run));
	if (!c->run)
		return EXIT_TRACE_ERR;
	if (sig_count) {
		/* interrupted while loading: the command is not started, and the
		 * files say so (an empty trace, a summary with interrupted) */
		fprintf(stderr, "memtrace-bpf: interrupted by signal %d before %s started\n",
			(int)sig_last, env.ncmd ? env.cmd[0] : "tracing");
		e = run__empty(c->run, t, &spec, err, sizeof(err));
	} else if (env.ncmd) {
		e = run__launch(c->run, t, &spec, err, sizeof(err));
	} else {
		e = run__attach(c->run, t, &spec, err, sizeof(err));
	}
	if (!e)
		return 0;
	fprintf(stderr, "memtrace-bpf: %s\n", err);
	e = c->run->exec_failed ? (e == -ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC) : EXIT_TRACE_ERR;
	run__free(c->run);
	free(c->run);
	c->run = NULL;
	return e;
}

/* Every check before anything is loaded or written. 0, or the exit status
 * (said). */
static int preflight(void)
{
	char msg[2048];
	int e;

	if (trace_cli__access(msg, sizeof(msg)))
		goto fail;
	if (env.capture.comm || env.capture.cgroup) {
		if (trace_cli.remote)
			usage_exit(NULL, "--comm and --cgroup trace other users' processes too: "
				   "root only (run it with sudo)");
		return 0;
	}
	if (check_pids(msg, sizeof(msg)))
		goto fail;
	if ((e = check_attach_guard()))
		return e;
	if (env.ncmd && (e = check_command(env.cmd[0], msg, sizeof(msg)))) {
		fprintf(stderr, "memtrace-bpf: %s\n", msg);
		return e == -EACCES ? EXIT_NOEXEC : EXIT_NOTFOUND;
	}
	if (check_outputs(msg, sizeof(msg)))
		goto fail;
	return 0;
fail:
	fprintf(stderr, "memtrace-bpf: %s\n", msg);
	return EXIT_TRACE_ERR;
}

int cmd_record(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &guard_cli_argp, 0, NULL, 3 },
		{ &trace_cli_argp, 0, NULL, 4 },
		{},
	};
	static const struct argp argp = { .options = opts, .parser = parse_arg, .doc = doc,
					  .children = children };
	static const struct runner_client client = { .turn = rec_turn,
						     .finished = rec_finished };
	struct record c = { .tty = isatty(STDERR_FILENO) };
	struct tracer_opts to = {};
	struct tracer *tracer = NULL;
	struct runner rn;
	char err[8192];
	int ret;

	if (argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, NULL))
		return EXIT_USAGE;
	/* first thing: a signal during setup (loading BPF takes a moment)
	 * must not be lost */
	signals__install();
	ret = preflight();
	if (ret)
		goto out;
	if (env.capture.comm || env.capture.cgroup) {
		if (guard_spec__active(&guard_cli.spec))
			env.capture.guard = &guard_cli.spec;
		ret = capture_main(&env.capture);
		goto out;
	}
	trace_cli__tracer_opts(&to, env.ncmd ? trace_cli.follow != 0 : trace_cli.follow == 1);
	if (trace_cli__tracer_open(&tracer, &to, err, sizeof(err))) {
		fprintf(stderr, "memtrace-bpf: %s\n", err);
		ret = EXIT_TRACE_ERR;
		goto out;
	}
	ret = start(&c, tracer);
	if (ret)
		goto out;
	c.status_lines = env.interval_set || (c.tty && !env.quiet);
	c.next_status = c.run->start_ns + env.interval_ns;
	runner__init(&rn, tracer, &client, &c);
	runner__add(&rn, c.run);
	ret = runner__run(&rn) ? EXIT_TRACE_ERR : c.ret;
out:
	tracer__destroy(tracer);
	metrics_http__stop(env.metrics_http);
	if (env.ckpt_regex)
		regfree(&env.ckpt_re);
	return ret;
}
