/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --metrics ADDR: the latest metrics text served over HTTP, for Prometheus
 * to scrape (GET /metrics), from a thread of its own.
 *
 * Made for a root tool: one connection at a time, its request head read
 * within 2 s in all and 2 KiB, its answer given 2 s, and dropped at once
 * when the server stops (a client that trickles bytes holds nothing up);
 * nothing of the request is kept; the answer is
 * a copy of the text as it was when the request came, so the memory is the
 * text's twice, whoever connects. Listens on the address given (loopback
 * when only a port is given). Nothing here knows what the text says.
 */
#ifndef MEMTRACE_LIB_METRICS_HTTP_H
#define MEMTRACE_LIB_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct metrics_http;

/* Is arg meant as an address rather than a file name: no '/', and digits
 * after its last ':' or digits alone (PORT, :PORT, HOST:PORT, [IPv6]:PORT;
 * metrics_http__start says whether it is one). A file of such a name:
 * ./NAME. */
bool metrics_addr(const char *arg);

/* Listens on addr and serves from a thread. NULL with err set (the address,
 * and why: in use, not an address, ...). */
struct metrics_http *metrics_http__start(const char *addr, char *err, size_t errlen);
/* The text to serve from now on (copied). 0 or -ENOMEM (the old text
 * stays). */
int metrics_http__set(struct metrics_http *h, const char *text, size_t len);
/* Stops listening, waits for the thread, frees. NULL: nothing. */
void metrics_http__stop(struct metrics_http *h);

#endif
