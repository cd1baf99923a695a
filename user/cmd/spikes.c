// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* memtrace-bpf spikes TRACE.csv: transients, growth and poller fidelity. */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cmd/cmd.h"
#include "format/csv.h"
#include "analysis/spikes_report.h"
#include "lib/units.h"

static struct {
	struct spikes_cfg cfg;
	bool poll_set, rise_set, settle_set, top_set;
	unsigned long top;
} sa;

enum { OPT_MIN_RISE = 1100, OPT_SETTLE, OPT_WINDOW, OPT_POLL, OPT_TOP };

static const char doc[] =
"Find transient RSS spikes in a memtrace-bpf trace, sustained growth, and\n"
"what a /proc poller would have reported instead.\n"
"\n"
"USAGE: memtrace-bpf spikes TRACE.csv [OPTIONS]\n"
"\n"
"A spike rises at least --min-rise above the level before it and comes back\n"
"to within --settle of that level; a spike on top of another is reported\n"
"with its own base (depth > 0). A rise that does not come back is growth.\n"
"--window switches to the classic rule of poller scripts: RSS rose at least\n"
"--min-rise within DURATION. Also reads plain time_s,vmrss_kb poller files.\n"
"\n"
"EXAMPLES:\n"
"  memtrace-bpf spikes trace.csv                      # table, biggest first\n"
"  memtrace-bpf spikes trace.csv --format json > spikes.json\n"
"  memtrace-bpf spikes trace.csv --poll 10ms          # what a poller saw\n"
"  memtrace-bpf spikes t.csv --window 1s --min-rise 20M  # the classic rule\n"
"  memtrace-bpf spikes poller.csv                     # a time_s,vmrss_kb file\n"
"\n"
"Exit status: 0 report written; 1 the trace cannot be read or has no rows\n"
"(of --pid); 2 bad command line.\n"
"\n"
"OPTIONS:";

static const struct argp_option opts[] = {
	{ "min-rise", OPT_MIN_RISE, "SIZE", 0, "Smallest rise that counts (default 1M)", 0 },
	{ "settle", OPT_SETTLE, "SIZE|PCT%", 0, "How close to its base a spike must come back (default 10% of its rise)", 0 },
	{ "window", OPT_WINDOW, "DURATION", 0, "Classic rule: rose --min-rise within DURATION (e.g. 1s)", 0 },
	{ "poll", OPT_POLL, "PERIOD[,PERIOD]", 0, "Replay pollers of these periods (default 10ms,100ms; at most 4)", 0 },
	{ "top", OPT_TOP, "N", 0, "Spikes shown, biggest first: the table's (default 20; 0: all); with --format json only when given (default: every spike)", 0 },
	{},
};

#define usage_err(...) usage_exit("spikes", __VA_ARGS__)

static error_t parse(int key, char *arg, struct argp_state *st)
{
	uint64_t v;
	unsigned long u;

	switch (key) {
	case OPT_MIN_RISE:
		if (parse_size(arg, &v) || v < 1024)
			usage_err("--min-rise %s: not a size of 1K or more (e.g. 512K, 1M, 20M)", arg);
		sa.cfg.min_rise_kb = (int64_t)(v / 1024);
		sa.rise_set = true;
		break;
	case OPT_SETTLE: {
		size_t n = strlen(arg);

		if (n > 1 && arg[n - 1] == '%') {
			char num[32];
			char *end;
			double pct;

			snprintf(num, sizeof(num), "%.*s", (int)(n - 1), arg);
			pct = strtod(num, &end);
			if (*end || end == num || pct <= 0 || pct >= 100)
				usage_err("--settle %s: a percentage must be between 0 and 100 (e.g. 10%%)", arg);
			sa.cfg.settle_pct = pct;
			sa.cfg.settle_kb = 0;
		} else {
			if (parse_size(arg, &v) || v < 1024)
				usage_err("--settle %s: not a size (e.g. 256K) or a percentage (e.g. 10%%)", arg);
			sa.cfg.settle_kb = (int64_t)(v / 1024);
		}
		sa.settle_set = true;
		break;
	}
	case OPT_WINDOW:
		if (parse_duration(arg, &v) || v == 0)
			usage_err("--window %s: not a duration (e.g. 1s, 500ms)", arg);
		sa.cfg.window_ns = v;
		break;
	case OPT_POLL: {
		char *copy = strdup(arg), *save = NULL, *tok;

		sa.cfg.npoll = 0;
		for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (sa.cfg.npoll == SPIKES_MAX_POLLS)
				usage_err("--poll %s: at most %d periods", arg, SPIKES_MAX_POLLS);
			if (parse_duration(tok, &v) || v < 1000)
				usage_err("--poll %s: '%s' is not a period of 1us or more (e.g. 10ms)", arg, tok);
			sa.cfg.poll_ns[sa.cfg.npoll++] = v;
		}
		free(copy);
		sa.poll_set = true;
		break;
	}
	case OPT_TOP:
		if (parse_uint(arg, 1UL << 30, &u))
			usage_err("--top %s: not a number (0 shows all)", arg);
		sa.top = u;
		sa.top_set = true;
		break;
	case ARGP_KEY_END:
		if (sa.cfg.window_ns && sa.settle_set)
			usage_err("--settle applies to the transient rule; --window uses the classic rule without it");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	(void)st;
	return 0;
}

int cmd_spikes(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &trace_file_argp, 0, NULL, 0 },
		{},
	};
	static const struct argp argp = { .options = opts, .parser = parse, .doc = doc,
					  .children = children };
	struct csv_reader r;
	struct csv_row row;
	struct spikes *s;
	uint64_t rows = 0, last_ts = 0;
	int e;

	memset(&sa, 0, sizeof(sa));
	trace_file.sub = "spikes";
	sa.top = 20;
	sa.cfg.min_rise_kb = 1024;
	sa.cfg.settle_pct = 10;
	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return EXIT_USAGE;
	/* only the spikes shown are kept (all are counted): the table's
	 * --top, and JSON's when given (else JSON lists every one) */
	if (!trace_file.json || sa.top_set)
		sa.cfg.keep_top = sa.top;
	if (!sa.poll_set) {
		sa.cfg.npoll = 2;
		sa.cfg.poll_ns[0] = 10000000ULL;
		sa.cfg.poll_ns[1] = 100000000ULL;
	}
	if (csvr__open(&r, trace_file.path)) {
		fprintf(stderr, "memtrace-bpf spikes: %s\n", r.err);
		csvr__close(&r);
		return EXIT_TRACE_ERR;
	}
	s = spikes__new(&sa.cfg);
	if (!s) {
		csvr__close(&r);
		return EXIT_TRACE_ERR;
	}
	while ((e = csvr__next(&r, &row)) > 0) {
		rows++;
		if (trace_file.only_pid && row.pid != trace_file.only_pid)
			continue;
		if (row.ts_ns > last_ts)
			last_ts = row.ts_ns;
		if (spikes__push(s, row.pid, row.ts_ns, row.vmrss_kb, spike_ev_of(row.type, row.nr, row.cause),
				 spike_call_of(row.type, row.nr, row.cause, row.tid))) {
			fprintf(stderr, "memtrace-bpf spikes: out of memory at %s:%llu\n", trace_file.path,
				(unsigned long long)r.line);
			e = -1;
			break;
		}
	}
	if (e < 0) {
		if (r.err[0])
			fprintf(stderr, "memtrace-bpf spikes: %s\n", r.err);
		spikes__free(s);
		csvr__close(&r);
		return EXIT_TRACE_ERR;
	}
	if (!rows) {
		say_no_rows("spikes", "analyse", 0, trace_file.path);
		spikes__free(s);
		csvr__close(&r);
		return EXIT_TRACE_ERR;
	}
	if (trace_file.only_pid && !spikes__npids(s)) {
		say_no_rows("spikes", "analyse", trace_file.only_pid, trace_file.path);
		spikes__free(s);
		csvr__close(&r);
		return EXIT_TRACE_ERR;
	}
	if (spikes__finish(s, last_ts)) {
		fprintf(stderr, "memtrace-bpf spikes: out of memory finishing the analysis of %s\n",
			trace_file.path);
		spikes__free(s);
		csvr__close(&r);
		return EXIT_TRACE_ERR;
	}
	if (trace_file.json) {
		struct jw w;

		jw_begin(&w, stdout);
		jw_obj(&w, NULL);
		jw_str(&w, "trace", trace_file.path);
		jw_u64(&w, "rows", rows);
		spikes_report_json(&w, s, r.t0_ns, sa.top_set ? sa.top : 0);
		jw_obj_end(&w);
	} else {
		char a[32], st[32];
		const struct spikes_cfg *c = spikes__cfg(s);

		if (c->window_ns)
			printf("%s: %zu spike%s (rose %s or more within %s), %zu process%s, %llu rows\n",
			       trace_file.path, spikes__count(s), spikes__count(s) == 1 ? "" : "s",
			       format_size((uint64_t)c->min_rise_kb * 1024, a, sizeof(a)),
			       format_duration(c->window_ns, st, sizeof(st)), spikes__npids(s),
			       spikes__npids(s) == 1 ? "" : "es", (unsigned long long)rows);
		else {
			if (c->settle_kb > 0)
				format_size((uint64_t)c->settle_kb * 1024, st, sizeof(st));
			else
				snprintf(st, sizeof(st), "%g%% of the rise", c->settle_pct);
			printf("%s: %zu spike%s (rise >= %s, back within %s), %zu process%s, %llu rows\n",
			       trace_file.path, spikes__count(s), spikes__count(s) == 1 ? "" : "s",
			       format_size((uint64_t)c->min_rise_kb * 1024, a, sizeof(a)), st,
			       spikes__npids(s), spikes__npids(s) == 1 ? "" : "es",
			       (unsigned long long)rows);
		}
		spikes_report_table(stdout, s, r.t0_ns, sa.top);
		putchar('\n');
		spikes_report_growth(stdout, s, r.t0_ns);
		putchar('\n');
		spikes_report_polling(stdout, s, r.t0_ns);
	}
	spikes__free(s);
	csvr__close(&r);
	return report_written("spikes");
}
