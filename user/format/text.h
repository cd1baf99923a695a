/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* UTF-8 text in our outputs: every CSV, JSON and table we write is valid
 * UTF-8, whatever a program gave us (a mark's name, a log line, a comm). */
#ifndef MEMTRACE_FORMAT_TEXT_H
#define MEMTRACE_FORMAT_TEXT_H

#include <stddef.h>
#include <stdio.h>

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
