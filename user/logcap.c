// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "logcap.h"

static const char *stream_name[2] = { "stdout", "stderr" };

bool logcap_match(const regex_t *re, const char *line, char *val, size_t vlen)
{
	regmatch_t m[10];
	size_t g = 0;

	if (regexec(re, line, 10, m, 0))
		return false;
	/* the first group that took part ('A: (x)|B: (y)' gives x or y) */
	for (size_t k = 1; k <= re->re_nsub && k < 10; k++) {
		if (m[k].rm_so >= 0) {
			g = k;
			break;
		}
	}
	snprintf(val, vlen, "%.*s", (int)(m[g].rm_eo - m[g].rm_so), line + m[g].rm_so);
	return true;
}

int logcap__open(struct logcap *c, const regex_t *re, const char *log_path, int wr[2],
		 logcap_fn fn, void *ctx)
{
	int p[2][2] = { { -1, -1 }, { -1, -1 } }, e;

	memset(c, 0, sizeof(*c));
	c->rd[0] = c->rd[1] = c->log_fd = -1;
	c->out[0] = STDOUT_FILENO;
	c->out[1] = STDERR_FILENO;
	c->re = re;
	c->fn = fn;
	c->ctx = ctx;
	c->log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (c->log_fd < 0)
		return -errno;
	for (int i = 0; i < 2; i++) {
		if (pipe2(p[i], O_CLOEXEC)) {
			e = -errno;
			goto fail;
		}
		/* ours never blocks the loop */
		fcntl(p[i][0], F_SETFL, fcntl(p[i][0], F_GETFL) | O_NONBLOCK);
		c->part[i] = malloc(LOGCAP_MAX_LINE + 1);
		if (!c->part[i]) {
			e = -ENOMEM;
			goto fail;
		}
	}
	for (int i = 0; i < 2; i++) {
		c->rd[i] = p[i][0];
		wr[i] = p[i][1];
	}
	return 0;
fail:
	for (int i = 0; i < 2; i++)
		for (int k = 0; k < 2; k++)
			if (p[i][k] >= 0)
				close(p[i][k]);
	logcap__close(c);
	return e;
}

static void write_all(int fd, const char *b, size_t n, int *err)
{
	while (n) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (err && !*err)
				*err = w < 0 ? errno : EIO;
			return;
		}
		b += w;
		n -= (size_t)w;
	}
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* One whole line of stream i (in c->part[i], NUL-terminated). */
static int on_line(struct logcap *c, int i, uint64_t ts)
{
	char val[256];
	char *line = c->part[i];
	size_t n = c->plen[i];

	if (n && line[n - 1] == '\r')
		line[n - 1] = 0;
	c->lines++;
	if (!logcap_match(c->re, line, val, sizeof(val)))
		return 0;
	c->matched++;
	return c->fn ? c->fn(c->ctx, ts, stream_name[i], c->lines, line, val) : 0;
}

/* Bytes of stream i: on to our own output and the log as they are, then
 * cut into lines for the pattern. */
static int take(struct logcap *c, int i, const char *b, size_t n, uint64_t ts)
{
	int e;

	write_all(c->out[i], b, n, NULL);	/* a closed terminal is not our error */
	write_all(c->log_fd, b, n, &c->err);
	c->log_bytes += n;
	for (size_t k = 0; k < n; k++) {
		if (b[k] == '\n') {
			c->part[i][c->plen[i]] = 0;
			e = on_line(c, i, ts);
			c->plen[i] = 0;
			if (e)
				return e;
		} else if (c->plen[i] < LOGCAP_MAX_LINE) {
			/* a longer line is matched on its first 4 KiB */
			c->part[i][c->plen[i]++] = b[k] ? b[k] : ' ';
		}
	}
	return 0;
}

int logcap__pump(struct logcap *c, int timeout_ms, int extra_fd, bool final)
{
	struct pollfd pf[3];
	char buf[65536];
	int n = 0, e;

	for (int i = 0; i < 2; i++)
		if (c->rd[i] >= 0)
			pf[n++] = (struct pollfd){ .fd = c->rd[i], .events = POLLIN };
	if (extra_fd >= 0)
		pf[n++] = (struct pollfd){ .fd = extra_fd, .events = POLLIN };
	if (n && timeout_ms > 0 && !final)
		poll(pf, (nfds_t)n, timeout_ms);
	for (int i = 0; i < 2; i++) {
		while (c->rd[i] >= 0) {
			ssize_t got = read(c->rd[i], buf, sizeof(buf));

			if (got < 0 && errno == EINTR)
				continue;
			if (got > 0) {
				e = take(c, i, buf, (size_t)got, mono_ns());
				if (e)
					return e;
				continue;
			}
			if (got < 0 && errno == EAGAIN && !final)
				break;
			/* end of file (every writer gone), or final: what is left
			 * is the last line, even without its newline */
			if (got == 0 || final) {
				if (c->plen[i]) {
					c->part[i][c->plen[i]] = 0;
					e = on_line(c, i, mono_ns());
					c->plen[i] = 0;
					if (e)
						return e;
				}
				if (got == 0 || final) {
					close(c->rd[i]);
					c->rd[i] = -1;
				}
			}
			break;
		}
	}
	return 0;
}

bool logcap__active(const struct logcap *c)
{
	return c->log_fd >= 0;
}

void logcap__close(struct logcap *c)
{
	for (int i = 0; i < 2; i++) {
		if (c->rd[i] >= 0)
			close(c->rd[i]);
		c->rd[i] = -1;
		free(c->part[i]);
		c->part[i] = NULL;
	}
	if (c->log_fd >= 0)
		close(c->log_fd);
	c->log_fd = -1;
}
