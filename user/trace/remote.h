/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The tracer of a user without root: a client of the per-machine service
 * (memtrace-bpf daemon, service/svc.h). It does what the local tracer does
 * (trace/tracer.h), asking the service over its socket (trace/wire.h): the
 * records come as the service drains its ring, in time order, with the
 * service's release; the caller forks, signals and writes every file
 * itself, as the user.
 */
#ifndef MEMTRACE_TRACE_REMOTE_H
#define MEMTRACE_TRACE_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include "trace/tracer.h"
#include "trace/wire.h"

#define SVC_DEFAULT_SOCKET "/run/memtrace-bpf/sock"

/* $MEMTRACE_SOCKET, else SVC_DEFAULT_SOCKET. */
const char *remote__socket_path(void);
/* Is there a socket at path (a service may listen)? */
bool remote__present(const char *path);
/* Connects to the service at path and says hello. 0, or -errno with a
 * sentence in err (what failed and a next step). */
int tracer__connect(struct tracer **out, const char *path, const struct tracer_opts *o,
		    char *err, size_t errlen);
/* Root only, before any run: the connection becomes uid's (gid's), for
 * every rule and limit, as if that user had connected; root vouches for
 * the processes it names (a Slurm task forked by slurmstepd and set to
 * the user before its exec, service/check.h). 0, or -errno (the service's
 * reason in tracer__why). */
int remote__bind_user(struct tracer *t, uid_t uid, gid_t gid);
/* The service's counters (root only). 0, or -errno with err. */
int remote__status(const char *path, struct wire_status_ok *s, char *err, size_t errlen);

#endif
