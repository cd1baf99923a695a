/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * pid -> index into the caller's array, open addressing: the CSV readers
 * (validate, stages) look up the process of every row, and a trace can
 * hold thousands of processes (a build, a test suite).
 */
#ifndef MEMTRACE_PIDMAP_H
#define MEMTRACE_PIDMAP_H

#include <stddef.h>
#include <sys/types.h>

struct pidmap {
	struct pidmap_slot {
		pid_t pid;
		int used;
		size_t idx;
	} *slot;
	size_t cap, n;		/* cap: a power of two, or 0 */
};

/* The index stored for pid, or -1. */
long pidmap__get(const struct pidmap *m, pid_t pid);
/* Stores idx for pid (replaces). 0 or -ENOMEM. */
int pidmap__put(struct pidmap *m, pid_t pid, size_t idx);
void pidmap__free(struct pidmap *m);

#endif
