/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Prometheus' text exposition format (what node_exporter's textfile
 * collector reads and what GET /metrics answers): a family's HELP and
 * TYPE lines once, then its samples, label values escaped.
 */
#ifndef MEMTRACE_LIB_PROM_H
#define MEMTRACE_LIB_PROM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct prom_label {
	const char *name, *value;
};

struct prom_family {
	const char *name, *type, *help;
};

/* A traced run's figures, as record --metrics and the service's --metrics
 * give them: the same names and meanings in both. */
enum { PROM_RSS, PROM_PEAK, PROM_PROCESSES, PROM_EVENTS, PROM_LOST, PROM_ALERTS,
       PROM_SIGNALS, PROM_NRUN };
extern const struct prom_family prom_run[PROM_NRUN];

struct metrics_http;

/* # HELP and # TYPE of a family (type: gauge, counter). */
void prom_head(FILE *f, const char *name, const char *type, const char *help);
/* name{label="value",...} v */
void prom_sample(FILE *f, const char *name, const struct prom_label *l, size_t nl, uint64_t v);
/* The text to where --metrics says: served by h (no memory for its copy:
 * the last text stays), else path rewritten whole. 0 or -errno. */
int prom_publish(const char *path, struct metrics_http *h, const char *text, size_t len);

#endif
