// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include "lib/files.h"
#include "service/check.h"
#include "trace/remote.h"

/* A message kept for later: what came while a request waited for its
 * reply, handed on by the next poll in the order it came. */
struct inmsg {
	size_t len;
	char *buf;
};

struct remote_tracer {
	struct tracer base;	/* first */
	int fd;
	uint32_t seq;
	bool follow;
	int err;		/* the connection failed: every call says so */
	uint64_t released_ns, hold_ns, ring_bytes;
	struct inmsg *in;
	size_t nin, inhead, incap;
	/* FINAL_STATE's answers: the kernel's state of the groups' processes */
	struct wire_final_proc *fin;
	size_t nfin, capfin;
	bool held[MT_MAX_GROUPS];
	struct mt_group last[MT_MAX_GROUPS];	/* kept if the service goes */
	struct wire_stats_ok stats;
	char why[320];
};

static const struct tracer_ops remote_ops;
static char buf_[WIRE_MAX_MSG + 1];	/* one process, one client */
static char cur_[WIRE_MAX_MSG + 1];	/* the message being handed on */

const char *remote__socket_path(void)
{
	const char *p = getenv("MEMTRACE_SOCKET");

	return p && *p ? p : SVC_DEFAULT_SOCKET;
}

bool remote__present(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISSOCK(st.st_mode);
}

static int lost(struct remote_tracer *t, int e)
{
	if (!t->err) {
		t->err = e;
		snprintf(t->why, sizeof(t->why), "the memtrace-bpf service went away "
			 "(stopped or restarted?): %s", strerror(-e));
	}
	return t->err;
}

static int xsend(struct remote_tracer *t, uint16_t type, const void *p, size_t len)
{
	static char out[WIRE_MAX_MSG];
	long n = wire__put(out, sizeof(out), type, ++t->seq ? t->seq : ++t->seq, p, len);

	if (n < 0)
		return (int)n;
	while (send(t->fd, out, (size_t)n, MSG_NOSIGNAL) < 0) {
		if (errno != EINTR)
			return lost(t, -errno);
	}
	return 0;
}

/* One message into buf_, waiting up to timeout_ms (-1: for ever). Its
 * length, 0 when none came in time, or -errno. */
static long xrecv(struct remote_tracer *t, int timeout_ms, struct wire_msg *m)
{
	struct pollfd p = { .fd = t->fd, .events = POLLIN };
	char why[128];
	ssize_t n;
	int e;

	for (;;) {
		e = poll(&p, 1, timeout_ms);
		if (e < 0 && errno == EINTR)
			continue;
		if (e <= 0)
			return e < 0 ? lost(t, -errno) : 0;
		n = recv(t->fd, buf_, sizeof(buf_), MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0)
			return lost(t, -errno);
		if (n == 0)
			return lost(t, -EPIPE);
		break;
	}
	if (wire__check_reply(buf_, (size_t)n, 0, m, why, sizeof(why))) {
		lost(t, -EPROTO);
		snprintf(t->why, sizeof(t->why), "the memtrace-bpf service sent a malformed "
			 "message (%s): a client and service of different versions?", why);
		return -EPROTO;
	}
	if (m->hdr.type == WIRE_BYE) {
		lost(t, -EPIPE);
		snprintf(t->why, sizeof(t->why), "the memtrace-bpf service stopped");
		return -EPIPE;
	}
	return n;
}

static void fin_add(struct remote_tracer *t, const struct wire_msg *m)
{
	struct wire_final_procs h;
	const struct wire_final_proc *p;

	if (m->len < sizeof(h))
		return;
	memcpy(&h, m->payload, sizeof(h));
	if (h.n > WIRE_MAX_FINAL || m->len != sizeof(h) + h.n * sizeof(*p))
		return;
	p = (const void *)((const char *)m->payload + sizeof(h));
	for (uint32_t i = 0; i < h.n; i++) {
		if (t->nfin == t->capfin) {
			size_t cap = t->capfin ? t->capfin * 2 : 256;
			void *v = realloc(t->fin, cap * sizeof(*t->fin));

			if (!v)
				return;
			t->fin = v;
			t->capfin = cap;
		}
		memcpy(&t->fin[t->nfin++], &p[i], sizeof(*p));
	}
}

/* A request and its reply (its payload, status first, into out: at most
 * outlen bytes, *got of them). What comes meanwhile is kept for poll.
 * The reply's status (0 or -errno); its why in t->why when refused. */
static int request(struct remote_tracer *t, uint16_t type, const void *p, size_t len,
		   void *out, size_t outlen, size_t *got)
{
	uint32_t seq;
	int e;

	if (t->err)
		return t->err;
	if ((e = xsend(t, type, p, len)))
		return e;
	seq = t->seq;
	for (;;) {
		struct wire_msg m;
		long n = xrecv(t, -1, &m);

		if (n < 0)
			return (int)n;
		if (m.hdr.type == (type | WIRE_REPLY) && m.hdr.seq == seq) {
			struct wire_status st;
			size_t k = m.len < outlen ? m.len : outlen;

			memcpy(&st, m.payload, sizeof(st));
			if (out) {
				memset(out, 0, outlen);
				memcpy(out, m.payload, k);
			}
			if (got)
				*got = k;
			if (st.status && st.why)
				snprintf(t->why, sizeof(t->why), "%s",
					 svc_why_text((enum svc_why)st.why));
			return st.status;
		}
		if (m.hdr.type & WIRE_REPLY) {
			lost(t, -EPROTO);
			snprintf(t->why, sizeof(t->why), "the memtrace-bpf service answered "
				 "another request");
			return -EPROTO;
		}
		if (m.hdr.type == WIRE_FINAL_PROCS) {
			fin_add(t, &m);
			continue;
		}
		if (t->nin == t->incap) {
			size_t cap = t->incap ? t->incap * 2 : 16;
			void *v = realloc(t->in, cap * sizeof(*t->in));

			if (!v)
				return lost(t, -ENOMEM);
			t->in = v;
			t->incap = cap;
		}
		t->in[t->nin].len = (size_t)n;
		if (!(t->in[t->nin].buf = malloc((size_t)n)))
			return lost(t, -ENOMEM);
		memcpy(t->in[t->nin++].buf, buf_, (size_t)n);
	}
}

static int req_simple(struct remote_tracer *t, uint16_t type, const void *p, size_t len)
{
	return request(t, type, p, len, NULL, 0, NULL);
}

/* A request that runs a task iterator in the service, which paces each
 * user's (EAGAIN: over the rate): asked again a little later. */
static int request_paced(struct remote_tracer *t, uint16_t type, const void *p, size_t len,
			 void *out, size_t outlen)
{
	for (int i = 0;; i++) {
		int e = request(t, type, p, len, out, outlen, NULL);

		if (e != -EAGAIN || i == 200)
			return e;
		usleep(10000);
	}
}

/* ---- records ---- */

/* One unasked message: records to fn in their order, a guard's or an
 * alert's at once to urgent. */
static int handle(struct remote_tracer *t, const struct wire_msg *m, tracer_rec_fn fn,
		  tracer_rec_fn urgent, void *ctx)
{
	if (m->hdr.type == WIRE_URGENT) {
		struct mt_rec r;

		memcpy(&r, m->payload, sizeof(r));
		return urgent ? urgent(ctx, &r) : 0;
	}
	if (m->hdr.type == WIRE_RECS) {
		struct wire_recs h;
		int e = 0;

		memcpy(&h, m->payload, sizeof(h));
		for (uint32_t i = 0; i < h.n && !e; i++) {
			struct mt_rec r;

			memcpy(&r, (const char *)m->payload + sizeof(h) + i * sizeof(r), sizeof(r));
			if (!t->held[r.group & (MT_MAX_GROUPS - 1)])
				continue;	/* a group given back already */
			e = fn(ctx, &r);
		}
		if (h.released_ns > t->released_ns && t->released_ns != UINT64_MAX)
			t->released_ns = h.released_ns;
		return e;
	}
	if (m->hdr.type == WIRE_FINAL_PROCS)
		fin_add(t, m);
	return 0;
}

/* The next kept message, taken out of the inbox; false: none. */
static bool inbox_next(struct remote_tracer *t, struct wire_msg *m, char **owned)
{
	while (t->inhead < t->nin) {
		struct inmsg im = t->in[t->inhead++];

		/* checked when it came */
		if (!wire__check_reply(im.buf, im.len, 0, m, NULL, 0)) {
			*owned = im.buf;
			return true;
		}
		free(im.buf);
	}
	t->inhead = t->nin = 0;
	return false;
}

static int remote_poll(struct tracer *base, int timeout_ms, bool final, tracer_rec_fn fn,
		       tracer_rec_fn urgent, void *ctx)
{
	struct remote_tracer *t = (struct remote_tracer *)base;
	struct wire_flush_ok ok;
	int e = 0, budget = 256;
	char *owned = NULL;
	struct wire_msg m;

	if (final) {
		/* every record up to now: the service answers once its
		 * release passed this moment, after the records */
		e = request(t, WIRE_FLUSH, NULL, 0, &ok, sizeof(ok), NULL);
		while (!e && inbox_next(t, &m, &owned)) {
			e = handle(t, &m, fn, urgent, ctx);
			free(owned);
		}
		if (!e)
			t->released_ns = UINT64_MAX;
		return e ? e : t->err;
	}
	while (budget-- > 0 && !e) {
		if (inbox_next(t, &m, &owned)) {
			e = handle(t, &m, fn, urgent, ctx);
			free(owned);
			owned = NULL;
			continue;
		}
		if (t->err)
			return t->err;
		long n = xrecv(t, timeout_ms, &m);

		timeout_ms = 0;	/* then what is there, no more waiting */
		if (n <= 0)
			return (int)n;
		if (m.hdr.type & WIRE_REPLY)
			return lost(t, -EPROTO);
		/* handed on from a copy: a request made by fn (the guard's)
		 * receives into buf_ */
		memcpy(cur_, buf_, (size_t)n);
		m.payload = cur_ + sizeof(m.hdr);
		e = handle(t, &m, fn, urgent, ctx);
	}
	return e < 0 ? e : 0;
}

/* ---- the tracer ops ---- */

static void remote_destroy(struct tracer *base)
{
	struct remote_tracer *t = (struct remote_tracer *)base;

	if (t->fd >= 0)
		close(t->fd);	/* the service releases what we held */
	for (size_t i = t->inhead; i < t->nin; i++)
		free(t->in[i].buf);
	free(t->in);
	free(t->fin);
	free(t);
}

static int remote_expect_exec(struct tracer *base, pid_t pid, uint32_t group)
{
	struct remote_tracer *t = (struct remote_tracer *)base;
	struct wire_expect x = { .group = group, .pid = (uint32_t)pid };

	/* the service checks the child is ours (its parent, its ids) through
	 * a pidfd of its own */
	return req_simple(t, WIRE_EXPECT_EXEC, &x, sizeof(x));
}

static int remote_attach_marks(struct tracer *base, const char *binary)
{
	struct remote_tracer *t = (struct remote_tracer *)base;
	char path[4096], *real;
	int e;

	if (exec_path(binary, path, sizeof(path)) || !(real = realpath(path, NULL)))
		return -ENOENT;
	/* the service opens it as us: what we may read, where we see it */
	if (strlen(real) + 1 > WIRE_MAX_PATH)
		e = -ENAMETOOLONG;
	else
		e = req_simple(t, WIRE_ATTACH_MARKS, real, strlen(real) + 1);
	free(real);
	return e;
}

static int remote_set_mark_fd(struct tracer *base, pid_t pid, int fd, bool log_capture)
{
	struct remote_tracer *t = (struct remote_tracer *)base;
	struct wire_mark_fd x = { .pid = (uint32_t)pid, .fd = fd, .log_capture = log_capture };

	return req_simple(t, WIRE_SET_MARK_FD, &x, sizeof(x));
}

static int remote_attach_pids(struct tracer *base, const pid_t *pids, int n, uint32_t group,
			      bool *no_mm)
{
	struct remote_tracer *t = (struct remote_tracer *)base;
	struct {
		struct wire_attach a;
		uint32_t pid[WIRE_MAX_ATTACH];
	} req;
	struct {
		struct wire_attach_ok ok;
		struct wire_status pid[WIRE_MAX_ATTACH];
	} out;

	for (int i = 0; i < n; i += WIRE_MAX_ATTACH) {
		int k = n - i < WIRE_MAX_ATTACH ? n - i : WIRE_MAX_ATTACH, e;

		req.a.group = group;
		req.a.n = (uint32_t)k;
		for (int j = 0; j < k; j++)
			req.pid[j] = (uint32_t)pids[i + j];
		e = request_paced(t, WIRE_ATTACH, &req, sizeof(req.a) + (size_t)k * sizeof(uint32_t),
				  &out, sizeof(out));
		if (e)
			return e;
		for (int j = 0; j < k; j++) {
			no_mm[i + j] = false;
			if (!out.pid[j].status)
				continue;
			snprintf(t->why, sizeof(t->why), "PID %d is %s", pids[i + j],
				 svc_why_text((enum svc_why)out.pid[j].why));
			return out.pid[j].status;
		}
	}
	return 0;
}

static int remote_fold_faults(struct tracer *base)
{
	struct remote_tracer *t = (struct remote_tracer *)base;
	int e = 0;

	/* the kernel's state of each group held, fetched anew */
	t->nfin = 0;
	for (uint32_t g = 1; g < MT_MAX_GROUPS && !e; g++) {
		struct wire_group x = { .group = g };

		if (t->held[g])
			e = request_paced(t, WIRE_FINAL_STATE, &x, sizeof(x), NULL, 0);
	}
	return e;
}

static void remote_ring_counts(const struct tracer *base, uint64_t *records, uint64_t *windows)
{
	struct remote_tracer *t = (struct remote_tracer *)base;
	struct wire_stats_ok ok;

	if (!request(t, WIRE_STATS, NULL, 0, &ok, sizeof(ok), NULL))
		t->stats = ok;
	*records = t->stats.ring_records;
	*windows = t->stats.ring_windows;
}

static uint64_t remote_hold_ns(const struct tracer *base)
{
	return ((const struct remote_tracer *)base)->hold_ns;
}

static uint64_t remote_released_ns(const struct tracer *base)
{
	return ((const struct remote_tracer *)base)->released_ns;
}

static uint64_t remote_ring_bytes(const struct tracer *base)
{
	return ((const struct remote_tracer *)base)->ring_bytes;
}

static int remote_poll_fd(struct tracer *base)
{
	return ((struct remote_tracer *)base)->fd;
}

static void remote_counters(struct tracer *base, struct mt_counters *c)
{
	struct remote_tracer *t = (struct remote_tracer *)base;
	struct wire_stats_ok ok;

	if (!request(t, WIRE_STATS, NULL, 0, &ok, sizeof(ok), NULL))
		t->stats = ok;
	memset(c, 0, sizeof(*c));
	c->lost = t->stats.lost;
	c->untraced = t->stats.untraced;
}

static void remote_cost(struct tracer *base, struct mt_cost *c)
{
	struct remote_tracer *t = (struct remote_tracer *)base;
	struct wire_stats_ok ok;

	if (!request(t, WIRE_STATS, NULL, 0, &ok, sizeof(ok), NULL))
		t->stats = ok;
	*c = t->stats.cost;
}

static void remote_group(struct tracer *base, uint32_t group, struct mt_group *g)
{
	struct remote_tracer *t = (struct remote_tracer *)base;
	struct wire_group x = { .group = group };
	struct wire_group_ok ok;
	uint32_t idx = group & (MT_MAX_GROUPS - 1);

	if (!request(t, WIRE_GROUP_GET, &x, sizeof(x), &ok, sizeof(ok), NULL))
		t->last[idx] = ok.group;
	*g = t->last[idx];	/* the service gone: what it said last */
}

static int remote_group_take(struct tracer *base, uint32_t *group)
{
	struct remote_tracer *t = (struct remote_tracer *)base;
	struct wire_take x = { .flags = t->follow ? WIRE_TAKE_FOLLOW : 0 };
	struct wire_take_ok ok;
	int e = request_paced(t, WIRE_GROUP_TAKE, &x, sizeof(x), &ok, sizeof(ok));

	if (e)
		return e == -EDQUOT ? -EBUSY : e;
	if (!ok.group || ok.group >= MT_MAX_GROUPS)
		return lost(t, -EPROTO);
	t->held[ok.group] = true;
	memset(&t->last[ok.group], 0, sizeof(t->last[0]));
	*group = ok.group;
	return 0;
}

static void remote_group_guard(struct tracer *base, uint32_t group, const struct mt_guard *gd)
{
	struct remote_tracer *t = (struct remote_tracer *)base;
	struct wire_guard x = { .group = group, .guard = *gd };

	req_simple(t, WIRE_GROUP_GUARD, &x, sizeof(x));
}

static size_t remote_group_pids(struct tracer *base, uint32_t group, pid_t *pids, size_t max)
{
	struct remote_tracer *t = (struct remote_tracer *)base;
	struct wire_group x = { .group = group };
	static struct {
		struct wire_pids_ok ok;
		uint32_t pid[WIRE_MAX_PIDS];
	} out;
	size_t got = 0, n;

	if (request_paced(t, WIRE_GROUP_PIDS, &x, sizeof(x), &out, sizeof(out)))
		return 0;
	got = sizeof(out.ok) + (size_t)out.ok.n * sizeof(uint32_t);
	if (got > sizeof(out))
		return 0;
	n = out.ok.n;
	if (n > (got - sizeof(out.ok)) / sizeof(uint32_t))
		n = (got - sizeof(out.ok)) / sizeof(uint32_t);
	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++)
		pids[i] = (pid_t)out.pid[i];
	return n;
}

static void remote_group_give_back(struct tracer *base, uint32_t group)
{
	struct remote_tracer *t = (struct remote_tracer *)base;
	struct wire_group x = { .group = group };

	if (group < MT_MAX_GROUPS && t->held[group]) {
		req_simple(t, WIRE_GROUP_GIVE_BACK, &x, sizeof(x));
		t->held[group] = false;
	}
}

static int remote_proc(struct tracer *base, pid_t pid, struct mt_proc *p)
{
	struct remote_tracer *t = (struct remote_tracer *)base;

	for (size_t i = t->nfin; i-- > 0;) {
		if (t->fin[i].pid == (uint32_t)pid && t->fin[i].kind == WIRE_PROC_LIVE) {
			*p = t->fin[i].proc;
			return 0;
		}
	}
	return -ENOENT;
}

static void remote_exit_seen(struct tracer *base, pid_t pid, uint64_t exit_ts_ns)
{
	/* the service forgets it once the record is on its way to us */
	(void)base, (void)pid, (void)exit_ts_ns;
}

static int remote_each_exited(struct tracer *base,
			      int (*fn)(void *ctx, pid_t pid, const struct mt_proc *p), void *ctx)
{
	struct remote_tracer *t = (struct remote_tracer *)base;

	for (size_t i = 0; i < t->nfin; i++) {
		int e;

		if (t->fin[i].kind != WIRE_PROC_EXITED)
			continue;
		if ((e = fn(ctx, (pid_t)t->fin[i].pid, &t->fin[i].proc)))
			return e;
	}
	return 0;
}

static const char *remote_why(struct tracer *base)
{
	struct remote_tracer *t = (struct remote_tracer *)base;

	return t->why[0] ? t->why : NULL;
}

static const struct tracer_ops remote_ops = {
	.destroy = remote_destroy,
	.expect_exec = remote_expect_exec,
	.attach_marks = remote_attach_marks,
	.set_mark_fd = remote_set_mark_fd,
	.attach_pids = remote_attach_pids,
	.fold_faults = remote_fold_faults,
	.poll = remote_poll,
	.ring_counts = remote_ring_counts,
	.hold_ns = remote_hold_ns,
	.released_ns = remote_released_ns,
	.ring_bytes = remote_ring_bytes,
	.poll_fd = remote_poll_fd,
	.counters = remote_counters,
	.cost = remote_cost,
	.group = remote_group,
	.group_take = remote_group_take,
	.group_guard = remote_group_guard,
	.group_pids = remote_group_pids,
	.group_give_back = remote_group_give_back,
	.proc = remote_proc,
	.exit_seen = remote_exit_seen,
	.each_exited = remote_each_exited,
	.why = remote_why,
	.remote = true,
};

/* Connects and says hello. */
static int open_conn(struct remote_tracer *t, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct wire_hello h = { .ver_min = WIRE_VERSION, .ver_max = WIRE_VERSION,
				.sizes = { sizeof(struct mt_rec), sizeof(struct mt_group),
					   sizeof(struct mt_guard), sizeof(struct mt_proc) },
				.prog = "memtrace-bpf" };
	struct wire_hello_ok ok;
	int e;

	if (strlen(path) >= sizeof(a.sun_path)) {
		snprintf(err, errlen, "the service's socket path %s is too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(a.sun_path, path);
	t->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (t->fd < 0 || connect(t->fd, (struct sockaddr *)&a, sizeof(a))) {
		e = -errno;
		snprintf(err, errlen, "cannot reach the memtrace-bpf service at %s: %s. Without "
			 "root, memtrace-bpf traces through that service; an administrator starts "
			 "it (its systemd unit memtrace-bpf.socket, or sudo memtrace-bpf daemon). "
			 "Or run memtrace-bpf as root (sudo): it needs CAP_BPF and CAP_PERFMON",
			 path, strerror(-e));
		return e;
	}
	{
		int sz = 4 << 20;

		setsockopt(t->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	e = request(t, WIRE_HELLO, &h, sizeof(h), &ok, sizeof(ok), NULL);
	if (e) {
		if (e == -EPIPE || e == -ECONNRESET)
			snprintf(err, errlen, "the memtrace-bpf service at %s closed the connection "
				 "without an answer: it refuses a client whose user ids are not all "
				 "one (a set-id program), one in another PID namespace, and users over "
				 "its --user-clients; its log says which (journalctl -u memtrace-bpf)",
				 path);
		else if (e == -EPROTONOSUPPORT)
			snprintf(err, errlen, "the memtrace-bpf service at %s is another version "
				 "(protocol or record layout); run the memtrace-bpf it was built "
				 "with, or have it upgraded", path);
		else
			snprintf(err, errlen, "the memtrace-bpf service at %s refused us: %s", path,
				 t->why[0] ? t->why : strerror(-e));
		return e;
	}
	t->hold_ns = ok.hold_ns;
	t->ring_bytes = ok.ring_bytes;
	t->why[0] = 0;
	return 0;
}

int tracer__connect(struct tracer **out, const char *path, const struct tracer_opts *o,
		    char *err, size_t errlen)
{
	struct remote_tracer *t = calloc(1, sizeof(*t));
	int e;

	*out = NULL;
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->base.ops = &remote_ops;
	t->fd = -1;
	t->follow = o->follow;
	e = open_conn(t, path, err, errlen);
	if (e) {
		remote_destroy(&t->base);
		return e;
	}
	*out = &t->base;
	return 0;
}

int remote__bind_user(struct tracer *base, uid_t uid, gid_t gid)
{
	struct wire_bind b = { .uid = (uint32_t)uid, .gid = (uint32_t)gid };

	return req_simple((struct remote_tracer *)base, WIRE_BIND_USER, &b, sizeof(b));
}

int remote__status(const char *path, struct wire_status_ok *s, char *err, size_t errlen)
{
	struct remote_tracer t = { .base.ops = &remote_ops, .fd = -1 };
	int e = open_conn(&t, path, err, errlen);

	if (!e && (e = request(&t, WIRE_STATUS, NULL, 0, s, sizeof(*s), NULL)))
		snprintf(err, errlen, "the service at %s answers STATUS to root only: %s", path,
			 strerror(-e));
	if (t.fd >= 0)
		close(t.fd);
	for (size_t i = t.inhead; i < t.nin; i++)
		free(t.in[i].buf);
	free(t.in);
	return e;
}
