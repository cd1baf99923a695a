// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gentrace: writes a synthetic memtrace-bpf CSV, for measuring the
 * analysis (memtrace-bpf spikes, validate, stages) on traces larger than a
 * test makes.
 *
 *   gentrace ROWS > trace.csv
 *   gentrace --pids N > trace.csv
 *
 * ROWS: one process: page faults of 4 KiB every ~2 us, a transient of 1 to
 * 64 MiB every 20,000 rows (filled, held, freed), and a slow leak of 4 KiB
 * per 1,000 rows. Prints on stderr how many transients it wrote.
 *
 * --pids N: N short-lived processes, one after the other (a build, a test
 * suite), each with 6 rows: exec, a 2 MiB rise, a checkpoint, a mark, the
 * fall, exit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER "time_s,vmrss_kb,vmsize_kb,ts_ns,pid,tid,event,rss_anon_kb,rss_file_kb," \
	       "rss_shmem_kb,swap_kb,total_rss_kb,cause,addr,ip,len,ret,label,reported,reported_kb\n"

static int many_pids(unsigned long long n)
{
	unsigned long long ts = 1000000000ULL, t0 = ts;

	printf(HEADER);
	for (unsigned long long i = 0; i < n; i++) {
		unsigned int pid = 1000 + (unsigned int)(i % 4000000);
		static const struct { const char *ev, *cause, *label; long long kb; } rows[] = {
			{ "exec", "sh", "", 1024 },
			{ "rss", "fault", "", 1024 + 2048 },
			{ "checkpoint", "status", "", 1024 + 2048 },
			{ "mark", "fd", "step", 1024 + 2048 },
			{ "rss", "syscall:munmap", "", 1024 },
			{ "exit", "sh", "", 1024 },
		};

		for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
			ts += 1000 + k * 500000;
			printf("%llu.%09llu,%lld,%lld,%llu,%u,%u,%s,%lld,0,0,0,%lld,%s,,,,,%s,,\n",
			       (ts - t0) / 1000000000ULL, (ts - t0) % 1000000000ULL, rows[k].kb,
			       rows[k].kb + 4096, ts, pid, pid, rows[k].ev, rows[k].kb, rows[k].kb,
			       rows[k].cause, rows[k].label);
		}
	}
	fprintf(stderr, "gentrace: %llu processes, %llu rows\n", n, n * 6);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long long rows = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000ULL;
	unsigned long long ts = 1000000000ULL, t0 = ts, i = 0;
	long long kb = 10240, spikes = 0;
	static char buf[1 << 20];

	setvbuf(stdout, buf, _IOFBF, sizeof(buf));
	if (argc > 2 && !strcmp(argv[1], "--pids"))
		return many_pids(strtoull(argv[2], NULL, 10));
	printf("time_s,vmrss_kb,vmsize_kb,ts_ns,pid,tid,event,rss_anon_kb,rss_file_kb,"
	       "rss_shmem_kb,swap_kb,total_rss_kb,cause,addr,ip,len,ret\n");
	while (i < rows) {
		long long size = 0;

		if (i % 20000 == 0 && i)
			size = 1024LL << (i / 20000 % 7);	/* 1..64 MiB */
		for (long long k = 0; size && k < size / 4 && i < rows; k++, i++) {
			kb += 4;
			ts += 2000;
			printf("%llu.%09llu,%lld,%lld,%llu,42,42,rss,%lld,1000,0,0,%lld,fault,0x7f0000000000,0x401000,,\n",
			       (ts - t0) / 1000000000ULL, (ts - t0) % 1000000000ULL, kb, kb + 50000,
			       ts, kb - 1000, kb);
		}
		if (size && i < rows) {
			kb -= size;
			ts += 1000000;
			printf("%llu.%09llu,%lld,%lld,%llu,42,42,rss,%lld,1000,0,0,%lld,syscall:munmap,0x7f0000000000,,,\n",
			       (ts - t0) / 1000000000ULL, (ts - t0) % 1000000000ULL, kb, kb + 50000,
			       ts, kb - 1000, kb);
			i++;
			spikes++;
			continue;
		}
		kb += (i % 1000 == 0) ? 4 : (i % 2 ? 4 : -4);
		ts += 2000;
		printf("%llu.%09llu,%lld,%lld,%llu,42,42,rss,%lld,1000,0,0,%lld,fault,0x7f0000000000,0x401000,,\n",
		       (ts - t0) / 1000000000ULL, (ts - t0) % 1000000000ULL, kb, kb + 50000, ts,
		       kb - 1000, kb);
		i++;
	}
	fprintf(stderr, "gentrace: %llu rows, %lld transients of 1-64 MiB\n", rows, spikes);
	return 0;
}
