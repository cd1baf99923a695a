/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Everything checked before anything is traced or written. Each check
 * returns 0, or -errno with a message (problem + next step) in msg. */
#ifndef MEMTRACE_TRACE_PREFLIGHT_H
#define MEMTRACE_TRACE_PREFLIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

int check_privileges(char *msg, size_t len);
int check_btf(const char *path, char *msg, size_t len);
/* Resolves a PID to its process (a thread id maps to its thread group);
 * rejects kernel threads and processes that are gone. */
int check_target(pid_t pid, pid_t *tgid, char *msg, size_t len);
/* The command exists and is executable (as execvp would find it).
 * Returns 0, -ENOENT (not found) or -EACCES (found, not executable). */
int check_command(const char *cmd, char *msg, size_t len);
/* What a process holds now, from /proc/PID/status: VmRSS, or with anon
 * RssAnon + RssShmem, in kB; its name into comm (may be NULL). 0 or -errno. */
int proc_memory(pid_t pid, bool anon, uint64_t *kb, char *comm, size_t commlen);
/* A cgroup v2 directory (absolute, or relative to the unified hierarchy's
 * mount point) to its id and level, for capture mode. */
int check_cgroup(const char *arg, uint64_t *id, uint32_t *level, char *msg, size_t len);

#endif
