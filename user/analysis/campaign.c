// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/campaign.h"
#include "lib/grow.h"

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
	int ret = -1;

	*out = NULL;
	if (!cur) {
		snprintf(err, errlen, "out of memory");
		return -1;
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

int result_format(char *buf, size_t len, const struct run_result *r)
{
	int n = snprintf(buf, len, "%d,%s,%d,%d,%s,%llu,%.9f,%.9f,%llu,%llu,%llu,%lld,%s,%llu\n",
			 r->index, r->config, r->repeat, r->exit_code, r->status,
			 (unsigned long long)r->peak_rss_kb, r->peak_time_s, r->duration_s,
			 (unsigned long long)r->spikes, (unsigned long long)r->lost_events,
			 (unsigned long long)r->events, (long long)r->rusage_maxrss_kb,
			 r->start_time, (unsigned long long)r->untraced);

	return n < 0 || (size_t)n >= len ? -1 : n;
}

/* Strict field parsers: the whole field, nothing left over. */
static int field_ll(const char *s, long long *v)
{
	char *end;

	errno = 0;
	*v = strtoll(s, &end, 10);
	return errno || end == s || *end ? -1 : 0;
}

static int field_d(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	return errno || end == s || *end ? -1 : 0;
}

int result_read(const char *path, struct run_result *r, char *err, size_t errlen)
{
	char line[2048], *f[16], *p;
	long long v[9];
	int nf = 0;
	FILE *fp = fopen(path, "r");

	memset(r, 0, sizeof(*r));
	if (!fp) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!fgets(line, sizeof(line), fp) || strncmp(line, RESULT_HEADER, strlen(RESULT_HEADER)) ||
	    !fgets(line, sizeof(line), fp)) {
		fclose(fp);
		snprintf(err, errlen, "%s: not a memtrace-bpf result file (header %s)", path,
			 RESULT_HEADER);
		return -1;
	}
	fclose(fp);
	line[strcspn(line, "\r\n")] = 0;
	/* strsep: an empty field is a field (start_time may be empty) */
	for (p = line; p && nf < 16;)
		f[nf++] = strsep(&p, ",");
	if (nf != 14 || field_ll(f[13], &v[8]) || field_ll(f[0], &v[0]) || field_ll(f[2], &v[1]) || field_ll(f[3], &v[2]) ||
	    field_ll(f[5], &v[3]) || field_d(f[6], &r->peak_time_s) ||
	    field_d(f[7], &r->duration_s) || field_ll(f[8], &v[4]) || field_ll(f[9], &v[5]) ||
	    field_ll(f[10], &v[6]) || field_ll(f[11], &v[7]) || strlen(f[1]) >= sizeof(r->config) ||
	    strlen(f[4]) >= sizeof(r->status) || strlen(f[12]) >= sizeof(r->start_time)) {
		snprintf(err, errlen, "%s:2: malformed result row (expected %s)", path, RESULT_HEADER);
		return -1;
	}
	r->index = (int)v[0];
	snprintf(r->config, sizeof(r->config), "%s", f[1]);
	r->repeat = (int)v[1];
	r->exit_code = (int)v[2];
	snprintf(r->status, sizeof(r->status), "%s", f[4]);
	r->peak_rss_kb = (uint64_t)v[3];
	r->spikes = (uint64_t)v[4];
	r->lost_events = (uint64_t)v[5];
	r->events = (uint64_t)v[6];
	r->rusage_maxrss_kb = v[7];
	snprintf(r->start_time, sizeof(r->start_time), "%s", f[12]);
	r->untraced = (uint64_t)v[8];
	return 0;
}

void stats_of(const double *v, int n, double *mean, double *std, double *cv,
	      double *min, double *max)
{
	double sum = 0, ss = 0;

	*mean = *std = *cv = *min = *max = 0;
	if (n <= 0)
		return;
	*min = *max = v[0];
	for (int i = 0; i < n; i++) {
		sum += v[i];
		if (v[i] < *min)
			*min = v[i];
		if (v[i] > *max)
			*max = v[i];
	}
	*mean = sum / n;
	for (int i = 0; i < n; i++)
		ss += (v[i] - *mean) * (v[i] - *mean);
	*std = n > 1 ? sqrt(ss / (n - 1)) : 0;
	*cv = *mean != 0 ? 100.0 * *std / *mean : 0;
}

int stats_by_config(const struct run_result *res, int n, struct config_stats **out)
{
	struct config_stats *st = calloc((size_t)n + 1, sizeof(*st));
	double *peaks = malloc(((size_t)n + 1) * sizeof(double));
	double *durs = malloc(((size_t)n + 1) * sizeof(double));
	int nst = 0;

	*out = NULL;
	if (!st || !peaks || !durs) {
		free(st);
		free(peaks);
		free(durs);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		int k, m = 0;

		for (k = 0; k < nst; k++)
			if (!strcmp(st[k].config, res[i].config))
				break;
		if (k < nst)
			continue;	/* done with the config's first row */
		snprintf(st[nst].config, sizeof(st[nst].config), "%s", res[i].config);
		for (int j = i; j < n; j++) {
			if (strcmp(res[j].config, res[i].config))
				continue;
			if (res[j].exit_code != 0) {
				st[nst].failed++;
				continue;
			}
			peaks[m] = (double)res[j].peak_rss_kb;
			durs[m] = res[j].duration_s;
			m++;
		}
		st[nst].runs = m;
		stats_of(peaks, m, &st[nst].mean_peak_kb, &st[nst].std_peak_kb, &st[nst].cv_peak_pct,
			 &st[nst].min_peak_kb, &st[nst].max_peak_kb);
		stats_of(durs, m, &st[nst].mean_dur_s, &st[nst].std_dur_s, &st[nst].cv_dur_pct,
			 &st[nst].min_dur_s, &st[nst].max_dur_s);
		nst++;
	}
	free(peaks);
	free(durs);
	*out = st;
	return nst;
}
