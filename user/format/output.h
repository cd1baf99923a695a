/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* CSV rows from records, whole-line file output, a small JSON writer. */
#ifndef MEMTRACE_OUTPUT_H
#define MEMTRACE_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "memtrace.h"

#define CSV_HEADER "time_s,vmrss_kb,vmsize_kb,ts_ns,pid,tid,event,rss_anon_kb," \
		   "rss_file_kb,rss_shmem_kb,swap_kb,total_rss_kb,cause,addr,ip,len,ret," \
		   "label,reported,reported_kb"
#define CSV_COLUMNS 20
/* The first 17 columns are a contract; later ones are appended only. */
#define CSV_FIXED_COLUMNS 17

/* A log row's state record: userspace-made, never from the kernel. */
#define MT_REC_LOG 100

/* Name of a record type as it appears in the CSV `event` column. */
const char *rec_event_name(const struct mt_rec *r);
/* x86_64 syscall name, or NULL when not in our table. */
const char *syscall_name(unsigned int nr);
/* Wait status (as in task->exit_code) to a shell-style exit code:
 * 0-255, or 128+N for death by signal N. */
int exit_status_code(int wait_status);

/* Sorts records by ts_ns, keeping the order of equal times. Made for
 * drained batches: nearly in order already (CPUs interleave by a few). */
void rec_sort(struct mt_rec *r, size_t n);

/* After rec_sort: how many of the first records may be written now: those
 * stamped at or before cutoff_ns (CLOCK_MONOTONIC). Younger ones wait for
 * the next drain, where a record reserved earlier but committed later (on
 * another CPU) can still sort before them. */
size_t rec_ready(const struct mt_rec *r, size_t n, uint64_t cutoff_ns);

/* Formats one CSV row (with its newline). Returns its length, or -1 if it
 * does not fit. page_kb: page size in KiB. */
int csv_format_row(char *buf, size_t len, const struct mt_rec *r,
		   uint64_t start_ns, unsigned int page_kb);
/* A `log` row: a line of the command's output that --checkpoint-regex
 * matched. r holds the state of the process the row is given to (its last
 * record) and the line's time; reported: the captured text; reported_kb:
 * it in kB, or < 0 when its unit is unknown. buf should hold 2 KiB: the
 * line is cut to 1 KiB. */
int csv_format_log_row(char *buf, size_t len, const struct mt_rec *r, uint64_t start_ns,
		       unsigned int page_kb, const char *stream, const char *line,
		       const char *reported, int64_t reported_kb);
/* Name of a checkpoint kind / mark source as in the `cause` column. */
const char *ckpt_kind_name(unsigned int kind);

/*
 * Output that is whole lines at every moment: rows are appended to a memory
 * buffer and written with write(2) only in whole lines, so a kill at any
 * instant leaves no half row behind.
 */
struct linebuf {
	int fd;
	bool owns_fd;
	char *buf;
	size_t len, cap;
	int err;		/* first write error (positive errno) */
	uint64_t lines;
};

int linebuf__open(struct linebuf *lb, const char *path);	/* "-" = stdout */
int linebuf__append(struct linebuf *lb, const char *line, size_t n);
int linebuf__flush(struct linebuf *lb);
int linebuf__close(struct linebuf *lb);

/* Minimal JSON writer into a FILE. Keys and values are escaped. */
struct jw {
	FILE *f;
	int depth;
	bool need_comma[16];
};

void jw_begin(struct jw *w, FILE *f);
void jw_obj(struct jw *w, const char *key);	/* key NULL inside arrays */
void jw_obj_end(struct jw *w);
void jw_arr(struct jw *w, const char *key);
void jw_arr_end(struct jw *w);
void jw_str(struct jw *w, const char *key, const char *v);	/* v NULL: null */
void jw_u64(struct jw *w, const char *key, uint64_t v);
void jw_i64(struct jw *w, const char *key, int64_t v);
void jw_f64(struct jw *w, const char *key, double v, int decimals);
void jw_bool(struct jw *w, const char *key, bool v);
void jw_null(struct jw *w, const char *key);
void json_escape(FILE *f, const char *s);
/* The UTF-8 sequence at s (n bytes there): its length 1-4, 0 when it is
 * invalid, -1 when it is a valid start cut short by n. */
int utf8_seq(const char *s, size_t n);
/* How many bytes of s to print to show at most max of them without
 * cutting a character (for "%.*s"). */
int utf8_cut(const char *s, size_t max);
/* s in a table column of width characters: cut at a character boundary,
 * padded with spaces (a character counts one, whatever its bytes). */
void put_col(FILE *f, const char *s, int width);

#endif
