// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lib/clock.h"
#include "trace/logcap.h"

static const char *stream_name[2] = { "stdout", "stderr" };

/* Per stream: read from the pipe while fewer than RELAY_SOFT bytes wait
 * to be passed on. RELAY_HARD leaves room for what a write the kernel
 * already reported still has in the pipe (at most the pipe's size,
 * 1 MiB at most for an unprivileged F_SETPIPE_SZ by default). */
#define RELAY_SOFT (1U << 20)
#define RELAY_HARD (RELAY_SOFT + (1U << 20))

/* Bytes of stream i to our own output; what does not fit is counted. */
static void relay_push(struct logcap *c, int i, const char *b, size_t n)
{
	struct relay *rl = &c->relay[i];

	if (c->out[i] < 0)
		return;		/* kept in the log only */
	if (!rl->started && relay__start(rl, c->out[i], c->wake_fd, RELAY_HARD)) {
		c->not_passed += n;
		return;
	}
	c->not_passed += n - relay__push(rl, b, n);
}

static const char *name_of(const struct logcap *c, int i)
{
	return c->merged ? "stdout+stderr" : stream_name[i];
}

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

int logcap__open(struct logcap *c, const regex_t *re, int log_fd, int wr[2], bool pass_on,
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
	c->wake_fd = -1;
	c->log_fd = fcntl(log_fd, F_DUPFD_CLOEXEC, 3);
	if (c->log_fd < 0)
		return -errno;
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->wake_fd < 0) {
		e = -errno;
		goto fail;
	}
	{
		/* One file behind our fds 1 and 2 (a terminal, `> f 2>&1`):
		 * one pipe keeps the order in which the command wrote to
		 * them, which two pipes read one after the other cannot. */
		struct stat s1, s2;

		c->merged = !fstat(STDOUT_FILENO, &s1) && !fstat(STDERR_FILENO, &s2) &&
			    s1.st_dev == s2.st_dev && s1.st_ino == s2.st_ino;
	}
	if (!pass_on) {
		/* kept only (a campaign run's output.log): one pipe, in order */
		c->merged = true;
		c->out[0] = c->out[1] = -1;
	}
	for (int i = 0; i < (c->merged ? 1 : 2); i++) {
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

/* One whole line of stream i (in c->part[i], NUL-terminated). */
static int on_line(struct logcap *c, int i, uint64_t ts, pid_t pid, pid_t tid)
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
	return c->fn ? c->fn(c->ctx, ts, pid, tid, name_of(c, i), c->lines, line, val) : 0;
}

/* Bytes of stream i, in order, all written at ts (by pid/tid, 0: not
 * known): cut into lines. */
static int feed(struct logcap *c, int i, const char *b, size_t n, uint64_t ts, pid_t pid,
		pid_t tid)
{
	int e;

	for (size_t k = 0; k < n; k++) {
		if (b[k] == '\n') {
			c->part[i][c->plen[i]] = 0;
			e = on_line(c, i, ts, pid, tid);
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

/* Stream i has bytes no kernel write explains: time its lines on arrival
 * from now on. */
static int to_arrival(struct logcap *c, int i, const char *why)
{
	struct logcap_stream *st = &c->st[i];
	int e;

	if (!st->on_arrival && why)
		fprintf(stderr, "memtrace-bpf: note: the command's %s has output the kernel did not "
			"see written (%s); its log lines are timed when read from here on, so a "
			"value may pair with a later checkpoint\n", name_of(c, i), why);
	st->on_arrival = true;
	st->nw = 0;
	e = feed(c, i, st->pend, st->plen, mono_ns(), 0, 0);
	st->plen = 0;
	return e;
}

/* Matches bytes read with the writes the kernel saw, in order. */
static int advance(struct logcap *c, int i)
{
	struct logcap_stream *st = &c->st[i];
	size_t used = 0;
	int e = 0;

	while (st->nw && used < st->plen && !e) {
		struct logcap_write *w = &st->w[0];
		size_t n = st->plen - used;

		if (n > w->len - w->done)
			n = (size_t)(w->len - w->done);
		if (!w->done && w->start_known) {
			size_t k = w->len < sizeof(w->start) ? (size_t)w->len : sizeof(w->start);

			if (k > n)
				k = n;
			if (memcmp(st->pend + used, w->start, k)) {
				memmove(st->pend, st->pend + used, st->plen - used);
				st->plen -= used;
				return to_arrival(c, i, "another process, writev, or a dropped record");
			}
		}
		e = feed(c, i, st->pend + used, n, w->ts_ns, w->pid, w->tid);
		used += n;
		w->done += n;
		if (w->done == w->len)
			memmove(st->w, st->w + 1, --st->nw * sizeof(*st->w));
	}
	memmove(st->pend, st->pend + used, st->plen - used);
	st->plen -= used;
	if (st->plen && used)
		st->pend_since = mono_ns();
	return e;
}

static int read_stream_ex(struct logcap *c, int i, bool final, bool force);

int logcap__output(struct logcap *c, int i, uint64_t ts_ns, pid_t pid, pid_t tid, uint64_t len,
		   const char *start, bool start_known)
{
	struct logcap_stream *st;
	struct logcap_write *w;

	if (i < 0 || i > 1 || c->log_fd < 0)
		return 0;
	if (c->merged)
		i = 0;	/* one pipe: fd 1 and fd 2 are the same file */
	st = &c->st[i];
	if (st->on_arrival || !len)
		return 0;
	if (st->nw == st->wcap) {
		size_t cap = st->wcap ? st->wcap * 2 : 64;
		void *p = realloc(st->w, cap * sizeof(*st->w));

		if (!p)
			return -ENOMEM;
		st->w = p;
		st->wcap = cap;
	}
	w = &st->w[st->nw++];
	memset(w, 0, sizeof(*w));
	w->ts_ns = ts_ns;
	w->pid = pid;
	w->tid = tid;
	w->len = len;
	w->start_known = start_known;
	memcpy(w->start, start, sizeof(w->start));
	/* The bytes of a write are in the pipe before its sys_exit: take
	 * them now, so its lines are queued while the records are at this
	 * instant, before any record stamped later is written. They are in
	 * the pipe already (at most its size): this read ignores the
	 * back-pressure bound. */
	if (st->plen < len) {
		int e = read_stream_ex(c, i, false, true);

		if (e)
			return e;
		if (st->on_arrival)
			return 0;
	}
	return advance(c, i);
}

/* Bytes of stream i: on to our own output and the log as they are, then
 * to the lines, timed by the kernel's write records when there are. */
static int take(struct logcap *c, int i, const char *b, size_t n, uint64_t ts)
{
	struct logcap_stream *st = &c->st[i];

	relay_push(c, i, b, n);
	write_all(c->log_fd, b, n, &c->err);
	c->log_bytes += n;
	if (!c->kernel_timed || st->on_arrival)
		return feed(c, i, b, n, ts, 0, 0);
	if (st->plen + n > st->pcap) {
		size_t cap = st->pcap ? st->pcap : 65536;
		char *p;

		while (cap < st->plen + n)
			cap *= 2;
		p = realloc(st->pend, cap);
		if (!p)
			return -ENOMEM;
		st->pend = p;
		st->pcap = cap;
	}
	if (!st->plen)
		st->pend_since = ts;
	memcpy(st->pend + st->plen, b, n);
	st->plen += n;
	return advance(c, i);
}

/* Our own stdout/stderr refused stream i's bytes: a reader that closed
 * (EPIPE) closes our read end too, so the command gets EPIPE or SIGPIPE
 * as it would without us; any other error is said once. */
static void relay_check(struct logcap *c, int i)
{
	int err;

	if (c->rd[i] < 0 || !(err = relay__error(&c->relay[i])))
		return;
	if (err == EPIPE) {
		close(c->rd[i]);
		c->rd[i] = -1;
	} else if (!c->relay_said[i]) {
		c->relay_said[i] = true;
		fprintf(stderr, "memtrace-bpf: cannot pass on the command's %s: %s; it is still "
			"kept in the log\n", name_of(c, i), strerror(err));
	}
}

/* What stream i's pipe holds now, while there is room to pass it on
 * (force: also what a write the kernel reported left in the pipe; final:
 * everything, and then the read end is closed). */
static int read_stream_ex(struct logcap *c, int i, bool final, bool force)
{
	char buf[65536];
	int e;

	relay_check(c, i);
	while (c->rd[i] >= 0) {
		size_t room = final ? sizeof(buf) :
			      relay__room(&c->relay[i], force ? RELAY_HARD : RELAY_SOFT);
		ssize_t got;

		if (!room)
			break;	/* back-pressure: the command waits for our reader */
		got = read(c->rd[i], buf, room < sizeof(buf) ? room : sizeof(buf));
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
		/* end of file (every writer gone), or final */
		close(c->rd[i]);
		c->rd[i] = -1;
	}
	return 0;
}

static int read_stream(struct logcap *c, int i, bool final)
{
	return read_stream_ex(c, i, final, false);
}

int logcap__pump(struct logcap *c, int timeout_ms, int extra_fd, bool final)
{
	struct pollfd pf[4];
	int n = 0, e;
	bool full = false;

	for (int i = 0; i < 2; i++) {
		relay_check(c, i);
		if (c->rd[i] < 0)
			continue;
		if (relay__room(&c->relay[i], RELAY_SOFT)) {
			pf[n++] = (struct pollfd){ .fd = c->rd[i], .events = POLLIN };
		} else {
			full = true;
			/* held back by us, a long write cannot end (and be
			 * recorded) yet: its first bytes are not unexplained */
			if (c->st[i].plen)
				c->st[i].pend_since = mono_ns();
		}
	}
	if (full && c->wake_fd >= 0)
		pf[n++] = (struct pollfd){ .fd = c->wake_fd, .events = POLLIN };
	if (extra_fd >= 0)
		pf[n++] = (struct pollfd){ .fd = extra_fd, .events = POLLIN };
	if (n && timeout_ms > 0 && !final)
		poll(pf, (nfds_t)n, timeout_ms);
	if (full) {
		uint64_t v;

		if (read(c->wake_fd, &v, sizeof(v)) < 0) {
			/* nothing to take: no relay made room yet */
		}
	}
	for (int i = 0; i < 2; i++) {
		struct logcap_stream *st = &c->st[i];

		/* Bytes no write record explains although every record up to
		 * well after they came is in: not the kernel's. (A writer's
		 * sys_exit follows its bytes into the pipe; 200 ms covers it
		 * being preempted in between.) */
		if (st->plen && !st->on_arrival &&
		    c->records_until > st->pend_since + 200000000ULL &&
		    (e = to_arrival(c, i, "another process, writev, or a dropped record")))
			return e;
		e = read_stream(c, i, final);
		if (e)
			return e;
		if (!final)
			continue;
		/* the end: bytes still unexplained, and the last line even
		 * without its newline */
		if (st->plen && (e = advance(c, i)))
			return e;
		if (st->plen && (e = to_arrival(c, i, NULL)))
			return e;
		if (c->plen[i]) {
			c->part[i][c->plen[i]] = 0;
			e = on_line(c, i, mono_ns(), 0, 0);
			c->plen[i] = 0;
			if (e)
				return e;
		}
	}
	return 0;
}

bool logcap__busy(struct logcap *c)
{
	if (c->log_fd < 0)
		return false;
	for (int i = 0; i < 2; i++)
		if (c->rd[i] >= 0 || relay__pending(&c->relay[i]))
			return true;
	return false;
}

void logcap__close(struct logcap *c)
{
	for (int i = 0; i < 2; i++) {
		/* what is left is written, for up to a second */
		relay__stop(&c->relay[i], 1000);
		if (c->rd[i] >= 0)
			close(c->rd[i]);
		c->rd[i] = -1;
		free(c->part[i]);
		c->part[i] = NULL;
		free(c->st[i].pend);
		free(c->st[i].w);
		memset(&c->st[i], 0, sizeof(c->st[i]));
	}
	if (c->log_fd >= 0)
		close(c->log_fd);
	c->log_fd = -1;
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	c->wake_fd = -1;
}
