// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "format/output.h"

const char *syscall_name(unsigned int nr)
{
	/* the syscalls that usually move RSS, x86_64 numbering */
	static const struct { unsigned int nr; const char *name; } tab[] = {
		{ 0, "read" }, { 1, "write" }, { 2, "open" }, { 3, "close" }, { 9, "mmap" }, { 10, "mprotect" },
		{ 11, "munmap" }, { 12, "brk" }, { 16, "ioctl" }, { 17, "pread64" },
		{ 19, "readv" }, { 25, "mremap" }, { 26, "msync" }, { 28, "madvise" }, { 33, "dup2" },
		{ 40, "sendfile" }, { 45, "recvfrom" }, { 47, "recvmsg" },
		{ 56, "clone" }, { 57, "fork" }, { 58, "vfork" }, { 59, "execve" },
		{ 60, "exit" }, { 62, "kill" }, { 98, "getrusage" }, { 149, "mlock" }, { 151, "mlockall" },
		{ 202, "futex" }, { 221, "fadvise64" }, { 231, "exit_group" },
		{ 237, "mbind" }, { 257, "openat" }, { 275, "splice" },
		{ 279, "move_pages" }, { 285, "fallocate" }, { 292, "dup3" }, { 295, "preadv" },
		{ 310, "process_vm_readv" }, { 311, "process_vm_writev" },
		{ 319, "memfd_create" }, { 322, "execveat" }, { 325, "mlock2" },
		{ 435, "clone3" }, { 436, "close_range" }, { 440, "process_madvise" },
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (tab[i].nr == nr)
			return tab[i].name;
	return NULL;
}

const char *rec_event_name(const struct mt_rec *r)
{
	switch (r->type) {
	case MT_REC_RSS:	return "rss";
	case MT_REC_FORK:	return "fork";
	case MT_REC_EXEC:	return "exec";
	case MT_REC_EXIT:	return "exit";
	case MT_REC_ATTACH:	return "attach";
	case MT_REC_CHECKPOINT:	return "checkpoint";
	case MT_REC_MARK:	return "mark";
	case MT_REC_MARK_FD_LOST: return "mark_fd_lost";
	case MT_REC_LOG:	return "log";
	case MT_REC_SYSCALL:
		switch (r->nr) {
		case MT_NR_MMAP:	return "mmap";
		case MT_NR_MUNMAP:	return "munmap";
		case MT_NR_BRK:		return "brk";
		case MT_NR_MREMAP:	return "mremap";
		case MT_NR_MADVISE:	return "madvise";
		}
		return "syscall";
	}
	return NULL;
}

const char *ckpt_kind_name(unsigned int kind)
{
	switch (kind) {
	case MT_CKPT_STATUS:		return "status";
	case MT_CKPT_STATM:		return "statm";
	case MT_CKPT_SMAPS_ROLLUP:	return "smaps_rollup";
	case MT_CKPT_GETRUSAGE:		return "getrusage";
	}
	return "unknown";
}

int exit_status_code(int st)
{
	if (st & 0x7f)
		return 128 + (st & 0x7f);
	return (st >> 8) & 0xff;
}

/* A comm is kernel-controlled text but may hold a comma, quote or newline:
 * quote it per RFC 4180 when needed. */
static int csv_field(char *buf, size_t len, const char *s, size_t max)
{
	size_t n = strnlen(s, max), o = 0;
	bool quote = strpbrk(s, ",\"\n\r") != NULL;

	if (quote && o < len)
		buf[o++] = '"';
	for (size_t i = 0; i < n && o + 2 < len; i++) {
		if (s[i] == '"')
			buf[o++] = '"';
		buf[o++] = s[i] == '\n' || s[i] == '\r' ? ' ' : s[i];
	}
	if (quote && o < len)
		buf[o++] = '"';
	if (o >= len)
		return -1;
	buf[o] = 0;
	return (int)o;
}

/* Text from a program (a mark's name, a log line) as one CSV field: up to
 * max bytes, cut at the first newline, other control characters as
 * spaces, quoted when it holds a comma or a quote. Returns the end. */
int utf8_seq(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned int c = s[0];
	int len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	for (int k = 1; k < len; k++) {
		unsigned int d;

		if ((size_t)k >= n)
			return -1;
		d = s[k];
		if ((d & 0xc0) != 0x80)
			return 0;
		/* overlong forms, surrogates, above U+10FFFF */
		if (k == 1 && ((c == 0xe0 && d < 0xa0) || (c == 0xed && d > 0x9f) ||
			       (c == 0xf0 && d < 0x90) || (c == 0xf4 && d > 0x8f)))
			return 0;
	}
	return len;
}

int utf8_cut(const char *s, size_t max)
{
	size_t n = strnlen(s, max), i = 0;

	while (i < n) {
		int k = utf8_seq(s + i, n - i);

		if (k < 0)
			break;
		i += k ? (size_t)k : 1;
	}
	return (int)i;
}

void put_col(FILE *f, const char *s, int width)
{
	size_t n = strlen(s), i = 0;
	int chars = 0;

	while (i < n && chars < width) {
		int k = utf8_seq(s + i, n - i);

		if (k <= 0)
			break;	/* (our CSVs hold valid UTF-8 only) */
		i += (size_t)k;
		chars++;
	}
	fwrite(s, 1, i, f);
	for (; chars < width; chars++)
		fputc(' ', f);
}

/* A text column: its first line, at most max bytes, CSV-quoted when it
 * holds a comma or a quote, control characters as spaces. Always valid
 * UTF-8: a character cut at the limit is dropped, any other invalid byte
 * becomes U+FFFD. Writes at most
 * 3 * max + 2 bytes. */
static char *put_text(char *p, const char *s, size_t max)
{
	size_t n = 0;
	bool quote;

	while (n < max && s[n] && s[n] != '\n')
		n++;
	if (n && s[n - 1] == '\r')
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

void rec_sort(struct mt_rec *r, size_t n)
{
	/* insertion sort: linear on nearly sorted input, and stable */
	for (size_t i = 1; i < n; i++) {
		struct mt_rec x;
		size_t j = i;

		if (r[i - 1].ts_ns <= r[i].ts_ns)
			continue;
		x = r[i];
		while (j > 0 && r[j - 1].ts_ns > x.ts_ns) {
			r[j] = r[j - 1];
			j--;
		}
		r[j] = x;
	}
}

size_t rec_ready(const struct mt_rec *r, size_t n, uint64_t cutoff_ns)
{
	size_t k = n;

	while (k > 0 && r[k - 1].ts_ns > cutoff_ns)
		k--;
	return k;
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
	p = put_text(p, line, 1024);
	*p++ = ',';
	p = put_text(p, reported, 128);
	*p++ = ',';
	if (reported_kb >= 0)
		p = put_i64(p, reported_kb);
	*p++ = '\n';
	*p = 0;
	return (int)(p - buf);
}

int csv_format_row(char *buf, size_t len, const struct mt_rec *r,
		   uint64_t start_ns, unsigned int page_kb)
{
	const char *ev = rec_event_name(r), *sc;
	char comm[2 * MT_COMM_LEN + 3], *p = buf;

	if (!ev || r->type == MT_REC_LOG || len < 512)
		return -1;
	p = put_state(p, r, ev, start_ns, page_kb);
	/* cause,addr,ip,len,ret */
	switch (r->type) {
	case MT_REC_RSS:
		switch (r->cause) {
		case MT_CAUSE_FAULT:
			p = put_str(p, "fault,");
			p = put_hex(p, r->addr);
			*p++ = ',';
			p = put_hex(p, r->ip);
			p = put_str(p, ",,");
			break;
		case MT_CAUSE_SYSCALL:
			p = put_str(p, "syscall:");
			sc = syscall_name(r->nr);
			p = sc ? put_str(p, sc) : put_u64(p, r->nr);
			*p++ = ',';
			p = put_hex(p, r->addr);
			p = put_str(p, ",,,");
			break;
		case MT_CAUSE_SELF:
			p = put_str(p, "self,,,,");
			break;
		default:
			p = put_str(p, "other,,,,");
		}
		break;
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
		p = put_str(p, ",,,\n");
		*p = 0;
		return (int)(p - buf);
	case MT_REC_MARK:
		/* source, fd, bytes written, then the name */
		p = put_str(p, r->cause == MT_MARK_USDT ? "usdt," : "fd,");
		if (r->cause != MT_MARK_USDT)
			p = put_i64(p, (int64_t)r->addr);
		p = put_str(p, ",,");
		if (r->cause != MT_MARK_USDT)
			p = put_u64(p, r->len);
		p = put_str(p, ",,");
		p = put_text(p, r->label, MT_LABEL_LEN);
		p = put_str(p, ",,\n");
		*p = 0;
		return (int)(p - buf);
	case MT_REC_MARK_FD_LOST:
		sc = syscall_name(r->nr);
		p = sc ? put_str(p, sc) : put_u64(p, r->nr);
		*p++ = ',';
		p = put_i64(p, (int64_t)r->addr);
		p = put_str(p, ",,,");
		p = put_i64(p, r->ret);
		p = put_str(p, ",,,\n");
		*p = 0;
		return (int)(p - buf);
	default: /* fork, exec, attach, exit: the comm, then the ret column */
		if (csv_field(comm, sizeof(comm), r->comm, sizeof(r->comm)) < 0)
			return -1;
		p = put_str(p, comm);
		p = put_str(p, ",,,,");
		if (r->type == MT_REC_EXIT)
			p = put_i64(p, exit_status_code((int)r->ret));
		else
			p = put_u64(p, r->ppid);
	}
	p = put_str(p, ",,,\n");
	*p = 0;
	return (int)(p - buf);
}

int linebuf__open(struct linebuf *lb, const char *path)
{
	memset(lb, 0, sizeof(*lb));
	if (!strcmp(path, "-")) {
		lb->fd = STDOUT_FILENO;
	} else {
		lb->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (lb->fd < 0)
			return -errno;
		lb->owns_fd = true;
	}
	lb->cap = 1 << 20;
	lb->buf = malloc(lb->cap);
	if (!lb->buf) {
		if (lb->owns_fd)
			close(lb->fd);
		return -ENOMEM;
	}
	return 0;
}

int linebuf__flush(struct linebuf *lb)
{
	size_t off = 0;

	while (off < lb->len && !lb->err) {
		ssize_t w = write(lb->fd, lb->buf + off, lb->len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			lb->err = w < 0 ? errno : EIO;
			break;
		}
		off += (size_t)w;
	}
	lb->len = 0;
	return lb->err ? -lb->err : 0;
}

int linebuf__append(struct linebuf *lb, const char *line, size_t n)
{
	if (lb->len + n > lb->cap && linebuf__flush(lb))
		return -lb->err;
	if (n > lb->cap)
		return -E2BIG;
	memcpy(lb->buf + lb->len, line, n);
	lb->len += n;
	lb->lines++;
	return 0;
}

int linebuf__close(struct linebuf *lb)
{
	int err;

	if (!lb->buf)
		return 0;
	err = linebuf__flush(lb);
	if (lb->owns_fd && close(lb->fd) && !err)
		err = -errno;
	free(lb->buf);
	lb->buf = NULL;
	return err;
}

void json_escape(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x80) {
			/* JSON is UTF-8: a valid character as it is, any
			 * other byte (a Latin-1 log line) as U+FFFD */
			int k = utf8_seq(s, strnlen(s, 4));

			if (k > 0) {
				fwrite(s, 1, (size_t)k, f);
				s += k - 1;
			} else {
				fputs("\\ufffd", f);
			}
		} else if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void jw_sep(struct jw *w, const char *key)
{
	if (w->need_comma[w->depth])
		fputc(',', w->f);
	w->need_comma[w->depth] = true;
	fputc('\n', w->f);
	for (int i = 0; i < w->depth; i++)
		fputs("  ", w->f);
	if (key) {
		json_escape(w->f, key);
		fputs(": ", w->f);
	}
}

void jw_begin(struct jw *w, FILE *f)
{
	memset(w, 0, sizeof(*w));
	w->f = f;
}

static void jw_open(struct jw *w, const char *key, char c)
{
	if (w->depth || w->need_comma[0])
		jw_sep(w, key);
	fputc(c, w->f);
	if (w->depth < 15)
		w->depth++;
	w->need_comma[w->depth] = false;
}

static void jw_close(struct jw *w, char c)
{
	bool had = w->need_comma[w->depth];

	w->depth--;
	if (had) {
		fputc('\n', w->f);
		for (int i = 0; i < w->depth; i++)
			fputs("  ", w->f);
	}
	fputc(c, w->f);
	if (!w->depth)
		fputc('\n', w->f);
}

void jw_obj(struct jw *w, const char *key) { jw_open(w, key, '{'); }
void jw_obj_end(struct jw *w) { jw_close(w, '}'); }
void jw_arr(struct jw *w, const char *key) { jw_open(w, key, '['); }
void jw_arr_end(struct jw *w) { jw_close(w, ']'); }

void jw_str(struct jw *w, const char *key, const char *v)
{
	jw_sep(w, key);
	if (v)
		json_escape(w->f, v);
	else
		fputs("null", w->f);
}

void jw_u64(struct jw *w, const char *key, uint64_t v)
{
	jw_sep(w, key);
	fprintf(w->f, "%" PRIu64, v);
}

void jw_i64(struct jw *w, const char *key, int64_t v)
{
	jw_sep(w, key);
	fprintf(w->f, "%" PRId64, v);
}

void jw_f64(struct jw *w, const char *key, double v, int decimals)
{
	jw_sep(w, key);
	fprintf(w->f, "%.*f", decimals, v);
}

void jw_bool(struct jw *w, const char *key, bool v)
{
	jw_sep(w, key);
	fputs(v ? "true" : "false", w->f);
}

void jw_null(struct jw *w, const char *key)
{
	jw_sep(w, key);
	fputs("null", w->f);
}
