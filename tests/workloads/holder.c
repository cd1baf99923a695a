// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * holder: for attach mode. Allocates and touches SIZE MiB, prints
 * "READY <pid>", then sits idle (no page changes) until a line arrives on
 * stdin, stdin reaches EOF, or SIGUSR1 arrives. Then it does a few
 * checkpointed steps and exits with EXIT_CODE.
 *
 *   holder [SIZE_MIB [EXIT_CODE [busy]]]   SIZE defaults to 32, EXIT_CODE to 0
 *
 * With "busy", it does not sit idle while it waits: it keeps mapping,
 * touching and unmapping anonymous memory and malloc()ing/free()ing, so an
 * attach happens in the middle of RSS changes; the checkpoints after the
 * release show whether the trace is exact from then on.
 *
 * Output (stdout, one write per line):
 *   READY <pid>
 *   CP <pid> <t0> <t1> <vmrss> <anon> <file> <shmem> <vmsize> <vmdata> <label>
 *   DONE <pid>
 */
#define CP_PROG "holder"
#include "checkpoint.h"

#include <poll.h>
#include <signal.h>
#include <sys/mman.h>

#define MAX_CP 16

static struct cp cps[MAX_CP];
static int ncp;
static char out_buf[8192];
static volatile sig_atomic_t released;

static void checkpoint(const char *label)
{
	if (ncp >= MAX_CP)
		return;
	cp_take(&cps[ncp], label);
	ncp++;
}

static void on_usr1(int sig)
{
	(void)sig;
	released = 1;
}

static void write_all(const char *s, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(1, s, len);
		if (n <= 0)
			die("write");
		s += n;
		len -= (size_t)n;
	}
}

int main(int argc, char **argv)
{
	size_t size = (size_t)(argc > 1 ? atol(argv[1]) : 32) * MIB, off;
	int code = argc > 2 ? atoi(argv[2]) : 0;
	int busy = argc > 3 && !strcmp(argv[3], "busy");
	unsigned long rounds = 0;
	struct sigaction sa;
	char line[256], *p, *q, *shm;
	int n;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);	/* no SA_RESTART: read() returns EINTR */

	memset(cps, 0, sizeof(cps));
	memset(out_buf, 0, sizeof(out_buf));
	checkpoint("warmup");
	checkpoint("warmup");
	ncp = 0;

	p = map_touched(size, 1);
	checkpoint("held");

	n = snprintf(line, sizeof(line), "READY %d\n", (int)getpid());
	write_all(line, (size_t)n);

	/* busy until released: a line or EOF on stdin */
	while (busy && !released) {
		struct pollfd pfd = { .fd = 0, .events = POLLIN };
		size_t len = (1 + rounds % 4) * MIB;
		char *b = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		char *h = malloc(200 * 1024 + rounds % 8192);

		if (b == MAP_FAILED || !h)
			die("busy alloc");
		for (off = 0; off < len; off += 4096)
			((volatile char *)b)[off] = 1;
		memset(h, 1, 200 * 1024);
		free(h);
		munmap(b, len);
		rounds++;
		if (poll(&pfd, 1, 0) > 0) {
			if (read(0, line, sizeof(line)) < 0)
				die("read stdin");
			break;
		}
	}
	/* idle until released */
	while (!busy && !released) {
		ssize_t r = read(0, line, sizeof(line));

		if (r > 0 || r == 0)
			break;
		if (errno != EINTR)
			break;
	}

	checkpoint("released");
	q = map_touched(16 * MIB, 1);
	checkpoint("alloc16M");
	shm = mmap(NULL, 4 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED)
		die("mmap shared");
	memset(shm, 7, 4 * MIB);
	checkpoint("shmem4M");
	if (munmap(p, size / 2))
		die("munmap");
	checkpoint("munmap_half");
	if (munmap(q, 16 * MIB) || munmap(shm, 4 * MIB))
		die("munmap");
	checkpoint("end");

	off = cp_format_all(out_buf, sizeof(out_buf), (int)getpid(), cps, ncp);
	off += (size_t)snprintf(out_buf + off, sizeof(out_buf) - off, "DONE %d\n", (int)getpid());
	write_all(out_buf, off);
	return code;
}
