/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The processes below some others, from /proc: what a guard or a timeout
 * must end besides the processes it traces (children of a --no-follow
 * command, children over --max-procs).
 */
#ifndef MEMTRACE_LIB_PROCTREE_H
#define MEMTRACE_LIB_PROCTREE_H

#include <stddef.h>
#include <sys/types.h>

/* Adds to pids[0..*n) every live process descended from one of them, up
 * to max in all. Returns how many were added, or -errno when /proc cannot
 * be read. One pass over /proc per generation; cheap enough for the
 * moment a tree is ended, not for a hot path. */
int proctree_add_descendants(pid_t *pids, size_t *n, size_t max);

#endif
