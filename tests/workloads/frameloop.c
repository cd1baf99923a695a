// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * frameloop: a frame loop with three point marks per frame (USDT,
 * <memtrace/mark.h>), each stage with its own known memory, for the tests
 * of how `stages` cuts point marks.
 *
 *   frameloop FRAMES [exit|span]
 *
 * Frame i (0-based):
 *   MARK("decode"):  a transient of 64 KiB * (1 + i % 5), unmapped again;
 *   MARK("detect"):  32 KiB kept (until the next frame's write);
 *   MARK("write"):   a transient of 128 KiB + 64 KiB * (i % 3), unmapped;
 *                    then the previous frame's 32 KiB freed (i > 0).
 * After the loop, "exit": nothing more (the last write runs to the exit);
 * "span": MARK("save:begin"), 1 MiB kept, MARK("save:end").
 *
 * 4 KiB pages (no THP), populated by the kernel in one call: a rise is
 * exactly its size. The code paths are warmed up by one unmarked frame
 * first, and the stack and every buffer written later are touched before
 * the first mark. Prints at the end (CLOCK_MONOTONIC ns):
 *   F <i> <decode_rise_kb> <detect_growth_kb> <write_rise_kb> <write_growth_kb>
 *   M <name> <t_before> <t_after>
 *   E <t>                 (the clock after the loop)
 * What follows E (this output, the exit) may still fault code in (libc's
 * _exit, 0 to 64 KiB as the page cache has it): the trace says how much.
 */
#include <memtrace/mark.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define CP_PROG "frameloop"
#include "checkpoint.h"

#if !MEMTRACE_MARK_ENABLED
#error "<sys/sdt.h> is missing: install systemtap-sdt-dev (make deps)"
#endif

#define KIB 1024UL
#define MAX_FRAMES 300
#define MAX_M (3 * MAX_FRAMES + 2)

static struct { const char *name; long long t0, t1; } ms[MAX_M];
static int nm;
static char out[MAX_M * 64 + MAX_FRAMES * 64];

/* A mark with the workload's own clock around it (the probe is inline);
 * unmarked (the warm-up frame): nothing. */
#define MARK(on, lit) do {					\
	if (on) {						\
		ms[nm].name = lit;				\
		ms[nm].t0 = now_ns();				\
		MEMTRACE_MARK(lit);				\
		ms[nm].t1 = now_ns();				\
		nm++;						\
	}							\
} while (0)

static void *populated(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

static size_t decode_len(int i)
{
	return 64 * KIB * (size_t)(1 + i % 5);
}

static size_t write_len(int i)
{
	return 128 * KIB + 64 * KIB * (size_t)(i % 3);
}

/* One frame; *kept: the previous frame's detect block (NULL: none), then
 * this one's. */
static void frame(int i, bool on, void **kept)
{
	void *k;

	MARK(on, "decode");
	munmap(populated(decode_len(i)), decode_len(i));
	MARK(on, "detect");
	k = populated(32 * KIB);
	MARK(on, "write");
	munmap(populated(write_len(i)), write_len(i));
	if (*kept)
		munmap(*kept, 32 * KIB);
	*kept = k;
}

int main(int argc, char **argv)
{
	int frames = argc > 1 ? atoi(argv[1]) : 100, i;
	bool span = argc > 2 && !strcmp(argv[2], "span");
	void *kept = NULL;
	long long end;
	size_t off = 0;

	if (frames < 1 || frames > MAX_FRAMES || (argc > 2 && !span && strcmp(argv[2], "exit"))) {
		fprintf(stderr, "usage: frameloop FRAMES(1-%d) [exit|span]\n", MAX_FRAMES);
		return 2;
	}
	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	touch_stack();
	memset(out, 0, sizeof(out));
	memset(ms, 0, sizeof(ms));
	now_ns();
	/* the code of the output below, faulted in now */
	off = (size_t)snprintf(out, sizeof(out), "F %d %lu %lld %s\n", 1, 2UL, 3LL, "x");
	if (write(1, out, 0) < 0)
		return 98;
	off = 0;
	frame(0, false, &kept);	/* warm-up: faults the code in */
	munmap(kept, 32 * KIB);
	kept = NULL;

	for (i = 0; i < frames; i++)
		frame(i, true, &kept);
	if (span) {
		MARK(true, "save:begin");
		populated(1024 * KIB);
		MARK(true, "save:end");
	}
	end = now_ns();

	for (i = 0; i < frames; i++)
		off += (size_t)snprintf(out + off, sizeof(out) - off, "F %d %lu 32 %lu %d\n", i,
					decode_len(i) / KIB, write_len(i) / KIB, i ? -32 : 0);
	for (i = 0; i < nm; i++)
		off += (size_t)snprintf(out + off, sizeof(out) - off, "M %s %lld %lld\n", ms[i].name,
					ms[i].t0, ms[i].t1);
	off += (size_t)snprintf(out + off, sizeof(out) - off, "E %lld\n", end);
	if (write(1, out, off) < 0)
		_exit(98);
	/* no exit handlers: nothing after the output touches a new page */
	_exit(0);
}
