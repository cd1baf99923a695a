/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A small JSON writer into a FILE: keys and values escaped, the output
 * valid UTF-8 (an invalid byte becomes U+FFFD), two-space indentation. */
#ifndef MEMTRACE_FORMAT_JSON_H
#define MEMTRACE_FORMAT_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

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
/* The same, with <, > and & escaped too: a string safe inside an HTML
 * <script> element. */
void json_escape_html(FILE *f, const char *s);

#endif
