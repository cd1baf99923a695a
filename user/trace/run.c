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
#include "format/output.h"
#include "analysis/spikes_report.h"
#include "trace/run.h"
#include "lib/units.h"

#define LOG_WARN_MAX 5	/* unit warnings said in full; the rest counted */

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

/* envp (or ours) with NAME=VALUE set; NULL without memory. Child only. */
static char **env_with(char **envp, const char *name, const char *value)
{
	extern char **environ;
	char **src = envp ? envp : environ, **out, *kv;
	size_t n = 0, o = 0, len = strlen(name);

	while (src[n])
		n++;
	out = malloc((n + 2) * sizeof(*out));
	kv = malloc(len + strlen(value) + 2);
	if (!out || !kv)
		return NULL;
	sprintf(kv, "%s=%s", name, value);
	for (size_t i = 0; i < n; i++)
		if (strncmp(src[i], name, len) || src[i][len] != '=')
			out[o++] = src[i];
	out[o++] = kv;
	out[o] = NULL;
	return out;
}

/* The child side of a launch: wait at the gate, become the user, exec.
 * mark_fd >= 0: put /dev/null (null_fd) there for the command's marks. */
static void __attribute__((noreturn))
child_main(const struct run_spec *s, int gate_rd, int err_wr, int log_fd, int null_fd,
	   int mark_fd, const int *cap_wr)
{
	char **envp = s->envp;
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
	/* (the parent does the same: whichever runs first) */
	if (s->own_pgrp)
		setpgid(0, 0);
	if (log_fd >= 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null < 0 || dup2(null, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0)
			goto fail;
	}
	/* --checkpoint-regex: stdout and stderr to our pipes; stdin stays */
	if (cap_wr[0] >= 0 &&
	    (dup2(cap_wr[0], 1) < 0 || dup2(cap_wr[1] >= 0 ? cap_wr[1] : cap_wr[0], 2) < 0))
		goto fail;
	/* wait until every program is attached: no gap before exec */
	if (read(gate_rd, &go, 1) != 1)
		_exit(126);
	if (mark_fd >= 0) {
		char num[16];

		/* dup2 leaves the new fd without FD_CLOEXEC: it survives exec */
		snprintf(num, sizeof(num), "%d", mark_fd);
		if (dup2(null_fd, mark_fd) < 0 || !(envp = env_with(s->envp, MARK_FD_ENV, num)))
			goto fail;
	}
	if (!s->as_root && sudo_ids(&uid, &gid)) {
		const char *name = getenv("SUDO_USER");

		if ((name ? initgroups(name, gid) : setgroups(0, NULL)) || setgid(gid) ||
		    setuid(uid))
			goto fail;
	}
	if (envp)
		execvpe(s->cmd[0], s->cmd, envp);
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

/* A line --checkpoint-regex matched: a log row in the trace, in time order
 * with the records, given to the process that wrote it (its state then). */
static int on_log_line(void *ctx, uint64_t ts_ns, pid_t pid, pid_t tid, const char *stream,
		       uint64_t lineno, const char *line, const char *value)
{
	struct run *r = ctx;
	int64_t kb = -1;
	int e = parse_reported_kb(value, false, &kb);

	if (e) {
		/* the first few said in full, the rest counted at the end: a
		 * pattern that matches every line must not flood stderr */
		if (r->log_unknown_units++ < LOG_WARN_MAX)
			fprintf(stderr, "memtrace-bpf: warning: output line %llu (%s) matched "
				"--checkpoint-regex, but its value '%.*s' %s; kept in the trace as "
				"text, not compared. The line: %.*s%s\n", (unsigned long long)lineno,
				stream, utf8_cut(value, 64), value,
				e == -EDOM ? "has no unit or one memtrace-bpf does not know (B, "
				"K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB)" : "is not a number with a unit",
				utf8_cut(line, 160), line, strlen(line) > 160 ? " [...]" : "");
		kb = -1;
	}
	/* the writer when the kernel saw the write, else the command */
	return session__queue_log(&r->sess, ts_ns, pid ? pid : r->child, tid, stream, line, value,
				  kb);
}

void run__pump_logs(struct run *r, int timeout_ms, int extra_fd, bool final)
{
	if (!r->logs_on)
		return;
	if (logcap__pump(&r->logs, timeout_ms, extra_fd, final))
		fprintf(stderr, "memtrace-bpf: out of memory keeping the command's log lines\n");
}

bool run__logs_busy(const struct run *r)
{
	return r->logs_on && logcap__busy(&r->logs);
}

void run__emit_logs(struct run *r, uint64_t cut_ns)
{
	r->logs.records_until = cut_ns;
	if (r->files_open)
		session__emit_logs(&r->sess, cut_ns);
}

static void run_init(struct run *r, struct tracer *t, const struct run_spec *s,
		     uint64_t start_ns)
{
	memset(r, 0, sizeof(*r));
	r->spec = *s;
	r->tracer = t;
	r->start_ns = start_ns;
	r->mark_fd = -1;
	r->logs.rd[0] = r->logs.rd[1] = r->logs.log_fd = -1;
}

/* The marker fd's number in the command: the lowest from 3 up that the
 * command would not otherwise have open (ours are O_CLOEXEC, or free) and
 * the child does not need before exec. Low, so `>&$MEMTRACE_MARK_FD`
 * works even in shells that take single-digit fds only (dash). */
static int pick_mark_fd(const int *busy, int nbusy)
{
	for (int fd = 3; fd < 1024; fd++) {
		int fl = fcntl(fd, F_GETFD);
		bool taken = fl >= 0 && !(fl & FD_CLOEXEC);

		for (int i = 0; i < nbusy && !taken; i++)
			taken = busy[i] == fd;
		if (!taken)
			return fd;
	}
	return -1;
}

int run__launch(struct run *r, struct tracer *t, const struct run_spec *s,
		uint64_t start_ns, char *err, size_t errlen)
{
	int gate[2] = { -1, -1 }, errp[2] = { -1, -1 }, log_fd = -1, null_fd = -1, e = 0;
	int cap_wr[2] = { -1, -1 };
	ssize_t n;

	run_init(r, t, s, start_ns);
	tracer__group_reset(t, s->group);
	if (s->ckpt_regex) {
		e = -logcap__open(&r->logs, s->ckpt_regex, s->ckpt_log_path, cap_wr, on_log_line, r);
		if (e) {
			snprintf(err, errlen, "cannot write the log %s: %s", s->ckpt_log_path,
				 strerror(e));
			return e;
		}
		r->logs_on = true;
		/* the kernel times each write to the pipes (OUTPUT records) */
		r->logs.kernel_timed = true;
	}
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
	if (!s->no_mark_fd) {
		null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (null_fd >= 0) {
			int busy[] = { gate[0], gate[1], errp[0], errp[1], log_fd, null_fd };

			r->mark_fd = pick_mark_fd(busy, 6);
		}
		if (r->mark_fd < 0)
			fprintf(stderr, "memtrace-bpf: note: no marker fd for %s (%s); marks by fd are "
				"off for this run\n", s->cmd[0], null_fd < 0 ? strerror(errno) : "no free fd");
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
		child_main(s, gate[0], errp[1], log_fd, null_fd, r->mark_fd, cap_wr);
	}
	if (s->own_pgrp)
		setpgid(r->child, r->child);	/* before anyone signals -child */
	for (int i = 0; i < 2; i++) {
		/* the command holds the write ends: EOF comes when it is done */
		if (cap_wr[i] >= 0)
			close(cap_wr[i]);
		cap_wr[i] = -1;
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
	/* MEMTRACE_MARK probes in the command's binary (mark.h), attached
	 * before it starts; a binary without them is the usual case */
	e = tracer__attach_marks(t, s->cmd[0]);
	if (e && e != -ENOENT)
		fprintf(stderr, "memtrace-bpf: note: cannot attach to the MEMTRACE_MARK probes of %s: "
			"%s; its USDT marks are not recorded (marks through $%s still are)\n",
			s->cmd[0], strerror(-e), MARK_FD_ENV);
	e = 0;
	if ((r->mark_fd >= 0 || r->logs_on) &&
	    (e = tracer__set_mark_fd(t, r->child, r->mark_fd, r->logs_on))) {
		fprintf(stderr, "memtrace-bpf: note: cannot register the marker fd: %s; marks by fd "
			"are off for this run\n", strerror(-e));
		r->mark_fd = -1;
		e = 0;
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
	if (null_fd >= 0)
		close(null_fd);
	for (int i = 0; i < 2; i++)
		if (cap_wr[i] >= 0)
			close(cap_wr[i]);
	return e;
}

int run__attach(struct run *r, struct tracer *t, const struct run_spec *s,
		uint64_t start_ns, char *err, size_t errlen)
{
	bool *no_mm = calloc((size_t)s->npids + 1, sizeof(*no_mm));
	int e;

	run_init(r, t, s, start_ns);
	tracer__group_reset(t, s->group);
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
	run_init(r, t, s, start_ns);
	/* the kernel zeroed the group when it started it: no reset here */
	return open_files(r, err, errlen) ? EIO : 0;
}

int run__record(struct run *r, const struct mt_rec *rec)
{
	int e;

	if (rec->type == MT_REC_OUTPUT) {
		/* times the command's log lines; not a row of its own */
		if (r->logs_on && r->files_open)
			return logcap__output(&r->logs, (int)rec->cause, rec->ts_ns,
					      (pid_t)rec->pid, (pid_t)rec->tid,
					      rec->len & ~(1ULL << 63), rec->label,
					      !(rec->len >> 63));
		return 0;
	}
	e = session__record(&r->sess, rec);

	/* the loader has the exit record: the kernel may drop the final
	 * state it kept in case the record was lost */
	if (!e && rec->type == MT_REC_EXIT)
		tracer__exit_seen(r->tracer, (pid_t)rec->pid, rec->ts_ns);
	if (!e && rec->type == MT_REC_MARK_FD_LOST) {
		struct proc_info *p = session__proc(&r->sess, (pid_t)rec->pid, false);
		const char *how = syscall_name(rec->nr);

		/* said when it happens: the marks that process writes from now
		 * on through that fd go nowhere we see */
		fprintf(stderr, "memtrace-bpf: pid %u (%s) %s its marker fd %llu (%s) at %.6f s; "
			"its marks written to fd %llu from now on are lost (other fds of the same "
			"file still work)\n", rec->pid, p && p->comm[0] ? p->comm : "?",
			rec->nr == MT_NR_CLOSE || rec->nr == MT_NR_CLOSE_RANGE ? "closed" : "replaced",
			(unsigned long long)rec->addr, how ? how : "?",
			((int64_t)(rec->ts_ns - r->start_ns)) / 1e9, (unsigned long long)rec->addr);
	}
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
	struct mt_group g;
	struct utsname u;
	unsigned int kb = r->sess.page_kb;
	struct jw w;
	FILE *f;
	int fd;

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
	jw_u64(&w, "untraced_processes", g.untraced);
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
	jw_obj(&w, "marks");
	if (r->mark_fd >= 0)
		jw_i64(&w, "fd", r->mark_fd);
	else
		jw_null(&w, "fd");
	jw_u64(&w, "marks", r->sess.marks);
	jw_u64(&w, "checkpoints", r->sess.checkpoints);
	jw_arr(&w, "fd_lost");
	for (size_t i = 0; i < r->sess.nlost; i++) {
		const struct mark_lost *l = &r->sess.lost[i];
		const char *how = syscall_name(l->nr);

		jw_obj(&w, NULL);
		jw_i64(&w, "pid", l->pid);
		jw_u64(&w, "ts_ns", l->ts_ns);
		jw_str(&w, "by", how ? how : "?");
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_u64(&w, "fd_lost_count", r->sess.mark_fd_lost);
	jw_obj_end(&w);
	if (r->logs_on) {
		jw_obj(&w, "checkpoint_regex");
		jw_str(&w, "pattern", s->ckpt_regex_src);
		jw_str(&w, "log", s->ckpt_log_path);
		jw_u64(&w, "lines", r->logs.lines);
		jw_u64(&w, "matched", r->logs.matched);
		jw_u64(&w, "unknown_units", r->log_unknown_units);
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
	if (r->logs_on) {
		run__pump_logs(r, 0, -1, true);
		if (r->logs.err)
			fprintf(stderr, "memtrace-bpf: the log %s is incomplete: %s\n", s->ckpt_log_path,
				strerror(r->logs.err));
		if (r->log_unknown_units > LOG_WARN_MAX)
			fprintf(stderr, "memtrace-bpf: warning: %llu more matched lines had a value "
				"without a known unit (%llu in all; the rows are in the trace, not "
				"compared)\n", (unsigned long long)(r->log_unknown_units - LOG_WARN_MAX),
				(unsigned long long)r->log_unknown_units);
		if (r->logs.not_passed)
			fprintf(stderr, "memtrace-bpf: %llu bytes of the command's output were not passed "
				"on (stopped before our stdout/stderr took them, or they failed); they "
				"are in %s\n",
				(unsigned long long)r->logs.not_passed, s->ckpt_log_path);
		if (!r->logs.matched)
			fprintf(stderr, "memtrace-bpf: --checkpoint-regex '%s' matched none of the "
				"command's %llu output line%s (kept in %s); check the pattern against "
				"them, e.g. grep -E '%s' %s\n", s->ckpt_regex_src,
				(unsigned long long)r->logs.lines, r->logs.lines == 1 ? "" : "s",
				s->ckpt_log_path, s->ckpt_regex_src, s->ckpt_log_path);
	}
	if (r->files_open)
		session__emit_logs(&r->sess, UINT64_MAX);
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
						s->summary_path, s->log_path,
						r->logs_on ? s->ckpt_log_path : NULL };

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
	if (r->logs_on) {
		logcap__close(&r->logs);
		r->logs_on = false;
	}
	if (r->files_open) {
		session__close(&r->sess);
		r->files_open = false;
	}
	session__free(&r->sess);
}
