/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Compressed traces: zstd (libzstd) and gzip (zlib) streams.
 *
 * Written a frame at a time (a gzip member is a frame here): the writer
 * ends one when asked, and linebuf asks at least once a second, so a run
 * killed at any instant leaves a file whose complete frames hold all but
 * its last second. zstd compresses in a worker thread of its own
 * (ZSTD_c_nbWorkers), off the loop that drains the ring.
 *
 * Read back through a thread that decompresses ahead of the reader (the
 * parse of a row costs about twice its decompression: on 2 CPUs the two
 * overlap). Concatenated frames and members are one stream; a stream that
 * ends inside a frame (a killed run) is read up to where it ends and said
 * to be truncated, never an error.
 */
#ifndef MEMTRACE_LIB_ZSTREAM_H
#define MEMTRACE_LIB_ZSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum zformat { ZF_PLAIN, ZF_GZIP, ZF_ZSTD };

/* By the name's extension: .zst, .gz; anything else is plain. */
enum zformat zformat_of_path(const char *path);
/* A file beside a trace: trace.csv, trace.csv.zst or trace.csv.gz (or
 * .jsonl for .csv) -> trace.EXT; another name gets .EXT appended. Returns buf, or NULL when
 * the name does not fit in len bytes. */
char *zpath_beside(char *buf, size_t len, const char *trace, const char *ext);
/* By the first bytes of a file (at least 4 for an answer other than plain). */
enum zformat zformat_of_magic(const unsigned char *p, size_t n);
/* "zst", "gz", "csv" */
const char *zformat_name(enum zformat f);
/* "zst", "gz", "csv"/"plain" back to a format; -1 for another word */
int zformat_parse(const char *word);

/* ---- writing ---- */

struct zenc;
/* Where compressed bytes go: all n of them, or -errno. */
typedef int (*zsink_fn)(void *ctx, const void *p, size_t n);

/* A compressor of format f (not ZF_PLAIN). 0, -ENOMEM or -EINVAL. */
int zenc__new(struct zenc **out, enum zformat f);
/* Compresses n bytes (n may be 0); end: and ends the frame, all of it given
 * to sink before returning. 0 or -errno (the sink's, or -EIO for the
 * library's own failure). */
int zenc__write(struct zenc *z, const void *in, size_t n, bool end, zsink_fn sink, void *ctx);
void zenc__free(struct zenc *z);

/* ---- reading ---- */

struct zdec;
/* Decompresses fd (format f, not ZF_PLAIN), of which head[0..headlen) was
 * already read. The thread it starts reads fd until its end. 0, -ENOMEM,
 * or -errno of pthread_create. */
int zdec__open(struct zdec **out, int fd, enum zformat f, const void *head, size_t headlen);
/* Up to n bytes of the stream: their count, 0 at its end, or -errno (with
 * zdec__error set: -EBADMSG for data that is not of its format). */
ssize_t zdec__read(struct zdec *z, void *buf, size_t n);
/* After the end: the stream stopped inside a frame (what a killed writer
 * leaves). */
bool zdec__truncated(const struct zdec *z);
const char *zdec__error(const struct zdec *z);
/* Stops the thread and frees (does not close fd). */
void zdec__close(struct zdec *z);

#endif
