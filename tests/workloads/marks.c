// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * marks: a C program naming its stages with <memtrace/mark.h> (USDT), for
 * the stage tests.
 *
 *   marks [FRAMES]
 *
 * A span load:begin .. load:end keeps 8 MiB; then FRAMES frames: a mark
 * "frame_loaded", a transient of 2*(i+1) MiB, a mark "pose_detection",
 * 1 MiB kept, a mark "frame_written"; a last "frame_loaded" closes the
 * last frame. Pages: 4 KiB (no THP), populated by the kernel in one call,
 * so a rise is exactly its size. Prints at the end (CLOCK_MONOTONIC ns):
 *   M <name> <t_before> <t_after>
 *   F <i> <transient_kb> <kept_kb>
 *   L <load_kb>
 */
#include <memtrace/mark.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#if !MEMTRACE_MARK_ENABLED
#error "<sys/sdt.h> is missing: install systemtap-sdt-dev (make deps)"
#endif

#define MIB (1024UL * 1024UL)
#define MAX_M 256

static struct { const char *name; long long t0, t1; } ms[MAX_M];
static int nm;
static char out[65536];

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A mark with the workload's own clock around it (the probe is inline). */
#define MARK(lit) do {						\
	ms[nm].name = lit;					\
	ms[nm].t0 = now_ns();					\
	MEMTRACE_MARK(lit);					\
	ms[nm].t1 = now_ns();					\
	nm++;							\
} while (0)

static void *populated(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (p == MAP_FAILED) {
		perror("marks: mmap");
		exit(99);
	}
	return p;
}

int main(int argc, char **argv)
{
	int frames = argc > 1 ? atoi(argv[1]) : 4, i;
	size_t off = 0;

	if (frames < 1 || frames > 60)
		frames = 4;
	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	memset(out, 0, sizeof(out));
	memset(ms, 0, sizeof(ms));
	now_ns();

	MARK("load:begin");
	populated(8 * MIB);
	MARK("load:end");
	for (i = 0; i < frames; i++) {
		MARK("frame_loaded");
		munmap(populated((size_t)(i + 1) * 2 * MIB), (size_t)(i + 1) * 2 * MIB);
		MARK("pose_detection");
		populated(MIB);
		MARK("frame_written");
	}
	MARK("frame_loaded");

	for (i = 0; i < frames; i++)
		off += (size_t)snprintf(out + off, sizeof(out) - off, "F %d %d 1024\n", i,
					(i + 1) * 2048);
	off += (size_t)snprintf(out + off, sizeof(out) - off, "L 8192\n");
	for (i = 0; i < nm; i++)
		off += (size_t)snprintf(out + off, sizeof(out) - off, "M %s %lld %lld\n", ms[i].name,
					ms[i].t0, ms[i].t1);
	if (write(1, out, off) < 0)
		return 98;
	return 0;
}
