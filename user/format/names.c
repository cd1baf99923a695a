// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <string.h>
#include "format/names.h"

const char *syscall_name(unsigned int nr)
{
	/* the syscalls that usually move RSS, x86_64 numbering */
	static const struct { unsigned int nr; const char *name; } tab[] = {
		{ 0, "read" }, { 1, "write" }, { 2, "open" }, { 3, "close" }, { 9, "mmap" }, { 10, "mprotect" },
		{ 11, "munmap" }, { 12, "brk" }, { 16, "ioctl" }, { 17, "pread64" },
		{ 19, "readv" }, { 25, "mremap" }, { 26, "msync" }, { 28, "madvise" }, { 33, "dup2" },
		{ 40, "sendfile" }, { 45, "recvfrom" }, { 47, "recvmsg" },
		{ 56, "clone" }, { 57, "fork" }, { 58, "vfork" }, { 59, "execve" },
		{ 60, "exit" }, { 62, "kill" }, { 98, "getrusage" }, { 149, "mlock" }, { 151, "mlockall" },
		{ 202, "futex" }, { 221, "fadvise64" }, { 231, "exit_group" },
		{ 237, "mbind" }, { 257, "openat" }, { 275, "splice" },
		{ 279, "move_pages" }, { 285, "fallocate" }, { 292, "dup3" }, { 295, "preadv" },
		{ 310, "process_vm_readv" }, { 311, "process_vm_writev" },
		{ 319, "memfd_create" }, { 322, "execveat" }, { 325, "mlock2" },
		{ 435, "clone3" }, { 436, "close_range" }, { 440, "process_madvise" },
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (tab[i].nr == nr)
			return tab[i].name;
	return NULL;
}

/* One table for the `event` column, written and read: a SYSCALL record is
 * named after its call (the catch-all "syscall" last). */
static const struct {
	const char *name;
	uint32_t type, nr;
} events[] = {
	{ "rss", MT_REC_RSS, 0 },
	{ "mmap", MT_REC_SYSCALL, MT_NR_MMAP },
	{ "munmap", MT_REC_SYSCALL, MT_NR_MUNMAP },
	{ "brk", MT_REC_SYSCALL, MT_NR_BRK },
	{ "mremap", MT_REC_SYSCALL, MT_NR_MREMAP },
	{ "madvise", MT_REC_SYSCALL, MT_NR_MADVISE },
	{ "syscall", MT_REC_SYSCALL, 0 },
	{ "fork", MT_REC_FORK, 0 },
	{ "exec", MT_REC_EXEC, 0 },
	{ "exit", MT_REC_EXIT, 0 },
	{ "attach", MT_REC_ATTACH, 0 },
	{ "checkpoint", MT_REC_CHECKPOINT, 0 },
	{ "mark", MT_REC_MARK, 0 },
	{ "mark_fd_lost", MT_REC_MARK_FD_LOST, 0 },
	{ "log", MT_REC_LOG, 0 },
};

const char *event_name(uint32_t type, uint32_t nr)
{
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++)
		if (events[i].type == type && (type != MT_REC_SYSCALL || !events[i].nr ||
					       events[i].nr == nr))
			return events[i].name;
	return NULL;
}

bool event_parse(const char *name, uint32_t *type, uint32_t *nr)
{
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		if (events[i].name[0] == name[0] && !strcmp(events[i].name, name)) {
			*type = events[i].type;
			*nr = events[i].nr;
			return true;
		}
	}
	return false;
}

uint32_t cause_parse(const char *cause)
{
	if (!strcmp(cause, "fault"))
		return MT_CAUSE_FAULT;
	if (!strncmp(cause, "syscall:", 8))
		return MT_CAUSE_SYSCALL;
	if (!strcmp(cause, "self"))
		return MT_CAUSE_SELF;
	return MT_CAUSE_OTHER;
}

const char *ckpt_kind_name(unsigned int kind)
{
	switch (kind) {
	case MT_CKPT_STATUS:		return "status";
	case MT_CKPT_STATM:		return "statm";
	case MT_CKPT_SMAPS_ROLLUP:	return "smaps_rollup";
	case MT_CKPT_GETRUSAGE:		return "getrusage";
	}
	return "unknown";
}
