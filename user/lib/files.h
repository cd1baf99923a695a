/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Files memtrace-bpf makes as a root tool that a user ran with sudo: whole
 * or not at all, and given to that user. */
#ifndef MEMTRACE_LIB_FILES_H
#define MEMTRACE_LIB_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Under sudo, who asked (SUDO_UID/SUDO_GID): commands run as them, files
 * belong to them. false when not under sudo (or it asked as root). */
bool sudo_ids(uid_t *uid, gid_t *gid);
/* Gives path to the sudo user, if any; a failure is said on stderr. */
void give_to_user(const char *path);
/* Writes a whole file atomically (a temporary, then rename), given to the
 * sudo user. 0 or -errno. */
int write_file(const char *path, const char *data, size_t len);
/* mkdir -p; the directories it makes are given to the sudo user. 0 or
 * -errno. */
int mkdir_p(const char *path);
/* a/b into buf (an empty path when it does not fit: its open fails). */
char *path_join(char *buf, size_t len, const char *a, const char *b);

#endif
