// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "lib/grow.h"
#include "trace/procs.h"

/* Ended entries kept in memory before they move to the store: a line the
 * process wrote just before its exit is matched a few ms later and takes
 * its state from its entry. */
#define RECENT 256
/* Entries the store keeps in memory before it uses its file. */
#define DONE_IN_MEMORY 1024

void procs__init(struct procs *t)
{
	memset(t, 0, sizeof(*t));
	recstore__init(&t->done, sizeof(struct proc_info), DONE_IN_MEMORY);
}

static uint64_t key(pid_t pid)
{
	return (uint64_t)(uint32_t)pid;
}

static struct proc_info *append(struct procs *t, pid_t pid)
{
	struct proc_info *p;

	if (grow(&t->v, &t->cap, t->nv, sizeof(*t->v), 16) || idmap__put(&t->index, key(pid), t->nv))
		return NULL;
	p = &t->v[t->nv++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->index = (uint32_t)t->n++;
	t->live++;
	return p;
}

/* v[slot] leaves memory for the store; the last entry takes its slot. */
static void retire_slot(struct procs *t, size_t slot)
{
	struct proc_info *p = &t->v[slot];

	if (recstore__put(&t->done, p->index, p))
		return;	/* out of memory: it stays here */
	idmap__del(&t->index, key(p->pid));
	if (slot != t->nv - 1) {
		*p = t->v[t->nv - 1];
		idmap__put(&t->index, key(p->pid), slot);
	}
	t->nv--;
}

struct proc_info *procs__get(struct procs *t, pid_t pid, bool create)
{
	long i = idmap__get(&t->index, key(pid));

	if (i >= 0)
		return &t->v[i];
	return create ? append(t, pid) : NULL;
}

struct proc_info *procs__new(struct procs *t, pid_t pid)
{
	long i = idmap__get(&t->index, key(pid));

	/* the exited process that had this PID is done with */
	if (i >= 0)
		retire_slot(t, (size_t)i);
	return append(t, pid);
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
	if (known && p->pid != t->pinned &&
	    !grow(&t->ended, &t->ended_cap, t->nended, sizeof(*t->ended), 64))
		t->ended[t->nended++] = p->pid;
}

void procs__retire(struct procs *t)
{
	size_t k = 0;

	if (t->nended <= 2 * RECENT)
		return;
	/* the oldest half beyond RECENT go (an entry already replaced by a
	 * new process of its PID went with it) */
	while (t->nended - k > RECENT) {
		long i = idmap__get(&t->index, key(t->ended[k++]));

		if (i >= 0 && t->v[i].exited && t->v[i].known_exit)
			retire_slot(t, (size_t)i);
	}
	memmove(t->ended, t->ended + k, (t->nended - k) * sizeof(*t->ended));
	t->nended -= k;
}

static int cmp_index(const void *a, const void *b)
{
	const struct proc_info *x = *(const struct proc_info *const *)a;
	const struct proc_info *y = *(const struct proc_info *const *)b;

	return x->index < y->index ? -1 : x->index > y->index;
}

int procs__each(struct procs *t, int (*fn)(void *ctx, const struct proc_info *p), void *ctx)
{
	struct proc_info **mem = malloc((t->nv + 1) * sizeof(*mem)), from_store;
	size_t m = 0;
	int e = 0;

	if (!mem)
		return -ENOMEM;
	for (size_t i = 0; i < t->nv; i++)
		mem[i] = &t->v[i];
	qsort(mem, t->nv, sizeof(*mem), cmp_index);
	for (size_t idx = 0; idx < t->n && !e; idx++) {
		if (m < t->nv && mem[m]->index == idx)
			e = fn(ctx, mem[m++]);
		else if (!recstore__get(&t->done, idx, &from_store))
			e = fn(ctx, &from_store);
	}
	free(mem);
	return e;
}

void procs__free(struct procs *t)
{
	free(t->v);
	free(t->ended);
	idmap__free(&t->index);
	recstore__free(&t->done);
	/* a freed table is an empty one, not a dangling one */
	procs__init(t);
}
