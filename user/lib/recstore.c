// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/recstore.h"

void recstore__init(struct recstore *rs, size_t size, size_t mem_max)
{
	memset(rs, 0, sizeof(*rs));
	rs->size = size;
	rs->mem_max = mem_max;
	rs->fd = -1;
}

/* An unlinked file of ours: no name anyone could plant or find. */
static int open_file(void)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd;

	if (!dir || !*dir)
		dir = "/var/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0 || strlen(dir) + 32 > sizeof(path))
		return fd;
	/* a filesystem without O_TMPFILE: a named one, unlinked at once */
	strcpy(path, dir);
	strcat(path, "/.memtrace-store.XXXXXX");
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	return fd;
}

/* mem has room for index idx. */
static int mem_room(struct recstore *rs, size_t idx)
{
	size_t cap = rs->mem_cap ? rs->mem_cap : 64;
	char *p;

	if (idx < rs->mem_cap)
		return 0;
	while (cap <= idx)
		cap *= 2;
	p = realloc(rs->mem, cap * rs->size);
	if (!p)
		return -ENOMEM;
	memset(p + rs->mem_cap * rs->size, 0, (cap - rs->mem_cap) * rs->size);
	rs->mem = p;
	rs->mem_cap = cap;
	return 0;
}

/* The file failed (no temporary directory, a full disk): what it holds
 * comes back into memory, where every record stays from now on. */
static int to_memory(struct recstore *rs)
{
	int e = rs->n > rs->mem_max ? mem_room(rs, rs->n - 1) : 0;

	for (size_t i = rs->mem_max; !e && rs->fd >= 0 && i < rs->n; i++)
		if (pread(rs->fd, rs->mem + i * rs->size, rs->size,
			  (off_t)((i - rs->mem_max) * rs->size)) != (ssize_t)rs->size)
			memset(rs->mem + i * rs->size, 0, rs->size);	/* never put */
	if (e)
		return e;
	if (rs->fd >= 0)
		close(rs->fd);
	rs->fd = -1;
	rs->mem_only = 1;
	return 0;
}

int recstore__put(struct recstore *rs, size_t idx, const void *rec)
{
	if (idx >= rs->mem_max && !rs->mem_only) {
		if (rs->fd < 0)
			rs->fd = open_file();
		if (rs->fd >= 0 && pwrite(rs->fd, rec, rs->size, (off_t)((idx - rs->mem_max) * rs->size))
		    == (ssize_t)rs->size) {
			if (idx >= rs->n)
				rs->n = idx + 1;
			return 0;
		}
		if (to_memory(rs))
			return -ENOMEM;
	}
	if (mem_room(rs, idx))
		return -ENOMEM;
	memcpy(rs->mem + idx * rs->size, rec, rs->size);
	if (idx >= rs->n)
		rs->n = idx + 1;
	return 0;
}

int recstore__get(const struct recstore *rs, size_t idx, void *rec)
{
	if (idx >= rs->n)
		return -ENOENT;
	if (idx < rs->mem_max || rs->mem_only) {
		if (idx >= rs->mem_cap)
			return -ENOENT;
		memcpy(rec, rs->mem + idx * rs->size, rs->size);
		return 0;
	}
	if (pread(rs->fd, rec, rs->size, (off_t)((idx - rs->mem_max) * rs->size)) !=
	    (ssize_t)rs->size)
		return errno ? -errno : -EIO;
	return 0;
}

void recstore__free(struct recstore *rs)
{
	free(rs->mem);
	if (rs->fd >= 0)
		close(rs->fd);
	recstore__init(rs, rs->size, rs->mem_max);
}
