// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lib/files.h"
#include "lib/units.h"

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

void give_to_user(const char *path)
{
	uid_t uid;
	gid_t gid;

	if (sudo_ids(&uid, &gid) && chown(path, uid, gid) && errno != ENOENT)
		fprintf(stderr, "memtrace-bpf: note: cannot give %s to uid %u: %s\n", path, uid,
			strerror(errno));
}

int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] == '/' || !buf[i]) {
			char c = buf[i];

			buf[i] = 0;
			if (!mkdir(buf, 0755))
				give_to_user(buf);	/* made for the sudo user */
			else if (errno != EEXIST)
				return -errno;
			buf[i] = c;
		}
	}
	return 0;
}

int write_file(const char *path, const char *data, size_t len)
{
	char tmp[PATH_MAX + 32];
	int fd, e = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (len) {
		ssize_t w = write(fd, data, len);

		if (w < 0) {
			e = -errno;
			break;
		}
		data += w;
		len -= (size_t)w;
	}
	if (!e && fsync(fd))
		e = -errno;
	close(fd);
	if (!e && rename(tmp, path))
		e = -errno;
	if (e)
		unlink(tmp);
	else
		give_to_user(path);
	return e;
}

char *path_join(char *buf, size_t len, const char *a, const char *b)
{
	size_t n = strlen(a);

	if ((size_t)snprintf(buf, len, "%s%s%s", a, n && a[n - 1] == '/' ? "" : "/", b) >= len)
		buf[0] = 0;	/* too long: an empty path fails its open() */
	return buf;
}
