// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/proctree.h"

/* The parent of pid, from /proc/PID/stat ("pid (comm) state ppid ...",
 * comm may hold spaces and parentheses: the last ')' ends it). -1: gone. */
static pid_t parent_of(const char *pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;
	int ppid;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return -1;
	return (pid_t)ppid;
}

static bool known(const pid_t *pids, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

int proctree_add_descendants(pid_t *pids, size_t *n, size_t max)
{
	size_t before = *n;
	bool grew = true;

	/* a child listed before its parent joins on the next pass */
	while (grew && *n < max) {
		struct dirent *d;
		DIR *dir = opendir("/proc");

		if (!dir)
			return -errno;
		grew = false;
		while ((d = readdir(dir)) && *n < max) {
			pid_t pid, ppid;

			if (!isdigit((unsigned char)d->d_name[0]))
				continue;
			pid = (pid_t)atoi(d->d_name);
			if (known(pids, *n, pid))
				continue;
			ppid = parent_of(d->d_name);
			if (ppid > 0 && known(pids, *n, ppid)) {
				pids[(*n)++] = pid;
				grew = true;
			}
		}
		closedir(dir);
	}
	return (int)(*n - before);
}
