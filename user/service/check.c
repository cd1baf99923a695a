// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "service/check.h"

#define PF_KTHREAD 0x00200000
#define AT_SECURE_TAG 23

/* A file of the process's /proc directory, whole (at most len - 1 bytes):
 * its length, or -errno. */
static ssize_t read_at(int dfd, const char *name, char *buf, size_t len)
{
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	size_t n = 0;
	ssize_t got;

	if (fd < 0)
		return -errno;
	while (n + 1 < len && (got = read(fd, buf + n, len - 1 - n)) != 0) {
		if (got < 0) {
			if (errno == EINTR)
				continue;
			got = -errno;
			close(fd);
			return got;
		}
		n += (size_t)got;
	}
	close(fd);
	buf[n] = 0;
	return (ssize_t)n;
}

/* status: Uid:, Gid:, PPid:, CapPrm:, State:. */
static int parse_status(const char *s, struct svc_facts *f)
{
	const char *p;
	unsigned long long cap;
	char state = 0;
	int have = 0;

	if ((p = strstr(s, "\nUid:")) &&
	    sscanf(p + 5, "%u %u %u %u", &f->uid[0], &f->uid[1], &f->uid[2], &f->uid[3]) == 4)
		have++;
	if ((p = strstr(s, "\nGid:")) &&
	    sscanf(p + 5, "%u %u %u %u", &f->gid[0], &f->gid[1], &f->gid[2], &f->gid[3]) == 4)
		have++;
	if ((p = strstr(s, "\nPPid:")) && sscanf(p + 6, "%d", &f->ppid) == 1)
		have++;
	if ((p = strstr(s, "\nCapPrm:")) && sscanf(p + 8, "%llx", &cap) == 1) {
		f->cap_prm = cap;
		have++;
	}
	if ((p = strstr(s, "\nState:")) && sscanf(p + 7, " %c", &state) == 1) {
		int threads = 1;

		/* a leader that ended with pthread_exit shows Z while its
		 * other threads run on: the process lives */
		if ((p = strstr(s, "\nThreads:")))
			sscanf(p + 9, "%d", &threads);
		f->leader_exited = state == 'Z' || state == 'X';
		f->zombie = f->leader_exited && threads <= 1;
		have++;
	}
	return have == 5 ? 0 : -EINVAL;
}

/* stat's 9th field, after the name in parentheses (which may hold any
 * byte, ')' too: the last one ends it). */
static int parse_flags(const char *s, unsigned long *flags)
{
	const char *p = strrchr(s, ')');
	char state;
	int ppid, pgrp, session, tty, tpgid;

	if (!p || sscanf(p + 1, " %c %d %d %d %d %d %lu", &state, &ppid, &pgrp, &session, &tty,
			 &tpgid, flags) != 7)
		return -EINVAL;
	return 0;
}

/* auxv: pairs of longs; AT_SECURE's value (a kernel thread's is empty). */
static int parse_secure(int dfd, bool *secure)
{
	uint64_t v[2 * 64];
	ssize_t n = read_at(dfd, "auxv", (char *)v, sizeof(v));

	*secure = false;
	if (n < 0)
		return (int)n;
	for (size_t i = 0; i + 1 < (size_t)n / sizeof(v[0]); i += 2) {
		if (v[i] == 0)
			break;
		if (v[i] == AT_SECURE_TAG)
			*secure = v[i + 1] != 0;
	}
	return 0;
}

void (*svc_facts_pause)(pid_t pid);

/* The directory of a thread of the process (at dfd, /proc/PID) other than
 * its leader, or -1. */
static int live_thread(int dfd, pid_t pid)
{
	int tfd = openat(dfd, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd = -1;
	DIR *d = tfd >= 0 ? fdopendir(tfd) : NULL;
	struct dirent *de;

	if (!d) {
		if (tfd >= 0)
			close(tfd);
		return -1;
	}
	while (fd < 0 && (de = readdir(d))) {
		char *end;
		long tid = strtol(de->d_name, &end, 10);

		if (*end || tid <= 0 || tid == pid)
			continue;
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	closedir(d);
	return fd;
}

int svc_facts(pid_t pid, struct svc_facts *f)
{
	char path[32], buf[4096];
	unsigned long flags = 0;
	struct stat st;
	int pidfd, dfd, tdfd, e = 0;

	memset(f, 0, sizeof(*f));
	f->pid = pid;
	if (pid <= 0)
		return -ESRCH;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return -errno;
	if (svc_facts_pause)
		svc_facts_pause(pid);
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		e = -errno;
		goto out;
	}
	if (read_at(dfd, "status", buf, sizeof(buf)) < 0 || parse_status(buf, f) ||
	    read_at(dfd, "stat", buf, sizeof(buf)) < 0 || parse_flags(buf, &flags)) {
		e = -ESRCH;
		goto out;
	}
	/* a leader that ended (pthread_exit in main) has no address space of
	 * its own any more, and procfs gives its files to root: a live
	 * thread's files say what the process is */
	if (f->leader_exited && !f->zombie && (tdfd = live_thread(dfd, pid)) >= 0) {
		close(dfd);
		dfd = tdfd;
	}
	/* a file's owner, not the directory's: the directory's inode keeps
	 * the owner it had when first looked up (a PR_SET_DUMPABLE 0 later
	 * shows on the files, not on it) */
	if (fstatat(dfd, "status", &st, 0)) {
		e = -errno;
		goto out;
	}
	f->dir_uid = st.st_uid;
	f->kthread = flags & PF_KTHREAD;
	/* an auxv that cannot be read cannot show the start was not set-id:
	 * taken as set-id (refused) */
	if (!f->kthread && !f->zombie && parse_secure(dfd, &f->secure))
		f->secure = true;
	/* the process the pidfd holds still exists: the directory was its */
	if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0))
		e = errno == ESRCH ? -ESRCH : -errno;
out:
	if (dfd >= 0)
		close(dfd);
	close(pidfd);
	return e == -ENOENT ? -ESRCH : e;
}

/* The rules of a ptrace attach; dumpable: that one too (a task root
 * vouches for is not dumpable until its exec). */
static enum svc_why trace_rules(const struct svc_facts *f, const struct svc_peer *who,
				bool dumpable)
{
	if (f->pid == 1)
		return SVC_INIT;
	if (f->kthread)
		return SVC_KTHREAD;
	if (f->zombie)
		return SVC_GONE;
	for (int i = 0; i < 4; i++)
		if (f->uid[i] != who->uid)
			return SVC_UID;
	for (int i = 0; i < 4; i++)
		if (f->gid[i] != who->gid)
			return SVC_GID;
	if (dumpable && f->dir_uid != who->uid)
		return SVC_DUMPABLE;
	if (f->secure)
		return SVC_SECURE;
	if (f->cap_prm & ~who->cap_prm)
		return SVC_CAPS;
	return SVC_OK;
}

enum svc_why svc_may_trace(const struct svc_facts *f, const struct svc_peer *who)
{
	return trace_rules(f, who, true);
}

enum svc_why svc_may_launch(const struct svc_facts *f, const struct svc_peer *who)
{
	enum svc_why w = svc_may_trace(f, who);

	if (w == SVC_OK && f->ppid != who->pid)
		return SVC_NOT_CHILD;
	return w;
}

enum svc_why svc_may_launch_vouched(const struct svc_facts *f, const struct svc_facts *parent,
				    const struct svc_peer *who)
{
	/* a task switched to the user by root is not dumpable until its
	 * exec (the kernel's rule for a credentials change): the one rule
	 * left out, the kernel applies it to the program it execs */
	enum svc_why w = trace_rules(f, who, false);

	if (w == SVC_OK && (parent->pid != f->ppid || parent->uid[0] != 0 || parent->zombie))
		return SVC_NOT_VOUCHED;
	return w;
}

const char *svc_why_text(enum svc_why w)
{
	switch (w) {
	case SVC_OK:		return "yours to trace";
	case SVC_GONE:		return "gone (it exited, or is a zombie)";
	case SVC_INIT:		return "init: root only";
	case SVC_KTHREAD:	return "a kernel thread: no user memory to trace";
	case SVC_UID:		return "not yours: its user ids are not all yours";
	case SVC_GID:		return "not yours: its group ids are not all yours";
	case SVC_DUMPABLE:	return "not dumpable (set-id, PR_SET_DUMPABLE 0 or an unreadable "
				       "binary): root only";
	case SVC_SECURE:	return "started set-id or with file capabilities: root only";
	case SVC_CAPS:		return "holding capabilities you do not have: root only";
	case SVC_NOT_CHILD:	return "not a child of yours";
	case SVC_BUSY:		return "already traced (by another run of yours or another user's)";
	case SVC_KERNEL:	return "refused by the kernel (its ids changed while it was checked)";
	case SVC_NOT_YOURS:	return "in a trace group you do not hold";
	case SVC_LIMIT:		return "over the daemon's per-user limit";
	case SVC_ORDER:		return "asked for out of order";
	case SVC_ROOT:		return "root only";
	case SVC_NOT_VOUCHED:	return "not a child of yours, nor handed to you by root";
	default:		return "refused";
	}
}
