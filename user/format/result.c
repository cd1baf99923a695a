// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "format/result.h"

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
		int e = -errno;

		snprintf(err, errlen, "%s: %s", path, strerror(-e));
		return e;
	}
	if (!fgets(line, sizeof(line), fp) || strncmp(line, RESULT_HEADER, strlen(RESULT_HEADER)) ||
	    !fgets(line, sizeof(line), fp)) {
		fclose(fp);
		snprintf(err, errlen, "%s: not a memtrace-bpf result file (header %s)", path,
			 RESULT_HEADER);
		return -EINVAL;
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
		return -EINVAL;
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
