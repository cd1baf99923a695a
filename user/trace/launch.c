// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* How a run starts: a launched command (held before exec until every
 * program is attached), attached PIDs, a group the kernel captured. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "lib/clock.h"
#include "lib/env.h"
#include "lib/exit.h"
#include "lib/files.h"
#include "trace/run.h"

/* Fds of a launch, for the child and the parent. */
struct launch_fds {
	int go[2];		/* the start barrier: the child execs once it reads */
	int exec_err[2];	/* the child writes its errno here if exec fails */
	int output_log;		/* spec.output_log, or -1 */
	int null;		/* /dev/null for the marker fd, or -1 */
	int cap_wr[2];		/* --checkpoint-regex: the pipes' write ends */
};

/* The child side of a launch: wait at the barrier, become the user, exec.
 * mark_fd >= 0: put /dev/null there for the command's marks. */
static void __attribute__((noreturn))
child_main(const struct run_spec *s, const struct launch_fds *f, int mark_fd)
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
	if (f->output_log >= 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null < 0 || dup2(null, 0) < 0 || dup2(f->output_log, 1) < 0 ||
		    dup2(f->output_log, 2) < 0)
			goto fail;
	}
	/* --checkpoint-regex: stdout and stderr to our pipes; stdin stays,
	 * unless the output is only kept (a campaign's run) */
	if (s->ckpt_keep_only) {
		int null = open("/dev/null", O_RDONLY);

		if (null < 0 || dup2(null, 0) < 0)
			goto fail;
	}
	if (f->cap_wr[0] >= 0 &&
	    (dup2(f->cap_wr[0], 1) < 0 || dup2(f->cap_wr[1] >= 0 ? f->cap_wr[1] : f->cap_wr[0], 2) < 0))
		goto fail;
	/* wait until every program is attached: no gap before exec. Our copy
	 * of the write end closed first: if memtrace-bpf dies (SIGKILL), the
	 * read sees EOF and the child ends instead of waiting for ever (and
	 * holding memtrace-bpf's fds, the service's socket among them) */
	close(f->go[1]);
	if (read(f->go[0], &go, 1) != 1)
		_exit(EXIT_NOEXEC);
	if (mark_fd >= 0) {
		const char *name = MARK_FD_ENV;
		char num[16];
		const char *val = num;

		/* dup2 leaves the new fd without FD_CLOEXEC: it survives exec */
		snprintf(num, sizeof(num), "%d", mark_fd);
		if (dup2(f->null, mark_fd) < 0 || !(envp = env_with(s->envp, &name, &val, 1)))
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
	if (write(f->exec_err[1], &e, sizeof(e)) < 0)
		_exit(EXIT_NOTFOUND);
	_exit(e == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC);
}

/* A run's group, taken for it from the free ones. */
static int take_group(struct tracer *t, uint32_t *group, char *err, size_t errlen)
{
	int e = tracer__group_take(t, group);

	if (e && tracer__why(t))
		snprintf(err, errlen, "the memtrace-bpf service refused a new run: it is %s "
			 "(memtrace-bpf daemon --user-groups)", tracer__why(t));
	else if (e)
		snprintf(err, errlen, "every trace group is held by processes of earlier runs "
			 "still alive (%d at most)", MT_MAX_GROUPS - 1);
	return e;
}

/* The marker fd's number in the command: the lowest from 3 up that the
 * command would not otherwise have open (ours are O_CLOEXEC, or free) and
 * the child does not need before exec. Low, so `>&$MEMTRACE_MARK_FD`
 * works even in shells that take single-digit fds only (dash). */
static int pick_mark_fd(const struct launch_fds *f)
{
	const int busy[] = { f->go[0], f->go[1], f->exec_err[0], f->exec_err[1], f->output_log,
			     f->null };

	for (int fd = 3; fd < 1024; fd++) {
		int fl = fcntl(fd, F_GETFD);
		bool taken = fl >= 0 && !(fl & FD_CLOEXEC);

		for (size_t i = 0; i < sizeof(busy) / sizeof(busy[0]) && !taken; i++)
			taken = busy[i] == fd;
		if (!taken)
			return fd;
	}
	return -1;
}

static void close_fds(struct launch_fds *f)
{
	int *all[] = { &f->go[0], &f->go[1], &f->exec_err[0], &f->exec_err[1], &f->output_log,
		       &f->null, &f->cap_wr[0], &f->cap_wr[1] };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (*all[i] >= 0)
			close(*all[i]);
		*all[i] = -1;
	}
}

/* Everything the child needs before fork. 0 or -errno, said in err. */
static int prepare(struct run *r, struct launch_fds *f, char *err, size_t errlen)
{
	const struct run_spec *s = &r->spec;
	int e;

	if (s->ckpt_regex) {
		e = logcap__open(&r->out, s->ckpt_regex, r->files[RUN_CKPT_LOG].fd, f->cap_wr,
				 !s->ckpt_keep_only, run__log_line, r);
		if (e) {
			snprintf(err, errlen, "cannot write the log %s: %s", s->ckpt_log, strerror(-e));
			return e;
		}
		r->out_on = true;
		/* the kernel times each write to the pipes (OUTPUT records) */
		r->out.kernel_timed = true;
	}
	if (s->output_log) {
		/* the command writes it from its start: in place now */
		int fd = r->files[RUN_OUTPUT_LOG].fd;

		e = out_file__publish(&r->files[RUN_OUTPUT_LOG], err, errlen);
		if (e)
			return e;
		f->output_log = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (f->output_log < 0 || fcntl(fd, F_SETFL, O_APPEND)) {
			e = -errno;
			snprintf(err, errlen, "cannot write the log %s: %s", s->output_log, strerror(-e));
			return e;
		}
	}
	if (pipe2(f->go, O_CLOEXEC) || pipe2(f->exec_err, O_CLOEXEC)) {
		e = -errno;
		snprintf(err, errlen, "cannot start %s: %s", s->cmd[0], strerror(-e));
		return e;
	}
	if (!s->no_mark_fd) {
		f->null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (f->null >= 0)
			r->mark_fd = pick_mark_fd(f);
		if (r->mark_fd < 0)
			fprintf(stderr, "memtrace-bpf: note: no marker fd for %s (%s); marks by fd are "
				"off for this run\n", s->cmd[0], f->null < 0 ? strerror(errno) : "no free fd");
	}
	return 0;
}

/* The child is forked and waits at the barrier: register it in the group,
 * its marks and output. 0 or -errno, said in err (the child is killed). */
static int register_child(struct run *r, char *err, size_t errlen)
{
	const struct run_spec *s = &r->spec;
	int e = tracer__expect_exec(r->tracer, r->child, r->group);

	if (e) {
		snprintf(err, errlen, "cannot register %s for tracing: %s", s->cmd[0],
			 tracer__why(r->tracer) ? tracer__why(r->tracer) : strerror(-e));
		kill(r->child, SIGKILL);
		waitpid(r->child, NULL, 0);
		r->child = 0;
		return e == -ENOENT ? -EIO : e;	/* not "command not found" */
	}
	/* MEMTRACE_MARK probes in the command's binary (mark.h), attached
	 * before it starts; a binary without them is the usual case */
	e = tracer__attach_marks(r->tracer, s->cmd[0]);
	if (e && e != -ENOENT)
		fprintf(stderr, "memtrace-bpf: note: cannot attach to the MEMTRACE_MARK probes of %s: "
			"%s; its USDT marks are not recorded (marks through $%s still are)\n",
			s->cmd[0], strerror(-e), MARK_FD_ENV);
	if ((r->mark_fd >= 0 || r->out_on) &&
	    (e = tracer__set_mark_fd(r->tracer, r->child, r->mark_fd, r->out_on))) {
		fprintf(stderr, "memtrace-bpf: note: cannot register the marker fd: %s; marks by fd "
			"are off for this run\n", strerror(-e));
		r->mark_fd = -1;
	}
	return 0;
}

/* Lets the child exec. 0 when it runs; -errno (its exec's) when it could
 * not, the run then ended with its status. */
static int release_child(struct run *r, struct launch_fds *f, char *err, size_t errlen)
{
	ssize_t n;
	int e = 0;

	/* it writes an errno back only if exec failed */
	if (write(f->go[1], "g", 1) != 1)
		e = errno;
	close(f->go[1]);
	f->go[1] = -1;
	do {
		n = read(f->exec_err[0], &e, sizeof(e));
	} while (n < 0 && errno == EINTR);
	if (n != sizeof(e))
		return 0;
	snprintf(err, errlen, "cannot run %s: %s", r->spec.cmd[0], strerror(e));
	if (r->files[RUN_OUTPUT_LOG].fd >= 0)
		dprintf(r->files[RUN_OUTPUT_LOG].fd, "memtrace-bpf: %s\n", err);	/* its log says why */
	waitpid(r->child, &r->status, 0);
	r->have_status = true;
	r->exec_failed = true;
	r->ended = true;
	r->end_ns = mono_ns();
	return -e;
}

int run__launch(struct run *r, struct tracer *t, const struct run_spec *s, char *err,
		size_t errlen)
{
	struct launch_fds f = { { -1, -1 }, { -1, -1 }, -1, -1, { -1, -1 } };
	uint32_t group;
	int e;

	e = take_group(t, &group, err, errlen);
	if (e)
		return e;
	e = run__init(r, t, s, group, mono_ns(), err, errlen);
	if (!e) {
		guard__arm(r, true);
		e = prepare(r, &f, err, errlen);
	}
	if (e)
		goto out;
	fflush(NULL);
	r->child = fork();
	if (r->child < 0) {
		e = -errno;
		r->child = 0;
		snprintf(err, errlen, "cannot start %s: %s", s->cmd[0], strerror(-e));
		goto out;
	}
	if (r->child == 0)
		child_main(&r->spec, &f, r->mark_fd);
	if (s->own_pgrp)
		setpgid(r->child, r->child);	/* before anyone signals -child */
	r->procs.pinned = r->child;	/* its entry stays for the end */
	/* the command holds the write ends: EOF comes when it is done; and
	 * the barrier's read end and the error's write end are its own */
	for (int i = 0; i < 2; i++) {
		if (f.cap_wr[i] >= 0)
			close(f.cap_wr[i]);
		f.cap_wr[i] = -1;
	}
	close(f.go[0]);
	close(f.exec_err[1]);
	f.go[0] = f.exec_err[1] = -1;
	e = register_child(r, err, errlen);
	if (!e)
		e = release_child(r, &f, err, errlen);
	if (!e && run__open_trace(r, err, errlen)) {
		/* nothing would be recorded: the command does not run untraced */
		kill(r->child, SIGKILL);
		waitpid(r->child, &r->status, 0);
		r->have_status = true;
		e = -EIO;
	}
out:
	close_fds(&f);
	return e;
}

int run__attach(struct run *r, struct tracer *t, const struct run_spec *s, char *err,
		size_t errlen)
{
	bool *no_mm = calloc((size_t)s->npids + 1, sizeof(*no_mm));
	uint32_t group;
	int e;

	if (!no_mm)
		return -ENOMEM;
	e = take_group(t, &group, err, errlen);
	if (e)
		goto out;
	e = run__init(r, t, s, group, mono_ns(), err, errlen);
	if (!e) {
		guard__arm(r, true);	/* before the snapshot: it may cross */
		e = tracer__attach_pids(t, s->pids, s->npids, group, no_mm);
	}
	if (e && tracer__why(t)) {
		/* the service's refusal: which PID, and why */
		snprintf(err, errlen, "cannot trace it: %s", tracer__why(t));
		goto out;
	}
	if (e) {
		snprintf(err, errlen, "cannot take the attach-time snapshot: %s", strerror(-e));
		goto out;
	}
	for (int i = 0; i < s->npids; i++) {
		if (no_mm[i]) {
			snprintf(err, errlen, "PID %d exited (or has no memory) before tracing started",
				 s->pids[i]);
			e = -ESRCH;
			goto out;
		}
	}
	e = run__open_trace(r, err, errlen);
out:
	free(no_mm);
	return e;
}

int run__expect(struct run *r, struct tracer *t, const struct run_spec *s, pid_t pid,
		char *err, size_t errlen)
{
	uint32_t group;
	int fd, e;

	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0) {
		e = -errno;
		snprintf(err, errlen, "PID %d: %s", pid, strerror(-e));
		return e;
	}
	e = take_group(t, &group, err, errlen);
	if (e) {
		close(fd);
		return e;
	}
	e = run__init(r, t, s, group, mono_ns(), err, errlen);
	if (e) {
		close(fd);
		return e;
	}
	r->expecting = true;
	r->expect_pidfd = fd;
	r->procs.pinned = pid;
	guard__arm(r, true);
	e = tracer__expect_exec(t, pid, group);
	if (e) {
		snprintf(err, errlen, "cannot register PID %d for tracing: %s", pid,
			 tracer__why(t) ? tracer__why(t) : strerror(-e));
		return e;
	}
	if (s->cmd && s->cmd[0] && (e = tracer__attach_marks(t, s->cmd[0])) && e != -ENOENT)
		fprintf(stderr, "memtrace-bpf: note: cannot attach to the MEMTRACE_MARK probes of %s: "
			"%s; its USDT marks are not recorded\n", s->cmd[0], strerror(-e));
	return run__open_trace(r, err, errlen);
}

int run__adopt(struct run *r, struct tracer *t, const struct run_spec *s, uint32_t group,
	       uint64_t start_ns, char *err, size_t errlen)
{
	/* the kernel took the group and zeroed it when it started it */
	int e = run__init(r, t, s, group, start_ns, err, errlen);

	if (!e)
		guard__arm(r, false);	/* capture_guard, set by the kernel */
	return e ? e : run__open_trace(r, err, errlen);
}

int run__empty(struct run *r, struct tracer *t, const struct run_spec *s, char *err,
	       size_t errlen)
{
	uint32_t group;
	int e = take_group(t, &group, err, errlen);

	if (!e)
		e = run__init(r, t, s, group, mono_ns(), err, errlen);
	if (e)
		return e;
	r->interrupted = true;
	r->ended = true;
	r->end_ns = r->start_ns;
	return run__open_trace(r, err, errlen);
}
