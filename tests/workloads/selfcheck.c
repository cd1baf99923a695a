// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * selfcheck: an application that measures itself, as solvers do: it reads
 * /proc/self/status at checkpoints (and prints what it read), and between
 * checkpoints makes a transient allocation no checkpoint sees. For the
 * checkpoint validation tests.
 *
 *   selfcheck [N]      N transients (default 6), of 4, 8, 12... MiB
 *
 * Between the checkpoints it also reads /proc/self/statm, the
 * smaps_rollup and /proc/<pid>/status, rewinds a kept-open status fd, and
 * calls getrusage, each once, bracketed by its own clock.
 *
 * On stderr, as it goes (unbuffered, one write per line), the lines an
 * application logs:
 *   checkpoint I: RSS now: <VmRSS> kB
 *   Peak RSS: <largest VmRSS it saw>.<2 decimals> MB      at the end
 * On stdout at the end (sizes in kB, times CLOCK_MONOTONIC ns):
 *   CP <pid> <t0> <t1> <vmrss> <anon> <file> <shmem> <vmsize> <vmdata> <label>
 *   T <size_kb> <t_start> <t_end> <after checkpoint label>
 *   X <what> <t0> <t1> <kb>      the other reads (kb: what it read, or -1)
 *   DONE <pid>
 */
#define CP_PROG "selfcheck"
#include "checkpoint.h"

#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#define MAX_CP 64

static struct cp cps[MAX_CP];
static int ncp;
static char out[65536], line[256];
static long seen_max;

struct tr {
	long kb;
	long long start, end;
	int after;
} trs[MAX_CP];
static int ntr;

struct extra {
	const char *what;
	long long t0, t1;
	long kb;
} xs[16];
static int nx;

static void say(const char *s)
{
	if (write(2, s, strlen(s)) < 0)
		_exit(98);
}

static void checkpoint(const char *label, bool log)
{
	cp_take(&cps[ncp], label);
	if (cps[ncp].vmrss > seen_max)
		seen_max = cps[ncp].vmrss;
	if (log) {
		snprintf(line, sizeof(line), "checkpoint %d: RSS now: %ld kB\n", ncp, cps[ncp].vmrss);
		say(line);
	}
	ncp++;
}

/* Reads PATH once into buf (whole, from offset 0), between two clock reads. */
static void read_file(const char *what, const char *path, char *buf, size_t len)
{
	struct extra *x = &xs[nx++];
	ssize_t n, got = 0;
	int fd;

	touch_stack();
	memset(buf, 0, len);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(path);
	x->what = what;
	x->t0 = now_ns();
	while ((n = read(fd, buf + got, len - 1 - (size_t)got)) > 0)
		got += n;
	x->t1 = now_ns();
	close(fd);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 6, i, fd;
	static char buf[16384];
	char path[64];
	size_t off;
	pid_t pid = getpid();

	if (n < 1 || n > MAX_CP - 8)
		n = 6;
	/* 4 KiB pages only: a transient's rise is exactly its size */
	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	memset(out, 0, sizeof(out));
	memset(line, 0, sizeof(line));
	memset(xs, 0, sizeof(xs));
	memset(trs, 0, sizeof(trs));
	checkpoint("warmup", false);
	checkpoint("warmup", false);
	snprintf(line, sizeof(line), "warmup %ld\n", seen_max);
	ncp = 0;
	seen_max = 0;

	checkpoint("start", true);
	for (i = 0; i < n; i++) {
		size_t len = (size_t)(i + 1) * 4 * MIB;
		struct tr *t = &trs[ntr++];
		char *p;

		t->kb = (long)(len / 1024);
		t->after = ncp - 1;
		t->start = now_ns();
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
			 -1, 0);
		if (p == MAP_FAILED)
			die("mmap");
		munmap(p, len);
		t->end = now_ns();
		snprintf(buf, sizeof(buf), "cp%d", i + 1);
		checkpoint(buf, true);
	}

	/* the other ways a program reads its own figures */
	read_file("statm", "/proc/self/statm", buf, sizeof(buf));
	xs[nx - 1].kb = strtol(strchr(buf, ' ') + 1, NULL, 10) * 4;
	read_file("smaps_rollup", "/proc/self/smaps_rollup", buf, sizeof(buf));
	xs[nx - 1].kb = field(buf, "\nRss:");
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	read_file("pid_status", path, buf, sizeof(buf));
	xs[nx - 1].kb = field(buf, "\nVmRSS:");
	{
		/* a poller-style reader: one fd, pread at 0 each time */
		struct extra *x;
		ssize_t got;

		fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die("open status");
		for (int k = 0; k < 2; k++) {
			x = &xs[nx++];
			x->what = "pread0";
			memset(buf, 0, sizeof(buf));
			x->t0 = now_ns();
			got = pread(fd, buf, sizeof(buf) - 1, 0);
			x->t1 = now_ns();
			if (got <= 0)
				die("pread status");
			x->kb = field(buf, "\nVmRSS:");
		}
		close(fd);
	}
	{
		struct rusage ru;
		struct extra *x = &xs[nx++];

		x->what = "getrusage";
		x->t0 = now_ns();
		getrusage(RUSAGE_SELF, &ru);
		x->t1 = now_ns();
		x->kb = ru.ru_maxrss;
	}
	/* what the application believes its peak was */
	snprintf(line, sizeof(line), "Peak RSS: %ld.%02ld MB\n", seen_max / 1024,
		 (seen_max % 1024) * 100 / 1024);
	say(line);

	off = cp_format_all(out, sizeof(out), (int)pid, cps, ncp);
	for (i = 0; i < ntr; i++)
		off += (size_t)snprintf(out + off, sizeof(out) - off, "T %ld %lld %lld %s\n",
					trs[i].kb, trs[i].start, trs[i].end, cps[trs[i].after].label);
	for (i = 0; i < nx; i++)
		off += (size_t)snprintf(out + off, sizeof(out) - off, "X %s %lld %lld %ld\n",
					xs[i].what, xs[i].t0, xs[i].t1, xs[i].kb);
	snprintf(out + off, sizeof(out) - off, "DONE %d\n", (int)pid);
	if (write(1, out, strlen(out)) < 0)
		return 98;
	return 0;
}
