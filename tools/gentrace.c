// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gentrace: writes a synthetic memtrace-bpf CSV of N rows, for measuring
 * the analysis (memtrace-bpf spikes) on traces larger than a test makes.
 *
 *   gentrace ROWS > trace.csv
 *
 * One process: page faults of 4 KiB every ~2 us, a transient of 1 to 64 MiB
 * every 20,000 rows (filled, held, freed), and a slow leak of 4 KiB per
 * 1,000 rows. Prints on stderr how many transients it wrote.
 */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	unsigned long long rows = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000ULL;
	unsigned long long ts = 1000000000ULL, t0 = ts, i = 0;
	long long kb = 10240, spikes = 0;
	static char buf[1 << 20];

	setvbuf(stdout, buf, _IOFBF, sizeof(buf));
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
