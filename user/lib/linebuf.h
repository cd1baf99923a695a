/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Output that is whole lines at every moment: lines are appended to a
 * memory buffer and written with write(2) only in whole lines, so a kill at
 * any instant leaves no half line behind.
 */
#ifndef MEMTRACE_LIB_LINEBUF_H
#define MEMTRACE_LIB_LINEBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct linebuf {
	int fd;
	bool owns_fd;
	char *buf;
	size_t len, cap;
	int err;		/* first write error (positive errno) */
	uint64_t lines;
};

/* "-" is stdout. Returns 0 or -errno. */
int linebuf__open(struct linebuf *lb, const char *path);
/* One or more whole lines. Returns 0 or -errno (the first write error). */
int linebuf__append(struct linebuf *lb, const char *line, size_t n);
int linebuf__flush(struct linebuf *lb);
int linebuf__close(struct linebuf *lb);

#endif
