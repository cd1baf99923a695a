// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * peakrss: runs a command and says its peak RSS, as wait4's ru_maxrss.
 *
 *   peakrss CMD [ARG]... 2> err     # last line of stderr: peakrss_kb=N
 *
 * Why not read ru_maxrss from the test (Python) itself: ru_maxrss is the
 * peak over the process's whole life, and a child forked by Python starts
 * as a copy of Python's memory (~17 MB) before its exec, which would hide
 * a reader that takes 4 MB. Forked from this small program, the copy is
 * ~1 MB. Exits with the command's status (128+N if killed by signal N).
 */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct rusage ru;
	int status;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: peakrss CMD [ARG]...\n");
		return 2;
	}
	pid = fork();
	if (pid < 0) {
		perror("peakrss: fork");
		return 1;
	}
	if (!pid) {
		execvp(argv[1], argv + 1);
		perror(argv[1]);
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("peakrss: wait4");
		return 1;
	}
	fprintf(stderr, "peakrss_kb=%ld\n", ru.ru_maxrss);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
