// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * memtrace-bpf slurm-helper: the tracer of one Slurm job step on one node
 * (issue #17). The Slurm plugin (spank/memtrace_spank.c) starts it from
 * slurmstepd, as root, detached, with two pipes; it connects to the node's
 * memtrace-bpf service, has root's connection bound to the job's user
 * (BIND_USER), drops to that user before it touches a file, and then, for
 * each task the plugin names while the task waits before its exec (Slurm's
 * own barrier), registers it (service/check.h: a task forked by root and
 * set to the user) and records it into DIR/<task>/: trace.csv.zst,
 * summary.json, run.json.
 *
 * The plugin's lines (--ctl FD), one each:
 *   TASK <global id> <pid>        the task, held before its exec
 *   EXIT <global id> <status>     slurmstepd reaped it (wait status)
 * and ours (--status FD):
 *   READY <global id>             traced: it may exec
 *   FAIL <global id> <why>        not traced, and why
 *   DONE <global id>              its files are whole
 * The control pipe's end: no more tasks; the helper exits once the runs
 * are over.
 */
#include <argp.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cmd/cmd.h"
#include "format/json.h"
#include "lib/clock.h"
#include "lib/files.h"
#include "trace/remote.h"
#include "trace/runner.h"

static const char doc[] =
"The tracer of one Slurm job step on one node: started by the memtrace-bpf\n"
"Slurm plugin (memtrace_spank.so) in slurmstepd, as root; not a command to\n"
"run by hand.\n"
"\n"
"USAGE: memtrace-bpf slurm-helper --ctl FD --status FD --uid UID --gid GID\n"
"         --dir DIR [--job ID] [--step ID] [--socket PATH]\n"
"\n"
"Connects to the node's memtrace-bpf service, has the connection bound to\n"
"the job's user, becomes that user, and traces each task the plugin names\n"
"on FD (TASK <id> <pid>) from its exec, into DIR/<id>/ (trace.csv.zst,\n"
"summary.json, run.json). Answers on the status FD: READY <id>, FAIL <id>\n"
"<why>, DONE <id>.\n"
"\n"
"Exit status: 0 every task it was given was traced to its end; 1 a run\n"
"failed or the service went away; 2 bad command line.\n"
"\n"
"OPTIONS:";

enum { OPT_CTL = 1900, OPT_STATUS, OPT_UID, OPT_GID, OPT_DIR, OPT_JOB, OPT_STEP, OPT_SOCKET,
       OPT_GROUPS, OPT_NODE, OPT_CPUS, OPT_MEM };

static const struct argp_option opts[] = {
	{ "ctl", OPT_CTL, "FD", 0, "The plugin's lines (TASK, EXIT)", 0 },
	{ "status", OPT_STATUS, "FD", 0, "Our answers (READY, FAIL, DONE)", 0 },
	{ "uid", OPT_UID, "UID", 0, "The job's user", 0 },
	{ "gid", OPT_GID, "GID", 0, "The job's group", 0 },
	{ "groups", OPT_GROUPS, "GID,...", 0, "The job's supplementary groups (default: the user's)", 0 },
	{ "dir", OPT_DIR, "DIR", 0, "The step's directory (absolute); each task's in it", 0 },
	{ "job", OPT_JOB, "ID", 0, "The job's id (run.json)", 0 },
	{ "step", OPT_STEP, "ID", 0, "The step's id (run.json)", 0 },
	{ "node", OPT_NODE, "NAME", 0, "Slurm's name of this node (run.json; default the host name)", 0 },
	{ "cpus-per-task", OPT_CPUS, "N", 0, "The step's CPUs per task (run.json)", 0 },
	{ "mem-mb", OPT_MEM, "MB", 0, "The step's memory, in MB (run.json)", 0 },
	{ "socket", OPT_SOCKET, "PATH", 0, "The service's socket (default $MEMTRACE_SOCKET, else "
	  SVC_DEFAULT_SOCKET ")", 0 },
	{ 0 }
};

#define MAX_TASKS 4096

struct task {
	bool done;		/* its run over (or never started) */
	uint32_t id;
	pid_t pid;
	int dirfd;
	bool have_exit;
	int exit_status;	/* slurmstepd's wait status */
	uint64_t start_ns;
	time_t started;
	char label[32];
};

static struct {
	int ctl, status;
	long uid, gid;
	const char *dir, *job, *step, *socket, *node;
	long cpus, mem_mb;
	gid_t groups[256];
	int ngroups;		/* --groups, -1: none given */
	int stepfd;
	char buf[4096];
	size_t nbuf;
	bool ctl_eof;
	bool failed;
	struct task tasks[MAX_TASKS];
	size_t ntasks;
} h = { .ctl = -1, .status = -1, .uid = -1, .gid = -1, .stepfd = -1, .ngroups = -1 };

static long number(const char *arg, const char *what, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < 0 || v > max)
		usage_exit("slurm-helper", "%s %s: not a number from 0 to %ld", what, arg, max);
	return v;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	(void)state;
	switch (key) {
	case OPT_CTL:		h.ctl = (int)number(arg, "--ctl", INT_MAX); break;
	case OPT_STATUS:	h.status = (int)number(arg, "--status", INT_MAX); break;
	case OPT_UID:		h.uid = number(arg, "--uid", 0x7ffffffe); break;
	case OPT_GID:		h.gid = number(arg, "--gid", 0x7ffffffe); break;
	case OPT_DIR:		h.dir = arg; break;
	case OPT_GROUPS: {
		char *save = NULL, *copy = strdup(arg);

		h.ngroups = 0;
		for (char *g = copy ? strtok_r(copy, ",", &save) : NULL; g;
		     g = strtok_r(NULL, ",", &save)) {
			if (h.ngroups == (int)(sizeof(h.groups) / sizeof(h.groups[0])))
				usage_exit("slurm-helper", "--groups: more than %zu",
					   sizeof(h.groups) / sizeof(h.groups[0]));
			h.groups[h.ngroups++] = (gid_t)number(g, "--groups", 0x7ffffffe);
		}
		free(copy);
		break;
	}
	case OPT_JOB:		h.job = arg; break;
	case OPT_STEP:		h.step = arg; break;
	case OPT_NODE:		h.node = arg; break;
	case OPT_CPUS:		h.cpus = number(arg, "--cpus-per-task", 0x7fffffff); break;
	case OPT_MEM:		h.mem_mb = number(arg, "--mem-mb", 0x7fffffffffffffffL); break;
	case OPT_SOCKET:	h.socket = arg; break;
	case ARGP_KEY_ARG:
		usage_exit("slurm-helper", "unexpected argument %s", arg);
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[600];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	/* one line: the plugin reads lines */
	for (int i = 0; i < n; i++)
		if (line[i] == '\n')
			line[i] = ' ';
	line[n++] = '\n';
	if (write(h.status, line, (size_t)n) != n)
		h.failed = true;	/* the plugin is gone: the runs go on */
}

static struct task *task_of(uint32_t id)
{
	for (size_t i = 0; i < h.ntasks; i++)
		if (h.tasks[i].id == id)
			return &h.tasks[i];
	return NULL;
}

static int write_run_json(struct task *tk)
{
	char *buf = NULL, node[256] = "", iso[40];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct jw w;
	struct tm tm;
	int e;

	if (!f)
		return -ENOMEM;
	if (h.node)
		snprintf(node, sizeof(node), "%s", h.node);
	else
		gethostname(node, sizeof(node) - 1);
	gmtime_r(&tk->started, &tm);
	strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
	jw_begin(&w, f);
	jw_obj(&w, NULL);
	jw_str(&w, "slurm_job_id", h.job);
	jw_str(&w, "slurm_step_id", h.step);
	jw_u64(&w, "slurm_task_id", tk->id);
	jw_str(&w, "node", node);
	jw_i64(&w, "slurm_cpus_per_task", h.cpus);
	jw_i64(&w, "slurm_step_mem_mb", h.mem_mb);
	jw_i64(&w, "pid", tk->pid);
	jw_str(&w, "start_time", iso);
	jw_u64(&w, "start_ts_ns", tk->start_ns);
	/* as slurmstepd reaped it: a wait status (15: SIGTERM; 256: exit 1) */
	if (tk->have_exit)
		jw_i64(&w, "slurm_wait_status", tk->exit_status);
	else
		jw_null(&w, "slurm_wait_status");
	jw_obj_end(&w);
	fclose(f);
	e = write_file_at(tk->dirfd, "run.json", buf, len);
	free(buf);
	return e;
}

/* A task's run is over and its EXIT came: run.json says how it ended;
 * the plugin's task_exit may return (its files are whole). */
static void task_done(struct task *tk)
{
	if (tk->dirfd >= 0) {
		write_run_json(tk);
		close(tk->dirfd);
		tk->dirfd = -1;
	}
	say("DONE %u", tk->id);
}

/* TASK id pid: its run, registered while it waits before its exec. */
static void start_task(struct runner *rn, uint32_t id, pid_t pid)
{
	char name[16], err[1024];
	struct run_spec s = { .mode = "slurm", .csv_path = "trace.csv.zst",
			      .summary_path = "summary.json", .no_mark_fd = true };
	struct run *r;
	struct task *tk;
	int e;

	if (task_of(id) || h.ntasks == MAX_TASKS) {
		say("FAIL %u %s", id, task_of(id) ? "named twice" : "too many tasks on this node");
		return;
	}
	tk = &h.tasks[h.ntasks++];
	*tk = (struct task){ .id = id, .pid = pid, .dirfd = -1,
			     .start_ns = mono_ns(), .started = time(NULL) };
	snprintf(name, sizeof(name), "%u", id);
	tk->done = true;	/* until its run is under way: EXIT gets DONE */
	tk->dirfd = dir_open(h.stepfd, name, true, err, sizeof(err));
	if (tk->dirfd < 0) {
		say("FAIL %u %s", id, err);
		h.failed = true;
		return;
	}
	s.dirfd = &tk->dirfd;
	s.pids = &tk->pid;	/* the summary's target */
	s.npids = 1;
	snprintf(tk->label, sizeof(tk->label), "task %u", id);
	s.label = tk->label;
	r = calloc(1, sizeof(*r));
	e = r ? run__expect(r, rn->tracer, &s, pid, err, sizeof(err)) : -ENOMEM;
	if (e) {
		say("FAIL %u %s", id, r ? err : "out of memory");
		if (r)
			run__free(r);
		free(r);
		close(tk->dirfd);
		tk->dirfd = -1;
		h.failed = true;
		return;
	}
	r->tag = tk;
	tk->done = false;
	tk->start_ns = r->start_ns;
	runner__add(rn, r);
	write_run_json(tk);
	say("READY %u", id);
}

static void line(struct runner *rn, char *ln)
{
	unsigned int id;
	int v;

	if (sscanf(ln, "TASK %u %d", &id, &v) == 2 && v > 0) {
		start_task(rn, id, v);
	} else if (sscanf(ln, "EXIT %u %d", &id, &v) == 2) {
		struct task *tk = task_of(id);

		if (!tk) {
			say("DONE %u", id);	/* never ours: nothing to wait for */
			return;
		}
		tk->have_exit = true;
		tk->exit_status = v;
		if (tk->done)
			task_done(tk);
	} else {
		fprintf(stderr, "memtrace-bpf slurm-helper: a line we do not know: %.80s\n", ln);
	}
}

static int turn(void *ctx, struct runner *rn, uint64_t now)
{
	(void)ctx;
	(void)now;
	while (!h.ctl_eof) {
		ssize_t n = read(h.ctl, h.buf + h.nbuf, sizeof(h.buf) - 1 - h.nbuf);
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			h.ctl_eof = true;
			break;
		}
		h.nbuf += (size_t)n;
		h.buf[h.nbuf] = 0;
		while ((nl = memchr(h.buf, '\n', h.nbuf))) {
			*nl = 0;
			line(rn, h.buf);
			h.nbuf -= (size_t)(nl + 1 - h.buf);
			memmove(h.buf, nl + 1, h.nbuf);
		}
		if (h.nbuf == sizeof(h.buf) - 1)
			h.nbuf = 0;	/* a line longer than any of ours */
	}
	return 0;
}

static int finished(void *ctx, struct runner *rn, struct run *r, int err)
{
	struct task *tk = r->tag;

	(void)ctx;
	(void)rn;
	if (err)
		h.failed = true;
	tk->done = true;
	/* files whole; DONE once slurmstepd said how it ended (EXIT) */
	if (tk->have_exit)
		task_done(tk);
	return 0;
}

static bool more(void *ctx)
{
	(void)ctx;
	return !h.ctl_eof;
}

/* Every directory of path that exists already is the user's or root's:
 * the traces do not go where another user could read or replace them (a
 * job whose working directory Slurm could not enter runs in /tmp, where
 * anyone may have made /tmp/memtrace first). 0, or -1 with err. */
static int check_owners(const char *path, char *err, size_t len)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(buf)) {
		snprintf(err, len, "%.900s: too long a path", path);
		return -1;
	}
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		struct stat st;

		if (buf[i] != '/' && buf[i] != 0)
			continue;
		buf[i] = 0;
		if (lstat(buf, &st)) {
			if (errno == ENOENT)
				return 0;	/* made from here on, by the user */
			snprintf(err, len, "%.400s: %s", buf, strerror(errno));
			return -1;
		}
		if (st.st_uid != (uid_t)h.uid && st.st_uid != 0) {
			snprintf(err, len, "%.400s belongs to uid %u, neither the job's user nor root: the "
				 "traces are not put under it (give --memtrace=DIR a directory of "
				 "yours)", buf, (unsigned)st.st_uid);
			return -1;
		}
		buf[i] = path[i];
	}
	return 0;
}

/* The job's user, for good: its groups, then its ids (no way back). */
static int become_user(char *err, size_t len)
{
	struct passwd *pw = getpwuid((uid_t)h.uid);
	int ge;

	/* the job's own groups (Slurm's), else the user's from NSS */
	if (h.ngroups >= 0)
		ge = setgroups((size_t)h.ngroups, h.groups);
	else
		ge = pw ? initgroups(pw->pw_name, (gid_t)h.gid) : setgroups(0, NULL);
	if (ge ||
	    setresgid((gid_t)h.gid, (gid_t)h.gid, (gid_t)h.gid) ||
	    setresuid((uid_t)h.uid, (uid_t)h.uid, (uid_t)h.uid)) {
		snprintf(err, len, "cannot become uid %ld gid %ld: %s", h.uid, h.gid,
			 strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		snprintf(err, len, "still root after becoming uid %ld", h.uid);
		return -1;
	}
	/* its connection is vouched for by root: not the user's to ptrace,
	 * whatever fs.suid_dumpable says */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	return 0;
}

int cmd_slurm_helper(int argc, char **argv)
{
	static const struct argp argp = { opts, parse_opt, NULL, doc, NULL, NULL, NULL };
	static const struct runner_client client = { .turn = turn, .finished = finished,
						     .more = more };
	struct tracer_opts to = { .follow = true };
	struct tracer *t = NULL;
	struct runner rn;
	char err[1024];
	int e;

	argp_parse(&argp, argc, argv, 0, NULL, NULL);
	if (h.ctl < 0 || h.status < 0 || h.uid < 0 || h.gid < 0 || !h.dir)
		usage_exit("slurm-helper", "--ctl, --status, --uid, --gid and --dir are needed");
	if (h.dir[0] != '/')
		usage_exit("slurm-helper", "--dir %s: an absolute path is needed", h.dir);
	if (h.uid == 0)
		usage_exit("slurm-helper", "--uid 0: a job of root's is traced by memtrace-bpf "
			   "itself, as root");
	if (geteuid() != 0)
		usage_exit("slurm-helper", "root only: the Slurm plugin starts it in slurmstepd");
	if (fcntl(h.ctl, F_SETFL, O_NONBLOCK) || fcntl(h.status, F_GETFD) < 0)
		usage_exit("slurm-helper", "--ctl %d or --status %d: not an open fd", h.ctl,
			   h.status);
	fcntl(h.ctl, F_SETFD, FD_CLOEXEC);
	fcntl(h.status, F_SETFD, FD_CLOEXEC);
	signals__install();
	e = tracer__connect(&t, h.socket ? h.socket : remote__socket_path(), &to, err,
			    sizeof(err));
	if (!e && (e = remote__bind_user(t, (uid_t)h.uid, (gid_t)h.gid)))
		snprintf(err, sizeof(err), "the memtrace-bpf service would not take the job's user "
			 "uid %ld: %s", h.uid, tracer__why(t) ? tracer__why(t) : strerror(-e));
	if (!e && become_user(err, sizeof(err)))
		e = -EPERM;
	if (!e && check_owners(h.dir, err, sizeof(err)))
		e = -EPERM;
	if (!e && (h.stepfd = dir_open(AT_FDCWD, h.dir, true, err, sizeof(err))) < 0)
		e = h.stepfd;
	if (e) {
		/* every task the plugin names gets the reason */
		say("FAIL * %s", err);
		{
			FILE *f = (fcntl(h.ctl, F_SETFL, 0), fdopen(h.ctl, "r"));
			char *ln = NULL;
			size_t cap = 0;
			unsigned int id;

			while (f && getline(&ln, &cap, f) > 0) {
				if (sscanf(ln, "TASK %u", &id) == 1)
					say("FAIL %u %s", id, err);
				else if (sscanf(ln, "EXIT %u", &id) == 1)
					say("DONE %u", id);
			}
			free(ln);
			if (f)
				fclose(f);
		}
		if (t)
			tracer__destroy(t);
		return EXIT_TRACE_ERR;
	}
	runner__init(&rn, t, &client, NULL);
	e = runner__run(&rn);
	tracer__destroy(t);
	return e || h.failed ? EXIT_TRACE_ERR : 0;
}
