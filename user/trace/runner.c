// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/clock.h"
#include "lib/units.h"
#include "trace/runner.h"
#include "trace/summary.h"

#define MS 1000000ULL

volatile sig_atomic_t sig_count, sig_last, sig_from_user;
bool sig_inherited_ignore[NSIG];

static void on_signal(int sig, siginfo_t *info, void *uc)
{
	(void)uc;
	sig_last = sig;
	/* A terminal's Ctrl-C reaches the whole foreground process group,
	 * the command included (si_code SI_KERNEL). A kill() aimed at us
	 * alone must be passed on. */
	sig_from_user = info && (info->si_code == SI_USER || info->si_code == SI_QUEUE ||
				 info->si_code == SI_TKILL);
	sig_count++;
}

void signals__install(void)
{
	struct sigaction sa = { .sa_sigaction = on_signal, .sa_flags = SA_SIGINFO };
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction old;

		/* handled even when inherited as ignored: a kill() aimed at us
		 * must stop the trace and reach the command (as timeout(1)) */
		sigaction(sigs[i], &sa, &old);
		sig_inherited_ignore[sigs[i]] = old.sa_handler == SIG_IGN;
	}
	sigaction(SIGPIPE, NULL, &sa);
	sig_inherited_ignore[SIGPIPE] = sa.sa_handler == SIG_IGN;
	signal(SIGPIPE, SIG_IGN);
}

void runner__init(struct runner *rn, struct tracer *t, const struct runner_client *c, void *ctx)
{
	memset(rn, 0, sizeof(*rn));
	rn->tracer = t;
	rn->client = c;
	rn->ctx = ctx;
	rn->tty = isatty(STDERR_FILENO);
}

void runner__add(struct runner *rn, struct run *r)
{
	/* a group is never shared by two runs at once (the kernel's and
	 * tracer__group_take's accounting) */
	rn->by_group[r->group & (MT_MAX_GROUPS - 1)] = r;
	rn->nruns++;
}

#define each_run(rn, r) \
	for (uint32_t g_ = 0; g_ < MT_MAX_GROUPS; g_++) \
		if (((r) = (rn)->by_group[g_]))

static bool may_start(const struct runner *rn)
{
	return !rn->stop_sig && !rn->failed && rn->client->more && rn->client->more(rn->ctx);
}

static bool all_ended(struct runner *rn)
{
	struct run *r;

	each_run(rn, r)
		if (!r->ended)
			return false;
	return true;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Something failed that stops every run. */
static void fail(struct runner *rn)
{
	uint64_t now = mono_ns();
	struct run *r;

	rn->failed = true;
	each_run(rn, r)
		run__abort(r, now);
}

/* One signal at a time: the first asks every run to stop, a later one
 * stops them now. */
static void act_on_signals(struct runner *rn)
{
	int n = sig_count;

	while (rn->signals_seen < n) {
		bool first = !rn->stop_sig, from_user = sig_from_user;
		int sig = sig_last;
		uint64_t now = mono_ns();
		struct run *r;

		rn->signals_seen++;
		sig_from_user = 0;
		if (first)
			rn->stop_sig = sig;
		if (rn->client->signalled)
			rn->client->signalled(rn->ctx, rn, sig, first);
		each_run(rn, r)
			run__stop(r, sig, first, from_user, now);
	}
}

static int dispatch(void *ctx, const struct mt_rec *rec)
{
	struct runner *rn = ctx;
	struct run *r = rn->by_group[rec->group & (MT_MAX_GROUPS - 1)];

	if (!r && rn->client->adopt && !rn->stop_sig && !rn->failed)
		r = rn->client->adopt(rn->ctx, rn, rec->group & (MT_MAX_GROUPS - 1), rec);
	/* none: a process of a run already over (a child it left behind) */
	return r ? run__record(r, rec) : 0;
}

/* A guard or alert record, as soon as it is read: its run acts on it now
 * (the record reaches dispatch later, in its place in the time order). */
static int urgent(void *ctx, const struct mt_rec *rec)
{
	struct runner *rn = ctx;
	struct run *r = rn->by_group[rec->group & (MT_MAX_GROUPS - 1)];

	if (r)
		guard__urgent(r, rec, mono_ns());
	return 0;
}

/* The ring buffer, and the output of commands under --checkpoint-regex,
 * read as it comes (a log row's time is when its line arrived, or when the
 * kernel saw it written); final: everything left, at once. */
static int drain(struct runner *rn, bool final)
{
	struct run *r, *waiter = NULL;
	uint64_t before;
	int e;

	if (!final) {
		each_run(rn, r) {
			if (!r->out_on)
				continue;
			run__pump_output(r, waiter ? 0 : 10,
					 waiter ? -1 : tracer__poll_fd(rn->tracer), false);
			waiter = waiter ? waiter : r;
		}
	}
	if (!waiter) {
		e = tracer__poll(rn->tracer, final ? 0 : 10, final, dispatch, urgent, rn);
		/* --resolution's windows that are whole now */
		each_run(rn, r)
			if (r->thin)
				run__emit_logs(r, tracer__released_ns(rn->tracer));
		return e;
	}
	before = mono_ns();
	e = tracer__poll(rn->tracer, 0, false, dispatch, urgent, rn);
	/* every record stamped the hold before the drain is in, and no
	 * record past what the tracer released (locally the same instant or
	 * later; a remote tracer's release can lag) */
	each_run(rn, r)
		if (r->out_on || r->thin)
			run__emit_logs(r, min_u64(before - tracer__hold_ns(rn->tracer),
						  tracer__released_ns(rn->tracer)));
	return e;
}

/* Reading records failed: why (a service's client knows: it went away),
 * once; the runs end with their rows whole. */
static void say_read_failed(struct runner *rn, const char *what, int e)
{
	const char *why = tracer__why(rn->tracer);

	fprintf(stderr, "memtrace-bpf: reading %s failed: %s%s\n", what,
		why ? why : strerror(-e), why ? "; the trace ends here, its rows whole" : "");
	rn->read_failed = true;
}

/* Drops are said while they happen, at most every 5 s, even with -q. */
static void say_drops(struct runner *rn, uint64_t now)
{
	struct mt_counters c;
	char rs[32];

	if (now < rn->next_lost_ns)
		return;
	rn->next_lost_ns = now + 5000 * MS;
	tracer__counters(rn->tracer, &c);
	if (c.lost <= rn->lost_said)
		return;
	if (tracer__remote(rn->tracer))
		fprintf(stderr, "%smemtrace-bpf: %" PRIu64 " records dropped so far: your share of "
			"the service's ring (%s) or its queue for you fills faster than the service "
			"reads; peaks stay exact (the service's administrator sets them: "
			"memtrace-bpf daemon --ring-size, --user-ring-share, --client-queue)\n",
			rn->tty ? "\r\033[K" : "", (uint64_t)c.lost,
			format_size(tracer__ring_bytes(rn->tracer), rs, sizeof(rs)));
	else
		fprintf(stderr, "%smemtrace-bpf: %" PRIu64 " records dropped so far: the ring buffer "
			"(--ring-size, now %s) fills faster than it is read; peaks stay exact\n",
			rn->tty ? "\r\033[K" : "", (uint64_t)c.lost,
			format_size(tracer__ring_bytes(rn->tracer), rs, sizeof(rs)));
	rn->lost_said = c.lost;
}

/* A run is over and its last records are in: its files, then its client. */
static int finish(struct runner *rn, struct run *r)
{
	char msg[1024];
	int e = run__finish(r), e2 = 0;

	if (r->spec.summary_path && (e2 = summary__write(r, msg, sizeof(msg)))) {
		struct mt_group g;

		/* the peak is never lost: said here, whatever -q says */
		run__group(r, &g);
		fprintf(stderr, "memtrace-bpf: %s; the exact peak was %llu kB at %.6f s\n", msg,
			(unsigned long long)(g.tree_peak_pages * r->page_kb),
			g.tree_peak_ts_ns ? secs_since(g.tree_peak_ts_ns, r->start_ns) : 0.0);
		e = e ? e : e2;
	} else if (r->summary_short && !e) {
		e = -ENOSPC;	/* a run whose files lack something is not a success */
	}
	guard__print(r);	/* a verdict: said whatever -q says */
	rn->by_group[r->group & (MT_MAX_GROUPS - 1)] = NULL;
	rn->nruns--;
	e2 = rn->client->finished ? rn->client->finished(rn->ctx, rn, r, e) : 0;
	run__free(r);
	free(r);
	return e2;
}

/* A run's trace could not be written (a full disk, a reader of -o - that
 * went away): it keeps its whole rows, and the run goes on being traced
 * for its summary. Said once. */
static void check_trace(struct run *r)
{
	char t[32];
	uint64_t rows;

	if (!r->trace_open || r->trace_failed || (!csv_out__flush(&r->trace) && !r->trace.err))
		return;
	r->trace_failed = true;
	rows = csv_out__rows_written(&r->trace, t, sizeof(t));
	fprintf(stderr, "memtrace-bpf: writing %s failed: %s. It keeps its first %llu rows, "
		"whole (up to %s s); the rest of the run is traced without rows, for its summary "
		"(exact peak, processes, exit status)\n", r->spec.csv_path, strerror(r->trace.err),
		(unsigned long long)rows, t);
}

int runner__run(struct runner *rn)
{
	struct run *r;
	int e;

	rn->next_lost_ns = mono_ns() + 1000 * MS;
	for (;;) {
		uint64_t poll_start, now;

		act_on_signals(rn);
		if (!rn->failed && rn->client->turn &&
		    rn->client->turn(rn->ctx, rn, mono_ns()) < 0)
			fail(rn);
		if (all_ended(rn) && !may_start(rn))
			break;
		poll_start = mono_ns();
		e = drain(rn, false);
		if (e && !rn->failed) {
			say_read_failed(rn, "events", e);
			fail(rn);
		}
		now = mono_ns();
		each_run(rn, r) {
			guard__tick(r, now);
			check_trace(r);
			run__poll_end(r, now);
			/* its last records are in once a drain that began 1 ms
			 * past the poll's hold after its end is done (the poll
			 * holds the last 2 ms, and a kernel window more), and the
			 * tracer has released records 1 ms past its end */
			if (r->ended &&
			    min_u64(poll_start - tracer__hold_ns(rn->tracer),
				    tracer__released_ns(rn->tracer)) > r->end_ns + MS &&
			    finish(rn, r) < 0)
				fail(rn);
		}
		say_drops(rn, now);
	}
	/* the last records are already in the ring: take them all */
	e = drain(rn, true);
	if (e) {
		if (!rn->read_failed)	/* said once */
			say_read_failed(rn, "the last events", e);
		rn->failed = true;
	}
	each_run(rn, r)
		if (finish(rn, r) < 0)
			rn->failed = true;
	return rn->failed ? -EIO : 0;
}
