// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "lib/grow.h"
#include "trace/procs.h"

static size_t slot_of(pid_t pid, size_t cap)
{
	return ((uint32_t)pid * 2654435761u) & (cap - 1);
}

static int index_grow(struct procs *t)
{
	size_t cap = t->index_cap ? t->index_cap * 2 : 256;
	int *idx = malloc(cap * sizeof(*idx));

	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < cap; i++)
		idx[i] = -1;
	/* in array order: a PID seen again (reused) ends up naming its newest
	 * process */
	for (size_t i = 0; i < t->n; i++) {
		size_t k = slot_of(t->v[i].pid, cap);

		while (idx[k] >= 0 && t->v[idx[k]].pid != t->v[i].pid)
			k = (k + 1) & (cap - 1);
		idx[k] = (int)i;
	}
	free(t->index);
	t->index = idx;
	t->index_cap = cap;
	return 0;
}

static struct proc_info *proc_append(struct procs *t, pid_t pid, size_t *slot_out)
{
	struct proc_info *p;

	if (grow(&t->v, &t->cap, t->n, sizeof(*t->v), 16))
		return NULL;
	if ((t->n + 1) * 2 > t->index_cap && index_grow(t))
		return NULL;
	p = &t->v[t->n];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	*slot_out = t->n++;
	t->live++;
	return p;
}

struct proc_info *procs__get(struct procs *t, pid_t pid, bool create)
{
	struct proc_info *p;
	size_t k, idx;

	if (t->index_cap) {
		for (k = slot_of(pid, t->index_cap); t->index[k] >= 0;
		     k = (k + 1) & (t->index_cap - 1))
			if (t->v[t->index[k]].pid == pid)
				return &t->v[t->index[k]];
	}
	if (!create)
		return NULL;
	p = proc_append(t, pid, &idx);
	if (!p)
		return NULL;
	for (k = slot_of(pid, t->index_cap); t->index[k] >= 0; k = (k + 1) & (t->index_cap - 1))
		;
	t->index[k] = (int)idx;
	return p;
}

struct proc_info *procs__new(struct procs *t, pid_t pid)
{
	struct proc_info *p;
	size_t k, idx;

	if (!procs__get(t, pid, false))
		return procs__get(t, pid, true);
	p = proc_append(t, pid, &idx);
	if (!p)
		return NULL;
	/* the index now names the newest process with this PID */
	for (k = slot_of(pid, t->index_cap); t->v[t->index[k]].pid != pid;
	     k = (k + 1) & (t->index_cap - 1))
		;
	t->index[k] = (int)idx;
	return p;
}

void procs__exited(struct procs *t, struct proc_info *p, int exit_code, uint64_t ts_ns,
		   bool known)
{
	if (!p->exited) {
		p->exited = true;
		if (t->live)
			t->live--;
	} else if (!known || p->known_exit) {
		return;
	}
	p->exit_code = exit_code;
	p->end_ts_ns = ts_ns;
	p->known_exit = known;
}

void procs__free(struct procs *t)
{
	free(t->v);
	free(t->index);
	/* a freed table is an empty one, not a dangling one */
	memset(t, 0, sizeof(*t));
}
