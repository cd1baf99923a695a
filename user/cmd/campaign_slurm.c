// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * campaign --slurm (issue #17): the runs of a campaign's plan that are not
 * finished, as one Slurm job array. Each array task runs `memtrace-bpf
 * campaign --slurm-task K ...` with the campaign's own arguments on its
 * node: one run of the plan, traced through the node's memtrace-bpf
 * service as the user, into the same DIR/CONFIG/REPEAT/ on a shared
 * directory. Here, the driver: it submits, follows the array with squeue,
 * and, once it is over, asks sacct how each task ended and writes it
 * beside the run (slurm.csv: the job, state, exit code, MaxRSS, node); a
 * run its time limit or the OOM killer stopped keeps its partial result
 * as its result, with Slurm's reason as its status; a run cancelled or
 * lost with its node stays unfinished, redone by the same command again.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "cmd/campaign_slurm.h"
#include "format/result.h"
#include "lib/clock.h"
#include "lib/files.h"
#include "lib/grow.h"
#include "lib/exit.h"
#include "trace/runner.h"

/* Runs argv (PATH searched), its stdout into *out (NUL-terminated, at most
 * 16 MiB; free it), stderr passed on unless quiet_err. Its exit status, or
 * -errno when it could not run. */
static int capture(char *const argv[], char **out, bool quiet_err)
{
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int pfd[2], status;
	pid_t pid;

	*out = NULL;
	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -errno;
	}
	if (pid == 0) {
		dup2(pfd[1], 1);
		if (quiet_err) {
			int null = open("/dev/null", O_WRONLY);

			if (null >= 0)
				dup2(null, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		ssize_t r;

		if (grow(&buf, &cap, n + 1, 1, 4096)) {
			n = 0;
			break;
		}
		r = read(pfd[0], buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n > (16u << 20))
			break;
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (buf)
		buf[n] = 0;
	*out = buf;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* s in single quotes for sh. */
static void sq(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

static bool on_path(const char *name)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t l = strcspn(path, ":");

		if (l && l + strlen(name) + 2 < sizeof(buf)) {
			snprintf(buf, sizeof(buf), "%.*s/%s", (int)l, path, name);
			if (!access(buf, X_OK))
				return true;
		}
		path += l + (path[l] == ':');
	}
	return false;
}

int campaign_slurm_check(char *msg, size_t len)
{
	static const char *const need[] = { "sbatch", "squeue", "sacct" };

	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (!on_path(need[i])) {
			snprintf(msg, len, "--slurm: %s is not on PATH; run the campaign on a Slurm "
				 "login node (where sbatch, squeue and sacct are)", need[i]);
			return -ENOENT;
		}
	}
	return 0;
}

/* The list of plan indices of a submission: line k is array task k's. */
/* A submission's list: its plan indices. The count, or -1. */
static long read_sub(int sdir, const char *name, size_t nruns, size_t **idx)
{
	int fd = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
	size_t n = 0, cap = 0;
	char line[64];

	*idx = NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *end;
		unsigned long v = strtoul(line, &end, 10);

		if (end == line || (*end && *end != '\n') || v >= nruns ||
		    grow(idx, &cap, n, sizeof(**idx), 64)) {
			fclose(f);
			free(*idx);
			*idx = NULL;
			return -1;
		}
		(*idx)[n++] = v;
	}
	fclose(f);
	return (long)n;
}

int campaign_slurm_task_index(const char *sub, long k, size_t nruns, size_t *idx, char *msg,
			      size_t len)
{
	size_t *all;
	long n = read_sub(AT_FDCWD, sub, nruns, &all);

	if (n < 0) {
		snprintf(msg, len, "--slurm-sub %s: not a list of this plan's runs", sub);
		return -EINVAL;
	}
	if (k >= n) {
		snprintf(msg, len, "--slurm-task %ld: %s has %ld lines", k, sub, n);
		free(all);
		return -EINVAL;
	}
	*idx = all[k];
	free(all);
	return 0;
}

/* job.sh of a submission: the array task runs its run with the
 * campaign's own arguments. */
static int write_job(int sdir, const char *name, const char *bin, const char *sub_abs,
		     char *const *args, int nargs)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int e;

	if (!f)
		return -ENOMEM;
	fputs("#!/bin/sh\n# memtrace-bpf campaign --slurm: one run of the plan, this array "
	      "task's\nexec ", f);
	sq(f, bin);
	fputs(" campaign --slurm-task \"$SLURM_ARRAY_TASK_ID\" --slurm-sub ", f);
	sq(f, sub_abs);
	for (int i = 0; i < nargs; i++) {
		fputc(' ', f);
		sq(f, args[i]);
	}
	fputc('\n', f);
	fclose(f);
	e = write_file_at(sdir, name, buf, len);
	free(buf);
	if (!e && fchmodat(sdir, name, 0755, 0))
		e = -errno;
	return e;
}

/* "123K" (sacct --units=K) or "" -> kB, -1 when none. */
static long long kb_of(const char *s)
{
	char *end;
	double v;

	if (!*s)
		return -1;
	v = strtod(s, &end);
	if (end == s)
		return -1;
	switch (*end) {
	case 'M': v *= 1024; break;
	case 'G': v *= 1024 * 1024; break;
	default: break;
	}
	return (long long)(v + 0.5);
}

struct task_end {
	char state[32], exit[16], node[128];
	long long maxrss_kb;	/* the .batch step's, -1: none */
	bool seen;
};

static bool final_state(const char *s)
{
	static const char *const open_states[] = { "PENDING", "RUNNING", "REQUEUED", "COMPLETING",
						   "CONFIGURING", "SUSPENDED", "RESIZING", "" };

	for (size_t i = 0; i < sizeof(open_states) / sizeof(open_states[0]); i++)
		if (!strcmp(s, open_states[i]))
			return false;
	return true;
}

/* "2-5,7%2]" (sacct's tasks of an array that never started): each of
 * them gets state. */
static void mark_range(const char *p, const char *state, struct task_end *te, size_t n)
{
	while (*p && *p != ']' && *p != '%') {
		char *end;
		unsigned long a = strtoul(p, &end, 10), b = a;

		if (end == p)
			return;
		if (*end == '-')
			b = strtoul(end + 1, &end, 10);
		for (unsigned long k = a; k <= b && k < n; k++) {
			te[k].seen = true;
			snprintf(te[k].state, sizeof(te[k].state), "%.*s", (int)strcspn(state, " "),
				 state);
		}
		p = *end == ',' ? end + 1 : end;
	}
}

/* sacct's word on each array task of job (k < n): until every one is
 * final, or 60 s (slurmdbd hears of a job's end a little later). */
static int ask_sacct(const char *job, struct task_end *te, size_t n)
{
	char *argv[] = { "sacct", "-n", "-P", "--units=K", "-j", (char *)job,
			 "--format=JobID,State,ExitCode,MaxRSS,NodeList", NULL };
	uint64_t deadline = mono_ns() + 60000000000ULL;

	for (;;) {
		char *out, *save = NULL;
		size_t final = 0;
		int rc = capture(argv, &out, true);

		for (size_t k = 0; k < n; k++)
			te[k] = (struct task_end){ .maxrss_kb = -1 };
		for (char *ln = out ? strtok_r(out, "\n", &save) : NULL; ln;
		     ln = strtok_r(NULL, "\n", &save)) {
			char *f[5] = { 0 }, *p = ln;
			char *us;
			unsigned long k;

			for (int i = 0; i < 5; i++)
				f[i] = strsep(&p, "|");
			if (!f[4] || strncmp(f[0], job, strlen(job)) || f[0][strlen(job)] != '_')
				continue;
			if (f[0][strlen(job) + 1] == '[') {
				/* tasks that never started, as one row: JOB_[2-5,7%2] */
				mark_range(f[0] + strlen(job) + 2, f[1], te, n);
				continue;
			}
			k = strtoul(f[0] + strlen(job) + 1, &us, 10);
			if (k >= n)
				continue;
			if (!*us) {
				/* the array task itself: "CANCELLED by 1000" -> its word */
				te[k].seen = true;
				snprintf(te[k].state, sizeof(te[k].state), "%.*s",
					 (int)strcspn(f[1], " "), f[1]);
				snprintf(te[k].exit, sizeof(te[k].exit), "%s", f[2]);
				snprintf(te[k].node, sizeof(te[k].node), "%s", f[4]);
			} else if (!strcmp(us, ".batch")) {
				te[k].maxrss_kb = kb_of(f[3]);
			}
		}
		free(out);
		for (size_t k = 0; k < n; k++)
			final += te[k].seen && final_state(te[k].state);
		if ((rc == 0 && final == n) || mono_ns() > deadline)
			return rc == 0 ? (int)final : -EIO;
		sleep(1);
	}
}

/* slurm.csv beside the run; a partial result made the result when Slurm
 * stopped the run for its limits. */
/* result.csv (the row res) in fd, whole. 0 or -errno. */
static int put_result(int fd, const struct run_result *res)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "%s\n", RESULT_HEADER);

	n += result_format(line + n, sizeof(line) - (size_t)n, res);
	return write_file_at(fd, "result.csv", line, (size_t)n);
}

/* Slurm's word on a run: slurm.csv beside it. A run stopped at its
 * limits (TIMEOUT, OUT_OF_MEMORY) is finished, with that as its status,
 * from its result or its partial one (Slurm signals the run's processes
 * too, so it may have ended killed before its array task was told). A
 * run the scheduler took away otherwise (cancelled, its node lost,
 * preempted) and that did not end ok is not finished: redone by the same
 * command. *lost counts those. */
static void finalise(const struct plan_run *r, const char *job, size_t k, const struct task_end *te,
		     int *lost)
{
	char line[512], err[512];
	struct run_result res;
	int fd, n;
	const char *status = NULL, *state = te->seen ? te->state : "UNKNOWN";
	bool have;

	fd = dir_open(AT_FDCWD, r->dir, true, err, sizeof(err));
	if (fd < 0) {
		fprintf(stderr, "memtrace-bpf campaign: %s\n", err);
		return;
	}
	n = snprintf(line, sizeof(line), "slurm_job_id,slurm_state,slurm_exit_code,slurm_maxrss_kb,"
		     "node\n%s_%zu,%s,%s,", job, k, state, te->exit);
	if (te->maxrss_kb >= 0)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "%lld", te->maxrss_kb);
	n += snprintf(line + n, sizeof(line) - (size_t)n, ",%s\n", te->node);
	if (write_file_at(fd, "slurm.csv", line, (size_t)n))
		fprintf(stderr, "memtrace-bpf campaign: cannot write %s/slurm.csv\n", r->dir);
	if (!strcmp(state, "TIMEOUT"))
		status = "timeout";
	else if (!strcmp(state, "OUT_OF_MEMORY"))
		status = "killed";
	snprintf(line, sizeof(line), "%s/result.csv", r->dir);
	have = !result_read(line, &res, err, sizeof(err));
	if (!have) {
		snprintf(line, sizeof(line), "%s/result.partial.csv", r->dir);
		if (status && !result_read(line, &res, err, sizeof(err)))
			have = true;
	}
	if (have && !strcmp(res.status, "ok")) {
		close(fd);
		return;		/* it ended by itself first */
	}
	if (have && status) {
		if (strcmp(res.status, status))
			snprintf(res.status, sizeof(res.status), "%s", status);
		if (!put_result(fd, &res)) {
			unlinkat(fd, "result.partial.csv", 0);
			close(fd);
			return;
		}
	}
	if (have && !strcmp(state, "COMPLETED")) {
		close(fd);
		return;		/* failed or killed by itself: a result */
	}
	/* taken away by the scheduler: not a result of the run */
	unlinkat(fd, "result.csv", 0);
	close(fd);
	(*lost)++;
	fprintf(stderr, "memtrace-bpf campaign: %s #%d: Slurm says %s (array task %s_%zu); it "
		"will be redone when you run the same command again\n", r->config, r->repeat, state,
		job, k);
}

/* Follows job until none of its tasks is queued or running (progress on
 * a terminal). 0, or the exit status of a stop signal (said). */
static int follow(const struct plan *p, const char *job, const size_t *idx, size_t n,
		  const struct campaign_slurm_opts *o)
{
	for (;;) {
		char *sq_argv[] = { "squeue", "-h", "-r", "-j", (char *)job, "-o", "%T", NULL };
		char *q = NULL, *save = NULL;
		size_t pend = 0, runn = 0, done = 0;
		struct stat st;
		int rc;

		if (sig_count) {
			fprintf(stderr, "%smemtrace-bpf campaign: stopped following job array %s: its "
				"runs still queued or running go on (scancel %s stops them); the same "
				"command again waits for them and resumes\n", o->tty ? "\r\033[K" : "",
				job, job);
			return EXIT_SIGNAL + (int)sig_last;
		}
		rc = capture(sq_argv, &q, true);
		for (char *ln = q ? strtok_r(q, "\n", &save) : NULL; ln; ln = strtok_r(NULL, "\n", &save)) {
			if (!strcmp(ln, "PENDING"))
				pend++;
			else
				runn++;
		}
		free(q);
		for (size_t i = 0; i < n; i++) {
			char rp[PATH_MAX + 16];

			snprintf(rp, sizeof(rp), "%s/result.csv", p->runs[idx[i]].dir);
			done += !stat(rp, &st);
		}
		if (!o->quiet && o->tty)
			fprintf(stderr, "\r\033[K  job array %s: %zu of %zu runs finished, %zu running, "
				"%zu pending", job, done, n, runn, pend);
		/* an unknown job (purged from slurmctld's memory) is over too */
		if (!pend && !runn)
			break;
		(void)rc;
		sleep(o->poll_s);
	}
	if (!o->quiet && o->tty)
		fputs("\r\033[K", stderr);
	return 0;
}

/* Follows a submission to its end and finalises its runs (all, or, of
 * an earlier one, those with no slurm.csv yet: a later submission may
 * have run them again). 0, or the exit status (said). */
static int settle_submission(const struct plan *p, int sdir, const char *job, const char *sub,
			     bool all, const struct campaign_slurm_opts *o, int *lost)
{
	size_t *idx = NULL;
	long n = read_sub(sdir, sub, p->nruns, &idx);
	struct task_end *te;
	int e;

	if (n <= 0)
		return 0;
	e = follow(p, job, idx, (size_t)n, o);
	te = e ? NULL : calloc((size_t)n, sizeof(*te));
	if (!e && te) {
		if (ask_sacct(job, te, (size_t)n) < 0)
			fprintf(stderr, "memtrace-bpf campaign: sacct did not say how job array %s "
				"ended (accounting off?); its runs without a result are redone on "
				"resume\n", job);
		for (long k = 0; k < n; k++) {
			char path[PATH_MAX + 16];
			struct stat st;

			snprintf(path, sizeof(path), "%s/slurm.csv", p->runs[idx[k]].dir);
			if (all || stat(path, &st))
				finalise(&p->runs[idx[k]], job, (size_t)k, &te[k], lost);
		}
	}
	free(te);
	free(idx);
	return e;
}

/* Earlier submissions of this directory (an interrupted campaign): each
 * followed to its end, its runs finalised. 0, or the exit status. */
static int settle_earlier(const struct plan *p, int sdir, const struct campaign_slurm_opts *o,
			  int *lost)
{
	int fd = openat(sdir, "submissions.tsv", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
	char line[256];
	int e = 0;

	if (!f) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while (!e && fgets(line, sizeof(line), f)) {
		char *tab = strchr(line, '\t');

		if (!tab)
			continue;
		*tab++ = 0;
		tab[strcspn(tab, "\n")] = 0;
		if (strspn(line, "0123456789") != strlen(line) || !*line || strchr(tab, '/'))
			continue;
		e = settle_submission(p, sdir, line, tab, false, o, lost);
	}
	fclose(f);
	return e;
}

/* The runs not finished (no result.csv), one plan index a line, as the
 * list .slurm/NAME. Their count, or -1 (said). */
static long write_sub(const struct plan *p, int sdir, const char *name)
{
	char *buf = NULL;
	size_t len = 0;
	long n = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return -1;
	for (size_t i = 0; i < p->nruns; i++) {
		char rp[PATH_MAX + 16];
		struct stat st;

		snprintf(rp, sizeof(rp), "%s/result.csv", p->runs[i].dir);
		if (stat(rp, &st)) {
			fprintf(f, "%zu\n", i);
			n++;
		}
	}
	fclose(f);
	if (n && write_file_at(sdir, name, buf, len)) {
		fprintf(stderr, "memtrace-bpf campaign: cannot write %s/.slurm/%s\n", p->dir, name);
		n = -1;
	}
	free(buf);
	return n;
}

/* sbatch --parsable --array=0-K[%N] ... OPTS job.sh: the job id into job,
 * the submission into submissions.tsv. 0, or -1 (said). */
static int submit(const struct plan *p, int sdir, const char *absdir, const char *sub_name,
		  long nsub, const struct campaign_slurm_opts *o, char *job, size_t joblen)
{
	char array[64], outp[PATH_MAX + 32], chdir_opt[PATH_MAX + 16], script[PATH_MAX + 32];
	char cwd[PATH_MAX], line[128], *out = NULL;
	char **argv = calloc((size_t)o->nsbatch + 16, sizeof(*argv));
	int rc, n = 0, fd;

	if (!argv || !getcwd(cwd, sizeof(cwd))) {
		fprintf(stderr, "memtrace-bpf campaign: --slurm: %s\n", strerror(errno));
		free(argv);
		return -1;
	}
	if (o->max_parallel)
		snprintf(array, sizeof(array), "--array=0-%ld%%%lu", nsub - 1, o->max_parallel);
	else
		snprintf(array, sizeof(array), "--array=0-%ld", nsub - 1);
	snprintf(outp, sizeof(outp), "--output=%s/.slurm/%%A_%%a.out", absdir);
	snprintf(chdir_opt, sizeof(chdir_opt), "--chdir=%s", cwd);
	snprintf(script, sizeof(script), "%s/.slurm/job.sh", absdir);
	argv[n++] = "sbatch";
	argv[n++] = "--parsable";
	argv[n++] = array;
	argv[n++] = "--job-name=memtrace-campaign";
	argv[n++] = outp;
	argv[n++] = chdir_opt;
	argv[n++] = "--ntasks=1";
	argv[n++] = "--no-requeue";
	for (int i = 0; i < o->nsbatch; i++)	/* last: they override ours */
		argv[n++] = o->sbatch[i];
	argv[n++] = script;
	rc = capture(argv, &out, false);
	free(argv);
	if (rc || !out || !*out) {
		fprintf(stderr, "memtrace-bpf campaign: sbatch %s (exit %d): nothing submitted; its "
			"message above says why (--slurm-opt passes options to sbatch)\n",
			rc < 0 ? strerror(-rc) : "failed", rc);
		free(out);
		return -1;
	}
	snprintf(job, joblen, "%.*s", (int)strcspn(out, ";\n"), out);
	free(out);
	n = snprintf(line, sizeof(line), "%s\t%s\n", job, sub_name);
	fd = openat(sdir, "submissions.tsv", O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC,
		    0644);
	if (fd < 0 || write(fd, line, (size_t)n) != n)
		fprintf(stderr, "memtrace-bpf campaign: cannot write %s/.slurm/submissions.tsv\n",
			p->dir);
	if (fd >= 0)
		close(fd);
	if (!o->quiet)
		fprintf(stderr, "memtrace-bpf campaign: submitted job array %s: %ld run%s%s\n", job,
			nsub, nsub == 1 ? "" : "s",
			o->max_parallel ? " (at most --max-parallel at once)" : "");
	return 0;
}

int campaign_slurm_run(const struct plan *p, int dirfd, char *const *args, int nargs,
		       const struct campaign_slurm_opts *o, size_t *lost_out)
{
	char bin[PATH_MAX], absdir[PATH_MAX], err[PATH_MAX + 128], sub_name[64];
	char sub_abs[PATH_MAX + 80], job[32];
	int sdir, lost = 0, ret;
	long nsub;
	ssize_t bl;

	*lost_out = 0;
	bl = readlink("/proc/self/exe", bin, sizeof(bin) - 1);
	if (bl <= 0 || !realpath(p->dir, absdir)) {
		fprintf(stderr, "memtrace-bpf campaign: --slurm: cannot tell where memtrace-bpf or "
			"%s is: %s\n", p->dir, strerror(errno));
		return EXIT_TRACE_ERR;
	}
	bin[bl] = 0;
	sdir = dir_open(dirfd, ".slurm", true, err, sizeof(err));
	if (sdir < 0) {
		fprintf(stderr, "memtrace-bpf campaign: %s\n", err);
		return EXIT_TRACE_ERR;
	}
	/* an interrupted campaign's arrays first: what they finished counts,
	 * what the scheduler took away is redone now */
	ret = settle_earlier(p, sdir, o, &lost);
	lost = 0;
	snprintf(sub_name, sizeof(sub_name), "sub-%lld-%d.idx", (long long)time(NULL), (int)getpid());
	snprintf(sub_abs, sizeof(sub_abs), "%s/.slurm/%s", absdir, sub_name);
	nsub = ret ? 0 : write_sub(p, sdir, sub_name);
	if (!ret && nsub > 0) {
		if (write_job(sdir, "job.sh", bin, sub_abs, args, nargs)) {
			fprintf(stderr, "memtrace-bpf campaign: cannot write %s/.slurm/job.sh\n", p->dir);
			ret = EXIT_TRACE_ERR;
		} else if (submit(p, sdir, absdir, sub_name, nsub, o, job, sizeof(job))) {
			ret = EXIT_TRACE_ERR;
		} else {
			ret = settle_submission(p, sdir, job, sub_name, true, o, &lost);
		}
	} else if (nsub < 0) {
		ret = EXIT_TRACE_ERR;
	}
	close(sdir);
	*lost_out = ret ? 0 : (size_t)lost;
	return ret;
}
