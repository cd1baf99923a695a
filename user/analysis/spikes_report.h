/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Spikes, growth and polling fidelity as text tables and JSON. */
#ifndef MEMTRACE_REPORT_H
#define MEMTRACE_REPORT_H

#include <stdio.h>
#include "format/json.h"
#include "analysis/spikes.h"

/* t0_ns: the trace's time_s origin. top: rows at most (0: all). */
void spikes_report_table(FILE *f, struct spikes *s, uint64_t t0_ns, size_t top);
void spikes_report_growth(FILE *f, struct spikes *s, uint64_t t0);
void spikes_report_polling(FILE *f, struct spikes *s, uint64_t t0_ns);
/* Writes "spikes", "processes" (growth, polling) into an open JSON object. */
void spikes_report_json(struct jw *w, struct spikes *s, uint64_t t0_ns, size_t top);
/* "10ms", "1.5s": a period as people write it. */
char *period_name(uint64_t ns, char *buf, size_t len);

#endif
