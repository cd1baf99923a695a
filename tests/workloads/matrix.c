// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * matrix: a campaign workload whose peak depends on its parameters in a
 * known way: it holds A*B MiB of touched anonymous memory at its peak.
 *
 *   matrix A B [--exit N | --kill] [--hold MS] [--hold-until FILE]
 *
 * --hold-until FILE holds the peak until FILE exists (at most 10 min).
 * At the peak it takes an exact checkpoint (checkpoint.h), then unmaps the
 * block and prints the checkpoint (so nothing it prints adds to the peak):
 *   CP <pid> <t0> <t1> <vmrss> <anon> <file> <shmem> <vmsize> <vmdata> peak
 * and the environment it got for A and B, then exits N (default 0), or
 * dies of SIGKILL with --kill (as the OOM killer would end it).
 */
#define CP_PROG "matrix"
#include "checkpoint.h"

#include <signal.h>

int main(int argc, char **argv)
{
	static char line[512];
	long a, b, hold_ms = 0;
	const char *hold_file = NULL;
	int code = 0, kill_self = 0, n;
	struct cp c;
	char *blk;
	size_t len;

	if (argc < 3) {
		fprintf(stderr, "usage: matrix A B [--exit N | --kill] [--hold MS] [--hold-until FILE]\n");
		return 2;
	}
	a = strtol(argv[1], NULL, 10);
	b = strtol(argv[2], NULL, 10);
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--exit") && i + 1 < argc)
			code = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--kill"))
			kill_self = 1;
		else if (!strcmp(argv[i], "--hold") && i + 1 < argc)
			hold_ms = atol(argv[++i]);
		else if (!strcmp(argv[i], "--hold-until") && i + 1 < argc)
			hold_file = argv[++i];
	}
	len = (size_t)(a * b) * MIB;
	cp_take(&c, "warmup");		/* code paths warm before the one that counts */
	blk = len ? map_touched(len, 1) : NULL;
	if (hold_ms)
		usleep((useconds_t)hold_ms * 1000);
	for (int k = 0; hold_file && access(hold_file, F_OK) && k < 60000; k++)
		usleep(10000);
	cp_take(&c, "peak");
	if (blk)
		munmap(blk, len);
	n = cp_format(line, sizeof(line), getpid(), &c);
	n += snprintf(line + n, sizeof(line) - (size_t)n, "ENV A=%s B=%s CONFIG=%s REPEAT=%s\n",
		      getenv("A") ? getenv("A") : "-", getenv("B") ? getenv("B") : "-",
		      getenv("MEMTRACE_CONFIG") ? getenv("MEMTRACE_CONFIG") : "-",
		      getenv("MEMTRACE_REPEAT") ? getenv("MEMTRACE_REPEAT") : "-");
	if (write(1, line, (size_t)n) < 0)
		return 99;
	if (kill_self)
		raise(SIGKILL);
	return code;
}
