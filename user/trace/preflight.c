// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdio.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "trace/preflight.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif
#define PF_KTHREAD 0x00200000

static int has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return (d[cap / 32].effective >> (cap % 32)) & 1;
}

int check_privileges(char *msg, size_t len)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};
	char missing[64] = "";

	if (syscall(SYS_capget, &h, d)) {
		snprintf(msg, len, "cannot read this process's capabilities: %s", strerror(errno));
		return -1;
	}
	/* CAP_SYS_ADMIN covers both on kernels before 5.8, and still works */
	if (has_cap(d, CAP_SYS_ADMIN) || (has_cap(d, CAP_BPF) && has_cap(d, CAP_PERFMON)))
		return 0;
	if (!has_cap(d, CAP_BPF))
		strcat(missing, "CAP_BPF");
	if (!has_cap(d, CAP_PERFMON))
		strcat(strcat(missing, missing[0] ? " and " : ""), "CAP_PERFMON");
	if (geteuid() != 0)
		snprintf(msg, len,
			 "must run as root: memtrace-bpf loads BPF programs into the kernel "
			 "(needs %s). Run it with sudo.", missing);
	else
		snprintf(msg, len,
			 "running as root but without %s (the capability was dropped): "
			 "it needs CAP_BPF and CAP_PERFMON to load and read its kernel programs. "
			 "Run it outside the restricted environment, or grant the capability.",
			 missing);
	return -1;
}

int check_btf(const char *path, char *msg, size_t len)
{
	const char *p = path ? path : "/sys/kernel/btf/vmlinux";

	if (access(p, R_OK) == 0)
		return 0;
	if (path)
		snprintf(msg, len, "cannot read the BTF file given with --btf (%s): %s",
			 p, strerror(errno));
	else
		snprintf(msg, len,
			 "no kernel BTF at %s (%s): this kernel was built without "
			 "CONFIG_DEBUG_INFO_BTF. Pass --btf FILE with the BTF of this exact kernel.",
			 p, strerror(errno));
	return -1;
}

/* A process whose main thread exited (pthread_exit) shows a zombie leader
 * while other threads still run: alive if any thread is not a zombie. */
static bool any_live_thread(pid_t pid)
{
	char path[64], buf[512], *p;
	struct dirent *d;
	bool live = false;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return false;
	while (!live && (d = readdir(dir))) {
		int fd;
		ssize_t n;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.20s/stat", pid, d->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = 0;
		p = strrchr(buf, ')');
		live = p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
	}
	closedir(dir);
	return live;
}

int check_target(pid_t pid, pid_t *tgid, char *msg, size_t len)
{
	char path[64], buf[4096], comm[64] = "?";
	unsigned long flags = 0;
	char *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(msg, len, "no process with PID %d. Check the PID with ps or pgrep.", pid);
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		snprintf(msg, len, "cannot read %s", path);
		return -1;
	}
	buf[n] = 0;
	/* pid (comm) state ppid pgrp session tty tpgid flags ... ; comm may
	 * hold spaces and parentheses, so parse from the last ')' */
	p = strrchr(buf, ')');
	if (p) {
		char *open_paren = strchr(buf, '(');
		int i;

		if (open_paren && p - open_paren - 1 < (long)sizeof(comm)) {
			memcpy(comm, open_paren + 1, (size_t)(p - open_paren - 1));
			comm[p - open_paren - 1] = 0;
		}
		p += 2;
		for (i = 0; i < 6 && p; i++) {
			p = strchr(p, ' ');
			if (p)
				p++;
		}
		if (p)
			flags = strtoul(p, NULL, 10);
		if (buf[0] && p && *(strrchr(buf, ')') + 2) == 'Z' && !any_live_thread(pid)) {
			snprintf(msg, len, "PID %d (%s) has already exited (zombie): nothing to trace.",
				 pid, comm);
			return -1;
		}
	}
	if (flags & PF_KTHREAD) {
		snprintf(msg, len,
			 "PID %d (%s) is a kernel thread: it has no user memory to trace. "
			 "Pick a user process (ps -o pid,comm -p PID).", pid, comm);
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	*tgid = pid;
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = 0;
			p = strstr(buf, "\nTgid:");
			if (p)
				*tgid = (pid_t)strtol(p + 6, NULL, 10);
		}
	}
	return 0;
}

int check_output_path(const char *path, const char *what, char *msg, size_t len)
{
	char buf[PATH_MAX];
	const char *dir;
	struct stat st;

	if (!strcmp(path, "-"))
		return 0;
	if (!*path) {
		snprintf(msg, len, "the %s path is empty", what);
		return -1;
	}
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			snprintf(msg, len, "%s path %s is a directory; name a file, e.g. %s/trace.csv",
				 what, path, path);
			return -1;
		}
		if (access(path, W_OK)) {
			snprintf(msg, len, "cannot write %s %s: %s", what, path, strerror(errno));
			return -1;
		}
		return 0;
	}
	snprintf(buf, sizeof(buf), "%s", path);
	dir = dirname(buf);	/* may return a static "." rather than edit buf */
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		snprintf(msg, len, "cannot write %s %s: directory %s does not exist. "
			 "Create it first (mkdir -p) or choose another path.",
			 what, path, dir);
		return -1;
	}
	if (access(dir, W_OK | X_OK)) {
		snprintf(msg, len, "cannot write %s %s: directory %s is not writable (%s)",
			 what, path, dir, strerror(errno));
		return -1;
	}
	return 0;
}

int check_command(const char *cmd, char *msg, size_t len)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];
	struct stat st;

	if (strchr(cmd, '/')) {
		if (stat(cmd, &st)) {
			snprintf(msg, len, "cannot run %s: %s", cmd, strerror(errno));
			return -ENOENT;
		}
		if (S_ISDIR(st.st_mode) || access(cmd, X_OK)) {
			snprintf(msg, len, "cannot run %s: not an executable file (chmod +x?)", cmd);
			return -EACCES;
		}
		return 0;
	}
	for (const char *p = path ? path : "/usr/local/bin:/usr/bin:/bin"; p && *p;) {
		const char *end = strchr(p, ':');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, n ? p : ".", cmd);
		if (stat(buf, &st) == 0 && !S_ISDIR(st.st_mode) && access(buf, X_OK) == 0)
			return 0;
		p = end ? end + 1 : NULL;
	}
	snprintf(msg, len, "command not found: %s (not in PATH; give a path like ./%s)", cmd, cmd);
	return -ENOENT;
}
