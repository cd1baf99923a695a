// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <string.h>
#include "format/pb.h"
#include "format/text.h"

enum { WIRE_VARINT = 0, WIRE_LEN = 2 };

size_t pb_varint(uint8_t *out, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		out[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	out[n++] = (uint8_t)v;
	return n;
}

size_t pb_varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

void pb__init(struct pb *p, void *buf, size_t cap)
{
	p->buf = buf;
	p->cap = cap;
	pb__reset(p);
}

void pb__reset(struct pb *p)
{
	p->len = 0;
	p->depth = 0;
	p->overflow = false;
}

static bool room(struct pb *p, size_t n)
{
	if (p->overflow || p->cap - p->len < n) {
		p->overflow = true;
		return false;
	}
	return true;
}

static void put_varint(struct pb *p, uint64_t v)
{
	/* the common case first: room for the longest, no need to measure */
	if (!p->overflow && p->cap - p->len >= PB_VARINT_MAX)
		p->len += pb_varint(p->buf + p->len, v);
	else if (room(p, pb_varint_len(v)))
		p->len += pb_varint(p->buf + p->len, v);
}

static void put_tag(struct pb *p, uint32_t field, unsigned int wire)
{
	put_varint(p, (uint64_t)field << 3 | wire);
}

void pb__uint(struct pb *p, uint32_t field, uint64_t v)
{
	put_tag(p, field, WIRE_VARINT);
	put_varint(p, v);
}

void pb__int(struct pb *p, uint32_t field, int64_t v)
{
	pb__uint(p, field, (uint64_t)v);
}

void pb__bytes(struct pb *p, uint32_t field, const void *data, size_t n)
{
	put_tag(p, field, WIRE_LEN);
	put_varint(p, n);
	if (room(p, n)) {
		memcpy(p->buf + p->len, data, n);
		p->len += n;
	}
}

void pb__begin(struct pb *p, uint32_t field)
{
	put_tag(p, field, WIRE_LEN);
	/* one byte for the length, the common case; pb__end makes more room
	 * when the content turns out longer than 127 bytes */
	if (p->depth < PB_MAX_DEPTH && room(p, 1)) {
		p->buf[p->len++] = 0;
		p->open[p->depth] = p->len;
	} else {
		p->overflow = true;
	}
	p->depth++;
}

void pb__end(struct pb *p)
{
	size_t start, n, k;

	if (p->depth <= 0) {
		p->overflow = true;	/* an end without a begin: the caller's bug */
		return;
	}
	p->depth--;
	if (p->overflow)
		return;
	start = p->open[p->depth];
	n = p->len - start;
	k = pb_varint_len(n);
	if (k > 1) {
		if (!room(p, k - 1))
			return;
		memmove(p->buf + start + k - 1, p->buf + start, n);
		p->len += k - 1;
	}
	pb_varint(p->buf + start - 1, n);
}

void pb__str(struct pb *p, uint32_t field, const char *s, size_t n)
{
	static const uint8_t replacement[3] = { 0xef, 0xbf, 0xbd };	/* U+FFFD */

	n = strnlen(s, n);
	pb__begin(p, field);
	for (size_t i = 0; i < n && !p->overflow;) {
		int k = utf8_seq(s + i, n - i);

		if (k > 0 && room(p, (size_t)k)) {
			memcpy(p->buf + p->len, s + i, (size_t)k);
			p->len += (size_t)k;
			i += (size_t)k;
		} else if (k <= 0 && room(p, sizeof(replacement))) {
			/* invalid, or a sequence cut short by the end */
			memcpy(p->buf + p->len, replacement, sizeof(replacement));
			p->len += sizeof(replacement);
			i++;
		}
	}
	pb__end(p);
}
