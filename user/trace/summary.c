// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What a run says when it is over: the JSON summary file, and the text on
 * stderr (the summary, the peak limit's verdict, the status line). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include "analysis/spikes_report.h"
#include "format/json.h"
#include "format/names.h"
#include "lib/clock.h"
#include "lib/files.h"
#include "lib/units.h"
#include "lib/waitstatus.h"
#include "trace/summary.h"

static int take_first(void *ctx, const struct proc_info *p)
{
	*(struct proc_info *)ctx = *p;
	return 1;
}

/* What ran and how it ended. */
static void json_run(struct jw *w, struct run *r, const struct mt_group *g)
{
	struct proc_info first_proc;
	const struct proc_info *first =
		procs__each(&r->procs, take_first, &first_proc) == 1 ? &first_proc : NULL;
	const struct run_spec *s = &r->spec;
	char t[32];

	jw_str(w, "tool", "memtrace-bpf");
	jw_str(w, "version", MEMTRACE_VERSION);
	jw_str(w, "mode", s->mode);
	if (s->ncmd) {
		jw_arr(w, "command");
		for (int i = 0; i < s->ncmd; i++)
			jw_str(w, NULL, s->cmd[i]);
		jw_arr_end(w);
	} else {
		jw_null(w, "command");
	}
	jw_arr(w, "targets");
	if (s->ncmd)
		jw_i64(w, NULL, r->child);
	for (int i = 0; i < s->npids; i++)
		jw_i64(w, NULL, s->pids[i]);
	jw_arr_end(w);
	jw_str(w, "csv", s->csv_path);
	/* --resolution: the trace is thinned (0: every change) */
	jw_u64(w, "resolution_ns", s->resolution_ns);
	jw_u64(w, "start_ts_ns", r->start_ns);
	jw_u64(w, "end_ts_ns", r->end_ns);
	jw_f64(w, "duration_s", (r->end_ns - r->start_ns) / 1e9, 9);
	jw_u64(w, "peak_rss_kb", g->tree_peak_pages * r->page_kb);
	jw_f64(w, "peak_time_s", g->tree_peak_ts_ns ?
	       secs_since(g->tree_peak_ts_ns, r->start_ns) : 0.0, 9);
	jw_u64(w, "peak_ts_ns", g->tree_peak_ts_ns);
	jw_u64(w, "events", r->trace.rows);
	/* all of them in the trace, or its write failed (a full disk) */
	jw_bool(w, "trace_complete", !r->trace.err);
	jw_u64(w, "trace_rows", csv_out__rows_written(&r->trace, t, sizeof(t)));
	jw_u64(w, "lost_events", g->lost);
	jw_u64(w, "untraced_processes", g->untraced);
	/* owned groups (the daemon's): processes that left at a set-id
	 * exec, children not followed (the kernel's count; 0 for root's) */
	jw_u64(w, "left_processes", g->left);
	jw_bool(w, "interrupted", r->interrupted);
	if (r->have_status) {
		jw_i64(w, "exit_code", exit_status_code(r->status));
		jw_i64(w, "rusage_maxrss_kb", r->ru.ru_maxrss);
	} else if (((!s->ncmd && !s->npids) || r->expecting) && first && first->known_exit) {
		/* capture: the process that started the run (not our child);
		 * expect: the process expected, the first one traced */
		jw_i64(w, "exit_code", first->exit_code);
		jw_null(w, "rusage_maxrss_kb");
	} else {
		jw_null(w, "exit_code");
		jw_null(w, "rusage_maxrss_kb");
	}
	/* "gate": --max-peak's verdict (the key's name is a contract) */
	if (s->limit && s->limit->max_peak_kb) {
		jw_obj(w, "gate");
		jw_u64(w, "max_peak_kb", s->limit->max_peak_kb);
		jw_u64(w, "limit_with_tolerance_kb", peak_limit_kb(s->limit));
		jw_bool(w, "exceeded", peak_limit_exceeded(s->limit, g->tree_peak_pages * r->page_kb));
		jw_obj_end(w);
	}
}

/* Marks and checkpoints, and what --checkpoint-regex read. */
static void json_marks(struct jw *w, const struct run *r)
{
	jw_obj(w, "marks");
	if (r->mark_fd >= 0)
		jw_i64(w, "fd", r->mark_fd);
	else
		jw_null(w, "fd");
	jw_u64(w, "marks", r->marks);
	jw_u64(w, "checkpoints", r->checkpoints);
	jw_arr(w, "fd_lost");
	for (size_t i = 0; i < r->nlost; i++) {
		const struct mark_lost *l = &r->lost[i];
		const char *how = syscall_name(l->nr);

		jw_obj(w, NULL);
		jw_i64(w, "pid", l->pid);
		jw_u64(w, "ts_ns", l->ts_ns);
		jw_str(w, "by", how ? how : "?");
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_u64(w, "fd_lost_count", r->mark_fd_lost);
	jw_obj_end(w);
	if (r->out_on) {
		jw_obj(w, "checkpoint_regex");
		jw_str(w, "pattern", r->spec.ckpt_regex_src);
		jw_str(w, "log", r->spec.ckpt_log);
		jw_u64(w, "lines", r->out.lines);
		jw_u64(w, "matched", r->out.matched);
		jw_u64(w, "unknown_units", r->log_unknown_units);
		jw_obj_end(w);
	}
}

struct json_procs {
	struct jw *w;
	const struct run *r;
};

static int json_process(void *ctx, const struct proc_info *p)
{
	struct json_procs *c = ctx;
	struct jw *w = c->w;
	const struct run *r = c->r;

	jw_obj(w, NULL);
	jw_i64(w, "pid", p->pid);
	jw_i64(w, "ppid", p->ppid);
	jw_str(w, "comm", p->comm);
	jw_u64(w, "peak_rss_kb", p->peak_pages * r->page_kb);
	jw_f64(w, "peak_time_s", p->peak_ts_ns ?
	       secs_since(p->peak_ts_ns, r->start_ns) : 0.0, 9);
	jw_u64(w, "peak_ts_ns", p->peak_ts_ns);
	jw_u64(w, "page_faults", p->faults);
	if (p->exited && p->known_exit)
		jw_i64(w, "exit_code", p->exit_code);
	else
		jw_null(w, "exit_code");	/* running, or its exit record was dropped */
	jw_bool(w, "exited", p->exited && !p->left);
	if (p->exited && p->known_exit)
		jw_u64(w, "exit_ts_ns", p->end_ts_ns);
	jw_obj_end(w);
	return 0;
}

static void json_processes(struct jw *w, struct run *r)
{
	struct json_procs c = { w, r };

	jw_arr(w, "processes");
	procs__each(&r->procs, json_process, &c);
	jw_arr_end(w);
}

/* The loader's own peak RSS in kB: VmHWM, of this process image since its
 * exec (getrusage's ru_maxrss keeps the peak of whatever exec'd us: a
 * 100 MB Python that ran memtrace-bpf would be counted). -1: unknown. */
static int64_t own_peak_kb(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	long long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* What tracing cost, so far: the kernel side's exact sums (for the whole
 * tracer: every run of this memtrace-bpf), the rows, what the ring gave
 * (for the whole tracer too), and the loader's own
 * CPU (getrusage) and peak memory (VmHWM). */
static void json_cost(struct jw *w, const struct run *r)
{
	struct mt_cost k = {};
	uint64_t ring = 0, windows = 0;
	struct rusage ru;

	if (r->tracer) {
		tracer__cost(r->tracer, &k);
		tracer__ring_counts(r->tracer, &ring, &windows);
	}
	getrusage(RUSAGE_SELF, &ru);
	jw_obj(w, "cost");
	jw_u64(w, "rss_events", k.rss_events);
	jw_u64(w, "full_sums", k.full_sums);
	jw_u64(w, "records", r->trace.rows);
	/* what reached the loader: with --resolution folded in the kernel,
	 * a window is one ring record for all its changes */
	jw_u64(w, "ring_records", ring);
	jw_u64(w, "ring_windows", windows);
	jw_f64(w, "loader_user_s", ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6, 6);
	jw_f64(w, "loader_sys_s", ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, 6);
	jw_i64(w, "loader_maxrss_kb", own_peak_kb());
	jw_obj_end(w);
}

/* The summary as JSON into f; short: without the processes and the
 * analysis (what fits when the disk is full). */
static void summary_json(struct run *r, bool short_form, FILE *f)
{
	char kernel[128] = "";
	struct mt_group g;
	struct utsname u;
	struct jw w;

	run__group(r, &g);
	if (!uname(&u))
		snprintf(kernel, sizeof(kernel), "%s", u.release);
	jw_begin(&w, f);
	jw_obj(&w, NULL);
	json_run(&w, r, &g);
	json_marks(&w, r);
	guard__json(&w, r);
	json_cost(&w, r);
	jw_u64(&w, "page_size", (uint64_t)r->page_kb * 1024);
	jw_str(&w, "kernel", kernel);
	if (short_form) {
		jw_str(&w, "short", "no space on the disk for the whole summary: the processes and "
		       "the analysis are left out");
	} else {
		json_processes(&w, r);
		if (r->spikes) {
			jw_obj(&w, "analysis");
			spikes_report_json(&w, r->spikes, r->start_ns, SUMMARY_TOP_SPIKES);
			jw_obj_end(&w);
		}
	}
	jw_obj_end(&w);
}

/* Streamed into the file (the room reserved for it at the start), not
 * built in memory: a summary of a million processes costs no memory. */
static int summary_to_file(struct run *r, bool short_form)
{
	FILE *f = out_file__stream(&r->files[RUN_SUMMARY]);

	if (!f)
		return errno ? -errno : -EIO;
	summary_json(r, short_form, f);
	return out_file__stream_end(&r->files[RUN_SUMMARY], f);
}

int summary__write(struct run *r, char *msg, size_t msglen)
{
	int e = summary_to_file(r, false);

	if (e == -ENOSPC || e == -EDQUOT) {
		/* the room reserved at the start holds this one */
		e = summary_to_file(r, true);
		r->summary_short = !e;
		if (!e)
			fprintf(stderr, "memtrace-bpf: the disk is full: %s has the peak and the run's "
				"totals, not the processes nor the analysis\n", r->spec.summary_path);
	}
	if (e)
		snprintf(msg, msglen, "cannot write summary %s: %s", r->spec.summary_path, strerror(-e));
	else
		e = out_file__publish(&r->files[RUN_SUMMARY], msg, msglen);
	return e;
}

void summary__print_limit(const struct peak_limit *limit, uint64_t peak_kb)
{
	char p[32], l[32], a[32], d[32];
	uint64_t lim = peak_limit_kb(limit);

	format_size(peak_kb * 1024, p, sizeof(p));
	format_size(limit->max_peak_kb * 1024, l, sizeof(l));
	format_size(lim * 1024, a, sizeof(a));
	format_size((peak_kb > lim ? peak_kb - lim : lim - peak_kb) * 1024, d, sizeof(d));
	fprintf(stderr, "memtrace-bpf: peak %s (%" PRIu64 " kB) is %s the limit %s%s%s%s: %s %s\n",
		p, peak_kb, peak_kb > lim ? "OVER" : "within", l,
		lim != limit->max_peak_kb ? " (with tolerance " : "", lim != limit->max_peak_kb ? a : "",
		lim != limit->max_peak_kb ? ")" : "", d, peak_kb > lim ? "over" : "to spare");
}

void summary__status_line(const struct run *r, bool tty, bool final)
{
	char rss[32], peak[32];
	struct mt_group g;
	unsigned int kb = r->page_kb;

	run__group(r, &g);
	/* once every process is gone there is no RSS to show, only the end */
	if (final && r->ended && g.tree_pages <= 0)
		snprintf(rss, sizeof(rss), "(exited)");
	else
		format_size((uint64_t)(g.tree_pages > 0 ? g.tree_pages : 0) * kb * 1024, rss,
			    sizeof(rss));
	fprintf(stderr, "%smemtrace-bpf: %7.1f s  RSS %s  peak %s  events %" PRIu64 "  lost %" PRIu64 "%s",
		tty ? "\r\033[K" : "", (mono_ns() - r->start_ns) / 1e9, rss,
		format_size(g.tree_peak_pages * kb * 1024, peak, sizeof(peak)),
		r->trace.rows, (uint64_t)g.lost, tty && !final ? "" : "\n");
	fflush(stderr);
}

void summary__print(const struct run *r)
{
	char peak[32], dur[32], at[32];
	struct mt_group c;
	unsigned int kb = r->page_kb;

	run__group(r, &c);
	if (r->child && r->have_status) {
		int code = exit_status_code(r->status);

		if (WIFSIGNALED(r->status))
			fprintf(stderr, "memtrace-bpf: %s killed by signal %d (%s) after %s\n",
				run__name(r), WTERMSIG(r->status), strsignal(WTERMSIG(r->status)),
				format_duration(r->end_ns - r->start_ns, dur, sizeof(dur)));
		else
			fprintf(stderr, "memtrace-bpf: %s exited with status %d after %s\n",
				run__name(r), code,
				format_duration(r->end_ns - r->start_ns, dur, sizeof(dur)));
	} else {
		fprintf(stderr, "memtrace-bpf: traced %zu process%s for %s%s\n", r->procs.n,
			r->procs.n == 1 ? "" : "es",
			format_duration(r->end_ns - r->start_ns, dur, sizeof(dur)),
			r->interrupted ? " (stopped by signal)" : "");
	}
	fprintf(stderr, "  peak RSS   %s (%" PRIu64 " kB) at %s\n",
		format_size(c.tree_peak_pages * kb * 1024, peak, sizeof(peak)),
		(uint64_t)c.tree_peak_pages * kb,
		format_duration(c.tree_peak_ts_ns > r->start_ns ? c.tree_peak_ts_ns - r->start_ns : 0,
				at, sizeof(at)));
	if (r->procs.n > 1)
		fprintf(stderr, "             (sum over %zu traced processes; per process in the summary)\n",
			r->procs.n);
	if (r->trace.err) {
		char t[32];
		uint64_t kept = csv_out__rows_written(&r->trace, t, sizeof(t));

		fprintf(stderr, "  events     %" PRIu64 ", %" PRIu64 " lost; the trace holds the first %"
			PRIu64 " (to %s s): its write failed\n", r->trace.rows, (uint64_t)c.lost, kept, t);
	} else {
		fprintf(stderr, "  events     %" PRIu64 " rows, %" PRIu64 " lost\n", r->trace.rows,
			(uint64_t)c.lost);
	}
	fprintf(stderr, "  trace      %s\n", !strcmp(r->spec.csv_path, "-") ? "(stdout)" : r->spec.csv_path);
	if (r->checkpoints || r->marks || r->log_rows)
		fprintf(stderr, "  checks     %" PRIu64 " checkpoint%s, %" PRIu64 " mark%s, %" PRIu64
			" reported value%s (memtrace-bpf validate / stages %s)\n",
			r->checkpoints, r->checkpoints == 1 ? "" : "s", r->marks,
			r->marks == 1 ? "" : "s", r->log_rows, r->log_rows == 1 ? "" : "s",
			!strcmp(r->spec.csv_path, "-") ? "FILE" : r->spec.csv_path);
	if (r->spec.summary_path)
		fprintf(stderr, "  summary    %s\n", r->spec.summary_path);
	if (r->spikes && spikes__npids(r->spikes)) {
		struct spikes *sp = r->spikes;
		const struct pid_report *main_p = spikes__pid(sp, 0);
		char a[32], b[32];

		if (spikes__count(sp)) {
			fprintf(stderr, "  spikes     %zu of 1 MiB or more; largest:\n", spikes__count(sp));
			for (size_t i = 0; i < spikes__kept(sp) && i < 3; i++) {
				const struct spike *x = spikes__get(sp, i);

				fprintf(stderr, "             +%s for %s at %.3f s (pid %d)\n",
					format_size((uint64_t)(x->peak_kb - x->base_kb) * 1024, a, sizeof(a)),
					format_duration(x->end_ts - x->start_ts, b, sizeof(b)),
					secs_since(x->start_ts, r->start_ns), x->pid);
			}
		} else {
			fprintf(stderr, "  spikes     none of 1 MiB or more\n");
		}
		for (int k = 0; k < main_p->npoll; k++) {
			const struct poll_result *pr = &main_p->poll[k];

			char per[16], head[32];

			snprintf(head, sizeof(head), "%-8s %s:", k ? "" : "pollers",
				 period_name(pr->period_ns, per, sizeof(per)));
			fprintf(stderr, "  %-16s peak %s expected (%s worst), %.1f%% off (pid %d)\n",
				head, format_size((uint64_t)pr->expected_kb * 1024, a, sizeof(a)),
				format_size((uint64_t)pr->worst_kb * 1024, b, sizeof(b)),
				main_p->peak_kb ? 100.0 * (pr->expected_kb - main_p->peak_kb) / main_p->peak_kb : 0.0,
				main_p->pid);
		}
		fprintf(stderr, "             (memtrace-bpf spikes %s for the full analysis)\n",
			!strcmp(r->spec.csv_path, "-") ? "FILE" : r->spec.csv_path);
	}
}
