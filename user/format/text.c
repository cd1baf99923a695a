// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <string.h>
#include "format/text.h"

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
