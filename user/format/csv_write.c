// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "format/csv.h"
#include "format/jsonl.h"
#include "format/text.h"
#include "lib/waitstatus.h"

/* A text column: at most max bytes (first_line: up to the first newline),
 * CSV-quoted when it holds a comma or a quote, control characters as
 * spaces. Always valid UTF-8: a character cut at the limit is dropped, any
 * other invalid byte becomes U+FFFD. Writes at most 3 * max + 2 bytes.
 * Every text we write goes through here: a process name (kernel text, but
 * prctl can put anything in it), a mark's name, a log line. */
static char *put_text(char *p, const char *s, size_t max, bool first_line)
{
	size_t n = 0;
	bool quote;

	while (n < max && s[n] && !(first_line && s[n] == '\n'))
		n++;
	if (first_line && n && s[n - 1] == '\r')
		n--;
	quote = memchr(s, ',', n) || memchr(s, '"', n);
	if (quote)
		*p++ = '"';
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		int k = utf8_seq(s + i, n - i);

		/* ends in the middle of a character: a cut at max (or at
		 * max - 1: the kernel's 39-byte name in a 40-byte field),
		 * else the text's own broken end */
		if (k < 0 && n + 1 >= max)
			break;
		if (k <= 0) {
			memcpy(p, "\xef\xbf\xbd", 3);
			p += 3;
			i++;
			continue;
		}
		if (k > 1) {
			memcpy(p, s + i, (size_t)k);
			p += k;
			i += (size_t)k;
			continue;
		}
		if (c == '"')
			*p++ = '"';
		*p++ = c < 0x20 || c == 0x7f ? ' ' : (char)c;
		i++;
	}
	if (quote)
		*p++ = '"';
	return p;
}

static bool ret_is_address(const struct mt_rec *r)
{
	return r->nr == MT_NR_MMAP || r->nr == MT_NR_MREMAP || r->nr == MT_NR_BRK;
}

/*
 * Row building without printf: one row per page fault, hundreds of
 * thousands a second, on a CPU next to the traced one. Each put_* appends
 * to p and returns the new end; callers keep 128 bytes of headroom per
 * field, checked once per row.
 */
static char *put_u64(char *p, uint64_t v)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_i64(char *p, int64_t v)
{
	if (v < 0) {
		*p++ = '-';
		return put_u64(p, (uint64_t)0 - (uint64_t)v);
	}
	return put_u64(p, (uint64_t)v);
}

static char *put_hex(char *p, uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[16];
	int n = 0;

	*p++ = '0';
	*p++ = 'x';
	do {
		tmp[n++] = digits[v & 15];
		v >>= 4;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_str(char *p, const char *s)
{
	while (*s)
		*p++ = *s++;
	return p;
}

/* nanoseconds as seconds with 9 decimals */
static char *put_secs(char *p, int64_t ns)
{
	uint64_t a = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns, frac;

	if (ns < 0)
		*p++ = '-';
	p = put_u64(p, a / 1000000000ULL);
	*p++ = '.';
	frac = a % 1000000000ULL;
	for (uint64_t d = 100000000ULL; d; d /= 10) {
		*p++ = (char)('0' + frac / d);
		frac %= d;
	}
	return p;
}

/* The columns up to cause, without it: the same for every row type. */
static char *put_state(char *p, const struct mt_rec *r, const char *ev, uint64_t start_ns,
		       unsigned int page_kb)
{
	int64_t anon = r->pages[MT_ANON] * page_kb, file = r->pages[MT_FILE] * page_kb;
	int64_t shmem = r->pages[MT_SHMEM] * page_kb, swap = r->pages[MT_SWAP] * page_kb;

	p = put_secs(p, (int64_t)(r->ts_ns - start_ns));
	*p++ = ',';
	p = put_i64(p, anon + file + shmem);
	*p++ = ',';
	p = put_u64(p, (uint64_t)r->total_vm * page_kb);
	*p++ = ',';
	p = put_u64(p, r->ts_ns);
	*p++ = ',';
	p = put_u64(p, r->pid);
	*p++ = ',';
	p = put_u64(p, r->tid);
	*p++ = ',';
	p = put_str(p, ev);
	*p++ = ',';
	p = put_i64(p, anon);
	*p++ = ',';
	p = put_i64(p, file);
	*p++ = ',';
	p = put_i64(p, shmem);
	*p++ = ',';
	p = put_i64(p, swap);
	*p++ = ',';
	p = put_i64(p, (int64_t)r->tree_pages * page_kb);
	*p++ = ',';
	return p;
}

/* The columns after reported_kb, appended since (the first 17 are a
 * contract, later ones only ever appended), and the row's end: p is just
 * past reported_kb. Returns the row's length. */
static int put_end(char *buf, char *p, const struct mt_rec *r, unsigned int page_kb,
		   uint64_t folded)
{
	*p++ = ',';
	p = put_u64(p, (uint64_t)r->data_vm * page_kb);
	*p++ = ',';
	if (folded)
		p = put_u64(p, folded);
	*p++ = '\n';
	*p = 0;
	return (int)(p - buf);
}

int csv_format_log_row(char *buf, size_t len, const struct mt_rec *r, uint64_t start_ns,
		       unsigned int page_kb, const char *stream, const char *line,
		       const char *reported, int64_t reported_kb)
{
	char *p = buf;

	/* 1 KiB of line, 128 of value, each tripled at worst (U+FFFD for
	 * an invalid byte) */
	if (len < 3 * 1024 + 3 * 128 + 512)
		return -1;
	p = put_state(p, r, "log", start_ns, page_kb);
	p = put_str(p, stream);
	p = put_str(p, ",,,,,");
	p = put_text(p, line, 1024, true);
	*p++ = ',';
	p = put_text(p, reported, 128, true);
	*p++ = ',';
	if (reported_kb >= 0)
		p = put_i64(p, reported_kb);
	return put_end(buf, p, r, page_kb, 0);
}

/* cause,addr,ip of a change (RSS, GUARD, ALERT rows), without a comma
 * after them. */
static char *put_cause(char *p, const struct mt_rec *r)
{
	const char *sc;

	switch (r->cause) {
	case MT_CAUSE_FAULT:
		p = put_str(p, "fault,");
		p = put_hex(p, r->addr);
		*p++ = ',';
		return put_hex(p, r->ip);
	case MT_CAUSE_SYSCALL:
		p = put_str(p, "syscall:");
		sc = syscall_name(r->nr);
		p = sc ? put_str(p, sc) : put_u64(p, r->nr);
		*p++ = ',';
		p = put_hex(p, r->addr);
		return put_str(p, ",");
	case MT_CAUSE_SELF:
		return put_str(p, "self,,");
	default:
		return put_str(p, "other,,");
	}
}

int csv_format_row_folded(char *buf, size_t len, const struct mt_rec *r, uint64_t start_ns,
			  unsigned int page_kb, uint64_t folded)
{
	const char *ev = event_name(r->type, r->nr), *sc;
	char *p = buf;

	if (!ev || r->type == MT_REC_LOG || len < 512)
		return -1;
	p = put_state(p, r, ev, start_ns, page_kb);
	/* cause,addr,ip,len,ret */
	switch (r->type) {
	case MT_REC_RSS:
		p = put_cause(p, r);
		p = put_str(p, ",,");
		break;
	case MT_REC_GUARD:
	case MT_REC_ALERT:
		/* the change that crossed, the limit, the signal the kernel
		 * sent (0: none), and what was counted and its value */
		p = put_cause(p, r);
		*p++ = ',';
		p = put_u64(p, r->len * page_kb);
		*p++ = ',';
		p = put_u64(p, (uint64_t)r->ret);
		p = put_str(p, r->type == MT_REC_GUARD ? ",kill-at," : ",alert,");
		p = put_str(p, r->counted_flags & MT_GUARD_ANON ? "anon+shmem," : "rss,");
		p = put_i64(p, r->counted_pages * page_kb);
		return put_end(buf, p, r, page_kb, folded);
	case MT_REC_SYSCALL:
		*p++ = ',';
		p = put_hex(p, r->addr);
		p = put_str(p, ",,");
		if (r->nr != MT_NR_BRK)
			p = put_u64(p, r->len);
		*p++ = ',';
		if (r->ret < 0 && r->ret >= -4095)
			p = put_i64(p, r->ret);
		else if (ret_is_address(r))
			p = put_hex(p, (uint64_t)r->ret);
		else
			p = put_i64(p, r->ret);
		break;
	case MT_REC_CHECKPOINT:
		/* what was read, the fd (getrusage: who), bytes read */
		p = put_str(p, ckpt_kind_name(r->cause));
		*p++ = ',';
		/* an fd, or getrusage's who: both C ints */
		p = put_i64(p, (int32_t)r->addr);
		p = put_str(p, ",,,");
		p = put_i64(p, r->ret);
		p = put_str(p, ",,,");
		return put_end(buf, p, r, page_kb, folded);
	case MT_REC_MARK:
		/* source, fd, bytes written, then the name */
		p = put_str(p, r->cause == MT_MARK_USDT ? "usdt," : "fd,");
		if (r->cause != MT_MARK_USDT)
			p = put_i64(p, (int64_t)r->addr);
		p = put_str(p, ",,");
		if (r->cause != MT_MARK_USDT)
			p = put_u64(p, r->len);
		p = put_str(p, ",,");
		p = put_text(p, r->label, MT_LABEL_LEN, true);
		p = put_str(p, ",,");
		return put_end(buf, p, r, page_kb, folded);
	case MT_REC_MARK_FD_LOST:
		sc = syscall_name(r->nr);
		p = sc ? put_str(p, sc) : put_u64(p, r->nr);
		*p++ = ',';
		p = put_i64(p, (int64_t)r->addr);
		p = put_str(p, ",,,");
		p = put_i64(p, r->ret);
		p = put_str(p, ",,,");
		return put_end(buf, p, r, page_kb, folded);
	case MT_REC_LEAVE: {
		/* the new name, the parent, and why it left (a word per bit) */
		char why[48];

		p = put_text(p, r->comm, sizeof(r->comm), false);
		p = put_str(p, ",,,,");
		p = put_u64(p, r->ppid);
		*p++ = ',';
		p = put_str(p, leave_why_format((uint32_t)r->ret, why, sizeof(why)));
		p = put_str(p, ",,");
		return put_end(buf, p, r, page_kb, folded);
	}
	default: /* fork, exec, attach, exit: the comm, then the ret column */
		p = put_text(p, r->comm, sizeof(r->comm), false);
		p = put_str(p, ",,,,");
		if (r->type == MT_REC_EXIT)
			p = put_i64(p, exit_status_code((int)r->ret));
		else
			p = put_u64(p, r->ppid);
	}
	p = put_str(p, ",,,");
	return put_end(buf, p, r, page_kb, folded);
}

int csv_format_row(char *buf, size_t len, const struct mt_rec *r,
		   uint64_t start_ns, unsigned int page_kb)
{
	return csv_format_row_folded(buf, len, r, start_ns, page_kb, 0);
}

int csv_out__open(struct csv_out *o, int fd, bool owns_fd, enum zformat f, bool jsonl,
		  uint64_t start_ns, unsigned int page_kb)
{
	static const char header[] = CSV_HEADER "\n";
	int e;

	memset(o, 0, sizeof(*o));
	o->start_ns = start_ns;
	o->page_kb = page_kb;
	e = linebuf__init(&o->lb, fd, owns_fd);
	if (!e)
		e = linebuf__compress(&o->lb, f);
	o->jsonl = jsonl;
	if (!e && jsonl && !(o->jrow = malloc(JSONL_MAX_ROW)))
		e = -ENOMEM;
	if (e)
		return e;
	if (jsonl)
		return 0;
	return linebuf__append(&o->lb, header, sizeof(header) - 1);
}

static void append(struct csv_out *o, const char *row, size_t n)
{
	if (o->jsonl) {
		int k = o->jrow ? jsonl_from_csv_row(o->jrow, JSONL_MAX_ROW, row, n) : -1;

		if (k < 0)
			return;	/* cannot be: a row is under 4 KiB */
		row = o->jrow;
		n = (size_t)k;
	}
	o->rows++;
	if (linebuf__append(&o->lb, row, n) && !o->err)
		o->err = o->lb.err ? o->lb.err : ENOSPC;
}

int csv_out__record(struct csv_out *o, const struct mt_rec *r)
{
	return csv_out__record_folded(o, r, 0);
}

int csv_out__record_folded(struct csv_out *o, const struct mt_rec *r, uint64_t folded)
{
	char row[512];
	int n = csv_format_row_folded(row, sizeof(row), r, o->start_ns, o->page_kb, folded);

	if (n < 0)
		return -EINVAL;
	append(o, row, (size_t)n);
	return 0;
}

void csv_out__log(struct csv_out *o, const struct mt_rec *state, const char *stream,
		  const char *line, const char *reported, int64_t reported_kb)
{
	char row[4096];
	int n = csv_format_log_row(row, sizeof(row), state, o->start_ns, o->page_kb, stream, line,
				   reported, reported_kb);

	if (n >= 0)
		append(o, row, (size_t)n);
}

uint64_t csv_out__rows_written(const struct csv_out *o, char *t, size_t tlen)
{
	uint64_t lines = o->lb.lines_written;

	if (o->jsonl) {
		if (lines)
			jsonl_time_of(o->lb.last, t, tlen);
		else
			snprintf(t, tlen, "0");
		return lines;
	}
	/* a row's first column is its time_s */
	snprintf(t, tlen, "%.*s", lines > 1 ? (int)strcspn(o->lb.last, ",") : 1,
		 lines > 1 ? o->lb.last : "0");
	return lines > 1 ? lines - 1 : 0;	/* not the header */
}

int csv_out__flush(struct csv_out *o)
{
	int e = linebuf__flush(&o->lb);

	if (e && !o->err)
		o->err = -e;
	return e;
}

int csv_out__close(struct csv_out *o)
{
	int e = linebuf__close(&o->lb);

	free(o->jrow);
	o->jrow = NULL;
	if (e && !o->err)
		o->err = -e;
	return o->err ? -o->err : 0;
}
