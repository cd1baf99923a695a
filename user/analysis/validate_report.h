/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A finished validation (analysis/validate.h) as a table and as JSON;
 * trace: its file's name, t0_ns: its time_s origin. */
#ifndef MEMTRACE_ANALYSIS_VALIDATE_REPORT_H
#define MEMTRACE_ANALYSIS_VALIDATE_REPORT_H

#include <stdint.h>
#include <stdio.h>
#include "analysis/validate.h"

void validate_report_table(FILE *out, const struct validation *v, const char *trace, uint64_t t0_ns);
void validate_report_json(FILE *out, const struct validation *v, const char *trace, uint64_t t0_ns);

#endif
