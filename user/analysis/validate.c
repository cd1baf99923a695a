// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "lib/grow.h"
#include "format/text.h"
#include "lib/units.h"
#include "analysis/validate.h"

void validation__init(struct validation *v, const struct v_cfg *cfg)
{
	memset(v, 0, sizeof(*v));
	v->cfg = *cfg;
	v->worst_error = v->worst_excess = v->worst_tail = v->app_peak_rep = -1;
	v->peak_trusted = -1;
}

/* Do the n bytes at p speak of a peak? */
static bool says_peak(const char *p, size_t n)
{
	static const char *words[] = { "peak", "max", "hwm", "high" };

	for (size_t k = 0; k < n; k++)
		for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strlen(words[i]) <= n - k && !strncasecmp(p + k, words[i], strlen(words[i])))
				return true;
	return false;
}

bool line_says_peak(const char *line)
{
	return says_peak(line, strlen(line));
}

/* Where one field of a line ends: "Memory: 13 MB | Peak: 63 MB". */
static bool is_sep(char c)
{
	return c && strchr("|,;{}", c);
}

/* A letter of a word (any byte of a UTF-8 character beyond ASCII counts). */
static bool is_letter(char c)
{
	return isalpha((unsigned char)c) || (unsigned char)c >= 0x80;
}

static bool has_letter(const char *p, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (is_letter(p[k]))
			return true;
	return false;
}

/* The start of the label before line[pos]: back over words and whole
 * bracketed parts to a separator, an opening bracket or a number; the unit
 * right after that number is not part of it ("13 MB Peak: 63 MB"). */
static size_t label_start(const char *line, size_t pos)
{
	size_t i = pos, w;

	while (i > 0) {
		char c = line[i - 1];

		if (c == ')' || c == ']') {
			char open = c == ')' ? '(' : '[';
			size_t j = i - 1;
			int depth = 0;

			while (j > 0 && !(line[j - 1] == open && depth == 0)) {
				depth += line[j - 1] == c;
				depth -= line[j - 1] == open;
				j--;
			}
			if (j == 0)
				break;	/* no opening one: a separator */
			i = j - 1;
			continue;
		}
		if (is_sep(c) || c == '(' || c == '[' || isdigit((unsigned char)c))
			break;
		i--;
	}
	if (i > 0 && isdigit((unsigned char)line[i - 1])) {
		char unit[16];
		int64_t kb;

		for (w = i; line[w] == ' '; w++)
			;
		while (is_letter(line[w]) && w - i < 8)
			w++;
		snprintf(unit, sizeof(unit), "1%.*s", (int)(w - i), line + i);
		if (w > i && !parse_reported_kb(unit, false, &kb))
			i = w;
	}
	return i;
}

/* The end of the label after line[pos]: forward over words and whole
 * bracketed parts to a separator, a closing bracket or a number. */
static size_t label_end(const char *line, size_t pos)
{
	size_t i = pos;

	while (line[i]) {
		char c = line[i];

		if (c == '(' || c == '[') {
			const char *close = strchr(line + i, c == '(' ? ')' : ']');

			if (!close)
				break;
			i = (size_t)(close - line) + 1;
			continue;
		}
		if (is_sep(c) || c == ')' || c == ']' || isdigit((unsigned char)c))
			break;
		i++;
	}
	return i;
}

enum v_compare value_compare(const char *line, const char *value, char *label, size_t len,
			     enum v_basis *basis)
{
	const char *at = value[0] ? strstr(line, value) : NULL;
	size_t a, b;

	if (len)
		label[0] = 0;
	*basis = V_BASIS_LINE;
	if (!at)
		return line_says_peak(line) ? V_CMP_PEAK : V_CMP_RSS;
	b = (size_t)(at - line);
	a = label_start(line, b);
	if (!has_letter(line + a, b - a)) {
		a = b + strlen(value);
		b = label_end(line, a);
		if (!has_letter(line + a, b - a))
			return line_says_peak(line) ? V_CMP_PEAK : V_CMP_RSS;
	}
	*basis = V_BASIS_LABEL;
	while (a < b && isspace((unsigned char)line[a]))
		a++;
	while (b > a && isspace((unsigned char)line[b - 1]))
		b--;
	if (len)	/* cut at a character, not inside one */
		snprintf(label, len, "%.*s", utf8_cut(line + a, b - a < len - 1 ? b - a : len - 1),
			 line + a);
	return says_peak(line + a, b - a) ? V_CMP_PEAK : V_CMP_RSS;
}

static struct v_proc *proc_of(struct validation *v, pid_t pid)
{
	struct v_proc *p;
	long i = idmap__get(&v->pidx, pid);

	if (i >= 0)
		return &v->procs[i];
	if (grow(&v->procs, &v->procs_cap, v->nprocs, sizeof(*v->procs), 8) ||
	    idmap__put(&v->pidx, pid, v->nprocs))
		return NULL;
	p = &v->procs[v->nprocs++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->order = v->nseen++;
	p->last_cp = -1;
	p->max_since_kb = -1;
	p->peak_kb = -1;
	return p;
}

static int add_reported(struct validation *v, uint64_t line, uint64_t ts, struct v_proc *p,
			const char *log, const char *text)
{
	struct v_reported *r;
	int e;

	if (grow(&v->rep, &v->rep_cap, v->nrep, sizeof(*v->rep), 16))
		return -ENOMEM;
	r = &v->rep[v->nrep];
	memset(r, 0, sizeof(*r));
	r->ts_ns = ts;
	r->line = line;
	r->text = strdup(text);
	r->log = strdup(log);
	if (!r->text || !r->log) {
		free(r->text);
		free(r->log);
		return -ENOMEM;
	}
	e = parse_reported_kb(text, v->cfg.si, &r->kb);
	if (e) {
		r->kb = -1;
		v->unknown_units++;
	}
	/* The rule: a value printed was measured at the application's last
	 * reading before the line: the latest checkpoint at or before the
	 * log row of the process that wrote it, else (no checkpoint of its
	 * own, or the writer not known) of any traced process. */
	r->cp = p->last_cp >= 0 ? p->last_cp : v->ncps ? (int)v->ncps - 1 : -1;
	if (v->cfg.compare != V_CMP_AUTO) {
		r->cmp = v->cfg.compare;
		r->basis = V_BASIS_OPTION;
	} else {
		/* the value's own label ("Peak:"), not a word elsewhere in the
		 * line: "Memory: 13 MB | Images: 20 | Peak: 63 MB" */
		r->cmp = value_compare(log, text, r->label, sizeof(r->label), &r->basis);
	}
	if (r->cp >= 0) {
		struct v_checkpoint *c = &v->cps[r->cp];

		r->ref_kb = r->cmp == V_CMP_PEAK ? c->peak_so_far_kb : c->exact_kb;
		if (c->first_reported < 0)
			c->first_reported = (int)v->nrep;
		c->nreported++;
	} else {
		/* nothing measured before it: compare with the state then */
		r->ref_kb = r->cmp == V_CMP_PEAK ? p->peak_kb : p->cur_kb;
	}
	if (r->ref_kb < 0)
		r->ref_kb = 0;
	r->diff_kb = r->kb >= 0 ? r->kb - r->ref_kb : 0;
	v->nrep++;
	return 0;
}

/* What came after p's last checkpoint (it has one), and whether it holds
 * the true peak so far. */
static int add_tail(struct validation *v, const struct v_proc *p)
{
	struct v_tail *t;

	if (grow(&v->tails, &v->tails_cap, v->ntails, sizeof(*v->tails), 16))
		return -ENOMEM;
	t = &v->tails[v->ntails++];
	t->pid = p->pid;
	t->order = p->order;
	t->last_exact_kb = v->cps[p->last_cp].exact_kb;
	t->max_kb = p->max_since_kb;
	t->max_ts_ns = p->max_since_ts_ns;
	t->excess_kb = t->max_kb > t->last_exact_kb ? t->max_kb - t->last_exact_kb : 0;
	if (p->peak_kb > v->true_peak_kb) {
		v->true_peak_kb = p->peak_kb;
		v->true_peak_ts_ns = p->peak_ts_ns;
		v->true_peak_pid = p->pid;
	}
	return 0;
}

/* p's last row (its exit): its tail, if it has checkpoints, and its state
 * goes (a PID seen again is another process). */
static int proc_end(struct validation *v, struct v_proc *p)
{
	size_t slot = (size_t)(p - v->procs);
	int e = p->last_cp >= 0 ? add_tail(v, p) : 0;

	idmap__del(&v->pidx, p->pid);
	if (slot != v->nprocs - 1) {
		*p = v->procs[v->nprocs - 1];
		idmap__put(&v->pidx, p->pid, slot);
	}
	v->nprocs--;
	return e;
}

int validation__row(struct validation *v, uint64_t line, uint64_t ts_ns, pid_t pid,
		    int64_t vmrss_kb, const char *event, const char *cause,
		    const char *label, const char *reported)
{
	struct v_proc *p = proc_of(v, pid);
	struct v_checkpoint *c;

	if (!p)
		return -ENOMEM;
	if (!v->rows++)
		v->first_ts_ns = ts_ns;
	v->last_ts_ns = ts_ns;
	if (!strcmp(event, "log"))
		/* a copy of the process's state: only the reported value counts */
		return reported[0] ? add_reported(v, line, ts_ns, p, label, reported) : 0;
	p->cur_kb = vmrss_kb;
	if (vmrss_kb > p->peak_kb) {
		p->peak_kb = vmrss_kb;
		p->peak_ts_ns = ts_ns;
	}
	if (vmrss_kb > p->max_since_kb) {
		p->max_since_kb = vmrss_kb;
		p->max_since_ts_ns = ts_ns;
	}
	if (!strcmp(event, "mark"))
		snprintf(p->last_mark, sizeof(p->last_mark), "%s", label);
	if (!strcmp(event, "exit"))
		return proc_end(v, p);
	if (strcmp(event, "checkpoint"))
		return 0;
	if (grow(&v->cps, &v->cps_cap, v->ncps, sizeof(*v->cps), 16))
		return -ENOMEM;
	c = &v->cps[v->ncps];
	memset(c, 0, sizeof(*c));
	c->pid = pid;
	c->ts_ns = ts_ns;
	snprintf(c->source, sizeof(c->source), "%s", cause);
	memcpy(c->stage, p->last_mark, sizeof(c->stage));
	c->exact_kb = vmrss_kb;
	c->peak_so_far_kb = p->peak_kb;
	c->max_since_prev_kb = p->max_since_kb;
	c->max_since_prev_ts_ns = p->max_since_ts_ns;
	c->prev_exact_kb = p->last_cp >= 0 ? v->cps[p->last_cp].exact_kb : -1;
	c->prev_cp = p->last_cp;
	{
		int64_t seen = c->prev_exact_kb > c->exact_kb ? c->prev_exact_kb : c->exact_kb;

		c->excess_kb = c->max_since_prev_kb > seen ? c->max_since_prev_kb - seen : 0;
	}
	c->first_reported = -1;
	v->nprocs_cp += p->last_cp < 0;
	p->last_cp = (int)v->ncps++;
	p->max_since_kb = vmrss_kb;
	p->max_since_ts_ns = ts_ns;
	return 0;
}

static int cmp_order(const void *a, const void *b)
{
	const struct v_tail *x = a, *y = b;

	return x->order < y->order ? -1 : x->order > y->order;
}

void validation__finish(struct validation *v)
{
	int64_t worst = -1;

	/* after each process's last checkpoint: those that exited have
	 * theirs; the others end here; all in the order of the trace */
	for (size_t i = 0; i < v->nprocs; i++)
		if (v->procs[i].last_cp >= 0 && add_tail(v, &v->procs[i]))
			break;
	if (v->ntails)
		qsort(v->tails, v->ntails, sizeof(*v->tails), cmp_order);
	for (size_t i = 0; i < v->ntails; i++)
		if (v->tails[i].excess_kb > 0 &&
		    (v->worst_tail < 0 || v->tails[i].excess_kb > v->tails[v->worst_tail].excess_kb))
			v->worst_tail = (int)i;
	for (size_t i = 0; i < v->ncps; i++) {
		if (v->cps[i].exact_kb > v->checkpoint_max_kb)
			v->checkpoint_max_kb = v->cps[i].exact_kb;
		if (v->cps[i].excess_kb > 0 &&
		    (v->worst_excess < 0 || v->cps[i].excess_kb > v->cps[v->worst_excess].excess_kb))
			v->worst_excess = (int)i;
	}
	for (size_t i = 0; i < v->nrep; i++) {
		struct v_reported *r = &v->rep[i];
		int64_t a = r->diff_kb < 0 ? -r->diff_kb : r->diff_kb;

		if (r->kb < 0)
			continue;
		if (a > worst) {
			worst = a;
			v->worst_error = (int)i;
		}
	}
	/* The application's peak figure: its largest value that speaks of a
	 * peak, else its largest value at all. */
	for (int pass = 0; pass < 2 && v->app_peak_rep < 0; pass++) {
		for (size_t i = 0; i < v->nrep; i++) {
			struct v_reported *r = &v->rep[i];

			if (r->kb < 0 || (pass == 0 && r->cmp != V_CMP_PEAK))
				continue;
			if (v->app_peak_rep < 0 || r->kb > v->app_peak_kb) {
				v->app_peak_rep = (int)i;
				v->app_peak_kb = r->kb;
			}
		}
	}
	if (v->app_peak_rep >= 0 && v->true_peak_kb > 0) {
		int64_t tol = v->cfg.tol_kb > 0 ? v->cfg.tol_kb :
			      (int64_t)((double)v->true_peak_kb * v->cfg.tol_pct / 100.0);
		int64_t d = v->app_peak_kb - v->true_peak_kb;

		v->peak_trusted = (d < 0 ? -d : d) <= tol;
	}
}

void validation__free(struct validation *v)
{
	for (size_t i = 0; i < v->nrep; i++) {
		free(v->rep[i].text);
		free(v->rep[i].log);
	}
	free(v->rep);
	free(v->cps);
	free(v->procs);
	idmap__free(&v->pidx);
	free(v->tails);
	memset(v, 0, sizeof(*v));
}
