// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The guard and alert options, shared by record (launch, attach, capture)
 * and campaign: an argp child parsed into guard_cli, then checked against
 * the mode by guard_cli__check.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd/cmd.h"
#include "lib/units.h"

struct guard_cli guard_cli = {
	.spec = { .kill_signal = SIGKILL, .grace_ns = 5000000000ULL },
};

enum {
	OPT_KILL_AT = 1600, OPT_KILL_SIGNAL, OPT_GRACE, OPT_COUNT, OPT_ALERT, OPT_ON_ALERT,
	OPT_TIMEOUT,
};

static const struct argp_option guard_options[] = {
	{ NULL, 0, NULL, 0, "Guard and alerts (acted on in the kernel event that crosses them):", 0 },
	{ "kill-at", OPT_KILL_AT, "SIZE", 0, "Stop the run when its total RSS goes over SIZE: the process whose change crossed it gets the signal before it returns to user space, the rest of the tree at once after (exit 89)", 0 },
	{ "kill-signal", OPT_KILL_SIGNAL, "SIG", 0, "The signal --kill-at sends: KILL (default), or TERM/INT/HUP/USR1... to let the program clean up; SIGKILL follows after --grace", 0 },
	{ "grace", OPT_GRACE, "DURATION", 0, "Time between a catchable signal (--kill-signal, --timeout) and SIGKILL (default 5s)", 0 },
	{ "count", OPT_COUNT, "rss|anon", 0, "What --kill-at and --alert count: rss, anon+file+shmem (default), or anon, anon+shmem only (memory reclaim cannot take back)", 0 },
	{ "alert", OPT_ALERT, "SIZE[,SIZE]", 0, "Say on stderr (and in the trace, an alert row) the moment the total first goes over SIZE; up to 8 thresholds, repeatable", 0 },
	{ "on-alert", OPT_ON_ALERT, "CMD", 0, "Run CMD (sh -c, as the command's user) at each alert, never waited for; it gets MEMTRACE_ALERT_KB, MEMTRACE_VALUE_KB, MEMTRACE_COUNTS, MEMTRACE_PID, MEMTRACE_TIME_S, MEMTRACE_TRACE", 0 },
	{ "timeout", OPT_TIMEOUT, "DURATION", 0, "Launch, campaign: SIGTERM to the tree after DURATION, SIGKILL after --grace (exit 124)", 0 },
	{},
};


static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void add_alerts(const char *arg)
{
	struct guard_spec *s = &guard_cli.spec;
	char *copy = strdup(arg), *save = NULL, *tok;

	if (!copy)
		exit(EXIT_TRACE_ERR);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t b;
		bool dup = false;

		if (parse_size(tok, &b) || b < 4096)
			usage_exit(guard_cli.sub, "--alert %s: '%s' is not a size of 4K or more (e.g. "
				   "--alert 1G,2G)", arg, tok);
		for (int i = 0; i < s->nalerts; i++)
			dup |= s->alert_kb[i] == b / 1024;
		if (dup)
			continue;
		if (s->nalerts == MT_MAX_ALERTS)
			usage_exit(guard_cli.sub, "--alert: at most %d thresholds", MT_MAX_ALERTS);
		s->alert_kb[s->nalerts++] = b / 1024;
	}
	free(copy);
	if (!s->nalerts)
		usage_exit(guard_cli.sub, "--alert needs a size, e.g. --alert 1G");
	qsort(s->alert_kb, (size_t)s->nalerts, sizeof(s->alert_kb[0]), cmp_u64);
}

static uint64_t duration_arg(const char *opt, const char *arg, uint64_t min_ns)
{
	uint64_t ns;
	int e = parse_duration(arg, &ns);

	if (e || ns < min_ns)
		usage_exit(guard_cli.sub, "%s %s: %s", opt, arg,
			   e ? "not a duration (use e.g. 500ms, 30s, 2h)" :
			   min_ns > 1 ? "too short (10ms at least)" : "must be more than 0");
	return ns;
}

static error_t guard_parse(int key, char *arg, struct argp_state *st)
{
	struct guard_spec *s = &guard_cli.spec;
	const char *sub = guard_cli.sub;
	uint64_t b;
	int e;

	(void)st;
	switch (key) {
	case OPT_KILL_AT:
		if (parse_size(arg, &b) || b < 4096)
			usage_exit(sub, "--kill-at %s: not a size of 4K or more (e.g. 512M, 4G)", arg);
		s->kill_at_kb = b / 1024;
		break;
	case OPT_KILL_SIGNAL:
		e = parse_signal(arg, &s->kill_signal);
		if (e)
			usage_exit(sub, "--kill-signal %s: %s", arg,
				   e == -ERANGE ? "not a signal that ends a program; use KILL, TERM, "
						  "INT, HUP, QUIT, USR1 or USR2"
						: "not a signal name (e.g. TERM, KILL) or number");
		guard_cli.signal_set = true;
		break;
	case OPT_GRACE:
		if (parse_duration(arg, &s->grace_ns))
			usage_exit(sub, "--grace %s: not a duration (e.g. 5s, 500ms, 0)", arg);
		guard_cli.grace_set = true;
		break;
	case OPT_COUNT:
		if (strcmp(arg, "rss") && strcmp(arg, "anon"))
			usage_exit(sub, "--count %s: use rss (anon+file+shmem) or anon (anon+shmem)", arg);
		s->count_anon = !strcmp(arg, "anon");
		guard_cli.count_set = true;
		break;
	case OPT_ALERT:
		add_alerts(arg);
		break;
	case OPT_ON_ALERT:
		if (!*arg)
			usage_exit(sub, "--on-alert needs a command, e.g. --on-alert 'notify-send \"$MEMTRACE_VALUE_KB kB\"'");
		s->on_alert = arg;
		break;
	case OPT_TIMEOUT:
		s->timeout_ns = duration_arg("--timeout", arg, 1);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp guard_cli_argp = { .options = guard_options, .parser = guard_parse };

void guard_cli__detach_after(const char *arg)
{
	guard_cli.spec.detach_ns = duration_arg("--detach-after", arg, 1);
}

void guard_cli__check(enum guard_mode mode)
{
	const struct guard_spec *s = &guard_cli.spec;
	const char *sub = guard_cli.sub;
	char a[32], k[32];

	if (guard_cli.signal_set && !s->kill_at_kb)
		usage_exit(sub, "--kill-signal says how --kill-at stops the run; give --kill-at SIZE");
	if (guard_cli.grace_set && s->kill_signal == SIGKILL && !s->timeout_ns)
		usage_exit(sub, "--grace is the time between a catchable signal and SIGKILL: give "
			   "--kill-signal TERM (or --timeout)");
	if (guard_cli.count_set && !s->kill_at_kb && !s->nalerts)
		usage_exit(sub, "--count says what --kill-at and --alert count; give one of them");
	if (s->on_alert && !s->nalerts)
		usage_exit(sub, "--on-alert runs at each --alert threshold; give --alert SIZE");
	if (s->nalerts && s->kill_at_kb && s->alert_kb[s->nalerts - 1] > s->kill_at_kb)
		usage_exit(sub, "--alert %s is over --kill-at %s: the guard stops the run before it "
			   "can be crossed; give alerts up to the limit",
			   format_size(s->alert_kb[s->nalerts - 1] * 1024, a, sizeof(a)),
			   format_size(s->kill_at_kb * 1024, k, sizeof(k)));
	if (s->force && (!s->kill_at_kb || mode != GUARD_ATTACH))
		usage_exit(sub, "--force is for attach mode with --kill-at (processes over the limit "
			   "already)");
	if (s->timeout_ns && (mode == GUARD_ATTACH || mode == GUARD_CAPTURE))
		usage_exit(sub, "--timeout stops a command memtrace-bpf started (-- COMMAND, campaign "
			   "runs); to stop tracing after a while, use --detach-after");
	if (s->detach_ns && (mode == GUARD_CAMPAIGN || mode == GUARD_CAPTURE))
		usage_exit(sub, "--detach-after is for one launch or attach; a %s ends its runs "
			   "itself", mode == GUARD_CAMPAIGN ? "campaign" : "capture");
	if (s->detach_ns && s->timeout_ns)
		usage_exit(sub, "--detach-after leaves the command running, --timeout stops it; "
			   "give one of them");
}
