// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * svc-check: the service's checks of a process (user/service/check.c) as
 * a command, for the tests: may a client of user UID, group GID (no
 * capabilities) trace PID?
 *
 *   svc-check [--pause FILE] PID UID GID [CLIENT_PID]
 *
 * --pause FILE: once the pidfd is open, print "paused" and wait until FILE
 * exists before reading /proc (a test reuses the PID meanwhile).
 *
 * With CLIENT_PID, the launch rule (PID must also be its child). Prints
 * "ok" and exits 0, or "refused: WHY" (the rule's name and sentence) and
 * exits 1; 2 on bad usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "service/check.h"

static const char *const names[SVC_WHY_MAX] = {
	[SVC_OK] = "ok", [SVC_GONE] = "gone", [SVC_INIT] = "init", [SVC_KTHREAD] = "kthread",
	[SVC_UID] = "uid", [SVC_GID] = "gid", [SVC_DUMPABLE] = "dumpable",
	[SVC_SECURE] = "secure", [SVC_CAPS] = "caps", [SVC_NOT_CHILD] = "not-child",
};

static const char *pause_file;

static void wait_for_file(pid_t pid)
{
	(void)pid;
	printf("paused\n");
	fflush(stdout);
	while (access(pause_file, F_OK))
		usleep(10000);
}

int main(int argc, char **argv)
{
	struct svc_peer who = { 0 };
	struct svc_facts f;
	enum svc_why w;
	int e;

	if (argc > 2 && !strcmp(argv[1], "--pause")) {
		pause_file = argv[2];
		svc_facts_pause = wait_for_file;
		argv += 2;
		argc -= 2;
	}
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: svc-check [--pause FILE] PID UID GID [CLIENT_PID]\n");
		return 2;
	}
	who.uid = (uid_t)strtoul(argv[2], NULL, 10);
	who.gid = (gid_t)strtoul(argv[3], NULL, 10);
	who.pid = argc == 5 ? (pid_t)strtol(argv[4], NULL, 10) : 0;
	e = svc_facts((pid_t)strtol(argv[1], NULL, 10), &f);
	if (e == -ESRCH)
		w = SVC_GONE;
	else if (e) {
		fprintf(stderr, "svc-check: reading PID %s: %s\n", argv[1], strerror(-e));
		return 2;
	} else {
		w = argc == 5 ? svc_may_launch(&f, &who) : svc_may_trace(&f, &who);
	}
	if (w == SVC_OK) {
		printf("ok\n");
		return 0;
	}
	printf("refused: %s: PID %s is %s\n", names[w], argv[1], svc_why_text(w));
	return 1;
}
