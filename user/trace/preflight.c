// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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
#include <sys/statfs.h>
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
		return -EIO;
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
	return -EPERM;
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
	return -EACCES;
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
		return -ESRCH;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		snprintf(msg, len, "cannot read %s", path);
		return -EIO;
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
			return -ESRCH;
		}
	}
	if (flags & PF_KTHREAD) {
		snprintf(msg, len,
			 "PID %d (%s) is a kernel thread: it has no user memory to trace. "
			 "Pick a user process (ps -o pid,comm -p PID).", pid, comm);
		return -EINVAL;
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

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* The unified (v2) hierarchy's mount point: /sys/fs/cgroup on most
 * machines, /sys/fs/cgroup/unified on hybrid ones. */
static int cgroup2_mount(char *mnt, size_t len)
{
	char line[4096], mp[PATH_MAX];
	FILE *mi = fopen("/proc/self/mountinfo", "r");

	mnt[0] = 0;
	while (mi && fgets(line, sizeof(line), mi)) {
		if (strstr(line, " - cgroup2 ") && sscanf(line, "%*d %*d %*s %*s %4095s", mp) == 1) {
			snprintf(mnt, len, "%s", mp);
			break;
		}
	}
	if (mi)
		fclose(mi);
	return mnt[0] ? 0 : -1;
}

int check_cgroup(const char *arg, uint64_t *id, uint32_t *level, char *msg, size_t len)
{
	char path[PATH_MAX], real[PATH_MAX], mnt[PATH_MAX];
	struct { struct file_handle fh; uint64_t id; } h;
	struct statfs sf;
	int mount_id;
	uint32_t lv = 0;
	size_t ml;

	if (cgroup2_mount(mnt, sizeof(mnt))) {
		snprintf(msg, len, "--cgroup %s: this machine has no cgroup v2 hierarchy mounted "
			 "(mount -t cgroup2 none /sys/fs/cgroup/unified); --comm works without it", arg);
		return -ENOENT;
	}
	/* relative paths are under the unified hierarchy */
	if ((size_t)snprintf(path, sizeof(path), "%s%s%s", arg[0] == '/' ? "" : mnt,
			     arg[0] == '/' ? "" : "/", arg) >= sizeof(path) || !realpath(path, real)) {
		snprintf(msg, len, "--cgroup %s: %s: %s (give a cgroup v2 directory, absolute or "
			 "relative to %s)", arg, path, strerror(errno ? errno : ENAMETOOLONG), mnt);
		return -ENOENT;
	}
	ml = strlen(mnt);
	if (statfs(real, &sf) || sf.f_type != CGROUP2_SUPER_MAGIC || strncmp(real, mnt, ml) ||
	    (real[ml] && real[ml] != '/')) {
		snprintf(msg, len, "--cgroup %s: %s is not a cgroup v2 directory; give one under %s",
			 arg, real, mnt);
		return -ENOTDIR;
	}
	/* the cgroup id is the kernfs file handle of its directory */
	h.fh.handle_bytes = sizeof(h.id);
	if (name_to_handle_at(AT_FDCWD, real, &h.fh, &mount_id, 0) || h.fh.handle_bytes != 8) {
		snprintf(msg, len, "--cgroup %s: cannot read its cgroup id: %s", arg, strerror(errno));
		return -EIO;
	}
	memcpy(id, h.fh.f_handle, sizeof(*id));
	/* its level: components below the mount point (the root is 0) */
	for (const char *p = real + ml; *p; p++)
		if (*p == '/' && p[1])
			lv++;
	*level = lv;
	return 0;
}

int proc_memory(pid_t pid, bool anon, uint64_t *kb, char *comm, size_t commlen)
{
	char path[64], line[256];
	uint64_t rss = 0, a = 0, sh = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (comm && commlen)
		comm[0] = 0;
	/* the exact sums on 6.16+ (kernel notes) */
	while (fgets(line, sizeof(line), f)) {
		if (comm && !strncmp(line, "Name:\t", 6))
			snprintf(comm, commlen, "%.*s", (int)strcspn(line + 6, "\n"), line + 6);
		sscanf(line, "VmRSS: %" SCNu64, &rss);
		sscanf(line, "RssAnon: %" SCNu64, &a);
		sscanf(line, "RssShmem: %" SCNu64, &sh);
	}
	fclose(f);
	*kb = anon ? a + sh : rss;
	return 0;
}
