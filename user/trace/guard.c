// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "format/json.h"
#include "format/names.h"
#include "lib/clock.h"
#include "lib/env.h"
#include "lib/exit.h"
#include "lib/files.h"
#include "lib/proctree.h"
#include "lib/units.h"
#include "lib/waitstatus.h"
#include "lib/metrics_http.h"
#include "lib/prom.h"
#include "trace/guard.h"
#include "trace/run.h"

#define MS 1000000ULL
/* Processes a guard or a timeout signals at once, at most (a tree). */
#define TREE_MAX 4096

bool guard_spec__active(const struct guard_spec *s)
{
	return s && (s->kill_at_kb || s->nalerts || s->timeout_ns || s->detach_ns ||
		     s->status_ns || s->peak_step_kb || s->metrics_ns);
}

void guard_spec__kernel(const struct guard_spec *s, unsigned int page_kb, struct mt_guard *out)
{
	memset(out, 0, sizeof(*out));
	if (!s)
		return;
	/* over SIZE: past the whole pages it holds */
	out->kill_at_pages = s->kill_at_kb / page_kb;
	out->signal = (uint32_t)s->kill_signal;
	out->flags = s->count_anon ? MT_GUARD_ANON : 0;
	out->nalerts = (uint32_t)s->nalerts;
	for (int i = 0; i < s->nalerts; i++)
		out->alert_pages[i] = s->alert_kb[i] / page_kb;
	guard__watch_first(out);
}

void guard__watch_first(struct mt_guard *g)
{
	g->watch_pages = g->nalerts ? g->alert_pages[0] : 0;
	if (g->kill_at_pages && (!g->watch_pages || g->kill_at_pages < g->watch_pages))
		g->watch_pages = g->kill_at_pages;
}

static const char *counts_name(const struct guard_spec *s)
{
	return s->count_anon ? "anon+shmem" : "rss";
}

/* ---- the monitor log: one line per event, wall-clock first ---- */

static void mlog(struct run *r, uint64_t mono, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void mlog(struct run *r, uint64_t mono, const char *fmt, ...)
{
	struct guard_state *gs = &r->gs;
	uint64_t wall = mono_to_real(mono);
	char line[1024];
	time_t sec = (time_t)(wall / 1000000000ULL);
	struct tm tm;
	va_list ap;
	int n;

	if (gs->log_fd < 0 || gs->log_failed)
		return;
	gmtime_r(&sec, &tm);
	n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(line + n, sizeof(line) - (size_t)n, ".%06uZ %.3f ",
		      (unsigned int)(wall % 1000000000ULL / 1000), secs_since(mono, r->start_ns));
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* a line at a time, so that tail -f shows it at once */
	if (write(gs->log_fd, line, (size_t)n) != n) {
		gs->log_failed = true;
		fprintf(stderr, "memtrace-bpf: writing the monitor log %s failed: %s; it stops "
			"here\n", r->spec.monitor_log, strerror(errno ? errno : ENOSPC));
	}
}

/* ---- acting on the tree ---- */

/* sig to every process of the run's tree: what the kernel traces of its
 * group, the launched command, and anything below them (untraced
 * children: --no-follow, over --max-procs). How many got it. */
static uint32_t tree_signal(struct run *r, int sig)
{
	pid_t pids[TREE_MAX];
	size_t n = 0;
	uint32_t sent = 0;

	if (r->child && !r->have_status)
		pids[n++] = r->child;
	if (r->tracer)
		n += tracer__group_pids(r->tracer, r->group, pids + n, TREE_MAX - n);
	proctree_add_descendants(pids, &n, TREE_MAX);
	if (r->child && !r->have_status && r->spec.own_pgrp)
		kill(-r->child, sig);
	for (size_t i = 0; i < n; i++)
		if (pids[i] > 1 && pids[i] != getpid() && (i == 0 || pids[i] != pids[0]) &&
		    !kill(pids[i], sig))
			sent++;
	return sent;
}

/* Once the tree got SIGKILL, whatever of it still lives gets it again: a
 * child forked while the signals went out, orphaned when its parent died
 * (the kernel still traces it in the group). Not counted again. */
static void sweep(struct run *r)
{
	if (r->gs.kill_ns)
		(void)tree_signal(r, SIGKILL);
}

static void say(const struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(const struct run *r, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "memtrace-bpf: %s%s", r->spec.label ? r->spec.label : "",
		r->spec.label ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The kernel saw the limit crossed (and signalled the process that did
 * it): the rest of the tree now. */
static void act_crossed(struct run *r, const struct mt_group *g, uint64_t now)
{
	const struct guard_spec *s = r->spec.guard;
	struct guard_state *gs = &r->gs;
	int sig = s->kill_signal;
	char lim[32], val[32], gr[32];
	uint32_t n;

	gs->crossed = true;
	gs->seen = g->guard;
	n = tree_signal(r, sig);
	if (sig == SIGKILL) {
		gs->kill_ns = now;
		gs->kill_n = n;
	} else {
		gs->term_ns = now;
		gs->term_sig = sig;
		gs->term_n = n;
	}
	format_size(s->kill_at_kb * 1024, lim, sizeof(lim));
	snprintf(val, sizeof(val), "%" PRIu64 " kB", (uint64_t)g->guard.cross_pages * r->page_kb);
	if (n)
		say(r, "--kill-at %s: the %s total reached %s at %.3f s (PID %u); SIG%s to %u "
		    "process%s of the tree%s%s", lim, counts_name(s), val,
		    secs_since(g->guard.cross_ts_ns, r->start_ns), g->guard.cross_pid,
		    signal_abbrev(sig), n, n == 1 ? "" : "es", sig == SIGKILL ? "" : ", SIGKILL after ",
		    sig == SIGKILL ? "" : format_duration(s->grace_ns, gr, sizeof(gr)));
	else
		say(r, "--kill-at %s: the %s total reached %s at %.3f s (PID %u); the kernel's "
		    "SIG%s ended it, nothing else of the tree is left", lim, counts_name(s), val,
		    secs_since(g->guard.cross_ts_ns, r->start_ns), g->guard.cross_pid,
		    signal_abbrev(sig));
	mlog(r, g->guard.cross_ts_ns, "guard crossed limit_kb=%" PRIu64 " value_kb=%" PRIu64
	     " pid=%u tid=%u counts=%s", s->kill_at_kb,
	     (uint64_t)g->guard.cross_pages * r->page_kb, g->guard.cross_pid, g->guard.cross_tid,
	     counts_name(s));
	mlog(r, now, "guard signal=%s processes=%u", signal_abbrev(sig), n);
}

/* After a SIGTERM-like signal (a gentle --kill-signal, --timeout), the
 * grace: SIGKILL to whatever is left of the tree. */
static void end_grace(struct run *r, uint64_t now)
{
	struct guard_state *gs = &r->gs;
	char gr[32];

	gs->kill_ns = now;
	gs->kill_n = tree_signal(r, SIGKILL);
	if (gs->kill_n)
		say(r, "%u process%s still running %s after SIG%s: SIGKILL", gs->kill_n,
		    gs->kill_n == 1 ? "" : "es",
		    format_duration(r->spec.guard->grace_ns, gr, sizeof(gr)), signal_abbrev(gs->term_sig));
	mlog(r, now, "kill signal=KILL processes=%u", gs->kill_n);
}

static void act_timeout(struct run *r, uint64_t now)
{
	const struct guard_spec *s = r->spec.guard;
	struct guard_state *gs = &r->gs;
	char to[32], gr[32];

	gs->timed_out = true;
	gs->term_ns = now;
	gs->term_sig = SIGTERM;
	gs->term_n = tree_signal(r, SIGTERM);
	say(r, "--timeout %s: %s is still running; SIGTERM to %u process%s, SIGKILL after %s",
	    format_duration(s->timeout_ns, to, sizeof(to)), run__name(r), gs->term_n,
	    gs->term_n == 1 ? "" : "es", format_duration(s->grace_ns, gr, sizeof(gr)));
	mlog(r, now, "timeout signal=TERM processes=%u", gs->term_n);
}

static void act_detach(struct run *r, uint64_t now)
{
	char d[32];

	r->gs.detached = true;
	if (r->child)
		say(r, "--detach-after %s: tracing stops; %s (PID %d) keeps running",
		    format_duration(r->spec.guard->detach_ns, d, sizeof(d)), run__name(r), r->child);
	else
		say(r, "--detach-after %s: tracing stops; the processes keep running",
		    format_duration(r->spec.guard->detach_ns, d, sizeof(d)));
	mlog(r, now, "detach");
	run__detach(r, now);
}

/* ---- alerts ---- */

static const char *cause_of(const struct mt_rec *rec, char *buf, size_t len)
{
	const char *sc;

	switch (rec->cause) {
	case MT_CAUSE_FAULT:
		snprintf(buf, len, "fault at 0x%" PRIx64 " (ip 0x%" PRIx64 ")", (uint64_t)rec->addr,
			 (uint64_t)rec->ip);
		break;
	case MT_CAUSE_SYSCALL:
		sc = syscall_name(rec->nr);
		snprintf(buf, len, "in %s%s", sc ? sc : "syscall", sc ? "()" : "");
		break;
	case MT_CAUSE_SELF:
		snprintf(buf, len, "by itself");
		break;
	default:
		snprintf(buf, len, "from another task (TID %u)", rec->tid);
	}
	return buf;
}

/* --on-alert: sh -c CMD with the figures in its environment, as the sudo
 * user (as the command runs), stdout to our stderr; never waited for here. */
static void run_hook(struct run *r, int i, const struct mt_rec *rec)
{
	const struct guard_spec *s = r->spec.guard;
	static const char *const names[] = {
		"MEMTRACE_ALERT_KB", "MEMTRACE_VALUE_KB", "MEMTRACE_COUNTS", "MEMTRACE_PID",
		"MEMTRACE_TIME_S", "MEMTRACE_TRACE",
	};
	char v[6][64];
	const char *vals[6] = { v[0], v[1], v[2], v[3], v[4], r->spec.csv_path };
	char *argv[] = { "sh", "-c", (char *)s->on_alert, NULL };
	char **envp;
	uid_t uid;
	gid_t gid;
	pid_t pid;

	snprintf(v[0], sizeof(v[0]), "%" PRIu64, s->alert_kb[i]);
	snprintf(v[1], sizeof(v[1]), "%" PRIu64, (uint64_t)rec->counted_pages * r->page_kb);
	snprintf(v[2], sizeof(v[2]), "%s", counts_name(s));
	snprintf(v[3], sizeof(v[3]), "%u", rec->pid);
	snprintf(v[4], sizeof(v[4]), "%.6f", secs_since(rec->ts_ns, r->start_ns));
	envp = env_with(NULL, names, vals, 6);
	if (!envp) {
		r->gs.hooks_failed++;
		return;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		if (null >= 0)
			dup2(null, 0);
		dup2(2, 1);
		if (!r->spec.as_root && sudo_ids(&uid, &gid)) {
			const char *name = getenv("SUDO_USER");

			if ((name ? initgroups(name, gid) : setgroups(0, NULL)) || setgid(gid) ||
			    setuid(uid))
				_exit(126);
		}
		execve("/bin/sh", argv, envp);
		_exit(127);
	}
	env_free(envp, 6);
	if (pid < 0) {
		r->gs.hooks_failed++;
		say(r, "--on-alert: cannot start it: %s", strerror(errno));
		return;
	}
	r->gs.hook[i] = pid;
}

static void on_alert(struct run *r, const struct mt_rec *rec)
{
	const struct guard_spec *s = r->spec.guard;
	uint64_t th_kb = rec->len * r->page_kb, val_kb = (uint64_t)rec->counted_pages * r->page_kb;
	char th[32], val[32], cause[96], wall[32];
	uint64_t w = mono_to_real(rec->ts_ns);
	time_t sec = (time_t)(w / 1000000000ULL);
	struct proc_info *p;
	struct tm tm;
	int i;

	for (i = 0; i < s->nalerts && s->alert_kb[i] / r->page_kb != rec->len; i++)
		;
	if (i == s->nalerts || r->gs.alert[i].type)
		return;
	r->gs.alert[i] = *rec;
	localtime_r(&sec, &tm);
	strftime(wall, sizeof(wall), "%H:%M:%S", &tm);
	p = procs__get(&r->procs, (pid_t)rec->pid, false);
	say(r, "alert: %s total passed %s at %s.%03u (%.3f s): %s, PID %u%s%s%s, %s",
	    counts_name(s), format_size(th_kb * 1024, th, sizeof(th)), wall,
	    (unsigned int)(w % 1000000000ULL / MS), secs_since(rec->ts_ns, r->start_ns),
	    format_size(val_kb * 1024, val, sizeof(val)), rec->pid, p ? " (" : "",
	    p ? p->comm : "", p ? ")" : "", cause_of(rec, cause, sizeof(cause)));
	mlog(r, rec->ts_ns, "alert threshold_kb=%" PRIu64 " value_kb=%" PRIu64 " pid=%u tid=%u "
	     "counts=%s cause=%s", th_kb, val_kb, rec->pid, rec->tid, counts_name(s),
	     cause_of(rec, cause, sizeof(cause)));
	if (s->on_alert)
		run_hook(r, i, rec);
}

/* ---- the run's side ---- */

void guard__arm(struct run *r, bool kernel)
{
	const struct guard_spec *s = r->spec.guard;
	struct guard_state *gs = &r->gs;
	struct mt_guard k;

	gs->log_fd = r->files[RUN_MONITOR_LOG].fd;
	if (!s)
		return;
	if (kernel && r->tracer && (s->kill_at_kb || s->nalerts)) {
		guard_spec__kernel(s, r->page_kb, &k);
		tracer__group_guard(r->tracer, r->group, &k);
	}
	gs->next_status_ns = r->start_ns + s->status_ns;
	if (s->kill_at_kb)
		mlog(r, r->start_ns, "start kill_at_kb=%" PRIu64 " signal=%s counts=%s",
		     s->kill_at_kb, signal_abbrev(s->kill_signal), counts_name(s));
	else
		mlog(r, r->start_ns, "start %s", r->spec.mode);
}

void guard__urgent(struct run *r, const struct mt_rec *rec, uint64_t now)
{
	struct mt_group g;

	if (!r->spec.guard || r->ended)
		return;
	if (rec->type == MT_REC_ALERT) {
		on_alert(r, rec);
	} else if (rec->type == MT_REC_GUARD && !r->gs.crossed) {
		r->gs.cross = *rec;
		run__group(r, &g);
		if (g.guard.cross_ts_ns)
			act_crossed(r, &g, now);
	}
}

void guard__record(struct run *r, const struct mt_rec *rec)
{
	if (!r->spec.guard)
		return;
	if (rec->type == MT_REC_ALERT)
		on_alert(r, rec);	/* if no urgent hand-on saw it */
	else if (rec->type == MT_REC_GUARD && !r->gs.cross.type)
		r->gs.cross = *rec;
}

/* --on-alert commands that are done: reaped, a failure said. */
static void reap_hooks(struct run *r)
{
	for (int i = 0; i < MT_MAX_ALERTS; i++) {
		int st;

		if (r->gs.hook[i] <= 0 || waitpid(r->gs.hook[i], &st, WNOHANG) != r->gs.hook[i])
			continue;
		r->gs.hook[i] = 0;
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			r->gs.hooks_failed++;
			say(r, "--on-alert command (alert %d) %s %d", i + 1,
			    WIFEXITED(st) ? "exited with status" : "was killed by signal",
			    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		}
	}
}

/* The monitor log's status line, and a line each time the peak grew by
 * --peak-lines. */
static void log_status(struct run *r, const struct mt_group *g, uint64_t now)
{
	const struct guard_spec *s = r->spec.guard;
	struct guard_state *gs = &r->gs;
	uint64_t peak_kb = g->tree_peak_pages * r->page_kb;

	if (s->status_ns && now >= gs->next_status_ns) {
		mlog(r, now, "status rss_kb=%" PRId64 " peak_kb=%" PRIu64 " rows=%" PRIu64
		     " lost=%" PRIu64, (int64_t)g->tree_pages * (int64_t)r->page_kb, peak_kb, r->trace.rows,
		     (uint64_t)g->lost);
		gs->next_status_ns = now + s->status_ns;
	}
	if (s->peak_step_kb && peak_kb >= gs->peak_logged_kb + s->peak_step_kb) {
		mlog(r, g->tree_peak_ts_ns, "peak peak_kb=%" PRIu64, peak_kb);
		gs->peak_logged_kb = peak_kb;
	}
}

/* --metrics: the run's figures as a Prometheus textfile (node_exporter's
 * textfile collector reads such files), rewritten whole each time (a
 * reader never sees half of it). */
static void write_metrics(struct run *r, const struct mt_group *g, bool running)
{
	const struct guard_state *gs = &r->gs;
	const char *label = run__name(r), *slash = strrchr(label, '/');
	struct prom_label l = { "command", label };
	uint64_t alerts = 0, v[PROM_NRUN];
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int e;

	if (gs->metrics_failed)
		return;
	/* the program's name, as a process list shows it */
	if (slash && slash[1])
		l = (struct prom_label){ "command", slash + 1 };
	for (int i = 0; i < MT_MAX_ALERTS; i++)
		alerts += gs->alert[i].type != 0;
	v[PROM_RSS] = (uint64_t)(g->tree_pages > 0 ? g->tree_pages : 0) * r->page_kb * 1024;
	v[PROM_PEAK] = g->tree_peak_pages * r->page_kb * 1024;
	v[PROM_PROCESSES] = g->live;
	v[PROM_EVENTS] = r->trace.rows;
	v[PROM_LOST] = g->lost;
	v[PROM_ALERTS] = alerts;
	v[PROM_SIGNALS] = (uint64_t)gs->term_n + gs->kill_n;
	f = open_memstream(&buf, &len);
	if (!f)
		return;
	for (int i = 0; i < PROM_NRUN; i++) {
		prom_head(f, prom_run[i].name, prom_run[i].type, prom_run[i].help);
		prom_sample(f, prom_run[i].name, &l, 1, v[i]);
	}
	prom_head(f, "memtrace_running", "gauge", "1 while the run goes, 0 once it ended.");
	prom_sample(f, "memtrace_running", &l, 1, running);
	if (fclose(f)) {
		free(buf);
		return;
	}
	e = prom_publish(r->spec.metrics_path, r->spec.metrics_http, buf, len);
	free(buf);
	if (e) {
		r->gs.metrics_failed = true;
		fprintf(stderr, "memtrace-bpf: writing the metrics file %s failed: %s; it stops "
			"here\n", r->spec.metrics_path, strerror(-e));
	}
}

static bool metrics_on(const struct run *r)
{
	return r->spec.metrics_path || r->spec.metrics_http;
}

void guard__tick(struct run *r, uint64_t now)
{
	const struct guard_spec *s = r->spec.guard;
	struct guard_state *gs = &r->gs;
	struct mt_group g;

	if (!s)
		return;
	reap_hooks(r);
	if (r->ended)
		return;
	run__group(r, &g);
	if (s->kill_at_kb && !gs->crossed && g.guard.cross_ts_ns)
		act_crossed(r, &g, now);
	if (gs->term_ns && !gs->kill_ns && now - gs->term_ns >= s->grace_ns)
		end_grace(r, now);
	else
		sweep(r);
	if (s->timeout_ns && !gs->timed_out && !gs->crossed && now - r->start_ns >= s->timeout_ns)
		act_timeout(r, now);
	if (s->detach_ns && !gs->detached && now - r->start_ns >= s->detach_ns)
		act_detach(r, now);
	log_status(r, &g, now);
	if (metrics_on(r) && now >= gs->next_metrics_ns) {
		write_metrics(r, &g, true);
		gs->next_metrics_ns = now + s->metrics_ns;
	}
}

void guard__finish(struct run *r)
{
	const struct guard_spec *s = r->spec.guard;
	struct guard_state *gs = &r->gs;
	char status[32] = "";
	struct mt_group g;

	if (!s)
		return;
	reap_hooks(r);
	sweep(r);
	run__group(r, &g);
	/* crossed while the run was ending: said, nothing left to stop */
	if (s->kill_at_kb && !gs->crossed && g.guard.cross_ts_ns) {
		gs->crossed = true;
		gs->seen = g.guard;
	}
	if (gs->crossed)
		gs->seen = g.guard;	/* its last counts */
	for (int i = 0; i < s->nalerts; i++)
		if ((g.guard.alerts_fired >> i & 1) && !gs->alert[i].type)
			say(r, "alert %d (%" PRIu64 " kB) was crossed, but its record was dropped "
			    "(ring buffer full): no time or process for it", i + 1, s->alert_kb[i]);
	for (int i = 0; i < MT_MAX_ALERTS; i++)
		if (gs->hook[i] > 0)
			say(r, "--on-alert command (alert %d, PID %d) is still running; left to finish",
			    i + 1, gs->hook[i]);
	if (r->have_status)
		snprintf(status, sizeof(status), " exit_code=%d", exit_status_code(r->status));
	mlog(r, r->end_ns, "end peak_kb=%" PRIu64 "%s%s%s%s", (uint64_t)g.tree_peak_pages * r->page_kb,
	     status, gs->crossed ? " stopped_by=guard" : "",
	     gs->timed_out ? " stopped_by=timeout" : "", gs->detached ? " detached" : "");
	if (metrics_on(r))
		write_metrics(r, &g, false);	/* the last figures: the summary's */
}

/* ---- verdicts ---- */

/* When the tree was gone: its last exit after the crossing (the kernel's
 * time), else the end of the run. */
static uint64_t stopped_ns(const struct run *r)
{
	return r->gs.last_exit_ns >= r->gs.seen.cross_ts_ns ? r->gs.last_exit_ns : r->end_ns;
}

static void json_crossing(struct jw *w, const struct run *r)
{
	const struct guard_state *gs = &r->gs;
	const struct mt_rec *c = gs->cross.type ? &gs->cross : NULL;
	char cause[96];

	jw_obj(w, "crossing");
	jw_u64(w, "ts_ns", gs->seen.cross_ts_ns);
	jw_f64(w, "time_s", secs_since(gs->seen.cross_ts_ns, r->start_ns), 9);
	jw_u64(w, "pid", gs->seen.cross_pid);
	jw_u64(w, "tid", gs->seen.cross_tid);
	jw_u64(w, "value_kb", (uint64_t)gs->seen.cross_pages * r->page_kb);
	if (c) {
		jw_str(w, "cause", c->cause == MT_CAUSE_FAULT ? "fault" :
				   c->cause == MT_CAUSE_SYSCALL ? "syscall" :
				   c->cause == MT_CAUSE_SELF ? "self" : "other");
		jw_str(w, "detail", cause_of(c, cause, sizeof(cause)));
		if (c->cause == MT_CAUSE_SYSCALL && syscall_name(c->nr))
			jw_str(w, "syscall", syscall_name(c->nr));
		if (c->ret)
			jw_str(w, "kernel_signal", signal_abbrev((int)c->ret));
		else
			jw_null(w, "kernel_signal");
	} else {
		jw_null(w, "cause");	/* its record was dropped */
	}
	jw_obj_end(w);
}

static void json_guard(struct jw *w, const struct run *r)
{
	const struct guard_spec *s = r->spec.guard;
	const struct guard_state *gs = &r->gs;
	struct mt_group g;
	uint64_t max_kb;

	run__group(r, &g);
	jw_obj(w, "guard");
	jw_u64(w, "limit_kb", s->kill_at_kb);
	jw_str(w, "counts", counts_name(s));
	jw_str(w, "signal", signal_abbrev(s->kill_signal));
	jw_f64(w, "grace_s", s->grace_ns / 1e9, 3);
	jw_bool(w, "crossed", gs->crossed);
	if (gs->crossed) {
		max_kb = (s->count_anon ? g.guard.anon_peak_pages : g.tree_peak_pages) * r->page_kb;
		json_crossing(w, r);
		jw_u64(w, "kernel_signals", g.guard.signals_sent);
		jw_u64(w, "max_after_kb", max_kb);
		jw_i64(w, "overshoot_kb", (int64_t)max_kb - (int64_t)s->kill_at_kb);
		if (gs->term_ns) {
			jw_str(w, "tree_signal", signal_abbrev(gs->term_sig));
			jw_f64(w, "tree_signal_time_s", secs_since(gs->term_ns, r->start_ns), 6);
			jw_u64(w, "tree_signal_processes", gs->term_n);
		}
		if (gs->kill_ns) {
			jw_f64(w, "tree_kill_time_s", secs_since(gs->kill_ns, r->start_ns), 6);
			jw_u64(w, "tree_kill_processes", gs->kill_n);
		}
		/* the last process of the tree gone (its exit, in the kernel) */
		jw_f64(w, "stopped_after_s", secs_since(stopped_ns(r), gs->seen.cross_ts_ns), 9);
	}
	jw_obj_end(w);
}

static void json_alerts(struct jw *w, const struct run *r)
{
	const struct guard_spec *s = r->spec.guard;
	char cause[96];

	jw_obj(w, "alerts");
	jw_str(w, "counts", counts_name(s));
	jw_arr(w, "thresholds");
	for (int i = 0; i < s->nalerts; i++) {
		const struct mt_rec *a = &r->gs.alert[i];

		jw_obj(w, NULL);
		jw_u64(w, "threshold_kb", s->alert_kb[i]);
		jw_bool(w, "crossed", a->type != 0);
		if (a->type) {
			jw_u64(w, "ts_ns", a->ts_ns);
			jw_f64(w, "time_s", secs_since(a->ts_ns, r->start_ns), 9);
			jw_u64(w, "pid", a->pid);
			jw_u64(w, "value_kb", (uint64_t)a->counted_pages * r->page_kb);
			jw_str(w, "cause", cause_of(a, cause, sizeof(cause)));
		}
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
}

void guard__json(struct jw *w, const struct run *r)
{
	const struct guard_spec *s = r->spec.guard;
	const struct guard_state *gs = &r->gs;

	if (!s)
		return;
	if (s->kill_at_kb)
		json_guard(w, r);
	if (s->nalerts)
		json_alerts(w, r);
	if (s->timeout_ns) {
		jw_obj(w, "timeout");
		jw_f64(w, "after_s", s->timeout_ns / 1e9, 3);
		jw_bool(w, "fired", gs->timed_out);
		if (gs->timed_out) {
			jw_f64(w, "term_time_s", secs_since(gs->term_ns, r->start_ns), 6);
			if (gs->kill_ns)
				jw_f64(w, "kill_time_s", secs_since(gs->kill_ns, r->start_ns), 6);
		}
		jw_obj_end(w);
	}
	if (s->detach_ns)
		jw_bool(w, "detached", gs->detached);
}

void guard__print(const struct run *r)
{
	const struct guard_spec *s = r->spec.guard;
	const struct guard_state *gs = &r->gs;
	struct mt_group g;
	char lim[32], max[32], cause[96], after[32];
	uint64_t max_kb;

	if (!s || !gs->crossed)
		return;
	run__group(r, &g);
	max_kb = (s->count_anon ? g.guard.anon_peak_pages : g.tree_peak_pages) * r->page_kb;
	say(r, "guard: stopped at --kill-at %s (%s): crossed at %.6f s by PID %u%s%s; largest "
	    "after it %s (%+" PRId64 " kB over); the tree was gone %s after the crossing",
	    format_size(s->kill_at_kb * 1024, lim, sizeof(lim)), counts_name(s),
	    secs_since(gs->seen.cross_ts_ns, r->start_ns), gs->seen.cross_pid,
	    gs->cross.type ? ", " : "", gs->cross.type ? cause_of(&gs->cross, cause, sizeof(cause)) : "",
	    format_size(max_kb * 1024, max, sizeof(max)), (int64_t)max_kb - (int64_t)s->kill_at_kb,
	    format_duration(stopped_ns(r) - gs->seen.cross_ts_ns, after, sizeof(after)));
}

int guard__exit_status(const struct run *r)
{
	if (!r->spec.guard)
		return 0;
	if (r->gs.crossed)
		return EXIT_GUARD;
	if (r->gs.timed_out)
		return EXIT_TIMEOUT;
	return 0;
}
