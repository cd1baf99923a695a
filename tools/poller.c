// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * poller: the classic way to measure a program's memory, as a peer for
 * `make bench` and as a ground-truth comparison for memtrace-bpf.
 *
 *   poller [-i PERIOD] [-o FILE] [-t] [-q] -- COMMAND [ARGS...]
 *
 * Runs COMMAND (fork + exec), then reads VmRSS from /proc/PID/status every
 * PERIOD (default 10ms; absolute deadlines, so the period does not drift)
 * until the command exits, and writes the samples as CSV:
 *
 *   time_s,vmrss_kb            (-t adds two columns: ts_ns,ts_end_ns)
 *
 * time_s: seconds since the exec of COMMAND succeeded (9 decimals), taken
 * just before the read of /proc/PID/status;
 * ts_ns, ts_end_ns: CLOCK_MONOTONIC ns (the clock memtrace-bpf uses) just
 * before and just after that read. The value was read at some instant in
 * between (a read takes microseconds, while a page-fault storm changes RSS
 * every few): compare it with an exact timeline over [ts_ns, ts_end_ns].
 * The first sample is taken right after the exec; the last one is the last
 * read that still showed a VmRSS line (a process that has exited has none).
 * Only COMMAND's own process is sampled, not its children.
 *
 * PERIOD: 250us, 10ms, 1s, 2m; a bare number is seconds (as memtrace-bpf).
 * FILE: default poller.csv, "-" = stdout.
 * -q: no summary line on stderr at the end.
 *
 * Exit status: COMMAND's (128+N if killed by signal N); 127 command not
 * found, 126 not executable; 2 bad command line; 1 other errors.
 * SIGINT/SIGTERM/SIGHUP received by poller are forwarded to COMMAND.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t child_pid;

static void forward_signal(int sig)
{
	if (child_pid > 0)
		kill((pid_t)child_pid, sig);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"usage: %s [-i PERIOD] [-o FILE] [-t] [-q] -- COMMAND [ARGS...]\n"
		"  -i PERIOD  sampling period (default 10ms; 250us, 10ms, 1s, 2m; bare number = s)\n"
		"  -o FILE    CSV output time_s,vmrss_kb (default poller.csv; - = stdout)\n"
		"  -t         add ts_ns,ts_end_ns columns (CLOCK_MONOTONIC ns around each read)\n"
		"  -q         no summary on stderr\n",
		argv0);
}

/* Returns the period in ns, 0 if invalid. */
static uint64_t parse_duration(const char *s)
{
	char *end;
	double v, mult;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !(v > 0))
		return 0;
	if (*end == '\0' || !strcmp(end, "s"))
		mult = 1e9;
	else if (!strcmp(end, "ms"))
		mult = 1e6;
	else if (!strcmp(end, "us"))
		mult = 1e3;
	else if (!strcmp(end, "ns"))
		mult = 1;
	else if (!strcmp(end, "m"))
		mult = 60e9;
	else if (!strcmp(end, "h"))
		mult = 3600e9;
	else
		return 0;
	v *= mult;
	if (v < 1 || v > 1e18)
		return 0;
	return (uint64_t)v;
}

/*
 * Reads VmRSS (kB) from an open /proc/PID/status fd. Returns -1 when the line
 * is missing (the process has exited or is a zombie) or the read fails.
 */
static long long read_vmrss(int fd)
{
	char buf[8192];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	char *p;

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strstr(buf, "\nVmRSS:");
	if (!p)
		return -1;
	return strtoll(p + 7, NULL, 10);
}

int main(int argc, char **argv)
{
	const char *out_path = "poller.csv";
	uint64_t period = 10000000ULL; /* 10 ms */
	int with_ts = 0, quiet = 0, opt;

	while ((opt = getopt(argc, argv, "+i:o:tqh")) != -1) {
		switch (opt) {
		case 'i':
			period = parse_duration(optarg);
			if (!period) {
				fprintf(stderr, "%s: bad period '%s'\n", argv[0], optarg);
				return 2;
			}
			break;
		case 'o':
			out_path = optarg;
			break;
		case 't':
			with_ts = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			usage(stdout, argv[0]);
			return 0;
		default:
			usage(stderr, argv[0]);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "%s: no command given\n", argv[0]);
		usage(stderr, argv[0]);
		return 2;
	}

	FILE *out;
	if (!strcmp(out_path, "-")) {
		out = stdout;
	} else {
		out = fopen(out_path, "w");
		if (!out) {
			fprintf(stderr, "%s: %s: %s\n", argv[0], out_path, strerror(errno));
			return 1;
		}
	}

	/* A close-on-exec pipe tells us when exec succeeded, or why it failed. */
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		perror("pipe2");
		return 1;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;

	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		close(pfd[0]);
		execvp(argv[optind], &argv[optind]);
		int e = errno;
		if (write(pfd[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(e == ENOENT ? 127 : 126);
	}
	child_pid = pid;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	close(pfd[1]);

	int exec_err = 0;
	ssize_t n;
	do
		n = read(pfd[0], &exec_err, sizeof(exec_err));
	while (n < 0 && errno == EINTR);
	close(pfd[0]);

	int status = 0;
	if (n > 0) {
		fprintf(stderr, "%s: %s: %s\n", argv[0], argv[optind], strerror(exec_err));
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (out != stdout)
			fclose(out);
		if (out != stdout)
			unlink(out_path);
		return exec_err == ENOENT ? 127 : 126;
	}

	uint64_t t0 = now_ns();
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	int sfd = open(path, O_RDONLY | O_CLOEXEC);

	fprintf(out, with_ts ? "time_s,vmrss_kb,ts_ns,ts_end_ns\n" : "time_s,vmrss_kb\n");

	uint64_t samples = 0, late = 0;
	long long peak = 0;
	uint64_t next = t0;
	int reaped = 0;

	for (;;) {
		uint64_t t = now_ns();
		long long rss = sfd >= 0 ? read_vmrss(sfd) : -1;
		uint64_t t_end = now_ns();

		if (rss >= 0) {
			uint64_t d = t - t0;
			fprintf(out, "%" PRIu64 ".%09" PRIu64 ",%lld", (uint64_t)(d / 1000000000ULL),
				(uint64_t)(d % 1000000000ULL), rss);
			if (with_ts)
				fprintf(out, ",%" PRIu64 ",%" PRIu64, t, t_end);
			fputc('\n', out);
			samples++;
			if (rss > peak)
				peak = rss;
		}

		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid) {
			reaped = 1;
			break;
		}
		if (w < 0 && errno != EINTR) {
			perror("waitpid");
			break;
		}

		next += period;
		t = now_ns();
		if (next <= t) {
			/* Overran a period: skip the missed deadlines, do not burst. */
			late++;
			next = t + period - (t - next) % period;
		}
		struct timespec ts = {
			.tv_sec = (time_t)(next / 1000000000ULL),
			.tv_nsec = (long)(next % 1000000000ULL),
		};
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
	}
	if (!reaped)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	child_pid = 0;
	if (sfd >= 0)
		close(sfd);

	int err = ferror(out);
	if (out == stdout)
		err |= fflush(out) != 0;
	else
		err |= fclose(out) != 0;
	if (err) {
		fprintf(stderr, "%s: error writing %s\n", argv[0], out_path);
		return 1;
	}

	int code = WIFEXITED(status) ? WEXITSTATUS(status)
		 : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
	if (!quiet)
		fprintf(stderr,
			"poller: %" PRIu64 " samples every %.3f ms over %.3f s, peak VmRSS %lld kB, "
			"%" PRIu64 " overruns, exit %d\n",
			samples, (double)period / 1e6, (double)(now_ns() - t0) / 1e9, peak, late, code);
	return code;
}
