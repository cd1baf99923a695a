/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Marks and output timing. A traced program names a stage by writing to
 * the marker fd memtrace-bpf gave it (MEMTRACE_MARK_FD) or through the
 * memtrace:mark USDT probe (the on_usdt_mark program); both give a MARK
 * record with the exact counters at that instant. Closing or replacing the
 * marker fd gives a MARK_FD_LOST record. With --checkpoint-regex, a
 * write(2) to the command's stdout/stderr pipe gives an OUTPUT record when
 * it returns, timing its log lines. Which files those are is learnt at
 * exec and inherited at fork (lifecycle.bpf.h calls marks_exec() and
 * marks_fork()); writes and closes come from the sys_enter/sys_exit
 * dispatch in memtrace.bpf.c.
 * Relies on records.bpf.h (rec_state()) and memtrace.bpf.c's shared state
 * (procs, task_ctx and its watch, fd_file(); <bpf/usdt.bpf.h>).
 */
#ifndef MEMTRACE_MARKS_BPF_H
#define MEMTRACE_MARKS_BPF_H

/* write(fd, buf, count) by a traced thread: a mark when fd refers to the
 * file memtrace-bpf opened as MEMTRACE_MARK_FD, whatever its number now (a
 * shell's `echo x >&$MEMTRACE_MARK_FD` writes through a dup on fd 1).
 * Stamped at entry: the instant the program asked. A write to the
 * stdout/stderr pipes (--checkpoint-regex) is only noted here. */
static __always_inline void mark_write(struct task_struct *cur, struct task_ctx *tc,
				       struct pt_regs *regs)
{
	__u32 tgid = cur->tgid, n;
	struct mt_proc *pr = bpf_map_lookup_elem(&procs, &tgid);
	struct mt_rec *r;
	__u64 count = regs->dx, f;

	if (!pr || !(pr->mark_file || pr->out_file[0] || pr->out_file[1]))
		return;
	f = fd_file(cur, regs->di);
	if (f && (f == pr->out_file[0] || f == pr->out_file[1])) {
		tc->watch = W_OUTPUT;
		tc->args[1] = regs->si;
		tc->args[2] = f == pr->out_file[1];
		return;
	}
	if (!f || f != pr->mark_file)
		return;
	r = rec_state(MT_REC_MARK, cur);
	if (!r)
		return;
	r->cause = MT_MARK_FD;
	r->nr = MT_NR_WRITE;
	r->addr = regs->di;
	r->len = count;
	/* 39 bytes, as a USDT name (read as a string, with its NUL) */
	n = count < MT_LABEL_LEN - 1 ? (__u32)count : MT_LABEL_LEN - 1;
	if (n > MT_LABEL_LEN - 1)
		n = MT_LABEL_LEN - 1;
	if (n && bpf_probe_read_user(r->label, n, (void *)regs->si))
		r->label[0] = 0;
	rec_submit(r);
}

/* sys_exit of a write noted by mark_write(): the OUTPUT record. Stamped
 * when the bytes are in the pipe and the program has not yet gone on: its
 * log line is timed between its last measurement and its next, whenever we
 * read the pipe. */
static __always_inline void output_exit(struct task_struct *cur, struct task_ctx *tc,
					long ret)
{
	struct mt_rec *r;

	if (ret > 0 && (r = rec_state(MT_REC_OUTPUT, cur))) {
		__u32 n = ret < MT_LABEL_LEN ? (__u32)ret : MT_LABEL_LEN;

		if (n > MT_LABEL_LEN)
			n = MT_LABEL_LEN;
		r->cause = (__u32)tc->args[2];
		r->len = (__u64)ret;
		if (n && bpf_probe_read_user(r->label, n, (void *)tc->args[1]))
			r->len |= 1ULL << 63;	/* start unknown: no check */
		rec_submit(r);
	}
}

/* close/dup2/dup3/close_range by a traced thread: does it close (or put
 * another file on) the advertised marker fd while it still holds the
 * marker file? Checked before the call, reported if the call succeeds. */
static __always_inline bool closes_mark_fd(struct task_struct *cur, long id,
					   struct pt_regs *regs)
{
	__u32 tgid = cur->tgid;
	struct mt_proc *pr = bpf_map_lookup_elem(&procs, &tgid);
	__u64 fd;

	if (!pr || !pr->mark_fd)
		return false;
	fd = pr->mark_fd - 1;
	switch (id) {
	case MT_NR_CLOSE:
		if (regs->di != fd)
			return false;
		break;
	case MT_NR_DUP2:
	case MT_NR_DUP3:
		if (regs->si != fd || regs->di == fd)
			return false;
		break;
	case MT_NR_CLOSE_RANGE:
		/* also with CLOSE_RANGE_CLOEXEC: gone at the next exec */
		if ((__u32)regs->di > fd || (__u32)regs->si < fd)
			return false;
		break;
	default:
		return false;
	}
	return pr->mark_file && fd_file(cur, fd) == pr->mark_file;
}

/* sys_exit of a call closes_mark_fd() said closes the marker fd: if it
 * succeeded, the MARK_FD_LOST record. */
static __always_inline void mark_close_exit(struct task_struct *cur, struct task_ctx *tc,
					    const __u32 *tgid, long ret)
{
	struct mt_proc *pr;
	struct mt_rec *r;

	if (ret < 0 || !tc->mark_lost)
		return;
	tc->mark_lost = 0;
	pr = bpf_map_lookup_elem(&procs, tgid);
	if (!pr || !pr->mark_fd)
		return;
	r = rec_state(MT_REC_MARK_FD_LOST, cur);
	if (r) {
		/* the process that closed it: a vfork/posix_spawn child
		 * closing its inherited fds (close_fds, close_range) borrows
		 * its parent's mm, whose owner rec_state names */
		r->pid = *tgid;
		r->nr = tc->nr;
		r->addr = pr->mark_fd - 1;
		r->len = tc->args[1];
		r->ret = ret;
		rec_submit(r);
	}
	/* writes through other fds of the marker file still count */
	pr->mark_fd = 0;
}

/* MEMTRACE_MARK(name) in a C/C++ program (user/memtrace/mark.h): the
 * memtrace:mark USDT probe, attached by the loader to the launched binary
 * for every process (pid -1); only threads of traced processes record. */
SEC("usdt")
int BPF_USDT(on_usdt_mark, const char *name)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	struct mt_rec *r;

	if (!task_ctx_of(cur, false))
		return 0;
	r = rec_state(MT_REC_MARK, cur);
	if (!r)
		return 0;
	r->cause = MT_MARK_USDT;
	/* no page fault can be taken here: mark.h reads the name's first
	 * byte before the probe, so its page is in */
	if (bpf_probe_read_user_str(r->label, MT_LABEL_LEN, name) < 0)
		r->label[0] = 0;
	rec_submit(r);
	return 0;
}

/* exec of a traced process p: which files its marker fd and (with
 * --checkpoint-regex) its stdout/stderr are. */
static __always_inline void marks_exec(struct task_struct *p, struct mt_proc *pr)
{
	/* launch: the marker fd the loader opened for the command (not
	 * O_CLOEXEC, so it survived); remember which file it is */
	if (pr->mark_fd && !pr->mark_file)
		pr->mark_file = fd_file(p, pr->mark_fd - 1);
	if (pr->log_capture && !pr->out_file[0]) {
		pr->out_file[0] = fd_file(p, 1);
		pr->out_file[1] = fd_file(p, 2);
	}
}

/* A followed child: fork copies (or shares) the fd table, so it has the
 * same marker file on the same fd, and the same output pipes. */
static __always_inline void marks_fork(struct mt_proc *cp, struct mt_proc *pp)
{
	cp->mark_fd = pp->mark_fd;
	cp->mark_file = pp->mark_file;
	cp->out_file[0] = pp->out_file[0];
	cp->out_file[1] = pp->out_file[1];
}

#endif /* MEMTRACE_MARKS_BPF_H */
