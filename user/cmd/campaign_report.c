// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A campaign's tables (campaign.csv, stats.csv, stats.json) from the
 * result.csv files on disk, and `campaign report DIR`. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "analysis/stats.h"
#include "cmd/campaign.h"
#include "cmd/cmd.h"
#include "format/json.h"
#include "format/result.h"
#include "lib/files.h"
#include "lib/grow.h"
#include "report/report.h"
#include "trace/run.h"

#define usage_err(...) usage_exit("campaign", __VA_ARGS__)

static int cmp_result(const void *a, const void *b)
{
	const struct run_result *x = a, *y = b;

	return (x->index > y->index) - (x->index < y->index);
}

/* A --slurm run's slurm.csv (campaign_slurm.c writes it): its job,
 * state and MaxRSS into r; none, or not readable: r says none. */
static void read_slurm_csv(const char *path, struct run_result *r)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	char buf[1024], *ln, *f[5] = { 0 }, *p, *end;
	struct stat st;
	ssize_t n;

	r->slurm_job[0] = r->slurm_state[0] = 0;
	r->slurm_maxrss_kb = -1;
	if (fd < 0)
		return;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (n = read(fd, buf, sizeof(buf) - 1)) <= 0) {
		close(fd);
		return;
	}
	close(fd);
	buf[n] = 0;
	ln = strchr(buf, '\n');
	if (!ln || strncmp(buf, "slurm_job_id,", 13))
		return;
	p = ln + 1;
	p[strcspn(p, "\n")] = 0;
	for (int i = 0; i < 5; i++)
		f[i] = strsep(&p, ",");
	if (!f[4] || !*f[0] || strlen(f[0]) >= sizeof(r->slurm_job) ||
	    strlen(f[1]) >= sizeof(r->slurm_state))
		return;
	for (const char *c = f[0]; *c; c++)
		if (!((*c >= '0' && *c <= '9') || *c == '_'))
			return;
	for (const char *c = f[1]; *c; c++)
		if (!((*c >= 'A' && *c <= 'Z') || *c == '_'))
			return;
	snprintf(r->slurm_job, sizeof(r->slurm_job), "%s", f[0]);
	snprintf(r->slurm_state, sizeof(r->slurm_state), "%s", f[1]);
	if (*f[3]) {
		long long v = strtoll(f[3], &end, 10);

		r->slurm_maxrss_kb = !*end && v >= 0 ? v : -1;
	}
}

static int collect_results(const char *dir, struct run_result **out, size_t *nout, bool warn)
{
	struct run_result *res = NULL;
	size_t n = 0, cap = 0;
	DIR *d = opendir(dir), *d2;
	struct dirent *c, *rp;
	char err[512];

	*out = NULL;
	*nout = 0;
	if (!d)
		return -errno;
	while ((c = readdir(d))) {
		char cdir[PATH_MAX];

		if (c->d_name[0] == '.')
			continue;
		path_join(cdir, sizeof(cdir), dir, c->d_name);
		d2 = opendir(cdir);
		if (!d2)
			continue;	/* a file: campaign.csv and friends */
		while ((rp = readdir(d2))) {
			char rdir[PATH_MAX], rpath[PATH_MAX + 16];
			struct stat stt;

			if (rp->d_name[0] == '.')
				continue;
			path_join(rdir, sizeof(rdir), cdir, rp->d_name);
			path_join(rpath, sizeof(rpath), rdir, "result.csv");
			if (stat(rpath, &stt))
				continue;	/* not finished */
			if (grow(&res, &cap, n, sizeof(*res), 64)) {
				closedir(d2);
				closedir(d);
				free(res);
				return -ENOMEM;
			}
			if (result_read(rpath, &res[n], err, sizeof(err))) {
				if (warn)
					fprintf(stderr, "memtrace-bpf campaign: skipping %s\n", err);
				continue;
			}
			path_join(rpath, sizeof(rpath), rdir, "slurm.csv");
			read_slurm_csv(rpath, &res[n]);
			n++;
		}
		closedir(d2);
	}
	closedir(d);
	if (n)
		qsort(res, n, sizeof(*res), cmp_result);
	*out = res;
	*nout = n;
	return 0;
}

/* A figure of n runs in a table column of width w, "-" when none. */
static void put_fig(FILE *f, int w, int prec, int n, double v)
{
	if (n)
		fprintf(f, "  %*.*f", w, prec, v);
	else
		fprintf(f, "  %*s", w, "-");
}

static void print_table(FILE *f, const struct config_stats *st, int n, size_t nres)
{
	int w = 6;
	bool old = false;

	for (int i = 0; i < n; i++) {
		if ((int)strlen(st[i].config) > w)
			w = (int)strlen(st[i].config);
		old |= st[i].baseline_runs < st[i].runs || st[i].vm_runs < st[i].runs;
	}
	fprintf(f, "%-*s  runs  fail  peak MiB: mean  std(n-1)    CV %%        min        max"
		"  baseline MiB: mean  std(n-1)  VmSize MiB: mean  VmData MiB: mean"
		"  time s: mean    CV %%\n", w, "config");
	for (int i = 0; i < n; i++) {
		const struct config_stats *s = &st[i];

		if (!s->runs) {
			fprintf(f, "%-*s  %4d  %4d  (no run exited 0)\n", w, s->config, s->runs, s->failed);
			continue;
		}
		fprintf(f, "%-*s  %4d  %4d  %14.2f  %8.2f  %6.2f  %9.2f  %9.2f", w, s->config, s->runs,
			s->failed, s->mean_peak_kb / 1024, s->std_peak_kb / 1024, s->cv_peak_pct,
			s->min_peak_kb / 1024, s->max_peak_kb / 1024);
		put_fig(f, 18, 2, s->baseline_runs, s->mean_base_kb / 1024);
		put_fig(f, 8, 2, s->baseline_runs, s->std_base_kb / 1024);
		put_fig(f, 16, 2, s->vm_runs, s->mean_vmsize_kb / 1024);
		put_fig(f, 16, 2, s->vm_runs, s->mean_vmdata_kb / 1024);
		fprintf(f, "  %12.3f  %6.2f\n", s->mean_dur_s, s->cv_dur_pct);
	}
	fprintf(f, "(%zu finished run%s; statistics over the runs that exited 0; std(n-1) is the "
		"sample standard deviation; baseline: the median RSS over the last tenth of each "
		"run; VmSize, VmData: each run's largest, of any one process%s)\n", nres,
		nres == 1 ? "" : "s",
		old ? "; runs of an earlier version have no baseline, VmSize, VmData: those are "
		      "over the runs that have them" : "");
}

/* What the tables are made of. */
struct tables {
	const struct run_result *res;
	size_t n;
	const struct config_stats *st;
	int nst, nfailed;
};

static void runs_csv(FILE *f, const struct tables *t)
{
	char line[1024];

	fprintf(f, "%s\n", CAMPAIGN_HEADER);
	for (size_t i = 0; i < t->n; i++) {
		const struct run_result *r = &t->res[i];
		int n = result_format(line, sizeof(line), r);

		if (n <= 0)
			continue;
		if (line[n - 1] == '\n')
			line[--n] = 0;
		fputs(line, f);
		if (!r->slurm_job[0]) {
			fputs(",,,,\n", f);
			continue;
		}
		fprintf(f, ",%s,%s,", r->slurm_job, r->slurm_state);
		if (r->slurm_maxrss_kb >= 0)
			fprintf(f, "%" PRId64 ",%" PRId64 "\n", r->slurm_maxrss_kb,
				(int64_t)r->peak_rss_kb - r->slurm_maxrss_kb);
		else
			fputs(",\n", f);
	}
}

/* CSV fields: a figure of n runs, empty when none. */
static void csv_fig(FILE *f, int n, const char *fmt, double v)
{
	fputc(',', f);
	if (n)
		fprintf(f, fmt, v);
}

static void stats_csv(FILE *f, const struct tables *t)
{
	fprintf(f, "config,runs,failed,mean_peak_rss_kb,std_peak_rss_kb,cv_percent,min_peak_rss_kb,"
		"max_peak_rss_kb,mean_duration_s,std_duration_s,cv_duration_percent,"
		"min_duration_s,max_duration_s,std_kind,baseline_runs,mean_baseline_rss_kb,"
		"std_baseline_rss_kb,cv_baseline_percent,min_baseline_rss_kb,max_baseline_rss_kb,"
		"vm_runs,mean_peak_vmsize_kb,std_peak_vmsize_kb,min_peak_vmsize_kb,"
		"max_peak_vmsize_kb,mean_peak_vmdata_kb,std_peak_vmdata_kb,min_peak_vmdata_kb,"
		"max_peak_vmdata_kb\n");
	for (int i = 0; i < t->nst; i++) {
		const struct config_stats *c = &t->st[i];
		int nb = c->baseline_runs, nv = c->vm_runs;

		fprintf(f, "%s,%d,%d,%.1f,%.1f,%.3f,%.0f,%.0f,%.6f,%.6f,%.3f,%.6f,%.6f,%s,%d",
			c->config, c->runs, c->failed, c->mean_peak_kb, c->std_peak_kb,
			c->cv_peak_pct, c->min_peak_kb, c->max_peak_kb, c->mean_dur_s,
			c->std_dur_s, c->cv_dur_pct, c->min_dur_s, c->max_dur_s, STATS_STD_KIND, nb);
		csv_fig(f, nb, "%.1f", c->mean_base_kb);
		csv_fig(f, nb, "%.1f", c->std_base_kb);
		csv_fig(f, nb, "%.3f", c->cv_base_pct);
		csv_fig(f, nb, "%.0f", c->min_base_kb);
		csv_fig(f, nb, "%.0f", c->max_base_kb);
		fprintf(f, ",%d", nv);
		csv_fig(f, nv, "%.1f", c->mean_vmsize_kb);
		csv_fig(f, nv, "%.1f", c->std_vmsize_kb);
		csv_fig(f, nv, "%.0f", c->min_vmsize_kb);
		csv_fig(f, nv, "%.0f", c->max_vmsize_kb);
		csv_fig(f, nv, "%.1f", c->mean_vmdata_kb);
		csv_fig(f, nv, "%.1f", c->std_vmdata_kb);
		csv_fig(f, nv, "%.0f", c->min_vmdata_kb);
		csv_fig(f, nv, "%.0f", c->max_vmdata_kb);
		fputc('\n', f);
	}
}

/* JSON: a figure of n runs, null when none. */
static void json_fig(struct jw *w, const char *key, int n, double v, int prec)
{
	if (n)
		jw_f64(w, key, v, prec);
	else
		jw_null(w, key);
}

static void stats_json(FILE *f, const struct tables *t)
{
	struct jw w;

	jw_begin(&w, f);
	jw_obj(&w, NULL);
	jw_u64(&w, "finished_runs", t->n);
	jw_u64(&w, "failed_runs", (uint64_t)t->nfailed);
	jw_str(&w, "std_kind", STATS_STD_KIND);
	jw_arr(&w, "configs");
	for (int i = 0; i < t->nst; i++) {
		const struct config_stats *c = &t->st[i];
		int nb = c->baseline_runs, nv = c->vm_runs;

		jw_obj(&w, NULL);
		jw_str(&w, "config", c->config);
		jw_i64(&w, "runs", c->runs);
		jw_i64(&w, "failed", c->failed);
		jw_f64(&w, "mean_peak_rss_kb", c->mean_peak_kb, 1);
		jw_f64(&w, "std_peak_rss_kb", c->std_peak_kb, 1);
		jw_f64(&w, "cv_percent", c->cv_peak_pct, 3);
		jw_u64(&w, "min_peak_rss_kb", (uint64_t)c->min_peak_kb);
		jw_u64(&w, "max_peak_rss_kb", (uint64_t)c->max_peak_kb);
		jw_f64(&w, "mean_duration_s", c->mean_dur_s, 6);
		jw_f64(&w, "std_duration_s", c->std_dur_s, 6);
		jw_f64(&w, "cv_duration_percent", c->cv_dur_pct, 3);
		jw_f64(&w, "min_duration_s", c->min_dur_s, 6);
		jw_f64(&w, "max_duration_s", c->max_dur_s, 6);
		jw_i64(&w, "baseline_runs", nb);
		json_fig(&w, "mean_baseline_rss_kb", nb, c->mean_base_kb, 1);
		json_fig(&w, "std_baseline_rss_kb", nb, c->std_base_kb, 1);
		json_fig(&w, "cv_baseline_percent", nb, c->cv_base_pct, 3);
		json_fig(&w, "min_baseline_rss_kb", nb, c->min_base_kb, 0);
		json_fig(&w, "max_baseline_rss_kb", nb, c->max_base_kb, 0);
		jw_i64(&w, "vm_runs", nv);
		json_fig(&w, "mean_peak_vmsize_kb", nv, c->mean_vmsize_kb, 1);
		json_fig(&w, "std_peak_vmsize_kb", nv, c->std_vmsize_kb, 1);
		json_fig(&w, "min_peak_vmsize_kb", nv, c->min_vmsize_kb, 0);
		json_fig(&w, "max_peak_vmsize_kb", nv, c->max_vmsize_kb, 0);
		json_fig(&w, "mean_peak_vmdata_kb", nv, c->mean_vmdata_kb, 1);
		json_fig(&w, "std_peak_vmdata_kb", nv, c->std_vmdata_kb, 1);
		json_fig(&w, "min_peak_vmdata_kb", nv, c->min_vmdata_kb, 0);
		json_fig(&w, "max_peak_vmdata_kb", nv, c->max_vmdata_kb, 0);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	fputc('\n', f);
}

/* One table, made in memory and written whole into DIR/name (and to our
 * stdout when echo). 0 or -errno. */
static int write_table(const char *dir, const char *name, void (*fill)(FILE *, const struct tables *),
		       const struct tables *t, bool echo)
{
	char *buf = NULL, path[PATH_MAX + 32];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int e;

	if (!f)
		return -ENOMEM;
	fill(f, t);
	if (fclose(f)) {
		free(buf);
		return -ENOMEM;
	}
	e = write_file(path_join(path, sizeof(path), dir, name), buf, len);
	if (echo)
		fwrite(buf, 1, len, stdout);
	free(buf);
	return e;
}

/* campaign.csv, stats.csv, stats.json from the result.csv files on disk. */
int campaign_tables(const char *dir, bool print, bool json_out, int *nfailed, int *nover)
{
	struct run_result *res;
	struct config_stats *st;
	struct tables t;
	size_t n;
	int nst, e, e2;

	e = collect_results(dir, &res, &n, true);
	if (e) {
		fprintf(stderr, "memtrace-bpf campaign: cannot read %s: %s\n", dir, strerror(-e));
		return e;
	}
	nst = stats_by_config(res, (int)n, &st);
	if (nst < 0) {
		free(res);
		return nst;
	}
	t = (struct tables){ .res = res, .n = n, .st = st, .nst = nst };
	*nover = 0;
	for (size_t i = 0; i < n; i++) {
		t.nfailed += res[i].exit_code != 0;
		*nover += !strcmp(res[i].status, "over-limit");
	}
	*nfailed = t.nfailed;
	e = write_table(dir, "campaign.csv", runs_csv, &t, false);
	e2 = write_table(dir, "stats.csv", stats_csv, &t, false);
	e = e ? e : e2;
	e2 = write_table(dir, "stats.json", stats_json, &t, print && json_out);
	e = e ? e : e2;
	if (e)
		fprintf(stderr, "memtrace-bpf campaign: cannot write the reports in %s: %s\n", dir,
			strerror(-e));
	if (print && !json_out)
		print_table(stdout, st, nst, n);
	/* the table (or stats.json) on stdout is a table too: a full disk
	 * or a closed pipe there is a failure, said */
	if (print && report_written("campaign") && !e)
		e = -EIO;
	free(st);
	free(res);
	return e;
}

int campaign_page(const char *dir, const char *out, bool rewrite, bool quiet)
{
	struct campaign_run *runs = NULL;
	struct run_result *res;
	char path[PATH_MAX + 32], msg[1024] = "";
	struct out_file of;
	size_t n;
	FILE *f;
	int e;

	e = collect_results(dir, &res, &n, false);
	if (e) {
		fprintf(stderr, "memtrace-bpf campaign: cannot read %s: %s\n", dir, strerror(-e));
		return e;
	}
	runs = calloc(n ? n : 1, sizeof(*runs));
	if (!runs) {
		free(res);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		char rundir[PATH_MAX], rep[16];

		runs[i].res = res[i];
		snprintf(rep, sizeof(rep), "%d", res[i].repeat);
		path_join(path, sizeof(path), dir, res[i].config);
		path_join(rundir, sizeof(rundir), path, rep);
		/* a run whose page cannot be made is listed without it, said */
		if (campaign_run__load(&runs[i], rundir, rewrite, MEMTRACE_VERSION) &&
		    strcmp(res[i].status, "not-run"))
			fprintf(stderr, "memtrace-bpf campaign: %s: no page: %s\n", rundir, runs[i].err);
	}
	free(res);
	if (!out)
		out = path_join(path, sizeof(path), dir, "campaign.html");
	out_file__init(&of);
	e = out_file__create(&of, AT_FDCWD, out, "campaign page", msg, sizeof(msg));
	f = e ? NULL : out_file__stream(&of);
	if (!e && !f)
		e = errno ? -errno : -ENOMEM;
	if (f) {
		e = campaign_html(f, dir, runs, n, MEMTRACE_VERSION);
		if (e)
			fclose(f);
		else if (!(e = out_file__stream_end(&of, f)))
			e = out_file__publish(&of, msg, sizeof(msg));
		else
			snprintf(msg, sizeof(msg), "writing %s failed: %s", out, strerror(-e));
	} else if (e && !msg[0]) {
		snprintf(msg, sizeof(msg), "cannot write %s: %s", out, strerror(-e));
	}
	out_file__close(&of);
	if (e)
		fprintf(stderr, "memtrace-bpf campaign: %s\n", msg[0] ? msg : strerror(-e));
	else if (!quiet)
		fprintf(stderr, "memtrace-bpf campaign: wrote %s (%zu runs)\n", out, n);
	for (size_t i = 0; i < n; i++)
		campaign_run__free(&runs[i]);
	free(runs);
	return e;
}

/* The campaign running in DIR holds flock(LOCK_EX) on it for its whole life
 * (lock_dir() in campaign.c) and writes the tables when it ends: a report
 * now would write them with the runs finished so far, and its rename could
 * land after the campaign's own, leaving half the runs in campaign.csv.
 * Refused, not waited for: a campaign runs for minutes or hours, and a
 * report that waits without a word looks hung; the message says when to
 * run it. A shared lock: reports do not exclude each other (each writes
 * through temporaries of its own, then renames). The fd, or -errno (said). */
static int lock_for_report(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), e;

	if (fd < 0) {
		e = -errno;
		fprintf(stderr, "memtrace-bpf campaign: cannot open %s: %s\n", dir, strerror(-e));
		return e;
	}
	if (flock(fd, LOCK_SH | LOCK_NB)) {
		e = -errno;
		if (e == -EWOULDBLOCK)
			fprintf(stderr, "memtrace-bpf campaign: a campaign is running in %s (it holds the "
				"directory's lock); it writes the tables itself when it ends. Run "
				"'memtrace-bpf campaign report %s' after that\n", dir, dir);
		else
			fprintf(stderr, "memtrace-bpf campaign: cannot lock %s: %s\n", dir, strerror(-e));
		close(fd);
		return e;
	}
	return fd;
}

int campaign_report_main(int argc, char **argv)
{
	bool json = false, html = false;
	const char *dir = NULL, *out = NULL;
	int nfailed, nover, lock, e;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("USAGE: memtrace-bpf campaign report DIR [--format text|json]\n"
			       "       memtrace-bpf campaign report DIR --html [--output FILE]\n\n"
			       "Rebuilds DIR/campaign.csv, stats.csv and stats.json from the finished runs\n"
			       "on disk (DIR/CONFIG/REPEAT/result.csv) and prints the statistics table.\n"
			       "--html also writes DIR/campaign.html (-o, --output: elsewhere), a page that opens\n"
			       "offline: per configuration the distribution of its peaks and its runs'\n"
			       "timelines overlaid, the statistics, every run with its status flagged and\n"
			       "a link to its own page (DIR/CONFIG/REPEAT/trace.html, written too).\n\n"
			       "EXAMPLES:\n"
			       "  memtrace-bpf campaign report results/                # table\n"
			       "  memtrace-bpf campaign report results/ --format json  # stats.json\n"
			       "  memtrace-bpf campaign report results/ --html         # campaign.html\n\n"
			       "A campaign still running in DIR is not reported on (it writes the tables\n"
			       "when it ends).\n\n"
			       "Exit status: 0 tables written; 1 DIR holds no campaign, a campaign is\n"
			       "running there, or the tables cannot be read or written; 2 bad command line.\n");
			return 0;
		} else if (!strcmp(argv[i], "--format") && i + 1 < argc) {
			i++;
			if (!strcmp(argv[i], "json"))
				json = true;
			else if (strcmp(argv[i], "text"))
				usage_err("--format %s: give text or json", argv[i]);
		} else if (!strcmp(argv[i], "--html")) {
			html = true;
		} else if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) && i + 1 < argc) {
			out = argv[++i];
		} else if (argv[i][0] == '-') {
			usage_err("report: unknown option %s", argv[i]);
		} else if (!dir) {
			dir = argv[i];
		} else {
			usage_err("report: one directory only (got %s and %s)", dir, argv[i]);
		}
	}
	if (!dir)
		usage_err("report: which campaign? give its directory, e.g. campaign report results/");
	if (out && !html)
		usage_err("report: -o names the page of --html; give --html too");
	{
		struct stat st;
		char p[PATH_MAX + 16];

		if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
			fprintf(stderr, "memtrace-bpf campaign: %s is not a directory\n", dir);
			return EXIT_TRACE_ERR;
		}
		if (stat(path_join(p, sizeof(p), dir, "plan.txt"), &st)) {
			fprintf(stderr, "memtrace-bpf campaign: %s holds no campaign (no plan.txt); give "
				"the -d DIR of a campaign\n", dir);
			return EXIT_TRACE_ERR;
		}
	}
	lock = lock_for_report(dir);
	if (lock < 0)
		return EXIT_TRACE_ERR;
	e = campaign_tables(dir, true, json, &nfailed, &nover);
	if (!e && html)
		e = campaign_page(dir, out, true, false);
	close(lock);
	return e ? EXIT_TRACE_ERR : 0;
}
