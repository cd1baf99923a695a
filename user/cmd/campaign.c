// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * memtrace-bpf campaign: many traced runs of a command (a parameter matrix
 * times repeats, or one run per line of a file), several at once under one
 * loaded set of BPF programs, each run exact and separate (its own kernel
 * group), then statistics across them. Resumable: a run is finished when
 * its result.csv exists; anything else in its directory is redone. A
 * client of the runner: it starts the plan's runs, and writes each one's
 * result when the runner has finished it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "cmd/campaign.h"
#include "cmd/campaign_plan.h"
#include "cmd/campaign_slurm.h"
#include "cmd/cmd.h"
#include "format/json.h"
#include "format/result.h"
#include "lib/clock.h"
#include "lib/files.h"
#include "lib/zstream.h"
#include "lib/units.h"
#include "lib/waitstatus.h"
#include "report/report.h"
#include "trace/preflight.h"
#include "trace/runner.h"

#define MAX_JOBS 64

/* What each run directory holds. */
enum { F_TRACE, F_SUMMARY, F_LOG, F_RUNJSON, F_RESULT, F_REPORT, F_N };
static const char *run_files[F_N] = { "trace.csv.zst", "summary.json", "output.log",
				      "run.json", "result.csv", "trace.html" };
/* the trace's name by --trace-format */
static const char *const trace_names[] = { [ZF_PLAIN] = "trace.csv", [ZF_GZIP] = "trace.csv.gz",
					   [ZF_ZSTD] = "trace.csv.zst" };

static struct campaign {
	struct plan plan;
	unsigned long jobs;
	bool quiet, tty;
	size_t next;		/* the plan's next run to consider */
	size_t ndone;		/* finished runs, on disk (earlier ones too) */
	double dur_sum;		/* this time's finished runs, for the ETA */
	int ndur;
	uint64_t start_ns, next_progress;
	bool waiting_said;
	bool failed;		/* a run could not start or be recorded: no more
				   start, those in progress end as they would */
	int dirfd;		/* -d DIR, open (and locked) */
	struct peak_limit limit;	/* --max-peak, judged per run */
	const char *ckpt_regex;	/* --checkpoint-regex, per run */
	regex_t ckpt_re;
	bool report;		/* --report: each run's page, and the campaign's */
	/* --slurm: the runs as a job array (cmd/campaign_slurm.h) */
	bool slurm;
	struct campaign_slurm_opts so;
	long slurm_task;	/* --slurm-task K: an array task, -1: not one */
	const char *slurm_sub;	/* --slurm-sub LIST: its submission's runs */
	bool partial;		/* an array task's run stopped: result.partial.csv */
} ca = { .plan = { .repeat = 1 }, .jobs = 1, .so = { .poll_s = 5 }, .slurm_task = -1 };

enum { OPT_REPEAT = 1200, OPT_PARAM, OPT_FILE, OPT_MAX_PEAK, OPT_TOLERANCE, OPT_CKPT_REGEX,
       OPT_TRACE_FORMAT, OPT_REPORT, OPT_SLURM, OPT_SLURM_OPT, OPT_MAX_PARALLEL, OPT_SLURM_POLL,
       OPT_SLURM_TASK, OPT_SLURM_SUB };

static const char doc[] =
"Trace many runs of a command: a parameter matrix times repeats, each run's\n"
"trace kept, then mean / std / CV / min / max of the peak per configuration.\n"
"Per run also its baseline (the median RSS over the last tenth of its\n"
"life) and its largest VmSize and VmData; std is the sample one (n-1).\n"
"\n"
"USAGE: memtrace-bpf campaign -d DIR [OPTIONS] -- COMMAND [ARGS with {NAME}]\n"
"       memtrace-bpf campaign -d DIR --file RUNS.txt [OPTIONS]\n"
"       memtrace-bpf campaign report DIR [--format text|json]\n"
"\n"
"Each --param NAME=V1,V2 adds a dimension; every combination is a\n"
"configuration, run --repeat times. {NAME} in the command is replaced by\n"
"the value, and NAME=value is exported (with MEMTRACE_CONFIG,\n"
"MEMTRACE_REPEAT, MEMTRACE_RUN_DIR). --file: one command per line (quotes\n"
"as in a shell, # comments, no expansion). Runs go to DIR/CONFIG/REPEAT/:\n"
"trace.csv.zst (zstd: `zstd -dc` or any subcommand reads it; --trace-format),\n"
"summary.json, output.log (stdout+stderr), run.json (command, environment,\n"
"start time), result.csv (written last: the run is finished).\n"
"DIR/campaign.csv has a row per run, DIR/stats.csv and stats.json the\n"
"statistics over the runs that exited 0.\n"
"\n"
"Run the same command again to resume: finished runs are kept and skipped,\n"
"a half-finished one is redone. A run that fails (non-zero exit, killed,\n"
"OOM, cannot start) is recorded as such and the campaign goes on.\n"
"\n"
"EXAMPLES:\n"
"  sudo memtrace-bpf campaign -d results/ --repeat 3 \\\n"
"       --param LIMIT=323,478,823,1005 -- ./solver_dev {LIMIT}\n"
"  sudo memtrace-bpf campaign -d r/ --param N=1,2 --param M=a,b -- ./x {N} {M}\n"
"  sudo memtrace-bpf campaign -d results/ --file runs.txt   # one run per line\n"
"  sudo memtrace-bpf campaign -d results/ --jobs 2 ...      # two runs at once\n"
"  memtrace-bpf campaign report results/                    # tables from disk\n"
"  memtrace-bpf campaign report results/ --html  # and results/campaign.html\n"
"  sudo memtrace-bpf campaign -d r/ --report --param N=1,2 -- ./x {N}  # pages too\n"
"  sudo memtrace-bpf campaign -d r/ --kill-at 8G --timeout 1h --max-peak 6G \\\n"
"       --param N=1,2 -- ./solver {N}     # each run guarded, timed, gated\n"
"  memtrace-bpf campaign -d r/ --slurm --max-parallel 8 --slurm-opt=--time=2:00:00 \\\n"
"       --param N=1,2 -- ./solver {N}     # as a Slurm job array (r/ shared)\n"
"\n"
"A run's status in campaign.csv: ok, failed (exit status not 0), killed (by a\n"
"signal), not-run, guard (--kill-at stopped it), timeout (--timeout stopped\n"
"it), over-limit (exited 0, its peak over --max-peak + --tolerance).\n"
"\n"
"--slurm: the runs not finished are one Slurm job array (sbatch), each array\n"
"task one run, traced on its node through the node's memtrace-bpf service,\n"
"into the same DIR (a directory every node sees). This command follows it\n"
"(squeue), then asks sacct how each task ended: DIR/CONFIG/REPEAT/slurm.csv,\n"
"and in campaign.csv slurm_job_id, slurm_state, slurm_maxrss_kb (what Slurm\n"
"measured) and maxrss_gap_kb (the exact peak less it). A run stopped by its\n"
"time limit keeps what was traced (status timeout); one cancelled or lost\n"
"with its node is redone by the same command again. Ctrl-C stops following\n"
"only (scancel stops the array).\n"
"\n"
"Exit status: 0 every run exited 0 (and none was over --max-peak); 3 the\n"
"campaign finished but some runs did not exit 0 (see campaign.csv); 88 every\n"
"run exited 0, some over --max-peak; 1 cannot trace; 2 bad command line;\n"
"128+N stopped by signal N (run the same command again to resume).\n"
"\n"
"OPTIONS:";

static const struct argp_option opts[] = {
	{ "dir", 'd', "DIR", 0, "Results directory (created; required)", 0 },
	{ "repeat", OPT_REPEAT, "N", 0, "Runs per configuration (default 1)", 0 },
	{ "param", OPT_PARAM, "NAME=V1,V2", 0, "A parameter and its values; repeatable (a matrix)", 0 },
	{ "file", OPT_FILE, "FILE", 0, "One command per line instead of -- COMMAND", 0 },
	{ "jobs", 'j', "N", 0, "Runs at once, all traced by one BPF load (default 1, at most 64)", 0 },
	{ "quiet", 'q', NULL, 0, "No progress and no table", 0 },
	{ NULL, 0, NULL, 0, "Each run:", 1 },
	{ "max-peak", OPT_MAX_PEAK, "SIZE", 0, "A run whose peak RSS is above SIZE is over-limit in campaign.csv (exit 88 when all else passed)", 1 },
	{ "tolerance", OPT_TOLERANCE, "PCT%|SIZE", 0, "Allowance over --max-peak: 10% or 100M (default 0)", 1 },
	{ "trace-format", OPT_TRACE_FORMAT, "FMT", 0, "Each run's trace as zst (default: trace.csv.zst, about 1/7 of the CSV), gz (trace.csv.gz) or csv", 0 },
	{ "checkpoint-regex", OPT_CKPT_REGEX, "REGEX", 0, "Match each run's output lines (kept in its output.log) with this POSIX extended regex; its first group is a value the program reported, a log row in its trace", 1 },
	{ "report", OPT_REPORT, NULL, 0, "Each run's HTML report beside its trace (trace.html), and DIR/campaign.html at the end (see campaign report --help)", 1 },
	{ NULL, 0, NULL, 0, "On a Slurm cluster:", 4 },
	{ "slurm", OPT_SLURM, NULL, 0, "Submit the runs as a Slurm job array and follow it (see above)", 4 },
	{ "slurm-opt", OPT_SLURM_OPT, "OPT", 0, "One sbatch option, passed on (repeatable): --slurm-opt=--time=1:00:00 --slurm-opt=--mem=8G", 4 },
	{ "max-parallel", OPT_MAX_PARALLEL, "N", 0, "Array tasks at once (sbatch --array=...%N)", 4 },
	{ "slurm-poll", OPT_SLURM_POLL, "SECONDS", 0, "Between squeue calls while following (default 5)", 4 },
	{ "slurm-task", OPT_SLURM_TASK, "K", OPTION_HIDDEN, "An array task: run K of --slurm-sub", 4 },
	{ "slurm-sub", OPT_SLURM_SUB, "LIST", OPTION_HIDDEN, "The submission's runs", 4 },
	{},
};

#define usage_err(...) usage_exit("campaign", __VA_ARGS__)

static error_t parse_arg(int key, char *arg, struct argp_state *st)
{
	struct plan *p = &ca.plan;

	switch (key) {
	case 'd':
		p->dir = arg;
		break;
	case OPT_REPEAT:
		if (parse_uint(arg, CAMPAIGN_MAX_RUNS, &p->repeat) || p->repeat < 1)
			usage_err("--repeat %s: a number from 1 to %d", arg, CAMPAIGN_MAX_RUNS);
		break;
	case OPT_PARAM:
		plan__add_param(p, arg);
		break;
	case OPT_FILE:
		p->file = arg;
		break;
	case 'j':
		if (parse_uint(arg, MAX_JOBS, &ca.jobs) || ca.jobs < 1)
			usage_err("--jobs %s: a number from 1 to %d", arg, MAX_JOBS);
		break;
	case 'q':
		ca.quiet = true;
		break;
	case OPT_MAX_PEAK:
	case OPT_TOLERANCE:
		gate_option("campaign", key == OPT_TOLERANCE, arg, &ca.limit);
		break;
	case OPT_TRACE_FORMAT: {
		int f = zformat_parse(arg);

		if (f < 0)
			usage_err("--trace-format %s: zst (the default), gz or csv", arg);
		run_files[F_TRACE] = trace_names[f];
		break;
	}
	case OPT_CKPT_REGEX:
		if (ca.ckpt_regex)
			usage_err("--checkpoint-regex given twice; give one pattern (alternatives: 'A|B')");
		ckpt_regex_compile("campaign", arg, &ca.ckpt_re);
		ca.ckpt_regex = arg;
		break;
	case OPT_REPORT:
		ca.report = true;
		break;
	case OPT_SLURM:
		ca.slurm = true;
		break;
	case OPT_SLURM_OPT: {
		char **n = realloc(ca.so.sbatch, (size_t)(ca.so.nsbatch + 1) * sizeof(*n));

		if (!n)
			usage_err("out of memory");
		ca.so.sbatch = n;
		ca.so.sbatch[ca.so.nsbatch++] = arg;
		break;
	}
	case OPT_MAX_PARALLEL:
		if (parse_uint(arg, 100000, &ca.so.max_parallel) || ca.so.max_parallel < 1)
			usage_err("--max-parallel %s: a number from 1 to 100000", arg);
		break;
	case OPT_SLURM_POLL: {
		unsigned long v;

		if (parse_uint(arg, 3600, &v) || v < 1)
			usage_err("--slurm-poll %s: seconds, from 1 to 3600", arg);
		ca.so.poll_s = (unsigned int)v;
		break;
	}
	case OPT_SLURM_TASK: {
		unsigned long v;

		if (parse_uint(arg, CAMPAIGN_MAX_RUNS, &v))
			usage_err("--slurm-task %s: an array task index", arg);
		ca.slurm_task = (long)v;
		break;
	}
	case OPT_SLURM_SUB:
		ca.slurm_sub = arg;
		break;
	case ARGP_KEY_ARG:
		p->cmd = &st->argv[st->next - 1];
		p->ncmd = st->argc - st->next + 1;
		st->next = st->argc;
		break;
	case ARGP_KEY_END:
		if (!p->dir)
			usage_err("where should the results go? give -d DIR (e.g. -d results/)");
		if (p->file && p->ncmd)
			usage_err("give either --file RUNS.txt or -- COMMAND, not both");
		if (!p->file && !p->ncmd)
			usage_err("nothing to run: give -- COMMAND [ARGS] or --file RUNS.txt");
		if ((ca.limit.tolerance_kb || ca.limit.tolerance_pct > 0) && !ca.limit.max_peak_kb)
			usage_err("--tolerance needs --max-peak (the limit it adds to)");
		if (!ca.slurm && (ca.so.nsbatch || ca.so.max_parallel))
			usage_err("--%s is for --slurm (a campaign as a Slurm job array)",
				  ca.so.nsbatch ? "slurm-opt" : "max-parallel");
		if ((ca.slurm_task >= 0) != (ca.slurm_sub != NULL))
			usage_err("--slurm-task and --slurm-sub go together (the job array's script "
				  "gives both)");
		guard_cli__check(GUARD_CAMPAIGN);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* ---- a run's files ---- */

static void iso_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* run.json: what the run is (command, params, cwd, environment, start). */
static int write_run_json(const struct plan_run *r, char **envp, int dirfd)
{
	char *buf = NULL, cwd[PATH_MAX], iso[40];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct jw w;
	int e;

	if (!f)
		return -ENOMEM;
	iso_time(r->started, iso, sizeof(iso));
	jw_begin(&w, f);
	jw_obj(&w, NULL);
	jw_str(&w, "config", r->config);
	jw_i64(&w, "repeat", r->repeat);
	jw_i64(&w, "index", r->index);
	jw_arr(&w, "command");
	for (int i = 0; i < r->argc; i++)
		jw_str(&w, NULL, r->argv[i]);
	jw_arr_end(&w);
	jw_obj(&w, "params");
	for (int i = 0; i < ca.plan.nparams; i++) {
		const char *name = ca.plan.params[i].name;
		size_t l = strlen(name);

		for (char **kv = envp; *kv; kv++)
			if (!strncmp(*kv, name, l) && (*kv)[l] == '=')
				jw_str(&w, name, *kv + l + 1);
	}
	jw_obj_end(&w);
	jw_str(&w, "cwd", getcwd(cwd, sizeof(cwd)) ? cwd : NULL);
	jw_str(&w, "start_time", iso);
	jw_u64(&w, "start_ts_ns", mono_ns());
	jw_arr(&w, "environment");
	for (char **kv = envp; *kv; kv++)
		jw_str(&w, NULL, *kv);
	jw_arr_end(&w);
	jw_obj_end(&w);
	fclose(f);
	e = write_file_at(dirfd, run_files[F_RUNJSON], buf, len);
	free(buf);
	return e;
}

/* A run not finished: its directory (DIR/CONFIG/REPEAT, each a real
 * directory of ours, never a link followed), cleared of what an earlier
 * attempt left so nothing of it is mistaken for this attempt's; then its
 * run.json. Its fd, or -errno (said in msg). */
static int prepare_run_dir(const struct plan_run *r, char **envp, char *msg, size_t len)
{
	int cfg = dir_open(ca.dirfd, r->config, true, msg, len), fd, e;
	char rep[16];

	if (cfg < 0)
		return cfg;
	snprintf(rep, sizeof(rep), "%d", r->repeat);
	fd = dir_open(cfg, rep, true, msg, len);
	close(cfg);
	if (fd < 0)
		return fd;
	for (int f = 0; f < F_N + 2; f++) {
		/* this run's files, and a trace an earlier attempt wrote in
		 * another --trace-format */
		const char *name = f < F_N ? run_files[f] : trace_names[(f - F_N + 1 +
			zformat_of_path(run_files[F_TRACE])) % 3];

		if (unlinkat(fd, name, 0) && errno != ENOENT) {
			e = -errno;
			goto fail;
		}
	}
	if (unlinkat(fd, "result.partial.csv", 0) && errno != ENOENT) {
		e = -errno;
		goto fail;
	}
	e = write_run_json(r, envp, fd);
	if (!e)
		return fd;
fail:
	snprintf(msg, len, "cannot prepare %s: %s", r->dir, strerror(-e));
	close(fd);
	return e;
}

/* result.csv: written last, atomically: the run is finished. */
static int write_result(const struct plan_run *pr, struct run *r, struct run_result *res,
			const char *name)
{
	char line[1024];
	const struct proc_info *root = r->child ? procs__get(&r->procs, r->child, false) : NULL;
	uint64_t life[2];	/* the command's exec and exit */
	struct mt_group g;
	int n;

	run__group(r, &g);
	*res = (struct run_result){ .index = pr->index, .repeat = pr->repeat };
	snprintf(res->config, sizeof(res->config), "%s", pr->config);
	res->exit_code = r->have_status ? exit_status_code(r->status) : -1;
	snprintf(res->status, sizeof(res->status), "%s",
		 r->exec_failed ? "not-run" : guard__exit_status(r) == EXIT_GUARD ? "guard" :
		 guard__exit_status(r) == EXIT_TIMEOUT ? "timeout" :
		 WIFSIGNALED(r->status) ? "killed" : res->exit_code ? "failed" :
		 peak_limit_exceeded(&ca.limit, g.tree_peak_pages * r->page_kb) ? "over-limit" : "ok");
	res->peak_rss_kb = g.tree_peak_pages * r->page_kb;
	res->peak_time_s = g.tree_peak_ts_ns > r->start_ns ? (g.tree_peak_ts_ns - r->start_ns) / 1e9 : 0;
	/* the command's own time, from its exec to its exit, as the kernel
	 * stamped them (the loop notices an exit a few ms late) */
	if (root && root->known_exit && root->first_ts_ns && root->end_ts_ns > root->first_ts_ns) {
		life[0] = root->first_ts_ns;
		life[1] = root->end_ts_ns;
	} else {
		life[0] = r->start_ns;
		life[1] = r->end_ns;
	}
	res->duration_s = (life[1] - life[0]) / 1e9;
	/* over the same life: its last tenth */
	if (r->exec_failed || run__baseline(r, life[0], life[1], &res->baseline_kb))
		res->baseline_kb = -1;
	res->peak_vmsize_kb = r->exec_failed ? -1 : (int64_t)(r->peak_vm_pages * r->page_kb);
	res->peak_vmdata_kb = r->exec_failed ? -1 : (int64_t)(r->peak_data_pages * r->page_kb);
	res->spikes = r->spikes ? spikes__count(r->spikes) : 0;
	res->lost_events = g.lost;
	res->untraced = g.untraced;
	res->events = r->trace.rows;
	res->rusage_maxrss_kb = r->ru.ru_maxrss;
	iso_time(pr->started, res->start_time, sizeof(res->start_time));
	n = snprintf(line, sizeof(line), "%s\n", RESULT_HEADER);
	n += result_format(line + n, sizeof(line) - (size_t)n, res);
	return write_file_at(pr->dirfd, name, line, (size_t)n);
}

/* ---- the runner's client ---- */

static void close_run_dir(struct plan_run *pr)
{
	if (pr->dirfd >= 0)
		close(pr->dirfd);
	pr->dirfd = -1;
}

/* Starts the plan's run pr. 0; -EBUSY when every trace group is held by
 * processes of earlier runs (wait); another -errno when the campaign
 * cannot go on (said). A run that cannot start is a finished run whose
 * status is not-run. */
static int start_run(struct runner *rn, struct plan_run *pr)
{
	char path[F_N][PATH_MAX + 16], err[1024];
	struct run_spec s = { .mode = "campaign", .cmd = pr->argv, .ncmd = pr->argc,
			      .own_pgrp = true, .as_root = trace_cli.as_root,
			      .sigpipe_ignored = sig_inherited_ignore[SIGPIPE], .dirfd = &pr->dirfd,
			      .limit = ca.limit.max_peak_kb ? &ca.limit : NULL, .baseline = true,
			      .guard = guard_spec__active(&guard_cli.spec) ? &guard_cli.spec : NULL };
	char label[300];
	struct run *r = calloc(1, sizeof(*r));
	char **envp = r ? plan__env(&ca.plan, pr) : NULL;
	int e;

	for (int f = 0; f < F_N; f++)
		path_join(path[f], sizeof(path[f]), pr->dir, run_files[f]);
	pr->started = time(NULL);
	pr->dirfd = envp ? prepare_run_dir(pr, envp, err, sizeof(err)) : -ENOMEM;
	if (pr->dirfd < 0) {
		e = pr->dirfd;
		fprintf(stderr, "memtrace-bpf campaign: %s\n", envp ? err : strerror(-e));
		goto out;
	}
	s.envp = envp;
	if (ca.ckpt_regex) {
		/* the output through our pipes, kept in output.log only */
		s.ckpt_regex = &ca.ckpt_re;
		s.ckpt_regex_src = ca.ckpt_regex;
		s.ckpt_log = path[F_LOG];
		s.ckpt_keep_only = true;
	} else {
		s.output_log = path[F_LOG];
	}
	snprintf(label, sizeof(label), "%s #%d", pr->config, pr->repeat);
	s.label = label;
	s.csv_path = path[F_TRACE];
	s.resolution_ns = trace_cli.resolution_ns;
	s.summary_path = path[F_SUMMARY];
	e = run__launch(r, rn->tracer, &s, err, sizeof(err));
	if (e && r->exec_failed) {
		/* could not run: a failed run (its log says why) */
		if (!ca.quiet)
			fprintf(stderr, "memtrace-bpf campaign: %s #%d: %s\n", pr->config, pr->repeat, err);
		e = 0;
	} else if (e && e != -EBUSY) {
		fprintf(stderr, "memtrace-bpf campaign: %s #%d: %s\n", pr->config, pr->repeat, err);
	}
	if (!e) {
		r->tag = pr;
		runner__add(rn, r);
		r = NULL;
	}
out:
	plan__env_free(&ca.plan, envp);
	if (r) {
		run__free(r);
		free(r);
		close_run_dir(pr);
	}
	return e;
}

static void show_progress(uint64_t now, int nruns)
{
	char el[32], eta[32] = "?";
	size_t left = ca.plan.nruns - ca.ndone;

	if (ca.ndur)
		format_duration((uint64_t)(ca.dur_sum / ca.ndur * (double)left / (double)ca.jobs * 1e9),
				eta, sizeof(eta));
	fprintf(stderr, "\r\033[K  run %zu of %zu, %d running, elapsed %s, ETA %s",
		ca.ndone + (size_t)(nruns ? 1 : 0), ca.plan.nruns, nruns,
		format_duration(now - ca.start_ns, el, sizeof(el)), eta);
	fflush(stderr);
	ca.next_progress = now + 250000000ULL;
}

/* Runs up to --jobs, then the progress line. */
static int camp_turn(void *ctx, struct runner *rn, uint64_t now)
{
	(void)ctx;
	while (!rn->stop_sig && !ca.failed && rn->nruns < (int)ca.jobs && ca.next < ca.plan.nruns) {
		struct plan_run *pr = &ca.plan.runs[ca.next];
		int e;

		if (pr->done) {
			ca.next++;
			continue;
		}
		e = start_run(rn, pr);
		if (e == -EBUSY) {
			if (!ca.waiting_said && !rn->nruns)
				fprintf(stderr, "memtrace-bpf campaign: waiting: processes left behind "
					"by earlier runs hold every trace group\n");
			ca.waiting_said = true;
			break;
		}
		ca.next++;
		if (e)
			ca.failed = true;
	}
	if (!ca.quiet && ca.tty && now >= ca.next_progress)
		show_progress(now, rn->nruns);
	return 0;
}

/* A run is over: its result, unless the campaign stopped it (then it is
 * redone on resume). */
static int camp_finished(void *ctx, struct runner *rn, struct run *r, int err)
{
	struct plan_run *pr = r->tag;
	struct run_result res;
	char sz[32], du[32];
	int e;

	(void)ctx;
	e = r->interrupted || err ? 0 : write_result(pr, r, &res, run_files[F_RESULT]);
	/* an array task Slurm stopped (its time limit, a cancel: only sacct
	 * tells which): what was traced, for the driver to keep or drop */
	if (r->interrupted && !err && ca.slurm_task >= 0 &&
	    !write_result(pr, r, &res, "result.partial.csv"))
		ca.partial = true;
	/* --report: its page now, unless other runs go on (reading a long
	 * trace here would hold up their records); the campaign's end writes
	 * the pages still missing */
	if (!e && !r->interrupted && !err && ca.report && !rn->nruns && !r->exec_failed) {
		char t[PATH_MAX + 16], s[PATH_MAX + 16];

		report_beside(path_join(t, sizeof(t), pr->dir, run_files[F_TRACE]),
			      path_join(s, sizeof(s), pr->dir, run_files[F_SUMMARY]), pr->dirfd,
			      "memtrace-bpf campaign", MEMTRACE_VERSION);
	}
	close_run_dir(pr);
	if (r->interrupted) {
		fprintf(stderr, "memtrace-bpf campaign: %s #%d interrupted; it will be redone on resume\n",
			pr->config, pr->repeat);
		return 0;
	}
	if (err) {
		fprintf(stderr, "memtrace-bpf campaign: %s #%d: its files are incomplete; it will be "
			"redone on resume\n", pr->config, pr->repeat);
		ca.failed = true;
		return 0;
	}
	if (e) {
		fprintf(stderr, "memtrace-bpf campaign: cannot write %s/%s: %s\n", pr->dir,
			run_files[F_RESULT], strerror(-e));
		ca.failed = true;
		return 0;
	}
	pr->done = true;
	ca.ndone++;
	ca.dur_sum += res.duration_s;
	ca.ndur++;
	if (!ca.quiet)
		fprintf(stderr, "%s[%zu/%zu] %s #%d: %s%s%d), peak %s, %s\n",
			ca.tty ? "\r\033[K" : "", ca.ndone, ca.plan.nruns, pr->config, pr->repeat,
			res.status, strcmp(res.status, "killed") ? " (exit " : " (status ", res.exit_code,
			format_size(res.peak_rss_kb * 1024, sz, sizeof(sz)),
			format_duration((uint64_t)(res.duration_s * 1e9), du, sizeof(du)));
	/* said even with -q: the run's figures are incomplete */
	if (res.lost_events)
		fprintf(stderr, "    %s #%d: %" PRIu64 " records dropped (the peak is still exact); "
			"raise --ring-size\n", pr->config, pr->repeat, res.lost_events);
	if (res.untraced)
		fprintf(stderr, "    %s #%d: %" PRIu64 " child processes not traced (more than "
			"--max-procs alive at once); its peak leaves them out; raise --max-procs\n",
			pr->config, pr->repeat, res.untraced);
	return 0;
}

/* The runs are process groups of their own: the terminal's Ctrl-C does
 * not reach them; the runner passes the signal on (trace/run.h). */
static void camp_signalled(void *ctx, struct runner *rn, int sig, bool first)
{
	(void)ctx;
	if (first)
		fprintf(stderr, "%smemtrace-bpf campaign: signal %d: stopping; %d run%s in progress "
			"will be redone when you run the same command again\n",
			ca.tty ? "\r\033[K" : "", sig, rn->nruns, rn->nruns == 1 ? "" : "s");
	else
		fprintf(stderr, "memtrace-bpf campaign: second signal: killing the runs\n");
}

static bool camp_more(void *ctx)
{
	(void)ctx;
	return !ca.failed && ca.next < ca.plan.nruns;
}

/* ---- the directory ---- */

/* One campaign per directory at a time: a lock on the directory itself
 * (nothing written in it), held until we exit. */
static int lock_dir(int dirfd, const char *dir)
{
	if (!flock(dirfd, LOCK_EX | LOCK_NB))
		return 0;
	fprintf(stderr, "memtrace-bpf campaign: another campaign is running in %s; wait for it "
		"to end, or give another -d DIR\n", dir);
	return -EBUSY;
}

/* A directory holds one campaign: a resume needs the same plan. Writes
 * plan.txt the first time. 0, or the exit status (said). */
static int check_plan_file(const struct plan *p)
{
	char *old = NULL;
	size_t cap = 0;
	int fd = openat(ca.dirfd, "plan.txt", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), e;
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;

	if (!f) {
		if (fd >= 0)
			close(fd);
		e = write_file_at(ca.dirfd, "plan.txt", p->text, strlen(p->text));
		if (e)
			fprintf(stderr, "memtrace-bpf campaign: cannot write %s/plan.txt: %s\n", p->dir,
				strerror(-e));
		return e ? EXIT_TRACE_ERR : 0;
	}
	e = getdelim(&old, &cap, 0, f) < 0 || strcmp(old, p->text);
	fclose(f);
	free(old);
	if (e)
		fprintf(stderr, "memtrace-bpf campaign: %s holds another campaign (its plan.txt "
			"differs from this command's parameters, repeats or command); give a new "
			"-d DIR, or the same options as before to resume it\n", p->dir);
	return e ? EXIT_USAGE : 0;
}

/* Everything checked before anything is loaded or written. 0, or the exit
 * status (said). */
static int preflight(const struct plan *p)
{
	char msg[2048];

	/* two configurations must not share a directory: one would overwrite
	 * the other ("a/b" and "a_b" both become a_b) */
	for (size_t i = 0; i < p->nruns && p->runs[i].repeat == 1; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(p->runs[i].config, p->runs[j].config))
				usage_err("two configurations would share the directory %s: make the values "
					  "differ in letters, digits or ._- (other characters become _ there, "
					  "and + joins parameters)", p->runs[i].config);
	/* the driver of --slurm traces nothing here: the nodes do */
	if (ca.slurm && ca.slurm_task < 0 ? campaign_slurm_check(msg, sizeof(msg)) :
	    trace_cli__access(msg, sizeof(msg))) {
		fprintf(stderr, "memtrace-bpf campaign: %s\n", msg);
		return EXIT_TRACE_ERR;
	}
	for (size_t i = 0; i < p->nruns; i++) {
		if (i && !strcmp(p->runs[i].argv[0], p->runs[i - 1].argv[0]))
			continue;
		if (check_command(p->runs[i].argv[0], msg, sizeof(msg))) {
			fprintf(stderr, "memtrace-bpf campaign: %s (run %s #%d)\n", msg, p->runs[i].config,
				p->runs[i].repeat);
			return EXIT_TRACE_ERR;
		}
	}
	return 0;
}

/* DIR made, locked, its plan checked, finished runs found. 0, or the exit
 * status (said). *todo: the runs left. */
static int open_dir(struct plan *p, size_t *todo)
{
	char path[PATH_MAX + 16], msg[PATH_MAX + 128];
	struct stat st;
	int e;

	ca.dirfd = dir_open(AT_FDCWD, p->dir, true, msg, sizeof(msg));
	if (ca.dirfd < 0) {
		fprintf(stderr, "memtrace-bpf campaign: %s\n", msg);
		return EXIT_TRACE_ERR;
	}
	/* an array task: the campaign's driver holds the lock */
	if (ca.slurm_task < 0 && lock_dir(ca.dirfd, p->dir))
		return EXIT_TRACE_ERR;
	e = check_plan_file(p);
	if (e)
		return e;
	*todo = 0;
	for (size_t i = 0; i < p->nruns; i++) {
		p->runs[i].done = !stat(path_join(path, sizeof(path), p->runs[i].dir,
						  run_files[F_RESULT]), &st);
		*todo += !p->runs[i].done;
	}
	return 0;
}

/* Runs what is left of the plan. 0, or the exit status. */
static int run_plan(size_t todo)
{
	static const struct runner_client client = { .turn = camp_turn, .finished = camp_finished,
						     .signalled = camp_signalled, .more = camp_more };
	struct tracer_opts to = {};
	struct tracer *tracer;
	struct runner rn;
	char err[8192];
	int e;

	if (!todo)
		return 0;
	trace_cli__tracer_opts(&to, ca.plan.follow);
	if (trace_cli__tracer_open(&tracer, &to, err, sizeof(err))) {
		fprintf(stderr, "memtrace-bpf campaign: %s\n", err);
		return EXIT_TRACE_ERR;
	}
	ca.start_ns = mono_ns();
	runner__init(&rn, tracer, &client, NULL);
	e = runner__run(&rn);
	if (!ca.quiet && ca.tty)
		fprintf(stderr, "\r\033[K");
	tracer__destroy(tracer);
	if (e || ca.failed)
		return EXIT_TRACE_ERR;
	return rn.stop_sig ? EXIT_SIGNAL + rn.stop_sig : 0;
}

/* An array task of --slurm: the one run of the plan its list names, as
 * any campaign runs it (here, on its node); no tables (the driver makes
 * them). 0 when the run is recorded (finished, or stopped by Slurm with a
 * partial result), else the exit status. */
static int slurm_task_main(void)
{
	char msg[PATH_MAX + 128];
	size_t idx;
	int ret;

	if (campaign_slurm_task_index(ca.slurm_sub, ca.slurm_task, ca.plan.nruns, &idx, msg,
				      sizeof(msg))) {
		fprintf(stderr, "memtrace-bpf campaign: %s\n", msg);
		return EXIT_TRACE_ERR;
	}
	if (ca.plan.runs[idx].done)
		return 0;	/* finished since it was submitted */
	for (size_t i = 0; i < ca.plan.nruns; i++)
		ca.plan.runs[i].done = i != idx;
	ca.jobs = 1;
	ca.next = idx;
	ret = run_plan(1);
	if (ca.ckpt_regex)
		regfree(&ca.ckpt_re);
	if (ca.plan.runs[idx].done || ca.partial)
		return 0;
	return ret ? ret : EXIT_TRACE_ERR;
}

/* --slurm's driver: the unfinished runs as a job array, followed to its
 * end; then what is finished, counted again. The exit status so far;
 * *lost: runs Slurm cancelled or lost. */
static int slurm_driver(size_t todo, int argc, char **argv, size_t *lost)
{
	int ret;

	ca.so.quiet = ca.quiet;
	ca.so.tty = ca.tty;
	if (!ca.quiet)
		fprintf(stderr, "memtrace-bpf campaign: %zu run%s into %s%s; %zu to do, as a Slurm job "
			"array\n", ca.plan.nruns, ca.plan.nruns == 1 ? "" : "s", ca.plan.dir,
			ca.ndone ? " (resuming: finished runs are kept)" : "", todo);
	/* the array tasks get our own arguments (--slurm-task first) */
	ret = campaign_slurm_run(&ca.plan, ca.dirfd, argv + 1, argc - 1, &ca.so, lost);
	ca.ndone = 0;
	for (size_t i = 0; i < ca.plan.nruns; i++) {
		char path[PATH_MAX + 16];
		struct stat st;

		ca.plan.runs[i].done = !stat(path_join(path, sizeof(path), ca.plan.runs[i].dir,
						      run_files[F_RESULT]), &st);
		ca.ndone += ca.plan.runs[i].done;
	}
	return ret;
}

int cmd_campaign(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &guard_cli_argp, 0, NULL, 2 },
		{ &trace_cli_argp, 0, NULL, 3 },
		{},
	};
	static const struct argp argp = { .options = opts, .parser = parse_arg, .doc = doc,
					  .children = children };
	size_t todo = 0, lost = 0;
	int e, ret, nfailed = 0, nover = 0;

	if (argc > 1 && !strcmp(argv[1], "report"))
		return campaign_report_main(argc - 1, argv + 1);
	trace_cli.sub = "campaign";
	guard_cli.sub = "campaign";
	if (argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, NULL))
		return EXIT_USAGE;
	ca.plan.follow = trace_cli.follow != 0;
	ca.plan.as_root = trace_cli.as_root;
	ca.tty = isatty(STDERR_FILENO);
	signals__install();
	e = plan__build(&ca.plan);
	if (e)
		return e == -EINVAL ? EXIT_USAGE : EXIT_TRACE_ERR;
	ret = preflight(&ca.plan);
	if (!ret)
		ret = open_dir(&ca.plan, &todo);
	if (ret)
		return ret;
	if (ca.slurm_task >= 0)
		return slurm_task_main();
	ca.ndone = ca.plan.nruns - todo;
	if (ca.slurm) {
		ret = slurm_driver(todo, argc, argv, &lost);
	} else {
		if (!ca.quiet)
			fprintf(stderr, "memtrace-bpf campaign: %zu run%s into %s%s; %zu to do, %lu at "
				"once\n", ca.plan.nruns, ca.plan.nruns == 1 ? "" : "s", ca.plan.dir,
				ca.ndone ? " (resuming: finished runs are kept)" : "", todo, ca.jobs);
		ret = run_plan(todo);
	}
	if (campaign_tables(ca.plan.dir, !ca.quiet, false, &nfailed, &nover))
		ret = EXIT_TRACE_ERR;
	else if (ca.report && campaign_page(ca.plan.dir, NULL, false, ca.quiet))
		ret = EXIT_TRACE_ERR;
	else if (!ca.quiet)
		fprintf(stderr, "memtrace-bpf campaign: %zu of %zu runs finished; %s/campaign.csv, "
			"stats.csv, stats.json\n", ca.ndone, ca.plan.nruns, ca.plan.dir);
	if (!ret && lost)
		ret = EXIT_TRACE_ERR;	/* cancelled, or lost with a node: said */
	else if (!ret && nfailed)
		ret = EXIT_RUNS_FAILED;
	else if (!ret && nover)
		ret = EXIT_OVER_LIMIT;
	if (ca.ckpt_regex)
		regfree(&ca.ckpt_re);
	return ret;
}
