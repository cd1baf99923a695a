// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Capture mode (record --comm NAME / --cgroup PATH -d DIR): every process
 * that execs into NAME (or in the cgroup) while we run is traced from its
 * exec, one trace per process (with the children it forks), for campaigns
 * driven by someone else's script or scheduler. The kernel side starts a
 * group per matching process; its exec record (or, when that was dropped,
 * the group table) starts a run for it here. A client of the runner.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cmd/capture.h"
#include "cmd/cmd.h"
#include "lib/clock.h"
#include "lib/files.h"
#include "lib/units.h"
#include "lib/zstream.h"
#include "trace/preflight.h"
#include "trace/runner.h"

struct capture {
	const struct capture_opts *o;
	int dirfd;		/* -d DIR */
	size_t started;
	uint64_t next_scan;
	uint32_t missed_said;
	bool failed;
};

/* DIR/COMM-PID, or COMM-PID-2... when a reused PID already has one; its
 * name in name, an O_DIRECTORY fd returned (or -errno). */
static int make_run_dir(const struct capture *c, char *name, size_t len, const char *comm_in,
			uint32_t pid)
{
	char comm[MT_COMM_LEN + 1];

	snprintf(comm, sizeof(comm), "%s", comm_in[0] ? comm_in : "process");
	for (char *p = comm; *p; p++)
		if (*p == '/' || *p == ' ')
			*p = '_';
	for (int k = 1; k < 1000; k++) {
		int fd;

		if (k == 1)
			snprintf(name, len, "%s-%u", comm, pid);
		else
			snprintf(name, len, "%s-%u-%d", comm, pid, k);
		if (mkdirat(c->dirfd, name, 0755)) {
			if (errno == EEXIST)
				continue;
			return -errno;
		}
		fd = openat(c->dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		give_fd_to_user(fd, name);
		return fd;
	}
	return -EEXIST;
}

/* The kernel started group g for a matching process: its run. NULL when
 * it cannot start (said; capture then stops). */
static struct run *start_run(struct capture *c, struct runner *rn, uint32_t g)
{
	char name[64], dir[PATH_MAX + 64], csv[PATH_MAX + 96], summary[PATH_MAX + 96], err[1024];
	struct mt_group gr;
	struct run *r;
	int e, dirfd = -1;
	struct run_spec s = { .mode = "capture", .csv_path = csv, .summary_path = summary,
			      .dirfd = &dirfd, .guard = c->o->guard, .label = name,
			      .resolution_ns = trace_cli.resolution_ns };

	tracer__group(rn->tracer, g, &gr);
	r = calloc(1, sizeof(*r));
	if (!r) {
		c->failed = true;
		return NULL;
	}
	dirfd = make_run_dir(c, name, sizeof(name), gr.comm, gr.root_tgid);
	if (dirfd < 0) {
		fprintf(stderr, "memtrace-bpf: cannot create a directory in %s for %s (PID %u): %s; "
			"stopping\n", c->o->dir, gr.comm, gr.root_tgid, strerror(-dirfd));
		goto fail;
	}
	path_join(dir, sizeof(dir), c->o->dir, name);
	path_join(csv, sizeof(csv), dir, c->o->trace_format == ZF_ZSTD ? "trace.csv.zst" :
					 c->o->trace_format == ZF_GZIP ? "trace.csv.gz" : "trace.csv");
	path_join(summary, sizeof(summary), dir, "summary.json");
	e = run__adopt(r, rn->tracer, &s, g, gr.start_ts_ns, err, sizeof(err));
	close(dirfd);
	if (e) {
		fprintf(stderr, "memtrace-bpf: %s; stopping\n", err);
		goto fail;
	}
	runner__add(rn, r);
	c->started++;
	if (!c->o->quiet)
		fprintf(stderr, "memtrace-bpf: %s (PID %u) started: tracing into %s\n", gr.comm,
			gr.root_tgid, dir);
	return r;
fail:
	run__free(r);
	free(r);
	tracer__group_give_back(rn->tracer, g);
	c->failed = true;
	return NULL;
}

static struct run *cap_adopt(void *ctx, struct runner *rn, uint32_t g, const struct mt_rec *rec)
{
	/* a capture's exec record is the cue; group 0 is no capture's */
	return g && rec->type == MT_REC_EXEC ? start_run(ctx, rn, g) : NULL;
}

/* Every 100 ms: groups the kernel started whose exec record was dropped,
 * and matches it could not take. */
static int cap_turn(void *ctx, struct runner *rn, uint64_t now)
{
	struct capture *c = ctx;
	struct mt_counters k;

	if (c->failed)
		return -EIO;
	if (now < c->next_scan || rn->stop_sig)
		return 0;
	c->next_scan = now + 100000000ULL;
	for (uint32_t g = 1; g < MT_MAX_GROUPS && !c->failed; g++) {
		struct mt_group gr;

		tracer__group(rn->tracer, g, &gr);
		if (gr.busy && !rn->by_group[g])
			start_run(c, rn, g);
	}
	tracer__counters(rn->tracer, &k);
	if (k.capture_missed > c->missed_said) {
		fprintf(stderr, "memtrace-bpf: %u matching processes could not be traced "
			"(%d traced at once at most)\n", k.capture_missed - c->missed_said,
			MT_MAX_GROUPS - 1);
		c->missed_said = k.capture_missed;
	}
	return c->failed ? -EIO : 0;
}

static int cap_finished(void *ctx, struct runner *rn, struct run *r, int err)
{
	struct capture *c = ctx;
	struct mt_group g;
	char a[32], b[32];

	(void)rn;
	run__group(r, &g);
	if (!c->o->quiet)
		fprintf(stderr, "memtrace-bpf: %s (PID %u) %s: peak %s over %s; %s\n", g.comm,
			g.root_tgid, r->interrupted ? "still running, trace stopped" : "exited",
			format_size(g.tree_peak_pages * r->page_kb * 1024, a, sizeof(a)),
			format_duration(r->end_ns - r->start_ns, b, sizeof(b)), r->spec.summary_path);
	if (g.lost)
		fprintf(stderr, "memtrace-bpf: %s: %" PRIu64 " records dropped (the peak is still "
			"exact); raise --ring-size\n", r->spec.csv_path, (uint64_t)g.lost);
	if (g.untraced)
		fprintf(stderr, "memtrace-bpf: %s: %u child processes not traced; raise --max-procs\n",
			r->spec.csv_path, g.untraced);
	return err;
}

static bool cap_more(void *ctx)
{
	(void)ctx;
	return true;	/* until a signal */
}

/* DIR, made (for the sudo user) when absent; it must take files. Its fd,
 * or -errno (said). */
static int prepare_dir(const char *dir)
{
	char probe[64], msg[PATH_MAX + 128];
	int dfd = dir_open(AT_FDCWD, dir, true, msg, sizeof(msg)), fd;

	if (dfd < 0) {
		fprintf(stderr, "memtrace-bpf: %s\n", msg);
		return dfd;
	}
	/* writable? (nothing is left behind) */
	snprintf(probe, sizeof(probe), ".memtrace-probe.%d", (int)getpid());
	fd = openat(dfd, probe, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		int e = -errno;

		fprintf(stderr, "memtrace-bpf: cannot write in %s: %s; give another -d DIR\n", dir,
			strerror(-e));
		close(dfd);
		return e;
	}
	close(fd);
	unlinkat(dfd, probe, 0);
	return dfd;
}

int capture_main(const struct capture_opts *o)
{
	static const struct runner_client client = { .turn = cap_turn, .adopt = cap_adopt,
						     .finished = cap_finished, .more = cap_more };
	struct capture c = { .o = o, .dirfd = -1 };
	struct tracer_opts to = {};
	struct mt_guard kguard;
	struct tracer *t = NULL;
	struct runner rn;
	char msg[1024], err[8192];
	int e;

	if (o->cgroup && check_cgroup(o->cgroup, &to.capture_cgroup_id, &to.capture_cgroup_level,
				      msg, sizeof(msg))) {
		fprintf(stderr, "memtrace-bpf: %s\n", msg);
		return EXIT_TRACE_ERR;
	}
	c.dirfd = prepare_dir(o->dir);
	if (c.dirfd < 0)
		return EXIT_TRACE_ERR;
	trace_cli__tracer_opts(&to, trace_cli.follow != 0);
	to.capture_comm = o->comm;
	if (o->guard) {
		guard_spec__kernel(o->guard, (unsigned int)(sysconf(_SC_PAGESIZE) / 1024), &kguard);
		to.capture_guard = &kguard;
	}
	if (tracer__open(&t, &to, err, sizeof(err))) {
		fprintf(stderr, "memtrace-bpf: %s\n", err);
		close(c.dirfd);
		return EXIT_TRACE_ERR;
	}
	if (!o->quiet)
		fprintf(stderr, "memtrace-bpf: waiting for processes%s%s%s%s to start; Ctrl-C to stop\n",
			o->comm ? " named " : "", o->comm ? o->comm : "",
			o->cgroup ? " in cgroup " : "", o->cgroup ? o->cgroup : "");
	runner__init(&rn, t, &client, &c);
	e = runner__run(&rn);
	if (!o->quiet)
		fprintf(stderr, "memtrace-bpf: captured %zu process%s into %s\n", c.started,
			c.started == 1 ? "" : "es", o->dir);
	tracer__destroy(t);
	close(c.dirfd);
	return e ? EXIT_TRACE_ERR : 0;
}
