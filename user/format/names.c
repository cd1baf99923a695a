// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include "format/names.h"

const char *syscall_name(unsigned int nr)
{
	/* the names of bpf/syscalls.h's one list */
#define NAME_(nr, NAME, name) [nr] = #name,
	static const char *const names[] = { MT_SYSCALLS(NAME_) };
#undef NAME_

	return nr < sizeof(names) / sizeof(names[0]) ? names[nr] : NULL;
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
	{ "guard", MT_REC_GUARD, 0 },
	{ "alert", MT_REC_ALERT, 0 },
	{ "leave", MT_REC_LEAVE, 0 },
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

/* "syscall:NAME" (syscall_name's) or "syscall:NR" back to the number
 * (0: neither). */
static uint32_t syscall_parse(const char *s)
{
	char *end;
	unsigned long v;

	if (*s >= '0' && *s <= '9') {
		v = strtoul(s, &end, 10);
		return !*end && v <= UINT32_MAX ? (uint32_t)v : 0;
	}
#define PARSE_(nr, NAME, name) if (!strcmp(s, #name)) return nr;
	MT_SYSCALLS(PARSE_)
#undef PARSE_
	return 0;
}

uint32_t cause_parse(const char *cause, uint32_t *nr)
{
	*nr = 0;
	if (!strcmp(cause, "fault"))
		return MT_CAUSE_FAULT;
	if (!strncmp(cause, "syscall:", 8)) {
		*nr = syscall_parse(cause + 8);
		return MT_CAUSE_SYSCALL;
	}
	if (!strcmp(cause, "self"))
		return MT_CAUSE_SELF;
	return MT_CAUSE_OTHER;
}

const char *leave_why_format(uint32_t why, char *buf, size_t len)
{
	static const struct {
		uint32_t bit;
		const char *word;
	} words[] = { { MT_LEAVE_SECURE, "secure" }, { MT_LEAVE_UID, "uid" },
		      { MT_LEAVE_GID, "gid" }, { MT_LEAVE_DUMPABLE, "dumpable" } };
	size_t used = 0;

	if (!len)
		return buf;
	buf[0] = 0;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		int n;

		if (!(why & words[i].bit))
			continue;
		n = snprintf(buf + used, len - used, "%s%s", used ? "+" : "", words[i].word);
		if (n < 0 || (size_t)n >= len - used) {
			buf[used] = 0;	/* a word whole or not at all */
			break;
		}
		used += (size_t)n;
	}
	return buf;
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
