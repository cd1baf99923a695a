/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The trace CSV, the one place that knows its columns: rows written from
 * kernel records (csv_write.c) and read back by the offline subcommands
 * (csv_read.c), with the event vocabulary of format/names.h.
 */
#ifndef MEMTRACE_FORMAT_CSV_H
#define MEMTRACE_FORMAT_CSV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "memtrace.h"
#include "format/names.h"
#include "lib/linebuf.h"

#define CSV_HEADER "time_s,vmrss_kb,vmsize_kb,ts_ns,pid,tid,event,rss_anon_kb," \
		   "rss_file_kb,rss_shmem_kb,swap_kb,total_rss_kb,cause,addr,ip,len,ret," \
		   "label,reported,reported_kb,vmdata_kb,folded"
#define CSV_COLUMNS 22
/* The first 17 columns are a contract; later ones are appended only. */
#define CSV_FIXED_COLUMNS 17

/* ---- writing ---- */

/* Formats one row (with its newline) of a kernel record. Returns its
 * length, or -1 for a type without a row or a buffer under 512 bytes.
 * page_kb: page size in KiB; start_ns: time_s 0. */
int csv_format_row(char *buf, size_t len, const struct mt_rec *r,
		   uint64_t start_ns, unsigned int page_kb);
/* The same, with a --resolution window's count of changes in `folded`
 * (0: empty). */
int csv_format_row_folded(char *buf, size_t len, const struct mt_rec *r, uint64_t start_ns,
			  unsigned int page_kb, uint64_t folded);
/* A `log` row: a line of the command's output that --checkpoint-regex
 * matched. r holds the state of the process the row is given to (its last
 * record) and the line's time; reported: the captured text; reported_kb:
 * it in kB, or < 0 when its unit is unknown. buf should hold 4 KiB: the
 * line is cut to 1 KiB. */
int csv_format_log_row(char *buf, size_t len, const struct mt_rec *r, uint64_t start_ns,
		       unsigned int page_kb, const char *stream, const char *line,
		       const char *reported, int64_t reported_kb);

/* A trace being written: the header, then whole rows only. */
struct csv_out {
	struct linebuf lb;
	uint64_t start_ns;
	unsigned int page_kb;
	uint64_t rows;
	int err;		/* the first error writing it (positive errno) */
	bool jsonl;		/* JSON Lines (format/jsonl.h), not CSV */
	char *jrow;		/* then: a row's object, until closed */
};

/* Writes the header to fd (a file of ours when owns_fd: closed at the end,
 * cut back to its last whole row, or compressed frame, on a write error),
 * compressed as f; with jsonl, no header and each row a JSON object
 * (format/jsonl.h). 0 or -errno. */
int csv_out__open(struct csv_out *o, int fd, bool owns_fd, enum zformat f, bool jsonl,
		  uint64_t start_ns, unsigned int page_kb);
/* A kernel record's row. 0, or -EINVAL for a type without a row (the
 * caller's bug); a write error is kept in o->err. */
int csv_out__record(struct csv_out *o, const struct mt_rec *r);
/* The same, with its `folded` count (csv_format_row_folded). */
int csv_out__record_folded(struct csv_out *o, const struct mt_rec *r, uint64_t folded);
/* A log row (see csv_format_log_row). */
void csv_out__log(struct csv_out *o, const struct mt_rec *state, const char *stream,
		  const char *line, const char *reported, int64_t reported_kb);
/* The rows in the file (whole ones: after a write error, those before it)
 * and the time_s of the last of them into t ("0" when none). */
uint64_t csv_out__rows_written(const struct csv_out *o, char *t, size_t tlen);
/* Writes what is buffered. 0 or -errno (also kept in o->err). */
int csv_out__flush(struct csv_out *o);
/* Flushes and closes. 0 or -errno (the first error of the trace). */
int csv_out__close(struct csv_out *o);

/* ---- reading (traces, and plain time_s,vmrss_kb poller files) ---- */

/* The longest line read, without its newline. A row of ours is under
 * 4 KiB (a log row: 1 KiB of line and 128 bytes of value, each at most
 * tripled by U+FFFD, in a 4 KiB buffer); 64 KiB leaves 16 times that for
 * columns appended later and for other tools' files, and a longer line is
 * an error naming it (not a buffer grown to its size: the reader's memory
 * stays one fixed buffer). Overridable at build time (the fuzz targets
 * take a small one, to reach the limit and the refill with small inputs). */
#ifndef CSV_MAX_LINE
#define CSV_MAX_LINE (64 << 10)
#endif

/* Columns in a line at most: a line with more is malformed. */
#define CSV_MAX_FIELDS 64

struct csv_row {
	uint64_t ts_ns;
	pid_t pid;		/* 0 when the file has no pid column */
	pid_t tid;		/* 0 when the file has no tid column */
	int64_t vmrss_kb;
	/* what the row is, as the kernel's record was: enum mt_rec_type
	 * (0 when the file has no event column), the syscall of a SYSCALL
	 * row, enum mt_cause of an RSS row */
	uint32_t type, nr, cause;
	/* Text columns of this row ("" when the file has none), valid until
	 * the next csvr__next(). */
	const char *event, *cause_text, *label, *reported;
	/* Read only when the reader's `sizes` is set; -1 when the file has no
	 * such column. */
	int64_t vmsize_kb, total_rss_kb;
	/* Read only when the reader's `parts` is set (a report's stack and
	 * swap line); -1 when the file has no such column. */
	int64_t anon_kb, file_kb, shmem_kb, swap_kb;
	/* More text columns ("" when the file has none): syscall rows' len and
	 * ret (a guard or alert row's threshold in len; an exit row's status in
	 * ret), a log, guard or alert row's reported_kb. */
	const char *len, *ret, *reported_kb;
};

struct zdec;

struct csv_reader {
	int fd;
	struct zdec *z;		/* a zstd or gzip file's decompressor */
	bool warned;		/* that it ends inside a frame */
	const char *path;
	char *buf;
	size_t len, pos, cap;
	bool eof;
	uint64_t line;
	int ncols;
	int c_ts, c_time, c_pid, c_rss, c_event, c_cause;	/* -1: absent */
	int c_label, c_reported;				/* -1: absent */
	int c_vmsize, c_total;					/* -1: absent */
	int c_anon, c_file, c_shmem, c_swap;			/* -1: absent */
	int c_len, c_ret, c_reported_kb, c_tid;			/* -1: absent */
	bool sizes;		/* the caller's, after csvr__open: read vmsize_kb
				   and total_rss_kb too (the other readers skip
				   them: a number less per row) */
	bool parts;		/* the caller's, after csvr__open: read the four
				   RSS counters (rss_anon_kb, rss_file_kb,
				   rss_shmem_kb, swap_kb) too */
	uint64_t t0_ns;		/* ts_ns at time_s = 0 (from the first row) */
	bool have_t0;
	uint64_t prev_ts_ns, prev_line;	/* the last row (prev_line 0: none) */
	/* the header's column names (for csvr__column) and the fields of the
	 * last row read (for csvr__field) */
	char *header;
	const char *names[CSV_MAX_FIELDS];
	char *fields[CSV_MAX_FIELDS];
	/* JSON Lines (format/jsonl.c): its parser, the buffer its values'
	 * text is in, and the first row (read to tell the format) */
	bool jsonl;
	void *jtok;
	char *jbuf;
	size_t jcap;
	char *pend;
	size_t pend_n;
	char err[512];
};

/* Opens and reads the header: a plain CSV, or one compressed with zstd or
 * gzip (told by its first bytes); or a JSON Lines trace (format/jsonl.h:
 * its first line an object), read as the CSV with memtrace-bpf's columns.
 * Returns 0 or -errno with err set. */
int csvr__open(struct csv_reader *r, const char *path);
/* 1: a row, 0: end of file, -errno: error, with err naming file:line (and
 * the column): a malformed row, a line longer than CSV_MAX_LINE, a NUL
 * byte, a time that is not a finite number of seconds below 2^63 ns, a
 * time before the previous row's (rows are in time order over the whole
 * file, as memtrace-bpf writes them), a read error. Never 0 on an error. */
int csvr__next(struct csv_reader *r, struct csv_row *row);
void csvr__close(struct csv_reader *r);
/* Columns beyond those of struct csv_row (a reader that wants a column the
 * others skip reads it itself, as text or as a size):
 * the index of the header's column name, or -1 when the file has none. */
int csvr__column(const struct csv_reader *r, const char *name);
/* Column col of the row csvr__next() returned last, as text ("" for col
 * -1); valid until the next csvr__next(). */
const char *csvr__field(const struct csv_reader *r, int col);
/* That column as a size in kB (a whole number, 0 or more) into *kb, -1 for
 * col -1. 0, or -EINVAL with err naming file:line and the column. */
int csvr__kb(struct csv_reader *r, int col, int64_t *kb);

#endif
