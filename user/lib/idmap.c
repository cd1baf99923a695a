// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "lib/idmap.h"

static size_t slot_of(uint64_t key, size_t cap)
{
	/* Fibonacci hashing: consecutive keys (pids) spread over the table */
	return (size_t)((key * 11400714819323198485ull) >> 32) & (cap - 1);
}

long idmap__get(const struct idmap *m, uint64_t key)
{
	if (!m->cap)
		return -1;
	for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (!m->slot[i].used)
			return -1;
		if (m->slot[i].key == key)
			return (long)m->slot[i].idx;
	}
}

static void insert(struct idmap_slot *slot, size_t cap, uint64_t key, size_t idx)
{
	size_t i = slot_of(key, cap);

	while (slot[i].used && slot[i].key != key)
		i = (i + 1) & (cap - 1);
	slot[i].used = 1;
	slot[i].key = key;
	slot[i].idx = idx;
}

int idmap__put(struct idmap *m, uint64_t key, size_t idx)
{
	/* at most half full: probes stay short */
	if (2 * (m->n + 1) > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct idmap_slot *s = calloc(cap, sizeof(*s));

		if (!s)
			return -ENOMEM;
		for (size_t i = 0; i < m->cap; i++)
			if (m->slot[i].used)
				insert(s, cap, m->slot[i].key, m->slot[i].idx);
		free(m->slot);
		m->slot = s;
		m->cap = cap;
	}
	if (idmap__get(m, key) < 0)
		m->n++;
	insert(m->slot, m->cap, key, idx);
	return 0;
}

int idmap__del(struct idmap *m, uint64_t key)
{
	size_t i, j;

	if (!m->cap)
		return -ENOENT;
	for (i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (!m->slot[i].used)
			return -ENOENT;
		if (m->slot[i].key == key)
			break;
	}
	/* backward shift: each later key of the probe run moves into the hole
	 * unless its own slot lies cyclically after the hole (then it is
	 * still found from there), so lookups never meet a false gap */
	for (j = (i + 1) & (m->cap - 1); m->slot[j].used; j = (j + 1) & (m->cap - 1)) {
		size_t home = slot_of(m->slot[j].key, m->cap);

		if (((j - home) & (m->cap - 1)) >= ((j - i) & (m->cap - 1))) {
			m->slot[i] = m->slot[j];
			i = j;
		}
	}
	m->slot[i].used = 0;
	m->n--;
	return 0;
}

void idmap__free(struct idmap *m)
{
	free(m->slot);
	memset(m, 0, sizeof(*m));
}
