/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef MEMTRACE_TRACE_RELAY_H
#define MEMTRACE_TRACE_RELAY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Passing bytes on to our stdout/stderr. The main loop also drains the
 * ring buffer, so it must never block on a slow or stuck reader of our
 * output: a thread per stream does the (blocking) writes from a bounded
 * buffer. When the buffer is full the main loop stops reading that pipe,
 * so a slow reader holds back only the command's writes, as it would
 * without memtrace-bpf, and tracing goes on.
 */
struct relay {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *buf;		/* ring of cap bytes */
	size_t cap, head, len;
	int fd, wake_fd;	/* where to; eventfd to wake the main loop */
	bool started, closing, done, want_space;
	bool dead;		/* a write failed: nothing more goes there */
	int err;		/* why (positive errno) */
};

/* Starts passing bytes on to fd from a ring of cap bytes, on a thread of
 * its own (signals stay with the main thread); wake_fd (an eventfd) is
 * written when a relay that was full has room again. 0 or -errno. */
int relay__start(struct relay *rl, int fd, int wake_fd, size_t cap);
/* Queues up to n bytes; returns how many fit (none once it failed). */
size_t relay__push(struct relay *rl, const char *b, size_t n);
/* Room below limit queued bytes; 0 asks to be woken when there is room.
 * limit once it failed (bytes go only to the log then). */
size_t relay__room(struct relay *rl, size_t limit);
/* Why writing failed (positive errno), 0 while it works. */
int relay__error(struct relay *rl);
/* Bytes still to pass on. */
bool relay__pending(struct relay *rl);
/* Writes what it holds, for up to grace_ms (a reader that takes nothing
 * more cannot hold us forever), then stops. */
void relay__stop(struct relay *rl, int grace_ms);

#endif
