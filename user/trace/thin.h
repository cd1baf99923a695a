/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --resolution: a trace thinned to a few rows per process per window,
 * with its extremes exact.
 *
 * Time is cut into windows of the resolution (aligned on CLOCK_MONOTONIC).
 * Of a process's RSS changes in a window, the rows kept are its minimum
 * and its maximum (each the first change that reached it, with its own
 * time, cause and address), in time order, and, when the process has no
 * change in the next window, its last change (the level it then holds).
 * The window's last row kept carries in `folded` how many changes the
 * window held. Every other record (mmap, exec, exit, marks, guard...) is
 * kept as it is. So a transient longer than the resolution keeps its
 * exact rise (the minimum before it, the maximum of it, each at its own
 * time), and under sustained change a process writes two rows a window.
 *
 * A window is written once the records of the next one are all in (it
 * decides the last-change row): the trace is two windows behind, and in
 * time order. Memory: a process's state while it lives (freed once its
 * exit is written), and the records of two windows.
 */
#ifndef MEMTRACE_TRACE_THIN_H
#define MEMTRACE_TRACE_THIN_H

#include <stddef.h>
#include <stdint.h>
#include "memtrace.h"

/* A row to write: a record, and the changes it stands for (0: a record
 * that is not a folded window's last). 0 or -errno. */
typedef int (*thin_out_fn)(void *ctx, const struct mt_rec *rec, uint64_t folded);

struct thin;

/* res_ns > 0. 0 or -ENOMEM. */
int thin__new(struct thin **out, uint64_t res_ns, thin_out_fn out_fn, void *ctx);
/* The next record, in time order. 0 or -errno (out's, or -ENOMEM). */
int thin__push(struct thin *t, const struct mt_rec *rec);
/* Every record stamped at or before released_ns has been pushed: writes
 * the windows that decides. */
int thin__advance(struct thin *t, uint64_t released_ns);
/* Writes everything held (the run's end). */
int thin__flush(struct thin *t);
/* Rows stamped before this are all written (records pushed at or after it
 * may still be); UINT64_MAX before the first record. */
uint64_t thin__written_until(const struct thin *t);
/* Processes it holds state for (live ones, and exited ones not yet
 * written). */
size_t thin__nprocs(const struct thin *t);
void thin__free(struct thin *t);

#endif
