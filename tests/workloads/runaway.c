// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * runaway: a runaway allocator, the workload of the guard's tests and of
 * tools/bench-guard.sh (memtrace-bpf --kill-at vs pollers vs a cgroup limit).
 *
 *   runaway [-t THREADS] [-p 4k|thp] [-r MIB_PER_S] [-m MAX_MIB]
 *           [-c CHUNK_KIB] [--term-handler] [--warm]
 *
 * Each of THREADS threads (default 1, at most 64) maps private anonymous
 * memory and writes one byte into every 4 KiB page of it, CHUNK_KIB
 * (default 1024, a multiple of 4) at a time, as fast as it can, or paced so
 * that all threads together touch MIB_PER_S MiB a second (-r). Together they
 * stop at MAX_MIB MiB (default 4096: a safety cap, split evenly between the
 * threads), then hold the memory for 30 s (-H HOLD_MS: that long, 0: not
 * at all) and exit 0, so that an unguarded run ends.
 *
 * -p 4k (default): MADV_NOHUGEPAGE, so every page is one 4 KiB fault and
 *   RSS grows 4 KiB at a time.
 * -p thp: each thread's region is 2 MiB-aligned and MADV_HUGEPAGE, so with
 *   THP in `madvise` (or `always`) mode the first write into each 2 MiB
 *   maps a whole huge page (RSS +2 MiB in one fault). RSS then runs ahead of
 *   the kb= count below by up to one huge page per thread. Whether huge pages
 *   were really used is printed on the `full` line (thp_kb=).
 * --warm: before `start`, cycles MAX_MIB MiB through a memfd (written with
 *   write(2), then closed), as tools/faultstorm.c does: in a VM that hands
 *   freed memory back to its host, the first touch of such a page costs a
 *   host fault, ~5x a guest fault, and the run's speed would depend on how
 *   long the machine sat idle. The warm-up maps nothing (no RSS change), but
 *   its page-cache pages are charged to the memory cgroup while it lasts: do
 *   not combine --warm with a cgroup limit below MAX_MIB.
 * --term-handler: SIGTERM writes `term ns=<CLOCK_MONOTONIC>` and
 *   `clean-exit`, then _exit(0) (for a guard's --kill-signal TERM).
 *   Without it SIGTERM has its default action.
 *
 * Prints on stdout, each line with one write(2), so that nothing written is
 * lost when the process is SIGKILLed mid-run (all times CLOCK_MONOTONIC ns,
 * the clock of memtrace-bpf's ts_ns):
 *   start ns=<ns> pid=<pid>                 first, just before the threads start
 *   base rss_kb=<kB>                        VmRSS just before `start`: the
 *                                           program itself (libc, stacks...)
 *   t <tid> kb=<kB> ns=<ns>                 each time a thread has touched a
 *                                           chunk: kb = all threads' total so
 *                                           far, ns = when this chunk was done
 *   full kb=<kB> ns=<ns> thp_kb=<kB>        every thread reached its share
 *                                           (thp_kb: AnonHugePages, -1 unknown)
 *   term ns=<ns> / clean-exit               --term-handler, on SIGTERM
 * kb counts memory touched, not RSS: RSS is about base + kb (plus the
 * threads' stacks, a few pages; with -p thp, up to a huge page per thread
 * ahead). Lines of several threads may interleave out of kb order by a
 * line or two.
 *
 * Exit status: 0 after the hold (or on SIGTERM with --term-handler); 2 bad
 * command line; 1 mmap or thread creation failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE		4096UL
#define HUGE_PAGE	(2UL << 20)
#define MAX_THREADS	64
#define HOLD_S		30

struct worker {
	pthread_t thread;
	size_t bytes;		/* this thread's share */
	int id;
};

static struct {
	int threads;
	bool thp;
	unsigned long rate_mib;	/* 0: as fast as possible */
	unsigned long max_mib;
	unsigned long chunk_kib;
	bool term_handler;
	bool warm;
	unsigned long hold_ms;
} opt = {
	.threads = 1,
	.max_mib = 4096,
	.chunk_kib = 1024,
	.hold_ms = HOLD_S * 1000,
};

static atomic_ulong total_kb;
static uint64_t start_ns;
static const char *prog = "runaway";

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * Line building without stdio: async-signal-safe (the SIGTERM handler uses
 * it) and cheap (one line per chunk, from several threads at once).
 */
struct line {
	char buf[128];
	size_t len;
};

static void line_str(struct line *l, const char *s)
{
	while (*s && l->len < sizeof(l->buf))
		l->buf[l->len++] = *s++;
}

static void line_num(struct line *l, int64_t v)
{
	char tmp[24];
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	int n = 0;

	do
		tmp[n++] = (char)('0' + u % 10);
	while ((u /= 10) && n < (int)sizeof(tmp));
	if (v < 0)
		line_str(l, "-");
	while (n && l->len < sizeof(l->buf))
		l->buf[l->len++] = tmp[--n];
}

/* One write(2) per line; a short write (a full pipe, a signal) is retried. */
static void line_write(struct line *l)
{
	size_t off = 0;

	line_str(l, "\n");
	while (off < l->len) {
		ssize_t w = write(STDOUT_FILENO, l->buf + off, l->len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;	/* stdout closed: keep running, as a real program would */
		off += (size_t)w;
	}
}

static void on_sigterm(int sig)
{
	struct line l = { .len = 0 };
	int saved = errno;

	line_str(&l, "term ns=");
	line_num(&l, (int64_t)now_ns());
	line_write(&l);
	l.len = 0;
	line_str(&l, "clean-exit");
	line_write(&l);
	errno = saved;
	_exit(0);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [-t THREADS] [-p 4k|thp] [-r MIB_PER_S] [-m MAX_MIB] [-c CHUNK_KIB]\n"
		"       %*s [-H HOLD_MS] [--term-handler] [--warm]\n"
		"  -t THREADS      allocating threads (default 1, at most %d)\n"
		"  -p 4k|thp       4 KiB faults (MADV_NOHUGEPAGE, default) or huge pages (MADV_HUGEPAGE)\n"
		"  -r MIB_PER_S    pace all threads together to this rate (default: as fast as possible)\n"
		"  -m MAX_MIB      stop at this total, hold %d s, exit 0 (default 4096)\n"
		"  -c CHUNK_KIB    one `t` line per CHUNK_KIB touched by a thread (default 1024, multiple of 4)\n"
		"  -H HOLD_MS      hold the memory this long at MAX_MIB (default the %d s above; 0: none)\n"
		"  --term-handler  on SIGTERM print `term ns=..` and `clean-exit`, exit 0\n"
		"  --warm          first cycle MAX_MIB through a memfd (warm pages in a VM)\n"
		"Prints: start ns=NS pid=PID, base rss_kb=KB, then t TID kb=KB ns=NS per chunk,\n"
		"        full kb=KB ns=NS thp_kb=KB\n",
		prog, (int)strlen(prog), "", MAX_THREADS, HOLD_S, HOLD_S);
}

/* A positive decimal integer up to MAX; exits 2 on anything else. */
static unsigned long parse_ulong(const char *s, const char *what, unsigned long max)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || s[0] == '+' || v == 0 || v > max) {
		fprintf(stderr, "%s: bad %s '%s' (an integer from 1 to %lu)\n", prog, what, s, max);
		exit(2);
	}
	return v;
}

static void parse_args(int argc, char **argv)
{
	enum { OPT_TERM = 1000, OPT_WARM };
	static const struct option longopts[] = {
		{ "term-handler", no_argument, NULL, OPT_TERM },
		{ "warm", no_argument, NULL, OPT_WARM },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "t:p:r:m:c:H:h", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			opt.threads = (int)parse_ulong(optarg, "thread count", MAX_THREADS);
			break;
		case 'p':
			if (!strcmp(optarg, "4k")) {
				opt.thp = false;
			} else if (!strcmp(optarg, "thp")) {
				opt.thp = true;
			} else {
				fprintf(stderr, "%s: bad page kind '%s' (4k or thp)\n", prog, optarg);
				exit(2);
			}
			break;
		case 'r':
			opt.rate_mib = parse_ulong(optarg, "rate in MiB/s", 1UL << 30);
			break;
		case 'm':
			opt.max_mib = parse_ulong(optarg, "size in MiB", 1UL << 30);
			break;
		case 'H':
			/* 0 is allowed here: no hold */
			opt.hold_ms = strcmp(optarg, "0") ?
				      parse_ulong(optarg, "hold in ms", 3600UL * 1000) : 0;
			break;
		case 'c':
			opt.chunk_kib = parse_ulong(optarg, "chunk in KiB", 1UL << 30);
			if (opt.chunk_kib % (PAGE / 1024)) {
				fprintf(stderr, "%s: bad chunk in KiB '%s' (a multiple of 4)\n", prog, optarg);
				exit(2);
			}
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case OPT_TERM:
			opt.term_handler = true;
			break;
		case OPT_WARM:
			opt.warm = true;
			break;
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
		usage(stderr);
		exit(2);
	}
}

/*
 * Writes len bytes into a fresh memfd and closes it, so that the pages the
 * allocator is about to hand out were touched by this guest moments ago and
 * are backed by the host (see tools/faultstorm.c). A failure only costs
 * speed: say so and go on.
 */
static void warm_up(size_t len)
{
	static char buf[64 << 10];	/* small: it is RSS of ours */
	int fd = memfd_create("runaway-warm", MFD_CLOEXEC);
	size_t done = 0;

	if (fd < 0) {
		fprintf(stderr, "%s: memfd_create: %s (no warm-up)\n", prog, strerror(errno));
		return;
	}
	memset(buf, 0x5a, sizeof(buf));
	while (done < len) {
		size_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);
		ssize_t w = write(fd, buf, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			fprintf(stderr, "%s: warm-up write after %zu MiB: %s (partial warm-up)\n",
				prog, done >> 20, w < 0 ? strerror(errno) : "short write");
			break;
		}
		done += (size_t)w;
	}
	close(fd);
}

/* Sleeps until CLOCK_MONOTONIC reaches ns. */
static void sleep_until(uint64_t ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(ns / 1000000000ULL),
		.tv_nsec = (long)(ns % 1000000000ULL),
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Maps len bytes, 2 MiB-aligned for -p thp, with the page-size advice. */
static char *map_region(size_t len)
{
	size_t map_len = opt.thp ? len + HUGE_PAGE : len;
	char *p, *start;

	p = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	start = p;
	if (opt.thp) {
		/* A huge page needs a 2 MiB-aligned 2 MiB range inside the VMA. */
		start = (char *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1));
		if (start > p)
			munmap(p, (size_t)(start - p));
		if (start + len < p + map_len)
			munmap(start + len, (size_t)(p + map_len - (start + len)));
	}
	if (madvise(start, len, opt.thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))
		fprintf(stderr, "%s: madvise(%s): %s (continuing)\n", prog,
			opt.thp ? "MADV_HUGEPAGE" : "MADV_NOHUGEPAGE", strerror(errno));
	return start;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	size_t chunk = opt.chunk_kib * 1024, off = 0;
	pid_t tid = gettid();
	volatile char *p;

	p = (volatile char *)map_region(w->bytes);
	if (!p) {
		fprintf(stderr, "%s: thread %d: mmap %zu MiB: %s\n", prog, w->id, w->bytes >> 20,
			strerror(errno));
		exit(1);
	}
	while (off < w->bytes) {
		size_t n = w->bytes - off < chunk ? w->bytes - off : chunk;
		struct line l = { .len = 0 };
		unsigned long kb;
		uint64_t t;

		for (size_t i = 0; i < n; i += PAGE)
			p[off + i] = 1;
		off += n;
		t = now_ns();
		kb = atomic_fetch_add(&total_kb, n / 1024) + n / 1024;

		line_str(&l, "t ");
		line_num(&l, tid);
		line_str(&l, " kb=");
		line_num(&l, (int64_t)kb);
		line_str(&l, " ns=");
		line_num(&l, (int64_t)t);
		line_write(&l);

		/* -r: the total so far is due at start + kb / rate */
		if (opt.rate_mib)
			sleep_until(start_ns + (uint64_t)((double)kb * 1e9 / ((double)opt.rate_mib * 1024)));
	}
	return NULL;
}

/*
 * The kB value of the line "KEY:" in a /proc file of ours (KEY given with
 * its leading newline and colon: "\nVmRSS:"), -1 when it cannot be read.
 */
static long proc_kb(const char *path, const char *key)
{
	char buf[4096];
	ssize_t n;
	char *s;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	s = strstr(buf, key);
	return s ? strtol(s + strlen(key), NULL, 10) : -1;
}

int main(int argc, char **argv)
{
	static struct worker workers[MAX_THREADS];
	size_t total = 0, share;
	struct line l = { .len = 0 };
	long base_kb;
	int i, err;

	if (argv[0] && argv[0][0]) {
		const char *slash = strrchr(argv[0], '/');

		prog = slash ? slash + 1 : argv[0];
	}
	parse_args(argc, argv);

	if (opt.term_handler) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_sigterm;
		sigfillset(&sa.sa_mask);
		if (sigaction(SIGTERM, &sa, NULL)) {
			fprintf(stderr, "%s: sigaction(SIGTERM): %s\n", prog, strerror(errno));
			return 1;
		}
	}

	/* shares in whole pages: the last thread takes the remainder */
	share = ((opt.max_mib << 20) / (size_t)opt.threads) & ~(PAGE - 1);
	for (i = 0; i < opt.threads; i++) {
		workers[i].id = i;
		workers[i].bytes = i == opt.threads - 1 ? (opt.max_mib << 20) - total : share;
		total += workers[i].bytes;
	}

	if (opt.warm)
		warm_up(opt.max_mib << 20);

	base_kb = proc_kb("/proc/self/status", "\nVmRSS:");
	start_ns = now_ns();
	line_str(&l, "start ns=");
	line_num(&l, (int64_t)start_ns);
	line_str(&l, " pid=");
	line_num(&l, getpid());
	line_write(&l);
	l.len = 0;
	line_str(&l, "base rss_kb=");
	line_num(&l, base_kb);
	line_write(&l);

	for (i = 0; i < opt.threads; i++) {
		err = pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
		if (err) {
			fprintf(stderr, "%s: pthread_create (thread %d of %d): %s\n", prog, i + 1,
				opt.threads, strerror(err));
			return 1;
		}
	}
	for (i = 0; i < opt.threads; i++)
		pthread_join(workers[i].thread, NULL);

	l.len = 0;
	line_str(&l, "full kb=");
	line_num(&l, (int64_t)atomic_load(&total_kb));
	line_str(&l, " ns=");
	line_num(&l, (int64_t)now_ns());
	line_str(&l, " thp_kb=");
	line_num(&l, proc_kb("/proc/self/smaps_rollup", "\nAnonHugePages:"));
	line_write(&l);

	sleep_until(now_ns() + (uint64_t)opt.hold_ms * 1000000ULL);
	return 0;
}
