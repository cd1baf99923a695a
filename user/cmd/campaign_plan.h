/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A campaign's plan: every configuration (the --param matrix, times the
 * lines of --file) times every repeat, each with its command, environment
 * and directory. Its canonical text (plan.txt) is what a resume must find
 * again. The words and substitution parts need no kernel (unit-tested).
 */
#ifndef MEMTRACE_CMD_CAMPAIGN_PLAN_H
#define MEMTRACE_CMD_CAMPAIGN_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define CAMPAIGN_MAX_PARAMS 16
#define CAMPAIGN_MAX_RUNS 100000

struct plan_param {
	char *name;
	char **vals;
	int nvals;
};

/* A --file line: one command. */
struct plan_line {
	char **argv;
	int argc;
	int lineno;
};

/* One run of the plan. Small: a plan may hold CAMPAIGN_MAX_RUNS (the
 * state of a run in progress is its struct run). */
struct plan_run {
	int index;
	int repeat;
	int combo;		/* which values of the params (mixed radix) */
	int line;		/* --file: which line */
	char *config;		/* directory-safe name */
	char *dir;		/* DIR/CONFIG/REPEAT */
	char **argv;		/* substituted command */
	int argc;
	bool done;		/* result.csv on disk */
	time_t started;		/* this attempt's wall-clock start */
	int dirfd;		/* its directory while it runs, else -1 */
};

struct plan {
	const char *dir;
	unsigned long repeat;
	struct plan_param params[CAMPAIGN_MAX_PARAMS];
	int nparams;
	const char *file;	/* --file, else cmd */
	struct plan_line *lines;
	int nlines;
	char **cmd;
	int ncmd;
	bool follow, as_root;
	struct plan_run *runs;
	size_t nruns, cap;
	char *text;		/* canonical: plan.txt */
};

/* --param NAME=V1,V2: a usage error exits (cmd/cmd.h). */
void plan__add_param(struct plan *p, const char *arg);
/* Every run, repeat-major. 0, -EINVAL for a usage error (said), another
 * -errno (said). */
int plan__build(struct plan *p);
/* A run's environment: ours, its params, MEMTRACE_CONFIG/REPEAT and
 * MEMTRACE_RUN_DIR (absolute: the command may chdir). Free with
 * plan__env_free. NULL without memory. */
char **plan__env(const struct plan *p, const struct plan_run *r);
void plan__env_free(const struct plan *p, char **env);

/* Splits a line into words like a shell without expansions: blanks
 * separate, '...' is literal, "..." allows \" and \\, a backslash quotes the
 * next character, # starts a comment between words. Returns the number of
 * words (0 for a blank/comment line) with a malloc'd NULL-terminated argv
 * in *out (free with words_free), or -errno (-EINVAL: the problem in err). */
int split_words(const char *line, char ***out, char *err, size_t errlen);
void words_free(char **w);

/* Replaces every {NAME} of an argument by its value (names: letters,
 * digits, _; other braces are left alone). Returns a malloc'd string, or
 * NULL with the unknown name in err (a {NAME} no --param gives). */
char *subst_params(const char *arg, const char *const *names, const char *const *vals,
		   int n, char *err, size_t errlen);

/* Directory-safe config name piece: [A-Za-z0-9._=+-] kept, others '_'. */
void config_sanitize(char *s);

#endif
