// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/linebuf.h"

int linebuf__open(struct linebuf *lb, const char *path)
{
	memset(lb, 0, sizeof(*lb));
	if (!strcmp(path, "-")) {
		lb->fd = STDOUT_FILENO;
	} else {
		lb->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (lb->fd < 0)
			return -errno;
		lb->owns_fd = true;
	}
	lb->cap = 1 << 20;
	lb->buf = malloc(lb->cap);
	if (!lb->buf) {
		if (lb->owns_fd)
			close(lb->fd);
		return -ENOMEM;
	}
	return 0;
}

int linebuf__flush(struct linebuf *lb)
{
	size_t off = 0;

	while (off < lb->len && !lb->err) {
		ssize_t w = write(lb->fd, lb->buf + off, lb->len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			lb->err = w < 0 ? errno : EIO;
			break;
		}
		off += (size_t)w;
	}
	lb->len = 0;
	return lb->err ? -lb->err : 0;
}

int linebuf__append(struct linebuf *lb, const char *line, size_t n)
{
	if (lb->len + n > lb->cap && linebuf__flush(lb))
		return -lb->err;
	if (n > lb->cap)
		return -E2BIG;
	memcpy(lb->buf + lb->len, line, n);
	lb->len += n;
	lb->lines++;
	return 0;
}

int linebuf__close(struct linebuf *lb)
{
	int err;

	if (!lb->buf)
		return 0;
	err = linebuf__flush(lb);
	if (lb->owns_fd && close(lb->fd) && !err)
		err = -errno;
	free(lb->buf);
	lb->buf = NULL;
	return err;
}
