// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * memtrace_spank.so: the Slurm plugin of memtrace-bpf (issue #17). It adds
 * --memtrace[=DIR] to srun, sbatch and salloc; with it, every task of the
 * job step is traced from its first instruction, exactly, by the node's
 * memtrace-bpf service, into DIR/<job>/<step>/<task>/ (trace.csv.zst,
 * summary.json, run.json), the files the job's user's.
 *
 * In slurmstepd (root), in task_post_fork, each task is already the
 * user's and waits before its exec until every post_fork returned (Slurm's
 * own barrier): the first call starts one `memtrace-bpf slurm-helper` for
 * the step on this node (forked twice, detached: out of the step's
 * process tree, so neither Slurm's signals nor its MaxRSS reach it), and
 * each call names its task to the helper and waits for READY (traced) or
 * FAIL. task_exit waits for the helper's DONE, so the task's files are
 * whole before srun hears that the task ended. The protocol is in
 * user/cmd/slurm_helper.c. Built apart from memtrace-bpf (a shared object
 * slurmstepd, srun, sbatch and salloc load), by the Makefile when Slurm's
 * spank.h is installed (libslurm-dev).
 *
 * plugstack.conf:
 *   required /usr/local/lib/memtrace-bpf/memtrace_spank.so [bin=PATH]
 *            [socket=PATH] [timeout=SECONDS]
 * bin: memtrace-bpf (default BIN_DEFAULT); socket: the service's (default
 * its own default); timeout: how long a task waits for READY or DONE (10).
 * required: a task that could not be traced fails the step, with the
 * reason; optional: it runs untraced, with the reason on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <slurm/slurm.h>
#include <slurm/spank.h>

#ifndef BIN_DEFAULT
#define BIN_DEFAULT "/usr/local/bin/memtrace-bpf"
#endif

SPANK_PLUGIN(memtrace, 1);

static int opt_set;
static char opt_dir[PATH_MAX] = "memtrace";

static struct {
	const char *bin, *socket;
	int timeout_ms;
	int ctl, status;	/* ours: write TASK/EXIT, read READY/FAIL/DONE */
	char buf[8192];
	size_t nbuf;
	uint32_t *done;		/* DONE seen for these task ids */
	size_t ndone, capdone;
	char fail[640];		/* the helper could not start: why */
} m = { .bin = BIN_DEFAULT, .timeout_ms = 10000, .ctl = -1, .status = -1 };

static int opt_cb(int val, const char *optarg, int remote)
{
	(void)val;
	(void)remote;
	opt_set = 1;
	if (optarg && *optarg) {
		if (strlen(optarg) >= sizeof(opt_dir)) {
			slurm_error("memtrace: --memtrace=%s: the path is too long", optarg);
			return -1;
		}
		snprintf(opt_dir, sizeof(opt_dir), "%s", optarg);
	}
	return 0;
}

static struct spank_option opt = {
	.name = "memtrace",
	.arginfo = "DIR",
	.usage = "Trace every task's memory exactly, from its first instruction, with "
		 "memtrace-bpf: DIR/<job>/<step>/<task>/ (DIR default: memtrace, in the "
		 "job's working directory)",
	.has_arg = 2,
	.val = 0,
	.cb = opt_cb,
};

static void args(int ac, char **av)
{
	for (int i = 0; i < ac; i++) {
		if (!strncmp(av[i], "bin=", 4))
			m.bin = av[i] + 4;
		else if (!strncmp(av[i], "socket=", 7))
			m.socket = av[i] + 7;
		else if (!strncmp(av[i], "timeout=", 8))
			m.timeout_ms = atoi(av[i] + 8) * 1000;
		else
			slurm_error("memtrace: plugstack.conf: an argument we do not know: %s", av[i]);
	}
	if (m.timeout_ms <= 0)
		m.timeout_ms = 10000;
}

int slurm_spank_init(spank_t sp, int ac, char **av)
{
	args(ac, av);
	if (spank_option_register(sp, &opt) != ESPANK_SUCCESS) {
		slurm_error("memtrace: cannot register --memtrace");
		return -1;
	}
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void seen_done(uint32_t id)
{
	if (m.ndone == m.capdone) {
		size_t cap = m.capdone ? m.capdone * 2 : 16;
		uint32_t *p = realloc(m.done, cap * sizeof(*p));

		if (!p)
			return;
		m.done = p;
		m.capdone = cap;
	}
	m.done[m.ndone++] = id;
}

static int is_done(uint32_t id)
{
	for (size_t i = 0; i < m.ndone; i++)
		if (m.done[i] == id)
			return 1;
	return 0;
}

/* Reads the helper's lines until one says `word` of task id (READY/FAIL
 * for READY, DONE for DONE), or the timeout. 1: READY/DONE; 0: FAIL (why
 * in why); -1: no answer (why says). DONE lines of other tasks are kept. */
static int wait_for(const char *word, uint32_t id, char *why, size_t len)
{
	int64_t deadline = now_ms() + m.timeout_ms;

	for (;;) {
		char *nl;

		while ((nl = memchr(m.buf, '\n', m.nbuf))) {
			char w[8] = "";
			unsigned int got = 0;
			int n = 0, all;

			*nl = 0;
			/* FAIL * WHY: the helper could not start at all */
			all = sscanf(m.buf, "FAIL * %n", &n) == 0 && n > 0;
			if (all)
				got = id;
			if (all || sscanf(m.buf, "%7s %u %n", w, &got, &n) >= 2) {
				if (all)
					strcpy(w, "FAIL");
				if (!strcmp(w, "DONE"))
					seen_done(got);
				if ((got == id || all) && !strcmp(w, "FAIL") && !strcmp(word, "READY")) {
					snprintf(why, len, "%s", m.buf + n);
					if (all)	/* every task's answer */
						snprintf(m.fail, sizeof(m.fail), "%s", why);
					m.nbuf -= (size_t)(nl + 1 - m.buf);
					memmove(m.buf, nl + 1, m.nbuf);
					return 0;
				}
				if (got == id && !strcmp(w, word)) {
					m.nbuf -= (size_t)(nl + 1 - m.buf);
					memmove(m.buf, nl + 1, m.nbuf);
					return 1;
				}
			}
			m.nbuf -= (size_t)(nl + 1 - m.buf);
			memmove(m.buf, nl + 1, m.nbuf);
		}
		if (!strcmp(word, "DONE") && is_done(id))
			return 1;
		{
			int64_t left = deadline - now_ms();
			struct pollfd p = { .fd = m.status, .events = POLLIN };
			ssize_t r;

			if (left <= 0) {
				snprintf(why, len, "no answer from memtrace-bpf slurm-helper in %d s",
					 m.timeout_ms / 1000);
				return -1;
			}
			if (poll(&p, 1, (int)left) < 0 && errno != EINTR) {
				snprintf(why, len, "poll: %s", strerror(errno));
				return -1;
			}
			if (!p.revents)
				continue;
			if (m.nbuf == sizeof(m.buf) - 1)
				m.nbuf = 0;
			r = read(m.status, m.buf + m.nbuf, sizeof(m.buf) - 1 - m.nbuf);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				snprintf(why, len, "memtrace-bpf slurm-helper ended without an answer "
					 "(%s: is it the memtrace-bpf of this plugin? plugstack.conf's bin=)",
					 m.bin);
				return -1;
			}
			m.nbuf += (size_t)r;
		}
	}
}

/* A line to the helper, SIGPIPE held off (a helper that died is an
 * error here, not slurmstepd's death; slurmstepd's own mask and handlers
 * stay as they were). 0, or -1. */
static int tell(const char *fmt, uint32_t id, int v)
{
	char line[64];
	sigset_t pipe_only, old, pending;
	int n = snprintf(line, sizeof(line), fmt, id, v), e = 0;
	struct timespec zero = { 0, 0 };
	bool was_pending;

	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	if (write(m.ctl, line, (size_t)n) != n)
		e = -1;
	if (e && errno == EPIPE && !was_pending)
		sigtimedwait(&pipe_only, NULL, &zero);	/* ours: consumed */
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return e;
}

/* The task as Slurm hands it to post_fork may still be becoming the
 * job's user (its child side sets its ids while the parent goes on):
 * wait, within the timeout, until its real, effective, saved and fs ids
 * are all the job's. 0, or -1 with why. */
static int wait_user(pid_t pid, uid_t uid, gid_t gid, char *why, size_t len)
{
	int64_t deadline = now_ms() + m.timeout_ms;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	for (;;) {
		FILE *f = fopen(path, "re");
		char ln[256];
		unsigned long u[4] = { 1, 1, 1, 1 }, g[4] = { 1, 1, 1, 1 };
		bool ok = false;

		if (!f) {
			snprintf(why, len, "the task is gone before its exec");
			return -1;
		}
		while (fgets(ln, sizeof(ln), f)) {
			if (!strncmp(ln, "Uid:", 4))
				sscanf(ln + 4, "%lu %lu %lu %lu", &u[0], &u[1], &u[2], &u[3]);
			else if (!strncmp(ln, "Gid:", 4))
				sscanf(ln + 4, "%lu %lu %lu %lu", &g[0], &g[1], &g[2], &g[3]);
		}
		fclose(f);
		ok = true;
		for (int i = 0; i < 4; i++)
			ok = ok && u[i] == uid && g[i] == gid;
		if (ok)
			return 0;
		if (now_ms() > deadline) {
			snprintf(why, len, "the task did not become the job's user (uid %u gid %u) "
				 "in %d s", (unsigned)uid, (unsigned)gid, m.timeout_ms / 1000);
			return -1;
		}
		usleep(1000);
	}
}

/* A step's directory name: batch, interactive, extern, or its number. */
static void step_name(uint32_t step, char *buf, size_t len)
{
	switch (step) {
	case SLURM_BATCH_SCRIPT:	snprintf(buf, len, "batch"); break;
	case SLURM_INTERACTIVE_STEP:	snprintf(buf, len, "interactive"); break;
	case SLURM_EXTERN_CONT:		snprintf(buf, len, "extern"); break;
	default:			snprintf(buf, len, "%u", step); break;
	}
}

/* What the helper is told of the job: its command line's values. */
struct job_facts {
	char uid[16], gid[16], job[16], step[16], dir[2 * PATH_MAX + 64];
	char groups[256 * 12], node[128], cpus[16], mem[24];
};

/* The job's trace directory, DIR/<job>/<step> (DIR relative: in the
 * task's working directory, the job's). 0, or -1 with m.fail. */
static int trace_dir(pid_t task, struct job_facts *f)
{
	char cwd[PATH_MAX], link[64];
	ssize_t n;

	if (opt_dir[0] == '/') {
		snprintf(f->dir, sizeof(f->dir), "%s/%s/%s", opt_dir, f->job, f->step);
	} else {
		snprintf(link, sizeof(link), "/proc/%d/cwd", (int)task);
		n = readlink(link, cwd, sizeof(cwd) - 1);
		if (n <= 0) {
			snprintf(m.fail, sizeof(m.fail), "cannot read the task's working directory: %s",
				 strerror(errno));
			return -1;
		}
		cwd[n] = 0;
		if (n >= (ssize_t)sizeof(cwd) - 1 || (n > 10 && !strcmp(cwd + n - 10, " (deleted)"))) {
			snprintf(m.fail, sizeof(m.fail), "the task's working directory is gone or too "
				 "long a path: give --memtrace an absolute DIR");
			return -1;
		}
		snprintf(f->dir, sizeof(f->dir), "%s/%s/%s/%s", cwd, opt_dir, f->job, f->step);
	}
	if (strlen(f->dir) >= PATH_MAX) {
		snprintf(m.fail, sizeof(m.fail), "the trace directory is too long a path");
		return -1;
	}
	return 0;
}

/* The job's ids, groups, what the step asked for and its directory. 0, or
 * -1 with m.fail (a job of root's is not traced this way). */
static int job_facts(spank_t sp, pid_t task, struct job_facts *f)
{
	uid_t uid;
	gid_t gid, *gids = NULL;
	uint32_t job = 0, step = 0, c = 0;
	uint64_t mb = 0;
	size_t used = 0;
	int ng = 0;

	memset(f, 0, sizeof(*f));
	if (spank_get_item(sp, S_JOB_UID, &uid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_GID, &gid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_ID, &job) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_STEPID, &step) != ESPANK_SUCCESS) {
		snprintf(m.fail, sizeof(m.fail), "cannot read the job's ids from Slurm");
		return -1;
	}
	if (uid == 0) {
		snprintf(m.fail, sizeof(m.fail), "a job of root's: --memtrace traces users' jobs "
			 "through the memtrace-bpf service; root runs the task under memtrace-bpf "
			 "itself (srun memtrace-bpf -o FILE -- CMD)");
		return -1;
	}
	snprintf(f->uid, sizeof(f->uid), "%u", (unsigned)uid);
	snprintf(f->gid, sizeof(f->gid), "%u", (unsigned)gid);
	snprintf(f->job, sizeof(f->job), "%u", job);
	step_name(step, f->step, sizeof(f->step));
	/* the job's own supplementary groups, as its tasks have them */
	if (spank_get_item(sp, S_JOB_SUPPLEMENTARY_GIDS, &gids, &ng) == ESPANK_SUCCESS)
		for (int i = 0; i < ng && i < 256 && used + 12 < sizeof(f->groups); i++)
			used += (size_t)snprintf(f->groups + used, sizeof(f->groups) - used, "%s%u",
						 used ? "," : "", (unsigned)gids[i]);
	/* what the step asked for, for run.json */
	if (spank_get_item(sp, S_STEP_CPUS_PER_TASK, &c) != ESPANK_SUCCESS)
		c = 0;
	if (spank_get_item(sp, S_STEP_ALLOC_MEM, &mb) != ESPANK_SUCCESS)
		mb = 0;
	snprintf(f->cpus, sizeof(f->cpus), "%u", c);
	snprintf(f->mem, sizeof(f->mem), "%llu", (unsigned long long)mb);
	if (spank_getenv(sp, "SLURMD_NODENAME", f->node, sizeof(f->node)) != ESPANK_SUCCESS)
		f->node[0] = 0;
	return trace_dir(task, f);
}

/* In the forked helper: a process of its own, not slurmstepd's (its
 * signal mask and dispositions, its OOM shield, its fds), then
 * memtrace-bpf slurm-helper. */
static void __attribute__((noreturn)) helper_exec(int ctl_rd, int st_wr, const struct job_facts *f)
{
	char *argv[32];
	char *envp[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			 "LANG=C", NULL };
	int k = 0, a, b, fd;
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "0", 1) != 1) {
			/* left as it was */
		}
		close(fd);
	}
	/* fds 3 and 4 the pipes (through high fds: neither lands on the other;
	 * dup2 clears CLOEXEC), nothing else of slurmstepd's: its stdout and
	 * stderr may be a step's I/O, which slurmstepd waits to see closed
	 * (/dev/null; what the helper has to say comes back as FAIL lines) */
	a = fcntl(ctl_rd, F_DUPFD, 10);
	b = fcntl(st_wr, F_DUPFD, 10);
	if (a < 0 || b < 0 || dup2(a, 3) < 0 || dup2(b, 4) < 0)
		_exit(127);
	if (syscall(SYS_close_range, 5U, ~0U, 0))
		for (fd = 5; fd < 65536; fd++)
			close(fd);
	fd = open("/dev/null", O_RDWR);
	if (fd < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		_exit(127);
	if (fd > 4)
		close(fd);
	argv[k++] = "memtrace-bpf";
	argv[k++] = "slurm-helper";
#define ARG(name, val) (argv[k++] = (name), argv[k++] = (char *)(val))
	ARG("--ctl", "3");
	ARG("--status", "4");
	ARG("--uid", f->uid);
	ARG("--gid", f->gid);
	ARG("--dir", f->dir);
	ARG("--job", f->job);
	ARG("--step", f->step);
	ARG("--cpus-per-task", f->cpus);
	ARG("--mem-mb", f->mem);
	if (m.socket)
		ARG("--socket", m.socket);
	if (f->groups[0])
		ARG("--groups", f->groups);
	if (f->node[0])
		ARG("--node", f->node);
#undef ARG
	argv[k] = NULL;
	execve(m.bin, argv, envp);
	dprintf(4, "FAIL * cannot run %s: %s\n", m.bin, strerror(errno));
	_exit(127);
}

/* Starts the helper: forked twice (the middle one exits at once, so the
 * helper is nobody's child here and leaves the step's process tree). 0,
 * or -1 with m.fail. */
static int helper_start(spank_t sp, pid_t task)
{
	struct job_facts f;
	int ctl[2] = { -1, -1 }, st[2] = { -1, -1 };
	pid_t mid;

	if (job_facts(sp, task, &f))
		return -1;
	if (pipe2(ctl, O_CLOEXEC) || pipe2(st, O_CLOEXEC) || (mid = fork()) < 0) {
		snprintf(m.fail, sizeof(m.fail), "cannot start the helper: %s", strerror(errno));
		for (int i = 0; i < 2; i++) {
			if (ctl[i] >= 0)
				close(ctl[i]);
			if (st[i] >= 0)
				close(st[i]);
		}
		return -1;
	}
	if (mid == 0) {
		setsid();
		if (fork() != 0)
			_exit(0);
		helper_exec(ctl[0], st[1], &f);
	}
	waitpid(mid, NULL, 0);
	close(ctl[0]);
	close(st[1]);
	m.ctl = ctl[1];
	m.status = st[0];
	return 0;
}

int slurm_spank_task_post_fork(spank_t sp, int ac, char **av)
{
	pid_t pid;
	uint32_t id;
	char why[600];
	int r;

	(void)ac;
	(void)av;
	if (!opt_set || !spank_remote(sp))
		return 0;
	if (spank_get_item(sp, S_TASK_PID, &pid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_TASK_GLOBAL_ID, &id) != ESPANK_SUCCESS) {
		slurm_error("memtrace: cannot read the task's pid and id from Slurm");
		return -1;
	}
	{
		uint32_t step = 0;

		/* the job's extern step holds no task of the user's */
		if (spank_get_item(sp, S_JOB_STEPID, &step) == ESPANK_SUCCESS &&
		    step == SLURM_EXTERN_CONT)
			return 0;
	}
	if (m.ctl < 0 && !m.fail[0])
		helper_start(sp, pid);
	if (m.fail[0]) {
		slurm_error("memtrace: task %u not traced: %s", id, m.fail);
		return -1;
	}
	{
		uid_t uid;
		gid_t gid;

		if (spank_get_item(sp, S_JOB_UID, &uid) != ESPANK_SUCCESS ||
		    spank_get_item(sp, S_JOB_GID, &gid) != ESPANK_SUCCESS ||
		    wait_user(pid, uid, gid, why, sizeof(why))) {
			slurm_error("memtrace: task %u not traced: %s", id, why);
			return -1;
		}
	}
	if (tell("TASK %u %d\n", id, (int)pid)) {
		slurm_error("memtrace: task %u not traced: memtrace-bpf slurm-helper is gone", id);
		return -1;
	}
	r = wait_for("READY", id, why, sizeof(why));
	if (r == -1 && !m.fail[0])
		/* no answer in time: the next tasks do not wait as long again */
		snprintf(m.fail, sizeof(m.fail), "%s", why);
	if (r != 1) {
		slurm_error("memtrace: task %u not traced: %s", id, why);
		return -1;
	}
	return 0;
}

int slurm_spank_task_exit(spank_t sp, int ac, char **av)
{
	uint32_t id;
	int status = 0;
	char why[600];

	(void)ac;
	(void)av;
	if (!opt_set || !spank_remote(sp) || m.ctl < 0)
		return 0;
	if (spank_get_item(sp, S_TASK_GLOBAL_ID, &id) != ESPANK_SUCCESS)
		return 0;
	spank_get_item(sp, S_TASK_EXIT_STATUS, &status);
	if (m.fail[0] || tell("EXIT %u %d\n", id, status))
		return 0;
	if (wait_for("DONE", id, why, sizeof(why)) != 1) {
		slurm_error("memtrace: task %u: its trace may not be whole yet: %s", id, why);
		snprintf(m.fail, sizeof(m.fail), "%s", why);	/* the others do not wait */
	}
	return 0;
}

int slurm_spank_exit(spank_t sp, int ac, char **av)
{
	(void)sp;
	(void)ac;
	(void)av;
	if (m.ctl >= 0) {
		close(m.ctl);	/* no more tasks: the helper ends with its runs */
		m.ctl = -1;
	}
	if (m.status >= 0) {
		close(m.status);
		m.status = -1;
	}
	free(m.done);
	m.done = NULL;
	return 0;
}
