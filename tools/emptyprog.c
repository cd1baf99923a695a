// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * emptyprog: the yardsticks of `make bench` (tools/emptyprog.bpf.c) around
 * one command.
 *
 *   emptyprog [-s] [-v] -- COMMAND [ARGS...]
 *   emptyprog -r N [-k] [-s] [-v] -- COMMAND [ARGS...]
 *   emptyprog -f [-s] [-v] -- COMMAND [ARGS...]
 *
 * Without -r: attaches programs that return at once to tp_btf/rss_stat and
 * tp_btf/page_fault_user, the two tracepoints memtrace-bpf runs a program on
 * per change, then runs COMMAND and waits for it: the storm under it costs
 * what these tracepoints cost any BPF tool before it does any work.
 * With -r N: attaches instead, to tp_btf/rss_stat only, a program that reads
 * N per-CPU slots of the event's counter (round the possible CPUs); -k also
 * stores each value into that CPU's element of a per-CPU array. Run at two
 * values of N, the difference in ns per call gives the cost of one slot read
 * (tools/progcost.py).
 * With -f: attaches instead, to tp_btf/rss_stat only, the floor program: a
 * clock read and a 168-byte ring-buffer record per event, drained every
 * 10 ms while COMMAND runs (records= and lost= are added to its line).
 *
 * The programs are attached before COMMAND starts and detached after it
 * ends (they see every process's events meanwhile, as memtrace-bpf's do).
 * At the end, one line per attached program on stderr, from the kernel's
 * accounting (bpf_prog_info; run_time_ns stays 0 unless kernel.bpf_stats
 * is on: -s turns it on for the run):
 *   emptyprog: prog=NAME run_cnt=N run_time_ns=T
 *
 * -s  kernel BPF run-time statistics on while COMMAND runs (BPF_ENABLE_STATS:
 *     on until this process exits, whatever the sysctl says)
 * -v  libbpf's debug output
 *
 * Exit status: COMMAND's (128+N if killed by signal N; 127 not found, 126
 * not executable); 2 bad command line; 1 the programs could not be loaded
 * or attached (run as root; kernel 6.2+ with BTF).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "emptyprog.skel.h"

#define EP_MAX_CPUS 1024	/* as in emptyprog.bpf.c */
#define EP_MAX_READS 4096

static const char *prog = "emptyprog";
static bool verbose;

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [-s] [-v] -- COMMAND [ARGS...]\n"
		"       %s -r N [-k] [-s] [-v] -- COMMAND [ARGS...]\n"
		"       %s -f [-s] [-v] -- COMMAND [ARGS...]\n"
		"  (no -r)  empty programs on tp_btf/rss_stat and tp_btf/page_fault_user\n"
		"  -r N     instead: N per-CPU slot reads per rss_stat event (0-%d)\n"
		"  -f       instead: a clock read and a 168-byte ring record per rss_stat event\n"
		"  -k       with -r: also store each value in its CPU's element of a per-CPU array\n"
		"  -s       kernel BPF run-time statistics on for the run (BPF_ENABLE_STATS)\n"
		"  -v       libbpf's debug output\n"
		"Prints on stderr at the end, per program:\n"
		"  emptyprog: prog=NAME run_cnt=N run_time_ns=T\n",
		prog, prog, prog, EP_MAX_READS);
}

/* A decimal integer from 0 to max; exits 2 on anything else. */
static unsigned long parse_reads(const char *s)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] < '0' || s[0] > '9' || v > EP_MAX_READS) {
		fprintf(stderr, "%s: bad -r '%s' (slot reads per event: an integer from 0 to %d)\n",
			prog, s, EP_MAX_READS);
		exit(2);
	}
	return v;
}

/* Starts argv; returns its pid, or -(the exit status to return). */
static pid_t spawn(char **argv)
{
	int pfd[2], err = 0;
	ssize_t n;
	pid_t pid;

	/* close-on-exec: the parent reads EOF if exec worked, errno if not */
	if (pipe2(pfd, O_CLOEXEC)) {
		fprintf(stderr, "%s: pipe2: %s\n", prog, strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "%s: fork: %s\n", prog, strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		close(pfd[0]);
		execvp(argv[0], argv);
		err = errno;
		if (write(pfd[1], &err, sizeof(err)) < 0)
			_exit(127);
		_exit(err == ENOENT ? 127 : 126);
	}
	close(pfd[1]);
	do
		n = read(pfd[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(pfd[0]);
	if (n > 0) {
		fprintf(stderr, "%s: cannot run %s: %s\n", prog, argv[0], strerror(err));
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return err == ENOENT ? -127 : -126;
	}
	return pid;
}

/* The kernel's accounting of one program, on stderr. */
static void report(struct bpf_program *p)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len)) {
		fprintf(stderr, "%s: reading the run counts of %s: %s\n", prog,
			bpf_program__name(p), strerror(errno));
		return;
	}
	fprintf(stderr, "%s: prog=%s run_cnt=%llu run_time_ns=%llu\n", prog,
		bpf_program__name(p), (unsigned long long)info.run_cnt,
		(unsigned long long)info.run_time_ns);
}

static int count_rec(void *ctx, void *data, size_t size)
{
	(void)data;
	(void)size;
	++*(unsigned long long *)ctx;
	return 0;
}

/* Waits for pid, draining the floor ring every 10 ms meanwhile (rb NULL:
 * only waits). Returns waitpid's result. */
static pid_t wait_draining(pid_t pid, int *status, struct ring_buffer *rb)
{
	const struct timespec tick = { 0, 10000000 };
	pid_t w;

	for (;;) {
		w = waitpid(pid, status, rb ? WNOHANG : 0);
		if (w < 0 && errno == EINTR)
			continue;
		if (w != 0)
			break;
		ring_buffer__consume(rb);
		nanosleep(&tick, NULL);
	}
	if (rb)
		ring_buffer__consume(rb);
	return w;
}

/* Learns each possible CPU's per-cpu offset (learn_offsets, once). */
static int learn_offsets(struct emptyprog_bpf *skel)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	int err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.learn_offsets), &opts);

	if (err) {
		fprintf(stderr, "%s: running learn_offsets: %s\n", prog, strerror(-err));
		return -1;
	}
	if (opts.retval) {
		fprintf(stderr, "%s: learn_offsets failed (%s)\n", prog,
			opts.retval == 1 ? "reading the per-CPU map's base pointer"
					 : "looking up a CPU's element");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct emptyprog_bpf *skel = NULL;
	struct ring_buffer *rb = NULL;
	unsigned long long records = 0;
	long reads = -1;
	bool keep = false, stats = false, floor = false;
	int opt, cpus, stats_fd = -1, status = 0, code = 1;
	pid_t pid, w;

	while ((opt = getopt(argc, argv, "+r:fksvh")) != -1) {
		switch (opt) {
		case 'f':
			floor = true;
			break;
		case 'r':
			reads = (long)parse_reads(optarg);
			break;
		case 'k':
			keep = true;
			break;
		case 's':
			stats = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc || (keep && reads < 0) || (floor && reads >= 0)) {
		fprintf(stderr, "%s: %s\n", prog, optind >= argc ? "no command given"
			: floor && reads >= 0 ? "-f and -r are two programs: one at a time"
			: "-k needs -r N");
		usage(stderr);
		return 2;
	}
	libbpf_set_print(print_libbpf);

	cpus = libbpf_num_possible_cpus();
	if (cpus <= 0 || cpus > EP_MAX_CPUS) {
		fprintf(stderr, "%s: %d possible CPUs (this tool handles 1 to %d)\n", prog, cpus,
			EP_MAX_CPUS);
		return 1;
	}
	skel = emptyprog_bpf__open();
	if (!skel) {
		fprintf(stderr, "%s: opening the BPF object: %s\n", prog, strerror(errno));
		return 1;
	}
	skel->rodata->nr_cpus = (__u32)cpus;
	skel->rodata->reads = reads < 0 ? 0 : (__u32)reads;
	skel->rodata->keep = keep;
	/* one set of programs or the other, never both on one tracepoint */
	bpf_program__set_autoload(skel->progs.empty_rss_stat, reads < 0 && !floor);
	bpf_program__set_autoload(skel->progs.empty_fault, reads < 0 && !floor);
	bpf_program__set_autoload(skel->progs.floor_rss_stat, floor);
	bpf_program__set_autoload(skel->progs.slots_rss_stat, reads >= 0);
	bpf_program__set_autoload(skel->progs.learn_offsets, reads >= 0);
	if (emptyprog_bpf__load(skel)) {
		fprintf(stderr, "%s: loading the BPF programs failed (root, and a 6.2+ kernel "
			"with BTF, are needed; -v shows the verifier's log)\n", prog);
		goto cleanup;
	}
	if (reads >= 0 && learn_offsets(skel))
		goto cleanup;
	if (floor && !(rb = ring_buffer__new(bpf_map__fd(skel->maps.floor_ring), count_rec,
					     &records, NULL))) {
		fprintf(stderr, "%s: the floor program's ring buffer: %s\n", prog, strerror(errno));
		goto cleanup;
	}
	if (stats) {
		stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		if (stats_fd < 0) {
			fprintf(stderr, "%s: turning on BPF run-time statistics: %s\n", prog,
				strerror(errno));
			goto cleanup;
		}
	}
	if (emptyprog_bpf__attach(skel)) {
		fprintf(stderr, "%s: attaching to the tracepoints failed: %s\n", prog,
			strerror(errno));
		goto cleanup;
	}

	pid = spawn(&argv[optind]);
	if (pid < 0) {
		code = (int)-pid;
		goto cleanup;
	}
	w = wait_draining(pid, &status, rb);
	if (w < 0) {
		fprintf(stderr, "%s: waitpid(%d): %s\n", prog, (int)pid, strerror(errno));
		goto cleanup;
	}
	/* the counts of the command's run: detach first, nothing runs after */
	emptyprog_bpf__detach(skel);
	if (floor) {
		ring_buffer__consume(rb);
		report(skel->progs.floor_rss_stat);
		fprintf(stderr, "%s: floor records=%llu lost=%llu\n", prog, records,
			(unsigned long long)skel->bss->floor_lost);
	} else if (reads < 0) {
		report(skel->progs.empty_rss_stat);
		report(skel->progs.empty_fault);
	} else {
		report(skel->progs.slots_rss_stat);
	}
	code = WIFEXITED(status) ? WEXITSTATUS(status)
	     : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
cleanup:
	if (stats_fd >= 0)
		close(stats_fd);
	ring_buffer__free(rb);
	emptyprog_bpf__destroy(skel);
	return code;
}
