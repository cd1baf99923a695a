// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "lib/grow.h"
#include "lib/idmap.h"
#include "trace/procs.h"

static struct proc_info *proc_append(struct procs *t, pid_t pid)
{
	struct proc_info *p;

	if (grow(&t->v, &t->cap, t->n, sizeof(*t->v), 16) ||
	    idmap__put(&t->index, (uint64_t)(uint32_t)pid, t->n))
		return NULL;
	p = &t->v[t->n++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	t->live++;
	return p;
}

struct proc_info *procs__get(struct procs *t, pid_t pid, bool create)
{
	long i = idmap__get(&t->index, (uint64_t)(uint32_t)pid);

	if (i >= 0)
		return &t->v[i];
	return create ? proc_append(t, pid) : NULL;
}

struct proc_info *procs__new(struct procs *t, pid_t pid)
{
	/* the index then names the newest process with this PID */
	return proc_append(t, pid);
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
	idmap__free(&t->index);
	/* a freed table is an empty one, not a dangling one */
	memset(t, 0, sizeof(*t));
}
