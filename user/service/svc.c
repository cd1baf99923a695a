// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/fsuid.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include "lib/clock.h"
#include "lib/files.h"
#include "lib/metrics_http.h"
#include "lib/prom.h"
#include "service/check.h"
#include "service/svc.h"
#include "trace/guard.h"
#include "trace/preflight.h"
#include "trace/wire.h"

/* epoll's data for the fixed fds; a client's is its struct conn * */
enum { EV_LISTEN = 1, EV_RING, EV_TIMER, EV_SIGNAL };

#define MAX_CLIENTS 1024
#define USER_USDT_MAX 8		/* binaries with marks one user may have attached */
#define NONOTES 64
#define DRAIN_MS 10
/* replies and final states waiting for one client, at most: a FINAL_STATE
 * of a group with every procs and exited entry fits (2 x 16384 x 128 B) */
#define REPLIES_MAX (8u << 20)

struct qmsg {
	struct qmsg *next;
	size_t len;
	bool recs;		/* records (bounded by --client-queue); else a
				   reply, an urgent record, the final state */
	char buf[];
};

struct queue {
	struct qmsg *head, *tail;
};

struct conn {
	int fd;
	struct svc_peer peer;
	bool hello;
	bool out_armed;		/* EPOLLOUT asked for */
	uint32_t ngroups;
	struct queue uq, q;	/* urgent (GUARD, ALERT) first, then the rest */
	size_t qbytes;		/* records in q, those being gathered included */
	size_t rbytes;		/* the rest of q and uq: replies and the like */
	/* records gathered for the next RECS message */
	char *recs;		/* a whole datagram: header, struct wire_recs, records */
	uint32_t nrecs;
	uint64_t sent_release;	/* the last release said to it */
	uint32_t flush_seq;	/* a FLUSH waiting for its drain (0: none) */
	uint64_t flush_at;
	uint64_t dropped;	/* records its full queue dropped */
	bool vouched;		/* root bound it to a user (BIND_USER) */
	uint64_t nreq;
};

struct gslot {
	struct conn *c;		/* the client holding it (NULL: not the service's) */
	uint64_t take_ns;	/* records stamped before are another holder's */
	uint64_t dropped;	/* its records the client's queue dropped */
	uid_t uid;
	bool launched;		/* one EXPECT_EXEC or ATTACH a group */
	uint64_t routed;	/* its records handed to its client */
};

struct svc {
	struct tracer *t;
	const struct svc_opts *o;
	int ep, lfd, tfd, sfd;
	struct conn *conns[MAX_CLIENTS];
	size_t nconns;
	struct gslot g[MT_MAX_GROUPS];
	struct { dev_t dev; ino_t ino; uid_t uid; } usdt[64];
	int nusdt;
	/* binaries found without memtrace:mark probes (most of them) */
	struct { dev_t dev; ino_t ino; } nonotes[NONOTES];
	unsigned nonotes_next;
	uint64_t served, dropped;
	size_t qtotal;		/* records queued for all clients (--queue-total) */
	char pidns[64], mntns[64], userns[64];
	bool stop;
	uint64_t next_metrics_ns;	/* --metrics: the next text */
	bool metrics_failed;
	bool listen_paused;	/* out of fds: accepting again once one closes */
	/* what each user may ask of the whole machine: the requests that run
	 * a task iterator (ATTACH, FINAL_STATE), a token bucket a uid */
	struct { uid_t uid; uint64_t t_ns; double tokens; } iter[256];
};

/* fds a client sent (no request takes one) are closed by a thread of
 * their own: closing a file of a stranger's choosing can block (a FUSE
 * flush waits for its server, a TCP socket may linger), and the loop must
 * not. The loop hands them over a pipe; a full pipe keeps them open. */
static int closer_pipe[2] = { -1, -1 };

static void *closer_main(void *arg)
{
	int fd;

	(void)arg;
	while (read(closer_pipe[0], &fd, sizeof(fd)) == sizeof(fd))
		close(fd);
	return NULL;
}

static int closer_start(void)
{
	pthread_t th;
	sigset_t all, old;
	int e;

	if (pipe2(closer_pipe, O_CLOEXEC))
		return -errno;
	fcntl(closer_pipe[1], F_SETFL, O_NONBLOCK);
	/* the thread takes no signal: the loop's signalfd has them */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	e = pthread_create(&th, NULL, closer_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e)
		return -e;
	pthread_detach(th);
	return 0;
}

static void close_later(int fd)
{
	if (write(closer_pipe[1], &fd, sizeof(fd)) != sizeof(fd))
		return;		/* full (the thread is stuck): it stays open */
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "memtrace-bpf daemon: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- queues: the service never blocks on a client ---- */

static struct qmsg *qmsg_new(uint16_t type, uint32_t seq, const void *a, size_t alen,
			     const void *b, size_t blen)
{
	struct qmsg *m = malloc(sizeof(*m) + sizeof(struct wire_hdr) + alen + blen);
	struct wire_hdr h = { .magic = WIRE_MAGIC, .version = WIRE_VERSION, .type = type,
			      .len = (uint32_t)(alen + blen), .seq = seq };

	if (!m)
		return NULL;
	m->next = NULL;
	m->recs = false;
	m->len = sizeof(h) + alen + blen;
	memcpy(m->buf, &h, sizeof(h));
	if (alen)
		memcpy(m->buf + sizeof(h), a, alen);
	if (blen)
		memcpy(m->buf + sizeof(h) + alen, b, blen);
	return m;
}

static void q_push(struct queue *q, struct qmsg *m)
{
	if (q->tail)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
}

static void q_free(struct queue *q)
{
	while (q->head) {
		struct qmsg *m = q->head;

		q->head = m->next;
		free(m);
	}
	q->tail = NULL;
}

static void conn_want_out(struct svc *s, struct conn *c, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c };

	if (c->out_armed == on)
		return;
	c->out_armed = on;
	epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Sends what the socket takes now. 0, or -errno: the client is gone. */
static int conn_send(struct svc *s, struct conn *c)
{
	for (;;) {
		struct queue *q = c->uq.head ? &c->uq : &c->q;
		struct qmsg *m = q->head;

		if (!m)
			break;
		if (send(c->fd, m->buf, m->len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				conn_want_out(s, c, true);
				return 0;
			}
			if (errno == EINTR)
				continue;
			return -errno;
		}
		q->head = m->next;
		if (!q->head)
			q->tail = NULL;
		if (m->recs) {
			c->qbytes -= m->len;
			s->qtotal -= m->len;
		} else
			c->rbytes -= m->len;
		free(m);
	}
	conn_want_out(s, c, false);
	return 0;
}

/* A reply or an urgent message: outside the bound (one request at a time,
 * a guard and its alerts once a group). */
static void conn_put(struct conn *c, bool urgent, struct qmsg *m)
{
	if (!m)
		return;
	q_push(urgent ? &c->uq : &c->q, m);
	c->rbytes += m->len;
}

static void reply(struct conn *c, const struct wire_hdr *req, void *payload, size_t len)
{
	conn_put(c, false, qmsg_new(req->type | WIRE_REPLY, req->seq, payload, len, NULL, 0));
}

static void reply_err(struct conn *c, const struct wire_hdr *req, int err, enum svc_why why)
{
	struct wire_status st = { .status = err, .why = why };

	reply(c, req, &st, sizeof(st));
}

#define RECS_HEAD (sizeof(struct wire_hdr) + sizeof(struct wire_recs))

/* The gathered records as one RECS message, released up to rel. */
static void conn_seal(struct svc *s, struct conn *c, uint64_t rel)
{
	struct wire_hdr h = { .magic = WIRE_MAGIC, .version = WIRE_VERSION, .type = WIRE_RECS };
	struct wire_recs r = { .released_ns = rel, .n = c->nrecs };
	size_t len = RECS_HEAD + (size_t)c->nrecs * sizeof(struct mt_rec);
	struct qmsg *m = c->q.tail;

	if (!c->nrecs && rel == c->sent_release)
		return;
	c->sent_release = rel;
	if (!c->nrecs && m && m->recs && m->len == RECS_HEAD) {
		/* a release alone after one not sent yet (a client that does
		 * not read): the newer replaces it, the queue does not grow */
		memcpy(m->buf + sizeof(h), &r, sizeof(r));
		return;
	}
	if (!(m = malloc(sizeof(*m) + len)))
		return;		/* the next one says the release */
	h.len = (uint32_t)(len - sizeof(h));
	m->next = NULL;
	m->recs = true;
	m->len = len;
	memcpy(m->buf, &h, sizeof(h));
	memcpy(m->buf + sizeof(h), &r, sizeof(r));
	if (c->nrecs)
		memcpy(m->buf + RECS_HEAD, c->recs + RECS_HEAD, len - RECS_HEAD);
	/* the records were counted in qbytes as they came */
	q_push(&c->q, m);
	c->qbytes += RECS_HEAD;
	s->qtotal += RECS_HEAD;
	c->nrecs = 0;
}

/* A record for c: gathered, or dropped (counted) when its queue is full.
 * Only a suffix of its stream is ever dropped between two sends: the order
 * holds. 0, or -1 dropped. */
static int conn_rec(struct svc *s, struct conn *c, const struct mt_rec *r)
{
	if (c->qbytes + sizeof(*r) > s->o->client_queue ||
	    s->qtotal + sizeof(*r) > s->o->queue_total) {
		c->dropped++;
		s->dropped++;
		return -1;
	}
	if (!c->recs && !(c->recs = malloc(WIRE_MAX_MSG)))
		return -1;
	if (c->nrecs == WIRE_MAX_RECS)
		conn_seal(s, c, c->sent_release);
	memcpy(c->recs + RECS_HEAD + (size_t)c->nrecs * sizeof(*r), r, sizeof(*r));
	c->nrecs++;
	c->qbytes += sizeof(*r);
	s->qtotal += sizeof(*r);
	return 0;
}

/* ---- records from the kernel, to their groups' clients ---- */

static struct gslot *slot_of(struct svc *s, uint32_t group)
{
	return &s->g[group & (MT_MAX_GROUPS - 1)];
}

static int route(void *ctx, const struct mt_rec *r)
{
	struct svc *s = ctx;
	struct gslot *g = slot_of(s, r->group);

	/* a record of a group given back, still in the ring or the held
	 * batch, never reaches the group's next holder */
	if (!g->c || r->ts_ns < g->take_ns)
		return 0;
	if (conn_rec(s, g->c, r)) {
		g->dropped++;
		return 0;
	}
	g->routed++;
	/* the client will have it: the kernel's copy of the final state can
	 * go (kept if the record was dropped: FINAL_STATE hands it on) */
	if (r->type == MT_REC_EXIT)
		tracer__exit_seen(s->t, (pid_t)r->pid, r->ts_ns);
	return 0;
}

static int route_urgent(void *ctx, const struct mt_rec *r)
{
	struct svc *s = ctx;
	struct gslot *g = slot_of(s, r->group);

	if (g->c && r->ts_ns >= g->take_ns)
		conn_put(g->c, true, qmsg_new(WIRE_URGENT, 0, r, sizeof(*r), NULL, 0));
	return 0;
}

static void conn_close(struct svc *s, struct conn *c, const char *how);

/* A drain: every client gets its records and the release; a FLUSH is
 * answered once the release passed the moment it came. */
static void drain(struct svc *s)
{
	int e = tracer__poll(s->t, 0, false, route, route_urgent, s);
	uint64_t rel = tracer__released_ns(s->t);

	if (e)
		say("reading the ring failed: %s", strerror(-e));
	for (size_t i = 0; i < s->nconns; i++) {
		struct conn *c = s->conns[i];

		if (c->ngroups || c->nrecs)
			conn_seal(s, c, rel);
		if (c->flush_seq && rel >= c->flush_at) {
			struct wire_hdr h = { .type = WIRE_FLUSH, .seq = c->flush_seq };
			struct wire_flush_ok ok = { .released_ns = rel };

			conn_seal(s, c, rel);
			reply(c, &h, &ok, sizeof(ok));
			c->flush_seq = 0;
		}
	}
	for (size_t i = 0; i < s->nconns;) {
		struct conn *c = s->conns[i];

		if (conn_send(s, c)) {
			conn_close(s, c, "gone");
			continue;	/* the last one moved here */
		}
		i++;
	}
}

/* ---- groups ---- */

static uint32_t user_groups(struct svc *s, uid_t uid)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < MT_MAX_GROUPS; i++)
		n += s->g[i].c && s->g[i].uid == uid;
	return n;
}

/* uid's shares, split among its groups: of the ring, the records each
 * may have waiting at once (the ring holds 8 bytes of header a record),
 * and of procs, the processes each may have traced. Ceilings, not
 * reservations: idle users leave their room to others. */
static void share_out(struct svc *s, uid_t uid)
{
	uint32_t n = user_groups(s, uid), procs;
	uint64_t bytes = tracer__ring_bytes(s->t) / 100 * s->o->user_ring_pct, cap;

	if (!n)
		return;
	cap = bytes / (sizeof(struct mt_rec) + 8) / n;
	if (cap < 64)
		cap = 64;
	procs = s->o->user_procs / n;
	if (procs < 8)
		procs = 8;
	for (uint32_t i = 0; i < MT_MAX_GROUPS; i++)
		if (s->g[i].c && s->g[i].uid == uid)
			tracer__group_caps(s->t, i, cap, procs);
}

/* One path for a group's end, whoever ends it: the guard disarmed (no
 * signal from the kernel once its client is gone), its processes untraced
 * (they run on, untouched), the group free again. */
static void release(struct svc *s, uint32_t idx)
{
	struct gslot *g = &s->g[idx];
	struct mt_guard none = {};
	int n;

	if (!g->c)
		return;
	tracer__group_guard(s->t, idx, &none);
	n = tracer__untrace(s->t, idx);
	if (n < 0)
		say("group %u: untracing its processes failed: %s", idx, strerror(-n));
	tracer__group_give_back(s->t, idx);
	if (s->o->verbose)
		say("uid=%u group=%u released untraced=%d dropped=%" PRIu64, g->uid, idx, n,
		    g->dropped);
	g->c->ngroups--;
	tracer__group_caps(s->t, idx, 0, 0);
	{
		uid_t uid = g->uid;

		memset(g, 0, sizeof(*g));
		share_out(s, uid);	/* the others get its room */
	}
}

/* The group named in a request, if the client holds it; else the request
 * is refused (answered) and NULL. */
static struct gslot *own(struct svc *s, struct conn *c, const struct wire_msg *m,
			 uint32_t group)
{
	if (group && group < MT_MAX_GROUPS && s->g[group].c == c)
		return &s->g[group];
	reply_err(c, &m->hdr, -EPERM, SVC_NOT_YOURS);
	return NULL;
}

/* ---- requests ---- */

#define ITER_RATE 100.0		/* iterator requests a second, a user */

/* May uid run another task iterator now? A bucket of ITER_RATE a second;
 * the table forgets the user heard from longest ago. */
static bool iter_allowed(struct svc *s, uid_t uid)
{
	uint64_t now = mono_ns();
	size_t i, old = 0, n = sizeof(s->iter) / sizeof(s->iter[0]);

	for (i = 0; i < n; i++) {
		if (s->iter[i].t_ns && s->iter[i].uid == uid)
			break;
		if (s->iter[i].t_ns < s->iter[old].t_ns)
			old = i;
	}
	if (i == n) {
		i = old;
		s->iter[i].uid = uid;
		s->iter[i].tokens = ITER_RATE;
		s->iter[i].t_ns = now;
	}
	s->iter[i].tokens += (double)(now - s->iter[i].t_ns) / 1e9 * ITER_RATE;
	if (s->iter[i].tokens > ITER_RATE)
		s->iter[i].tokens = ITER_RATE;
	s->iter[i].t_ns = now;
	if (s->iter[i].tokens < 1)
		return false;
	s->iter[i].tokens -= 1;
	return true;
}

static void do_hello(struct svc *s, struct conn *c, const struct wire_msg *m)
{
	struct wire_hello h;
	struct wire_hello_ok ok = { .version = WIRE_VERSION, .service_pid = (uint32_t)getpid(),
				    .hold_ns = tracer__hold_ns(s->t),
				    .ring_bytes = tracer__ring_bytes(s->t),
				    .user_groups = s->o->user_groups };

	memcpy(&h, m->payload, sizeof(h));
	if (h.ver_min > WIRE_VERSION || h.ver_max < WIRE_VERSION ||
	    h.sizes[0] != sizeof(struct mt_rec) || h.sizes[1] != sizeof(struct mt_group) ||
	    h.sizes[2] != sizeof(struct mt_guard) || h.sizes[3] != sizeof(struct mt_proc)) {
		ok.st.status = -EPROTONOSUPPORT;
	} else {
		c->hello = true;
	}
	reply(c, &m->hdr, &ok, sizeof(ok));
}

static void do_take(struct svc *s, struct conn *c, const struct wire_msg *m)
{
	struct wire_take tk;
	struct wire_take_ok ok = {};
	uint32_t idx = 0;
	int e;

	memcpy(&tk, m->payload, sizeof(tk));
	if (user_groups(s, c->peer.uid) >= s->o->user_groups) {
		reply_err(c, &m->hdr, -EDQUOT, SVC_LIMIT);
		return;
	}
	/* a group's end untraces it (task iterators): takes are paced too */
	if (!iter_allowed(s, c->peer.uid)) {
		reply_err(c, &m->hdr, -EAGAIN, SVC_LIMIT);
		return;
	}
	e = tracer__group_take(s->t, &idx);
	if (e) {
		reply_err(c, &m->hdr, e, SVC_LIMIT);
		return;
	}
	e = tracer__group_setup(s->t, idx, c->peer.uid, c->peer.gid);
	if (!e)
		e = tracer__group_follow(s->t, idx, tk.flags & WIRE_TAKE_FOLLOW);
	if (e) {
		tracer__group_give_back(s->t, idx);
		reply_err(c, &m->hdr, e, SVC_KERNEL);
		return;
	}
	s->g[idx] = (struct gslot){ .c = c, .take_ns = mono_ns(), .uid = c->peer.uid };
	c->ngroups++;
	share_out(s, c->peer.uid);
	ok.group = idx;
	if (s->o->verbose)
		say("uid=%u pid=%d group=%u taken", c->peer.uid, c->peer.pid, idx);
	reply(c, &m->hdr, &ok, sizeof(ok));
}

static void do_guard(struct svc *s, struct conn *c, const struct wire_msg *m)
{
	struct wire_guard wg;
	struct mt_guard gd = {};
	struct gslot *g;

	memcpy(&wg, m->payload, sizeof(wg));
	if (!(g = own(s, c, m, wg.group)))
		return;
	if (g->launched) {
		reply_err(c, &m->hdr, -EINVAL, SVC_ORDER);
		return;
	}
	/* what a user sets; the rest is the kernel's to write */
	gd.kill_at_pages = wg.guard.kill_at_pages;
	gd.nalerts = wg.guard.nalerts;
	memcpy(gd.alert_pages, wg.guard.alert_pages, sizeof(gd.alert_pages));
	gd.flags = wg.guard.flags;
	gd.signal = wg.guard.signal;
	guard__watch_first(&gd);
	tracer__group_guard(s->t, wg.group, &gd);
	reply_err(c, &m->hdr, 0, SVC_OK);
}

/* The process a pidfd of ours holds still runs: its facts read (not a
 * zombie), then the pidfd asked whether it is reaped: while it is not,
 * the PID was its own for those reads. Asked after registering it: its
 * exit, which clears the registration, is still to come. */
static bool still_running(pid_t pid, int pidfd)
{
	struct svc_facts f;

	return !svc_facts(pid, &f) && !f.zombie &&
	       !syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0);
}

static void do_expect(struct svc *s, struct conn *c, const struct wire_msg *m)
{
	struct wire_expect x;
	struct svc_facts f;
	enum svc_why why;
	struct gslot *g;
	int e, pidfd;

	memcpy(&x, m->payload, sizeof(x));
	if (!(g = own(s, c, m, x.group)))
		return;
	if (g->launched) {
		reply_err(c, &m->hdr, -EINVAL, SVC_ORDER);
		return;
	}
	/* our own pidfd, before the checks: while it says the process is
	 * not reaped, the PID cannot name another one */
	pidfd = (pid_t)x.pid > 0 ? (int)syscall(SYS_pidfd_open, (pid_t)x.pid, 0) : -1;
	if (pidfd < 0) {
		reply_err(c, &m->hdr, -ESRCH, SVC_GONE);
		return;
	}
	e = svc_facts((pid_t)x.pid, &f);
	if (e) {
		why = SVC_GONE;
	} else if (c->vouched) {
		struct svc_facts parent;

		why = svc_facts(f.ppid, &parent) ? SVC_NOT_VOUCHED :
		      svc_may_launch_vouched(&f, &parent, &c->peer);
	} else {
		why = svc_may_launch(&f, &c->peer);
	}
	if (why != SVC_OK) {
		reply_err(c, &m->hdr, why == SVC_GONE ? -ESRCH : -EPERM, why);
		goto out;
	}
	e = tracer__expect_exec(s->t, (pid_t)x.pid, x.group);
	if (e) {
		reply_err(c, &m->hdr, e, e == -EBUSY ? SVC_BUSY : SVC_KERNEL);
		goto out;
	}
	g->launched = true;
	if (!still_running((pid_t)x.pid, pidfd)) {
		/* it ended meanwhile: its entry must not wait for a stranger
		 * under the PID */
		tracer__untrace(s->t, x.group);
		reply_err(c, &m->hdr, -ESRCH, SVC_GONE);
		goto out;
	}
	reply_err(c, &m->hdr, 0, SVC_OK);
out:
	close(pidfd);
}

static void do_mark_fd(struct svc *s, struct conn *c, const struct wire_msg *m)
{
	struct wire_mark_fd x;
	struct mt_proc p;
	int e;

	memcpy(&x, m->payload, sizeof(x));
	/* only its launched child, at the barrier */
	if (tracer__proc(s->t, (pid_t)x.pid, &p))
		p.group = 0;
	if (!own(s, c, m, p.group))
		return;
	if (!(p.flags & MT_PROC_PENDING_EXEC)) {
		reply_err(c, &m->hdr, -EINVAL, SVC_ORDER);
		return;
	}
	e = tracer__set_mark_fd(s->t, (pid_t)x.pid, x.fd, x.log_capture != 0);
	reply_err(c, &m->hdr, e, e ? SVC_KERNEL : SVC_OK);
}

static int dup_usdt(struct svc *s, const struct stat *st)
{
	for (int i = 0; i < s->nusdt; i++)
		if (s->usdt[i].dev == st->st_dev && s->usdt[i].ino == st->st_ino)
			return i;
	return -1;
}

static bool no_notes(struct svc *s, const struct stat *st)
{
	for (int i = 0; i < NONOTES; i++)
		if (s->nonotes[i].ino == st->st_ino && s->nonotes[i].dev == st->st_dev &&
		    st->st_ino)
			return true;
	return false;
}

/* Runs the path lookups of attaching a binary's marks as the client's
 * user (fs ids): it reaches only what the user may read, and a FUSE mount
 * of the user's answers a stranger (us) with EACCES at once. */
static int attach_as(struct svc *s, struct conn *c, const char *path, struct stat *st,
		     bool full)
{
	int e;

	setfsgid(c->peer.gid);
	setfsuid(c->peer.uid);
	if (stat(path, st) || !S_ISREG(st->st_mode))
		e = -ENOENT;
	else if (dup_usdt(s, st) >= 0)
		e = 1;		/* attached already (a campaign's next run) */
	else if (no_notes(s, st))
		e = -ENOENT;
	else if (full)
		e = -E2BIG;
	else
		e = tracer__attach_marks(s->t, path);
	setfsuid(0);
	setfsgid(0);
	return e;
}

static void do_marks(struct svc *s, struct conn *c, const struct wire_msg *m)
{
	struct stat st;
	int n = 0, e;

	if (!c->ngroups) {
		reply_err(c, &m->hdr, -EINVAL, SVC_ORDER);
		return;
	}
	memset(&st, 0, sizeof(st));
	for (int i = 0; i < s->nusdt; i++)
		n += s->usdt[i].uid == c->peer.uid;
	e = attach_as(s, c, m->payload, &st, n >= USER_USDT_MAX ||
		      s->nusdt == (int)(sizeof(s->usdt) / sizeof(s->usdt[0])));
	if (e == 1) {
		reply_err(c, &m->hdr, 0, SVC_OK);
		return;
	}
	if (e == -ENOENT) {
		/* no probes (or not a file of its): remembered, not parsed again */
		if (S_ISREG(st.st_mode)) {
			s->nonotes[s->nonotes_next % NONOTES].dev = st.st_dev;
			s->nonotes[s->nonotes_next++ % NONOTES].ino = st.st_ino;
		}
		reply_err(c, &m->hdr, -ENOENT, SVC_OK);
		return;
	}
	if (!e) {
		s->usdt[s->nusdt].dev = st.st_dev;
		s->usdt[s->nusdt].ino = st.st_ino;
		s->usdt[s->nusdt++].uid = c->peer.uid;
	}
	reply_err(c, &m->hdr, e, e == -E2BIG ? SVC_LIMIT : SVC_OK);
}

static void do_attach(struct svc *s, struct conn *c, const struct wire_msg *m)
{
	struct wire_attach a;
	struct {
		struct wire_attach_ok ok;
		struct wire_status pid[WIRE_MAX_ATTACH];
	} out = {};
	pid_t pids[WIRE_MAX_ATTACH], take[WIRE_MAX_ATTACH];
	bool no_mm[WIRE_MAX_ATTACH];
	struct gslot *g;

	memcpy(&a, m->payload, sizeof(a));
	if (!(g = own(s, c, m, a.group)))
		return;
	if (!iter_allowed(s, c->peer.uid)) {
		reply_err(c, &m->hdr, -EAGAIN, SVC_LIMIT);
		return;
	}
	if (g->launched) {
		reply_err(c, &m->hdr, -EINVAL, SVC_ORDER);
		return;
	}
	g->launched = true;
	out.ok.n = a.n;
	for (uint32_t i = 0; i < a.n; i++) {
		struct wire_status *st = &out.pid[i];
		struct svc_facts f;
		int e;

		memcpy(&pids[i], (const char *)m->payload + sizeof(a) + i * sizeof(uint32_t),
		       sizeof(uint32_t));
		e = svc_facts(pids[i], &f);
		st->why = e || pids[i] <= 0 ? SVC_GONE : svc_may_trace(&f, &c->peer);
		st->status = st->why == SVC_OK ? 0 : st->why == SVC_GONE ? -ESRCH : -EPERM;
	}
	/* one snapshot (one pass over the machine's tasks) for them all; the
	 * kernel checks each again as it takes it (a PID reused meanwhile by
	 * another user's process is refused there). All or none when one is
	 * traced already: those are found and the rest taken again. */
	for (int round = 0; round < 2; round++) {
		uint32_t k = 0;
		int e;

		for (uint32_t i = 0; i < a.n; i++)
			if (!out.pid[i].status)
				take[k++] = pids[i];
		if (!k)
			break;
		e = tracer__attach_pids(s->t, take, (int)k, a.group, no_mm);
		if (e == -EBUSY && round == 0) {
			for (uint32_t i = 0; i < a.n; i++) {
				struct mt_proc p;

				if (!out.pid[i].status && !tracer__proc(s->t, pids[i], &p))
					out.pid[i] = (struct wire_status){ -EBUSY, SVC_BUSY };
			}
			continue;
		}
		for (uint32_t i = 0, j = 0; i < a.n; i++) {
			if (out.pid[i].status)
				continue;
			if (e)
				out.pid[i] = (struct wire_status){ e, e == -EBUSY ? SVC_BUSY : SVC_KERNEL };
			else if (no_mm[j])
				/* the kernel refused it (its ids at the snapshot), or it
				 * exited meanwhile */
				out.pid[i] = (struct wire_status){ -EPERM, SVC_KERNEL };
			j++;
		}
		break;
	}
	reply(c, &m->hdr, &out, sizeof(out.ok) + a.n * sizeof(out.pid[0]));
}

static void do_group(struct svc *s, struct conn *c, const struct wire_msg *m)
{
	struct wire_group x;
	struct wire_group_ok ok = {};
	struct gslot *g;

	memcpy(&x, m->payload, sizeof(x));
	if (!(g = own(s, c, m, x.group)))
		return;
	tracer__group(s->t, x.group, &ok.group);
	ok.group.lost += g->dropped;
	reply(c, &m->hdr, &ok, sizeof(ok));
}

static void do_pids(struct svc *s, struct conn *c, const struct wire_msg *m)
{
	static struct {
		struct wire_pids_ok ok;
		uint32_t pid[WIRE_MAX_PIDS];
	} out;
	pid_t pids[WIRE_MAX_PIDS];
	struct wire_group x;
	size_t n;

	memcpy(&x, m->payload, sizeof(x));
	if (!own(s, c, m, x.group))
		return;
	if (!iter_allowed(s, c->peer.uid)) {	/* a walk of every procs entry */
		reply_err(c, &m->hdr, -EAGAIN, SVC_LIMIT);
		return;
	}
	n = tracer__group_pids(s->t, x.group, pids, WIRE_MAX_PIDS);
	memset(&out.ok, 0, sizeof(out.ok));
	out.ok.n = (uint32_t)n;
	for (size_t i = 0; i < n; i++)
		out.pid[i] = (uint32_t)pids[i];
	reply(c, &m->hdr, &out, sizeof(out.ok) + n * sizeof(uint32_t));
}

struct final_ctx {
	struct conn *c;
	uint32_t group, total;
	struct {
		struct wire_final_procs h;
		struct wire_final_proc p[WIRE_MAX_FINAL];
	} msg;
};

static void final_put(struct final_ctx *f, pid_t pid, uint32_t kind, const struct mt_proc *p)
{
	if (f->msg.h.n == WIRE_MAX_FINAL) {
		conn_put(f->c, false, qmsg_new(WIRE_FINAL_PROCS, 0, &f->msg,
					       sizeof(f->msg.h) + f->msg.h.n * sizeof(f->msg.p[0]),
					       NULL, 0));
		f->msg.h.n = 0;
	}
	f->msg.p[f->msg.h.n++] = (struct wire_final_proc){ .pid = (uint32_t)pid, .kind = kind,
							   .proc = *p };
	f->total++;
}

static int final_exited(void *ctx, pid_t pid, const struct mt_proc *p)
{
	struct final_ctx *f = ctx;

	if (p->group == f->group)
		final_put(f, pid, WIRE_PROC_EXITED, p);
	return 0;
}

/* The kernel's final state of the client's group: its live processes
 * (faults folded), and the exits whose records it did not get. */
static void do_final(struct svc *s, struct conn *c, const struct wire_msg *m)
{
	static struct final_ctx f;
	static pid_t pids[WIRE_MAX_PIDS];
	struct wire_final_ok ok = {};
	struct wire_group x;
	size_t n;

	memcpy(&x, m->payload, sizeof(x));
	if (!own(s, c, m, x.group))
		return;
	if (!iter_allowed(s, c->peer.uid)) {
		reply_err(c, &m->hdr, -EAGAIN, SVC_LIMIT);
		return;
	}
	memset(&f.msg.h, 0, sizeof(f.msg.h));
	f.c = c;
	f.group = x.group;
	f.total = 0;
	ok.st.status = tracer__fold_faults(s->t);
	n = tracer__group_pids(s->t, x.group, pids, WIRE_MAX_PIDS);
	for (size_t i = 0; i < n; i++) {
		struct mt_proc p;

		if (!tracer__proc(s->t, pids[i], &p) && p.group == x.group)
			final_put(&f, pids[i], WIRE_PROC_LIVE, &p);
	}
	tracer__each_exited(s->t, final_exited, &f);
	if (f.msg.h.n)
		conn_put(c, false, qmsg_new(WIRE_FINAL_PROCS, 0, &f.msg,
					    sizeof(f.msg.h) + f.msg.h.n * sizeof(f.msg.p[0]), NULL, 0));
	ok.total = f.total;
	reply(c, &m->hdr, &ok, sizeof(ok));
}

static void do_give_back(struct svc *s, struct conn *c, const struct wire_msg *m)
{
	struct wire_group x;

	memcpy(&x, m->payload, sizeof(x));
	if (!own(s, c, m, x.group))
		return;
	release(s, x.group);
	reply_err(c, &m->hdr, 0, SVC_OK);
}

/* Root hands the connection to a user (a Slurm node's helper, which then
 * drops to that user and launches nothing itself: slurmstepd forks the
 * tasks). From now on it is that user's for every rule and limit. */
static void do_bind(struct svc *s, struct conn *c, const struct wire_msg *m)
{
	struct wire_bind b;
	uint32_t same = 0;

	memcpy(&b, m->payload, sizeof(b));
	if (c->peer.uid != 0 || c->vouched) {
		reply_err(c, &m->hdr, -EPERM, SVC_ROOT);
		return;
	}
	if (b.uid == 0 || b.uid == (uint32_t)-1 || b.gid == (uint32_t)-1 || c->ngroups) {
		reply_err(c, &m->hdr, -EINVAL, SVC_ORDER);
		return;
	}
	for (size_t i = 0; i < s->nconns; i++)
		same += s->conns[i]->peer.uid == b.uid;
	if (same >= s->o->user_clients) {
		reply_err(c, &m->hdr, -EDQUOT, SVC_LIMIT);
		return;
	}
	c->peer.uid = b.uid;
	c->peer.gid = b.gid;
	c->peer.cap_prm = 0;
	c->vouched = true;
	say("uid=0 pid=%d bound to uid=%u gid=%u", c->peer.pid, b.uid, b.gid);
	reply_err(c, &m->hdr, 0, SVC_OK);
}

static void do_stats(struct svc *s, struct conn *c, const struct wire_msg *m)
{
	struct wire_stats_ok ok = {};

	tracer__cost(s->t, &ok.cost);
	tracer__ring_counts(s->t, &ok.ring_records, &ok.ring_windows);
	ok.lost = c->dropped;
	for (uint32_t i = 0; i < MT_MAX_GROUPS; i++) {
		struct mt_group g;

		if (s->g[i].c != c)
			continue;
		tracer__group(s->t, i, &g);
		ok.lost += g.lost;
		ok.untraced += g.untraced;
	}
	reply(c, &m->hdr, &ok, sizeof(ok));
}

static uint32_t count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	uint32_t n = 0;

	if (!d)
		return 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n > 3 ? n - 3 : 0;	/* ., .. and the directory's own */
}

/* --metrics: each run's figures (a family's samples, one a run: uid, run,
 * client_pid), then the service's own. */
static void metrics_text(struct svc *s, FILE *f)
{
	/* each run's group read once: one moment for all its figures (the
	 * service's one loop: no other caller) */
	static struct { uint32_t idx; uint64_t v[PROM_NRUN]; } rows[MT_MAX_GROUPS];
	uint64_t rss_kb = 0, queued = 0, page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint32_t runs = 0;

	for (uint32_t i = 0; i < MT_MAX_GROUPS; i++) {
		struct mt_group g;
		uint64_t *v = rows[runs].v;

		if (!s->g[i].c)
			continue;
		tracer__group(s->t, i, &g);
		rows[runs++].idx = i;
		v[PROM_RSS] = (uint64_t)(g.tree_pages > 0 ? g.tree_pages : 0) * page;
		v[PROM_PEAK] = g.tree_peak_pages * page;
		v[PROM_PROCESSES] = g.live;
		v[PROM_EVENTS] = s->g[i].routed;
		v[PROM_LOST] = g.lost + s->g[i].dropped;
		v[PROM_ALERTS] = (uint64_t)__builtin_popcount(g.guard.alerts_fired);
		v[PROM_SIGNALS] = g.guard.signals_sent;
	}
	for (int k = 0; k < PROM_NRUN; k++) {
		prom_head(f, prom_run[k].name, prom_run[k].type, prom_run[k].help);
		for (uint32_t j = 0; j < runs; j++) {
			const struct gslot *g = &s->g[rows[j].idx];
			char uid[16], run[16], pid[16];
			struct prom_label l[] = { { "uid", uid }, { "run", run },
						  { "client_pid", pid } };

			snprintf(uid, sizeof(uid), "%u", g->uid);
			snprintf(run, sizeof(run), "%u", rows[j].idx);
			snprintf(pid, sizeof(pid), "%d", (int)g->c->peer.pid);
			prom_sample(f, prom_run[k].name, l, 3, rows[j].v[k]);
		}
	}
	for (size_t i = 0; i < s->nconns; i++)
		queued += s->conns[i]->qbytes + s->conns[i]->rbytes;
	proc_memory(getpid(), false, &rss_kb, NULL, 0);
	prom_head(f, "memtrace_service_clients", "gauge", "Clients connected to the service.");
	prom_sample(f, "memtrace_service_clients", NULL, 0, s->nconns);
	prom_head(f, "memtrace_service_runs", "gauge", "Runs the service traces now.");
	prom_sample(f, "memtrace_service_runs", NULL, 0, runs);
	prom_head(f, "memtrace_service_processes", "gauge", "Processes the service traces now, all runs.");
	prom_sample(f, "memtrace_service_processes", NULL, 0, tracer__count_procs(s->t));
	prom_head(f, "memtrace_service_queued_bytes", "gauge", "Bytes queued for clients that read slowly.");
	prom_sample(f, "memtrace_service_queued_bytes", NULL, 0, queued);
	prom_head(f, "memtrace_service_dropped_records_total", "counter", "Records dropped because a client's queue was full, all runs.");
	prom_sample(f, "memtrace_service_dropped_records_total", NULL, 0, s->dropped);
	prom_head(f, "memtrace_service_resident_memory_bytes", "gauge", "The service's own resident memory.");
	prom_sample(f, "memtrace_service_resident_memory_bytes", NULL, 0, rss_kb * 1024);
}

static void metrics_tick(struct svc *s, uint64_t now)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int e;

	if ((!s->o->metrics_path && !s->o->metrics_http) || s->metrics_failed ||
	    now < s->next_metrics_ns)
		return;
	s->next_metrics_ns = now + 1000000000ULL;
	f = open_memstream(&buf, &len);
	if (!f)
		return;
	metrics_text(s, f);
	if (fclose(f)) {
		free(buf);
		return;
	}
	if ((e = prom_publish(s->o->metrics_path, s->o->metrics_http, buf, len))) {
		s->metrics_failed = true;
		say("writing the metrics file %s failed: %s; it stops here", s->o->metrics_path,
		    strerror(-e));
	}
	free(buf);
}

static void do_status(struct svc *s, struct conn *c, const struct wire_msg *m)
{
	struct wire_status_ok ok = {};

	if (c->peer.uid != 0) {
		reply_err(c, &m->hdr, -EPERM, SVC_ROOT);
		return;
	}
	ok.clients = (uint32_t)s->nconns;
	for (uint32_t i = 0; i < MT_MAX_GROUPS; i++)
		ok.groups += s->g[i].c != NULL;
	ok.procs = (uint32_t)tracer__count_procs(s->t);
	ok.usdt = (uint32_t)s->nusdt;
	for (size_t i = 0; i < s->nconns; i++)
		ok.queue_bytes += s->conns[i]->qbytes + s->conns[i]->rbytes;
	ok.dropped = s->dropped;
	ok.served = s->served;
	proc_memory(getpid(), false, &ok.rss_kb, NULL, 0);
	ok.fds = count_fds();
	reply(c, &m->hdr, &ok, sizeof(ok));
}

/* ---- clients ---- */

static void conn_close(struct svc *s, struct conn *c, const char *how)
{
	for (uint32_t i = 0; i < MT_MAX_GROUPS && c->ngroups; i++)
		if (s->g[i].c == c)
			release(s, i);
	say("uid=%u pid=%d disconnected (%s) requests=%" PRIu64 " dropped=%" PRIu64,
		    c->peer.uid, c->peer.pid, how, c->nreq, c->dropped);
	s->qtotal -= c->qbytes;
	epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (s->listen_paused) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_LISTEN };

		if (!epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lfd, &ev))
			s->listen_paused = false;
	}
	q_free(&c->uq);
	q_free(&c->q);
	free(c->recs);
	for (size_t i = 0; i < s->nconns; i++) {
		if (s->conns[i] == c) {
			s->conns[i] = s->conns[--s->nconns];
			break;
		}
	}
	free(c);
}

/* A namespace of a process, as its link's text ("pid:[4026531836]"). */
static void ns_of(const char *pid, const char *ns, char *out, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%s/ns/%s", pid, ns);
	n = readlink(path, out, len - 1);
	out[n > 0 ? n : 0] = 0;
}

static void accept_one(struct svc *s)
{
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	struct svc_facts f;
	struct epoll_event ev = { .events = EPOLLIN };
	struct conn *c;
	char ns[64], mnt[64], user[64], pid[16];
	uint32_t same = 0;
	int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0) {
		/* out of fds: the listening socket would stay readable and the
		 * loop spin; it waits instead until a client goes */
		if ((errno == EMFILE || errno == ENFILE) && !s->listen_paused) {
			say("out of file descriptors with %zu clients: accepting again when one "
			    "goes", s->nconns);
			epoll_ctl(s->ep, EPOLL_CTL_DEL, s->lfd, NULL);
			s->listen_paused = true;
		}
		return;
	}
	/* who it is, from the kernel (at connect), never from a message */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) || cr.pid <= 0) {
		close(fd);
		return;
	}
	for (size_t i = 0; i < s->nconns; i++)
		same += s->conns[i]->peer.uid == cr.uid;
	snprintf(pid, sizeof(pid), "%d", cr.pid);
	ns_of(pid, "pid", ns, sizeof(ns));
	ns_of(pid, "mnt", mnt, sizeof(mnt));
	ns_of(pid, "user", user, sizeof(user));
	if (s->nconns == MAX_CLIENTS || same >= s->o->user_clients) {
		say("uid=%u pid=%d refused: %s", cr.uid, cr.pid,
		    s->nconns == MAX_CLIENTS ? "too many clients" : "over --user-clients");
		close(fd);
		return;
	}
	/* its PIDs and paths must be ours: records name PIDs as the service
	 * sees them, and a binary's path is looked up in our mounts */
	if (strcmp(ns, s->pidns) || strcmp(mnt, s->mntns)) {
		say("uid=%u pid=%d refused: in another %s namespace", cr.uid, cr.pid,
		    strcmp(ns, s->pidns) ? "PID" : "mount");
		close(fd);
		return;
	}
	/* the process behind the socket: its capabilities bound what its
	 * processes may hold; a set-id client (ids not all one) is refused */
	if (svc_facts(cr.pid, &f) || f.uid[0] != cr.uid || f.uid[1] != cr.uid ||
	    f.uid[2] != cr.uid || f.gid[0] != cr.gid || f.gid[1] != cr.gid ||
	    f.gid[2] != cr.gid) {
		say("uid=%u pid=%d refused: its ids are not one user's (set-id?), or it is gone",
		    cr.uid, cr.pid);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->fd = fd;
	/* capabilities held in a user namespace of its own (unshare -U)
	 * are nothing in ours: they let it trace no capable process */
	c->peer = (struct svc_peer){ .pid = cr.pid, .uid = cr.uid, .gid = cr.gid,
				     .cap_prm = strcmp(user, s->userns) ? 0 : f.cap_prm };
	{
		/* room for a few full RECS messages in the socket */
		int sz = 1 << 20;

		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
	ev.data.ptr = c;
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev)) {
		close(fd);
		free(c);
		return;
	}
	s->conns[s->nconns++] = c;
	s->served++;
	say("uid=%u pid=%d connected", cr.uid, cr.pid);
}

/* One datagram from c. false: the client is to go (EOF, error, a
 * malformed message). */
static bool serve_one(struct svc *s, struct conn *c)
{
	static char buf[WIRE_MAX_MSG + 1];
	union {
		char b[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
			     .msg_controllen = sizeof(cm.b) };
	int fds[4], nfds = 0, e;
	struct wire_msg m;
	char why[160];
	ssize_t n;
	bool keep = true;

	/* one request at a time, its reply read before the next: a client
	 * that sends on without reading is not let to grow our memory */
	if (c->rbytes > REPLIES_MAX) {
		say("uid=%u pid=%d sends requests without reading the replies (%zu bytes "
		    "waiting); disconnected", c->peer.uid, c->peer.pid, c->rbytes);
		return false;
	}
	n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0)
		return false;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h)) {
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
			size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < k; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
				if (nfds < 4)
					fds[nfds++] = fd;
				else
					close_later(fd);
			}
		}
	}
	c->nreq++;
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || n > WIRE_MAX_MSG) {
		snprintf(why, sizeof(why), "a message cut short (over %d bytes, or fds)",
			 WIRE_MAX_MSG);
		e = -EPROTO;
	} else {
		e = wire__check_request(buf, (size_t)n, nfds, &m, why, sizeof(why));
	}
	if (!e && !c->hello && m.hdr.type != WIRE_HELLO) {
		snprintf(why, sizeof(why), "request type %u before HELLO", m.hdr.type);
		e = -EPROTO;
	}
	if (e) {
		say("uid=%u pid=%d protocol error: %s; disconnected", c->peer.uid, c->peer.pid,
		    why);
		keep = false;
		goto out;
	}
	switch (m.hdr.type) {
	case WIRE_HELLO:		do_hello(s, c, &m); break;
	case WIRE_GROUP_TAKE:		do_take(s, c, &m); break;
	case WIRE_GROUP_GUARD:		do_guard(s, c, &m); break;
	case WIRE_EXPECT_EXEC:		do_expect(s, c, &m); break;
	case WIRE_SET_MARK_FD:		do_mark_fd(s, c, &m); break;
	case WIRE_ATTACH_MARKS:		do_marks(s, c, &m); break;
	case WIRE_ATTACH:		do_attach(s, c, &m); break;
	case WIRE_GROUP_GET:		do_group(s, c, &m); break;
	case WIRE_GROUP_PIDS:		do_pids(s, c, &m); break;
	case WIRE_FINAL_STATE:		do_final(s, c, &m); break;
	case WIRE_GROUP_GIVE_BACK:	do_give_back(s, c, &m); break;
	case WIRE_FLUSH:
		c->flush_seq = m.hdr.seq;
		c->flush_at = mono_ns();
		break;
	case WIRE_STATS:		do_stats(s, c, &m); break;
	case WIRE_STATUS:		do_status(s, c, &m); break;
	case WIRE_BIND_USER:		do_bind(s, c, &m); break;
	}
out:
	for (int i = 0; i < nfds; i++)
		close_later(fds[i]);
	return keep;
}

static int listen_add(struct svc *s, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev);
}

int svc__run(struct tracer *t, int listen_fd, const struct svc_opts *o)
{
	static struct svc sv;
	struct svc *s = &sv;
	struct itimerspec its = { .it_interval = { 0, DRAIN_MS * 1000000L },
				  .it_value = { 0, DRAIN_MS * 1000000L } };
	sigset_t sigs;
	int e = 0;

	memset(s, 0, sizeof(*s));
	if ((e = closer_start())) {
		say("cannot start its fd closer thread: %s", strerror(-e));
		return e;
	}
	s->t = t;
	s->o = o;
	s->lfd = listen_fd;
	ns_of("self", "pid", s->pidns, sizeof(s->pidns));
	ns_of("self", "mnt", s->mntns, sizeof(s->mntns));
	ns_of("self", "user", s->userns, sizeof(s->userns));
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	s->sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (s->ep < 0 || s->sfd < 0 || s->tfd < 0 || timerfd_settime(s->tfd, 0, &its, NULL) ||
	    listen_add(s, listen_fd, EV_LISTEN) || listen_add(s, tracer__poll_fd(t), EV_RING) ||
	    listen_add(s, s->tfd, EV_TIMER) || listen_add(s, s->sfd, EV_SIGNAL)) {
		e = -errno;
		say("cannot set up its event loop: %s", strerror(errno));
		goto out;
	}
	while (!s->stop) {
		struct epoll_event ev[64];
		bool drained = false;
		int n = epoll_wait(s->ep, ev, 64, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			e = -errno;
			say("waiting for events failed: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			uint64_t tag = ev[i].data.u64;

			if (tag == EV_LISTEN) {
				accept_one(s);
			} else if (tag == EV_RING || tag == EV_TIMER) {
				uint64_t x;

				if (tag == EV_TIMER && read(s->tfd, &x, sizeof(x)) < 0)
					(void)0;
				if (tag == EV_TIMER)
					metrics_tick(s, mono_ns());
				if (!drained)
					drain(s);
				drained = true;
			} else if (tag == EV_SIGNAL) {
				struct signalfd_siginfo si;

				if (read(s->sfd, &si, sizeof(si)) == sizeof(si))
					say("signal %u: stopping", si.ssi_signo);
				s->stop = true;
			} else {
				struct conn *c = ev[i].data.ptr;
				bool alive = true;

				/* a conn closed earlier in this batch is not
				 * looked at again */
				for (size_t k = 0; k < s->nconns && alive; k++)
					if (s->conns[k] == c)
						goto found;
				continue;
found:
				if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
					alive = serve_one(s, c);
				if (alive && conn_send(s, c))
					alive = false;
				if (!alive)
					conn_close(s, c, "eof");
			}
		}
	}
	/* every client told, every group released */
	while (s->nconns) {
		struct conn *c = s->conns[0];
		struct wire_bye bye = {};

		q_free(&c->q);
		s->qtotal -= c->qbytes;
		c->qbytes = c->rbytes = 0;
		conn_put(c, true, qmsg_new(WIRE_BYE, 0, &bye, sizeof(bye), NULL, 0));
		conn_send(s, c);
		conn_close(s, c, "shutdown");
	}
out:
	if (s->ep >= 0)
		close(s->ep);
	if (s->sfd >= 0)
		close(s->sfd);
	if (s->tfd >= 0)
		close(s->tfd);
	return e;
}
