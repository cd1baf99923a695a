// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A run's records, its end and its last state (how a run starts is in
 * trace/launch.c; its summary in trace/summary.c). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "format/names.h"
#include "format/text.h"
#include "lib/clock.h"
#include "lib/grow.h"
#include "lib/units.h"
#include "lib/waitstatus.h"
#include "trace/run.h"

#define LOG_WARN_MAX 5	/* unit warnings said in full; the rest counted */

uint64_t peak_limit_kb(const struct peak_limit *l)
{
	return l->max_peak_kb + l->tolerance_kb +
	       (uint64_t)((double)l->max_peak_kb * l->tolerance_pct / 100.0);
}

bool peak_limit_exceeded(const struct peak_limit *l, uint64_t peak_kb)
{
	return l && l->max_peak_kb && peak_kb > peak_limit_kb(l);
}

int run__baseline(const struct run *r, uint64_t start_ns, uint64_t end_ns, int64_t *kb)
{
	uint64_t d = end_ns > start_ns ? end_ns - start_ns : 0;

	if (!r->spec.baseline)
		return -ENODATA;
	/* [end - floor(d * pct / 100), end): README, Campaigns */
	return baseline__median(&r->baseline, end_ns - (d / 100 * BASELINE_PCT +
							  d % 100 * BASELINE_PCT / 100),
				end_ns, kb);
}

const char *run__name(const struct run *r)
{
	return r->spec.ncmd ? r->spec.cmd[0] : "process";
}

void run__group(const struct run *r, struct mt_group *g)
{
	tracer__group(r->tracer, r->group, g);
}

/* ---- its start (the ways it starts are in trace/launch.c) ---- */

static const char *const file_what[RUN_NFILES] = { "trace", "summary", "log", "log",
						     "monitor log" };

/* The summary's room, taken as the run goes (a base, and about what a
 * process's entries take): a disk that fills during the run cannot keep
 * its exact peak from being written at the end. */
#define SUMMARY_BASE	(64 << 10)
#define SUMMARY_PER_PROC 512

static int reserve_summary(struct run *r)
{
	uint64_t want = SUMMARY_BASE + (uint64_t)r->procs.n * SUMMARY_PER_PROC;
	int e;

	if (r->files[RUN_SUMMARY].fd < 0 || want <= r->summary_room)
		return 0;
	want = want > 2 * r->summary_room ? want : 2 * r->summary_room;
	e = out_file__reserve(&r->files[RUN_SUMMARY], (off_t)want);
	if (!e)
		r->summary_room = want;
	else
		r->summary_room = UINT64_MAX;	/* cannot: not asked again */
	return e;
}

int run__init(struct run *r, struct tracer *t, const struct run_spec *s, uint32_t group,
	      uint64_t start_ns, char *err, size_t errlen)
{
	/* the record summary's analysis: 1 MiB spikes (it shows the top 20),
	 * 10 ms and 100 ms pollers; tracing goes on without it if memory is
	 * short */
	static const struct spikes_cfg cfg = { .min_rise_kb = 1024, .settle_pct = 10, .npoll = 2,
					       .poll_ns = { 10000000ULL, 100000000ULL },
					       .keep_top = SUMMARY_TOP_SPIKES };
	const char **paths[RUN_NFILES] = { &r->spec.csv_path, &r->spec.summary_path,
					   &r->spec.output_log, &r->spec.ckpt_log,
					   &r->spec.monitor_log };
	int e;

	memset(r, 0, sizeof(*r));
	r->inited = true;
	r->spec = *s;
	r->tracer = t;
	r->group = group;
	r->start_ns = start_ns;
	r->page_kb = (unsigned int)(sysconf(_SC_PAGESIZE) / 1024);
	r->mark_fd = -1;
	r->out.rd[0] = r->out.rd[1] = r->out.log_fd = -1;
	r->gs.log_fd = -1;
	if (s->label) {
		snprintf(r->label, sizeof(r->label), "%s", s->label);
		r->spec.label = r->label;
	}
	r->spikes = spikes__new(&cfg);
	baseline__init(&r->baseline, start_ns, BASELINE_PCT);
	procs__init(&r->procs);
	for (int i = 0; i < RUN_NFILES; i++)
		out_file__init(&r->files[i]);
	for (int i = 0; i < RUN_NFILES; i++) {
		if (!*paths[i])
			continue;
		r->paths[i] = strdup(*paths[i]);
		if (!r->paths[i]) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		*paths[i] = r->paths[i];
		if (i == RUN_TRACE && !strcmp(r->paths[i], "-"))
			continue;	/* stdout */
		e = out_file__create(&r->files[i], s->dirfd ? *s->dirfd : AT_FDCWD, r->paths[i],
				     file_what[i], err, errlen);
		if (e)
			return e;
	}
	/* a disk with no room for the summary now: refused before the command
	 * starts, rather than a run whose exact peak has nowhere to go (a
	 * filesystem that cannot reserve space is taken as it is) */
	e = reserve_summary(r);
	if (e == -ENOSPC || e == -EDQUOT) {
		snprintf(err, errlen, "no room for the summary %s (%d KiB) on its disk: %s; free "
			 "some space, or write it elsewhere (-s FILE)", r->spec.summary_path,
			 SUMMARY_BASE >> 10, strerror(-e));
		return e;
	}
	return 0;
}

/* A row from --resolution's windows, in its place in the time order. */
static int thin_row(void *ctx, const struct mt_rec *rec, uint64_t folded);

int run__open_trace(struct run *r, char *err, size_t errlen)
{
	struct out_file *f = &r->files[RUN_TRACE];
	bool std = !strcmp(r->spec.csv_path, "-");
	int e = csv_out__open(&r->trace, std ? STDOUT_FILENO : f->fd, !std,
			      std ? ZF_PLAIN : zformat_of_path(r->spec.csv_path), r->spec.jsonl,
			      r->start_ns, r->page_kb);

	if (!std)
		f->fd = -1;	/* the trace's now */
	if (e) {
		snprintf(err, errlen, "cannot write trace %s: %s", r->spec.csv_path, strerror(-e));
		csv_out__close(&r->trace);
		return e;
	}
	if (r->spec.resolution_ns && (e = thin__new(&r->thin, r->spec.resolution_ns, thin_row, r))) {
		snprintf(err, errlen, "cannot write trace %s: %s", r->spec.csv_path, strerror(-e));
		csv_out__close(&r->trace);
		return e;
	}
	r->trace_open = true;
	/* tracing has started: the trace and its log take their names */
	if ((!std && (e = out_file__publish(f, err, errlen))) ||
	    (r->files[RUN_CKPT_LOG].name[0] &&
	     (e = out_file__publish(&r->files[RUN_CKPT_LOG], err, errlen))) ||
	    (r->files[RUN_MONITOR_LOG].name[0] &&
	     (e = out_file__publish(&r->files[RUN_MONITOR_LOG], err, errlen))))
		return e;
	return 0;
}

/* ---- log rows: matched output lines, in time order with the records ---- */

static int queue_log(struct run *r, uint64_t ts_ns, pid_t pid, pid_t tid, const char *stream,
		     const char *line, const char *value, int64_t kb)
{
	char *l_line = strdup(line), *l_value = strdup(value);
	size_t at = r->nlogs;

	if (!l_line || !l_value || grow(&r->logs, &r->logs_cap, r->nlogs, sizeof(*r->logs), 16)) {
		free(l_line);
		free(l_value);
		return -ENOMEM;
	}
	/* kept in time order: lines timed by the kernel and lines timed on
	 * arrival (another stream) can come in either order */
	while (at > 0 && r->logs[at - 1].ts_ns > ts_ns)
		at--;
	memmove(r->logs + at + 1, r->logs + at, (r->nlogs - at) * sizeof(*r->logs));
	r->logs[at] = (struct pending_log){ .ts_ns = ts_ns, .pid = pid, .tid = tid, .stream = stream,
					    .line = l_line, .value = l_value, .kb = kb };
	r->nlogs++;
	return 0;
}

/* A line --checkpoint-regex matched: a log row in the trace, in time order
 * with the records, given to the process that wrote it (its state then). */
int run__log_line(void *ctx, uint64_t ts_ns, pid_t pid, pid_t tid, const char *stream,
		       uint64_t lineno, const char *line, const char *value)
{
	struct run *r = ctx;
	int64_t kb = -1;
	int e = parse_reported_kb(value, false, &kb);

	if (e) {
		/* the first few said in full, the rest counted at the end: a
		 * pattern that matches every line must not flood stderr */
		if (r->log_unknown_units++ < LOG_WARN_MAX)
			fprintf(stderr, "memtrace-bpf: warning: output line %llu (%s) matched "
				"--checkpoint-regex, but its value '%.*s' %s; kept in the trace as "
				"text, not compared. The line: %.*s%s\n", (unsigned long long)lineno,
				stream, utf8_cut(value, 64), value,
				e == -EDOM ? "has no unit or one memtrace-bpf does not know (B, "
				"K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB)" : "is not a number with a unit",
				utf8_cut(line, 160), line, strlen(line) > 160 ? " [...]" : "");
		kb = -1;
	}
	/* the writer when the kernel saw the write, else the command */
	return queue_log(r, ts_ns, pid ? pid : r->child, tid, stream, line, value, kb);
}

/* A log row: the state of the process that wrote the line, at its time. */
static void write_log_row(struct run *r, const struct pending_log *l)
{
	struct proc_info *p = procs__get(&r->procs, l->pid, false);
	struct mt_rec state;

	memset(&state, 0, sizeof(state));
	state.type = MT_REC_LOG;
	state.pid = (__u32)l->pid;
	state.tid = (__u32)l->tid;
	state.ts_ns = l->ts_ns;
	if (p) {
		memcpy(state.pages, p->pages, sizeof(state.pages));
		state.total_vm = p->total_vm;
		state.data_vm = p->data_vm;
	}
	state.tree_pages = r->tree_pages;
	csv_out__log(&r->trace, &state, l->stream, l->line, l->value, l->kb);
	r->log_rows++;
}

static void emit_logs(struct run *r, uint64_t cut_ns)
{
	size_t k = 0;

	while (k < r->nlogs && r->logs[k].ts_ns <= cut_ns) {
		write_log_row(r, &r->logs[k]);
		free(r->logs[k].line);
		free(r->logs[k].value);
		k++;
	}
	if (k) {
		memmove(r->logs, r->logs + k, (r->nlogs - k) * sizeof(*r->logs));
		r->nlogs -= k;
	}
}

void run__emit_logs(struct run *r, uint64_t cut_ns)
{
	r->out.records_until = cut_ns;
	if (!r->trace_open)
		return;
	if (r->thin) {
		uint64_t written;

		if (thin__advance(r->thin, cut_ns))
			fprintf(stderr, "memtrace-bpf: out of memory thinning the trace (--resolution)\n");
		/* a log line goes after the rows written before it */
		written = thin__written_until(r->thin);
		if (!written)
			return;
		if (written <= cut_ns)
			cut_ns = written - 1;
	}
	emit_logs(r, cut_ns);
}

void run__pump_output(struct run *r, int timeout_ms, int extra_fd, bool final)
{
	if (!r->out_on)
		return;
	if (logcap__pump(&r->out, timeout_ms, extra_fd, final))
		fprintf(stderr, "memtrace-bpf: out of memory keeping the command's log lines\n");
}

/* ---- records ---- */

/* Said when it happens: the marks that process writes from now on
 * through that fd go nowhere we see. */
static void mark_fd_lost(struct run *r, const struct proc_info *p, const struct mt_rec *rec)
{
	const char *how = syscall_name(rec->nr);

	if (r->nlost < RUN_MAX_LOST)
		r->lost[r->nlost++] = (struct mark_lost){ p->pid, rec->nr, rec->ts_ns };
	r->mark_fd_lost++;
	fprintf(stderr, "memtrace-bpf: pid %u (%s) %s its marker fd %llu (%s) at %.6f s; "
		"its marks written to fd %llu from now on are lost (other fds of the same "
		"file still work)\n", rec->pid, p->comm[0] ? p->comm : "?",
		rec->nr == MT_NR_CLOSE || rec->nr == MT_NR_CLOSE_RANGE ? "closed" : "replaced",
		(unsigned long long)rec->addr, how ? how : "?",
		secs_since(rec->ts_ns, r->start_ns), (unsigned long long)rec->addr);
}

static int thin_row(void *ctx, const struct mt_rec *rec, uint64_t folded)
{
	struct run *r = ctx;

	/* a log line read before this record happened goes first */
	if (r->nlogs && r->logs[0].ts_ns < rec->ts_ns)
		emit_logs(r, rec->ts_ns - 1);
	if (csv_out__record_folded(&r->trace, rec, folded))
		fprintf(stderr, "memtrace-bpf: bug: record of unknown type %u from the kernel\n",
			rec->type);
	return 0;
}

int run__record(struct run *r, const struct mt_rec *rec)
{
	struct proc_info *p;

	if (rec->type == MT_REC_OUTPUT) {
		/* times the command's log lines; not a row of its own */
		if (r->out_on && r->trace_open)
			return logcap__output(&r->out, (int)rec->cause, rec->ts_ns, (pid_t)rec->pid,
					      (pid_t)rec->tid, rec->len & ~(1ULL << 63), rec->label,
					      !(rec->len >> 63));
		return 0;
	}
	if (!r->trace_open)
		return 0;
	if (r->thin) {
		/* its row, or its window's, comes later (thin_row) */
		if (thin__push(r->thin, rec))
			return -ENOMEM;
	} else {
		thin_row(r, rec, 0);
	}
	p = procs__get(&r->procs, (pid_t)rec->pid, true);
	if (p && p->exited && rec->type == MT_REC_FORK)
		p = procs__new(&r->procs, (pid_t)rec->pid);	/* a reused PID */
	if (!p)
		return -ENOMEM;
	(void)reserve_summary(r);	/* more processes, more room: where it can */
	if (!p->first_ts_ns)
		p->first_ts_ns = rec->ts_ns;
	/* an exit (or leave) row carries the state before it, unless it has
	 * none */
	if ((rec->type != MT_REC_EXIT && rec->type != MT_REC_LEAVE) || p->rss_pages == 0) {
		p->rss_pages = rec->pages[MT_FILE] + rec->pages[MT_ANON] + rec->pages[MT_SHMEM];
		memcpy(p->pages, rec->pages, sizeof(p->pages));
		p->total_vm = rec->total_vm;
		p->data_vm = rec->data_vm;
	}
	if (rec->total_vm > r->peak_vm_pages)
		r->peak_vm_pages = rec->total_vm;
	if (rec->data_vm > r->peak_data_pages)
		r->peak_data_pages = rec->data_vm;
	if (r->spec.baseline && !r->baseline_end) {
		/* out of memory: the baseline is not known, tracing goes on */
		(void)baseline__push(&r->baseline, rec->ts_ns, rec->tree_pages * r->page_kb);
		/* the window ends at the command's exit: what its children do
		 * after is not in it (and must not push it out) */
		r->baseline_end = rec->type == MT_REC_EXIT && r->child && (pid_t)rec->pid == r->child;
	}
	switch (rec->type) {
	case MT_REC_EXIT:
		p->peak_pages = rec->peak_pages;
		p->peak_ts_ns = rec->peak_ts_ns;
		p->faults = rec->faults;
		procs__exited(&r->procs, p, exit_status_code((int)rec->ret), rec->ts_ns, true);
		if (rec->ts_ns > r->gs.last_exit_ns)
			r->gs.last_exit_ns = rec->ts_ns;
		/* the loader has the exit record: the kernel may drop the
		 * final state it kept in case the record was lost */
		if (r->tracer)
			tracer__exit_seen(r->tracer, (pid_t)rec->pid, rec->ts_ns);
		/* an exit names the process too */
		__attribute__((fallthrough));
	case MT_REC_FORK:
	case MT_REC_EXEC:
	case MT_REC_ATTACH:
		memcpy(p->comm, rec->comm, sizeof(p->comm));
		if (rec->ppid)
			p->ppid = (pid_t)rec->ppid;
		break;
	case MT_REC_LEAVE:
		/* it left its owned group at a set-id exec: it ends here in the
		 * run, with no exit status (it runs on, not traced), named
		 * after what it exec'd */
		p->peak_pages = rec->peak_pages;
		p->peak_ts_ns = rec->peak_ts_ns;
		p->faults = rec->faults;
		p->left = true;
		procs__exited(&r->procs, p, -1, rec->ts_ns, false);
		memcpy(p->comm, rec->comm, sizeof(p->comm));
		if (rec->ppid)
			p->ppid = (pid_t)rec->ppid;
		break;
	case MT_REC_CHECKPOINT:
		r->checkpoints++;
		break;
	case MT_REC_MARK:
		r->marks++;
		break;
	case MT_REC_MARK_FD_LOST:
		mark_fd_lost(r, p, rec);
		break;
	case MT_REC_GUARD:
	case MT_REC_ALERT:
		guard__record(r, rec);
		break;
	}
	if (r->spikes && spikes__push(r->spikes, p->pid, rec->ts_ns,
				      (rec->pages[MT_FILE] + rec->pages[MT_ANON] +
				       rec->pages[MT_SHMEM]) * r->page_kb,
				      spike_ev_of(rec->type, rec->nr, rec->cause),
				      spike_call_of(rec->type, rec->nr, rec->cause, rec->tid))) {
		spikes__free(r->spikes);	/* tracing goes on without it */
		r->spikes = NULL;
	}
	r->tree_pages = rec->tree_pages;
	procs__retire(&r->procs);
	return 0;
}

/* ---- the end ---- */

static void end_now(struct run *r, uint64_t now_ns)
{
	if (!r->ended) {
		r->ended = true;
		r->end_ns = now_ns;
	}
}

bool run__poll_end(struct run *r, uint64_t now_ns)
{
	struct mt_group g;

	if (r->ended)
		return true;
	if (r->expecting) {
		/* an expected process: over when it exits (the pidfd reads) */
		struct pollfd p = { .fd = r->expect_pidfd, .events = POLLIN };

		if (poll(&p, 1, 0) == 1)
			end_now(r, now_ns);
		return r->ended;
	}
	if (!r->child) {
		/* attached or captured: over when none of its processes lives */
		run__group(r, &g);
		if (!g.live)
			end_now(r, now_ns);
		return r->ended;
	}
	if (!r->have_status) {
		if (wait4(r->child, &r->status, WNOHANG, &r->ru) != r->child)
			return false;
		r->have_status = true;
		now_ns = mono_ns();	/* now, not when the turn began */
	}
	/* Processes that outlived the command (a background job) may still
	 * hold its stdout/stderr: their output is passed on until the pipes
	 * close, as a shell's `cmd | cat` would; any signal stops it. */
	if (r->out_on && logcap__busy(&r->out)) {
		if (!r->out_wait_since) {
			r->out_wait_since = now_ns;
		} else if (!r->out_wait_said && now_ns - r->out_wait_since > 1000000000ULL) {
			r->out_wait_said = true;
			fprintf(stderr, "memtrace-bpf: %s exited; processes it left still hold its "
				"stdout or stderr, and their output is passed on until they close "
				"them (Ctrl-C stops)\n", run__name(r));
		}
		return false;
	}
	end_now(r, now_ns);
	return true;
}

void run__stop(struct run *r, int sig, bool first, bool from_user, uint64_t now_ns)
{
	if (r->ended)
		return;
	if (!r->child || r->have_status) {
		/* not ours to signal, or the command is done and only its
		 * output is still passed on (then the run was complete) */
		if (!r->have_status)
			r->interrupted = true;
		end_now(r, now_ns);
		return;
	}
	r->interrupted = true;
	if (first) {
		if (r->spec.own_pgrp)
			kill(-r->child, sig);
		else if (from_user)
			kill(r->child, sig);
		return;
	}
	if (r->spec.own_pgrp) {
		kill(-r->child, SIGKILL);
		return;
	}
	fprintf(stderr, "\nmemtrace-bpf: second signal: stopping the trace; %s (PID %d) keeps "
		"running\n", run__name(r), r->child);
	end_now(r, now_ns);
}

void run__detach(struct run *r, uint64_t now_ns)
{
	end_now(r, now_ns);
}

void run__abort(struct run *r, uint64_t now_ns)
{
	if (r->ended)
		return;
	if (!r->have_status)
		r->interrupted = true;
	if (r->child && !r->have_status && r->spec.own_pgrp) {
		kill(-r->child, SIGTERM);
		return;
	}
	end_now(r, now_ns);
}

/* ---- the last state ---- */

static void take_kernel_state(struct proc_info *p, const struct mt_proc *kp)
{
	p->peak_pages = kp->peak_pages;
	p->peak_ts_ns = kp->peak_ts_ns;
	p->faults = kp->faults;
	if (kp->comm[0])
		memcpy(p->comm, kp->comm, sizeof(p->comm));
}

/* An exit of this run whose record was dropped: the kernel kept its state. */
static int apply_lost_exit(void *ctx, pid_t pid, const struct mt_proc *kp)
{
	struct run *r = ctx;
	struct proc_info *p;

	if (kp->group != r->group || kp->exit_ts_ns < r->start_ns)
		return 0;
	p = procs__get(&r->procs, pid, true);
	if (!p || p->known_exit)
		return 0;
	take_kernel_state(p, kp);
	if (kp->ppid)
		p->ppid = (pid_t)kp->ppid;
	if (kp->exit_ts_ns > r->gs.last_exit_ns)
		r->gs.last_exit_ns = kp->exit_ts_ns;
	procs__exited(&r->procs, p, exit_status_code(kp->exit_code), kp->exit_ts_ns, true);
	return 0;
}

/* The kernel's state of every process of the run: peaks, faults, exits. */
static void sync_procs(struct run *r)
{
	/* those in memory: the others' exits are known */
	for (size_t i = 0; i < r->procs.nv; i++) {
		struct proc_info *p = &r->procs.v[i];
		struct mt_proc kp;

		if (tracer__proc(r->tracer, p->pid, &kp) || kp.group != r->group) {
			/* the kernel forgets a process when it exits (its exit
			 * record, if not dropped, carries the status) */
			if (!p->exited && p->first_ts_ns)
				procs__exited(&r->procs, p, -1, mono_ns(), false);
			continue;
		}
		take_kernel_state(p, &kp);
		if (kp.flags & MT_PROC_EXITED)
			procs__exited(&r->procs, p, exit_status_code(kp.exit_code), kp.exit_ts_ns, true);
	}
}

/* What --checkpoint-regex has to say at the end. */
static void finish_output(struct run *r)
{
	const struct run_spec *s = &r->spec;

	run__pump_output(r, 0, -1, true);
	if (r->out.err)
		fprintf(stderr, "memtrace-bpf: the log %s is incomplete: %s\n", s->ckpt_log,
			strerror(r->out.err));
	if (r->log_unknown_units > LOG_WARN_MAX)
		fprintf(stderr, "memtrace-bpf: warning: %llu more matched lines had a value "
			"without a known unit (%llu in all; the rows are in the trace, not "
			"compared)\n", (unsigned long long)(r->log_unknown_units - LOG_WARN_MAX),
			(unsigned long long)r->log_unknown_units);
	if (r->out.not_passed)
		fprintf(stderr, "memtrace-bpf: %llu bytes of the command's output were not passed "
			"on (stopped before our stdout/stderr took them, or they failed); they "
			"are in %s\n", (unsigned long long)r->out.not_passed, s->ckpt_log);
	if (!r->out.matched)
		fprintf(stderr, "memtrace-bpf: --checkpoint-regex '%s' matched none of the "
			"command's %llu output line%s (kept in %s); check the pattern against "
			"them, e.g. grep -E '%s' %s\n", s->ckpt_regex_src,
			(unsigned long long)r->out.lines, r->out.lines == 1 ? "" : "s",
			s->ckpt_log, s->ckpt_regex_src, s->ckpt_log);
}

int run__finish(struct run *r)
{
	int e = 0;

	tracer__fold_faults(r->tracer);
	tracer__each_exited(r->tracer, apply_lost_exit, r);
	sync_procs(r);
	if (r->have_status) {
		struct proc_info *p = procs__get(&r->procs, r->child, false);

		if (p)	/* wait4 is exact */
			procs__exited(&r->procs, p, exit_status_code(r->status), r->end_ns, true);
	}
	if (r->spikes && spikes__finish(r->spikes, r->end_ns)) {
		/* an analysis cut short is none: the summary goes without it */
		fprintf(stderr, "memtrace-bpf: out of memory for the spike analysis; the summary "
			"has the exact peaks without it\n");
		spikes__free(r->spikes);
		r->spikes = NULL;
	}
	if (r->out_on)
		finish_output(r);
	guard__finish(r);
	if (r->trace_open) {
		if (r->thin && thin__flush(r->thin))
			fprintf(stderr, "memtrace-bpf: out of memory thinning the trace (--resolution)\n");
		emit_logs(r, UINT64_MAX);
		r->trace_open = false;
		e = csv_out__close(&r->trace);
		if (e)
			fprintf(stderr, "memtrace-bpf: the trace %s is incomplete: %s\n",
				r->spec.csv_path, strerror(-e));
	}
	return e;
}

void run__free(struct run *r)
{
	/* a run whose start failed before run__init is all zeros: its fds
	 * are not 0 (stdin), it holds nothing */
	if (!r->inited)
		return;
	if (r->expecting) {
		close(r->expect_pidfd);
		r->expecting = false;
	}
	if (r->out_on) {
		logcap__close(&r->out);
		r->out_on = false;
	}
	if (r->trace_open) {
		csv_out__close(&r->trace);
		r->trace_open = false;
	}
	for (size_t i = 0; i < r->nlogs; i++) {
		free(r->logs[i].line);
		free(r->logs[i].value);
	}
	free(r->logs);
	r->logs = NULL;
	r->nlogs = 0;
	procs__free(&r->procs);
	thin__free(r->thin);
	r->thin = NULL;
	spikes__free(r->spikes);
	r->spikes = NULL;
	baseline__free(&r->baseline);
	for (int i = 0; i < RUN_NFILES; i++) {
		out_file__close(&r->files[i]);
		free(r->paths[i]);
		r->paths[i] = NULL;
	}
	/* its group may be taken again once its processes are gone too */
	if (r->tracer)
		tracer__group_give_back(r->tracer, r->group);
	r->tracer = NULL;
}
