// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * leaderexit: main() prints its PID and calls pthread_exit(); a worker
 * thread keeps allocating for ~2 s. /proc shows a zombie leader while the
 * process lives on: it must still be attachable.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *worker(void *arg)
{
	(void)arg;
	usleep(300000);		/* let the leader exit first */
	for (int i = 0; i < 20; i++) {
		char *p = malloc(1 << 20);

		if (p)
			memset(p, 1, 1 << 20);
		usleep(100000);
	}
	return NULL;
}

int main(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, worker, NULL))
		return 1;
	printf("READY %d\n", (int)getpid());
	fflush(stdout);
	pthread_exit(NULL);
}
