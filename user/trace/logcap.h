/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --checkpoint-regex: a launched command's stdout and stderr come through
 * pipes; every byte is passed on unchanged to ours and kept in a log file,
 * and each whole line is matched against the pattern (POSIX extended); its
 * first capture group is the value the application reported.
 */
#ifndef MEMTRACE_LOGCAP_H
#define MEMTRACE_LOGCAP_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "trace/relay.h"

#define LOGCAP_MAX_LINE 4096	/* longer lines are matched on their start */

/* A matched line: when it was written (the kernel's time of the write
 * that ended it, else when it was read; CLOCK_MONOTONIC), by which process
 * and thread (0: not known), stream "stdout"/"stderr", the line without
 * its newline, the captured value. */
typedef int (*logcap_fn)(void *ctx, uint64_t ts_ns, pid_t pid, pid_t tid, const char *stream,
			 uint64_t lineno, const char *line, const char *value);

/* A write(2) the kernel saw the command make to one of the pipes. */
struct logcap_write {
	uint64_t ts_ns;
	pid_t pid, tid;
	uint64_t len, done;
	char start[40];		/* its first bytes (min(len, 40)) */
	bool start_known;
};

/* Per stream: bytes read but not yet explained by a kernel write. */
struct logcap_stream {
	char *pend;
	size_t plen, pcap;
	uint64_t pend_since;	/* when the oldest of them arrived */
	struct logcap_write *w;	/* kernel writes not yet matched, in order */
	size_t nw, wcap;
	bool on_arrival;	/* lines timed when read (no kernel timing) */
};

struct logcap {
	int rd[2];		/* read ends (stdout, stderr); -1 when closed */
	bool merged;		/* one pipe for both (our fds 1 and 2 are the
				   same file): the kernel keeps their order */
	struct relay relay[2];
	bool relay_said[2];	/* its failure was reported */
	int wake_fd;		/* eventfd: a full relay has room again */
	uint64_t not_passed;	/* bytes only in the log (stopped, or our
				   output failed) */
	struct logcap_stream st[2];
	bool kernel_timed;	/* OUTPUT records come (launch with capture) */
	uint64_t records_until;	/* every record stamped up to here is in */
	int out[2];		/* where bytes go on: our stdout, stderr */
	int log_fd;
	const regex_t *re;
	char *part[2];		/* a line not ended yet, per stream */
	size_t plen[2];
	uint64_t lines, matched, log_bytes;
	int err;		/* first error writing the log (positive errno) */
	logcap_fn fn;
	void *ctx;
};

/* Keeps the command's output in log_fd (a copy of it: the caller's stays
 * its own) and opens the two pipes; wr[0], wr[1] are the ends the
 * command gets as its stdout and stderr (O_CLOEXEC: the child dup2()s
 * them). When our own stdout and stderr are the same file (a terminal,
 * `> f 2>&1`) there is one pipe: wr[1] is -1 and the command gets wr[0]
 * as both. pass_on false: the output is only kept (one pipe for both).
 * Returns 0 or -errno. */
int logcap__open(struct logcap *c, const regex_t *re, int log_fd, int wr[2], bool pass_on,
		 logcap_fn fn, void *ctx);
/* The kernel saw the command write len bytes starting with start[] to
 * stream (0 stdout, 1 stderr) at ts_ns: the lines those bytes end get that
 * time. Bytes the kernel never reports (an untraced writer, writev, a
 * dropped record) switch that stream to the time lines are read, said once
 * on stderr. Returns 0 or -errno (from fn). */
int logcap__output(struct logcap *c, int stream, uint64_t ts_ns, pid_t pid, pid_t tid,
		   uint64_t len, const char *start, bool start_known);
/* Waits up to timeout_ms for output (or for extra_fd, e.g. the ring
 * buffer, to be readable), then takes everything there is. final: also
 * the last unterminated lines, and closes the pipes. Returns 0 or -errno
 * (from fn). */
int logcap__pump(struct logcap *c, int timeout_ms, int extra_fd, bool final);
/* A pipe still open (some process may still write to it) or bytes not
 * yet passed on. */
bool logcap__busy(struct logcap *c);
void logcap__close(struct logcap *c);

/* Matches one line; on a match copies the first capture group that took
 * part in it (the whole match if none did) into val. */
bool logcap_match(const regex_t *re, const char *line, char *val, size_t vlen);

#endif
