// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "output.h"
#include "report.h"
#include "run.h"
#include "units.h"

uint64_t gate_limit_kb(const struct gate *g)
{
	return g->max_peak_kb + g->tolerance_kb +
	       (uint64_t)((double)g->max_peak_kb * g->tolerance_pct / 100.0);
}

bool gate_exceeded(const struct gate *g, uint64_t peak_kb)
{
	return g && g->max_peak_kb && peak_kb > gate_limit_kb(g);
}

bool sudo_ids(uid_t *uid, gid_t *gid)
{
	const char *u = getenv("SUDO_UID"), *g = getenv("SUDO_GID");
	unsigned long uv, gv;

	if (getuid() != 0 || !u || !g || parse_uint(u, 0xfffffffeUL, &uv) ||
	    parse_uint(g, 0xfffffffeUL, &gv) || uv == 0)
		return false;
	*uid = (uid_t)uv;
	*gid = (gid_t)gv;
	return true;
}

volatile sig_atomic_t sig_count, sig_last, sig_from_user;
bool sig_inherited_ignore[NSIG];

static void on_signal(int sig, siginfo_t *info, void *uc)
{
	(void)uc;
	sig_last = sig;
	/* A terminal's Ctrl-C reaches the whole foreground process group,
	 * the command included (si_code SI_KERNEL). A kill() aimed at us
	 * alone must be passed on. */
	sig_from_user = info && (info->si_code == SI_USER || info->si_code == SI_QUEUE ||
				 info->si_code == SI_TKILL);
	sig_count++;
}

void signals__install(void)
{
	struct sigaction sa = { .sa_sigaction = on_signal, .sa_flags = SA_SIGINFO };
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction old;

		/* handled even when inherited as ignored: a kill() aimed at us
		 * must stop the trace and reach the command (as timeout(1)) */
		sigaction(sigs[i], &sa, &old);
		sig_inherited_ignore[sigs[i]] = old.sa_handler == SIG_IGN;
	}
	sigaction(SIGPIPE, NULL, &sa);
	sig_inherited_ignore[SIGPIPE] = sa.sa_handler == SIG_IGN;
	signal(SIGPIPE, SIG_IGN);
}

uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The child side of a launch: wait at the gate, become the user, exec. */
static void __attribute__((noreturn))
child_main(const struct run_spec *s, int gate_rd, int err_wr, int log_fd)
{
	uid_t uid;
	gid_t gid;
	char go;
	int e;

	/* The signals memtrace-bpf forwards get their default action, even in
	 * a script's background job that inherited SIGINT ignored: a SIGINT
	 * sent to the run must end it. SIGPIPE is ours to ignore only; the
	 * command gets what we inherited. */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGPIPE, s->sigpipe_ignored ? SIG_IGN : SIG_DFL);
	if (log_fd >= 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null < 0 || dup2(null, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0)
			goto fail;
	}
	/* wait until every program is attached: no gap before exec */
	if (read(gate_rd, &go, 1) != 1)
		_exit(126);
	if (!s->as_root && sudo_ids(&uid, &gid)) {
		const char *name = getenv("SUDO_USER");

		if ((name ? initgroups(name, gid) : setgroups(0, NULL)) || setgid(gid) ||
		    setuid(uid))
			goto fail;
	}
	if (s->envp)
		execvpe(s->cmd[0], s->cmd, s->envp);
	else
		execvp(s->cmd[0], s->cmd);
fail:
	e = errno;
	if (write(err_wr, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(e == ENOENT ? 127 : 126);
}

static int open_files(struct run *r, char *err, size_t errlen)
{
	int e = session__init(&r->sess, r->spec.csv_path, r->start_ns);

	if (e) {
		snprintf(err, errlen, "cannot write trace %s: %s", r->spec.csv_path, strerror(-e));
		session__free(&r->sess);
		return -e;
	}
	r->files_open = true;
	return 0;
}

static void run_init(struct run *r, struct tracer *t, const struct run_spec *s,
		     uint64_t start_ns)
{
	memset(r, 0, sizeof(*r));
	r->spec = *s;
	r->tracer = t;
	r->start_ns = start_ns;
	r->gate_fd = r->err_fd = -1;
	tracer__group_reset(t, s->group);
}

int run__launch(struct run *r, struct tracer *t, const struct run_spec *s,
		uint64_t start_ns, char *err, size_t errlen)
{
	int gate[2] = { -1, -1 }, errp[2] = { -1, -1 }, log_fd = -1, e = 0;
	ssize_t n;

	run_init(r, t, s, start_ns);
	if (s->log_path) {
		log_fd = open(s->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
		if (log_fd < 0) {
			e = errno;
			snprintf(err, errlen, "cannot write the log %s: %s", s->log_path, strerror(e));
			return e;
		}
	}
	if (pipe2(gate, O_CLOEXEC) || pipe2(errp, O_CLOEXEC)) {
		e = errno;
		snprintf(err, errlen, "cannot start %s: %s", s->cmd[0], strerror(e));
		goto out;
	}
	fflush(NULL);
	r->child = fork();
	if (r->child < 0) {
		e = errno;
		r->child = 0;
		snprintf(err, errlen, "cannot start %s: %s", s->cmd[0], strerror(e));
		goto out;
	}
	if (r->child == 0) {
		close(gate[1]);
		close(errp[0]);
		child_main(s, gate[0], errp[1], log_fd);
	}
	close(gate[0]);
	close(errp[1]);
	gate[0] = errp[1] = -1;
	e = -tracer__expect_exec(t, r->child, s->group);
	if (e) {
		snprintf(err, errlen, "cannot register %s for tracing: %s", s->cmd[0], strerror(e));
		kill(r->child, SIGKILL);
		waitpid(r->child, NULL, 0);
		r->child = 0;
		e = e == ENOENT ? EIO : e;	/* not "command not found" */
		goto out;
	}
	/* release the child; it writes an errno back only if exec failed */
	if (write(gate[1], "g", 1) != 1)
		e = errno;
	close(gate[1]);
	gate[1] = -1;
	do {
		n = read(errp[0], &e, sizeof(e));
	} while (n < 0 && errno == EINTR);
	if (n == sizeof(e)) {
		snprintf(err, errlen, "cannot run %s: %s", s->cmd[0], strerror(e));
		waitpid(r->child, &r->status, 0);
		r->have_status = true;
		r->exec_failed = true;
		goto out;
	}
	e = 0;
	if (open_files(r, err, errlen)) {
		/* nothing would be recorded: the command does not run untraced */
		kill(r->child, SIGKILL);
		waitpid(r->child, &r->status, 0);
		r->have_status = true;
		e = EIO;
	}
out:
	for (int i = 0; i < 2; i++) {
		if (gate[i] >= 0)
			close(gate[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	if (log_fd >= 0)
		close(log_fd);
	return e;
}

int run__attach(struct run *r, struct tracer *t, const struct run_spec *s,
		uint64_t start_ns, char *err, size_t errlen)
{
	bool *no_mm = calloc((size_t)s->npids + 1, sizeof(*no_mm));
	int e;

	run_init(r, t, s, start_ns);
	if (!no_mm)
		return ENOMEM;
	e = -tracer__attach_pids(t, s->pids, s->npids, s->group, no_mm);
	if (e) {
		snprintf(err, errlen, "cannot take the attach-time snapshot: %s", strerror(e));
		goto out;
	}
	for (int i = 0; i < s->npids; i++) {
		if (no_mm[i]) {
			snprintf(err, errlen, "PID %d exited (or has no memory) before tracing started",
				 s->pids[i]);
			e = ESRCH;
			goto out;
		}
	}
	if (open_files(r, err, errlen))
		e = EIO;
out:
	free(no_mm);
	return e;
}

int run__adopt(struct run *r, struct tracer *t, const struct run_spec *s,
	       uint64_t start_ns, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->spec = *s;
	r->tracer = t;
	r->start_ns = start_ns;
	r->gate_fd = r->err_fd = -1;
	/* the kernel zeroed the group when it started it: no reset here */
	return open_files(r, err, errlen) ? EIO : 0;
}

int run__record(struct run *r, const struct mt_rec *rec)
{
	int e = session__record(&r->sess, rec);

	/* the loader has the exit record: the kernel may drop the final
	 * state it kept in case the record was lost */
	if (!e && rec->type == MT_REC_EXIT)
		tracer__exit_seen(r->tracer, (pid_t)rec->pid, rec->ts_ns);
	return e;
}

bool run__reap(struct run *r)
{
	if (!r->child || r->have_status)
		return r->have_status;
	if (wait4(r->child, &r->status, WNOHANG, &r->ru) == r->child)
		r->have_status = true;
	return r->have_status;
}

void run__group(struct run *r, struct mt_group *g)
{
	tracer__group(r->tracer, r->spec.group, g);
}

void run__sync(struct run *r)
{
	for (size_t i = 0; i < r->sess.nprocs; i++) {
		struct proc_info *p = &r->sess.procs[i];
		struct mt_proc kp;

		if (tracer__proc(r->tracer, p->pid, &kp) || kp.group != r->spec.group) {
			/* the kernel forgets a process when it exits (its exit
			 * record, if not dropped, carries the status) */
			if (!p->exited && p->first_ts_ns)
				session__mark_exited(&r->sess, p, -1, mono_ns(), false);
			continue;
		}
		p->peak_pages = kp.peak_pages;
		p->peak_ts_ns = kp.peak_ts_ns;
		p->faults = kp.faults;
		if (kp.comm[0])
			memcpy(p->comm, kp.comm, sizeof(p->comm));
		if (kp.flags & MT_PROC_EXITED)
			session__mark_exited(&r->sess, p, exit_status_code(kp.exit_code),
					     kp.exit_ts_ns, true);
	}
}

/* An exit of this run whose record was dropped: the kernel kept its state. */
static int apply_lost_exit(void *ctx, pid_t pid, const struct mt_proc *kp)
{
	struct run *r = ctx;
	struct proc_info *p;

	if (kp->group != r->spec.group || kp->exit_ts_ns < r->start_ns)
		return 0;
	p = session__proc(&r->sess, pid, true);
	if (!p || p->known_exit)
		return 0;
	p->peak_pages = kp->peak_pages;
	p->peak_ts_ns = kp->peak_ts_ns;
	p->faults = kp->faults;
	if (kp->comm[0])
		memcpy(p->comm, kp->comm, sizeof(p->comm));
	if (kp->ppid)
		p->ppid = (pid_t)kp->ppid;
	session__mark_exited(&r->sess, p, exit_status_code(kp->exit_code), kp->exit_ts_ns, true);
	return 0;
}

static int write_summary(struct run *r, const char *path)
{
	const struct run_spec *s = &r->spec;
	char tmp[4096], kernel[128] = "";
	struct mt_counters c;
	struct mt_group g;
	struct utsname u;
	unsigned int kb = r->sess.page_kb;
	struct jw w;
	FILE *f;
	int fd;

	tracer__counters(r->tracer, &c);
	run__group(r, &g);
	if (!uname(&u))
		snprintf(kernel, sizeof(kernel), "%s", u.release);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || !(f = fdopen(fd, "w")))
		return -errno;
	jw_begin(&w, f);
	jw_obj(&w, NULL);
	jw_str(&w, "tool", "memtrace-bpf");
	jw_str(&w, "version", MEMTRACE_VERSION);
	jw_str(&w, "mode", s->mode);
	if (s->ncmd) {
		jw_arr(&w, "command");
		for (int i = 0; i < s->ncmd; i++)
			jw_str(&w, NULL, s->cmd[i]);
		jw_arr_end(&w);
	} else {
		jw_null(&w, "command");
	}
	jw_arr(&w, "targets");
	if (s->ncmd)
		jw_i64(&w, NULL, r->child);
	for (int i = 0; i < s->npids; i++)
		jw_i64(&w, NULL, s->pids[i]);
	jw_arr_end(&w);
	jw_str(&w, "csv", s->csv_path);
	jw_u64(&w, "start_ts_ns", r->start_ns);
	jw_u64(&w, "end_ts_ns", r->end_ns);
	jw_f64(&w, "duration_s", (r->end_ns - r->start_ns) / 1e9, 9);
	jw_u64(&w, "peak_rss_kb", g.tree_peak_pages * kb);
	jw_f64(&w, "peak_time_s", g.tree_peak_ts_ns ?
	       ((int64_t)(g.tree_peak_ts_ns - r->start_ns)) / 1e9 : 0.0, 9);
	jw_u64(&w, "peak_ts_ns", g.tree_peak_ts_ns);
	jw_u64(&w, "events", r->sess.rows);
	jw_u64(&w, "lost_events", g.lost);
	jw_u64(&w, "untraced_processes", c.untraced);
	jw_bool(&w, "interrupted", r->interrupted);
	if (r->have_status) {
		jw_i64(&w, "exit_code", exit_status_code(r->status));
		jw_i64(&w, "rusage_maxrss_kb", r->ru.ru_maxrss);
	} else if (!s->ncmd && !s->npids && r->sess.nprocs && r->sess.procs[0].known_exit) {
		/* capture: the process that started the run (not our child) */
		jw_i64(&w, "exit_code", r->sess.procs[0].exit_code);
		jw_null(&w, "rusage_maxrss_kb");
	} else {
		jw_null(&w, "exit_code");
		jw_null(&w, "rusage_maxrss_kb");
	}
	if (s->gate && s->gate->max_peak_kb) {
		jw_obj(&w, "gate");
		jw_u64(&w, "max_peak_kb", s->gate->max_peak_kb);
		jw_u64(&w, "limit_with_tolerance_kb", gate_limit_kb(s->gate));
		jw_bool(&w, "exceeded", gate_exceeded(s->gate, g.tree_peak_pages * kb));
		jw_obj_end(&w);
	}
	jw_u64(&w, "page_size", (uint64_t)kb * 1024);
	jw_str(&w, "kernel", kernel);
	jw_arr(&w, "processes");
	for (size_t i = 0; i < r->sess.nprocs; i++) {
		struct proc_info *p = &r->sess.procs[i];

		jw_obj(&w, NULL);
		jw_i64(&w, "pid", p->pid);
		jw_i64(&w, "ppid", p->ppid);
		jw_str(&w, "comm", p->comm);
		jw_u64(&w, "peak_rss_kb", p->peak_pages * kb);
		jw_f64(&w, "peak_time_s", p->peak_ts_ns ?
		       ((int64_t)(p->peak_ts_ns - r->start_ns)) / 1e9 : 0.0, 9);
		jw_u64(&w, "peak_ts_ns", p->peak_ts_ns);
		jw_u64(&w, "page_faults", p->faults);
		if (p->exited && p->known_exit)
			jw_i64(&w, "exit_code", p->exit_code);
		else
			jw_null(&w, "exit_code");	/* running, or its exit record was dropped */
		jw_bool(&w, "exited", p->exited);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	if (r->sess.spikes) {
		jw_obj(&w, "analysis");
		report_json(&w, r->sess.spikes, r->start_ns, 20);
		jw_obj_end(&w);
	}
	jw_obj_end(&w);
	if (fflush(f) || ferror(f)) {
		int e = errno ? errno : EIO;

		fclose(f);
		unlink(tmp);
		return -e;
	}
	fclose(f);
	if (rename(tmp, path)) {
		int e = errno;

		unlink(tmp);
		return -e;
	}
	return 0;
}

int run__finish(struct run *r, uint64_t end_ns)
{
	const struct run_spec *s = &r->spec;
	int ret = 0, e;

	r->end_ns = end_ns;
	tracer__fold_faults(r->tracer);
	tracer__each_exited(r->tracer, apply_lost_exit, r);
	run__sync(r);
	if (r->have_status) {
		struct proc_info *p = session__proc(&r->sess, r->child, false);

		if (p)	/* wait4 is exact */
			session__mark_exited(&r->sess, p, exit_status_code(r->status), end_ns, true);
	}
	if (r->sess.spikes)
		spikes__finish(r->sess.spikes, end_ns);
	if (r->files_open) {
		r->files_open = false;
		e = session__close(&r->sess);
		if (e) {
			fprintf(stderr, "memtrace-bpf: the trace %s is incomplete: %s\n", s->csv_path,
				strerror(-e));
			ret = e;
		}
	}
	if (s->summary_path) {
		e = write_summary(r, s->summary_path);
		if (e) {
			fprintf(stderr, "memtrace-bpf: cannot write summary %s: %s\n", s->summary_path,
				strerror(-e));
			if (!ret)
				ret = e;
		}
	}
	{
		uid_t uid;
		gid_t gid;

		if (sudo_ids(&uid, &gid)) {
			/* files made for the user who ran sudo belong to them */
			const char *files[] = { strcmp(s->csv_path, "-") ? s->csv_path : NULL,
						s->summary_path, s->log_path };

			for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
				if (files[i] && chown(files[i], uid, gid))
					fprintf(stderr, "memtrace-bpf: note: cannot give %s to uid %u: %s\n",
						files[i], uid, strerror(errno));
		}
	}
	return ret;
}

void run__free(struct run *r)
{
	if (r->files_open) {
		session__close(&r->sess);
		r->files_open = false;
	}
	session__free(&r->sess);
}
