// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "pidmap.h"

static size_t slot_of(pid_t pid, size_t cap)
{
	/* Fibonacci hashing: consecutive pids spread over the table */
	return (size_t)(((uint32_t)pid * 2654435769u) & (cap - 1));
}

long pidmap__get(const struct pidmap *m, pid_t pid)
{
	if (!m->cap)
		return -1;
	for (size_t i = slot_of(pid, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (!m->slot[i].used)
			return -1;
		if (m->slot[i].pid == pid)
			return (long)m->slot[i].idx;
	}
}

static void insert(struct pidmap_slot *slot, size_t cap, pid_t pid, size_t idx)
{
	size_t i = slot_of(pid, cap);

	while (slot[i].used && slot[i].pid != pid)
		i = (i + 1) & (cap - 1);
	slot[i].used = 1;
	slot[i].pid = pid;
	slot[i].idx = idx;
}

int pidmap__put(struct pidmap *m, pid_t pid, size_t idx)
{
	/* at most half full: probes stay short */
	if (2 * (m->n + 1) > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct pidmap_slot *s = calloc(cap, sizeof(*s));

		if (!s)
			return -ENOMEM;
		for (size_t i = 0; i < m->cap; i++)
			if (m->slot[i].used)
				insert(s, cap, m->slot[i].pid, m->slot[i].idx);
		free(m->slot);
		m->slot = s;
		m->cap = cap;
	}
	if (pidmap__get(m, pid) < 0)
		m->n++;
	insert(m->slot, m->cap, pid, idx);
	return 0;
}

void pidmap__free(struct pidmap *m)
{
	free(m->slot);
	memset(m, 0, sizeof(*m));
}
