/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The daemon's loop (memtrace-bpf daemon, issue #16): one local tracer,
 * loaded once, serving unprivileged clients over a SOCK_SEQPACKET Unix
 * socket (trace/wire.h). Each client is known by the kernel's peer
 * credentials only. A client takes groups; the kernel keeps each group to
 * its owner's unprivileged processes (bpf/lifecycle.bpf.h group_admits);
 * the service checks every PID a client names (service/check.h) and
 * streams each client its groups' records, in time order, through a
 * bounded queue: it never blocks on a client. A client that goes away
 * releases its groups: their processes run on, untraced.
 */
#ifndef MEMTRACE_SERVICE_SVC_H
#define MEMTRACE_SERVICE_SVC_H

#include <stdbool.h>
#include <stdint.h>
#include "trace/tracer.h"

struct svc_opts {
	uint32_t user_groups;	/* groups one uid may hold at once */
	uint32_t user_clients;	/* connections one uid may have at once */
	uint64_t client_queue;	/* bytes queued for one client at most */
	uint64_t queue_total;	/* ... for all of them */
	uint32_t user_ring_pct;	/* of the ring one user's records may fill */
	uint32_t user_procs;	/* processes one user's runs may have traced */
	bool verbose;		/* log every request */
	/* --metrics: each run's figures and the service's, every second, to a
	 * Prometheus textfile or an HTTP server's text (NULL: none) */
	const char *metrics_path;
	struct metrics_http *metrics_http;
};

/* Serves on listen_fd (bound, listening) until SIGINT or SIGTERM. 0, or
 * -errno when the loop itself failed (said on stderr). */
int svc__run(struct tracer *t, int listen_fd, const struct svc_opts *o);

#endif
