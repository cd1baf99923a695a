/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Files memtrace-bpf makes, as a root tool a user ran with sudo must make
 * them: each output is a new file of its own (O_EXCL, under a temporary
 * name in the target's directory), given to the sudo user on its
 * descriptor, then renamed over the target. A symbolic link, FIFO or
 * device at the target is refused, never written through; a file another
 * user owns in a sticky directory (/tmp) is never replaced (the kernel
 * refuses the rename); an earlier file stays as it was until the new one
 * takes its name.
 */
#ifndef MEMTRACE_LIB_FILES_H
#define MEMTRACE_LIB_FILES_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* Under sudo, who asked (SUDO_UID/SUDO_GID): commands run as them, files
 * belong to them. false when not under sudo, or as root. A SUDO_UID or
 * SUDO_GID that is there but not a number is said once on stderr. */
bool sudo_ids(uid_t *uid, gid_t *gid);
/* Gives the file or directory open at fd to the sudo user, if any (what:
 * its name, for the message when that fails). */
void give_fd_to_user(int fd, const char *what);

/* binary as execvp() finds it: itself when it has a '/', else the first
 * executable regular file of that name in PATH. 0, or -ENOENT. */
int exec_path(const char *binary, char *out, size_t len);

/* Can path be an output? Absent, or a regular file (not a link, FIFO,
 * socket, device or directory), in a directory we can write. what: "trace",
 * "summary"... for the message. 0, or -errno with msg (the problem and a
 * next step). "-" (stdout) passes. */
int check_output_path(const char *path, const char *what, char *msg, size_t len);

struct out_file {
	int fd;			/* -1: none */
	int dirfd;		/* its directory */
	char name[NAME_MAX + 1];	/* the target's name in it */
	char tmp[NAME_MAX + 1];		/* ours until published */
	bool published;
};

/* Creates the output for path: in dirfd (path's last component) or, with
 * dirfd AT_FDCWD, in path's directory. The target is checked as
 * check_output_path does. 0 or -errno with msg. */
int out_file__create(struct out_file *o, int dirfd, const char *path, const char *what,
		     char *msg, size_t len);
/* The target now names our file (the one being written, or finished). 0 or
 * -errno with msg. */
int out_file__publish(struct out_file *o, char *msg, size_t len);
/* Takes the first len bytes of disk for it now (where the filesystem can):
 * what is written there later cannot fail for want of space. 0 or -errno. */
int out_file__reserve(struct out_file *o, off_t len);
/* Its whole content, from its start (the file cut to len), synced. 0 or
 * -errno. */
int out_file__write_all(struct out_file *o, const char *data, size_t len);
/* Its content written as a stream, from its start (what was reserved
 * stays its own until written over): out_file__stream_end cuts it to what
 * was written and syncs it. NULL / -errno. */
FILE *out_file__stream(struct out_file *o);
int out_file__stream_end(struct out_file *o, FILE *f);
/* Closes it; a temporary never published is removed. Safe on a zeroed or
 * closed one (fd -1 or 0 with no name). */
void out_file__close(struct out_file *o);
static inline void out_file__init(struct out_file *o)
{
	o->fd = o->dirfd = -1;
	o->name[0] = o->tmp[0] = 0;
	o->published = false;
}

/* A whole file, atomically (an out_file written, synced, published), in
 * dirfd or (AT_FDCWD) at path. 0 or -errno. */
int write_file_at(int dirfd, const char *path, const char *data, size_t len);
int write_file(const char *path, const char *data, size_t len);

/* Opens directory path (in at, or AT_FDCWD), made first when create and it
 * is absent (with its missing parents, mkdir -p); what it makes is given to
 * the sudo user. Its last component must be a directory, not a link to
 * one. Returns an O_DIRECTORY fd, or -errno with msg. */
int dir_open(int at, const char *path, bool create, char *msg, size_t len);

/* a/b into buf (an empty path when it does not fit: its open fails). */
char *path_join(char *buf, size_t len, const char *a, const char *b);

#endif
