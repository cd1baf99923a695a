/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The service's wire protocol (issue #16): what an unprivileged client
 * and the per-machine service say to each other over an AF_UNIX
 * SOCK_SEQPACKET socket, one message a datagram (fds beside it, by
 * SCM_RIGHTS), at most WIRE_MAX_MSG bytes. Both run on one machine: host
 * byte order, the structs of bpf/memtrace.h as they are, their sizes
 * checked in HELLO (builds with other layouts refuse each other).
 *
 * Every message is a struct wire_hdr and a payload of the exact size its
 * type says (or a count and that many elements). No request carries an
 * fd: the service would have to close it, and closing a file of the
 * client's choosing can block (a FUSE flush, a lingering TCP socket). A request carries the
 * client's seq; its reply the same seq and type | WIRE_REPLY, its payload
 * starting with struct wire_status. Records come unasked (seq 0).
 *
 * The service trusts nothing in a message: wire__check_request() takes a
 * datagram as received and says whether it is well formed, by type, size,
 * count, fds and the fields' ranges; it reads no state, so a fuzz target
 * (tests/fuzz/fuzz_wire.c) runs it as it is. What a client may do (its
 * groups, its processes) is the service's business, after this check.
 */
#ifndef MEMTRACE_TRACE_WIRE_H
#define MEMTRACE_TRACE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "memtrace.h"

#define WIRE_MAGIC 0x3157544dU		/* "MTW1" */
#define WIRE_VERSION 1
#define WIRE_MAX_MSG 65536
#define WIRE_REPLY 0x8000
#define WIRE_MAX_ATTACH 256		/* pids in one ATTACH */
#define WIRE_MAX_PATH 4096		/* ATTACH_MARKS's path, its NUL included */

struct wire_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;		/* enum wire_type, | WIRE_REPLY for a reply */
	uint32_t len;		/* payload bytes after the header */
	uint32_t seq;		/* a request's, echoed in its reply; 0 unasked */
};

enum wire_type {
	/* requests: client -> service */
	WIRE_HELLO = 1,
	WIRE_GROUP_TAKE,
	WIRE_GROUP_GUARD,
	WIRE_EXPECT_EXEC,
	WIRE_SET_MARK_FD,
	WIRE_ATTACH_MARKS,	/* the binary's absolute path, opened as the
				   client's user */
	WIRE_ATTACH,
	WIRE_GROUP_GET,
	WIRE_GROUP_PIDS,
	WIRE_FINAL_STATE,
	WIRE_GROUP_GIVE_BACK,
	WIRE_FLUSH,
	WIRE_STATS,
	WIRE_STATUS,		/* root only */
	WIRE_BIND_USER,		/* root only: the connection becomes a user's
				   (a Slurm node's helper: issue #17) */
	WIRE_REQUEST_MAX,
	/* unasked: service -> client */
	WIRE_RECS = 0x4001,	/* records in time order, and the release */
	WIRE_URGENT,		/* a GUARD or ALERT record, at once */
	WIRE_FINAL_PROCS,
	WIRE_BYE,		/* the service stops */
};

/* The start of every reply's payload. */
struct wire_status {
	int32_t status;		/* 0 or -errno */
	uint32_t why;		/* which rule refused (the service's enum) */
};

struct wire_hello {
	uint16_t ver_min, ver_max;
	uint16_t sizes[4];	/* sizeof mt_rec, mt_group, mt_guard, mt_proc */
	uint32_t flags;
	char prog[16];		/* the client's name, for the log: any bytes */
};

struct wire_group {		/* GROUP_GET, GROUP_PIDS, FINAL_STATE, GIVE_BACK */
	uint32_t group;
};

struct wire_take {
	uint32_t flags;		/* WIRE_TAKE_FOLLOW */
};
#define WIRE_TAKE_FOLLOW 1

struct wire_guard {
	uint32_t group, pad;
	struct mt_guard guard;	/* only what a user sets: the service recomputes
				   watch_pages and zeroes what the kernel writes */
};

struct wire_bind {		/* BIND_USER */
	uint32_t uid, gid;
};

struct wire_expect {
	uint32_t group, pid;
};

struct wire_mark_fd {
	uint32_t pid;
	int32_t fd;
	uint32_t log_capture, pad;
};

struct wire_attach {
	uint32_t group, n;
	uint32_t pid[];		/* 1..WIRE_MAX_ATTACH */
};

struct wire_recs {
	uint64_t released_ns;
	uint32_t n, pad;
	struct mt_rec rec[];
};
#define WIRE_MAX_RECS ((WIRE_MAX_MSG - sizeof(struct wire_hdr) - sizeof(struct wire_recs)) / \
		       sizeof(struct mt_rec))

/* Replies: each begins with struct wire_status. */
struct wire_hello_ok {
	struct wire_status st;
	uint32_t version, service_pid;
	uint64_t hold_ns;	/* how far the service's release lags its drains */
	uint64_t ring_bytes;	/* the service's ring (--ring-size), for messages */
	uint32_t user_groups;	/* groups one user may hold at once */
	uint32_t pad;
};

struct wire_take_ok {
	struct wire_status st;
	uint32_t group, pad;
};

struct wire_attach_ok {		/* one status a pid, in the request's order */
	struct wire_status st;
	uint32_t n, pad;
	struct wire_status pid[];
};

struct wire_group_ok {
	struct wire_status st;
	struct mt_group group;	/* lost: with the records the service's queue
				   dropped */
};

#define WIRE_MAX_PIDS 4096	/* in a GROUP_PIDS reply */
struct wire_pids_ok {
	struct wire_status st;
	uint32_t n, pad;
	uint32_t pid[];
};

/* FINAL_STATE: FINAL_PROCS messages, then the reply with their total. */
enum wire_proc_kind { WIRE_PROC_LIVE = 1, WIRE_PROC_EXITED = 2 };
struct wire_final_proc {
	uint32_t pid, kind;
	struct mt_proc proc;
};
struct wire_final_procs {
	uint32_t n, pad;
	struct wire_final_proc p[];
};
#define WIRE_MAX_FINAL ((WIRE_MAX_MSG - sizeof(struct wire_hdr) - \
			 sizeof(struct wire_final_procs)) / sizeof(struct wire_final_proc))
struct wire_final_ok {
	struct wire_status st;
	uint32_t total, pad;
};

struct wire_flush_ok {
	struct wire_status st;
	uint64_t released_ns;	/* every record of the client's stamped at or
				   before this is in the messages before */
};

struct wire_stats_ok {
	struct wire_status st;
	struct mt_cost cost;	/* the service's, for the whole machine */
	uint64_t ring_records, ring_windows;
	uint64_t lost;		/* the client's groups': kernel and queue */
	uint64_t untraced;
};

struct wire_status_ok {		/* STATUS, root only: for tests and admins */
	struct wire_status st;
	uint32_t clients, groups;	/* connected; groups held */
	uint32_t procs, usdt;		/* procs entries; USDT binaries */
	uint64_t queue_bytes;		/* all clients' queues */
	uint64_t dropped;		/* records dropped by full queues */
	uint64_t served;		/* clients served since the start */
	uint64_t rss_kb;		/* the service's VmRSS */
	uint32_t fds, pad;		/* its open fds */
};

struct wire_bye {
	int32_t reason;		/* 0: the service stops */
	uint32_t pad;
};

/* A well-formed message: its header, payload and how many fds came. */
struct wire_msg {
	struct wire_hdr hdr;
	const void *payload;
	size_t len;
	int nfds;
};

/* Builds a message (header and payload) into buf[0, cap): its length, or
 * -EMSGSIZE when it does not fit or is over WIRE_MAX_MSG. */
long wire__put(void *buf, size_t cap, uint16_t type, uint32_t seq, const void *payload,
	       size_t len);
/* A datagram of n bytes with nfds fds, as a client's request: 0 and *out,
 * or -EPROTO with the reason in why (why[0] = 0 when whylen is 0). Checks
 * the header (magic, version, a request type, len = n - header), the
 * payload's size for its type, counts and their limits, the fds the type
 * takes (0 or 1), and the fields with a fixed range (HELLO's versions, a
 * guard's alerts and signal). */
int wire__check_request(const void *buf, size_t n, int nfds, struct wire_msg *out, char *why,
			size_t whylen);
/* The same for what a client receives: a reply to request `type`, or an
 * unasked message (RECS: n within the payload, each record's type known). */
int wire__check_reply(const void *buf, size_t n, int nfds, struct wire_msg *out, char *why,
		      size_t whylen);

#endif
