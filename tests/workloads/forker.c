// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * forker: forks N children; child i allocates (i+1)*8 MiB, touches it,
 * takes an exact checkpoint, prints it, sleeps ~50 ms and exits with code
 * i+1. The parent waits for all of them, then takes its own checkpoint.
 *
 *   forker [-e|-s] [-w] [N]        N defaults to 3
 *     -e   each child execs /proc/self/exe --child I before allocating
 *     -s   children are started with posix_spawn() (vfork-like, CLONE_VM)
 *          of /proc/self/exe --child I
 *     -w   print "READY <pid>" and wait for a line on stdin (or EOF)
 *          before forking (for attach mode)
 *
 * Output (stdout, one write per line, children's lines interleave):
 *   CP <pid> <t0> <t1> <vmrss> <anon> <file> <shmem> <vmsize> <vmdata> <label>
 *   CHILD <pid> <i> <wait-status-exit-code>     (parent, per child)
 *   EXEC <pid> <i>                               (child, after an exec)
 *   DONE <pid>
 */
#define CP_PROG "forker"
#include "checkpoint.h"

#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>

#define MAX_CHILDREN 32

static struct cp cpbuf;
static char out_buf[4096];

static void out(int n)
{
	if (n > 0 && write(1, out_buf, (size_t)n) != n)
		die("write");
}

/* Exact checkpoint, printed at once. Everything written between t0 and t1
 * is written before t0 first (copy-on-write after fork would otherwise
 * fault inside the window): cp_take() does so for cpbuf, this for out_buf. */
static void checkpoint(const char *label)
{
	memset(out_buf, 0, sizeof(out_buf));
	cp_take(&cpbuf, label);
	out(cp_format(out_buf, sizeof(out_buf), (int)getpid(), &cpbuf));
}

static __attribute__((noreturn)) void child_body(int i)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	/* warm up the checkpoint path in this (possibly new) image */
	checkpoint("child_start");
	map_touched((size_t)(i + 1) * 8 * MIB, 1);
	checkpoint("child_alloc");
	nanosleep(&ts, NULL);
	_exit(i + 1);
}

int main(int argc, char **argv)
{
	pid_t pids[MAX_CHILDREN];
	int n = 3, do_exec = 0, do_spawn = 0, do_wait = 0, i, a, st;
	extern char **environ;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--child") && a + 1 < argc) {
			i = atoi(argv[a + 1]);
			out(snprintf(out_buf, sizeof(out_buf), "EXEC %d %d\n", (int)getpid(), i));
			child_body(i);
		} else if (!strcmp(argv[a], "-e")) {
			do_exec = 1;
		} else if (!strcmp(argv[a], "-s")) {
			do_spawn = 1;
		} else if (!strcmp(argv[a], "-w")) {
			do_wait = 1;
		} else {
			n = atoi(argv[a]);
		}
	}
	if (n < 0 || n > MAX_CHILDREN)
		n = 3;

	checkpoint("parent_start");
	if (do_wait) {
		char line[64];

		out(snprintf(out_buf, sizeof(out_buf), "READY %d\n", (int)getpid()));
		if (read(0, line, sizeof(line)) < 0)
			die("read stdin");
		checkpoint("parent_released");
	}
	for (i = 0; i < n; i++) {
		pid_t pid;

		if (do_spawn) {
			char idx[16];
			char *args[] = { "forker", "--child", idx, NULL };
			int e;

			snprintf(idx, sizeof(idx), "%d", i);
			e = posix_spawn(&pid, "/proc/self/exe", NULL, NULL, args, environ);
			if (e) {
				errno = e;
				die("posix_spawn");
			}
			pids[i] = pid;
			continue;
		}
		pid = fork();

		if (pid < 0)
			die("fork");
		if (pid == 0) {
			if (do_exec) {
				char idx[16];

				snprintf(idx, sizeof(idx), "%d", i);
				execl("/proc/self/exe", "forker", "--child", idx, (char *)NULL);
				die("exec /proc/self/exe");
			}
			child_body(i);
		}
		pids[i] = pid;
	}
	for (i = 0; i < n; i++) {
		if (waitpid(pids[i], &st, 0) < 0)
			die("waitpid");
		out(snprintf(out_buf, sizeof(out_buf), "CHILD %d %d %d\n", (int)pids[i], i,
			     WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st)));
	}
	checkpoint("parent_end");
	out(snprintf(out_buf, sizeof(out_buf), "DONE %d\n", (int)getpid()));
	return 0;
}
