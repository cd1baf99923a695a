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

/* # HELP and # TYPE of a family (type: gauge, counter). */
void prom_head(FILE *f, const char *name, const char *type, const char *help);
/* name{label="value",...} v */
void prom_sample(FILE *f, const char *name, const struct prom_label *l, size_t nl, uint64_t v);

#endif
