// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "format/csv.h"
#include "format/jsonl.h"

/* ---- the keys: CSV_HEADER's names, split once ---- */

static char key_buf[sizeof(CSV_HEADER)];
static const char *keys[CSV_COLUMNS];
static bool key_text[CSV_COLUMNS];	/* always a string */
static uint64_t key_sparse;		/* columns a row of ours may leave empty */
static pthread_once_t keys_once = PTHREAD_ONCE_INIT;

static void keys_split(void)
{
	static const char *const text_cols[] = { "event", "cause", "label", "reported" };
	/* every row of ours has the others: the state after the event */
	static const char *const sparse_cols[] = { "cause", "addr", "ip", "len", "ret", "label",
						   "reported", "reported_kb", "folded" };
	char *p = key_buf;

	memcpy(key_buf, CSV_HEADER, sizeof(CSV_HEADER));
	for (int i = 0; i < CSV_COLUMNS && p; i++) {
		keys[i] = p;
		p = strchr(p, ',');
		if (p)
			*p++ = 0;
		for (size_t k = 0; k < sizeof(text_cols) / sizeof(text_cols[0]); k++)
			key_text[i] |= !strcmp(keys[i], text_cols[k]);
		for (size_t k = 0; k < sizeof(sparse_cols) / sizeof(sparse_cols[0]); k++)
			if (!strcmp(keys[i], sparse_cols[k]))
				key_sparse |= 1ULL << i;
	}
}

static void keys_get(void)
{
	pthread_once(&keys_once, keys_split);
}

bool jsonl_path(const char *path)
{
	static const char *const ends[] = { ".jsonl", ".jsonl.zst", ".jsonl.gz" };
	size_t n = strlen(path);

	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		size_t k = strlen(ends[i]);

		if (n > k && !strcmp(path + n - k, ends[i]))
			return true;
	}
	return false;
}

/* ---- writing ---- */

/* A JSON number as we write them: -?digits(.digits)?, no leading zero
 * before another digit (JSON's grammar). */
static bool is_number(const char *s, size_t n)
{
	size_t i = 0, d;

	if (i < n && s[i] == '-')
		i++;
	for (d = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		;
	if (i == d || (s[d] == '0' && i - d > 1))
		return false;
	if (i < n && s[i] == '.') {
		for (d = ++i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d)
			return false;
	}
	return i == n;
}

/* One CSV field of ours starting at s (up to end): its text unquoted into
 * a JSON string at o ("" quotes doubled inside a quoted field; put_text
 * has made every control character a space already, escaped anyway).
 * Returns the new o, and in *next the field's end (its comma or the row's
 * end); NULL when out of room. */
static char *put_field_str(char *o, char *oend, const char *s, const char *end,
			   const char **next)
{
	bool quoted = s < end && *s == '"';

	if (quoted)
		s++;
	if (oend - o < 8)
		return NULL;
	*o++ = '"';
	while (s < end) {
		unsigned char c = (unsigned char)*s;

		if (quoted && c == '"') {
			if (s + 1 < end && s[1] == '"') {
				s++;
			} else {
				s++;	/* the closing quote */
				break;
			}
		} else if (!quoted && c == ',') {
			break;
		}
		if (oend - o < 8)
			return NULL;
		if (c == '"' || c == '\\') {
			*o++ = '\\';
			*o++ = (char)c;
		} else if (c < 0x20) {
			o += snprintf(o, 7, "\\u%04x", c);
		} else {
			*o++ = (char)c;
		}
		s++;
	}
	*o++ = '"';
	*next = s;
	return o;
}

int jsonl_from_csv_row(char *out, size_t outlen, const char *row, size_t n)
{
	const char *s = row, *end = row + n, *next;
	char *o = out, *oend = out + outlen;
	bool first = true;

	keys_get();
	if (n && end[-1] == '\n')
		end--;
	if (outlen < 64)
		return -1;
	*o++ = '{';
	for (int i = 0; i < CSV_COLUMNS && s <= end; i++) {
		bool quoted = s < end && *s == '"';	/* text, never empty */
		const char *fe = quoted ? end : memchr(s, ',', (size_t)(end - s));
		size_t klen = strlen(keys[i]);

		if (!fe)
			fe = end;
		if (fe > s) {
			if (oend - o < (ptrdiff_t)(klen + 8))
				return -1;
			if (!first)
				*o++ = ',';
			first = false;
			*o++ = '"';
			memcpy(o, keys[i], klen);
			o += klen;
			*o++ = '"';
			*o++ = ':';
			if (!quoted && !key_text[i] && is_number(s, (size_t)(fe - s))) {
				if (oend - o < fe - s + 4)
					return -1;
				memcpy(o, s, (size_t)(fe - s));
				o += fe - s;
			} else {
				if (!(o = put_field_str(o, oend - 4, s, fe, &next)) || oend - o < 4)
					return -1;
				fe = next;	/* a quoted field's end */
			}
		}
		s = fe + 1;
	}
	*o++ = '}';
	*o++ = '\n';
	*o = 0;
	return (int)(o - out);
}

void jsonl_time_of(const char *line, char *t, size_t tlen)
{
	static const char pre[] = "{\"time_s\":";

	if (strncmp(line, pre, sizeof(pre) - 1)) {
		snprintf(t, tlen, "0");
		return;
	}
	line += sizeof(pre) - 1;
	snprintf(t, tlen, "%.*s", (int)strcspn(line, ",}"), line);
}

/* ---- reading ---- */

uint64_t jsonl_sparse(void)
{
	keys_get();
	return key_sparse;
}

int jsonl_reader_init(struct csv_reader *r)
{
	struct json_tokener *tok = json_tokener_new();

	keys_get();
	/* a field's text is at most its line's (json-c hands back a number
	 * as it was written, and an escape is never shorter than what it
	 * stands for, but a lone surrogate: 6 bytes for U+FFFD's 3) */
	r->jcap = CSV_MAX_LINE + CSV_COLUMNS;
	r->jbuf = malloc(r->jcap);
	if (!tok || !r->jbuf) {
		if (tok)
			json_tokener_free(tok);
		free(r->jbuf);
		r->jbuf = NULL;
		snprintf(r->err, sizeof(r->err), "%s: out of memory for a JSON parser", r->path);
		return -ENOMEM;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	r->jtok = tok;
	r->jsonl = true;
	r->ncols = CSV_COLUMNS;
	for (int i = 0; i < CSV_COLUMNS; i++)
		r->names[i] = keys[i];
	return 0;
}

void jsonl_reader_free(struct csv_reader *r)
{
	if (r->jtok)
		json_tokener_free(r->jtok);
	r->jtok = NULL;
	free(r->jbuf);
	r->jbuf = NULL;
}

static int jbad(struct csv_reader *r, const char *what, const char *key)
{
	snprintf(r->err, sizeof(r->err), "%s:%llu: %s%s%s (a JSON Lines trace has one object "
		 "per line, as memtrace-bpf --format jsonl writes)", r->path,
		 (unsigned long long)r->line, what, key ? " " : "", key ? key : "");
	return -EINVAL;
}

/* Value v of key k (column col) as text into the field buffer at *pos. */
static int put_value(struct csv_reader *r, int col, const char *k, struct json_object *v,
		     size_t *pos)
{
	const char *s = "";
	size_t len = 0;

	switch (json_object_get_type(v)) {
	case json_type_null:
		break;
	case json_type_string:
		s = json_object_get_string(v);
		len = (size_t)json_object_get_string_len(v);
		if (memchr(s, 0, len))
			return jbad(r, "a NUL character (\\u0000) in the string of", k);
		break;
	case json_type_int:
	case json_type_double:
	case json_type_boolean:
		/* numbers as the file spells them (json-c keeps a double's
		 * text; an integer past 64 bits it clamps, and the message
		 * then quotes the clamped value) */
		s = json_object_get_string(v);
		len = strlen(s);
		break;
	default:
		return jbad(r, "an object or array where a column's value belongs:", k);
	}
	if (len + 1 > r->jcap - *pos)
		return jbad(r, "values longer than the line's limit, from", k);
	memcpy(r->jbuf + *pos, s, len);
	r->jbuf[*pos + len] = 0;
	r->fields[col] = r->jbuf + *pos;
	*pos += len + 1;
	return 0;
}

int jsonl_split(struct csv_reader *r, const char *line, size_t n, uint64_t *present)
{
	struct json_tokener *tok = r->jtok;
	struct json_object *o;
	size_t pos = 0;
	int e = 0;

	json_tokener_reset(tok);
	o = json_tokener_parse_ex(tok, line, (int)n);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != n) {
		char what[160];

		enum json_tokener_error je = json_tokener_get_error(tok);

		if (!o && je == json_tokener_continue)
			snprintf(what, sizeof(what), "an object not closed at the line's end (a line "
				 "cut short?)");
		else
			snprintf(what, sizeof(what), "not a JSON object at byte %zu: %s",
				 json_tokener_get_parse_end(tok) + 1,
				 o ? "more after the object's end" : json_tokener_error_desc(je));
		json_object_put(o);
		return jbad(r, what, NULL);
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return jbad(r, "a JSON value that is not an object", NULL);
	}
	for (int i = 0; i < CSV_COLUMNS; i++)
		r->fields[i] = (char *)"";
	if (present)
		*present = 0;
	{
		json_object_object_foreach(o, k, v) {
			for (int i = 0; i < CSV_COLUMNS && !e; i++)
				if (!strcmp(k, keys[i]) && !json_object_is_type(v, json_type_null)) {
					if (present)
						*present |= 1ULL << i;
					e = put_value(r, i, k, v, &pos);
				}
			if (e)
				break;
		}
	}
	json_object_put(o);
	return e ? e : CSV_COLUMNS;
}
