// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * faultstorm: a 4 KiB anonymous page-fault storm, the workload of `make bench`.
 *
 *   faultstorm [-m MIB] [-r REPEAT] [-t SECONDS] [-w WARM_MIB] [-b FILE [-n N]] [-p]
 *
 * Maps MIB MiB of private anonymous memory (default 1024 MiB = 262144
 * faults of 4 KiB), asks for no transparent huge pages, and writes one byte
 * per 4 KiB page so that every write takes one minor fault that allocates one
 * page (RSS +4 KiB each time). Only the touching is timed (CLOCK_MONOTONIC);
 * the mapping is then unmapped. With -r the map/touch/unmap cycle is repeated
 * and the totals are reported.
 *
 * Warm-up (-w, default = MIB; -w 0 = none): before each timed storm, WARM_MIB
 * MiB are written into a memfd with write(2) and the memfd is closed. In a VM
 * whose free memory is handed back to the host (virtio-balloon free page
 * reporting, as on Firecracker), the first guest touch of such a page costs a
 * host fault (~10 us), and how much of the free memory is "cold" depends on
 * how long the machine sat idle (0.5 s is enough to double the cost of the
 * storm). Cycling the memory through the page cache first makes every storm
 * start from warm pages, whatever ran before it. The warm-up changes no RSS
 * counter (file pages written with write(2) are not mapped), so a tracer of
 * RSS sees nothing of it. Free memory is handed back about 2 s after it was
 * freed, so keep storms short (the default takes ~0.6 s untraced): in a storm
 * that lasts several seconds, the tail can meet cold pages again.
 *
 * Soak (-t SECONDS): map/touch/unmap cycles until SECONDS have passed (-r
 * is then ignored); tools/soak.sh runs it for minutes.
 *
 * Start barrier (-b FILE, -n N, default 2): storms run side by side (the
 * bench's two-process row) start touching together. After its warm-up and
 * mmap, each appends one byte to FILE (O_APPEND: one write each, never
 * mixed) and waits until FILE holds N bytes per repetition so far, polling
 * every 50 us; the timed touching starts after the wait. The warm-ups take
 * different times in each process, so without it two "simultaneous" storms
 * overlap only partly. FILE is created if missing; give each group of
 * storms a fresh one.
 *
 * Prints one machine-readable line on stdout:
 *   faults=N seconds=S ns_per_fault=X pid=P start_ns=T0 end_ns=T1
 * start_ns/end_ns are the CLOCK_MONOTONIC bounds of the (first .. last) timed
 * touching, so a tracer's rows can be matched to the storm.
 * -p also prints one `repeat=I faults=N seconds=S ns_per_fault=X` line per
 * repetition on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"usage: %s [-m MIB] [-r REPEAT] [-t SECONDS] [-w WARM_MIB] [-b FILE [-n N]] [-p]\n"
		"  -m MIB     anonymous memory to fault in, in MiB (default 1024)\n"
		"  -r REPEAT  map/touch/unmap cycles (default 1)\n"
		"  -t SECONDS cycles until SECONDS have passed (a soak; -r is then ignored)\n"
		"  -w MIB     warm-up: cycle MIB MiB through a memfd first (default: -m; 0 = off)\n"
		"  -b FILE    start barrier: touch only once N storms given FILE are ready\n"
		"  -n N       storms that meet at the -b barrier (default 2)\n"
		"  -p         per-repetition lines on stderr\n"
		"Prints: faults=N seconds=S ns_per_fault=X pid=P start_ns=T0 end_ns=T1\n",
		argv0);
}

static unsigned long parse_ulong(const char *s, const char *what, const char *argv0,
				 int zero_ok)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || (v == 0 && !zero_ok) || s[0] == '-') {
		fprintf(stderr, "%s: bad %s '%s' (a %s integer)\n", argv0, what, s,
			zero_ok ? "non-negative" : "positive");
		exit(2);
	}
	return v;
}

/*
 * Writes len bytes into a fresh memfd and closes it: the pages it used are
 * touched by the guest and freed again just before the storm.
 */
static void warm_up(size_t len, const char *argv0)
{
	static char buf[1 << 20];
	int fd = memfd_create("faultstorm-warm", MFD_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "%s: memfd_create: %s (no warm-up)\n", argv0, strerror(errno));
		return;
	}
	memset(buf, 0x5a, sizeof(buf));
	for (size_t done = 0; done < len;) {
		size_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);
		ssize_t w = write(fd, buf, n);
		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			fprintf(stderr, "%s: warm-up write: %s (partial warm-up)\n", argv0,
				w < 0 ? strerror(errno) : "short write");
			break;
		}
		done += (size_t)w;
	}
	close(fd);
}

/*
 * Start barrier, repetition r: one byte into the shared file, then wait
 * until every one of the n storms has written its byte for this
 * repetition. Returns 0, or -1 (said on stderr) when the file fails or the
 * others do not come within 60 s.
 */
static int barrier_wait(int fd, unsigned long n, unsigned long r, const char *argv0)
{
	const off_t want = (off_t)(n * (r + 1));
	const struct timespec nap = { 0, 50000 };
	uint64_t give_up = now_ns() + 60000000000ULL;
	struct stat st;

	if (write(fd, "+", 1) != 1) {
		fprintf(stderr, "%s: barrier write: %s\n", argv0, strerror(errno));
		return -1;
	}
	for (;;) {
		if (fstat(fd, &st) != 0) {
			fprintf(stderr, "%s: barrier fstat: %s\n", argv0, strerror(errno));
			return -1;
		}
		if (st.st_size >= want)
			return 0;
		if (now_ns() > give_up) {
			fprintf(stderr, "%s: barrier: %lld of %lld arrivals after 60 s\n", argv0,
				(long long)st.st_size, (long long)want);
			return -1;
		}
		nanosleep(&nap, NULL);
	}
}

int main(int argc, char **argv)
{
	unsigned long mib = 1024, repeat = 1, warm_mib = 0, parties = 2, seconds = 0;
	int per_rep = 0, warm_set = 0, parties_set = 0, opt, bfd = -1;
	const char *barrier = NULL;

	while ((opt = getopt(argc, argv, "m:r:t:w:b:n:ph")) != -1) {
		switch (opt) {
		case 'm':
			mib = parse_ulong(optarg, "size in MiB", argv[0], 0);
			break;
		case 'r':
			repeat = parse_ulong(optarg, "repeat count", argv[0], 0);
			break;
		case 't':
			seconds = parse_ulong(optarg, "duration in seconds", argv[0], 0);
			break;
		case 'w':
			warm_mib = parse_ulong(optarg, "warm-up size in MiB", argv[0], 1);
			warm_set = 1;
			break;
		case 'b':
			barrier = optarg;
			break;
		case 'n':
			parties = parse_ulong(optarg, "barrier count", argv[0], 0);
			parties_set = 1;
			break;
		case 'p':
			per_rep = 1;
			break;
		case 'h':
			usage(stdout, argv[0]);
			return 0;
		default:
			usage(stderr, argv[0]);
			return 2;
		}
	}
	if (optind != argc || (parties_set && !barrier)) {
		if (parties_set && !barrier)
			fprintf(stderr, "%s: -n needs -b FILE\n", argv[0]);
		usage(stderr, argv[0]);
		return 2;
	}
	if (barrier) {
		bfd = open(barrier, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (bfd < 0) {
			fprintf(stderr, "%s: barrier file %s: %s\n", argv[0], barrier, strerror(errno));
			return 1;
		}
	}
	if (!warm_set)
		warm_mib = mib;
	if (mib > (SIZE_MAX >> 21) || warm_mib > (SIZE_MAX >> 21)) {
		fprintf(stderr, "%s: size too large\n", argv[0]);
		return 2;
	}

	size_t len = (size_t)mib << 20;
	size_t pages = len / PAGE;
	uint64_t total_ns = 0, first_start = 0, last_end = 0;
	uint64_t total_faults = 0, stop_ns = seconds ? now_ns() + seconds * 1000000000ULL : 0;

	for (unsigned long r = 0; seconds ? now_ns() < stop_ns : r < repeat; r++) {
		if (warm_mib)
			warm_up((size_t)warm_mib << 20, argv[0]);

		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED) {
			fprintf(stderr, "%s: mmap %zu bytes: %s\n", argv[0], len, strerror(errno));
			return 1;
		}
		/* 4 KiB faults only, whatever the THP policy says. */
		if (madvise(p, len, MADV_NOHUGEPAGE) != 0)
			fprintf(stderr, "%s: madvise(MADV_NOHUGEPAGE): %s (continuing)\n",
				argv[0], strerror(errno));

		if (bfd >= 0 && barrier_wait(bfd, parties, r, argv[0]))
			return 1;
		volatile char *v = p;
		uint64_t t0 = now_ns();
		for (size_t i = 0; i < pages; i++)
			v[i * PAGE] = 1;
		uint64_t t1 = now_ns();

		if (r == 0)
			first_start = t0;
		last_end = t1;
		total_ns += t1 - t0;
		total_faults += pages;
		if (per_rep)
			fprintf(stderr, "repeat=%lu faults=%zu seconds=%.6f ns_per_fault=%.1f\n",
				r, pages, (double)(t1 - t0) / 1e9, (double)(t1 - t0) / (double)pages);

		if (munmap(p, len) != 0) {
			fprintf(stderr, "%s: munmap: %s\n", argv[0], strerror(errno));
			return 1;
		}
	}

	printf("faults=%" PRIu64 " seconds=%.6f ns_per_fault=%.1f pid=%d start_ns=%" PRIu64
	       " end_ns=%" PRIu64 "\n",
	       total_faults, (double)total_ns / 1e9, (double)total_ns / (double)total_faults,
	       (int)getpid(), first_start, last_end);
	fflush(stdout);
	return 0;
}
