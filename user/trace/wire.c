// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "trace/wire.h"

_Static_assert(sizeof(struct wire_hdr) == 16, "struct wire_hdr: 16 bytes");
_Static_assert(sizeof(struct wire_hello) == 32, "struct wire_hello: 32 bytes");
_Static_assert(WIRE_MAX_RECS >= 256, "a RECS message carries hundreds of records");

long wire__put(void *buf, size_t cap, uint16_t type, uint32_t seq, const void *payload,
	       size_t len)
{
	struct wire_hdr h = { .magic = WIRE_MAGIC, .version = WIRE_VERSION, .type = type,
			      .len = (uint32_t)len, .seq = seq };

	if (len > WIRE_MAX_MSG - sizeof(h) || sizeof(h) + len > cap)
		return -EMSGSIZE;
	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy((char *)buf + sizeof(h), payload, len);
	return (long)(sizeof(h) + len);
}

static int refuse(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -EPROTO;
}

/* The header of a datagram: whole, ours, its length the rest. */
static int check_hdr(const void *buf, size_t n, int nfds, struct wire_msg *out, char *why,
		     size_t whylen)
{
	if (!buf || n < sizeof(out->hdr))
		return refuse(why, whylen, "a message of %zu bytes: shorter than a header", n);
	if (n > WIRE_MAX_MSG)
		return refuse(why, whylen, "a message of %zu bytes: over %d", n, WIRE_MAX_MSG);
	memcpy(&out->hdr, buf, sizeof(out->hdr));
	if (out->hdr.magic != WIRE_MAGIC)
		return refuse(why, whylen, "not a memtrace-bpf message (magic 0x%08x)",
			      out->hdr.magic);
	if (out->hdr.version != WIRE_VERSION)
		return refuse(why, whylen, "protocol version %u, this build speaks %d",
			      out->hdr.version, WIRE_VERSION);
	if (out->hdr.len != n - sizeof(out->hdr))
		return refuse(why, whylen, "the header says %u payload bytes, %zu came",
			      out->hdr.len, n - sizeof(out->hdr));
	if (nfds < 0 || nfds > 1)
		return refuse(why, whylen, "%d fds with one message (at most 1)", nfds);
	out->payload = (const char *)buf + sizeof(out->hdr);
	out->len = out->hdr.len;
	out->nfds = nfds;
	return 0;
}

/* What a user may ask of a guard: a limit, ascending alerts, a signal. */
static int check_guard(const struct mt_guard *g, char *why, size_t whylen)
{
	if (g->nalerts > MT_MAX_ALERTS)
		return refuse(why, whylen, "a guard with %u alerts (at most %d)", g->nalerts,
			      MT_MAX_ALERTS);
	for (uint32_t i = 0; i < g->nalerts; i++)
		if (!g->alert_pages[i] || (i && g->alert_pages[i] <= g->alert_pages[i - 1]))
			return refuse(why, whylen, "a guard's alerts must be above 0 and ascending");
	if (g->flags & ~(uint32_t)MT_GUARD_ANON)
		return refuse(why, whylen, "a guard with unknown flags 0x%x", g->flags);
	if (g->kill_at_pages && (g->signal < 1 || g->signal > 64))
		return refuse(why, whylen, "a guard's signal %u: not a signal", g->signal);
	return 0;
}

int wire__check_request(const void *buf, size_t n, int nfds, struct wire_msg *out, char *why,
			size_t whylen)
{
	size_t want = 0;
	int e;

	if (whylen)
		why[0] = 0;
	e = check_hdr(buf, n, nfds, out, why, whylen);
	if (e)
		return e;
	if (out->hdr.seq == 0)
		return refuse(why, whylen, "a request with seq 0");
	switch (out->hdr.type) {
	case WIRE_HELLO:
		want = sizeof(struct wire_hello);
		break;
	case WIRE_GROUP_TAKE:
		want = sizeof(struct wire_take);
		break;
	case WIRE_GROUP_GUARD:
		want = sizeof(struct wire_guard);
		break;
	case WIRE_EXPECT_EXEC:
		want = sizeof(struct wire_expect);
		break;
	case WIRE_BIND_USER:
		want = sizeof(struct wire_bind);
		break;
	case WIRE_SET_MARK_FD:
		want = sizeof(struct wire_mark_fd);
		break;
	case WIRE_ATTACH_MARKS:
		/* an absolute path, its NUL last and only there */
		if (out->len < 2 || out->len > WIRE_MAX_PATH ||
		    ((const char *)out->payload)[0] != '/' ||
		    memchr(out->payload, 0, out->len) != (const char *)out->payload + out->len - 1)
			return refuse(why, whylen, "ATTACH_MARKS: not an absolute path of 1 to %d "
				      "bytes ending in its only NUL", WIRE_MAX_PATH - 1);
		want = out->len;
		break;
	case WIRE_ATTACH: {
		struct wire_attach a;

		if (out->len < sizeof(a))
			return refuse(why, whylen, "ATTACH of %zu bytes: shorter than its head",
				      out->len);
		memcpy(&a, out->payload, sizeof(a));
		if (a.n < 1 || a.n > WIRE_MAX_ATTACH)
			return refuse(why, whylen, "ATTACH of %u pids (1 to %d)", a.n,
				      WIRE_MAX_ATTACH);
		want = sizeof(a) + (size_t)a.n * sizeof(uint32_t);
		break;
	}
	case WIRE_GROUP_GET:
	case WIRE_GROUP_PIDS:
	case WIRE_FINAL_STATE:
	case WIRE_GROUP_GIVE_BACK:
		want = sizeof(struct wire_group);
		break;
	case WIRE_FLUSH:
	case WIRE_STATS:
	case WIRE_STATUS:
		break;
	default:
		return refuse(why, whylen, "message type 0x%x is not a request", out->hdr.type);
	}
	if (out->len != want)
		return refuse(why, whylen, "request type %u of %zu bytes, not %zu", out->hdr.type,
			      out->len, want);
	if (nfds)
		return refuse(why, whylen, "request type %u with %d fds (no request takes one)",
			      out->hdr.type, nfds);
	if (out->hdr.type == WIRE_HELLO) {
		struct wire_hello h;

		memcpy(&h, out->payload, sizeof(h));
		if (h.ver_min > h.ver_max)
			return refuse(why, whylen, "HELLO with versions %u to %u", h.ver_min,
				      h.ver_max);
	} else if (out->hdr.type == WIRE_GROUP_GUARD) {
		struct wire_guard g;

		memcpy(&g, out->payload, sizeof(g));
		return check_guard(&g.guard, why, whylen);
	}
	return 0;
}

int wire__check_reply(const void *buf, size_t n, int nfds, struct wire_msg *out, char *why,
		      size_t whylen)
{
	int e;

	if (whylen)
		why[0] = 0;
	e = check_hdr(buf, n, nfds, out, why, whylen);
	if (e)
		return e;
	if (nfds)
		return refuse(why, whylen, "the service sent an fd");
	if (out->hdr.type & WIRE_REPLY) {
		uint16_t req = out->hdr.type & ~WIRE_REPLY;

		if (req < WIRE_HELLO || req >= WIRE_REQUEST_MAX || !out->hdr.seq)
			return refuse(why, whylen, "a reply to type %u, seq %u", req, out->hdr.seq);
		if (out->len < sizeof(struct wire_status))
			return refuse(why, whylen, "a reply of %zu bytes: no status", out->len);
		return 0;
	}
	if (out->hdr.seq)
		return refuse(why, whylen, "an unasked message with seq %u", out->hdr.seq);
	switch (out->hdr.type) {
	case WIRE_RECS: {
		struct wire_recs r;

		if (out->len < sizeof(r))
			return refuse(why, whylen, "RECS of %zu bytes: shorter than its head",
				      out->len);
		memcpy(&r, out->payload, sizeof(r));
		if (r.n > WIRE_MAX_RECS || out->len != sizeof(r) + (size_t)r.n * sizeof(struct mt_rec))
			return refuse(why, whylen, "RECS of %u records in %zu bytes", r.n, out->len);
		for (uint32_t i = 0; i < r.n; i++) {
			struct mt_rec rec;

			memcpy(&rec, (const char *)out->payload + sizeof(r) + i * sizeof(rec),
			       sizeof(rec));
			if (rec.type < MT_REC_RSS || rec.type >= MT_REC_TYPE_MAX)
				return refuse(why, whylen, "RECS: record %u of unknown type %u", i,
					      rec.type);
		}
		return 0;
	}
	case WIRE_URGENT: {
		struct mt_rec rec;

		if (out->len != sizeof(rec))
			return refuse(why, whylen, "URGENT of %zu bytes, not %zu", out->len,
				      sizeof(rec));
		memcpy(&rec, out->payload, sizeof(rec));
		if (rec.type != MT_REC_GUARD && rec.type != MT_REC_ALERT)
			return refuse(why, whylen, "URGENT record of type %u", rec.type);
		return 0;
	}
	case WIRE_FINAL_PROCS:
	case WIRE_BYE:
		return 0;
	default:
		return refuse(why, whylen, "message type 0x%x from the service", out->hdr.type);
	}
}
