/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Campaign plans and results: the parts that need no kernel (unit-tested). */
#ifndef MEMTRACE_CAMPAIGN_H
#define MEMTRACE_CAMPAIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CAMPAIGN_MAX_PARAMS 16

/* Splits a line into words like a shell without expansions: blanks
 * separate, '...' is literal, "..." allows \" and \\, a backslash quotes the
 * next character, # starts a comment between words. Returns the number of
 * words (0 for a blank/comment line) with a malloc'd NULL-terminated argv
 * in *out (free with words_free), or -1 with the problem in err. */
int split_words(const char *line, char ***out, char *err, size_t errlen);
void words_free(char **w);

/* Replaces every {NAME} of an argument by its value (names: letters,
 * digits, _; other braces are left alone). Returns a malloc'd string, or
 * NULL with the unknown name in err (a {NAME} no --param gives). */
char *subst_params(const char *arg, const char *const *names, const char *const *vals,
		   int n, char *err, size_t errlen);

/* Directory-safe config name piece: [A-Za-z0-9._=+-] kept, others '_'. */
void config_sanitize(char *s);

/* One finished run, as result.csv holds it. */
struct run_result {
	int index;		/* position in the plan */
	char config[256];
	int repeat;
	int exit_code;		/* shell style; 126/127: could not run */
	char status[16];	/* ok, failed, killed, not-run */
	uint64_t peak_rss_kb;
	double peak_time_s, duration_s;
	uint64_t spikes, lost_events, events;
	uint64_t untraced;	/* child processes not traced (--max-procs) */
	int64_t rusage_maxrss_kb;
	char start_time[40];	/* ISO 8601, UTC */
};

#define RESULT_HEADER "index,config,repeat,exit_code,status,peak_rss_kb,peak_time_s," \
		      "duration_s,spikes,lost_events,events,rusage_maxrss_kb,start_time," \
		      "untraced_processes"

/* One line (with newline) for result.csv / campaign.csv. */
int result_format(char *buf, size_t len, const struct run_result *r);
/* Reads a result.csv (header + one row). Returns 0, or -1 with err. */
int result_read(const char *path, struct run_result *r, char *err, size_t errlen);

/* Statistics of one config over its successful runs (exit 0). */
struct config_stats {
	char config[256];
	int runs, failed;
	double mean_peak_kb, std_peak_kb, cv_peak_pct, min_peak_kb, max_peak_kb;
	double mean_dur_s, std_dur_s, cv_dur_pct, min_dur_s, max_dur_s;
};

/* Sample mean / standard deviation (n-1; 0 for one value) / CV in percent. */
void stats_of(const double *v, int n, double *mean, double *std, double *cv,
	      double *min, double *max);
/* Groups results (sorted by index) by config, in order of first
 * appearance. Returns the number of configs written to out (malloc'd). */
int stats_by_config(const struct run_result *res, int n, struct config_stats **out);

#endif
