// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The tracer__ functions: each its implementation's op (trace/tracer.h). */
#include "trace/tracer.h"

void tracer__destroy(struct tracer *t)
{
	if (t)
		t->ops->destroy(t);
}

int tracer__expect_exec(struct tracer *t, pid_t pid, uint32_t group)
{
	return t->ops->expect_exec(t, pid, group);
}

int tracer__attach_marks(struct tracer *t, const char *binary)
{
	return t->ops->attach_marks(t, binary);
}

int tracer__set_mark_fd(struct tracer *t, pid_t pid, int fd, bool log_capture)
{
	return t->ops->set_mark_fd(t, pid, fd, log_capture);
}

int tracer__attach_pids(struct tracer *t, const pid_t *pids, int n, uint32_t group, bool *no_mm)
{
	return t->ops->attach_pids(t, pids, n, group, no_mm);
}

int tracer__fold_faults(struct tracer *t)
{
	return t->ops->fold_faults(t);
}

int tracer__poll(struct tracer *t, int timeout_ms, bool final, tracer_rec_fn fn,
		 tracer_rec_fn urgent, void *ctx)
{
	return t->ops->poll(t, timeout_ms, final, fn, urgent, ctx);
}

void tracer__ring_counts(const struct tracer *t, uint64_t *records, uint64_t *windows)
{
	t->ops->ring_counts(t, records, windows);
}

uint64_t tracer__hold_ns(const struct tracer *t)
{
	return t->ops->hold_ns(t);
}

uint64_t tracer__released_ns(const struct tracer *t)
{
	return t->ops->released_ns(t);
}

uint64_t tracer__ring_bytes(const struct tracer *t)
{
	return t->ops->ring_bytes(t);
}

int tracer__poll_fd(struct tracer *t)
{
	return t->ops->poll_fd(t);
}

void tracer__counters(struct tracer *t, struct mt_counters *c)
{
	t->ops->counters(t, c);
}

void tracer__cost(struct tracer *t, struct mt_cost *c)
{
	t->ops->cost(t, c);
}

void tracer__group(struct tracer *t, uint32_t group, struct mt_group *g)
{
	t->ops->group(t, group, g);
}

int tracer__group_take(struct tracer *t, uint32_t *group)
{
	return t->ops->group_take(t, group);
}

void tracer__group_guard(struct tracer *t, uint32_t group, const struct mt_guard *gd)
{
	t->ops->group_guard(t, group, gd);
}

size_t tracer__group_pids(struct tracer *t, uint32_t group, pid_t *pids, size_t max)
{
	return t->ops->group_pids(t, group, pids, max);
}

void tracer__group_give_back(struct tracer *t, uint32_t group)
{
	t->ops->group_give_back(t, group);
}

int tracer__proc(struct tracer *t, pid_t pid, struct mt_proc *p)
{
	return t->ops->proc(t, pid, p);
}

void tracer__exit_seen(struct tracer *t, pid_t pid, uint64_t exit_ts_ns)
{
	t->ops->exit_seen(t, pid, exit_ts_ns);
}

int tracer__each_exited(struct tracer *t, int (*fn)(void *ctx, pid_t pid, const struct mt_proc *p),
			void *ctx)
{
	return t->ops->each_exited(t, fn, ctx);
}

const char *tracer__why(struct tracer *t)
{
	return t->ops->why ? t->ops->why(t) : NULL;
}

bool tracer__remote(const struct tracer *t)
{
	return t->ops->remote;
}
