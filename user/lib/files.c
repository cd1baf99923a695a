// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lib/files.h"
#include "lib/units.h"

bool sudo_ids(uid_t *uid, gid_t *gid)
{
	static bool said;
	const char *u = getenv("SUDO_UID"), *g = getenv("SUDO_GID");
	unsigned long uv, gv;

	if (getuid() != 0 || !u || !g)
		return false;
	if (parse_uint(u, 0xfffffffeUL, &uv) || parse_uint(g, 0xfffffffeUL, &gv)) {
		/* sudo sets both as numbers; anything else was set by hand */
		if (!said)
			fprintf(stderr, "memtrace-bpf: note: SUDO_UID=%.20s SUDO_GID=%.20s are not user "
				"and group ids; the command runs as root and the files stay root's "
				"(unset them, or run memtrace-bpf through sudo)\n", u, g);
		said = true;
		return false;
	}
	if (uv == 0)
		return false;
	*uid = (uid_t)uv;
	*gid = (gid_t)gv;
	return true;
}

int exec_path(const char *binary, char *out, size_t len)
{
	const char *path = getenv("PATH"), *p, *end;

	if (strchr(binary, '/')) {
		snprintf(out, len, "%s", binary);
		return 0;
	}
	for (p = path && *path ? path : "/usr/local/bin:/usr/bin:/bin"; *p; p = *end ? end + 1 : end) {
		struct stat st;

		end = strchrnul(p, ':');
		snprintf(out, len, "%.*s/%s", (int)(end - p), end == p ? "." : p, binary);
		if (!stat(out, &st) && S_ISREG(st.st_mode) && !access(out, X_OK))
			return 0;
	}
	return -ENOENT;
}

void give_fd_to_user(int fd, const char *what)
{
	uid_t uid;
	gid_t gid;

	if (sudo_ids(&uid, &gid) && fchown(fd, uid, gid))
		fprintf(stderr, "memtrace-bpf: note: cannot give %s to uid %u: %s\n", what, uid,
			strerror(errno));
}

/* What is at name in dirfd, as an output target: 0 (absent, or a regular
 * file), or -errno with msg. */
static int check_target(int dirfd, const char *name, const char *path, const char *what,
			char *msg, size_t len)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW)) {
		if (errno == ENOENT)
			return 0;
		snprintf(msg, len, "cannot write %s %s: %s", what, path, strerror(errno));
		return -errno;
	}
	if (S_ISREG(st.st_mode))
		return 0;
	if (S_ISDIR(st.st_mode)) {
		snprintf(msg, len, "%s path %s is a directory; name a file, e.g. %s/trace.csv",
			 what, path, path);
		return -EISDIR;
	}
	if (S_ISLNK(st.st_mode)) {
		snprintf(msg, len, "%s path %s is a symbolic link: memtrace-bpf runs as root and "
			 "never writes through a link; remove it, or give the path it points to",
			 what, path);
		return -ELOOP;
	}
	snprintf(msg, len, "%s path %s is not a regular file (a FIFO, socket or device): "
		 "memtrace-bpf writes its outputs as new files; give a file name%s", what, path,
		 !strcmp(what, "trace") ? " (or -o - for stdout)" : "");
	return -EINVAL;
}

int check_output_path(const char *path, const char *what, char *msg, size_t len)
{
	char buf[PATH_MAX], name[PATH_MAX];
	const char *dir;
	struct stat st;
	int e;

	if (!strcmp(path, "-"))
		return 0;
	if (!*path) {
		snprintf(msg, len, "the %s path is empty", what);
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", path);
	snprintf(name, sizeof(name), "%s", path);
	dir = dirname(buf);	/* may return a static "." rather than edit buf */
	e = check_target(AT_FDCWD, path, path, what, msg, len);
	if (e)
		return e;
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		snprintf(msg, len, "cannot write %s %s: directory %s does not exist. "
			 "Create it first (mkdir -p) or choose another path.",
			 what, path, dir);
		return -ENOENT;
	}
	if (access(dir, W_OK | X_OK)) {
		e = -errno;
		snprintf(msg, len, "cannot write %s %s: directory %s is not writable (%s)",
			 what, path, dir, strerror(-e));
		return e;
	}
	return 0;
}

int out_file__create(struct out_file *o, int dirfd, const char *path, const char *what,
		     char *msg, size_t len)
{
	char dbuf[PATH_MAX], nbuf[PATH_MAX];
	const char *name;
	int e;

	out_file__init(o);
	snprintf(nbuf, sizeof(nbuf), "%s", path);
	name = basename(nbuf);
	if (!*name || strlen(name) + 9 > NAME_MAX) {
		snprintf(msg, len, "%s path %s: not a file name memtrace-bpf can use", what, path);
		return -EINVAL;
	}
	snprintf(o->name, sizeof(o->name), "%s", name);
	if (dirfd == AT_FDCWD) {
		snprintf(dbuf, sizeof(dbuf), "%s", path);
		dirfd = open(dirname(dbuf), O_PATH | O_DIRECTORY | O_CLOEXEC);
	} else {
		dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	}
	if (dirfd < 0) {
		e = -errno;
		snprintf(msg, len, "cannot write %s %s: %s", what, path, strerror(-e));
		return e;
	}
	o->dirfd = dirfd;
	e = check_target(dirfd, o->name, path, what, msg, len);
	for (int tries = 0; !e && o->fd < 0 && tries < 100; tries++) {
		unsigned int rnd = 0;

		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
			rnd = (unsigned int)getpid() * 2654435761u + (unsigned int)tries;
		snprintf(o->tmp, sizeof(o->tmp), ".%.*s.%08x", NAME_MAX - 10, o->name, rnd);
		o->fd = openat(dirfd, o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			       0644);
		if (o->fd < 0 && errno != EEXIST) {
			e = -errno;
			snprintf(msg, len, "cannot write %s %s: %s", what, path, strerror(-e));
		}
	}
	if (!e && o->fd < 0) {
		e = -EEXIST;
		snprintf(msg, len, "cannot write %s %s: no free temporary name", what, path);
	}
	if (e) {
		o->tmp[0] = 0;
		out_file__close(o);
		return e;
	}
	give_fd_to_user(o->fd, path);
	return 0;
}

int out_file__publish(struct out_file *o, char *msg, size_t len)
{
	int e;

	if (o->published)
		return 0;
	if (!renameat(o->dirfd, o->tmp, o->dirfd, o->name)) {
		o->published = true;
		o->tmp[0] = 0;
		return 0;
	}
	e = -errno;
	if (e == -EPERM || e == -EACCES)
		snprintf(msg, len, "cannot replace %s: it belongs to another user in a sticky "
			 "directory (such as /tmp), or the directory does not let us (%s); give "
			 "another path", o->name, strerror(-e));
	else
		snprintf(msg, len, "cannot put %s in place: %s", o->name, strerror(-e));
	return e;
}

void out_file__close(struct out_file *o)
{
	if (o->dirfd >= 0 && !o->published && o->tmp[0])
		unlinkat(o->dirfd, o->tmp, 0);
	if (o->fd >= 0)
		close(o->fd);
	if (o->dirfd >= 0)
		close(o->dirfd);
	out_file__init(o);
}

int out_file__write_all(struct out_file *o, const char *data, size_t len)
{
	off_t at = 0;

	/* over what is there (space reserved for it stays its own), then cut
	 * to length */
	while (len) {
		ssize_t w = pwrite(o->fd, data, len, at);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		data += w;
		len -= (size_t)w;
		at += w;
	}
	return ftruncate(o->fd, at) || fsync(o->fd) ? -errno : 0;
}

FILE *out_file__stream(struct out_file *o)
{
	int fd = fcntl(o->fd, F_DUPFD_CLOEXEC, 3);
	FILE *f = fd >= 0 && lseek(fd, 0, SEEK_SET) == 0 ? fdopen(fd, "w") : NULL;

	if (!f && fd >= 0)
		close(fd);
	return f;
}

int out_file__stream_end(struct out_file *o, FILE *f)
{
	int e = fflush(f) || ferror(f) ? (errno ? -errno : -EIO) : 0;
	off_t len = ftello(f);

	if (fclose(f) && !e)
		e = -errno;
	if (!e && (len < 0 || ftruncate(o->fd, len) || fsync(o->fd)))
		e = -errno;
	return e;
}

int out_file__reserve(struct out_file *o, off_t len)
{
	/* fallocate, not posix_fallocate: where the filesystem cannot, glibc
	 * would write zeros, which is no reservation worth its time */
	return fallocate(o->fd, 0, 0, len) ? -errno : 0;
}

int write_file_at(int dirfd, const char *path, const char *data, size_t len)
{
	struct out_file o;
	char msg[512];
	int e = out_file__create(&o, dirfd, path, "file", msg, sizeof(msg));

	if (!e)
		e = out_file__write_all(&o, data, len);
	if (!e)
		e = out_file__publish(&o, msg, sizeof(msg));
	out_file__close(&o);
	return e;
}

int write_file(const char *path, const char *data, size_t len)
{
	return write_file_at(AT_FDCWD, path, data, len);
}

/* One component of dir_open: name in at, made when absent. */
static int dir_step(int at, const char *name, bool create, bool last)
{
	int fd;

	if (create && !mkdirat(at, name, 0755)) {
		fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			give_fd_to_user(fd, name);	/* made for the sudo user */
		return fd < 0 ? -errno : fd;
	}
	if (create && errno != EEXIST)
		return -errno;
	/* parents as the user named them; the last one must be a directory,
	 * not a link planted in its place */
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (last ? O_NOFOLLOW : 0));
	return fd < 0 ? -errno : fd;
}

int dir_open(int at, const char *path, bool create, char *msg, size_t len)
{
	char buf[PATH_MAX], *p, *next;
	int fd, e;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		snprintf(msg, len, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	if (buf[0] == '/')
		fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	else if (at == AT_FDCWD)
		fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	else
		fd = fcntl(at, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		e = -errno;
		snprintf(msg, len, "cannot open %s: %s", path, strerror(-e));
		return e;
	}
	for (p = buf; *p; p = next) {
		int sub;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		next = strchrnul(p, '/');
		if (*next)
			*next++ = 0;
		while (*next == '/')
			next++;
		sub = dir_step(fd, p, create, !*next);
		close(fd);
		if (sub < 0) {
			if (sub == -ELOOP || sub == -ENOTDIR)
				snprintf(msg, len, "%s: %s is not a directory (a link or a file is in "
					 "its place); give another directory", path, p);
			else
				snprintf(msg, len, "cannot %s %s: %s", create ? "create" : "open", path,
					 strerror(-sub));
			return sub;
		}
		fd = sub;
	}
	return fd;
}

char *path_join(char *buf, size_t len, const char *a, const char *b)
{
	size_t n = strlen(a);

	if ((size_t)snprintf(buf, len, "%s%s%s", a, n && a[n - 1] == '/' ? "" : "/", b) >= len)
		buf[0] = 0;	/* too long: an empty path fails its open() */
	return buf;
}
