/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Fixed-size records by index (0, 1, 2... as they are made): the first
 * mem_max in memory, the others in an unlinked temporary file ($TMPDIR, or
 * /var/tmp), so that a run or a trace of a million processes keeps in
 * memory only what is live. Where the file cannot be had or written, the
 * records stay in memory: nothing is lost for want of a disk.
 */
#ifndef MEMTRACE_LIB_RECSTORE_H
#define MEMTRACE_LIB_RECSTORE_H

#include <stddef.h>

struct recstore {
	size_t size;		/* of a record */
	size_t n;		/* highest index put + 1 */
	size_t mem_max;		/* indexes below it live in mem */
	char *mem;
	size_t mem_cap;		/* records mem has room for */
	int fd;			/* the file, -1 until needed */
	int mem_only;		/* the file failed: all of them in mem */
};

void recstore__init(struct recstore *rs, size_t size, size_t mem_max);
/* 0 or -ENOMEM. */
int recstore__put(struct recstore *rs, size_t idx, const void *rec);
/* 0, or -ENOENT (never put) / -errno. */
int recstore__get(const struct recstore *rs, size_t idx, void *rec);
void recstore__free(struct recstore *rs);

#endif
