// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * spawner: touches 200 MiB, frees it, then posix_spawn()s /bin/true
 * (CLONE_VM|CLONE_VFORK: the child borrows this address space until its
 * exec) and waits for it. The child's peak must be its own, not 200 MiB.
 */
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

extern char **environ;

int main(void)
{
	size_t n = 200UL << 20;
	char *argv[] = { "/bin/true", NULL };
	char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pid_t child;
	int st;

	if (p == MAP_FAILED)
		return 1;
	memset(p, 1, n);
	munmap(p, n);
	if (posix_spawn(&child, "/bin/true", NULL, NULL, argv, environ))
		return 2;
	if (waitpid(child, &st, 0) != child)
		return 3;
	printf("CHILD %d\n", (int)child);
	return 0;
}
