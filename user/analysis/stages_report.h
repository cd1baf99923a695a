/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Finished stages (analysis/stages.h) as a table and as JSON; trace: its
 * file's name, t0_ns: its time_s origin. */
#ifndef MEMTRACE_ANALYSIS_STAGES_REPORT_H
#define MEMTRACE_ANALYSIS_STAGES_REPORT_H

#include <stdint.h>
#include <stdio.h>
#include "analysis/stages.h"

void stages_report_table(FILE *out, const struct stages *s, const char *trace);
/* 0, or -errno when an interval kept in a temporary file cannot be read
 * back (the JSON is then cut short). */
int stages_report_json(FILE *out, const struct stages *s, const char *trace, uint64_t t0_ns);

#endif
