// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "lib/linebuf.h"

int linebuf__init(struct linebuf *lb, int fd, bool owns_fd)
{
	memset(lb, 0, sizeof(*lb));
	lb->fd = fd;
	lb->owns_fd = owns_fd;
	lb->cap = 1 << 20;
	lb->buf = malloc(lb->cap);
	return lb->buf ? 0 : -ENOMEM;
}

/* The first n bytes of the buffer are in the file, all whole lines: the
 * counts, and the start of the last of them. */
static void written(struct linebuf *lb, size_t n, size_t lines)
{
	const char *end = lb->buf + n, *start;

	if (!n)
		return;
	start = memrchr(lb->buf, '\n', n - 1);
	start = start ? start + 1 : lb->buf;
	snprintf(lb->last, sizeof(lb->last), "%.*s", (int)(end - start - 1), start);
	lb->written += n;
	lb->lines_written += lines;
}

/* A write failed after done bytes of the buffer went out: the file keeps
 * the whole lines among them, the rest of a line is cut off. */
static void cut_to_line(struct linebuf *lb, size_t done)
{
	size_t keep = done, lines = 0;

	while (keep > 0 && lb->buf[keep - 1] != '\n')
		keep--;
	if (keep < done && lb->owns_fd && ftruncate(lb->fd, (off_t)(lb->written + keep))) {
		/* a file we cannot cut keeps its partial line: said by
		 * the caller as the write error it already is */
	}
	for (size_t i = 0; i < keep; i++)
		lines += lb->buf[i] == '\n';
	written(lb, keep, lines);
}

int linebuf__compress(struct linebuf *lb, enum zformat f)
{
	struct timespec ts;

	if (f == ZF_PLAIN)
		return 0;
	if (lb->lines || lb->z)
		return -EINVAL;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	lb->frame_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	return zenc__new(&lb->z, f);
}

/* The compressor's output: all of it to the file, or -errno. */
static int sink(void *ctx, const void *p, size_t n)
{
	struct linebuf *lb = ctx;
	size_t off = 0;

	while (off < n) {
		ssize_t w = write(lb->fd, (const char *)p + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		off += (size_t)w;
		lb->z_bytes += (size_t)w;
	}
	return 0;
}

/* The lines buffered to the compressor; the frame ended when a second has
 * passed since the last one ended, when it holds LINEBUF_FRAME_IN bytes of
 * lines, or at the end. The file's last whole frame is
 * what counts as written (and what an error cuts it back to). */
static int flush_compressed(struct linebuf *lb, bool end)
{
	struct timespec ts;
	uint64_t now;
	int e = 0;

	if (lb->len) {
		const char *start = lb->len > 1 ? memrchr(lb->buf, '\n', lb->len - 1) : NULL;

		start = start ? start + 1 : lb->buf;
		e = zenc__write(lb->z, lb->buf, lb->len, false, sink, lb);
		snprintf(lb->z_last, sizeof(lb->z_last), "%.*s",
			 (int)(lb->buf + lb->len - start - 1), start);
		lb->z_lines += lb->lines_in_buf;
		lb->frame_in += lb->len;
	}
	lb->len = 0;
	lb->lines_in_buf = 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	if (!e && lb->z_lines > lb->lines_written &&
	    (end || now - lb->frame_ns >= 1000000000ull || lb->frame_in >= LINEBUF_FRAME_IN)) {
		e = zenc__write(lb->z, NULL, 0, true, sink, lb);
		if (!e) {
			lb->lines_written = lb->z_lines;
			lb->written = lb->z_bytes;
			memcpy(lb->last, lb->z_last, sizeof(lb->last));
			lb->frame_ns = now;
			lb->frame_in = 0;
		}
	}
	if (e) {
		lb->err = -e;
		if (lb->owns_fd && ftruncate(lb->fd, (off_t)lb->written)) {
			/* a file we cannot cut keeps a partial frame: the
			 * reader takes its whole rows and warns */
		}
	}
	return e;
}

int linebuf__flush(struct linebuf *lb)
{
	size_t off = 0;

	if (lb->err)
		return -lb->err;
	if (lb->z)
		return flush_compressed(lb, false);

	while (off < lb->len && !lb->err) {
		ssize_t w = write(lb->fd, lb->buf + off, lb->len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			lb->err = w < 0 ? errno : EIO;
			cut_to_line(lb, off);
			break;
		}
		off += (size_t)w;
	}
	if (!lb->err)
		written(lb, off, lb->lines_in_buf);
	lb->lines_in_buf = 0;
	lb->len = 0;
	return lb->err ? -lb->err : 0;
}

int linebuf__append(struct linebuf *lb, const char *line, size_t n)
{
	if (lb->err)
		return -lb->err;
	if (lb->len + n > lb->cap && linebuf__flush(lb))
		return -lb->err;
	if (n > lb->cap)
		return -E2BIG;
	memcpy(lb->buf + lb->len, line, n);
	lb->len += n;
	lb->lines++;
	lb->lines_in_buf++;
	return 0;
}

int linebuf__close(struct linebuf *lb)
{
	int err;

	if (!lb->buf)
		return 0;
	err = lb->err ? -lb->err : lb->z ? flush_compressed(lb, true) : linebuf__flush(lb);
	zenc__free(lb->z);
	lb->z = NULL;
	if (lb->owns_fd && close(lb->fd) && !err)
		err = -errno;
	free(lb->buf);
	lb->buf = NULL;
	return err;
}
