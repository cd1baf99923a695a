// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * pollguard: the memory guard users run today, for tools/bench-guard.sh to
 * hold memtrace-bpf --kill-at against. Those guards are scripts that poll
 * psutil every 2 s (or 100 ms), sum the RSS of a command and its
 * descendants, and kill the command once the sum is over --max-memory.
 *
 *   pollguard -i INTERVAL_MS -l LIMIT_KIB -- COMMAND [ARGS...]
 *
 * Runs COMMAND (fork + exec) in a process group of its own. Right after the
 * exec and then every INTERVAL_MS (absolute deadlines: the period does not
 * drift; missed deadlines are skipped, not made up in a burst) it finds
 * COMMAND's descendants as psutil does (every /proc/PID/stat, linked by
 * ppid), sums their VmRSS (/proc/PID/status: exact on Linux >= 6.16), and
 * when the sum is over LIMIT_KIB sends SIGKILL to the process group and to
 * every descendant it found (one that left the group with setsid included),
 * then waits for COMMAND. A descendant forked and exited between two
 * samples is never seen; neither is anything between two samples.
 * It sleeps in sigtimedwait(SIGCHLD), so COMMAND's exit is seen at once,
 * not at the next sample: the reap time is the death, not the poll.
 *
 * At the end, one line on stderr (times CLOCK_MONOTONIC ns):
 *   pollguard: killed=<0|1> kill_ns=<ns, 0 if not killed> reap_ns=<ns>
 *              maxrss_kb=<wait4 ru_maxrss> samples=<n> last_sum_kb=<kB>
 * (one line; kill_ns is read just before the kill(2) calls, reap_ns just
 * after wait4 returned; ru_maxrss is COMMAND's largest RSS, or that of a
 * descendant it waited for, read by the kernel's approximate counter;
 * last_sum_kb is the sum of the last sample, the one that fired if killed).
 *
 * Exit status: COMMAND's (128+N if killed by signal N: 137 after a kill);
 * 127 command not found, 126 not executable; 2 bad command line; 1 other
 * errors. SIGINT/SIGTERM/SIGHUP received by pollguard go to the group.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct proc {
	pid_t pid, ppid;
	bool in_tree;
};

struct ptable {
	struct proc *v;
	size_t n, cap;
};

static volatile sig_atomic_t child_pgid;
static const char *prog = "pollguard";

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void forward_signal(int sig)
{
	if (child_pgid > 0)
		kill(-(pid_t)child_pgid, sig);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s -i INTERVAL_MS -l LIMIT_KIB -- COMMAND [ARGS...]\n"
		"  -i INTERVAL_MS  sample COMMAND and its descendants every INTERVAL_MS ms\n"
		"  -l LIMIT_KIB    SIGKILL the process group when their VmRSS sum is over LIMIT_KIB kB\n"
		"Prints on stderr at the end:\n"
		"  pollguard: killed=0|1 kill_ns=NS reap_ns=NS maxrss_kb=KB samples=N last_sum_kb=KB\n",
		prog);
}

/* A positive decimal integer up to MAX; exits 2 on anything else. */
static unsigned long long parse_ull(const char *s, const char *what, unsigned long long max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || !isdigit((unsigned char)s[0]) || v == 0 || v > max) {
		fprintf(stderr, "%s: bad %s '%s' (an integer from 1 to %llu)\n", prog, what, s, max);
		exit(2);
	}
	return v;
}

/* Reads a small /proc file into buf (NUL-terminated); -1 if it is gone. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/*
 * Fills t with every process's (pid, ppid): /proc's top level lists thread
 * groups only, so threads are not counted twice. A process that exits
 * during the walk is skipped. Returns 0, or -1 when /proc cannot be read.
 */
static int ptable__scan(struct ptable *t)
{
	char path[64], buf[512];
	struct dirent *de;
	DIR *d = opendir("/proc");

	if (!d)
		return -1;
	t->n = 0;
	while ((de = readdir(d))) {
		char *end, *p;
		long pid = strtol(de->d_name, &end, 10);
		long ppid;

		if (*end || pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		if (read_small(path, buf, sizeof(buf)) <= 0)
			continue;
		/* "pid (comm) state ppid ...": comm may hold spaces and ')' */
		p = strrchr(buf, ')');
		if (!p || sscanf(p + 1, " %*c %ld", &ppid) != 1)
			continue;
		if (t->n == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 1024;
			struct proc *v = realloc(t->v, cap * sizeof(*v));

			if (!v) {
				closedir(d);
				return -1;
			}
			t->v = v;
			t->cap = cap;
		}
		t->v[t->n++] = (struct proc){ .pid = (pid_t)pid, .ppid = (pid_t)ppid };
	}
	closedir(d);
	return 0;
}

/* Marks root and its descendants in t; returns how many there are. */
static size_t ptable__mark_tree(struct ptable *t, pid_t root)
{
	size_t i, marked = 0;
	bool changed = true;

	for (i = 0; i < t->n; i++) {
		t->v[i].in_tree = t->v[i].pid == root;
		marked += t->v[i].in_tree;
	}
	/* a tree is a few levels deep: repeat until no process joins */
	while (changed) {
		changed = false;
		for (i = 0; i < t->n; i++) {
			if (t->v[i].in_tree)
				continue;
			for (size_t j = 0; j < t->n; j++) {
				if (t->v[j].in_tree && t->v[j].pid == t->v[i].ppid) {
					t->v[i].in_tree = true;
					marked++;
					changed = true;
					break;
				}
			}
		}
	}
	return marked;
}

/* VmRSS of pid in kB; 0 when it has none (a zombie, gone, a kernel thread). */
static long long vmrss_kb(pid_t pid)
{
	char path[64], buf[4096];
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (read_small(path, buf, sizeof(buf)) <= 0)
		return 0;
	p = strstr(buf, "\nVmRSS:");
	return p ? strtoll(p + 7, NULL, 10) : 0;
}

/* One sample: the VmRSS sum of root's tree (root alone if /proc fails). */
static long long tree_rss_kb(struct ptable *t, pid_t root)
{
	long long sum = 0;

	if (ptable__scan(t) || !ptable__mark_tree(t, root))
		return vmrss_kb(root);
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].in_tree)
			sum += vmrss_kb(t->v[i].pid);
	return sum;
}

/* Whether pid has exited, leaving it waitable (the reap takes its rusage). */
static bool child_exited(pid_t pid)
{
	siginfo_t si;

	si.si_pid = 0;
	return !waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) && si.si_pid == pid;
}

/* Starts argv in a new process group; returns its pid, or -(exit status). */
static pid_t spawn(char **argv)
{
	int pfd[2], exec_err = 0;
	ssize_t n;
	pid_t pid;

	/* a close-on-exec pipe says whether exec succeeded, or why it failed */
	if (pipe2(pfd, O_CLOEXEC)) {
		fprintf(stderr, "%s: pipe2: %s\n", prog, strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "%s: fork: %s\n", prog, strerror(errno));
		return -1;
	}
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setpgid(0, 0);
		close(pfd[0]);
		execvp(argv[0], argv);
		exec_err = errno;
		if (write(pfd[1], &exec_err, sizeof(exec_err)) < 0)
			_exit(127);
		_exit(exec_err == ENOENT ? 127 : 126);
	}
	/* both sides set the group, so it exists before either goes on */
	setpgid(pid, pid);
	close(pfd[1]);
	do
		n = read(pfd[0], &exec_err, sizeof(exec_err));
	while (n < 0 && errno == EINTR);
	close(pfd[0]);
	if (n > 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, argv[0], strerror(exec_err));
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return exec_err == ENOENT ? -127 : -126;
	}
	return pid;
}

int main(int argc, char **argv)
{
	unsigned long long interval_ms = 0, limit_kb = 0;
	uint64_t period, next, kill_ns = 0, reap_ns;
	struct ptable table = { 0 };
	long long last_sum = 0;
	unsigned long samples = 0;
	struct sigaction sa;
	struct rusage ru;
	sigset_t chld;
	int opt, status = 0, code;
	bool killed = false;
	pid_t pid, w;

	while ((opt = getopt(argc, argv, "+i:l:h")) != -1) {
		switch (opt) {
		case 'i':
			interval_ms = parse_ull(optarg, "interval in ms", 86400000ULL);
			break;
		case 'l':
			limit_kb = parse_ull(optarg, "limit in KiB", 1ULL << 50);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!interval_ms || !limit_kb || optind >= argc) {
		fprintf(stderr, "%s: %s\n", prog, optind >= argc ? "no command given" :
			!interval_ms ? "-i INTERVAL_MS is required" : "-l LIMIT_KIB is required");
		usage(stderr);
		return 2;
	}
	period = interval_ms * 1000000ULL;

	/* SIGCHLD stays pending until sigtimedwait takes it: no lost wake-up */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);

	pid = spawn(&argv[optind]);
	if (pid < 0)
		return -pid;
	child_pgid = pid;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	next = now_ns();
	for (;;) {
		uint64_t t;

		last_sum = tree_rss_kb(&table, pid);
		samples++;
		if (last_sum > (long long)limit_kb) {
			kill_ns = now_ns();
			kill(-pid, SIGKILL);
			/* the tree of this sample: a descendant that left the group too */
			for (size_t i = 0; i < table.n; i++)
				if (table.v[i].in_tree)
					kill(table.v[i].pid, SIGKILL);
			killed = true;
			break;
		}

		next += period;
		t = now_ns();
		if (next <= t)	/* overran: skip the missed deadlines, no burst */
			next = t + period - (t - next) % period;
		/* sleep until the deadline, or until COMMAND changes state */
		for (;;) {
			struct timespec ts;
			int sig;

			t = now_ns();
			if (t >= next)
				break;
			ts.tv_sec = (time_t)((next - t) / 1000000000ULL);
			ts.tv_nsec = (long)((next - t) % 1000000000ULL);
			sig = sigtimedwait(&chld, NULL, &ts);
			if (sig == SIGCHLD && child_exited(pid))
				goto reap;
		}
		if (child_exited(pid))
			goto reap;
	}
reap:
	while ((w = wait4(pid, &status, 0, &ru)) < 0 && errno == EINTR)
		;
	reap_ns = now_ns();
	child_pgid = 0;
	if (w < 0) {
		fprintf(stderr, "%s: wait4(%d): %s\n", prog, (int)pid, strerror(errno));
		memset(&ru, 0, sizeof(ru));
	}
	free(table.v);

	code = WIFEXITED(status) ? WEXITSTATUS(status)
	     : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
	fprintf(stderr,
		"%s: killed=%d kill_ns=%" PRIu64 " reap_ns=%" PRIu64 " maxrss_kb=%ld samples=%lu last_sum_kb=%lld\n",
		prog, killed, kill_ns, reap_ns, ru.ru_maxrss, samples, last_sum);
	return code;
}
