// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * manykids: forks N short-lived children, one after the other; each
 * touches 64 KiB of its own and exits. For the memory a tracer keeps per
 * process it has seen (it should be none once a process is gone).
 *
 *   manykids N
 *
 * Output: "DONE <pid> <n>" once every child has been reaped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;

	for (long i = 0; i < n; i++) {
		pid_t p = fork();

		if (p < 0) {
			perror("fork");
			return 1;
		}
		if (p == 0) {
			static char buf[64 << 10];

			memset(buf, (int)i, sizeof(buf));
			_exit(0);
		}
		if (waitpid(p, NULL, 0) != p) {
			perror("waitpid");
			return 1;
		}
	}
	printf("DONE %d %ld\n", (int)getpid(), n);
	return 0;
}
