/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What a run says when it is over: the JSON summary (its exact peak, per
 * process, the analysis) and the text on stderr. */
#ifndef MEMTRACE_TRACE_SUMMARY_H
#define MEMTRACE_TRACE_SUMMARY_H

#include <stdbool.h>
#include <stdint.h>
#include "trace/run.h"

/* Writes the summary of a finished run into its summary file, then puts
 * it in place (a whole file, or the earlier one stays). On a full disk,
 * the short form (no processes, no analysis) in the room reserved for it:
 * r->summary_short, said on stderr. 0 or -errno with msg. */
int summary__write(struct run *r, char *msg, size_t msglen);
/* The summary on stderr: how it ended, the peak, events, files, spikes. */
void summary__print(const struct run *r);
/* One status line on stderr (tty: rewritten in place unless final). */
void summary__status_line(const struct run *r, bool tty, bool final);
/* The peak against --max-peak (+ tolerance), on stderr. */
void summary__print_limit(const struct peak_limit *limit, uint64_t peak_kb);

#endif
