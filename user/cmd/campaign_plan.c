// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cmd/campaign_plan.h"
#include "cmd/cmd.h"
#include "lib/env.h"
#include "lib/grow.h"

#define usage_err(...) usage_exit("campaign", __VA_ARGS__)

static bool valid_name(const char *s, size_t n)
{
	if (!n || (!(s[0] == '_' || (s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z'))))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(s[i] == '_' || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

void plan__add_param(struct plan *plan, const char *arg)
{
	const char *eq = strchr(arg, '=');
	struct plan_param *p;
	char *copy, *save = NULL;

	if (!eq || !valid_name(arg, (size_t)(eq - arg)))
		usage_err("--param %s: give NAME=V1,V2,... with NAME made of letters, digits and _ "
			  "(e.g. --param LIMIT=323,478)", arg);
	if (plan->nparams == CAMPAIGN_MAX_PARAMS)
		usage_err("--param: at most %d parameters", CAMPAIGN_MAX_PARAMS);
	/* the names memtrace-bpf itself gives each run */
	for (const char *const *r = (const char *const[]){ "MEMTRACE_CONFIG", "MEMTRACE_REPEAT",
							   "MEMTRACE_RUN_DIR", "MEMTRACE_MARK_FD",
							   NULL }; *r; r++)
		if (strlen(*r) == (size_t)(eq - arg) && !strncmp(*r, arg, (size_t)(eq - arg)))
			usage_err("--param %s: %s is set by memtrace-bpf for each run; give the "
				  "parameter another name", arg, *r);
	for (int i = 0; i < plan->nparams; i++)
		if (strlen(plan->params[i].name) == (size_t)(eq - arg) &&
		    !strncmp(plan->params[i].name, arg, (size_t)(eq - arg)))
			usage_err("--param %.*s is given twice; put all its values in one: "
				  "--param %.*s=V1,V2", (int)(eq - arg), arg, (int)(eq - arg), arg);
	p = &plan->params[plan->nparams++];
	p->name = strndup(arg, (size_t)(eq - arg));
	copy = strdup(eq + 1);
	p->vals = calloc(strlen(eq + 1) + 2, sizeof(char *));
	if (!p->name || !copy || !p->vals)
		exit(EXIT_TRACE_ERR);
	/* empty values are refused: "A=1,,2" is a typo more often than not */
	for (const char *c = eq + 1; ; c++) {
		if ((*c == ',' || !*c) && (c == eq + 1 || c[-1] == ','))
			usage_err("--param %s: an empty value; give e.g. %s=1,2", arg, p->name);
		if (!*c)
			break;
	}
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
		p->vals[p->nvals++] = t;
}

/* One physical line of --file f into *line (*cap), with its newline: its
 * length, 0 at the end, -1 on an error (said): a read error is not the end
 * of the plan, and a NUL byte is not the end of the line (C strings would
 * cut it there without a word, running what is left of the command). */
static ssize_t runs_line(FILE *f, const char *path, int lineno, char **line, size_t *cap)
{
	ssize_t n;
	char *nul;

	errno = 0;
	n = getline(line, cap, f);
	if (n < 0) {
		if (!ferror(f) && errno != ENOMEM)
			return 0;
		fprintf(stderr, "memtrace-bpf campaign: cannot read --file %s: %s\n", path,
			strerror(errno ? errno : EIO));
		return -1;
	}
	nul = memchr(*line, 0, (size_t)n);
	if (nul) {
		fprintf(stderr, "memtrace-bpf campaign: %s:%d: a NUL byte (byte %zu of the line): --file "
			"takes text, one command per line\n", path, lineno, (size_t)(nul - *line) + 1);
		return -1;
	}
	return n;
}

static int read_runs_file(const char *path, struct plan_line **out, int *nout, FILE *plan)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *more = NULL, err[256];
	size_t cap = 0, mcap = 0, lcap = 0;
	int n = 0, lineno = 0, ret = -EIO;
	struct plan_line *l = NULL;
	ssize_t got;

	if (!f) {
		fprintf(stderr, "memtrace-bpf campaign: cannot read --file %s: %s\n", path,
			strerror(errno));
		return -EIO;
	}
	while ((got = runs_line(f, path, lineno + 1, &line, &cap)) > 0) {
		int first = ++lineno, k;
		size_t ll = (size_t)got;
		char **w;

		/* a backslash before the newline continues the line, as in sh */
		while (ll >= 2 && line[ll - 1] == '\n' && line[ll - 2] == '\\') {
			ssize_t mn = runs_line(f, path, lineno + 1, &more, &mcap);

			ll -= 2;
			line[ll] = 0;
			if (mn < 0)
				goto out;
			if (!mn)
				break;
			lineno++;
			if (ll + (size_t)mn + 1 > cap) {
				char *b = realloc(line, ll + (size_t)mn + 1);

				if (!b) {
					fprintf(stderr, "memtrace-bpf campaign: out of memory reading --file %s\n",
						path);
					goto out;
				}
				line = b;
				cap = ll + (size_t)mn + 1;
			}
			memcpy(line + ll, more, (size_t)mn + 1);
			ll += (size_t)mn;
		}
		k = split_words(line, &w, err, sizeof(err));
		if (k < 0) {
			fprintf(stderr, "memtrace-bpf campaign: %s:%d: %s; quote as in a shell\n",
				path, first, err);
			goto out;
		}
		if (!k) {
			words_free(w);
			continue;
		}
		if (!w[0][0]) {
			fprintf(stderr, "memtrace-bpf campaign: %s:%d: the command name is empty\n",
				path, first);
			words_free(w);
			goto out;
		}
		if (grow(&l, &lcap, (size_t)n, sizeof(*l), 16)) {
			fprintf(stderr, "memtrace-bpf campaign: out of memory reading --file %s\n", path);
			words_free(w);
			goto out;
		}
		l[n].argv = w;
		l[n].argc = k;
		l[n].lineno = first;
		fprintf(plan, "line %d", first);
		for (int i = 0; i < k; i++)
			fprintf(plan, "\t%s", w[i]);
		fprintf(plan, "\n");
		n++;
	}
	if (got < 0)
		goto out;
	if (!n) {
		fprintf(stderr, "memtrace-bpf campaign: --file %s has no command (blank and # lines only)\n",
			path);
		goto out;
	}
	*out = l;
	*nout = n;
	l = NULL;
	n = 0;
	ret = 0;
out:
	for (int i = 0; i < n; i++)
		words_free(l[i].argv);
	free(l);
	free(more);
	free(line);
	fclose(f);
	return ret;
}

/* The parameter values of a run (names[i] = vals[i]); returns how many. */
static int run_params(const struct plan *p, const struct plan_run *r, const char **names,
		      const char **vals)
{
	int rem = r->combo;

	for (int i = p->nparams - 1; i >= 0; i--) {
		names[i] = p->params[i].name;
		vals[i] = p->params[i].vals[rem % p->params[i].nvals];
		rem /= p->params[i].nvals;
	}
	return p->nparams;
}

void words_free(char **w)
{
	if (!w)
		return;
	for (char **p = w; *p; p++)
		free(*p);
	free(w);
}

int split_words(const char *line, char ***out, char *err, size_t errlen)
{
	size_t n = 0, cap = 0, len = strlen(line);
	char **w = NULL, *cur = malloc(len + 1);
	const char *p = line;
	int ret = -EINVAL;

	*out = NULL;
	if (!cur) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (;;) {
		size_t k = 0;
		bool word = false;

		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (!*p || *p == '#')
			break;
		while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
			word = true;
			if (*p == '\'') {
				const char *q = strchr(p + 1, '\'');

				if (!q) {
					snprintf(err, errlen, "unterminated ' quote");
					goto out;
				}
				memcpy(cur + k, p + 1, (size_t)(q - p - 1));
				k += (size_t)(q - p - 1);
				p = q + 1;
			} else if (*p == '"') {
				for (p++; *p && *p != '"'; p++) {
					if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
						p++;
					cur[k++] = *p;
				}
				if (*p != '"') {
					snprintf(err, errlen, "unterminated \" quote");
					goto out;
				}
				p++;
			} else if (*p == '\\') {
				if (!p[1]) {
					snprintf(err, errlen, "a backslash at the end of the line");
					goto out;
				}
				cur[k++] = p[1];
				p += 2;
			} else {
				cur[k++] = *p++;
			}
		}
		if (!word)
			break;
		if (grow(&w, &cap, n + 1, sizeof(*w), 8))
			goto oom;
		w[n] = strndup(cur, k);
		if (!w[n])
			goto oom;
		w[++n] = NULL;
	}
	if (!n) {
		ret = 0;
		goto out;
	}
	*out = w;
	w = NULL;
	ret = (int)n;
	goto out;
oom:
	ret = -ENOMEM;
	snprintf(err, errlen, "out of memory");
out:
	if (w) {
		for (size_t i = 0; i < n; i++)
			free(w[i]);
		free(w);
	}
	free(cur);
	return ret;
}

static bool name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

char *subst_params(const char *arg, const char *const *names, const char *const *vals,
		   int n, char *err, size_t errlen)
{
	size_t cap = strlen(arg) + 1, len = 0;
	char *out = malloc(cap);
	const char *p = arg;

	if (!out)
		return NULL;
	while (*p) {
		const char *add = p;
		size_t addn = 1, skip = 1;

		if (*p == '{') {
			const char *q = p + 1;

			while (name_char(*q))
				q++;
			if (*q == '}' && q > p + 1 && !isdigit((unsigned char)p[1])) {
				int i;

				for (i = 0; i < n; i++)
					if (strlen(names[i]) == (size_t)(q - p - 1) &&
					    !strncmp(names[i], p + 1, (size_t)(q - p - 1)))
						break;
				if (i == n) {
					snprintf(err, errlen, "%.*s", (int)(q - p - 1), p + 1);
					free(out);
					return NULL;
				}
				add = vals[i];
				addn = strlen(vals[i]);
				skip = (size_t)(q - p + 1);
			}
		}
		if (len + addn + 1 > cap) {
			char *o;

			cap = (len + addn + 1) * 2;
			o = realloc(out, cap);
			if (!o) {
				free(out);
				return NULL;
			}
			out = o;
		}
		memcpy(out + len, add, addn);
		len += addn;
		p += skip;
	}
	out[len] = 0;
	return out;
}

void config_sanitize(char *s)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._=+-", *s))
			*s = '_';
}

/* The header of plan.txt: what makes two campaigns the same one. */
static int plan_text(struct plan *p, FILE *t)
{
	fprintf(t, "memtrace-bpf campaign plan 1\nrepeat %lu\nfollow %d\nas-root %d\n", p->repeat,
		p->follow, p->as_root);
	for (int i = 0; i < p->nparams; i++) {
		fprintf(t, "param %s", p->params[i].name);
		for (int j = 0; j < p->params[i].nvals; j++)
			fprintf(t, "%c%s", j ? ',' : '=', p->params[i].vals[j]);
		fprintf(t, "\n");
	}
	p->nlines = 1;
	if (p->file)
		return read_runs_file(p->file, &p->lines, &p->nlines, t);
	fprintf(t, "command");
	for (int i = 0; i < p->ncmd; i++)
		fprintf(t, "\t%s", p->cmd[i]);
	fprintf(t, "\n");
	return 0;
}

/* The configuration's name: line<N> and/or NAME=value+..., or default. */
static int config_name(const struct plan *p, const struct plan_run *r, const char *const *names,
		       const char *const *vals, int np, char *config, size_t len)
{
	size_t cl = 0;

	if (p->file)
		cl += (size_t)snprintf(config, len, "line%d", p->lines[r->line].lineno);
	for (int i = 0; i < np; i++)
		cl += (size_t)snprintf(config + cl, cl < len ? len - cl : 0, "%s%s=%s",
				       cl ? "+" : "", names[i], vals[i]);
	if (!cl)
		snprintf(config, len, "default");
	if (cl >= len) {
		fprintf(stderr, "memtrace-bpf campaign: the configuration name %.40s... is too long; "
			"use shorter values\n", config);
		return -EINVAL;
	}
	config_sanitize(config);
	return 0;
}

/* Fills in run r (index, repeat, combo, line set): its name, directory and
 * command. 0, -EINVAL (said), -ENOMEM. */
static int plan_run_init(const struct plan *p, struct plan_run *r)
{
	const char *names[CAMPAIGN_MAX_PARAMS], *vals[CAMPAIGN_MAX_PARAMS];
	char **src = p->file ? p->lines[r->line].argv : p->cmd, config[256], path[PATH_MAX], err[256];
	int nsrc = p->file ? p->lines[r->line].argc : p->ncmd;
	int np = run_params(p, r, names, vals), e;

	e = config_name(p, r, names, vals, np, config, sizeof(config));
	if (e)
		return e;
	if ((size_t)snprintf(path, sizeof(path), "%s%s%s/%d", p->dir,
			     p->dir[strlen(p->dir) - 1] == '/' ? "" : "/", config,
			     r->repeat) >= sizeof(path) - 32) {
		fprintf(stderr, "memtrace-bpf campaign: the run directory %.60s... is too long a path; "
			"give a shorter -d DIR or shorter values\n", path);
		return -EINVAL;
	}
	r->config = strdup(config);
	r->dir = strdup(path);
	r->argv = calloc((size_t)nsrc + 1, sizeof(char *));
	if (!r->config || !r->dir || !r->argv)
		return -ENOMEM;
	for (int i = 0; i < nsrc; i++) {
		r->argv[i] = subst_params(src[i], names, vals, np, err, sizeof(err));
		if (r->argv[i])
			continue;
		if (p->file)
			fprintf(stderr, "memtrace-bpf campaign: %s:%d uses {%s} but no --param %s=... "
				"gives it\n", p->file, p->lines[r->line].lineno, err, err);
		else
			fprintf(stderr, "memtrace-bpf campaign: the command uses {%s} but no --param "
				"%s=... gives it\n", err, err);
		return -EINVAL;
	}
	r->argc = nsrc;
	return 0;
}

/* Every configuration times every repeat, repeat-major (1st run of every
 * config, then the 2nd...): a drift of the machine over the campaign then
 * spreads over all configs instead of biasing the last ones. */
int plan__build(struct plan *p)
{
	double total = p->repeat;
	int ncomb = 1, e;
	size_t blen = 0;
	FILE *t = open_memstream(&p->text, &blen);

	if (!t)
		return -ENOMEM;
	e = plan_text(p, t);
	fclose(t);
	if (e)
		return e;
	for (int i = 0; i < p->nparams; i++)
		ncomb *= p->params[i].nvals;
	total *= (double)ncomb * p->nlines;
	if (total > CAMPAIGN_MAX_RUNS) {
		fprintf(stderr, "memtrace-bpf campaign: the plan has %.0f runs; at most %d in one "
			"campaign (split it over several -d DIRs)\n", total, CAMPAIGN_MAX_RUNS);
		return -EINVAL;
	}
	for (unsigned long rep = 1; rep <= p->repeat; rep++) {
		for (int li = 0; li < p->nlines; li++) {
			for (int c = 0; c < ncomb; c++) {
				struct plan_run *r;

				if (grow(&p->runs, &p->cap, p->nruns, sizeof(*p->runs), 16))
					return -ENOMEM;
				r = &p->runs[p->nruns];
				*r = (struct plan_run){ .index = (int)p->nruns, .repeat = (int)rep,
							.combo = c, .line = li, .dirfd = -1 };
				e = plan_run_init(p, r);
				if (e)
					return e;
				p->nruns++;
			}
		}
	}
	return 0;
}

/* NAME=value of the params, then MEMTRACE_CONFIG, _REPEAT, _RUN_DIR */
#define RUN_ENV_OURS 3

char **plan__env(const struct plan *p, const struct plan_run *r)
{
	const char *names[CAMPAIGN_MAX_PARAMS + RUN_ENV_OURS], *vals[CAMPAIGN_MAX_PARAMS + RUN_ENV_OURS];
	char repbuf[16], absdir[PATH_MAX * 2];
	int np = run_params(p, r, names, vals);

	snprintf(repbuf, sizeof(repbuf), "%d", r->repeat);
	names[np] = "MEMTRACE_CONFIG";
	vals[np] = r->config;
	names[np + 1] = "MEMTRACE_REPEAT";
	vals[np + 1] = repbuf;
	names[np + 2] = "MEMTRACE_RUN_DIR";
	vals[np + 2] = r->dir;
	if (r->dir[0] != '/' && getcwd(absdir, sizeof(absdir))) {
		size_t al = strlen(absdir);

		snprintf(absdir + al, sizeof(absdir) - al, "/%s", r->dir);
		vals[np + 2] = absdir;
	}
	return env_with(NULL, names, vals, np + RUN_ENV_OURS);
}

void plan__env_free(const struct plan *p, char **env)
{
	env_free(env, p->nparams + RUN_ENV_OURS);
}
