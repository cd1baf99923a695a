/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The syscalls memtrace-bpf knows by number, written once: the ones the
 * BPF programs watch (MT_NR_*) and the ones the output names (those that
 * usually move RSS). Plain macros and an enum of int constants, no types
 * and no includes: this is included by bpf/memtrace.h from the BPF side
 * (vmlinux.h context) and from userspace C alike.
 *
 * x86_64 numbering (arch/x86/entry/syscalls/syscall_64.tbl). Each
 * architecture numbers syscalls its own way (arm64 uses the generic table:
 * no open, mmap is 222), so this list is valid only because the Makefile
 * refuses to build for any other ARCH (a port needs its own list).
 *
 * X(nr, NAME, name): NAME makes the constant MT_NR_<NAME>, name is the
 * kernel's name for it (the string userspace prints). Keep it sorted by nr.
 */
#ifndef MEMTRACE_SYSCALLS_H
#define MEMTRACE_SYSCALLS_H

#define MT_SYSCALLS(X)						\
	X(0, READ, read)					\
	X(1, WRITE, write)					\
	X(2, OPEN, open)					\
	X(3, CLOSE, close)					\
	X(8, LSEEK, lseek)					\
	X(9, MMAP, mmap)					\
	X(10, MPROTECT, mprotect)				\
	X(11, MUNMAP, munmap)					\
	X(12, BRK, brk)						\
	X(16, IOCTL, ioctl)					\
	X(17, PREAD64, pread64)					\
	X(19, READV, readv)					\
	X(25, MREMAP, mremap)					\
	X(26, MSYNC, msync)					\
	X(28, MADVISE, madvise)					\
	X(33, DUP2, dup2)					\
	X(40, SENDFILE, sendfile)				\
	X(45, RECVFROM, recvfrom)				\
	X(47, RECVMSG, recvmsg)					\
	X(56, CLONE, clone)					\
	X(57, FORK, fork)					\
	X(58, VFORK, vfork)					\
	X(59, EXECVE, execve)					\
	X(60, EXIT, exit)					\
	X(62, KILL, kill)					\
	X(98, GETRUSAGE, getrusage)				\
	X(149, MLOCK, mlock)					\
	X(151, MLOCKALL, mlockall)				\
	X(202, FUTEX, futex)					\
	X(221, FADVISE64, fadvise64)				\
	X(231, EXIT_GROUP, exit_group)				\
	X(237, MBIND, mbind)					\
	X(257, OPENAT, openat)					\
	X(275, SPLICE, splice)					\
	X(279, MOVE_PAGES, move_pages)				\
	X(285, FALLOCATE, fallocate)				\
	X(292, DUP3, dup3)					\
	X(295, PREADV, preadv)					\
	X(310, PROCESS_VM_READV, process_vm_readv)		\
	X(311, PROCESS_VM_WRITEV, process_vm_writev)		\
	X(319, MEMFD_CREATE, memfd_create)			\
	X(322, EXECVEAT, execveat)				\
	X(325, MLOCK2, mlock2)					\
	X(435, CLONE3, clone3)					\
	X(436, CLOSE_RANGE, close_range)			\
	X(440, PROCESS_MADVISE, process_madvise)

/* MT_NR_READ = 0, MT_NR_WRITE = 1, ...: int constants, usable in case
 * labels and static initialisers (not in #if). */
#define MT_SYSCALL_NR_(nr, NAME, name)	MT_NR_##NAME = (nr),
enum mt_syscall_nr {
	MT_SYSCALLS(MT_SYSCALL_NR_)
};
#undef MT_SYSCALL_NR_

#endif /* MEMTRACE_SYSCALLS_H */
