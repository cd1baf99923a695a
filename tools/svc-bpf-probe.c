// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * svc-bpf-probe: the kernel side of an owned group (#16 S5) driven as the
 * daemon will drive it, for tests/test_service.py. Root only. Loads the
 * tracer with exclusive and follow set, takes a group and makes it
 * UID/GID's (tracer__group_setup; not with --no-owner: root's path), then
 * runs one case:
 *
 *   svc-bpf-probe [--no-owner] UID GID launch PROGRAM [ARGS...]
 *       fork a child that drops to UID/GID (setgroups, setresgid,
 *       setresuid), register it (tracer__expect_exec), let it exec
 *       PROGRAM (a holder: "READY" on stdout, runs on until a line on
 *       stdin); once ready, if still traced, register it again, in its
 *       group and by attach in another (exclusive: -EBUSY), release it
 *       and trace to its end
 *   svc-bpf-probe [--no-owner] UID GID untrace PROGRAM [ARGS...]
 *       the same, with tracer__untrace of the group once the child is
 *       ready, before it is released
 *   svc-bpf-probe [--no-owner] UID GID attach PID...
 *       tracer__attach_pids of running processes, then a second attach
 *       of those it traces (exclusive: -EBUSY), and trace for 300 ms
 *
 * Prints one fact a line, `name key=value ...`:
 *   group G
 *   expect_exec pid=P ret=E          attach ret=E
 *   attached pid=P no_mm=0|1 proc=E  (tracer__proc's return after it)
 *   again pid=P ret=E                (the second registration)
 *   ready pid=P alive=0|1            untrace ret=N
 *   state pid=P proc=E live=N left=N procs=N mms=N tree_pages=N
 *   exit pid=P status=S              (waitpid's, of a launched child)
 *   records pid=P TYPE=N ...         (every record of P, by type)
 *   leave pid=P why=W comm=C         after pid=P n=N
 *       (records of P after its LEAVE, or after tracer__untrace returned)
 * Exits 0 when every step ran (the facts are the test's to judge), 1 on
 * a failed step, 2 on bad usage.
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "trace/tracer.h"

#define MAX_PIDS 16

static const char *const type_names[MT_REC_TYPE_MAX] = {
	[MT_REC_RSS] = "RSS", [MT_REC_SYSCALL] = "SYSCALL", [MT_REC_FORK] = "FORK",
	[MT_REC_EXEC] = "EXEC", [MT_REC_EXIT] = "EXIT", [MT_REC_ATTACH] = "ATTACH",
	[MT_REC_CHECKPOINT] = "CHECKPOINT", [MT_REC_MARK] = "MARK",
	[MT_REC_MARK_FD_LOST] = "MARK_FD_LOST", [MT_REC_OUTPUT] = "OUTPUT",
	[MT_REC_GUARD] = "GUARD", [MT_REC_ALERT] = "ALERT", [MT_REC_LEAVE] = "LEAVE",
};

struct seen {
	pid_t pid;
	uint64_t n[MT_REC_TYPE_MAX];
	uint64_t leave_ts;	/* its LEAVE record's time (0: none) */
	uint64_t mark_ts;	/* records after this are counted in after */
	uint64_t after;
};

static struct seen seen[MAX_PIDS];
static int nseen;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static struct seen *seen_of(pid_t pid)
{
	for (int i = 0; i < nseen; i++)
		if (seen[i].pid == pid)
			return &seen[i];
	if (nseen == MAX_PIDS)
		return NULL;
	seen[nseen].pid = pid;
	return &seen[nseen++];
}

static int on_rec(void *ctx, const struct mt_rec *r)
{
	struct seen *s = seen_of((pid_t)r->pid);

	(void)ctx;
	if (!s)
		return 0;
	if (r->type < MT_REC_TYPE_MAX)
		s->n[r->type]++;
	if (s->leave_ts && r->ts_ns > s->leave_ts)
		s->after++;
	else if (s->mark_ts && r->ts_ns > s->mark_ts)
		s->after++;
	if (r->type == MT_REC_LEAVE) {
		char comm[MT_COMM_LEN + 1] = { 0 };

		memcpy(comm, r->comm, MT_COMM_LEN);
		printf("leave pid=%u why=%lld comm=%s ppid=%u anon_pages=%lld\n", r->pid,
		       (long long)r->ret, comm, r->ppid, (long long)r->pages[MT_ANON]);
		s->leave_ts = r->ts_ns;
	}
	return 0;
}

static void drain(struct tracer *t, int ms, bool final)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000ULL;

	do {
		tracer__poll(t, 20, false, on_rec, NULL, NULL);
	} while (now_ns() < end);
	if (final)
		tracer__poll(t, 0, true, on_rec, NULL, NULL);
}

static void state(struct tracer *t, uint32_t group, pid_t pid)
{
	struct mt_proc p;
	struct mt_group g;
	size_t np = 0, nm = 0;
	int e = tracer__proc(t, pid, &p);

	tracer__group(t, group, &g);
	tracer__group_entries(t, group, &np, &nm);
	printf("state pid=%d proc=%d live=%u left=%u procs=%zu mms=%zu tree_pages=%lld\n", pid, e,
	       g.live, g.left, np, nm, (long long)g.tree_pages);
}

static void print_records(void)
{
	for (int i = 0; i < nseen; i++) {
		printf("records pid=%d", seen[i].pid);
		for (int k = 1; k < MT_REC_TYPE_MAX; k++)
			if (type_names[k])
				printf(" %s=%llu", type_names[k], (unsigned long long)seen[i].n[k]);
		printf("\n");
		if (seen[i].leave_ts || seen[i].mark_ts)
			printf("after pid=%d n=%llu\n", seen[i].pid, (unsigned long long)seen[i].after);
	}
}

/* A line from fd within ms (the holder's READY, DONE). */
static bool read_line(int fd, char *buf, size_t len, int ms)
{
	size_t n = 0;

	while (n + 1 < len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		char c;

		if (poll(&pfd, 1, ms) <= 0 || read(fd, &c, 1) != 1)
			return false;
		if (c == '\n')
			break;
		buf[n++] = c;
	}
	buf[n] = 0;
	return true;
}

static int launch(struct tracer *t, uint32_t group, uid_t uid, gid_t gid, bool untrace,
		  char **argv)
{
	int go[2], in[2], out[2], status = 0, e;
	char line[256], c = 1;
	pid_t pid;

	if (pipe(go) || pipe(in) || pipe(out)) {
		perror("svc-bpf-probe: pipe");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("svc-bpf-probe: fork");
		return 1;
	}
	if (pid == 0) {
		close(go[1]);
		close(in[1]);
		close(out[0]);
		if (read(go[0], &c, 1) != 1)
			_exit(126);
		if (setgroups(0, NULL) || setresgid(gid, gid, gid) || setresuid(uid, uid, uid))
			_exit(125);
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
			_exit(124);
		execv(argv[0], argv);
		_exit(127);
	}
	close(go[0]);
	close(in[0]);
	close(out[1]);
	e = tracer__expect_exec(t, pid, group);
	printf("expect_exec pid=%d ret=%d\n", pid, e);
	if (write(go[1], &c, 1) != 1)
		return 1;
	close(go[1]);
	if (!read_line(out[0], line, sizeof(line), 10000)) {
		fprintf(stderr, "svc-bpf-probe: %s did not say READY\n", argv[0]);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return 1;
	}
	drain(t, 200, false);
	printf("ready pid=%d alive=%d\n", pid, kill(pid, 0) == 0);
	/* exclusive: traced already (or gone from the group), not taken
	 * again, by this group or another */
	{
		struct mt_proc p;
		uint32_t g2;
		bool no_mm = false;

		if (tracer__proc(t, pid, &p))
			goto not_traced;	/* it left: nothing to take again */
		e = tracer__expect_exec(t, pid, group);
		printf("again pid=%d ret=%d\n", pid, e);
		if (!tracer__group_take(t, &g2)) {
			e = tracer__attach_pids(t, &pid, 1, g2, &no_mm);
			printf("again_attach pid=%d ret=%d\n", pid, e);
			tracer__group_give_back(t, g2);
		}
	}
not_traced:
	state(t, group, pid);
	if (untrace) {
		e = tracer__untrace(t, group);
		printf("untrace ret=%d\n", e);
		seen_of(pid)->mark_ts = now_ns();
		printf("alive pid=%d alive=%d\n", pid, kill(pid, 0) == 0);
		state(t, group, pid);
	}
	/* released: it allocates and exits (DONE) */
	if (write(in[1], "go\n", 3) != 3)
		return 1;
	while (read_line(out[0], line, sizeof(line), 10000) && strncmp(line, "DONE", 4))
		;
	waitpid(pid, &status, 0);
	printf("exit pid=%d status=%d\n", pid, status);
	drain(t, 100, true);
	state(t, group, pid);
	print_records();
	return 0;
}

static int attach(struct tracer *t, uint32_t group, char **args, int n)
{
	pid_t pids[MAX_PIDS];
	bool no_mm[MAX_PIDS] = { 0 };
	int e;

	if (n > MAX_PIDS)
		n = MAX_PIDS;
	for (int i = 0; i < n; i++)
		pids[i] = (pid_t)strtol(args[i], NULL, 10);
	e = tracer__attach_pids(t, pids, n, group, no_mm);
	printf("attach ret=%d\n", e);
	for (int i = 0; i < n; i++) {
		struct mt_proc p;

		printf("attached pid=%d no_mm=%d proc=%d\n", pids[i], no_mm[i],
		       tracer__proc(t, pids[i], &p));
	}
	for (int i = 0; i < n; i++) {
		bool nm = false;

		if (no_mm[i])
			continue;	/* refused: not traced, nothing to take again */
		printf("again pid=%d ret=%d\n", pids[i], tracer__attach_pids(t, &pids[i], 1, group, &nm));
	}
	drain(t, 300, true);
	for (int i = 0; i < n; i++)
		state(t, group, pids[i]);
	print_records();
	return 0;
}

int main(int argc, char **argv)
{
	struct tracer_opts o = { .follow = true, .exclusive = true, .ring_bytes = 16 << 20,
				 .max_procs = 1024 };
	struct tracer *t = NULL;
	bool owner = true;
	char err[4096];
	uint32_t group;
	uid_t uid;
	gid_t gid;
	int e, rc = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "--no-owner")) {
		owner = false;
		argv++;
		argc--;
	}
	if (argc < 5 || (strcmp(argv[3], "launch") && strcmp(argv[3], "untrace") &&
			 strcmp(argv[3], "attach"))) {
		fprintf(stderr, "usage: svc-bpf-probe [--no-owner] UID GID launch|untrace PROGRAM [ARGS...]\n"
			"       svc-bpf-probe [--no-owner] UID GID attach PID...\n");
		return 2;
	}
	uid = (uid_t)strtoul(argv[1], NULL, 10);
	gid = (gid_t)strtoul(argv[2], NULL, 10);
	e = tracer__open(&t, &o, err, sizeof(err));
	if (e) {
		fprintf(stderr, "svc-bpf-probe: %s\n", err);
		return 1;
	}
	e = tracer__group_take(t, &group);
	if (!e && owner)
		e = tracer__group_setup(t, group, uid, gid);
	if (e) {
		fprintf(stderr, "svc-bpf-probe: taking a group: %s\n", strerror(-e));
		goto out;
	}
	printf("group %u owned=%d\n", group, owner);
	if (!strcmp(argv[3], "attach"))
		rc = attach(t, group, argv + 4, argc - 4);
	else
		rc = launch(t, group, uid, gid, !strcmp(argv[3], "untrace"), argv + 4);
out:
	tracer__destroy(t);
	return rc;
}
