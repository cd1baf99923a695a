/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A 64-bit key (a pid, a name's hash) -> an index into the caller's
 * array, open addressing: the CSV readers (validate, stages) look up the
 * process of every row and the stage of every mark, and a trace can hold
 * thousands of processes (a build, a test suite) and of stage names.
 */
#ifndef MEMTRACE_IDMAP_H
#define MEMTRACE_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct idmap {
	struct idmap_slot {
		uint64_t key;
		int used;
		size_t idx;
	} *slot;
	size_t cap, n;		/* cap: a power of two, or 0 */
};

/* The index stored for key, or -1. */
long idmap__get(const struct idmap *m, uint64_t key);
/* Stores idx for key (replaces). 0 or -ENOMEM. */
int idmap__put(struct idmap *m, uint64_t key, size_t idx);
/* Forgets key. 0, or -ENOENT when it was not there. */
int idmap__del(struct idmap *m, uint64_t key);
void idmap__free(struct idmap *m);

#endif
