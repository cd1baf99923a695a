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
 * type says (or a count and that many elements). A request carries the
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
	WIRE_EXPECT_EXEC,	/* + the child's pidfd */
	WIRE_SET_MARK_FD,
	WIRE_ATTACH_MARKS,	/* + the binary's fd */
	WIRE_ATTACH,
	WIRE_GROUP_GET,
	WIRE_GROUP_PIDS,
	WIRE_FINAL_STATE,
	WIRE_GROUP_GIVE_BACK,
	WIRE_FLUSH,
	WIRE_STATS,
	WIRE_STATUS,		/* root only */
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
