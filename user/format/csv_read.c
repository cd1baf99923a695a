// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "format/csv.h"
#include "format/jsonl.h"
#include "lib/zstream.h"

/* The read buffer: one allocation, never grown (a line is at most
 * CSV_MAX_LINE, and one always fits with its NUL). */
#ifndef CSV_READ_BUF
#define CSV_READ_BUF (1 << 20)
#endif
_Static_assert(CSV_READ_BUF >= CSV_MAX_LINE + 2, "the read buffer holds a longest line");
/* time_s, as ns, stays below 2^63 as a ts_ns does: 9.2e9 s, 291 years */
#define MAX_TIME_S 9.2e9

static int too_long(struct csv_reader *r)
{
	snprintf(r->err, sizeof(r->err), "%s:%llu: a line longer than %d KiB: not a trace row "
		 "(memtrace-bpf writes rows under 4 KiB; a binary file, or lines not ended by "
		 "newlines?)", r->path, (unsigned long long)r->line + 1, CSV_MAX_LINE >> 10);
	return -EINVAL;
}

/* Next line, without its newline, NUL-terminated in place, in *out.
 * 1: a line; 0: end of file; -errno: error (err set). Never allocates. */
static int next_line(struct csv_reader *r, char **out, size_t *n)
{
	for (;;) {
		char *start = r->buf + r->pos, *nl, *nul;
		size_t avail = r->len - r->pos, len;
		ssize_t got;

		nl = memchr(start, '\n', avail);
		if (!nl && r->eof && avail && r->z && zdec__truncated(r->z)) {
			/* the part of a row a killed writer's last frame
			 * holds: not a row */
			r->pos = r->len;
			return 0;
		}
		if (nl || (r->eof && avail)) {
			/* a line, or a last line without newline */
			len = nl ? (size_t)(nl - start) : avail;
			if (len > CSV_MAX_LINE)
				return too_long(r);
			r->line++;
			start[len] = 0;		/* the newline, or the byte past the data */
			r->pos += len + (nl ? 1 : 0);
			nul = memchr(start, 0, len);
			if (nul) {
				snprintf(r->err, sizeof(r->err), "%s:%llu: a NUL byte (byte %zu of the "
					 "line): not a text CSV file", r->path,
					 (unsigned long long)r->line, (size_t)(nul - start) + 1);
				return -EINVAL;
			}
			*out = start;
			*n = len;
			return 1;
		}
		if (r->eof)
			return 0;
		if (avail > CSV_MAX_LINE)
			return too_long(r);
		memmove(r->buf, start, avail);
		r->len = avail;
		r->pos = 0;
		/* room for at least one byte and the NUL: avail <= CSV_MAX_LINE */
		if (r->z) {
			got = zdec__read(r->z, r->buf + r->len, r->cap - r->len - 1);
			if (got < 0) {
				snprintf(r->err, sizeof(r->err), "%s: %s", r->path,
					 zdec__error(r->z));
				return (int)got;
			}
		} else {
			got = read(r->fd, r->buf + r->len, r->cap - r->len - 1);
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0) {
				int e = -errno;

				snprintf(r->err, sizeof(r->err), "%s: read failed: %s", r->path,
					 strerror(-e));
				return e;
			}
		}
		if (got == 0)
			r->eof = true;
		r->len += (size_t)got;
	}
}

/* Splits on commas, honouring "quoted, fields" (RFC 4180). */
static int split(char *line, char **f, int max)
{
	int n = 0;
	char *p = line;

	for (;;) {
		if (n == max)
			return -1;
		if (*p == '"') {
			char *w = ++p;

			f[n++] = w;
			for (;;) {
				if (!*p)
					return -1;	/* unterminated quote */
				if (*p == '"' && p[1] == '"') {
					*w++ = '"';
					p += 2;
				} else if (*p == '"') {
					p++;
					break;
				} else {
					*w++ = *p++;
				}
			}
			*w = 0;
			if (*p == ',') {
				p++;
				continue;
			}
			return *p ? -1 : n;
		}
		f[n++] = p;
		/* fields are a few bytes: a loop beats a strchr() call each */
		while (*p && *p != ',')
			p++;
		if (!*p)
			return n;
		*p++ = 0;
	}
}

/* The columns the reader uses, found by name in the header. */
static const char *const column_names[] = { "ts_ns", "time_s", "pid", "vmrss_kb", "event",
					    "cause", "label", "reported", "vmsize_kb",
					    "total_rss_kb", "rss_anon_kb", "rss_file_kb",
					    "rss_shmem_kb", "swap_kb", "len", "ret",
					    "reported_kb", "tid" };
#define NCOLUMNS (sizeof(column_names) / sizeof(column_names[0]))

/* The reader's column indexes, by column_names' order. */
static void column_ptrs(struct csv_reader *r, int *at[NCOLUMNS])
{
	int *const p[NCOLUMNS] = { &r->c_ts, &r->c_time, &r->c_pid, &r->c_rss, &r->c_event,
				   &r->c_cause, &r->c_label, &r->c_reported, &r->c_vmsize,
				   &r->c_total, &r->c_anon, &r->c_file, &r->c_shmem, &r->c_swap,
				   &r->c_len, &r->c_ret, &r->c_reported_kb, &r->c_tid };

	memcpy(at, p, sizeof(p));
}

/* Where the columns the reader uses are among the names (-1: absent). */
static void find_columns(struct csv_reader *r, const char *const *names, int n)
{
	int *at[NCOLUMNS];

	column_ptrs(r, at);
	for (size_t k = 0; k < NCOLUMNS; k++)
		*at[k] = -1;
	for (int i = 0; i < n; i++)
		for (size_t k = 0; k < NCOLUMNS; k++)
			if (!strcmp(names[i], column_names[k]))
				*at[k] = i;
}

/* A zstd or gzip file (by its first bytes, whatever its name) is read
 * through a decompressor; the bytes read to tell stay the data's start. */
static int open_stream(struct csv_reader *r)
{
	unsigned char head[4];
	size_t n = 0;
	enum zformat f;
	int e;

	while (n < sizeof(head)) {
		ssize_t got = read(r->fd, head + n, sizeof(head) - n);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			e = -errno;
			snprintf(r->err, sizeof(r->err), "%s: read failed: %s", r->path,
				 strerror(-e));
			return e;
		}
		if (!got)
			break;
		n += (size_t)got;
	}
	f = zformat_of_magic(head, n);
	if (f == ZF_PLAIN) {
		memcpy(r->buf, head, n);
		r->len = n;
		r->eof = n < sizeof(head);
		return 0;
	}
	e = zdec__open(&r->z, r->fd, f, head, n);
	if (e)
		snprintf(r->err, sizeof(r->err), "%s: cannot start reading it as %s: %s", r->path,
			 f == ZF_ZSTD ? "zstd" : "gzip", strerror(-e));
	return e;
}

/* JSON Lines: the file's columns are the first object's keys, as a CSV's
 * header is, and the columns any row of ours may leave out (label, len...:
 * empty in a CSV, absent from an object). A later row without one reads it
 * as empty, as a CSV's empty field; a column that is neither is no column
 * (csvr__column says -1): jq's projection of a few keys reads as a CSV of
 * those. The line is the first row, read again by csvr__next (the buffer
 * holds it until then). 0 or -errno with err set. */
static int jsonl_columns(struct csv_reader *r, char *line, size_t n)
{
	uint64_t present;
	int e;

	if (n && line[n - 1] == '\r')
		line[--n] = 0;
	r->pend = line;
	r->pend_n = n;
	e = jsonl_reader_init(r);
	if (!e && (e = jsonl_split(r, line, n, &present)) > 0)
		e = 0;
	if (e)
		return e;
	present |= jsonl_sparse();
	for (int i = 0; i < r->ncols; i++)
		if (!(present >> i & 1))
			r->names[i] = "";
	find_columns(r, r->names, r->ncols);
	if (r->c_rss < 0 || (r->c_ts < 0 && r->c_time < 0)) {
		snprintf(r->err, sizeof(r->err), "%s:1: not a memory trace: its first object needs "
			 "vmrss_kb and ts_ns or time_s (a memtrace-bpf JSON Lines trace, or a "
			 "poller's {\"time_s\":..,\"vmrss_kb\":..})", r->path);
		return -EINVAL;
	}
	return 0;
}

int csvr__open(struct csv_reader *r, const char *path)
{
	char *line, *f[CSV_MAX_FIELDS], *h;
	size_t n;
	int nf, e;

	memset(r, 0, sizeof(*r));
	r->path = path;
	find_columns(r, NULL, 0);
	r->fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	if (r->fd < 0) {
		int e = -errno;

		snprintf(r->err, sizeof(r->err), "cannot open %s: %s", path, strerror(-e));
		return e;
	}
	r->cap = CSV_READ_BUF;
	r->buf = malloc(r->cap);
	if (!r->buf) {
		snprintf(r->err, sizeof(r->err), "%s: out of memory for a %zu KiB read buffer", path,
			 r->cap >> 10);
		return -ENOMEM;
	}
	e = open_stream(r);
	if (e)
		return e;
	e = next_line(r, &line, &n);
	if (e < 0)
		return e;
	if (!e && r->z && zdec__truncated(r->z)) {
		r->warned = true;
		snprintf(r->err, sizeof(r->err), "%s ends inside its first compressed frame, before "
			 "its header ends: nothing to read (a run killed as it started?)", path);
		return -EINVAL;
	}
	if (!e) {
		snprintf(r->err, sizeof(r->err), "%s is empty: expected a CSV header "
			 "(time_s,vmrss_kb,... as memtrace-bpf writes) or JSON Lines (an object "
			 "a row)", path);
		return -EINVAL;
	}
	if (n >= 3 && !memcmp(line, "\xef\xbb\xbf", 3)) {
		line += 3;	/* UTF-8 BOM */
		n -= 3;
	}
	if (*line == '{') {
		/* JSON Lines: the line is the first row, read by csvr__next
		 * (the buffer holds it until then) */
		return jsonl_columns(r, line, n);
	}
	nf = split(line, f, CSV_MAX_FIELDS);
	if (nf < 0) {
		snprintf(r->err, sizeof(r->err), "%s:1: cannot read the header", path);
		return -EINVAL;
	}
	for (int i = 0; i < nf; i++) {
		size_t l = strlen(f[i]);

		if (l && f[i][l - 1] == '\r')
			f[i][l - 1] = 0;
	}
	find_columns(r, (const char *const *)f, nf);
	r->ncols = nf;
	/* the names, kept for csvr__column: the line's buffer is reused */
	r->header = h = malloc(n + 1);
	if (!h) {
		snprintf(r->err, sizeof(r->err), "%s: out of memory for its header", path);
		return -ENOMEM;
	}
	for (int i = 0; i < nf; i++) {
		size_t l = strlen(f[i]);

		memcpy(h, f[i], l + 1);
		r->names[i] = h;
		h += l + 1;
	}
	if (r->c_rss < 0 || (r->c_ts < 0 && r->c_time < 0)) {
		snprintf(r->err, sizeof(r->err),
			 "%s:1: not a memory trace: the header needs vmrss_kb and ts_ns or time_s "
			 "(a memtrace-bpf CSV, or a poller's time_s,vmrss_kb)", path);
		return -EINVAL;
	}
	return 0;
}

static int bad(struct csv_reader *r, const char *col, const char *v, const char *what)
{
	snprintf(r->err, sizeof(r->err), "%s:%llu: column %s: '%.40s' is not %s", r->path,
		 (unsigned long long)r->line, col, v, what);
	return -EINVAL;
}

/* A whole field of decimal digits, with an optional '-', in range (what
 * strtoll() takes, without its locale and whitespace: every column of a
 * 10M-row trace goes through here). */
static bool parse_i64(const char *s, int64_t *out)
{
	bool neg = *s == '-';
	uint64_t v = 0, lim;

	s += neg;
	if (*s < '0' || *s > '9')
		return false;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned int d = (unsigned int)(*s - '0');

		if (v > (lim - d) / 10)
			return false;	/* out of range */
		v = v * 10 + d;
	}
	if (*s)
		return false;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

/* A compressed trace that ends inside a frame: what a run killed while
 * writing leaves. Its rows up to there are read; said once. */
static void warn_truncated(struct csv_reader *r)
{
	if (!r->z || !zdec__truncated(r->z) || r->warned)
		return;
	r->warned = true;
	if (r->prev_line)
		fprintf(stderr, "memtrace-bpf: warning: %s ends inside a compressed frame (a run "
			"killed while writing it?): read up to its last whole row, line %llu, at "
			"time_s %.6f\n", r->path, (unsigned long long)r->prev_line,
			(double)(r->prev_ts_ns - r->t0_ns) / 1e9);
	else
		fprintf(stderr, "memtrace-bpf: warning: %s ends inside a compressed frame (a run "
			"killed while writing it?), before its first row\n", r->path);
}

/* A row's time: ts_ns, else time_s. 0, or -EINVAL (said in r->err). */
static int row_time(struct csv_reader *r, char **f, uint64_t *ts)
{
	if (r->c_ts >= 0) {
		int64_t v;

		if (!parse_i64(f[r->c_ts], &v) || v < 0)
			return bad(r, "ts_ns", f[r->c_ts], "a time in ns");
		*ts = (uint64_t)v;
	} else {
		char *end;
		double t = strtod(f[r->c_time], &end);

		/* nan, inf and what does not fit in 2^63 ns (the cast would be
		 * undefined) are no time: !(t <= MAX) is true for a nan too */
		if (end == f[r->c_time] || *end || t < 0 || !(t <= MAX_TIME_S))
			return bad(r, "time_s", f[r->c_time], "a time in seconds");
		*ts = (uint64_t)(t * 1e9 + 0.5);
	}
	return 0;
}

/* A process or thread id in column col (-1: absent, 0). 0, or -EINVAL. */
static int parse_id(struct csv_reader *r, char **f, int col, const char *name, const char *what,
		    pid_t *out)
{
	int64_t v;

	*out = 0;
	if (col < 0)
		return 0;
	if (!parse_i64(f[col], &v) || v < 0 || v > 0x7fffffff)
		return bad(r, name, f[col], what);
	*out = (pid_t)v;
	return 0;
}

int csvr__next(struct csv_reader *r, struct csv_row *row)
{
	char *line, **f = r->fields;
	size_t n;
	int nf;

	do {
		int e = 1;

		if (r->pend) {
			line = r->pend;
			n = r->pend_n;
			r->pend = NULL;
		} else {
			e = next_line(r, &line, &n);
		}
		if (!e)
			warn_truncated(r);
		if (e <= 0)
			return e;
		if (n && line[n - 1] == '\r')
			line[--n] = 0;
	} while (!n);
	if (r->jsonl) {
		nf = jsonl_split(r, line, n, NULL);
		if (nf < 0)
			return nf;
	} else {
		nf = split(line, f, CSV_MAX_FIELDS);
	}
	if (nf != r->ncols) {
		snprintf(r->err, sizeof(r->err), "%s:%llu: %d fields where the header has %d "
			 "(a truncated or mixed file?)", r->path, (unsigned long long)r->line,
			 nf < 0 ? 0 : nf, r->ncols);
		return -EINVAL;
	}
	if (row_time(r, f, &row->ts_ns))
		return -EINVAL;
	/* Rows are in time order over the whole file, not per process: the
	 * writer sorts every drain of all CPUs' records by ts_ns and holds
	 * back the youngest 2 ms, so rows of different processes are in order
	 * too (README: the CSV). The analyses rely on it (a process's RSS at
	 * T, the tree's total at T, a log line paired with the latest
	 * checkpoint of any process before it); a file that goes back is two
	 * traces joined, or rows reordered. */
	if (r->prev_line && row->ts_ns < r->prev_ts_ns) {
		snprintf(r->err, sizeof(r->err), "%s:%llu: column %s: '%.40s' goes back in time, before "
			 "the previous row (line %llu); memtrace-bpf writes rows in time order (two "
			 "traces joined, or rows sorted by another column?)", r->path,
			 (unsigned long long)r->line, r->c_ts >= 0 ? "ts_ns" : "time_s",
			 f[r->c_ts >= 0 ? r->c_ts : r->c_time], (unsigned long long)r->prev_line);
		return -EINVAL;
	}
	r->prev_ts_ns = row->ts_ns;
	r->prev_line = r->line;
	if (!parse_i64(f[r->c_rss], &row->vmrss_kb) || row->vmrss_kb < 0)
		return bad(r, "vmrss_kb", f[r->c_rss], "a size in kB");
	row->vmsize_kb = row->total_rss_kb = -1;
	if (r->sizes && r->c_vmsize >= 0 &&
	    (!parse_i64(f[r->c_vmsize], &row->vmsize_kb) || row->vmsize_kb < 0))
		return bad(r, "vmsize_kb", f[r->c_vmsize], "a size in kB");
	if (r->sizes && r->c_total >= 0 &&
	    (!parse_i64(f[r->c_total], &row->total_rss_kb) || row->total_rss_kb < 0))
		return bad(r, "total_rss_kb", f[r->c_total], "a size in kB");
	row->anon_kb = row->file_kb = row->shmem_kb = row->swap_kb = -1;
	if (r->parts) {
		const struct { int col; int64_t *v; const char *name; } part[] = {
			{ r->c_anon, &row->anon_kb, "rss_anon_kb" },
			{ r->c_file, &row->file_kb, "rss_file_kb" },
			{ r->c_shmem, &row->shmem_kb, "rss_shmem_kb" },
			{ r->c_swap, &row->swap_kb, "swap_kb" },
		};

		for (size_t k = 0; k < sizeof(part) / sizeof(part[0]); k++)
			if (part[k].col >= 0 &&
			    (!parse_i64(f[part[k].col], part[k].v) || *part[k].v < 0))
				return bad(r, part[k].name, f[part[k].col], "a size in kB");
	}
	if (parse_id(r, f, r->c_pid, "pid", "a PID", &row->pid) ||
	    parse_id(r, f, r->c_tid, "tid", "a thread ID", &row->tid))
		return -EINVAL;
	if (!r->have_t0) {
		r->have_t0 = true;
		r->t0_ns = 0;
		if (r->c_ts >= 0 && r->c_time >= 0) {
			double t = strtod(f[r->c_time], NULL);

			/* false for nan and inf: time_s is only an offset here */
			if (t >= 0 && t * 1e9 <= (double)row->ts_ns)
				r->t0_ns = row->ts_ns - (uint64_t)(t * 1e9 + 0.5);
		}
	}
	row->event = r->c_event >= 0 ? f[r->c_event] : "";
	row->cause_text = r->c_cause >= 0 ? f[r->c_cause] : "";
	row->label = r->c_label >= 0 ? f[r->c_label] : "";
	row->reported = r->c_reported >= 0 ? f[r->c_reported] : "";
	row->len = r->c_len >= 0 ? f[r->c_len] : "";
	row->ret = r->c_ret >= 0 ? f[r->c_ret] : "";
	row->reported_kb = r->c_reported_kb >= 0 ? f[r->c_reported_kb] : "";
	/* back to what the kernel's record was (a row of ours); an event
	 * name we do not know reads as none */
	row->type = row->nr = 0;
	if (r->c_event >= 0)
		event_parse(row->event, &row->type, &row->nr);
	row->cause = 0;
	if (row->type == MT_REC_RSS)
		row->cause = cause_parse(row->cause_text, &row->nr);
	return 1;
}

void csvr__close(struct csv_reader *r)
{
	zdec__close(r->z);
	r->z = NULL;
	if (r->fd > 2)
		close(r->fd);
	r->fd = -1;
	free(r->buf);
	r->buf = NULL;
	free(r->header);
	r->header = NULL;
	jsonl_reader_free(r);
	r->ncols = 0;
}

int csvr__column(const struct csv_reader *r, const char *name)
{
	for (int i = 0; i < r->ncols; i++)
		if (!strcmp(r->names[i], name))
			return i;
	return -1;
}

const char *csvr__field(const struct csv_reader *r, int col)
{
	return col >= 0 && col < r->ncols && r->fields[col] ? r->fields[col] : "";
}

int csvr__kb(struct csv_reader *r, int col, int64_t *kb)
{
	*kb = -1;
	if (col < 0 || col >= r->ncols)
		return 0;
	if (!parse_i64(r->fields[col], kb) || *kb < 0)
		return bad(r, r->names[col], r->fields[col], "a size in kB");
	return 0;
}
