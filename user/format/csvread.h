/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Streaming reader of memtrace-bpf traces (and of plain time_s,vmrss_kb
 * poller files), with line-numbered errors. */
#ifndef MEMTRACE_CSVREAD_H
#define MEMTRACE_CSVREAD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "analysis/spikes.h"

struct csv_row {
	uint64_t ts_ns;
	pid_t pid;		/* 0 when the file has no pid column */
	int64_t vmrss_kb;
	enum spike_ev ev;
	/* Text columns of this row ("" when the file has none), valid until
	 * the next csvr__next(). */
	const char *event, *cause, *label, *reported;
};

struct csv_reader {
	int fd;
	const char *path;
	char *buf;
	size_t len, pos, cap;
	bool eof;
	uint64_t line;
	int ncols;
	int c_ts, c_time, c_pid, c_rss, c_event, c_cause;	/* -1: absent */
	int c_label, c_reported;				/* -1: absent */
	uint64_t t0_ns;		/* ts_ns at time_s = 0 (from the first row) */
	bool have_t0;
	char err[512];
};

/* Opens and reads the header. Returns 0 or -1 with err set. */
int csvr__open(struct csv_reader *r, const char *path);
/* 1: a row, 0: end of file, -1: error (err names file:line and column). */
int csvr__next(struct csv_reader *r, struct csv_row *row);
void csvr__close(struct csv_reader *r);

#endif
