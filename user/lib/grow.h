/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Growable arrays: room for one more element, doubling the capacity. */
#ifndef MEMTRACE_GROW_H
#define MEMTRACE_GROW_H

#include <errno.h>
#include <stdlib.h>

/* Ensures (*arr)[n] exists: *arr has *cap elements of elem bytes; grows
 * to `first` elements, then doubles. 0, or -ENOMEM (the array unchanged). */
static inline int grow(void *arr, size_t *cap, size_t n, size_t elem, size_t first)
{
	void **a = arr, *p;
	size_t c;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : first;
	p = realloc(*a, c * elem);
	if (!p)
		return -ENOMEM;
	*a = p;
	*cap = c;
	return 0;
}

#endif
