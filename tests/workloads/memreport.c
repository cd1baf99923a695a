// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * memreport: prints two memory figures on one line, as applications do,
 * from its own /proc/self/status readings, for the tests of what
 * `validate` compares a captured value with.
 *
 *   memreport ROUNDS [kB|MB]
 *
 * First 12 MiB kept (the program's base, "Memory: 13 MB" in MB). Round k
 * (0-based): a transient of 8 MiB * (k + 1), touched page by page;
 * a checkpoint while it is held (its VmRSS is the peak so far); the
 * transient unmapped; a checkpoint; then on stderr, in one write:
 *   Memory: <VmRSS now> kB | Images: <10 * (k + 1)> | Peak: <largest VmRSS read> kB
 * (with MB: both figures in whole MiB, rounded to the nearest, as "13 MB").
 * Nothing between the checkpoint and the line touches a new page. Prints
 * on stdout at the end the checkpoints (checkpoint.h's CP lines) and
 *   R <k> <now_kb> <peak_kb>
 */
#define CP_PROG "memreport"
#include "checkpoint.h"

#include <sys/prctl.h>

#define MAX_ROUNDS 8

static struct cp cps[2 * MAX_ROUNDS + 1];
static long now_kb[MAX_ROUNDS], peak_kb[MAX_ROUNDS];
static char line[256], out[16384];

static long in_mb(long kb)
{
	return (kb + 512) / 1024;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 3, mb = argc > 2 && !strcmp(argv[2], "MB"), k, n;
	long peak = 0;
	size_t off;

	if (rounds < 1 || rounds > MAX_ROUNDS || (argc > 2 && !mb && strcmp(argv[2], "kB"))) {
		fprintf(stderr, "usage: memreport ROUNDS(1-%d) [kB|MB]\n", MAX_ROUNDS);
		return 2;
	}
	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	memset(out, 0, sizeof(out));
	memset(line, 0, sizeof(line));
	map_touched(12 * MIB, 1);
	/* warm-up: the code of a checkpoint and of a line, faulted in */
	cp_take(&cps[0], "warmup");
	n = snprintf(line, sizeof(line), "Memory: %ld kB | Images: %d | Peak: %ld kB\n", 1L, 2, 3L);
	if (write(2, line, 0) < 0)
		return 98;
	for (k = 0; k < rounds; k++) {
		size_t len = 8 * MIB * (size_t)(k + 1);
		char *t = map_touched(len, 1);
		struct cp *held = &cps[1 + 2 * k], *now = &cps[2 + 2 * k];

		cp_take(held, "held");
		munmap(t, len);
		cp_take(now, "now");
		if (held->vmrss > peak)
			peak = held->vmrss;
		if (now->vmrss > peak)
			peak = now->vmrss;
		now_kb[k] = now->vmrss;
		peak_kb[k] = peak;
		if (mb)
			n = snprintf(line, sizeof(line), "Memory: %ld MB | Images: %d | Peak: %ld MB\n",
				     in_mb(now->vmrss), 10 * (k + 1), in_mb(peak));
		else
			n = snprintf(line, sizeof(line), "Memory: %ld kB | Images: %d | Peak: %ld kB\n",
				     now->vmrss, 10 * (k + 1), peak);
		if (write(2, line, (size_t)n) != n)
			return 98;
	}
	off = cp_format_all(out, sizeof(out), getpid(), cps, 1 + 2 * rounds);
	for (k = 0; k < rounds; k++)
		off += (size_t)snprintf(out + off, sizeof(out) - off, "R %d %ld %ld\n", k, now_kb[k],
					peak_kb[k]);
	if (write(1, out, off) < 0)
		return 98;
	return 0;
}
