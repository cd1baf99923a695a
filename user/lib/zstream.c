// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#include "lib/zstream.h"

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n > k && !strcmp(s + n - k, suffix);
}

enum zformat zformat_of_path(const char *path)
{
	if (ends_with(path, ".zst"))
		return ZF_ZSTD;
	if (ends_with(path, ".gz"))
		return ZF_GZIP;
	return ZF_PLAIN;
}

char *zpath_beside(char *buf, size_t len, const char *trace, const char *ext)
{
	size_t n = strlen(trace);
	int w;

	if (zformat_of_path(trace) != ZF_PLAIN)
		n -= zformat_of_path(trace) == ZF_ZSTD ? 4 : 3;
	if (n > 4 && !strncmp(trace + n - 4, ".csv", 4))
		n -= 4;
	else if (n > 6 && !strncmp(trace + n - 6, ".jsonl", 6))
		n -= 6;
	else
		n = strlen(trace);
	w = snprintf(buf, len, "%.*s.%s", (int)n, trace, ext);
	return w >= 0 && (size_t)w < len ? buf : NULL;
}

enum zformat zformat_of_magic(const unsigned char *p, size_t n)
{
	/* zstd frame: 28 b5 2f fd (RFC 8878); gzip member: 1f 8b 08 (RFC 1952,
	 * deflate: the only method there is) */
	if (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
		return ZF_ZSTD;
	if (n >= 3 && p[0] == 0x1f && p[1] == 0x8b && p[2] == 8)
		return ZF_GZIP;
	return ZF_PLAIN;
}

const char *zformat_name(enum zformat f)
{
	return f == ZF_ZSTD ? "zst" : f == ZF_GZIP ? "gz" : "csv";
}

int zformat_parse(const char *word)
{
	if (!strcmp(word, "zst") || !strcmp(word, "zstd"))
		return ZF_ZSTD;
	if (!strcmp(word, "gz") || !strcmp(word, "gzip"))
		return ZF_GZIP;
	if (!strcmp(word, "csv") || !strcmp(word, "plain"))
		return ZF_PLAIN;
	return -1;
}

/* ---- writing ---- */

/* zstd level 1: on a fault-storm trace (263k rows, 34.1 MB) it gave the
 * smallest file of levels 1-5 (4.67 MB; level 3: 5.76 MB) in the least
 * time (0.14 s of CPU; level 3: 0.17 s). gzip level 1: 6.26 MB, 1.1 s
 * per 790k rows, for the user who asks for gzip. */
#define ZSTD_LEVEL 1
#define GZIP_LEVEL 1
#define ENC_OUT (128 << 10)

struct zenc {
	enum zformat f;
	ZSTD_CCtx *zc;
	z_stream gz;
	bool gz_init;
	unsigned char out[ENC_OUT];
};

int zenc__new(struct zenc **out, enum zformat f)
{
	struct zenc *z;

	*out = NULL;
	if (f != ZF_ZSTD && f != ZF_GZIP)
		return -EINVAL;
	z = calloc(1, sizeof(*z));
	if (!z)
		return -ENOMEM;
	z->f = f;
	if (f == ZF_ZSTD) {
		z->zc = ZSTD_createCCtx();
		if (!z->zc || ZSTD_isError(ZSTD_CCtx_setParameter(z->zc, ZSTD_c_compressionLevel,
								   ZSTD_LEVEL)) ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(z->zc, ZSTD_c_checksumFlag, 1))) {
			zenc__free(z);
			return -ENOMEM;
		}
		/* a worker thread compresses: the loop that drains the ring
		 * only hands it the rows (a libzstd built without threads
		 * refuses, and compresses in the caller instead) */
		(void)ZSTD_CCtx_setParameter(z->zc, ZSTD_c_nbWorkers, 1);
	} else {
		/* windowBits 15 + 16: a gzip header and trailer */
		if (deflateInit2(&z->gz, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8,
				 Z_DEFAULT_STRATEGY) != Z_OK) {
			zenc__free(z);
			return -ENOMEM;
		}
		z->gz_init = true;
	}
	*out = z;
	return 0;
}

static int write_zstd(struct zenc *z, const void *p, size_t n, bool end, zsink_fn sink, void *ctx)
{
	ZSTD_inBuffer in = { p, n, 0 };
	ZSTD_EndDirective mode = end ? ZSTD_e_end : ZSTD_e_continue;

	for (;;) {
		ZSTD_outBuffer out = { z->out, sizeof(z->out), 0 };
		size_t left = ZSTD_compressStream2(z->zc, &out, &in, mode);
		int e;

		if (ZSTD_isError(left))
			return -EIO;
		if (out.pos && (e = sink(ctx, z->out, out.pos)))
			return e;
		if (end ? left == 0 : in.pos == in.size)
			return 0;
	}
}

static int write_gzip(struct zenc *z, const void *p, size_t n, bool end, zsink_fn sink, void *ctx)
{
	z->gz.next_in = (unsigned char *)p;
	z->gz.avail_in = (uInt)n;
	for (;;) {
		int ret, e;
		size_t have;

		z->gz.next_out = z->out;
		z->gz.avail_out = sizeof(z->out);
		ret = deflate(&z->gz, end ? Z_FINISH : Z_NO_FLUSH);
		if (ret == Z_STREAM_ERROR)
			return -EIO;
		have = sizeof(z->out) - z->gz.avail_out;
		if (have && (e = sink(ctx, z->out, have)))
			return e;
		if (end && ret == Z_STREAM_END)
			/* a member ends: the next rows start another, as
			 * gzip -d reads them (concatenated members) */
			return deflateReset(&z->gz) == Z_OK ? 0 : -EIO;
		if (!end && z->gz.avail_out)
			return 0;
	}
}

int zenc__write(struct zenc *z, const void *in, size_t n, bool end, zsink_fn sink, void *ctx)
{
	/* zlib counts input in 32 bits */
	while (z->f == ZF_GZIP && n > (1u << 30)) {
		int e = write_gzip(z, in, 1u << 30, false, sink, ctx);

		if (e)
			return e;
		in = (const char *)in + (1u << 30);
		n -= 1u << 30;
	}
	return z->f == ZF_ZSTD ? write_zstd(z, in, n, end, sink, ctx)
			       : write_gzip(z, in, n, end, sink, ctx);
}

void zenc__free(struct zenc *z)
{
	if (!z)
		return;
	ZSTD_freeCCtx(z->zc);
	if (z->gz_init)
		deflateEnd(&z->gz);
	free(z);
}

/* ---- reading ---- */

/* Decompressed data in chunks handed from the thread to the reader: 2 MiB
 * at most ahead of it, a bound whatever the file's size. 128 KiB chunks
 * are read while still in the shared cache: with 1 MiB ones a .zst read
 * took 1.07x the plain one, with these 0.99-1.05x (tools/bench-spikes.sh). */
#define CHUNK (1 << 17)
#define NCHUNKS 16
#define DEC_IN (128 << 10)

struct chunk {
	char *p;
	size_t len;
};

struct zdec {
	int fd;
	enum zformat f;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* chunks [tail, head) are full, head's is being filled */
	struct chunk ring[NCHUNKS];
	unsigned int head, tail;
	size_t rpos;		/* the reader's offset in ring[tail] */
	bool done, stop, truncated;
	int err;
	char msg[256];
	/* the thread's alone */
	unsigned char in[DEC_IN];
	size_t in_len, in_pos;
	bool in_eof, frame_open;
	uint64_t in_total;	/* compressed bytes consumed */
	ZSTD_DCtx *zd;
	z_stream gz;
	bool gz_init;
};

static int refill(struct zdec *z)
{
	ssize_t n;

	/* the reader stopped early (an error in a row): no more reads, which
	 * on a pipe could wait for a writer for ever */
	if (__atomic_load_n(&z->stop, __ATOMIC_RELAXED))
		return -ECANCELED;
	do
		n = read(z->fd, z->in, sizeof(z->in));
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		int e = -errno;

		snprintf(z->msg, sizeof(z->msg), "read failed: %s", strerror(-e));
		return e;
	}
	z->in_len = (size_t)n;
	z->in_pos = 0;
	z->in_eof = n == 0;
	return 0;
}

/* Fills c: 1 when full (more may follow), 0 at the end, -errno. */
static int fill_zstd(struct zdec *z, struct chunk *c)
{
	ZSTD_outBuffer out = { c->p, CHUNK, 0 };

	for (;;) {
		ZSTD_inBuffer in;
		size_t ret, out_before = out.pos;
		int e;

		if (z->in_pos == z->in_len && !z->in_eof && (e = refill(z)))
			return e;
		in = (ZSTD_inBuffer){ z->in, z->in_len, z->in_pos };
		ret = ZSTD_decompressStream(z->zd, &out, &in);
		c->len = out.pos;
		if (ZSTD_isError(ret)) {
			snprintf(z->msg, sizeof(z->msg), "not a valid zstd stream near compressed "
				 "byte %llu: %s", (unsigned long long)z->in_total,
				 ZSTD_getErrorName(ret));
			return -EBADMSG;
		}
		/* 0: a frame is whole and flushed. A call that took nothing
		 * and gave nothing (at the end) says only what it would take
		 * next: not a frame begun. */
		if (in.pos > z->in_pos || out.pos > out_before)
			z->frame_open = ret != 0;
		z->in_total += in.pos - z->in_pos;
		z->in_pos = in.pos;
		if (out.pos == out.size)
			return 1;
		if (z->in_pos == z->in_len && z->in_eof) {
			z->truncated = z->frame_open;
			return 0;
		}
	}
}

static int fill_gzip(struct zdec *z, struct chunk *c)
{
	z->gz.next_out = (unsigned char *)c->p;
	z->gz.avail_out = CHUNK;
	for (;;) {
		size_t before;
		int ret, e;

		if (z->in_pos == z->in_len && !z->in_eof && (e = refill(z)))
			return e;
		if (!z->frame_open) {
			if (z->in_pos == z->in_len)
				return 0;	/* after a whole member */
			/* another member (gzip's concatenation) */
			if (inflateReset(&z->gz) != Z_OK)
				return -EIO;
			z->frame_open = true;
		}
		z->gz.next_in = z->in + z->in_pos;
		z->gz.avail_in = (uInt)(z->in_len - z->in_pos);
		before = z->gz.avail_in;
		ret = inflate(&z->gz, Z_NO_FLUSH);
		z->in_pos += before - z->gz.avail_in;
		z->in_total += before - z->gz.avail_in;
		c->len = CHUNK - z->gz.avail_out;
		if (ret == Z_STREAM_END) {
			z->frame_open = false;
		} else if (ret != Z_OK && ret != Z_BUF_ERROR) {
			snprintf(z->msg, sizeof(z->msg), "not a valid gzip stream near compressed "
				 "byte %llu: %s", (unsigned long long)z->in_total,
				 z->gz.msg ? z->gz.msg : "bad data");
			return -EBADMSG;
		}
		if (!z->gz.avail_out)
			return 1;
		if (z->frame_open && z->in_pos == z->in_len && z->in_eof) {
			/* inflate took all there is and wants more */
			z->truncated = true;
			return 0;
		}
	}
}

static void *decompress(void *arg)
{
	struct zdec *z = arg;

	for (;;) {
		struct chunk *c;
		int r;

		pthread_mutex_lock(&z->mu);
		while (z->head - z->tail == NCHUNKS && !z->stop)
			pthread_cond_wait(&z->cv, &z->mu);
		if (z->stop) {
			pthread_mutex_unlock(&z->mu);
			return NULL;
		}
		c = &z->ring[z->head % NCHUNKS];
		pthread_mutex_unlock(&z->mu);

		c->len = 0;
		r = z->f == ZF_ZSTD ? fill_zstd(z, c) : fill_gzip(z, c);

		pthread_mutex_lock(&z->mu);
		if (c->len)
			z->head++;
		if (r <= 0) {
			z->err = r;
			z->done = true;
		}
		pthread_cond_broadcast(&z->cv);
		pthread_mutex_unlock(&z->mu);
		if (r <= 0)
			return NULL;
	}
}

int zdec__open(struct zdec **out, int fd, enum zformat f, const void *head, size_t headlen)
{
	struct zdec *z;
	int e;

	*out = NULL;
	if ((f != ZF_ZSTD && f != ZF_GZIP) || headlen > DEC_IN)
		return -EINVAL;
	z = calloc(1, sizeof(*z));
	if (!z)
		return -ENOMEM;
	z->fd = fd;
	z->f = f;
	memcpy(z->in, head, headlen);
	z->in_len = headlen;
	z->frame_open = true;	/* the magic read is a frame's start */
	pthread_mutex_init(&z->mu, NULL);
	pthread_cond_init(&z->cv, NULL);
	for (int i = 0; i < NCHUNKS; i++)
		if (!(z->ring[i].p = malloc(CHUNK)))
			goto nomem;
	if (f == ZF_ZSTD) {
		if (!(z->zd = ZSTD_createDCtx()))
			goto nomem;
	} else {
		/* windowBits 15 + 32: a gzip (or zlib) header, found by itself */
		if (inflateInit2(&z->gz, 15 + 32) != Z_OK)
			goto nomem;
		z->gz_init = true;
	}
	e = -pthread_create(&z->thread, NULL, decompress, z);
	if (e) {
		zdec__close(z);
		return e;
	}
	z->started = true;
	*out = z;
	return 0;
nomem:
	zdec__close(z);
	return -ENOMEM;
}

ssize_t zdec__read(struct zdec *z, void *buf, size_t n)
{
	struct chunk *c;
	size_t k;

	pthread_mutex_lock(&z->mu);
	while (z->head == z->tail && !z->done)
		pthread_cond_wait(&z->cv, &z->mu);
	if (z->head == z->tail) {
		int e = z->err;

		pthread_mutex_unlock(&z->mu);
		return e;
	}
	c = &z->ring[z->tail % NCHUNKS];
	pthread_mutex_unlock(&z->mu);

	k = c->len - z->rpos < n ? c->len - z->rpos : n;
	memcpy(buf, c->p + z->rpos, k);
	z->rpos += k;
	if (z->rpos == c->len) {
		pthread_mutex_lock(&z->mu);
		z->tail++;
		z->rpos = 0;
		pthread_cond_broadcast(&z->cv);
		pthread_mutex_unlock(&z->mu);
	}
	return (ssize_t)k;
}

bool zdec__truncated(const struct zdec *z)
{
	return z->done && z->truncated;
}

const char *zdec__error(const struct zdec *z)
{
	return z->msg;
}

void zdec__close(struct zdec *z)
{
	if (!z)
		return;
	if (z->started) {
		pthread_mutex_lock(&z->mu);
		__atomic_store_n(&z->stop, true, __ATOMIC_RELAXED);
		pthread_cond_broadcast(&z->cv);
		pthread_mutex_unlock(&z->mu);
		pthread_join(z->thread, NULL);
	}
	pthread_mutex_destroy(&z->mu);
	pthread_cond_destroy(&z->cv);
	for (int i = 0; i < NCHUNKS; i++)
		free(z->ring[i].p);
	ZSTD_freeDCtx(z->zd);
	if (z->gz_init)
		inflateEnd(&z->gz);
	free(z);
}
