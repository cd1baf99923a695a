// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * memtrace-bpf campaign: many traced runs of a command (a parameter matrix
 * times repeats, or one run per line of a file), several at once under one
 * loaded set of BPF programs, each run exact and separate (its own kernel
 * group), then statistics across them. Resumable: a run is finished when
 * its result.csv exists; anything else in its directory is redone.
 */
#include <argp.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "analysis/campaign.h"
#include "trace/preflight.h"
#include "cmd/cmd.h"
#include "lib/grow.h"
#include "format/output.h"
#include "trace/run.h"
#include "lib/units.h"

#define EXIT_TRACE_ERR	1
#define EXIT_USAGE	2
#define EXIT_RUNS_FAILED 3	/* the campaign finished; some runs did not exit 0 */
#define MAX_JOBS	64

extern char **environ;

struct param {
	char *name;
	char **vals;
	int nvals;
};

struct line_cmd {
	char **argv;
	int argc;
	int lineno;
};

/* A run of the plan: small, since a plan may hold many (the state of a
 * run in progress is in struct active, at most --jobs of them). */
struct crun {
	int index;
	int repeat;
	int combo;		/* which values of the params (mixed radix) */
	int line;		/* --file: which line (index into ca.lines) */
	char *config;		/* directory-safe name */
	char *dir;		/* DIR/CONFIG/REPEAT */
	char **argv;		/* substituted command */
	int argc;
	bool done;		/* result.csv on disk */
};

enum { P_TRACE, P_SUMMARY, P_LOG, P_RUNJSON, P_RESULT, P_NFILES };

struct active {
	struct crun *r;
	struct run run;
	char paths[P_NFILES][PATH_MAX + 16];
	char **envp;		/* environ + params + MEMTRACE_* */
	char start_iso[40];
	bool reaped;
	uint64_t reaped_ns;
};

#define MAX_RUNS 100000
static const char *const run_files[] = { "trace.csv", "summary.json", "output.log", "run.json",
					 "result.csv" };

static struct {
	const char *dir;
	unsigned long repeat;
	struct param params[CAMPAIGN_MAX_PARAMS];
	int nparams;
	const char *file;
	unsigned long jobs;
	bool no_follow, as_root, quiet, verbose;
	uint64_t ring_bytes;
	unsigned long max_procs;
	const char *btf;
	char **cmd;
	int ncmd;
	struct line_cmd *lines;	/* --file */
	int nlines;
	struct crun *runs;
	size_t nruns, cap;
} ca = { .repeat = 1, .jobs = 1, .ring_bytes = 16ULL << 20, .max_procs = 16384 };

enum { OPT_REPEAT = 1200, OPT_PARAM, OPT_FILE, OPT_JOBS, OPT_NO_FOLLOW, OPT_AS_ROOT,
       OPT_RING_SIZE, OPT_MAX_PROCS, OPT_BTF };

static const char doc[] =
"Trace many runs of a command: a parameter matrix times repeats, each run's\n"
"trace kept, then mean / std / CV / min / max of the peak per configuration.\n"
"\n"
"USAGE: memtrace-bpf campaign -d DIR [OPTIONS] -- COMMAND [ARGS with {NAME}]\n"
"       memtrace-bpf campaign -d DIR --file RUNS.txt [OPTIONS]\n"
"       memtrace-bpf campaign report DIR [--format text|json]\n"
"\n"
"Each --param NAME=V1,V2 adds a dimension; every combination is a\n"
"configuration, run --repeat times. {NAME} in the command is replaced by\n"
"the value, and NAME=value is exported (with MEMTRACE_CONFIG,\n"
"MEMTRACE_REPEAT, MEMTRACE_RUN_DIR). --file: one command per line (quotes\n"
"as in a shell, # comments, no expansion). Runs go to DIR/CONFIG/REPEAT/:\n"
"trace.csv, summary.json, output.log (stdout+stderr), run.json (command,\n"
"environment, start time), result.csv (written last: the run is finished).\n"
"DIR/campaign.csv has a row per run, DIR/stats.csv and stats.json the\n"
"statistics over the runs that exited 0.\n"
"\n"
"Run the same command again to resume: finished runs are kept and skipped,\n"
"a half-finished one is redone. A run that fails (non-zero exit, killed,\n"
"OOM, cannot start) is recorded as such and the campaign goes on.\n"
"\n"
"EXAMPLES:\n"
"  sudo memtrace-bpf campaign -d results/ --repeat 3 \\\n"
"       --param LIMIT=323,478,823,1005 -- ./solver_dev {LIMIT}\n"
"  sudo memtrace-bpf campaign -d r/ --param N=1,2 --param M=a,b -- ./x {N} {M}\n"
"  sudo memtrace-bpf campaign -d results/ --file runs.txt   # one run per line\n"
"  sudo memtrace-bpf campaign -d results/ --jobs 2 ...      # two runs at once\n"
"  memtrace-bpf campaign report results/                    # tables from disk\n"
"\n"
"Exit status: 0 every run exited 0; 3 the campaign finished but some runs\n"
"did not (see campaign.csv); 1 cannot trace; 2 bad command line; 128+N\n"
"stopped by signal N (run the same command again to resume).\n"
"\n"
"OPTIONS:";

static const struct argp_option opts[] = {
	{ "dir", 'd', "DIR", 0, "Results directory (created; required)", 0 },
	{ "repeat", OPT_REPEAT, "N", 0, "Runs per configuration (default 1)", 0 },
	{ "param", OPT_PARAM, "NAME=V1,V2", 0, "A parameter and its values; repeatable (a matrix)", 0 },
	{ "file", OPT_FILE, "FILE", 0, "One command per line instead of -- COMMAND", 0 },
	{ "jobs", 'j', "N", 0, "Runs at once, all traced by one BPF load (default 1, at most 64)", 0 },
	{ "no-follow", OPT_NO_FOLLOW, NULL, 0, "Trace each command only, not its children", 0 },
	{ "as-root", OPT_AS_ROOT, NULL, 0, "Under sudo, run commands as root (default: as the sudo user)", 0 },
	{ "quiet", 'q', NULL, 0, "No progress and no table", 0 },
	{ "ring-size", OPT_RING_SIZE, "SIZE", 0, "Kernel ring buffer size (default 16M)", 0 },
	{ "max-procs", OPT_MAX_PROCS, "N", 0, "Processes traced at once over all runs (default 16384)", 0 },
	{ "btf", OPT_BTF, "FILE", 0, "Kernel BTF instead of /sys/kernel/btf/vmlinux", 0 },
	{ "verbose", 'v', NULL, 0, "libbpf's debug output", 0 },
	{},
};

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

static void add_param(const char *arg)
{
	const char *eq = strchr(arg, '=');
	struct param *p;
	char *copy, *save = NULL;

	if (!eq || !valid_name(arg, (size_t)(eq - arg)))
		usage_err("--param %s: give NAME=V1,V2,... with NAME made of letters, digits and _ "
			  "(e.g. --param LIMIT=323,478)", arg);
	if (ca.nparams == CAMPAIGN_MAX_PARAMS)
		usage_err("--param: at most %d parameters", CAMPAIGN_MAX_PARAMS);
	for (int i = 0; i < ca.nparams; i++)
		if (strlen(ca.params[i].name) == (size_t)(eq - arg) &&
		    !strncmp(ca.params[i].name, arg, (size_t)(eq - arg)))
			usage_err("--param %.*s is given twice; put all its values in one: "
				  "--param %.*s=V1,V2", (int)(eq - arg), arg, (int)(eq - arg), arg);
	p = &ca.params[ca.nparams++];
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

static error_t parse_arg(int key, char *arg, struct argp_state *st)
{
	unsigned long v;

	switch (key) {
	case 'd':
		ca.dir = arg;
		break;
	case OPT_REPEAT:
		if (parse_uint(arg, 100000, &ca.repeat) || ca.repeat < 1)
			usage_err("--repeat %s: a number from 1 to 100000", arg);
		break;
	case OPT_PARAM:
		add_param(arg);
		break;
	case OPT_FILE:
		ca.file = arg;
		break;
	case 'j':
		if (parse_uint(arg, MAX_JOBS, &ca.jobs) || ca.jobs < 1)
			usage_err("--jobs %s: a number from 1 to %d", arg, MAX_JOBS);
		break;
	case OPT_NO_FOLLOW:
		ca.no_follow = true;
		break;
	case OPT_AS_ROOT:
		ca.as_root = true;
		break;
	case 'q':
		ca.quiet = true;
		break;
	case 'v':
		ca.verbose = true;
		break;
	case OPT_RING_SIZE:
		if (parse_size(arg, &ca.ring_bytes) || ca.ring_bytes < (64 << 10) ||
		    ca.ring_bytes > (1ULL << 30) || (ca.ring_bytes & (ca.ring_bytes - 1)))
			usage_err("--ring-size %s: a power of two from 64K to 1G (e.g. 16M, 64M)", arg);
		break;
	case OPT_MAX_PROCS:
		if (parse_uint(arg, 1 << 20, &v) || v < 1)
			usage_err("--max-procs %s: a number from 1 to 1048576", arg);
		ca.max_procs = v;
		break;
	case OPT_BTF:
		ca.btf = arg;
		break;
	case ARGP_KEY_ARG:
		ca.cmd = &st->argv[st->next - 1];
		ca.ncmd = st->argc - st->next + 1;
		st->next = st->argc;
		break;
	case ARGP_KEY_END:
		if (!ca.dir)
			usage_err("where should the results go? give -d DIR (e.g. -d results/)");
		if (ca.file && ca.ncmd)
			usage_err("give either --file RUNS.txt or -- COMMAND, not both");
		if (!ca.file && !ca.ncmd)
			usage_err("nothing to run: give -- COMMAND [ARGS] or --file RUNS.txt");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* ---- the plan ---- */

static char *path_join(char *buf, size_t len, const char *a, const char *b)
{
	size_t n = strlen(a);

	if ((size_t)snprintf(buf, len, "%s%s%s", a, n && a[n - 1] == '/' ? "" : "/", b) >= len)
		buf[0] = 0;	/* too long: an empty path fails its open() */
	return buf;
}

/* environ without the names we set, then ours */
static char **make_env(const char *const *names, const char *const *vals, int n)
{
	size_t ne = 0, k = 0;
	char **env;

	while (environ[ne])
		ne++;
	env = calloc(ne + (size_t)n + 1, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < ne; i++) {
		bool ours = false;

		for (int j = 0; j < n && !ours; j++) {
			size_t l = strlen(names[j]);

			ours = !strncmp(environ[i], names[j], l) && environ[i][l] == '=';
		}
		if (!ours)
			env[k++] = environ[i];
	}
	for (int j = 0; j < n; j++) {
		if (asprintf(&env[k], "%s=%s", names[j], vals[j]) < 0)
			return NULL;
		k++;
	}
	env[k] = NULL;
	return env;
}

static int read_runs_file(const char *path, struct line_cmd **out, int *nout, FILE *plan)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, err[256];
	size_t cap = 0, lcap = 0;
	int n = 0, lineno = 0;
	struct line_cmd *l = NULL;

	if (!f) {
		fprintf(stderr, "memtrace-bpf campaign: cannot read --file %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	while (getline(&line, &cap, f) > 0) {
		int first = ++lineno, k;
		size_t ll = strlen(line);
		char **w;

		/* a backslash before the newline continues the line, as in sh */
		while (ll >= 2 && line[ll - 1] == '\n' && line[ll - 2] == '\\') {
			char *more = NULL;
			size_t mcap = 0;
			ssize_t mn = getline(&more, &mcap, f);
			char *joined;

			line[ll - 2] = 0;
			if (mn <= 0) {
				free(more);
				break;
			}
			lineno++;
			if (asprintf(&joined, "%s%s", line, more) < 0) {
				free(more);
				fclose(f);
				return -1;
			}
			free(more);
			free(line);
			line = joined;
			cap = strlen(joined) + 1;
			ll = strlen(line);
		}
		k = split_words(line, &w, err, sizeof(err));
		if (k < 0) {
			fprintf(stderr, "memtrace-bpf campaign: %s:%d: %s; quote as in a shell\n",
				path, first, err);
			fclose(f);
			return -1;
		}
		if (!k)
			continue;
		if (!w[0][0]) {
			fprintf(stderr, "memtrace-bpf campaign: %s:%d: the command name is empty\n",
				path, first);
			fclose(f);
			return -1;
		}
		if (grow(&l, &lcap, (size_t)n, sizeof(*l), 16))
			return -1;
		l[n].argv = w;
		l[n].argc = k;
		l[n].lineno = first;
		fprintf(plan, "line %d", first);
		for (int i = 0; i < k; i++)
			fprintf(plan, "\t%s", w[i]);
		fprintf(plan, "\n");
		n++;
	}
	free(line);
	fclose(f);
	if (!n) {
		fprintf(stderr, "memtrace-bpf campaign: --file %s has no command (blank and # lines only)\n",
			path);
		return -1;
	}
	*out = l;
	*nout = n;
	return 0;
}

/* The parameter values of a run (names[i] = vals[i]); returns how many. */
static int run_params(const struct crun *r, const char **names, const char **vals)
{
	int rem = r->combo;

	for (int i = ca.nparams - 1; i >= 0; i--) {
		names[i] = ca.params[i].name;
		vals[i] = ca.params[i].vals[rem % ca.params[i].nvals];
		rem /= ca.params[i].nvals;
	}
	return ca.nparams;
}

/* Every configuration times every repeat, repeat-major (1st run of every
 * config, then the 2nd...): a drift of the machine over the campaign then
 * spreads over all configs instead of biasing the last ones. The canonical
 * text of the plan goes to *plan_text: a resume must find the same.
 * Returns 0, -1 (a problem, said), -2 (a usage error, said). */
static int build_plan(char **plan_text)
{
	double total = ca.repeat;
	int ncomb = 1;
	char *buf = NULL, err[256];
	size_t blen = 0;
	FILE *plan = open_memstream(&buf, &blen);

	if (!plan)
		return -1;
	fprintf(plan, "memtrace-bpf campaign plan 1\nrepeat %lu\nfollow %d\nas-root %d\n", ca.repeat,
		!ca.no_follow, ca.as_root);
	for (int i = 0; i < ca.nparams; i++) {
		fprintf(plan, "param %s", ca.params[i].name);
		for (int j = 0; j < ca.params[i].nvals; j++)
			fprintf(plan, "%c%s", j ? ',' : '=', ca.params[i].vals[j]);
		fprintf(plan, "\n");
		ncomb *= ca.params[i].nvals;
		total *= ca.params[i].nvals;
	}
	ca.nlines = 1;
	if (ca.file) {
		if (read_runs_file(ca.file, &ca.lines, &ca.nlines, plan)) {
			fclose(plan);
			free(buf);
			return -1;
		}
		total *= ca.nlines;
	} else {
		fprintf(plan, "command");
		for (int i = 0; i < ca.ncmd; i++)
			fprintf(plan, "\t%s", ca.cmd[i]);
		fprintf(plan, "\n");
	}
	fclose(plan);
	*plan_text = buf;
	if (total > MAX_RUNS) {
		fprintf(stderr, "memtrace-bpf campaign: the plan has %.0f runs; at most %d in one "
			"campaign (split it over several -d DIRs)\n", total, MAX_RUNS);
		return -2;
	}

	for (unsigned long rep = 1; rep <= ca.repeat; rep++) {
		for (int li = 0; li < ca.nlines; li++) {
			for (int c = 0; c < ncomb; c++) {
				const char *names[CAMPAIGN_MAX_PARAMS], *vals[CAMPAIGN_MAX_PARAMS];
				char **src = ca.file ? ca.lines[li].argv : ca.cmd, config[256], path[PATH_MAX];
				int nsrc = ca.file ? ca.lines[li].argc : ca.ncmd, np;
				struct crun *r;
				size_t cl = 0;

				if (grow(&ca.runs, &ca.cap, ca.nruns, sizeof(*ca.runs), 16))
					return -1;
				r = &ca.runs[ca.nruns];
				memset(r, 0, sizeof(*r));
				r->index = (int)ca.nruns;
				r->repeat = (int)rep;
				r->combo = c;
				r->line = li;
				np = run_params(r, names, vals);
				if (ca.file)
					cl += (size_t)snprintf(config, sizeof(config), "line%d",
							       ca.lines[li].lineno);
				for (int i = 0; i < np; i++)
					cl += (size_t)snprintf(config + cl,
							       cl < sizeof(config) ? sizeof(config) - cl : 0,
							       "%s%s=%s", cl ? "+" : "", names[i], vals[i]);
				if (!cl)
					snprintf(config, sizeof(config), "default");
				if (cl >= sizeof(config)) {
					fprintf(stderr, "memtrace-bpf campaign: the configuration name %.40s... "
						"is too long; use shorter values\n", config);
					return -2;
				}
				config_sanitize(config);
				if ((size_t)snprintf(path, sizeof(path), "%s%s%s/%d", ca.dir,
						     ca.dir[strlen(ca.dir) - 1] == '/' ? "" : "/", config,
						     r->repeat) >= sizeof(path) - 32) {
					fprintf(stderr, "memtrace-bpf campaign: the run directory %.60s... is "
						"too long a path; give a shorter -d DIR or shorter values\n", path);
					return -2;
				}
				r->config = strdup(config);
				r->dir = strdup(path);
				r->argv = calloc((size_t)nsrc + 1, sizeof(char *));
				if (!r->config || !r->dir || !r->argv)
					return -1;
				for (int i = 0; i < nsrc; i++) {
					r->argv[i] = subst_params(src[i], names, vals, np, err, sizeof(err));
					if (!r->argv[i]) {
						if (ca.file)
							fprintf(stderr, "memtrace-bpf campaign: %s:%d uses {%s} but no "
								"--param %s=... gives it\n", ca.file,
								ca.lines[li].lineno, err, err);
						else
							fprintf(stderr, "memtrace-bpf campaign: the command uses {%s} "
								"but no --param %s=... gives it\n", err, err);
						return -2;
					}
				}
				r->argc = nsrc;
				ca.nruns++;
			}
		}
	}
	return 0;
}

/* The environment of a run: ours, the params, MEMTRACE_CONFIG/REPEAT and
 * MEMTRACE_RUN_DIR (absolute: the command may chdir). */
static char **run_env(const struct crun *r)
{
	const char *names[CAMPAIGN_MAX_PARAMS + 3], *vals[CAMPAIGN_MAX_PARAMS + 3];
	char repbuf[16], absdir[PATH_MAX * 2];
	int np = run_params(r, names, vals);

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
	return make_env(names, vals, np + 3);
}

static void env_free(char **env, int nours)
{
	size_t n = 0;

	if (!env)
		return;
	while (env[n])
		n++;
	/* ours are the last nours, made by asprintf */
	for (size_t i = n >= (size_t)nours ? n - (size_t)nours : 0; i < n; i++)
		free(env[i]);
	free(env);
}

/* ---- files ---- */

static void give_to_user(const char *path)
{
	uid_t uid;
	gid_t gid;

	if (sudo_ids(&uid, &gid) && chown(path, uid, gid) && errno != ENOENT)
		fprintf(stderr, "memtrace-bpf: note: cannot give %s to uid %u: %s\n", path, uid,
			strerror(errno));
}

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] == '/' || !buf[i]) {
			char c = buf[i];

			buf[i] = 0;
			if (!mkdir(buf, 0755))
				give_to_user(buf);	/* made for the sudo user */
			else if (errno != EEXIST)
				return -errno;
			buf[i] = c;
		}
	}
	return 0;
}

/* Writes a whole file atomically (temporary + rename). */
static int write_file(const char *path, const char *data, size_t len)
{
	char tmp[PATH_MAX + 32];
	int fd, e = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (len) {
		ssize_t w = write(fd, data, len);

		if (w < 0) {
			e = -errno;
			break;
		}
		data += w;
		len -= (size_t)w;
	}
	if (!e && fsync(fd))
		e = -errno;
	close(fd);
	if (!e && rename(tmp, path))
		e = -errno;
	if (e)
		unlink(tmp);
	else
		give_to_user(path);
	return e;
}

static void iso_now(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int write_run_json(struct active *a, uint64_t start_ns)
{
	const struct crun *r = a->r;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct jw w;
	int e;

	if (!f)
		return -ENOMEM;
	jw_begin(&w, f);
	jw_obj(&w, NULL);
	jw_str(&w, "config", r->config);
	jw_i64(&w, "repeat", r->repeat);
	jw_i64(&w, "index", r->index);
	jw_arr(&w, "command");
	for (int i = 0; i < r->argc; i++)
		jw_str(&w, NULL, r->argv[i]);
	jw_arr_end(&w);
	jw_obj(&w, "params");
	for (int i = 0; i < ca.nparams; i++) {
		const char *name = ca.params[i].name;
		size_t l = strlen(name);

		for (char **e2 = a->envp; *e2; e2++)
			if (!strncmp(*e2, name, l) && (*e2)[l] == '=')
				jw_str(&w, name, *e2 + l + 1);
	}
	jw_obj_end(&w);
	{
		char cwd[PATH_MAX];

		jw_str(&w, "cwd", getcwd(cwd, sizeof(cwd)) ? cwd : NULL);
	}
	jw_str(&w, "start_time", a->start_iso);
	jw_u64(&w, "start_ts_ns", start_ns);
	jw_arr(&w, "environment");
	for (char **e2 = a->envp; *e2; e2++)
		jw_str(&w, NULL, *e2);
	jw_arr_end(&w);
	jw_obj_end(&w);
	fclose(f);
	e = write_file(a->paths[P_RUNJSON], buf, len);
	free(buf);
	return e;
}

/* A run not finished: clear what an earlier attempt left, so nothing of it
 * is mistaken for this attempt's. */
static int clear_run_dir(struct active *a)
{
	int e = mkdir_p(a->r->dir);

	if (e)
		return e;
	for (int f = 0; f < P_NFILES; f++)
		if (unlink(a->paths[f]) && errno != ENOENT)
			return -errno;
	return 0;
}

/* ---- the report (from disk) ---- */

static int cmp_result(const void *a, const void *b)
{
	const struct run_result *x = a, *y = b;

	return x->index - y->index;
}

static int collect_results(const char *dir, struct run_result **out, size_t *nout, bool warn)
{
	struct run_result *res = NULL;
	size_t n = 0, cap = 0;
	DIR *d = opendir(dir), *d2;
	struct dirent *c, *rp;
	char err[512];

	*out = NULL;
	*nout = 0;
	if (!d)
		return -errno;
	while ((c = readdir(d))) {
		char cdir[PATH_MAX];

		if (c->d_name[0] == '.')
			continue;
		path_join(cdir, sizeof(cdir), dir, c->d_name);
		d2 = opendir(cdir);
		if (!d2)
			continue;	/* a file: campaign.csv and friends */
		while ((rp = readdir(d2))) {
			char rdir[PATH_MAX], rpath[PATH_MAX + 16];
			struct stat stt;

			if (rp->d_name[0] == '.')
				continue;
			path_join(rdir, sizeof(rdir), cdir, rp->d_name);
			path_join(rpath, sizeof(rpath), rdir, "result.csv");
			if (stat(rpath, &stt))
				continue;	/* not finished */
			if (grow(&res, &cap, n, sizeof(*res), 64)) {
				closedir(d2);
				closedir(d);
				free(res);
				return -ENOMEM;
			}
			if (result_read(rpath, &res[n], err, sizeof(err))) {
				if (warn)
					fprintf(stderr, "memtrace-bpf campaign: skipping %s\n", err);
				continue;
			}
			n++;
		}
		closedir(d2);
	}
	closedir(d);
	if (n)
		qsort(res, n, sizeof(*res), cmp_result);
	*out = res;
	*nout = n;
	return 0;
}

static void print_table(FILE *f, const struct config_stats *st, int n, size_t nres)
{
	int w = 6;

	for (int i = 0; i < n; i++)
		if ((int)strlen(st[i].config) > w)
			w = (int)strlen(st[i].config);
	fprintf(f, "%-*s  runs  fail  peak MiB: mean       std    CV %%        min        max"
		"   time s: mean    CV %%\n", w, "config");
	for (int i = 0; i < n; i++) {
		const struct config_stats *s = &st[i];

		if (!s->runs) {
			fprintf(f, "%-*s  %4d  %4d  (no run exited 0)\n", w, s->config, s->runs, s->failed);
			continue;
		}
		fprintf(f, "%-*s  %4d  %4d  %14.2f  %8.2f  %6.2f  %9.2f  %9.2f  %12.3f  %6.2f\n", w,
			s->config, s->runs, s->failed, s->mean_peak_kb / 1024, s->std_peak_kb / 1024,
			s->cv_peak_pct, s->min_peak_kb / 1024, s->max_peak_kb / 1024, s->mean_dur_s,
			s->cv_dur_pct);
	}
	fprintf(f, "(%zu finished run%s; statistics over the runs that exited 0; std is the "
		"sample standard deviation)\n", nres, nres == 1 ? "" : "s");
}

/* campaign.csv, stats.csv, stats.json from the result.csv files on disk. */
static int write_report(const char *dir, bool print, bool json_out, int *nfailed)
{
	struct run_result *res;
	struct config_stats *st;
	size_t n;
	int nst, e;
	char path[PATH_MAX + 32], line[1024];
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	e = collect_results(dir, &res, &n, true);
	if (e) {
		fprintf(stderr, "memtrace-bpf campaign: cannot read %s: %s\n", dir, strerror(-e));
		return -1;
	}
	nst = stats_by_config(res, (int)n, &st);
	if (nst < 0) {
		free(res);
		return -1;
	}
	*nfailed = 0;
	/* campaign.csv */
	f = open_memstream(&buf, &len);
	fprintf(f, "%s\n", RESULT_HEADER);
	for (size_t i = 0; i < n; i++) {
		if (result_format(line, sizeof(line), &res[i]) > 0)
			fputs(line, f);
		if (res[i].exit_code)
			(*nfailed)++;
	}
	fclose(f);
	e = write_file(path_join(path, sizeof(path), dir, "campaign.csv"), buf, len);
	free(buf);
	buf = NULL;
	/* stats.csv */
	f = open_memstream(&buf, &len);
	fprintf(f, "config,runs,failed,mean_peak_rss_kb,std_peak_rss_kb,cv_percent,min_peak_rss_kb,"
		"max_peak_rss_kb,mean_duration_s,std_duration_s,cv_duration_percent,"
		"min_duration_s,max_duration_s\n");
	for (int i = 0; i < nst; i++)
		fprintf(f, "%s,%d,%d,%.1f,%.1f,%.3f,%.0f,%.0f,%.6f,%.6f,%.3f,%.6f,%.6f\n",
			st[i].config, st[i].runs, st[i].failed, st[i].mean_peak_kb, st[i].std_peak_kb,
			st[i].cv_peak_pct, st[i].min_peak_kb, st[i].max_peak_kb, st[i].mean_dur_s,
			st[i].std_dur_s, st[i].cv_dur_pct, st[i].min_dur_s, st[i].max_dur_s);
	fclose(f);
	if (!e)
		e = write_file(path_join(path, sizeof(path), dir, "stats.csv"), buf, len);
	free(buf);
	buf = NULL;
	/* stats.json */
	f = open_memstream(&buf, &len);
	{
		struct jw w;

		jw_begin(&w, f);
		jw_obj(&w, NULL);
		jw_u64(&w, "finished_runs", n);
		jw_u64(&w, "failed_runs", (uint64_t)*nfailed);
		jw_arr(&w, "configs");
		for (int i = 0; i < nst; i++) {
			jw_obj(&w, NULL);
			jw_str(&w, "config", st[i].config);
			jw_i64(&w, "runs", st[i].runs);
			jw_i64(&w, "failed", st[i].failed);
			jw_f64(&w, "mean_peak_rss_kb", st[i].mean_peak_kb, 1);
			jw_f64(&w, "std_peak_rss_kb", st[i].std_peak_kb, 1);
			jw_f64(&w, "cv_percent", st[i].cv_peak_pct, 3);
			jw_u64(&w, "min_peak_rss_kb", (uint64_t)st[i].min_peak_kb);
			jw_u64(&w, "max_peak_rss_kb", (uint64_t)st[i].max_peak_kb);
			jw_f64(&w, "mean_duration_s", st[i].mean_dur_s, 6);
			jw_f64(&w, "std_duration_s", st[i].std_dur_s, 6);
			jw_f64(&w, "cv_duration_percent", st[i].cv_dur_pct, 3);
			jw_f64(&w, "min_duration_s", st[i].min_dur_s, 6);
			jw_f64(&w, "max_duration_s", st[i].max_dur_s, 6);
			jw_obj_end(&w);
		}
		jw_arr_end(&w);
		jw_obj_end(&w);
		fputc('\n', f);
	}
	fclose(f);
	if (!e)
		e = write_file(path_join(path, sizeof(path), dir, "stats.json"), buf, len);
	if (e)
		fprintf(stderr, "memtrace-bpf campaign: cannot write the reports in %s: %s\n", dir,
			strerror(-e));
	if (print && json_out)
		fwrite(buf, 1, len, stdout);
	else if (print)
		print_table(stdout, st, nst, n);
	free(buf);
	free(st);
	free(res);
	return e ? -1 : 0;
}

static int cmd_report(int argc, char **argv)
{
	bool json = false;
	const char *dir = NULL;
	int nfailed;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("USAGE: memtrace-bpf campaign report DIR [--format text|json]\n\n"
			       "Rebuilds DIR/campaign.csv, stats.csv and stats.json from the finished runs\n"
			       "on disk (DIR/CONFIG/REPEAT/result.csv) and prints the statistics table.\n\n"
			       "EXAMPLES:\n"
			       "  memtrace-bpf campaign report results/                # table\n"
			       "  memtrace-bpf campaign report results/ --format json  # stats.json\n");
			return 0;
		} else if (!strcmp(argv[i], "--format") && i + 1 < argc) {
			i++;
			if (!strcmp(argv[i], "json"))
				json = true;
			else if (strcmp(argv[i], "text"))
				usage_err("--format %s: give text or json", argv[i]);
		} else if (argv[i][0] == '-') {
			usage_err("report: unknown option %s", argv[i]);
		} else if (!dir) {
			dir = argv[i];
		} else {
			usage_err("report: one directory only (got %s and %s)", dir, argv[i]);
		}
	}
	if (!dir)
		usage_err("report: which campaign? give its directory, e.g. campaign report results/");
	{
		struct stat st;
		char p[PATH_MAX + 16];

		if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
			fprintf(stderr, "memtrace-bpf campaign: %s is not a directory\n", dir);
			return EXIT_TRACE_ERR;
		}
		if (stat(path_join(p, sizeof(p), dir, "plan.txt"), &st)) {
			fprintf(stderr, "memtrace-bpf campaign: %s holds no campaign (no plan.txt); give "
				"the -d DIR of a campaign\n", dir);
			return EXIT_TRACE_ERR;
		}
	}
	if (write_report(dir, true, json, &nfailed))
		return EXIT_TRACE_ERR;
	return 0;
}

/* ---- running ---- */

static struct active *active[MAX_JOBS];
static int nactive;

static int dispatch(void *ctx, const struct mt_rec *rec)
{
	(void)ctx;
	for (int i = 0; i < nactive; i++) {
		struct run *x = &active[i]->run;

		/* a group is never shared by two runs at once (tracer__group_take) */
		if (x->spec.group == rec->group)
			return x->files_open ? run__record(x, rec) : 0;
	}
	return 0;	/* a process of a run already finished (a lingering child) */
}

/* Sends sig to every process of every run in progress (each run is a
 * process group of its own). */
static void signal_runs(int sig)
{
	for (int i = 0; i < nactive; i++)
		if (!active[i]->reaped && active[i]->run.child > 0)
			kill(-active[i]->run.child, sig);
}

struct progress {
	size_t ndone, total;
	double dur_sum;
	int ndur;
};

/* Starts a run; 0, or -1 when the campaign cannot go on (said). A run that
 * cannot start is a finished run with status not-run. */
static int start_run(struct crun *r, struct tracer *tracer)
{
	struct active *a = calloc(1, sizeof(*a));
	struct run_spec s = {};
	char err[1024];
	uint32_t group;
	int e;

	if (!a)
		return -1;
	if (tracer__group_take(tracer, &group)) {
		free(a);
		return 1;	/* all groups held by processes of earlier runs: wait */
	}
	a->r = r;
	for (int f = 0; f < P_NFILES; f++)
		path_join(a->paths[f], sizeof(a->paths[f]), r->dir, run_files[f]);
	a->envp = run_env(r);
	e = a->envp ? clear_run_dir(a) : -ENOMEM;
	if (!e) {
		iso_now(a->start_iso, sizeof(a->start_iso));
		e = write_run_json(a, mono_ns());
	}
	if (e) {
		fprintf(stderr, "memtrace-bpf campaign: cannot prepare %s: %s\n", r->dir, strerror(-e));
		goto fail;
	}
	s.group = group;
	s.mode = "campaign";
	s.cmd = r->argv;
	s.ncmd = r->argc;
	s.envp = a->envp;
	s.log_path = a->paths[P_LOG];
	s.own_pgrp = true;
	s.as_root = ca.as_root;
	s.sigpipe_ignored = sig_inherited_ignore[SIGPIPE];
	s.csv_path = a->paths[P_TRACE];
	s.summary_path = a->paths[P_SUMMARY];
	e = run__launch(&a->run, tracer, &s, mono_ns(), err, sizeof(err));
	if (e && !a->run.exec_failed) {
		fprintf(stderr, "memtrace-bpf campaign: %s #%d: %s\n", r->config, r->repeat, err);
		run__free(&a->run);
		goto fail;
	}
	if (e) {
		/* could not run: a failed run; its log says why */
		FILE *lf = fopen(a->paths[P_LOG], "a");

		if (lf) {
			fprintf(lf, "memtrace-bpf: %s\n", err);
			fclose(lf);
		}
		a->run.spec.csv_path = "-";	/* nothing was opened */
		if (!ca.quiet)
			fprintf(stderr, "memtrace-bpf campaign: %s #%d: %s\n", r->config, r->repeat, err);
		a->reaped = true;
		a->reaped_ns = mono_ns();
	}
	active[nactive++] = a;
	return 0;
fail:
	tracer__group_give_back(tracer, group);
	env_free(a->envp, ca.nparams + 3);
	free(a);
	return -1;
}

/* A run ended and its last records are in: its files, and its result
 * unless the campaign stopped it (then it is redone on resume). */
static int finish_run(struct active *a, struct tracer *tracer, bool stopped_by_us,
		      struct progress *pg)
{
	struct crun *r = a->r;
	struct run *x = &a->run;
	struct run_result res = {};
	struct proc_info *root;
	struct mt_group g;
	char line[1024], sz[32], du[32];
	int e;

	x->interrupted = stopped_by_us;
	e = run__finish(x, a->reaped_ns);
	run__group(x, &g);
	tracer__group_give_back(tracer, x->spec.group);
	res.index = r->index;
	snprintf(res.config, sizeof(res.config), "%s", r->config);
	res.repeat = r->repeat;
	res.exit_code = x->have_status ? exit_status_code(x->status) : -1;
	snprintf(res.status, sizeof(res.status), "%s",
		 x->exec_failed ? "not-run" : WIFSIGNALED(x->status) ? "killed" :
		 res.exit_code ? "failed" : "ok");
	res.peak_rss_kb = g.tree_peak_pages * x->sess.page_kb;
	res.peak_time_s = g.tree_peak_ts_ns > x->start_ns ? (g.tree_peak_ts_ns - x->start_ns) / 1e9 : 0;
	/* the command's own time, from its exec to its exit, as the kernel
	 * stamped them (the loop notices an exit a few ms late) */
	root = x->child ? session__proc(&x->sess, x->child, false) : NULL;
	if (root && root->known_exit && root->first_ts_ns && root->end_ts_ns > root->first_ts_ns)
		res.duration_s = (root->end_ts_ns - root->first_ts_ns) / 1e9;
	else
		res.duration_s = (a->reaped_ns - x->start_ns) / 1e9;
	res.spikes = x->sess.spikes ? spikes__count(x->sess.spikes) : 0;
	res.lost_events = g.lost;
	res.untraced = g.untraced;
	res.events = x->sess.rows;
	res.rusage_maxrss_kb = x->ru.ru_maxrss;
	snprintf(res.start_time, sizeof(res.start_time), "%s", a->start_iso);
	run__free(x);
	env_free(a->envp, ca.nparams + 3);
	free(a);
	if (stopped_by_us) {
		fprintf(stderr, "memtrace-bpf campaign: %s #%d interrupted; it will be redone on resume\n",
			r->config, r->repeat);
		return 0;
	}
	if (e) {
		fprintf(stderr, "memtrace-bpf campaign: %s #%d: its files are incomplete; it will be "
			"redone on resume\n", r->config, r->repeat);
		return e;
	}
	{
		char rp[PATH_MAX + 16];
		int n = snprintf(line, sizeof(line), "%s\n", RESULT_HEADER);

		n += result_format(line + n, sizeof(line) - (size_t)n, &res);
		e = write_file(path_join(rp, sizeof(rp), r->dir, run_files[P_RESULT]), line, (size_t)n);
		if (e) {
			fprintf(stderr, "memtrace-bpf campaign: cannot write %s: %s\n", rp, strerror(-e));
			return e;
		}
	}
	r->done = true;
	pg->ndone++;
	pg->dur_sum += res.duration_s;
	pg->ndur++;
	if (!ca.quiet) {
		fprintf(stderr, "%s[%zu/%zu] %s #%d: %s%s%d), peak %s, %s\n",
			isatty(STDERR_FILENO) ? "\r\033[K" : "", pg->ndone, pg->total, r->config,
			r->repeat, res.status, strcmp(res.status, "killed") ? " (exit " : " (status ",
			res.exit_code, format_size(res.peak_rss_kb * 1024, sz, sizeof(sz)),
			format_duration((uint64_t)(res.duration_s * 1e9), du, sizeof(du)));
	}
	/* said even with -q: the run's figures are incomplete */
	if (res.lost_events)
		fprintf(stderr, "    %s #%d: %" PRIu64 " records dropped (the peak is still exact); "
			"raise --ring-size\n", r->config, r->repeat, res.lost_events);
	if (res.untraced)
		fprintf(stderr, "    %s #%d: %" PRIu64 " child processes not traced (more than "
			"--max-procs alive at once); its peak leaves them out; raise --max-procs\n",
			r->config, r->repeat, res.untraced);
	return 0;
}

/* One campaign per directory at a time: a lock on the directory itself
 * (nothing written in it), held until we exit. */
static int lock_dir(void)
{
	int fd = open(ca.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "memtrace-bpf campaign: cannot open %s: %s\n", ca.dir, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		fprintf(stderr, "memtrace-bpf campaign: another campaign is running in %s; wait for it "
			"to end, or give another -d DIR\n", ca.dir);
		close(fd);
		return -1;
	}
	return fd;
}

int cmd_campaign(int argc, char **argv)
{
	static const struct argp argp = { .options = opts, .parser = parse_arg, .doc = doc };
	struct tracer_opts to = {};
	struct tracer *tracer = NULL;
	struct progress pg = {};
	char *plan_text = NULL, msg[2048], err[8192], path[PATH_MAX + 32];
	size_t todo = 0, next = 0;
	uint64_t camp_start, stop_ns = 0, next_progress = 0;
	bool stopping = false, fatal = false, waiting_said = false, tty = isatty(STDERR_FILENO);
	int e, nfailed = 0, ret = 0, handled_sigs = 0, stop_sig = 0;

	if (argc > 1 && !strcmp(argv[1], "report"))
		return cmd_report(argc - 1, argv + 1);
	if (argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, NULL))
		return EXIT_USAGE;
	signals__install();
	e = build_plan(&plan_text);
	if (e)
		return e == -2 ? EXIT_USAGE : EXIT_TRACE_ERR;
	/* two configurations must not share a directory: one would overwrite
	 * the other ("a/b" and "a_b" both become a_b) */
	for (size_t i = 0; i < ca.nruns && ca.runs[i].repeat == 1; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(ca.runs[i].config, ca.runs[j].config))
				usage_err("two configurations would share the directory %s: make the values "
					  "differ in letters, digits or ._- (other characters become _ there, "
					  "and + joins parameters)", ca.runs[i].config);
	/* every check before anything is loaded or written */
	if (check_privileges(msg, sizeof(msg)) || check_btf(ca.btf, msg, sizeof(msg))) {
		fprintf(stderr, "memtrace-bpf campaign: %s\n", msg);
		return EXIT_TRACE_ERR;
	}
	for (size_t i = 0; i < ca.nruns; i++) {
		if (i && !strcmp(ca.runs[i].argv[0], ca.runs[i - 1].argv[0]))
			continue;
		if (check_command(ca.runs[i].argv[0], msg, sizeof(msg))) {
			fprintf(stderr, "memtrace-bpf campaign: %s (run %s #%d)\n", msg, ca.runs[i].config,
				ca.runs[i].repeat);
			return EXIT_TRACE_ERR;
		}
	}
	e = mkdir_p(ca.dir);
	if (e) {
		fprintf(stderr, "memtrace-bpf campaign: cannot create %s: %s\n", ca.dir, strerror(-e));
		return EXIT_TRACE_ERR;
	}
	if (lock_dir() < 0)
		return EXIT_TRACE_ERR;
	/* a directory holds one campaign: resuming needs the same plan */
	{
		FILE *f = fopen(path_join(path, sizeof(path), ca.dir, "plan.txt"), "r");

		if (f) {
			char *old = NULL;
			size_t cap = 0;
			ssize_t n = getdelim(&old, &cap, 0, f);

			fclose(f);
			if (n < 0 || strcmp(old, plan_text)) {
				fprintf(stderr, "memtrace-bpf campaign: %s holds another campaign (its plan.txt "
					"differs from this command's parameters, repeats or command); give a "
					"new -d DIR, or the same options as before to resume it\n", ca.dir);
				free(old);
				return EXIT_USAGE;
			}
			free(old);
		} else {
			e = write_file(path, plan_text, strlen(plan_text));
			if (e) {
				fprintf(stderr, "memtrace-bpf campaign: cannot write %s: %s\n", path,
					strerror(-e));
				return EXIT_TRACE_ERR;
			}
		}
	}
	for (size_t i = 0; i < ca.nruns; i++) {
		char rp[PATH_MAX + 16];
		struct stat st;

		ca.runs[i].done = !stat(path_join(rp, sizeof(rp), ca.runs[i].dir, run_files[P_RESULT]),
					&st);
		todo += !ca.runs[i].done;
	}
	pg.total = ca.nruns;
	pg.ndone = pg.total - todo;
	if (!ca.quiet)
		fprintf(stderr, "memtrace-bpf campaign: %zu run%s into %s%s; %zu to do, %lu at once\n",
			pg.total, pg.total == 1 ? "" : "s", ca.dir,
			pg.ndone ? " (resuming: finished runs are kept)" : "", todo, ca.jobs);

	to.follow = !ca.no_follow;
	to.ring_bytes = ca.ring_bytes;
	to.max_procs = (uint32_t)ca.max_procs;
	to.btf_path = ca.btf;
	to.verbose = ca.verbose;
	if (todo) {
		e = tracer__open(&tracer, &to, err, sizeof(err));
		if (e) {
			fprintf(stderr, "memtrace-bpf campaign: %s\n", err);
			return EXIT_TRACE_ERR;
		}
	}
	camp_start = mono_ns();
	while (todo && (nactive || (!stopping && next < ca.nruns))) {
		uint64_t poll_start, t;

		/* signals first: nothing starts after one (also during the load) */
		if (sig_count > handled_sigs) {
			handled_sigs = sig_count;
			if (!stop_sig) {
				stop_sig = sig_last;
				if (!stop_ns)
					stop_ns = mono_ns();
				stopping = true;
				fprintf(stderr, "%smemtrace-bpf campaign: signal %d: stopping; %d run%s in "
					"progress will be redone when you run the same command again\n",
					tty ? "\r\033[K" : "", stop_sig, nactive, nactive == 1 ? "" : "s");
				/* the runs are process groups of their own: the
				 * terminal's Ctrl-C does not reach them, we pass it */
				signal_runs(stop_sig);
			} else {
				fprintf(stderr, "memtrace-bpf campaign: second signal: killing the runs\n");
				signal_runs(SIGKILL);
			}
		}
		/* start runs up to --jobs */
		while (!stopping && nactive < (int)ca.jobs && next < ca.nruns) {
			struct crun *r = &ca.runs[next];

			if (r->done) {
				next++;
				continue;
			}
			e = start_run(r, tracer);
			if (e > 0) {
				if (!waiting_said && !nactive)
					fprintf(stderr, "memtrace-bpf campaign: waiting: processes left behind "
						"by earlier runs hold every trace group\n");
				waiting_said = true;
				break;
			}
			next++;
			if (e < 0) {
				fatal = stopping = true;
				break;
			}
		}
		poll_start = mono_ns();
		e = tracer__poll(tracer, 10, false, dispatch, NULL);
		if (e) {
			fprintf(stderr, "memtrace-bpf campaign: reading events failed: %s\n", strerror(-e));
			fatal = stopping = true;
		}
		for (int i = 0; i < nactive; i++) {
			struct run *x = &active[i]->run;

			if (!x->files_open)
				continue;
			session__flush(&x->sess);
			if (x->sess.err && !fatal) {
				fprintf(stderr, "memtrace-bpf campaign: writing %s failed: %s; stopping\n",
					x->spec.csv_path, strerror(x->sess.err));
				fatal = stopping = true;
				if (!stop_ns)
					stop_ns = mono_ns();
				signal_runs(SIGTERM);
			}
		}
		t = mono_ns();
		for (int i = 0; i < nactive; i++) {
			struct active *a = active[i];

			if (!a->reaped && run__reap(&a->run)) {
				/* now, not t: it may have exited after t was read */
				a->reaped = true;
				a->reaped_ns = mono_ns();
			}
			/* finished once a drain that began 3 ms after its exit is
			 * done: the poll hands on everything older than 2 ms */
			if (a->reaped && poll_start > a->reaped_ns + 3000000ULL) {
				active[i] = active[--nactive];
				i--;
				e = finish_run(a, tracer, stop_ns && stop_ns <= a->reaped_ns, &pg);
				if (e)
					fatal = stopping = true;
			}
		}
		if (!ca.quiet && tty && t >= next_progress) {
			char el[32], eta[32] = "?";
			size_t left = pg.total - pg.ndone;

			if (pg.ndur)
				format_duration((uint64_t)(pg.dur_sum / pg.ndur * (double)left /
							   (double)ca.jobs * 1e9), eta, sizeof(eta));
			fprintf(stderr, "\r\033[K  run %zu of %zu, %d running, elapsed %s, ETA %s",
				pg.ndone + (size_t)(nactive ? 1 : 0), pg.total, nactive,
				format_duration(t - camp_start, el, sizeof(el)), eta);
			fflush(stderr);
			next_progress = t + 250000000ULL;
		}
	}
	if (!ca.quiet && tty)
		fprintf(stderr, "\r\033[K");
	tracer__destroy(tracer);
	if (write_report(ca.dir, !ca.quiet, false, &nfailed)) {
		fatal = true;
	} else if (!ca.quiet) {
		fprintf(stderr, "memtrace-bpf campaign: %zu of %zu runs finished; %s/campaign.csv, "
			"stats.csv, stats.json\n", pg.ndone, pg.total, ca.dir);
	}
	if (fatal)
		ret = EXIT_TRACE_ERR;
	else if (stop_sig)
		ret = 128 + stop_sig;
	else if (nfailed)
		ret = EXIT_RUNS_FAILED;
	free(plan_text);
	return ret;
}
