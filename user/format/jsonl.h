/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The trace as JSON Lines: one object per row, with the CSV's column names
 * as keys (format/csv.h's CSV_HEADER: the one list of them), for jq and
 * stream collectors.
 *
 * Written from the CSV row itself, so the two formats cannot drift: a
 * column empty in the CSV is absent from the object; event, cause, label
 * and reported are strings; every other column is a JSON number when its
 * CSV text is a decimal number (sizes, times, ids, counts, a syscall's
 * length or result) and a string otherwise (hex addresses, an exit's or a
 * leave's words).
 *
 * Read back by the CSV reader (csvr__open tells the format by the first
 * byte of the first line, '{'), each object parsed by json-c (strict
 * JSON, its strings checked as UTF-8): a parser written for every escape,
 * surrogate pair and number of the grammar, fuzzed by others for years,
 * rather than one of our own for a format other programs write too (a
 * trace filtered through jq comes back with jq's spelling of everything).
 */
#ifndef MEMTRACE_FORMAT_JSONL_H
#define MEMTRACE_FORMAT_JSONL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest object a row of ours becomes (format/csv.h: a row is under
 * 4 KiB; keys and escapes at most double it, with room to spare). */
#define JSONL_MAX_ROW (12 << 10)

/* trace.jsonl, trace.jsonl.zst, trace.jsonl.gz */
bool jsonl_path(const char *path);

/* One CSV row of ours (csv_format_row's output, n bytes with its newline)
 * as a JSON object line, with its newline, into out. Its length, or -1
 * when out (at least JSONL_MAX_ROW) cannot hold it. */
int jsonl_from_csv_row(char *out, size_t outlen, const char *row, size_t n);

/* The time_s of an object line written above (text, into t), for the
 * trace's last row: "0" when it has none. */
void jsonl_time_of(const char *line, char *t, size_t tlen);

struct csv_reader;

/* Reader side, for csv_read.c: an object line into the reader's fields in
 * the CSV's column order ("" for a key it lacks or that is null; keys of
 * no column are skipped), and in *present (if not NULL) a bit for each
 * column it has.
 * CSV_COLUMNS, or -EINVAL with r->err naming file:line. */
int jsonl_split(struct csv_reader *r, const char *line, size_t n, uint64_t *present);
/* The columns (a bit each, CSV order) a row of ours may leave empty, so
 * absent from its object: cause, addr, ip, len, ret, label, reported,
 * reported_kb, folded. Every row has the others. */
uint64_t jsonl_sparse(void);
/* The reader's parser and field buffer: 0 or -ENOMEM. Freed by
 * jsonl_reader_free (also for a reader that never had them). */
int jsonl_reader_init(struct csv_reader *r);
void jsonl_reader_free(struct csv_reader *r);

#endif
