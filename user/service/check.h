/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the service (issue #16) may trace for a client: the facts about a
 * process, read so that a PID reused meanwhile cannot pass for the one the
 * client named, and the rules an unprivileged client's processes must meet.
 *
 * The facts are read through a pidfd and the process's /proc directory
 * opened as a directory: after every read, the pidfd is asked whether its
 * process still exists (pidfd_send_signal, signal 0). A PID is reused only
 * once its process is reaped, so if it still exists the directory was its
 * own, whatever happened to the number in between.
 *
 * The rules follow what the kernel asks of a ptrace attach by a caller
 * with no capabilities (__ptrace_may_access): all the process's user ids
 * and group ids are the client's, it is dumpable (procfs gives the files
 * of a process that is not to root: a set-id program, one that
 * said PR_SET_DUMPABLE 0, an unreadable binary), it did not start set-id
 * (AT_SECURE), its permitted capabilities are the client's or fewer; and
 * it is not PID 1, not a kernel thread, not a zombie. The client's
 * identity comes from the kernel (SO_PEERCRED), never from a message.
 */
#ifndef MEMTRACE_SERVICE_CHECK_H
#define MEMTRACE_SERVICE_CHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum svc_why {
	SVC_OK = 0,
	SVC_GONE,	/* no such process, it exited, or a zombie */
	SVC_INIT,	/* PID 1 */
	SVC_KTHREAD,	/* a kernel thread */
	SVC_UID,	/* a user id (real, effective, saved, fs) not the client's */
	SVC_GID,	/* a group id not the client's */
	SVC_DUMPABLE,	/* not dumpable */
	SVC_SECURE,	/* started set-id or with file capabilities (AT_SECURE) */
	SVC_CAPS,	/* permitted capabilities the client lacks */
	SVC_NOT_CHILD,	/* launch: not the client's child */
	/* the service's own refusals of a request (not facts of a process) */
	SVC_BUSY,	/* already traced (by you or another user) */
	SVC_KERNEL,	/* the kernel refused it (its ids changed while checked) */
	SVC_NOT_YOURS,	/* a group the client does not hold */
	SVC_LIMIT,	/* over a per-user limit of the service */
	SVC_ORDER,	/* a request out of its order (e.g. a second launch) */
	SVC_ROOT,	/* root only */
	SVC_NOT_VOUCHED,	/* a bound connection's launch: its parent is not root */
	SVC_WHY_MAX
};

/* The client, as the kernel says (SO_PEERCRED), and its permitted
 * capabilities (0 for an unprivileged user). */
struct svc_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	uint64_t cap_prm;
};

struct svc_facts {
	pid_t pid, ppid;
	uid_t uid[4];		/* real, effective, saved, fs */
	gid_t gid[4];
	uint64_t cap_prm;
	uid_t dir_uid;		/* the owner of /proc/PID/status: root when not
				   dumpable */
	bool kthread, zombie, secure;
	bool leader_exited;	/* its main thread ended, others run (the
				   facts of ownership then are a thread's) */
};

/* The facts of pid: 0, or -ESRCH (no such process, or it went while they
 * were read), -errno for another failure. */
int svc_facts(pid_t pid, struct svc_facts *f);
/* The tests' seam (tools/svc-check --pause): called by svc_facts once the
 * pidfd is open, before the /proc directory is, so a test can let the PID
 * be reused in between. NULL (the service): not called. */
extern void (*svc_facts_pause)(pid_t pid);
/* May the client trace the process (attach)? SVC_OK or the first rule it
 * breaks. */
enum svc_why svc_may_trace(const struct svc_facts *f, const struct svc_peer *who);
/* The same for a child the client launches: also its parent must be the
 * client. */
enum svc_why svc_may_launch(const struct svc_facts *f, const struct svc_peer *who);
/* The same for a connection root bound to a user (BIND_USER: a Slurm
 * node's helper, issue #17): the process need not be the client's child
 * nor dumpable yet (a task slurmstepd forked and set to the user, before
 * its exec), but its parent (@parent's facts) must run as root, who
 * vouches for it; every other rule stands, and at the exec the kernel
 * checks the new program (its ids, AT_SECURE, dumpable) as for any
 * owned group. */
enum svc_why svc_may_launch_vouched(const struct svc_facts *f, const struct svc_facts *parent,
				    const struct svc_peer *who);
/* A sentence for the client: "PID N is ..." follows it. */
const char *svc_why_text(enum svc_why w);

#endif
