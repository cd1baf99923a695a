/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Strict parsing and printing of sizes (512M) and durations (10ms). */
#ifndef MEMTRACE_UNITS_H
#define MEMTRACE_UNITS_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

/* "4096", "64K", "16M", "1.5G", "2GiB", "512MB" (1024-based). Rejects junk,
 * negatives, overflow. Returns 0, or -EINVAL / -ERANGE. */
int parse_size(const char *s, uint64_t *bytes);

/* "250us", "10ms", "1.5s", "2m", "1h", "500ns"; a bare number is seconds.
 * Returns 0, or -EINVAL / -ERANGE. */
int parse_duration(const char *s, uint64_t *ns);

/* A memory figure as an application printed it ("657 MB", "1.5GiB",
 * "812340 kB") in kB, rounded. KB/MB/GB/TB are 1024-based, as in /proc's
 * "kB" and most tools' "MB" (si: 1000-based); KiB/MiB/GiB/TiB and K/M/G/T
 * are 1024-based; B is bytes. Returns 0, -EDOM for a unit it does not know
 * or no unit at all, -EINVAL when it is not a number. */
int parse_reported_kb(const char *s, bool si, int64_t *kb);

/* A tolerance: "10%" (0 to max_pct) into *pct, or a size ("100M") into
 * *bytes; the other is set to 0. Returns 0, -EINVAL (junk) or -ERANGE. */
int parse_pct_or_size(const char *s, double max_pct, double *pct, uint64_t *bytes);

/* Parses a positive decimal integer that fits in an int (PIDs, counts). */
int parse_uint(const char *s, unsigned long max, unsigned long *out);

/* A signal to end a program with: KILL, TERM, INT, HUP, QUIT, USR1, USR2
 * (any case, SIG prefix or not) or its number. 0, -EINVAL (not a signal)
 * or -ERANGE (a signal that does not end a program). */
int parse_signal(const char *s, int *sig);
/* "KILL", "TERM"... for those; "?" otherwise. */
const char *signal_abbrev(int sig);

/* "1.5 GiB", "312 KiB", "12 B" into buf; returns buf. */
char *format_size(uint64_t bytes, char *buf, size_t len);
/* A signed size in kB, as format_size ("-1.5 MiB"); returns buf. */
char *format_kb(int64_t kb, char *buf, size_t len);
/* ts_ns as seconds after t0_ns (negative before it). */
static inline double secs_since(uint64_t ts_ns, uint64_t t0_ns)
{
	return ((double)(int64_t)(ts_ns - t0_ns)) / 1e9;
}
/* "1.25 s", "12.3 ms", "850 us"; returns buf. */
char *format_duration(uint64_t ns, char *buf, size_t len);

#endif
