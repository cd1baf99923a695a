// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * memtrace-bpf: the exact RSS timeline of a process, from kernel events.
 */
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "trace/capture.h"
#include "trace/preflight.h"
#include "cmd/cmd.h"
#include "format/output.h"
#include "analysis/spikes_report.h"
#include "trace/run.h"
#include "trace/session.h"
#include "trace/tracer.h"
#include "lib/units.h"

/* exit statuses of our own (launch mode otherwise returns the command's) */
#define EXIT_TRACE_ERR	1	/* cannot trace: privileges, PID, output, BTF */
#define EXIT_USAGE	2	/* bad command line */
#define EXIT_NOEXEC	126
#define EXIT_NOTFOUND	127
#define EXIT_OVER_LIMIT	88	/* --max-peak exceeded (the command succeeded) */

#define MAX_PIDS 256

static struct env {
	const char *output;
	const char *summary;
	pid_t pids[MAX_PIDS];
	int npids;
	int follow;		/* -1 unset, 0 --no-follow, 1 --follow */
	uint64_t interval_ns;
	bool interval_set;
	uint64_t ring_bytes;
	unsigned long max_procs;
	bool as_root;
	const char *btf;
	struct gate gate;
	bool quiet, verbose;
	const char *ckpt_regex;
	regex_t ckpt_re;
	const char *ckpt_log;
	char **cmd;
	int ncmd;
	const char *comm;	/* capture mode */
	const char *cgroup;
	const char *dir;
	bool output_set;
} env = {
	.output = "memtrace.csv",
	.follow = -1,
	.interval_ns = 1000000000ULL,
	.ring_bytes = 16ULL << 20,
	.max_procs = 16384,
};

enum {
	OPT_FOLLOW = 1000,
	OPT_NO_FOLLOW,
	OPT_RING_SIZE,
	OPT_AS_ROOT,
	OPT_BTF,
	OPT_MAX_PROCS,
	OPT_MAX_PEAK,
	OPT_TOLERANCE,
	OPT_COMM,
	OPT_CGROUP,
	OPT_CKPT_REGEX,
	OPT_CKPT_LOG,
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
"  sudo memtrace-bpf record --comm solver_dev -d runs/  # every solver_dev that starts\n"
"  sudo memtrace-bpf --checkpoint-regex 'Peak RSS: ([0-9.]+ ?[KMG]B)' \\\n"
"       -o t.csv -- ./solver 1005                   # what it printed, and\n"
"  memtrace-bpf validate t.csv                       # ... the truth\n"
"  memtrace-bpf stages t.csv                         # per-stage memory (marks)\n"
"  memtrace-bpf spikes trace.csv --poll 10ms         # what a poller missed\n"
"\n"
"Sizes take K, M, G, T (1024-based): 64K, 16M. Durations take ns, us, ms, s,\n"
"m, h: 250us, 10ms, 2s; a bare number is seconds.\n"
"\n"
"Exit status: launch mode returns the command's status (128+N if killed by\n"
"signal N; 126/127 if it cannot run); attach mode returns 0. 1: cannot trace\n"
"(privileges, PID, output path, BTF). 2: bad command line. 88: the peak was\n"
"above --max-peak (+ --tolerance) and the command itself succeeded.\n"
"\n"
"OPTIONS:";

static const struct argp_option opts[] = {
	{ NULL, 0, NULL, 0, "What to trace:", 1 },
	{ "pid", 'p', "PID[,PID]", 0, "Attach to running process(es); repeatable", 1 },
	{ "follow", OPT_FOLLOW, NULL, 0, "Attach mode: also trace children forked after attach", 1 },
	{ "no-follow", OPT_NO_FOLLOW, NULL, 0, "Launch mode: trace COMMAND only, not its children", 1 },
	{ "as-root", OPT_AS_ROOT, NULL, 0, "Under sudo, run COMMAND as root (default: as the sudo user)", 1 },
	{ "comm", OPT_COMM, "NAME", 0, "Capture: trace every process that starts as NAME from now on, one trace each in -d DIR", 1 },
	{ "cgroup", OPT_CGROUP, "PATH", 0, "Capture: every process that starts in this cgroup v2 (or below it)", 1 },
	{ "dir", 'd', "DIR", 0, "Capture: where each process's trace goes (DIR/NAME-PID/)", 1 },

	{ NULL, 0, NULL, 0, "Output:", 2 },
	{ "output", 'o', "FILE", 0, "CSV trace (default memtrace.csv; - for stdout, shared with COMMAND's own stdout)", 2 },
	{ "summary", 's', "FILE", 0, "JSON summary (default: next to the CSV, trace.csv -> trace.summary.json)", 2 },
	{ "interval", 'i', "DURATION", 0, "Status line on stderr every DURATION, 10ms or more (default 1s on a terminal, off otherwise)", 2 },
	{ "quiet", 'q', NULL, 0, "No summary on stderr at the end (and no status line unless -i is given)", 2 },

	{ NULL, 0, NULL, 0, "Memory gate (CI):", 3 },
	{ "max-peak", OPT_MAX_PEAK, "SIZE", 0, "Fail (exit 88) when the peak RSS is above SIZE, e.g. 3000M", 3 },
	{ "tolerance", OPT_TOLERANCE, "PCT%|SIZE", 0, "Allowance over --max-peak: 10% or 100M (default 0)", 3 },

	{ NULL, 0, NULL, 0, "Checkpoints (launch mode; the command also gets $MEMTRACE_MARK_FD):", 5 },
	{ "checkpoint-regex", OPT_CKPT_REGEX, "REGEX", 0, "Match COMMAND's stdout/stderr lines (passed on unchanged) with this POSIX extended regex; its first group is a value the program reported, e.g. 'Peak RSS: ([0-9.]+ ?[KMG]B)'", 5 },
	{ "log", OPT_CKPT_LOG, "FILE", 0, "With --checkpoint-regex: keep COMMAND's output here (default: next to the CSV, trace.csv -> trace.log)", 5 },

	{ NULL, 0, NULL, 0, "Tuning:", 4 },
	{ "ring-size", OPT_RING_SIZE, "SIZE", 0, "Kernel ring buffer size, a power of two from 64K to 1G (default 16M); raise it if events are lost", 4 },
	{ "max-procs", OPT_MAX_PROCS, "N", 0, "Processes traced at once (default 16384)", 4 },
	{ "btf", OPT_BTF, "FILE", 0, "Kernel BTF to use instead of /sys/kernel/btf/vmlinux", 4 },
	{ "verbose", 'v', NULL, 0, "Print libbpf's debug output", 4 },

	{ NULL, 0, NULL, 0, "Other:", -1 },
	{},
};

static void die_usage(struct argp_state *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void die_usage(struct argp_state *st, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "memtrace-bpf: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'memtrace-bpf --help' for the options and examples.\n");
	(void)st;
	exit(EXIT_USAGE);
}

static void add_pids(struct argp_state *st, const char *arg)
{
	char *copy = strdup(arg), *save = NULL, *tok;

	if (!copy)
		exit(EXIT_TRACE_ERR);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned long v;

		if (parse_uint(tok, 4194304, &v) || v == 0)
			die_usage(st, "-p %s: '%s' is not a PID (a positive number, e.g. -p 4242 or -p 4242,4243)",
				  arg, tok);
		if (env.npids == MAX_PIDS)
			die_usage(st, "-p: at most %d PIDs", MAX_PIDS);
		env.pids[env.npids++] = (pid_t)v;
	}
	if (!env.npids)
		die_usage(st, "-p needs a PID, e.g. -p 4242");
	free(copy);
}

static error_t parse_arg(int key, char *arg, struct argp_state *st)
{
	unsigned long v;
	int e;

	switch (key) {
	case 'p':
		add_pids(st, arg);
		break;
	case 'o':
		env.output = arg;
		env.output_set = true;
		break;
	case OPT_COMM:
		if (!*arg || strchr(arg, '/'))
			die_usage(st, "--comm %s: give a process name as ps shows it (e.g. --comm solver_dev)", arg);
		if (strlen(arg) >= MT_COMM_LEN) {
			fprintf(stderr, "memtrace-bpf: note: the kernel keeps %d characters of a process "
				"name; matching '%.*s'\n", MT_COMM_LEN - 1, MT_COMM_LEN - 1, arg);
			arg[MT_COMM_LEN - 1] = 0;
		}
		env.comm = arg;
		break;
	case OPT_CGROUP:
		env.cgroup = arg;
		break;
	case 'd':
		env.dir = arg;
		break;
	case 's':
		env.summary = arg;
		break;
	case 'i':
		e = parse_duration(arg, &env.interval_ns);
		if (e || env.interval_ns < 10000000ULL)
			die_usage(st, "--interval %s: %s", arg,
				  e ? "not a duration (use e.g. 500ms, 1s, 2m)"
				    : "too short; 10ms is the shortest status interval");
		env.interval_set = true;
		break;
	case 'q':
		env.quiet = true;
		break;
	case 'v':
		env.verbose = true;
		break;
	case OPT_FOLLOW:
	case OPT_NO_FOLLOW:
		if (env.follow >= 0 && env.follow != (key == OPT_FOLLOW))
			die_usage(st, "--follow and --no-follow contradict each other; give one");
		env.follow = key == OPT_FOLLOW;
		break;
	case OPT_RING_SIZE:
		e = parse_size(arg, &env.ring_bytes);
		if (e)
			die_usage(st, "--ring-size %s: not a size (use e.g. 16M, 64M, 1G)", arg);
		if (env.ring_bytes < (64 << 10) || env.ring_bytes > (1ULL << 30) ||
		    (env.ring_bytes & (env.ring_bytes - 1)))
			die_usage(st, "--ring-size %s: must be a power of two from 64K to 1G (e.g. 16M, 64M)",
				  arg);
		break;
	case OPT_MAX_PEAK: {
		uint64_t b;

		if (parse_size(arg, &b) || b < 1024)
			die_usage(st, "--max-peak %s: not a size of 1K or more (e.g. 512M, 3000M, 2G)", arg);
		env.gate.max_peak_kb = b / 1024;
		break;
	}
	case OPT_TOLERANCE: {
		uint64_t b;

		e = parse_pct_or_size(arg, 1000, &env.gate.tolerance_pct, &b);
		if (e)
			die_usage(st, "--tolerance %s: %s", arg,
				  e == -ERANGE && strchr(arg, '%') ? "a percentage from 0% to 1000% (e.g. 10%)"
								   : "a percentage (10%) or a size (100M)");
		env.gate.tolerance_kb = b / 1024;
		break;
	}
	case OPT_MAX_PROCS:
		if (parse_uint(arg, 1 << 20, &v) || v < 1)
			die_usage(st, "--max-procs %s: not a number from 1 to 1048576", arg);
		env.max_procs = v;
		break;
	case OPT_AS_ROOT:
		env.as_root = true;
		break;
	case OPT_CKPT_REGEX: {
		int rc;

		if (env.ckpt_regex)
			die_usage(st, "--checkpoint-regex given twice; give one pattern (alternatives: 'A|B')");
		rc = regcomp(&env.ckpt_re, arg, REG_EXTENDED);
		if (rc) {
			char why[256];

			regerror(rc, &env.ckpt_re, why, sizeof(why));
			die_usage(st, "--checkpoint-regex '%s': not a POSIX extended regex: %s", arg, why);
		}
		if (env.ckpt_re.re_nsub < 1)
			die_usage(st, "--checkpoint-regex '%s': needs a group around the value, e.g. "
				  "'Peak RSS: ([0-9.]+ ?[KMG]B)'", arg);
		env.ckpt_regex = arg;
		break;
	}
	case OPT_CKPT_LOG:
		env.ckpt_log = arg;
		break;
	case OPT_BTF:
		env.btf = arg;
		break;
	case ARGP_KEY_ARG:
		/* the command and its arguments: everything from here on */
		env.cmd = &st->argv[st->next - 1];
		env.ncmd = st->argc - st->next + 1;
		st->next = st->argc;
		break;
	case ARGP_KEY_END:
		if (env.comm || env.cgroup) {
			if (env.npids || env.ncmd)
				die_usage(st, "--comm/--cgroup capture processes as they start; -p PID and -- COMMAND are other modes");
			if (!env.dir)
				die_usage(st, "--comm/--cgroup write one trace per process: give -d DIR");
			if (env.output_set || env.summary)
				die_usage(st, "capture mode writes DIR/NAME-PID/trace.csv and summary.json; drop -o/-s");
			if (env.gate.max_peak_kb)
				die_usage(st, "--max-peak is for launch mode (-- COMMAND)");
			if (env.follow == 1)
				die_usage(st, "capture mode follows children already (--no-follow turns it off)");
			if (env.ckpt_regex || env.ckpt_log)
				die_usage(st, "--checkpoint-regex/--log read a command's output; capture mode does not start the command");
			if (env.as_root)
				die_usage(st, "--as-root is for launch mode (-- COMMAND)");
			if (env.interval_set)
				die_usage(st, "--interval is not for capture mode (it says each process as it starts and ends)");
			break;
		}
		if (env.dir)
			die_usage(st, "-d DIR is for capture mode (--comm NAME or --cgroup PATH)");
		if (env.npids && env.ncmd)
			die_usage(st, "give either -p PID (attach) or -- COMMAND (launch), not both");
		if (!env.npids && !env.ncmd)
			die_usage(st, "nothing to trace: give -p PID to attach, or -- COMMAND to launch");
		if (env.npids && env.follow == 0)
			die_usage(st, "--no-follow is for launch mode; attach mode follows no children unless --follow");
		if (env.ncmd && env.follow == 1)
			die_usage(st, "--follow is for attach mode; launch mode follows children already (--no-follow turns it off)");
		if (env.npids && env.as_root)
			die_usage(st, "--as-root is for launch mode (-- COMMAND)");
		if (env.ckpt_regex && !env.ncmd)
			die_usage(st, "--checkpoint-regex is for launch mode (-- COMMAND): it reads the command's output");
		if (env.ckpt_log && !env.ckpt_regex)
			die_usage(st, "--log keeps the output --checkpoint-regex reads; give --checkpoint-regex too");
		if (env.ckpt_regex && !strcmp(env.output, "-"))
			die_usage(st, "--checkpoint-regex with -o -: the command's output and the trace would mix on stdout; give -o FILE");
		if ((env.gate.tolerance_kb || env.gate.tolerance_pct > 0) && !env.gate.max_peak_kb)
			die_usage(st, "--tolerance needs --max-peak (the limit it adds to)");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static void default_path(char *buf, size_t len, const char *csv, const char *ext)
{
	size_t n = strlen(csv);

	if (n > 4 && !strcmp(csv + n - 4, ".csv"))
		snprintf(buf, len, "%.*s.%s", (int)(n - 4), csv, ext);
	else
		snprintf(buf, len, "%s.%s", csv, ext);
}

static void default_summary_path(char *buf, size_t len, const char *csv)
{
	default_path(buf, len, csv, "summary.json");
}

static void print_gate(uint64_t peak_kb)
{
	char p[32], l[32], a[32], d[32];
	uint64_t lim = gate_limit_kb(&env.gate);

	format_size(peak_kb * 1024, p, sizeof(p));
	format_size(env.gate.max_peak_kb * 1024, l, sizeof(l));
	format_size(lim * 1024, a, sizeof(a));
	format_size((peak_kb > lim ? peak_kb - lim : lim - peak_kb) * 1024, d, sizeof(d));
	fprintf(stderr, "memtrace-bpf: peak %s (%" PRIu64 " kB) is %s the limit %s%s%s%s: %s %s\n",
		p, peak_kb, peak_kb > lim ? "OVER" : "within", l,
		lim != env.gate.max_peak_kb ? " (with tolerance " : "", lim != env.gate.max_peak_kb ? a : "",
		lim != env.gate.max_peak_kb ? ")" : "", d, peak_kb > lim ? "over" : "to spare");
}

static void status_line(struct run *r, bool tty, bool final)
{
	char rss[32], peak[32];
	struct mt_group g;
	unsigned int kb = r->sess.page_kb;

	run__group(r, &g);
	fprintf(stderr, "%smemtrace-bpf: %7.1f s  RSS %s  peak %s  events %" PRIu64 "  lost %" PRIu64 "%s",
		tty ? "\r\033[K" : "", (mono_ns() - r->start_ns) / 1e9,
		format_size((uint64_t)(g.tree_pages > 0 ? g.tree_pages : 0) * kb * 1024, rss, sizeof(rss)),
		format_size(g.tree_peak_pages * kb * 1024, peak, sizeof(peak)),
		r->sess.rows, (uint64_t)g.lost, tty && !final ? "" : "\n");
	fflush(stderr);
}

static void print_summary(struct run *r, const char *summary_path)
{
	char peak[32], dur[32], at[32];
	struct mt_group c;
	unsigned int kb = r->sess.page_kb;

	run__group(r, &c);
	if (env.ncmd && r->have_status) {
		int code = exit_status_code(r->status);

		if (WIFSIGNALED(r->status))
			fprintf(stderr, "memtrace-bpf: %s killed by signal %d (%s) after %s\n",
				env.cmd[0], WTERMSIG(r->status), strsignal(WTERMSIG(r->status)),
				format_duration(r->end_ns - r->start_ns, dur, sizeof(dur)));
		else
			fprintf(stderr, "memtrace-bpf: %s exited with status %d after %s\n",
				env.cmd[0], code,
				format_duration(r->end_ns - r->start_ns, dur, sizeof(dur)));
	} else {
		fprintf(stderr, "memtrace-bpf: traced %zu process%s for %s%s\n", r->sess.nprocs,
			r->sess.nprocs == 1 ? "" : "es",
			format_duration(r->end_ns - r->start_ns, dur, sizeof(dur)),
			r->interrupted ? " (stopped by signal)" : "");
	}
	fprintf(stderr, "  peak RSS   %s (%" PRIu64 " kB) at %s\n",
		format_size(c.tree_peak_pages * kb * 1024, peak, sizeof(peak)),
		(uint64_t)c.tree_peak_pages * kb,
		format_duration(c.tree_peak_ts_ns > r->start_ns ? c.tree_peak_ts_ns - r->start_ns : 0,
				at, sizeof(at)));
	if (r->sess.nprocs > 1)
		fprintf(stderr, "             (sum over %zu traced processes; per process in the summary)\n",
			r->sess.nprocs);
	fprintf(stderr, "  events     %" PRIu64 " rows, %" PRIu64 " lost\n", r->sess.rows, (uint64_t)c.lost);
	fprintf(stderr, "  trace      %s\n", !strcmp(env.output, "-") ? "(stdout)" : env.output);
	if (r->sess.checkpoints || r->sess.marks || r->sess.log_rows)
		fprintf(stderr, "  checks     %" PRIu64 " checkpoint%s, %" PRIu64 " mark%s, %" PRIu64
			" reported value%s (memtrace-bpf validate / stages %s)\n",
			r->sess.checkpoints, r->sess.checkpoints == 1 ? "" : "s", r->sess.marks,
			r->sess.marks == 1 ? "" : "s", r->sess.log_rows, r->sess.log_rows == 1 ? "" : "s",
			!strcmp(env.output, "-") ? "FILE" : env.output);
	if (summary_path)
		fprintf(stderr, "  summary    %s\n", summary_path);
	if (r->sess.spikes && spikes__npids(r->sess.spikes)) {
		struct spikes *sp = r->sess.spikes;
		const struct pid_report *main_p = spikes__pid(sp, 0);
		char a[32], b[32], pn[16];

		if (spikes__count(sp)) {
			fprintf(stderr, "  spikes     %zu of 1 MiB or more; largest:\n", spikes__count(sp));
			for (size_t i = 0; i < spikes__count(sp) && i < 3; i++) {
				const struct spike *x = spikes__get(sp, i);

				fprintf(stderr, "             +%s for %s at %.3f s (pid %d)\n",
					format_size((uint64_t)(x->peak_kb - x->base_kb) * 1024, a, sizeof(a)),
					format_duration(x->end_ts - x->start_ts, b, sizeof(b)),
					((int64_t)(x->start_ts - r->start_ns)) / 1e9, x->pid);
			}
		} else {
			fprintf(stderr, "  spikes     none of 1 MiB or more\n");
		}
		for (int k = 0; k < main_p->npoll; k++) {
			const struct poll_result *pr = &main_p->poll[k];

			fprintf(stderr, "  %-10s peak %s expected (%s worst), %.1f%% off (pid %d)\n",
				k ? "" : "pollers",
				format_size((uint64_t)pr->expected_kb * 1024, a, sizeof(a)),
				format_size((uint64_t)pr->worst_kb * 1024, b, sizeof(b)),
				main_p->peak_kb ? 100.0 * (pr->expected_kb - main_p->peak_kb) / main_p->peak_kb : 0.0,
				main_p->pid);
			(void)pn;
		}
		fprintf(stderr, "             (memtrace-bpf spikes %s for the full analysis)\n",
			!strcmp(env.output, "-") ? "FILE" : env.output);
	}
}

/* Lost data is said even with -q. */
static void print_losses(struct run *r)
{
	struct mt_counters c;

	char rs[32];

	tracer__counters(r->tracer, &c);
	if (c.lost)
		fprintf(stderr, "memtrace-bpf: %" PRIu64 " records were dropped (ring buffer full); "
			"the peaks in the summary are still exact (kept in the kernel). "
			"Raise --ring-size (now %s) to keep every row.\n",
			(uint64_t)c.lost, format_size(env.ring_bytes, rs, sizeof(rs)));
	if (c.untraced)
		fprintf(stderr, "memtrace-bpf: %" PRIu64 " child processes could not be traced "
			"(more than --max-procs alive at once); raise --max-procs.\n",
			(uint64_t)c.untraced);
}

/* record --comm / --cgroup -d DIR */
static int capture_cli(struct tracer_opts *to)
{
	struct capture_opts co = { .comm = env.comm, .cgroup = env.cgroup, .dir = env.dir,
				   .quiet = env.quiet };
	char msg[1024], err[8192], probe[PATH_MAX + 32];
	struct tracer *t = NULL;
	int fd, ret;

	if (env.cgroup && capture_resolve_cgroup(env.cgroup, &to->capture_cgroup_id,
						 &to->capture_cgroup_level, msg, sizeof(msg))) {
		fprintf(stderr, "memtrace-bpf: %s\n", msg);
		return EXIT_TRACE_ERR;
	}
	if (!mkdir(env.dir, 0755)) {
		uid_t uid;
		gid_t gid;

		/* made for the user who ran sudo (an existing one stays theirs) */
		if (sudo_ids(&uid, &gid) && chown(env.dir, uid, gid))
			fprintf(stderr, "memtrace-bpf: note: cannot give %s to uid %u: %s\n", env.dir,
				uid, strerror(errno));
	} else if (errno != EEXIST) {
		fprintf(stderr, "memtrace-bpf: cannot create %s: %s\n", env.dir, strerror(errno));
		return EXIT_TRACE_ERR;
	}
	/* writable? (nothing is left behind) */
	snprintf(probe, sizeof(probe), "%s/.memtrace-probe.%d", env.dir, (int)getpid());
	fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "memtrace-bpf: cannot write in %s: %s; give another -d DIR\n", env.dir,
			strerror(errno));
		return EXIT_TRACE_ERR;
	}
	close(fd);
	unlink(probe);
	to->follow = env.follow != 0;
	to->capture_comm = env.comm;
	to->ring_bytes = env.ring_bytes;
	to->max_procs = (uint32_t)env.max_procs;
	to->btf_path = env.btf;
	to->verbose = env.verbose;
	if (tracer__open(&t, to, err, sizeof(err))) {
		fprintf(stderr, "memtrace-bpf: %s\n", err);
		return EXIT_TRACE_ERR;
	}
	ret = capture_main(&co, t);
	tracer__destroy(t);
	return ret;
}

static int on_record(void *ctx, const struct mt_rec *rec)
{
	return run__record(ctx, rec);
}

static bool all_exited(struct run *r)
{
	return r->sess.nprocs > 0 && r->sess.live == 0;
}

int main(int argc, char **argv)
{
	static const struct argp argp = { .options = opts, .parser = parse_arg, .doc = doc,
					  .args_doc = NULL };
	char msg[2048], summary_buf[4096], log_buf[4096], err[8192];
	struct tracer_opts to = {};
	struct tracer *tracer = NULL;
	struct run_spec spec = {};
	struct run r = {};
	bool tty = isatty(STDERR_FILENO);
	uint64_t next_status, next_check, next_lost_check, lost_reported = 0, drain_since = 0;
	bool drain_said = false;
	int e, ret = 0;

	argp_err_exit_status = EXIT_USAGE;	/* argp's own default is 64 */
	if (argc > 1 && !strcmp(argv[1], "spikes")) {
		argv[1] = "memtrace-bpf spikes";	/* argp's name in its messages */
		return cmd_spikes(argc - 1, argv + 1);
	}
	if (argc > 1 && !strcmp(argv[1], "campaign")) {
		argv[1] = "memtrace-bpf campaign";
		return cmd_campaign(argc - 1, argv + 1);
	}
	if (argc > 1 && !strcmp(argv[1], "validate")) {
		argv[1] = "memtrace-bpf validate";
		return cmd_validate(argc - 1, argv + 1);
	}
	if (argc > 1 && !strcmp(argv[1], "stages")) {
		argv[1] = "memtrace-bpf stages";
		return cmd_stages(argc - 1, argv + 1);
	}
	if (argc > 1 && !strcmp(argv[1], "record")) {
		argv[1] = argv[0];
		argc--;
		argv++;
	}
	e = argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, NULL);
	if (e)
		return EXIT_USAGE;
	/* first thing: a signal during setup (loading BPF takes a moment)
	 * must not be lost */
	signals__install();

	/* every check before anything is loaded or written */
	if (check_privileges(msg, sizeof(msg)) || check_btf(env.btf, msg, sizeof(msg)))
		goto fail_msg;
	if (env.comm || env.cgroup)
		return capture_cli(&to);
	for (int i = 0; i < env.npids; i++) {
		pid_t tgid;

		if (env.pids[i] == getpid()) {
			snprintf(msg, sizeof(msg), "PID %d is memtrace-bpf itself", env.pids[i]);
			goto fail_msg;
		}
		if (check_target(env.pids[i], &tgid, msg, sizeof(msg)))
			goto fail_msg;
		if (tgid != env.pids[i]) {
			fprintf(stderr, "memtrace-bpf: %d is a thread of process %d; tracing process %d\n",
				env.pids[i], tgid, tgid);
			env.pids[i] = tgid;
		}
	}
	if (env.ncmd && (e = check_command(env.cmd[0], msg, sizeof(msg)))) {
		fprintf(stderr, "memtrace-bpf: %s\n", msg);
		return e == -EACCES ? EXIT_NOEXEC : EXIT_NOTFOUND;
	}
	if (!env.summary && strcmp(env.output, "-")) {
		default_summary_path(summary_buf, sizeof(summary_buf), env.output);
		env.summary = summary_buf;
	}
	if (check_output_path(env.output, "trace", msg, sizeof(msg)) ||
	    (env.summary && check_output_path(env.summary, "summary", msg, sizeof(msg))))
		goto fail_msg;
	if (env.summary && !strcmp(env.summary, "-")) {
		snprintf(msg, sizeof(msg), "--summary - is not supported; give a file name");
		goto fail_msg;
	}
	if (env.ckpt_regex && !env.ckpt_log) {
		default_path(log_buf, sizeof(log_buf), env.output, "log");
		env.ckpt_log = log_buf;
	}
	if (env.ckpt_log && (check_output_path(env.ckpt_log, "log", msg, sizeof(msg))))
		goto fail_msg;
	if (env.ckpt_log && (!strcmp(env.ckpt_log, env.output) ||
			     (env.summary && !strcmp(env.ckpt_log, env.summary)))) {
		snprintf(msg, sizeof(msg), "the log %s would overwrite the trace or the summary; give --log another name",
			 env.ckpt_log);
		goto fail_msg;
	}
	if (env.summary && !strcmp(env.summary, env.output)) {
		snprintf(msg, sizeof(msg), "the trace and the summary would both be %s; give -s another name",
			 env.output);
		goto fail_msg;
	}

	to.follow = env.ncmd ? env.follow != 0 : env.follow == 1;
	to.ring_bytes = env.ring_bytes;
	to.max_procs = (uint32_t)env.max_procs;
	to.btf_path = env.btf;
	to.verbose = env.verbose;
	e = tracer__open(&tracer, &to, err, sizeof(err));
	if (e) {
		fprintf(stderr, "memtrace-bpf: %s\n", err);
		return EXIT_TRACE_ERR;
	}
	spec.group = 0;
	spec.mode = env.ncmd ? "launch" : "attach";
	spec.cmd = env.cmd;
	spec.ncmd = env.ncmd;
	spec.pids = env.pids;
	spec.npids = env.npids;
	spec.as_root = env.as_root;
	spec.sigpipe_ignored = sig_inherited_ignore[SIGPIPE];
	spec.csv_path = env.output;
	spec.summary_path = env.summary;
	spec.gate = &env.gate;
	if (env.ckpt_regex) {
		spec.ckpt_regex = &env.ckpt_re;
		spec.ckpt_regex_src = env.ckpt_regex;
		spec.ckpt_log_path = env.ckpt_log;
	}
	/* The trace file is created only once the command runs or the targets
	 * are attached: a failure before that leaves an earlier trace at that
	 * path as it was. Records wait in the ring buffer meanwhile. */
	if (sig_count) {
		/* interrupted while loading: the command is not started, and the
		 * files say so (an empty trace, a summary with interrupted) */
		fprintf(stderr, "memtrace-bpf: interrupted by signal %d before %s started\n",
			(int)sig_last, env.ncmd ? env.cmd[0] : "tracing");
		e = run__adopt(&r, tracer, &spec, mono_ns(), err, sizeof(err));
		r.interrupted = true;
	} else if (env.ncmd) {
		e = run__launch(&r, tracer, &spec, mono_ns(), err, sizeof(err));
		if (e && r.exec_failed) {
			fprintf(stderr, "memtrace-bpf: %s\n", err);
			ret = e == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC;
			goto out;
		}
	} else {
		e = run__attach(&r, tracer, &spec, mono_ns(), err, sizeof(err));
	}
	if (e) {
		fprintf(stderr, "memtrace-bpf: %s\n", err);
		ret = EXIT_TRACE_ERR;
		goto out;
	}

	next_status = r.start_ns + env.interval_ns;
	next_check = r.start_ns + 100000000ULL;
	next_lost_check = r.start_ns + 1000000000ULL;
	for (; !(r.interrupted && !r.child && env.ncmd);) {
		bool done = false;
		uint64_t t;

		if (r.logs_on) {
			/* the command's output is read as it comes: a log row's time
			 * is when its line arrived */
			uint64_t before;

			run__pump_logs(&r, 10, tracer__poll_fd(tracer), false);
			before = mono_ns();
			e = tracer__poll(tracer, 0, false, on_record, &r);
			/* every record stamped 2 ms before the drain is in */
			run__emit_logs(&r, before - 2000000ULL);
		} else {
			e = tracer__poll(tracer, 10, false, on_record, &r);
		}
		if (e) {
			fprintf(stderr, "memtrace-bpf: reading events failed: %s\n", strerror(-e));
			ret = EXIT_TRACE_ERR;
			break;
		}
		session__flush(&r.sess);
		if (r.sess.err) {
			fprintf(stderr, "memtrace-bpf: writing %s failed: %s; stopping the trace%s\n",
				env.output, strerror(r.sess.err),
				env.ncmd && !r.have_status ? " (the command keeps running)" : "");
			r.interrupted = true;
			ret = EXIT_TRACE_ERR;
			done = true;
		}
		if (sig_count) {
			int sig = sig_last;

			if (env.ncmd && !r.have_status && sig_count == 1) {
				if (sig_from_user)
					kill(r.child, sig);
				sig_count = 1;	/* wait for the command to exit */
				sig_from_user = 0;
				r.interrupted = true;
			} else {
				/* attach mode, or a second signal: stop now. (After
				 * the command ended, while its background jobs' output
				 * is still passed on, the run itself was complete.) */
				if (!(env.ncmd && r.have_status))
					r.interrupted = true;
				done = true;
			}
			if (env.ncmd && sig_count > 1)
				fprintf(stderr, "\nmemtrace-bpf: second signal: stopping the trace; "
					"%s (PID %d) keeps running\n", env.cmd[0], r.child);
		}
		if (env.ncmd && run__reap(&r)) {
			/* Processes that outlived the command (a background
			 * job) may still hold its stdout/stderr: their output
			 * is passed on until the pipes close, as a shell's
			 * `cmd | cat` would; any signal stops it. */
			if (!run__logs_busy(&r))
				done = true;
			else if (!drain_since)
				drain_since = mono_ns();
			else if (!drain_said && mono_ns() - drain_since > 1000000000ULL) {
				drain_said = true;
				fprintf(stderr, "%smemtrace-bpf: %s exited; processes it left still hold "
					"its stdout or stderr, and their output is passed on until they "
					"close them (Ctrl-C stops)\n", tty ? "\r\033[K" : "", env.cmd[0]);
			}
		}
		t = mono_ns();
		if (!env.ncmd && t >= next_check) {
			next_check = t + 100000000ULL;
			run__sync(&r);
			if (all_exited(&r))
				done = true;
		}
		if (!env.ncmd && all_exited(&r))
			done = true;
		if (t >= next_lost_check) {
			/* drops are said while they happen, at most every 5 s */
			struct mt_counters c;

			tracer__counters(tracer, &c);
			next_lost_check = t + 5000000000ULL;
			if (c.lost > lost_reported) {
				char rs[32];

				fprintf(stderr, "%smemtrace-bpf: %" PRIu64 " records dropped so far: the ring "
					"buffer (--ring-size, now %s) fills faster than it is read; "
					"peaks stay exact\n", tty ? "\r\033[K" : "", (uint64_t)c.lost,
					format_size(env.ring_bytes, rs, sizeof(rs)));
				lost_reported = c.lost;
			}
		}
		if ((env.interval_set || (tty && !env.quiet)) && t >= next_status && !done) {
			status_line(&r, tty, false);
			next_status = t + env.interval_ns;
		}
		if (done)
			break;
	}
	/* the last records are already in the ring: take them all */
	e = tracer__poll(tracer, 0, true, on_record, &r);
	if (e) {
		fprintf(stderr, "memtrace-bpf: reading the last events failed: %s\n", strerror(-e));
		ret = EXIT_TRACE_ERR;
	}
	if (env.interval_set || (tty && !env.quiet))
		status_line(&r, tty, true);
	if (run__finish(&r, mono_ns()) && !ret)
		ret = EXIT_TRACE_ERR;
	if (!env.quiet)
		print_summary(&r, env.summary);
	print_losses(&r);
	if (env.ncmd && r.have_status && !ret)
		ret = exit_status_code(r.status);
	else if (env.ncmd && !r.have_status && !ret)
		ret = 128 + (sig_last ? sig_last : SIGINT);	/* stopped before it ended */
	if (env.gate.max_peak_kb) {
		struct mt_group g;

		run__group(&r, &g);
		/* printed even with -q: it is the point of the gate */
		print_gate(g.tree_peak_pages * r.sess.page_kb);
		if (gate_exceeded(&env.gate, g.tree_peak_pages * r.sess.page_kb) && ret == 0)
			ret = EXIT_OVER_LIMIT;
	}
out:
	run__free(&r);
	tracer__destroy(tracer);
	if (env.ckpt_regex)
		regfree(&env.ckpt_re);
	return ret;

fail_msg:
	fprintf(stderr, "memtrace-bpf: %s\n", msg);
	return EXIT_TRACE_ERR;
}
