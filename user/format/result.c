// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "format/result.h"

/* A figure that may be unknown (-1): empty. */
static const char *opt_kb(char *buf, size_t len, int64_t kb)
{
	if (kb < 0)
		return "";
	snprintf(buf, len, "%lld", (long long)kb);
	return buf;
}

int result_format(char *buf, size_t len, const struct run_result *r)
{
	char b[3][24];
	int n = snprintf(buf, len, "%d,%s,%d,%d,%s,%llu,%.9f,%.9f,%llu,%llu,%llu,%lld,%s,%llu,"
			 "%s,%s,%s\n",
			 r->index, r->config, r->repeat, r->exit_code, r->status,
			 (unsigned long long)r->peak_rss_kb, r->peak_time_s, r->duration_s,
			 (unsigned long long)r->spikes, (unsigned long long)r->lost_events,
			 (unsigned long long)r->events, (long long)r->rusage_maxrss_kb,
			 r->start_time, (unsigned long long)r->untraced,
			 opt_kb(b[0], sizeof(b[0]), r->baseline_kb),
			 opt_kb(b[1], sizeof(b[1]), r->peak_vmsize_kb),
			 opt_kb(b[2], sizeof(b[2]), r->peak_vmdata_kb));

	return n < 0 || (size_t)n >= len ? -1 : n;
}

/* Strict field parsers: the whole field, nothing left over, within
 * [lo, hi]; a double must be finite. */
static int field_ll(const char *s, long long *v, long long lo, long long hi)
{
	char *end;

	errno = 0;
	*v = strtoll(s, &end, 10);
	return errno || end == s || *end || *v < lo || *v > hi ? -1 : 0;
}

static int field_d(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	return errno || end == s || *end || !isfinite(*v) ? -1 : 0;
}

/* A row of ours is under 700 bytes: a config of at most 255, a start time
 * of at most 39, fifteen numbers. The file is read whole (header, one row)
 * into a buffer of twice this; a longer line is an error naming it, not a
 * line cut where fgets() stopped (which could shorten the last number). */
#define RESULT_MAX_LINE 1024

/* The file's bytes into buf (at most len - 1, NUL-terminated); *n. Only a
 * regular file is read: a FIFO (which would block), a device or a symbolic
 * link named result.csv is not what memtrace-bpf writes there. */
static int read_small(const char *path, char *buf, size_t len, size_t *n, char *err, size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC), e = 0;

	*n = 0;
	if (fd < 0) {
		e = -errno;
		if (e == -ELOOP)
			snprintf(err, errlen, "%s: a symbolic link, not read (a result file is a regular "
				 "file that memtrace-bpf writes)", path);
		else
			snprintf(err, errlen, "%s: %s", path, strerror(-e));
		return e;
	}
	if (fstat(fd, &st)) {
		e = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-e));
	} else if (!S_ISREG(st.st_mode)) {
		e = -EINVAL;
		snprintf(err, errlen, "%s: not a regular file (a %s), not read: a result file is a "
			 "regular file that memtrace-bpf writes", path,
			 S_ISFIFO(st.st_mode) ? "FIFO" : S_ISDIR(st.st_mode) ? "directory" :
			 S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "device" : "socket");
	}
	while (!e && *n < len - 1) {
		ssize_t got = read(fd, buf + *n, len - 1 - *n);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			e = -errno;
			snprintf(err, errlen, "%s: read failed: %s", path, strerror(-e));
		}
		if (got <= 0)
			break;
		*n += (size_t)got;
	}
	close(fd);
	buf[*n] = 0;
	return e;
}

/* An appended figure: empty (not known) or a size in kB. */
static int field_opt_kb(const char *s, int64_t *kb)
{
	long long v;

	if (!*s) {
		*kb = -1;
		return 0;
	}
	if (field_ll(s, &v, 0, LLONG_MAX))
		return -1;
	*kb = v;
	return 0;
}

/* Which header buf starts with (a CR before its newline is allowed):
 * the number of fields of its rows, 0 for none. */
static int header_fields(const char *buf, size_t *hl)
{
	static const struct {
		const char *header;
		int fields;
	} known[] = { { RESULT_HEADER, 17 }, { RESULT_HEADER_V1, 14 } };

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		*hl = strlen(known[i].header);
		if (!strncmp(buf, known[i].header, *hl) &&
		    (buf[*hl] == '\n' || !strncmp(buf + *hl, "\r\n", 2)))
			return known[i].fields;
	}
	return 0;
}

int result_read(const char *path, struct run_result *r, char *err, size_t errlen)
{
	char buf[2 * RESULT_MAX_LINE + 4], *line, *next, *f[20], *p, *nul;
	size_t n, hl, ll;
	long long v[9];
	int nf = 0, want, e;

	memset(r, 0, sizeof(*r));
	r->baseline_kb = r->peak_vmsize_kb = r->peak_vmdata_kb = -1;
	e = read_small(path, buf, sizeof(buf), &n, err, errlen);
	if (e)
		return e;
	nul = memchr(buf, 0, n);
	if (nul) {
		int lineno = 1;

		for (p = buf; p < nul; p++)
			lineno += *p == '\n';
		snprintf(err, errlen, "%s:%d: a NUL byte: not a memtrace-bpf result file", path, lineno);
		return -EINVAL;
	}
	/* the header, exactly: this version's or the first's */
	want = header_fields(buf, &hl);
	if (!want) {
		snprintf(err, errlen, "%s: not a memtrace-bpf result file (header %s)", path,
			 RESULT_HEADER);
		return -EINVAL;
	}
	line = strchr(buf, '\n') + 1;
	next = strchr(line, '\n');
	ll = next ? (size_t)(next - line) : strlen(line);
	if (ll > RESULT_MAX_LINE) {
		snprintf(err, errlen, "%s:2: a line longer than %d bytes: not a result row (expected %s)",
			 path, RESULT_MAX_LINE, RESULT_HEADER);
		return -EINVAL;
	}
	if (!ll) {
		snprintf(err, errlen, "%s: not a memtrace-bpf result file (header %s)", path,
			 RESULT_HEADER);
		return -EINVAL;
	}
	if (next && next[1]) {
		snprintf(err, errlen, "%s:3: more than one row: a result file holds one run", path);
		return -EINVAL;
	}
	line[ll] = 0;
	if (ll && line[ll - 1] == '\r')
		line[ll - 1] = 0;
	/* strsep: an empty field is a field (start_time may be empty) */
	for (p = line; p && nf < 20;)
		f[nf++] = strsep(&p, ",");
	if (nf != want || field_ll(f[13], &v[8], 0, LLONG_MAX) ||
	    (want > 14 && (field_opt_kb(f[14], &r->baseline_kb) ||
			   field_opt_kb(f[15], &r->peak_vmsize_kb) ||
			   field_opt_kb(f[16], &r->peak_vmdata_kb))) ||
	    field_ll(f[0], &v[0], 0, INT_MAX) || field_ll(f[2], &v[1], 0, INT_MAX) ||
	    field_ll(f[3], &v[2], INT_MIN, INT_MAX) || field_ll(f[5], &v[3], 0, LLONG_MAX) ||
	    field_d(f[6], &r->peak_time_s) || field_d(f[7], &r->duration_s) ||
	    field_ll(f[8], &v[4], 0, LLONG_MAX) || field_ll(f[9], &v[5], 0, LLONG_MAX) ||
	    field_ll(f[10], &v[6], 0, LLONG_MAX) || field_ll(f[11], &v[7], LLONG_MIN, LLONG_MAX) ||
	    strlen(f[1]) >= sizeof(r->config) || strlen(f[4]) >= sizeof(r->status) ||
	    strlen(f[12]) >= sizeof(r->start_time)) {
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
