/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The Protocol Buffers wire format, as much of it as our outputs write:
 * varint fields (int32, int64, uint32, uint64, bool, enum) and
 * length-delimited ones (strings, bytes, nested messages), into a buffer
 * the caller owns. No schema, no allocation: a field is its number and
 * value, and the caller knows the message (tests/perfetto/ holds a .proto
 * of the fields we write, for protoc to decode them). The encoding:
 * https://protobuf.dev/programming-guides/encoding/
 */
#ifndef MEMTRACE_FORMAT_PB_H
#define MEMTRACE_FORMAT_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Messages open inside each other at most (a TracePacket's deepest field
 * is 4 levels down). */
#define PB_MAX_DEPTH 8
/* The longest varint: 64 bits, 7 a byte. */
#define PB_VARINT_MAX 10

struct pb {
	uint8_t *buf;
	size_t len, cap;
	/* where the content of each open message starts (its length, one
	 * byte until pb__end knows it, is the byte before) */
	size_t open[PB_MAX_DEPTH];
	int depth;
	/* something did not fit in cap (or nested deeper than PB_MAX_DEPTH):
	 * what the buffer holds is not a message; checked once at the end */
	bool overflow;
};

/* v as a varint at out (PB_VARINT_MAX bytes of room); its length. */
size_t pb_varint(uint8_t *out, uint64_t v);
/* The length of v as a varint (1 to 10). */
size_t pb_varint_len(uint64_t v);

void pb__init(struct pb *p, void *buf, size_t cap);
/* Empty again, for the next message. */
void pb__reset(struct pb *p);
/* A varint field: uint32, uint64, bool, an enum. */
void pb__uint(struct pb *p, uint32_t field, uint64_t v);
/* An int32 or int64 field: a negative value takes 10 bytes, as protobuf
 * writes it (sign-extended to 64 bits; not zigzag, which is sint*). */
void pb__int(struct pb *p, uint32_t field, int64_t v);
/* A bytes field: n bytes as they are. */
void pb__bytes(struct pb *p, uint32_t field, const void *data, size_t n);
/* A string field: the first n bytes of s (up to a NUL), valid UTF-8 as
 * protobuf requires: a byte that does not start a valid sequence is
 * written as U+FFFD. */
void pb__str(struct pb *p, uint32_t field, const char *s, size_t n);
/* A nested message: its fields follow, up to the matching pb__end. */
void pb__begin(struct pb *p, uint32_t field);
void pb__end(struct pb *p);

#endif
