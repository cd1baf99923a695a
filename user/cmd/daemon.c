// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * memtrace-bpf daemon: the per-machine service that traces for users
 * without root (issue #16). Loads the BPF side once, serves clients on a
 * Unix socket (service/svc.c), stays in the foreground and logs to stderr,
 * as systemd and containers expect.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "cmd/cmd.h"
#include "lib/files.h"
#include "lib/metrics_http.h"
#include "lib/units.h"
#include "service/svc.h"
#include "trace/preflight.h"
#include "trace/remote.h"
#include "trace/wire.h"

static const char doc[] =
"Trace for users without root: the per-machine service.\n"
"\n"
"USAGE: memtrace-bpf daemon [--socket PATH] [OPTIONS]\n"
"       memtrace-bpf daemon --status [--socket PATH]\n"
"\n"
"Loads the kernel programs once and serves clients on a Unix socket. A user\n"
"who is not root runs memtrace-bpf as usual (launch, -p PID, campaign,\n"
"markers, checkpoints, --kill-at, --alert): it finds the socket and traces\n"
"through the service. The service knows each client by the kernel's peer\n"
"credentials and traces only that user's own processes: all their user and\n"
"group ids the client's, dumpable, not set-id, no capabilities the client\n"
"lacks; a process that execs a set-id binary leaves its trace (a `leave`\n"
"row). The client forks and writes every file itself. A client that goes\n"
"away releases its groups; their processes run on, untraced.\n"
"\n"
"Runs in the foreground and logs to stderr; stop it with SIGTERM or Ctrl-C.\n"
"Under systemd it takes the socket from its .socket unit (LISTEN_FDS).\n"
"Clients look for the socket at $MEMTRACE_SOCKET, else " SVC_DEFAULT_SOCKET ".\n"
"\n"
"EXAMPLES:\n"
"  sudo memtrace-bpf daemon                        # the default socket\n"
"  sudo memtrace-bpf daemon --socket /tmp/mt.sock  # elsewhere (a test)\n"
"  sudo memtrace-bpf daemon --status               # what it holds now\n"
"  sudo memtrace-bpf daemon --metrics 9465         # curl localhost:9465/metrics\n"
"  memtrace-bpf -o t.csv -- ./solver in.dat        # then, as a user\n"
"\n"
"Exit status: 0 stopped by a signal; 1 cannot load or serve; 2 bad command\n"
"line.\n"
"\n"
"OPTIONS:";

enum { OPT_SOCKET = 1800, OPT_USER_GROUPS, OPT_USER_CLIENTS, OPT_CLIENT_QUEUE, OPT_STATUS,
       OPT_USER_RING_SHARE, OPT_USER_PROCS, OPT_QUEUE_TOTAL, OPT_METRICS };

static const struct argp_option opts[] = {
	{ "socket", OPT_SOCKET, "PATH", 0, "The socket to serve on (default $MEMTRACE_SOCKET, else " SVC_DEFAULT_SOCKET ")", 0 },
	{ "user-groups", OPT_USER_GROUPS, "N", 0, "Runs one user may trace at once (default 32)", 0 },
	{ "user-clients", OPT_USER_CLIENTS, "N", 0, "Connections one user may have at once (default 64)", 0 },
	{ "user-ring-share", OPT_USER_RING_SHARE, "PCT", 0, "Of the ring (--ring-size), the share one user's records may fill at once (default 50): a user whose runs fault faster than the service reads loses their own rows, not others'", 0 },
	{ "user-procs", OPT_USER_PROCS, "N", 0, "Processes one user's runs may have traced at once (default a quarter of --max-procs); children past it are counted untraced, not followed", 0 },
	{ "client-queue", OPT_CLIENT_QUEUE, "SIZE", 0, "Records queued for a client that reads slowly, at most (default 4M); past it its records are dropped and counted, its peaks stay exact", 0 },
	{ "queue-total", OPT_QUEUE_TOTAL, "SIZE", 0, "Records queued for all clients together, at most (default 256M)", 0 },
	{ "status", OPT_STATUS, NULL, 0, "Ask the running service what it holds (root), print it and exit", 0 },
	{ "metrics", OPT_METRICS, "FILE|ADDR", 0, "Each run it traces (exact RSS now, peak, processes, events, lost events, alerts, guard signals; labels uid, run, client_pid) and its own figures in Prometheus' text format, every second: a FILE rewritten whole (node_exporter's textfile collector), or served at http://ADDR/metrics (PORT or HOST:PORT; a port alone listens on 127.0.0.1)", 0 },
	{},
};

static struct {
	const char *socket;
	const char *metrics;
	unsigned long user_groups, user_clients, user_ring_pct, user_procs;
	uint64_t client_queue, queue_total;
	bool status;
} env = { .user_groups = 32, .user_clients = 64, .user_ring_pct = 50,
	  .client_queue = 4ULL << 20, .queue_total = 256ULL << 20 };

#define usage_err(...) usage_exit("daemon", __VA_ARGS__)

static error_t parse_arg(int key, char *arg, struct argp_state *st)
{
	switch (key) {
	case OPT_SOCKET:
		env.socket = arg;
		break;
	case OPT_USER_GROUPS:
		if (parse_uint(arg, MT_MAX_GROUPS - 1, &env.user_groups) || !env.user_groups)
			usage_err("--user-groups %s: not a number from 1 to %d", arg,
				  MT_MAX_GROUPS - 1);
		break;
	case OPT_USER_CLIENTS:
		if (parse_uint(arg, 1024, &env.user_clients) || !env.user_clients)
			usage_err("--user-clients %s: not a number from 1 to 1024", arg);
		break;
	case OPT_USER_RING_SHARE: {
		char *end = arg;

		if (arg[0] && arg[strlen(arg) - 1] == '%')
			end = strndup(arg, strlen(arg) - 1);
		if (!end || parse_uint(end, 100, &env.user_ring_pct) || !env.user_ring_pct)
			usage_err("--user-ring-share %s: a percentage from 1 to 100 (e.g. 25)", arg);
		if (end != arg)
			free(end);
		break;
	}
	case OPT_CLIENT_QUEUE:
		if (parse_size(arg, &env.client_queue) || env.client_queue < (256 << 10) ||
		    env.client_queue > (1ULL << 30))
			usage_err("--client-queue %s: a size from 256K to 1G (e.g. 4M, 64M)", arg);
		break;
	case OPT_USER_PROCS:
		if (parse_uint(arg, 1 << 20, &env.user_procs) || env.user_procs < 8)
			usage_err("--user-procs %s: a number from 8 to 1048576", arg);
		break;
	case OPT_QUEUE_TOTAL:
		if (parse_size(arg, &env.queue_total) || env.queue_total < (1 << 20) ||
		    env.queue_total > (16ULL << 30))
			usage_err("--queue-total %s: a size from 1M to 16G (e.g. 256M)", arg);
		break;
	case OPT_STATUS:
		env.status = true;
		break;
	case OPT_METRICS:
		env.metrics = arg;
		break;
	case ARGP_KEY_ARG:
		usage_err("unexpected argument '%s'", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	(void)st;
	return 0;
}

/* The socket systemd handed us (socket activation), or -1. */
static int inherited_socket(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	unsigned long p, n;

	if (!pid || !fds || parse_uint(pid, 1UL << 22, &p) || parse_uint(fds, 64, &n) ||
	    (pid_t)p != getpid() || n != 1)
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (fcntl(3, F_SETFD, FD_CLOEXEC))
		return -1;
	return 3;
}

/* Binds path: its directory made (root's, 0755) if missing, a stale socket
 * (nobody listening) replaced, never anything else. -1 said. */
static int bind_socket(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char dir[sizeof(a.sun_path)], *slash;
	struct stat st;
	mode_t old;
	int fd, e;

	if (strlen(path) >= sizeof(a.sun_path)) {
		fprintf(stderr, "memtrace-bpf daemon: --socket %s: longer than a socket path may be "
			"(%zu bytes)\n", path, sizeof(a.sun_path) - 1);
		return -1;
	}
	strcpy(a.sun_path, path);
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (!slash) {
		strcpy(dir, ".");
	} else {
		*(slash == dir ? slash + 1 : slash) = 0;
		if (mkdir(dir, 0755) && errno != EEXIST) {
			fprintf(stderr, "memtrace-bpf daemon: cannot make %s: %s\n", dir,
				strerror(errno));
			return -1;
		}
	}
	/* a directory someone else may rename things in would let them swap
	 * the path under us between the checks and the bind: root's, and
	 * writable by others only if sticky (/tmp) */
	if (lstat(dir, &st) || !S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    ((st.st_mode & 022) && !(st.st_mode & S_ISVTX))) {
		fprintf(stderr, "memtrace-bpf daemon: the socket's directory %s must be a directory "
			"of root's that others cannot write to (or a sticky one, as /tmp); give "
			"another --socket\n", dir);
		return -1;
	}
	if (!lstat(path, &st)) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			fprintf(stderr, "memtrace-bpf daemon: %s exists and is not a socket; "
				"remove it or give another --socket\n", path);
			return -1;
		}
		probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (probe >= 0 && !connect(probe, (struct sockaddr *)&a, sizeof(a))) {
			close(probe);
			fprintf(stderr, "memtrace-bpf daemon: a service already listens on %s; "
				"stop it first (or give another --socket)\n", path);
			return -1;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);	/* a socket left by a service that died */
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	/* made 0666 (anyone may connect: the kernel says who) by the umask
	 * at bind: a chmod by path would follow a link put there meanwhile */
	old = umask(0111);
	e = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&a, sizeof(a));
	umask(old);
	if (fd < 0 || e || listen(fd, 128)) {
		fprintf(stderr, "memtrace-bpf daemon: cannot serve on %s: %s\n", path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int print_status(const char *path)
{
	struct wire_status_ok s;
	char err[512];
	int e = remote__status(path, &s, err, sizeof(err));

	if (e) {
		fprintf(stderr, "memtrace-bpf daemon: %s\n", err);
		return EXIT_TRACE_ERR;
	}
	printf("clients=%u\ngroups=%u\nprocs=%u\nusdt=%u\nqueue_bytes=%llu\ndropped=%llu\n"
	       "served=%llu\nrss_kb=%llu\nfds=%u\n", s.clients, s.groups, s.procs, s.usdt,
	       (unsigned long long)s.queue_bytes, (unsigned long long)s.dropped,
	       (unsigned long long)s.served, (unsigned long long)s.rss_kb, s.fds);
	return 0;
}

/* --metrics: a server listening (ADDR), or a file we may write (FILE). 0,
 * or -errno with msg said. */
static int metrics_setup(struct svc_opts *so, char *msg, size_t len)
{
	int e;

	if (!env.metrics)
		return 0;
	if (metrics_addr(env.metrics)) {
		so->metrics_http = metrics_http__start(env.metrics, msg, len);
		if (!so->metrics_http)
			return -EADDRNOTAVAIL;
		fprintf(stderr, "memtrace-bpf daemon: metrics at http://%s/metrics\n", env.metrics);
		return 0;
	}
	if ((e = check_output_path(env.metrics, "metrics file", msg, len)))
		return e;
	so->metrics_path = env.metrics;
	return 0;
}

int cmd_daemon(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &trace_cli_argp, 0, NULL, 1 },
		{},
	};
	static const struct argp argp = { .options = opts, .parser = parse_arg, .doc = doc,
					  .children = children };
	struct svc_opts so = {};
	struct tracer_opts to = {};
	struct tracer *t = NULL;
	const char *path;
	char msg[8192];
	struct stat st;
	ino_t bound_ino = 0;
	int lfd, e;

	trace_cli.sub = "daemon";
	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return EXIT_USAGE;
	path = env.socket ? env.socket : remote__socket_path();
	if (env.status)
		return print_status(path);
	if (trace_cli.resolution_ns || trace_cli.as_root || trace_cli.follow >= 0)
		usage_err("--resolution, --as-root, --follow and --no-follow are each client's "
			  "own: give them to memtrace-bpf record or campaign");
	if (check_privileges(msg, sizeof(msg)) || check_btf(trace_cli.btf, msg, sizeof(msg))) {
		fprintf(stderr, "memtrace-bpf daemon: %s\n", msg);
		return EXIT_TRACE_ERR;
	}
	{
		/* a client is an fd: room for all of them (1,024) and our own */
		struct rlimit rl;

		if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < 4096) {
			rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	lfd = inherited_socket();
	if (lfd >= 0)
		path = "the socket systemd passed (LISTEN_FDS)";
	else if ((lfd = bind_socket(path)) < 0)
		return EXIT_TRACE_ERR;
	else if (!lstat(path, &st))
		bound_ino = st.st_ino;
	/* children are followed per group (each client says); ids of PIDs
	 * already traced are refused, never taken over */
	trace_cli__tracer_opts(&to, true);
	to.window_ns = 0;
	to.exclusive = true;
	to.verbose = false;	/* -v: the service's log of every run taken and released */
	if ((e = tracer__open(&t, &to, msg, sizeof(msg)))) {
		fprintf(stderr, "memtrace-bpf daemon: %s\n", msg);
		if (bound_ino)
			unlink(path);
		close(lfd);
		return EXIT_TRACE_ERR;
	}
	so.user_groups = (uint32_t)env.user_groups;
	so.user_clients = (uint32_t)env.user_clients;
	so.client_queue = env.client_queue;
	so.queue_total = env.queue_total;
	so.user_ring_pct = (uint32_t)env.user_ring_pct;
	so.user_procs = (uint32_t)(env.user_procs ? env.user_procs : trace_cli.max_procs / 4);
	so.verbose = trace_cli.verbose;
	if ((e = metrics_setup(&so, msg, sizeof(msg)))) {
		fprintf(stderr, "memtrace-bpf daemon: %s\n", msg);
		tracer__destroy(t);
		if (bound_ino)
			unlink(path);
		close(lfd);
		return EXIT_TRACE_ERR;
	}
	fprintf(stderr, "memtrace-bpf daemon: serving on %s (ring %llu KiB, %lu runs a user)\n",
		path, (unsigned long long)(tracer__ring_bytes(t) >> 10), env.user_groups);
	e = svc__run(t, lfd, &so);
	metrics_http__stop(so.metrics_http);
	tracer__destroy(t);
	/* a socket we made goes with us (clients then say no service is
	 * there, not that it does not answer); systemd's stays its own */
	if (bound_ino && !lstat(path, &st) && S_ISSOCK(st.st_mode) && st.st_ino == bound_ino)
		unlink(path);
	close(lfd);
	fprintf(stderr, "memtrace-bpf daemon: stopped\n");
	return e ? EXIT_TRACE_ERR : 0;
}
