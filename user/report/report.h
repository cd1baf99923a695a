/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Reports people look at: one trace as a self-contained HTML page (its
 * exact RSS over time, zoomable down to single rows, with spikes,
 * checkpoints, marks, stages, guard lines and what pollers would have
 * read) or one static SVG chart; a campaign as an HTML page. Offline: the
 * page's script and style are inlined, its data embedded.
 *
 * The same code path serves `memtrace-bpf report`, `--report` on a live
 * run (record, campaign: report_beside once the trace is complete) and
 * `campaign report --html`.
 */
#ifndef MEMTRACE_REPORT_REPORT_H
#define MEMTRACE_REPORT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include "format/result.h"

/* The whole page at most (about: the coarsest view of each series is
 * always in), unless --max-size says otherwise. */
#define REPORT_MAX_BYTES (8ULL << 20)

enum report_format { REPORT_HTML, REPORT_SVG };

struct report_opts {
	const char *trace;	/* TRACE.csv, "-" for stdin */
	const char *summary;	/* the run's summary JSON, shown with the
				   trace's own figures; NULL: trace.summary.json
				   (or a campaign run's summary.json) beside
				   the trace, when there */
	pid_t only_pid;		/* 0: every process */
	uint64_t max_bytes;	/* 0: REPORT_MAX_BYTES */
	const char *title;	/* NULL: the trace's name */
	const char *version;	/* memtrace-bpf's, in the page's footer */
};

struct report;

/* Reads the trace (one streaming pass, memory bounded whatever its size)
 * and runs the analyses over it. 0, or -errno with err (naming the file
 * and line where a row is at fault). */
int report__read(struct report **out, const struct report_opts *o, char *err, size_t len);
void report__free(struct report *r);
/* The page, or the SVG chart, into f. 0 or -errno (a write error). */
int report__html(struct report *r, FILE *f);
int report__svg(struct report *r, FILE *f, int width, int height);

/* A run's timeline for a campaign page: the tree's RSS from its first
 * row, in buckets of *w ns (the finest width that gives at most max
 * buckets), each bucket's lowest and highest into lo[]/hi[] (-1: no
 * value). Returns the buckets written. */
size_t report__overview(const struct report *r, size_t max, int64_t *lo, int64_t *hi,
			uint64_t *w);
/* Its exact peak (kB) and the time from its first row to its last (ns). */
void report__peak(const struct report *r, int64_t *peak_kb, uint64_t *span_ns);

/* The report (fmt) of r to out: a new file put in place whole (lib/files.h),
 * in dirfd (out's last component) or, with AT_FDCWD, at out; "-": stdout.
 * 0, or -errno with err. */
int report__write_file(struct report *r, enum report_format fmt, int dirfd, const char *out,
		       char *err, size_t len);
/* Reads o->trace and writes its report (fmt) to out: a new file put in
 * place whole (lib/files.h), in dirfd (out's last component) or, with
 * AT_FDCWD, at out. "-": stdout. 0, or -errno with err. */
int report_write(const struct report_opts *o, enum report_format fmt, int dirfd,
		 const char *out, char *err, size_t len);
/* --report on a live run: TRACE.csv's report as TRACE.html beside it (in
 * dirfd, or AT_FDCWD), the run's summary JSON shown with it. What failed
 * is said on stderr, prefixed by who ("memtrace-bpf", "memtrace-bpf
 * campaign"). 0 or -errno. */
int report_beside(const char *trace, const char *summary, int dirfd, const char *who,
		  const char *version);
/* trace.csv -> trace.EXT (ext without its dot), into buf. */
char *report_path_beside(char *buf, size_t len, const char *trace, const char *ext);

/* One run of a campaign as its page shows it. */
struct campaign_run {
	struct run_result res;
	char report[64];	/* its page, relative to its run directory
				   ("": none), e.g. trace.html */
	bool have_trace;	/* its trace is there, named trace_name */
	char trace_name[16];	/* trace.csv.zst, trace.csv.gz or trace.csv */
	/* its timeline (report__overview), NULL when its trace could not be
	 * read (err says why) */
	int64_t *lo, *hi;
	size_t n;
	uint64_t w;
	char err[256];
};

/* A run's page and timeline: its trace (RUNDIR/trace.csv) read, its page
 * written there (trace.html) when rewrite or when it has none. 0, or -errno
 * with cr->err (cr->res is the caller's). */
int campaign_run__load(struct campaign_run *cr, const char *rundir, bool rewrite,
		       const char *version);
void campaign_run__free(struct campaign_run *cr);

/* The campaign page of DIR: per configuration its statistics, the
 * distribution of its peaks, its runs' timelines overlaid from their
 * start; then every run, its status flagged, with a link to its page. */
int campaign_html(FILE *f, const char *dir, const struct campaign_run *runs, size_t n,
		  const char *version);

#endif
