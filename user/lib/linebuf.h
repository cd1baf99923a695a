/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Output that is whole lines at every moment: lines are appended to a
 * memory buffer and written with write(2) only in whole lines. A kill at
 * any instant leaves no half line behind, and neither does a write that
 * fails part way (a full disk): the file is cut back to its last whole line
 * and nothing more is written to it. Compressed, the same holds a frame at
 * a time (see struct linebuf).
 */
#ifndef MEMTRACE_LIB_LINEBUF_H
#define MEMTRACE_LIB_LINEBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/zstream.h"

struct linebuf {
	int fd;
	bool owns_fd;		/* a file of ours: closed at the end, and cut
				   back to its last whole line on an error */
	char *buf;
	size_t len, cap;
	int err;		/* first write error (positive errno) */
	uint64_t lines;		/* appended */
	uint64_t lines_written;	/* in the file (all of them but after an error) */
	size_t lines_in_buf;
	uint64_t written;	/* bytes in the file: whole lines only */
	char last[64];		/* the start of the last line in the file */
	/* Compressed (linebuf__compress): lines go to the compressor, whose
	 * frames go to the file; a frame ends at least once a second, and
	 * once LINEBUF_FRAME_IN bytes of lines are in it (a full disk then
	 * loses at most that much, however fast the rows come). Lines
	 * count as written when their frame has ended; on an error the file
	 * is cut back to its last whole frame. */
	struct zenc *z;
	uint64_t z_bytes;	/* compressed bytes written */
	uint64_t z_lines;	/* lines given to the compressor */
	uint64_t frame_ns;	/* CLOCK_MONOTONIC of the last frame's end */
	size_t frame_in;	/* bytes of lines in the frame being made */
	char z_last[64];	/* the start of the last line given to it */
};

/* 4 MiB of CSV, ~30,000 rows: ~0.6 MB of zstd -1 */
#define LINEBUF_FRAME_IN (4u << 20)

/* Writes to fd (from its start, when owns_fd). 0 or -ENOMEM. */
int linebuf__init(struct linebuf *lb, int fd, bool owns_fd);
/* Compressed as f from now on (before the first line; ZF_PLAIN: as is).
 * 0, -ENOMEM, -EINVAL. */
int linebuf__compress(struct linebuf *lb, enum zformat f);
/* One or more whole lines. Returns 0 or -errno (the first write error). */
int linebuf__append(struct linebuf *lb, const char *line, size_t n);
int linebuf__flush(struct linebuf *lb);
int linebuf__close(struct linebuf *lb);

#endif
