// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Capture mode (record --comm NAME / --cgroup PATH -d DIR): every process
 * that execs into NAME (or in the cgroup) while we run is traced from its
 * exec, one trace per process (with the children it forks), for campaigns
 * driven by someone else's script or scheduler. The kernel side starts a
 * group per matching process; its exec record opens the trace here.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include "trace/capture.h"
#include "format/output.h"
#include "trace/run.h"
#include "lib/units.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* The unified (v2) hierarchy's mount point: /sys/fs/cgroup on most
 * machines, /sys/fs/cgroup/unified on hybrid ones. */
static int cgroup2_mount(char *mnt, size_t len)
{
	char line[4096], mp[PATH_MAX];
	FILE *mi = fopen("/proc/self/mountinfo", "r");

	mnt[0] = 0;
	while (mi && fgets(line, sizeof(line), mi)) {
		if (strstr(line, " - cgroup2 ") && sscanf(line, "%*d %*d %*s %*s %4095s", mp) == 1) {
			snprintf(mnt, len, "%s", mp);
			break;
		}
	}
	if (mi)
		fclose(mi);
	return mnt[0] ? 0 : -1;
}

int capture_resolve_cgroup(const char *arg, uint64_t *id, uint32_t *level, char *msg, size_t len)
{
	char path[PATH_MAX], real[PATH_MAX], mnt[PATH_MAX];
	struct { struct file_handle fh; uint64_t id; } h;
	struct statfs sf;
	int mount_id;
	uint32_t lv = 0;
	size_t ml;

	if (cgroup2_mount(mnt, sizeof(mnt))) {
		snprintf(msg, len, "--cgroup %s: this machine has no cgroup v2 hierarchy mounted "
			 "(mount -t cgroup2 none /sys/fs/cgroup/unified); --comm works without it", arg);
		return -1;
	}
	/* relative paths are under the unified hierarchy */
	if ((size_t)snprintf(path, sizeof(path), "%s%s%s", arg[0] == '/' ? "" : mnt,
			     arg[0] == '/' ? "" : "/", arg) >= sizeof(path) || !realpath(path, real)) {
		snprintf(msg, len, "--cgroup %s: %s: %s (give a cgroup v2 directory, absolute or "
			 "relative to %s)", arg, path, strerror(errno ? errno : ENAMETOOLONG), mnt);
		return -1;
	}
	ml = strlen(mnt);
	if (statfs(real, &sf) || sf.f_type != CGROUP2_SUPER_MAGIC || strncmp(real, mnt, ml) ||
	    (real[ml] && real[ml] != '/')) {
		snprintf(msg, len, "--cgroup %s: %s is not a cgroup v2 directory; give one under %s",
			 arg, real, mnt);
		return -1;
	}
	/* the cgroup id is the kernfs file handle of its directory */
	h.fh.handle_bytes = sizeof(h.id);
	if (name_to_handle_at(AT_FDCWD, real, &h.fh, &mount_id, 0) || h.fh.handle_bytes != 8) {
		snprintf(msg, len, "--cgroup %s: cannot read its cgroup id: %s", arg, strerror(errno));
		return -1;
	}
	memcpy(id, h.fh.f_handle, sizeof(*id));
	/* its level: components below the mount point (the root is 0) */
	for (const char *p = real + ml; *p; p++)
		if (*p == '/' && p[1])
			lv++;
	*level = lv;
	return 0;
}

struct captured {
	struct run run;
	bool ended;
	uint64_t ended_ns;
	char dir[PATH_MAX], csv[PATH_MAX + 16], summary[PATH_MAX + 16];
};

struct capture {
	const struct capture_opts *o;
	struct tracer *tracer;
	/* runs in progress, by group (a group is one run at a time) */
	struct captured *by_group[MT_MAX_GROUPS];
	size_t started;
	int err;
};

/* DIR/COMM-PID, or COMM-PID-2... when a reused PID already has one */
static int make_run_dir(struct capture *c, struct captured *x, const char *name, uint32_t pid)
{
	char comm[MT_COMM_LEN + 1];

	snprintf(comm, sizeof(comm), "%s", name[0] ? name : "process");
	for (char *p = comm; *p; p++)
		if (*p == '/' || *p == ' ')
			*p = '_';
	for (int k = 1; k < 1000; k++) {
		if (k == 1)
			snprintf(x->dir, sizeof(x->dir), "%s/%s-%u", c->o->dir, comm, pid);
		else
			snprintf(x->dir, sizeof(x->dir), "%s/%s-%u-%d", c->o->dir, comm, pid, k);
		if (!mkdir(x->dir, 0755))
			return 0;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/* The kernel started group g for a matching process (we learn it from its
 * exec record, or from the group table when that record was dropped). */
static struct captured *start_run(struct capture *c, uint32_t g)
{
	struct mt_group gr;
	struct captured *x;
	struct run_spec s = {};
	char err[512];
	uid_t uid;
	gid_t gid;
	int e;

	tracer__group(c->tracer, g, &gr);
	x = calloc(1, sizeof(*x));
	if (!x) {
		c->err = 1;
		return NULL;
	}
	e = make_run_dir(c, x, gr.comm, gr.root_tgid);
	if (e) {
		fprintf(stderr, "memtrace-bpf: cannot create a directory in %s for %s (PID %u): %s; "
			"stopping\n", c->o->dir, gr.comm, gr.root_tgid, strerror(-e));
		free(x);
		c->err = 1;
		return NULL;
	}
	if (sudo_ids(&uid, &gid) && chown(x->dir, uid, gid))
		fprintf(stderr, "memtrace-bpf: note: cannot give %s to uid %u: %s\n", x->dir, uid,
			strerror(errno));
	snprintf(x->csv, sizeof(x->csv), "%s/trace.csv", x->dir);
	snprintf(x->summary, sizeof(x->summary), "%s/summary.json", x->dir);
	s.group = g;
	s.mode = "capture";
	s.csv_path = x->csv;
	s.summary_path = x->summary;
	e = run__adopt(&x->run, c->tracer, &s, gr.start_ts_ns, err, sizeof(err));
	if (e) {
		fprintf(stderr, "memtrace-bpf: %s; stopping\n", err);
		free(x);
		c->err = 1;
		return NULL;
	}
	c->by_group[g] = x;
	c->started++;
	if (!c->o->quiet)
		fprintf(stderr, "memtrace-bpf: %s (PID %u) started: tracing into %s\n", gr.comm,
			gr.root_tgid, x->dir);
	return x;
}

static int on_rec(void *ctx, const struct mt_rec *rec)
{
	struct capture *c = ctx;
	uint32_t g = rec->group & (MT_MAX_GROUPS - 1);
	struct captured *x = c->by_group[g];

	if (!g)
		return 0;
	if (!x && rec->type == MT_REC_EXEC)
		x = start_run(c, g);
	/* also once ended: the kernel's live count drops before the last
	 * records (the exit's) are drained */
	return x ? run__record(&x->run, rec) : 0;
}

static void finish(struct capture *c, struct captured *x, bool interrupted)
{
	uint32_t group = x->run.spec.group;
	struct mt_group g;
	char a[32], b[32];

	x->run.interrupted = interrupted;
	if (run__finish(&x->run, x->ended ? x->ended_ns : mono_ns()))
		c->err = 1;
	run__group(&x->run, &g);
	if (!c->o->quiet)
		fprintf(stderr, "memtrace-bpf: %s (PID %u) %s: peak %s over %s; %s\n", g.comm,
			g.root_tgid, interrupted ? "still running, trace stopped" : "exited",
			format_size(g.tree_peak_pages * x->run.sess.page_kb * 1024, a, sizeof(a)),
			format_duration(x->run.end_ns - x->run.start_ns, b, sizeof(b)), x->summary);
	if (g.lost)
		fprintf(stderr, "memtrace-bpf: %s: %" PRIu64 " records dropped (the peak is still "
			"exact); raise --ring-size\n", x->csv, (uint64_t)g.lost);
	if (g.untraced)
		fprintf(stderr, "memtrace-bpf: %s: %u child processes not traced; raise --max-procs\n",
			x->csv, g.untraced);
	run__free(&x->run);
	tracer__group_give_back(c->tracer, group);
	c->by_group[group] = NULL;
	free(x);
}

int capture_main(const struct capture_opts *o, struct tracer *t)
{
	struct capture *c = calloc(1, sizeof(*c));
	uint64_t next_scan = 0;
	uint32_t missed_said = 0;
	int e, ret;

	if (!c)
		return 1;
	c->o = o;
	c->tracer = t;
	if (!o->quiet)
		fprintf(stderr, "memtrace-bpf: waiting for processes%s%s%s%s to start; Ctrl-C to stop\n",
			o->comm ? " named " : "", o->comm ? o->comm : "",
			o->cgroup ? " in cgroup " : "", o->cgroup ? o->cgroup : "");
	while (!sig_count && !c->err) {
		uint64_t poll_start = mono_ns();
		struct mt_counters k;

		e = tracer__poll(t, 10, false, on_rec, c);
		if (e) {
			fprintf(stderr, "memtrace-bpf: reading events failed: %s\n", strerror(-e));
			c->err = 1;
			break;
		}
		if (poll_start >= next_scan) {
			next_scan = poll_start + 100000000ULL;
			for (uint32_t g = 1; g < MT_MAX_GROUPS && !c->err; g++) {
				struct mt_group gr;

				tracer__group(t, g, &gr);
				/* started by the kernel, its exec record dropped */
				if (gr.busy && !c->by_group[g])
					start_run(c, g);
				/* exits whose records were dropped */
				if (c->by_group[g] && !c->by_group[g]->ended)
					run__sync(&c->by_group[g]->run);
			}
			tracer__counters(t, &k);
			if (k.capture_missed > missed_said) {
				fprintf(stderr, "memtrace-bpf: %u matching processes could not be traced "
					"(%d traced at once at most)\n", k.capture_missed - missed_said,
					MT_MAX_GROUPS - 1);
				missed_said = k.capture_missed;
			}
		}
		for (uint32_t g = 1; g < MT_MAX_GROUPS; g++) {
			struct captured *x = c->by_group[g];
			struct mt_group gr;

			if (!x)
				continue;
			session__flush(&x->run.sess);
			if (x->run.sess.err) {
				fprintf(stderr, "memtrace-bpf: writing %s failed: %s\n", x->csv,
					strerror(x->run.sess.err));
				c->err = 1;
			}
			/* ended when the kernel counts none of its processes alive */
			tracer__group(t, g, &gr);
			if (!x->ended && !gr.live) {
				x->ended = true;
				x->ended_ns = mono_ns();
			}
			/* its last records are in once a drain that began 3 ms
			 * after the end is done (the poll holds the last 2 ms) */
			if (x->ended && poll_start > x->ended_ns + 3000000ULL)
				finish(c, x, false);
		}
	}
	e = tracer__poll(t, 0, true, on_rec, c);
	for (uint32_t g = 1; g < MT_MAX_GROUPS; g++)
		if (c->by_group[g])
			finish(c, c->by_group[g], !c->by_group[g]->ended);
	if (!o->quiet)
		fprintf(stderr, "memtrace-bpf: captured %zu process%s into %s\n", c->started,
			c->started == 1 ? "" : "es", o->dir);
	ret = c->err || e ? 1 : 0;
	free(c);
	return ret;
}
