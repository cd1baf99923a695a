// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * long: allocates, touches and frees memory in a loop, for SECONDS
 * (default 0 = forever), so a test can interrupt the tracer mid-run.
 * Signals keep their default dispositions (SIGINT kills it).
 *
 *   long [SECONDS [MAX_MIB]]       MAX_MIB defaults to 8
 *
 * Prints "READY <pid>" once at the start and "DONE <pid> <rounds>" at the
 * end (only when the time runs out).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024UL * 1024UL)

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 0;
	long max_mib = argc > 2 ? atol(argv[2]) : 8;
	long long end = secs > 0 ? now_ns() + (long long)(secs * 1e9) : 0;
	struct timespec nap = { 0, 1000 * 1000 };
	unsigned long rounds = 0;
	char msg[64];
	int n;

	if (max_mib < 1)
		max_mib = 1;
	n = snprintf(msg, sizeof(msg), "READY %d\n", (int)getpid());
	if (write(1, msg, (size_t)n) != n)
		return 99;
	while (!end || now_ns() < end) {
		size_t len = (size_t)(1 + rounds % (unsigned long)max_mib) * MIB, off;
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		char *h;

		if (p == MAP_FAILED)
			return 98;
		for (off = 0; off < len; off += 4096)
			((volatile char *)p)[off] = 1;
		h = malloc(64 * 1024 + rounds % 4096);
		if (h)
			memset(h, 1, 64 * 1024);
		nanosleep(&nap, NULL);
		free(h);
		munmap(p, len);
		rounds++;
	}
	n = snprintf(msg, sizeof(msg), "DONE %d %lu\n", (int)getpid(), rounds);
	if (write(1, msg, (size_t)n) != n)
		return 99;
	return 0;
}
