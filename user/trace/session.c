// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/grow.h"
#include "trace/session.h"

int session__init(struct session *s, const char *csv_path, uint64_t start_ns)
{
	static const char header[] = CSV_HEADER "\n";
	int e;

	memset(s, 0, sizeof(*s));
	s->start_ns = start_ns;
	s->page_kb = (unsigned int)(sysconf(_SC_PAGESIZE) / 1024);
	{
		/* the record summary's analysis: 1 MiB spikes, 10 ms and 100 ms
		 * pollers; tracing goes on without it if memory is short */
		struct spikes_cfg cfg = { .min_rise_kb = 1024, .settle_pct = 10, .npoll = 2,
					  .poll_ns = { 10000000ULL, 100000000ULL } };

		s->spikes = spikes__new(&cfg);
	}
	e = linebuf__open(&s->csv, csv_path);
	if (e)
		return e;
	return linebuf__append(&s->csv, header, sizeof(header) - 1);
}

static size_t slot_of(pid_t pid, size_t cap)
{
	return ((uint32_t)pid * 2654435761u) & (cap - 1);
}

static int index_grow(struct session *s)
{
	size_t cap = s->index_cap ? s->index_cap * 2 : 256;
	int *idx = malloc(cap * sizeof(*idx));

	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < cap; i++)
		idx[i] = -1;
	/* in array order: a PID seen again (reused) ends up naming its newest
	 * process */
	for (size_t i = 0; i < s->nprocs; i++) {
		size_t k = slot_of(s->procs[i].pid, cap);

		while (idx[k] >= 0 && s->procs[idx[k]].pid != s->procs[i].pid)
			k = (k + 1) & (cap - 1);
		idx[k] = (int)i;
	}
	free(s->index);
	s->index = idx;
	s->index_cap = cap;
	return 0;
}

static struct proc_info *proc_append(struct session *s, pid_t pid, size_t *slot_out)
{
	struct proc_info *p;

	if (grow(&s->procs, &s->cap, s->nprocs, sizeof(*s->procs), 16))
		return NULL;
	if ((s->nprocs + 1) * 2 > s->index_cap && index_grow(s))
		return NULL;
	p = &s->procs[s->nprocs];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	*slot_out = s->nprocs++;
	s->live++;
	return p;
}

struct proc_info *session__proc(struct session *s, pid_t pid, bool create)
{
	struct proc_info *p;
	size_t k, idx;

	if (s->index_cap) {
		for (k = slot_of(pid, s->index_cap); s->index[k] >= 0;
		     k = (k + 1) & (s->index_cap - 1))
			if (s->procs[s->index[k]].pid == pid)
				return &s->procs[s->index[k]];
	}
	if (!create)
		return NULL;
	p = proc_append(s, pid, &idx);
	if (!p)
		return NULL;
	for (k = slot_of(pid, s->index_cap); s->index[k] >= 0; k = (k + 1) & (s->index_cap - 1))
		;
	s->index[k] = (int)idx;
	return p;
}

struct proc_info *session__proc_new(struct session *s, pid_t pid)
{
	struct proc_info *p;
	size_t k, idx;

	if (!session__proc(s, pid, false))
		return session__proc(s, pid, true);
	p = proc_append(s, pid, &idx);
	if (!p)
		return NULL;
	/* the index now names the newest process with this PID */
	for (k = slot_of(pid, s->index_cap); s->procs[s->index[k]].pid != pid;
	     k = (k + 1) & (s->index_cap - 1))
		;
	s->index[k] = (int)idx;
	return p;
}

void session__mark_exited(struct session *s, struct proc_info *p, int exit_code,
			  uint64_t ts_ns, bool known)
{
	if (!p->exited) {
		p->exited = true;
		if (s->live)
			s->live--;
	} else if (!known || p->known_exit) {
		return;
	}
	p->exit_code = exit_code;
	p->end_ts_ns = ts_ns;
	p->known_exit = known;
}

int session__queue_log(struct session *s, uint64_t ts_ns, pid_t pid, pid_t tid,
		       const char *stream, const char *line, const char *value, int64_t kb)
{
	char *l_line = strdup(line), *l_value = strdup(value);
	size_t at = s->nlogs;

	if (!l_line || !l_value || grow(&s->logs, &s->logs_cap, s->nlogs, sizeof(*s->logs), 16)) {
		free(l_line);
		free(l_value);
		return -ENOMEM;
	}
	/* kept in time order: lines timed by the kernel and lines timed on
	 * arrival (another stream) can come in either order */
	while (at > 0 && s->logs[at - 1].ts_ns > ts_ns)
		at--;
	memmove(s->logs + at + 1, s->logs + at, (s->nlogs - at) * sizeof(*s->logs));
	s->logs[at] = (struct pending_log){ .ts_ns = ts_ns, .pid = pid, .tid = tid, .stream = stream,
					    .line = l_line, .value = l_value, .kb = kb };
	s->nlogs++;
	return 0;
}

static void write_log_row(struct session *s, const struct pending_log *l)
{
	struct proc_info *p = session__proc(s, l->pid, false);
	struct mt_rec r;
	char row[4096];
	int n;

	memset(&r, 0, sizeof(r));
	r.type = MT_REC_LOG;
	r.pid = (__u32)l->pid;
	r.tid = (__u32)l->tid;
	r.ts_ns = l->ts_ns;
	if (p) {
		memcpy(r.pages, p->pages, sizeof(r.pages));
		r.total_vm = p->total_vm;
	}
	r.tree_pages = s->tree_pages;
	n = csv_format_log_row(row, sizeof(row), &r, s->start_ns, s->page_kb, l->stream, l->line,
			       l->value, l->kb);
	if (n < 0)
		return;
	s->rows++;
	s->log_rows++;
	if (linebuf__append(&s->csv, row, (size_t)n) && !s->err)
		s->err = s->csv.err ? s->csv.err : ENOSPC;
}

void session__emit_logs(struct session *s, uint64_t cut_ns)
{
	size_t k = 0;

	while (k < s->nlogs && s->logs[k].ts_ns <= cut_ns) {
		write_log_row(s, &s->logs[k]);
		free(s->logs[k].line);
		free(s->logs[k].value);
		k++;
	}
	if (k) {
		memmove(s->logs, s->logs + k, (s->nlogs - k) * sizeof(*s->logs));
		s->nlogs -= k;
	}
}

int session__record(void *ctx, const struct mt_rec *r)
{
	struct session *s = ctx;
	struct proc_info *p;
	char row[512];
	int n;

	/* a log line read before this record happened goes first */
	if (s->nlogs && s->logs[0].ts_ns < r->ts_ns)
		session__emit_logs(s, r->ts_ns - 1);

	n = csv_format_row(row, sizeof(row), r, s->start_ns, s->page_kb);
	if (n < 0) {
		fprintf(stderr, "memtrace-bpf: bug: record of unknown type %u from the kernel\n",
			r->type);
		return 0;
	}
	p = session__proc(s, (pid_t)r->pid, true);
	if (p && p->exited && r->type == MT_REC_FORK)
		p = session__proc_new(s, (pid_t)r->pid);	/* a reused PID */
	if (!p)
		return -ENOMEM;
	if (!p->first_ts_ns)
		p->first_ts_ns = r->ts_ns;
	if (r->type != MT_REC_EXIT || p->rss_pages == 0) {
		p->rss_pages = r->pages[MT_FILE] + r->pages[MT_ANON] + r->pages[MT_SHMEM];
		memcpy(p->pages, r->pages, sizeof(p->pages));
		p->total_vm = r->total_vm;
	}
	if (r->type == MT_REC_FORK || r->type == MT_REC_EXEC ||
	    r->type == MT_REC_ATTACH || r->type == MT_REC_EXIT) {
		memcpy(p->comm, r->comm, sizeof(p->comm));
		if (r->ppid)
			p->ppid = (pid_t)r->ppid;
	}
	if (r->type == MT_REC_EXIT) {
		p->peak_pages = r->peak_pages;
		p->peak_ts_ns = r->peak_ts_ns;
		p->faults = r->faults;
		session__mark_exited(s, p, exit_status_code((int)r->ret), r->ts_ns, true);
	}
	if (s->spikes) {
		enum spike_ev ev = SEV_OTHER;

		if (r->type == MT_REC_RSS && r->cause == MT_CAUSE_FAULT)
			ev = SEV_FAULT;
		else if (r->type == MT_REC_RSS && r->cause == MT_CAUSE_SYSCALL)
			ev = SEV_IN_CALL;
		else if (r->type == MT_REC_EXIT)
			ev = SEV_EXIT;
		else if (r->type == MT_REC_SYSCALL)
			ev = r->nr == MT_NR_MMAP ? SEV_MMAP : r->nr == MT_NR_MUNMAP ? SEV_MUNMAP :
			     r->nr == MT_NR_MREMAP ? SEV_MREMAP : r->nr == MT_NR_BRK ? SEV_BRK :
			     r->nr == MT_NR_MADVISE ? SEV_MADVISE : SEV_OTHER;
		if (spikes__push(s->spikes, p->pid, r->ts_ns,
				 (r->pages[MT_FILE] + r->pages[MT_ANON] + r->pages[MT_SHMEM]) *
				 s->page_kb, ev)) {
			spikes__free(s->spikes);
			s->spikes = NULL;
		}
	}
	if (r->type == MT_REC_MARK)
		s->marks++;
	else if (r->type == MT_REC_CHECKPOINT)
		s->checkpoints++;
	else if (r->type == MT_REC_MARK_FD_LOST) {
		if (s->nlost < SESSION_MAX_LOST)
			s->lost[s->nlost++] = (struct mark_lost){ p->pid, r->nr, r->ts_ns };
		s->mark_fd_lost++;
	}
	s->tree_pages = r->tree_pages;
	s->last_ts_ns = r->ts_ns;
	s->rows++;
	if (linebuf__append(&s->csv, row, (size_t)n) && !s->err)
		s->err = s->csv.err ? s->csv.err : ENOSPC;
	return 0;
}

int session__flush(struct session *s)
{
	int e = linebuf__flush(&s->csv);

	if (e && !s->err)
		s->err = -e;
	return e;
}

int session__close(struct session *s)
{
	int e = linebuf__close(&s->csv);

	if (e && !s->err)
		s->err = -e;
	return s->err ? -s->err : 0;
}

void session__free(struct session *s)
{
	for (size_t i = 0; i < s->nlogs; i++) {
		free(s->logs[i].line);
		free(s->logs[i].value);
	}
	free(s->logs);
	s->logs = NULL;
	s->nlogs = 0;
	free(s->procs);
	free(s->index);
	spikes__free(s->spikes);
	s->spikes = NULL;
	s->procs = NULL;
	s->index = NULL;
	/* a freed session is an empty one, not a dangling one */
	s->nprocs = s->cap = s->index_cap = s->live = 0;
}
