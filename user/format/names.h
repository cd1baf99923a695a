/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The words our outputs use for kernel things, in one place for writing
 * and reading: a record's event name (the CSV `event` column), what caused
 * an RSS change (`cause`), syscall names, checkpoint kinds.
 */
#ifndef MEMTRACE_FORMAT_NAMES_H
#define MEMTRACE_FORMAT_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "memtrace.h"

/* A log row's record: made in userspace (a line --checkpoint-regex
 * matched), never by the kernel. */
#define MT_REC_LOG 100

/* The `event` column of a record of this type (nr: its syscall, for
 * SYSCALL records), or NULL for a type that has no row. */
const char *event_name(uint32_t type, uint32_t nr);
/* The other way: type and syscall (0 when the name does not say) of an
 * event name. false when the name is none of ours. */
bool event_parse(const char *name, uint32_t *type, uint32_t *nr);
/* An RSS row's `cause` column (its first word) back to enum mt_cause,
 * and the syscall's number of "syscall:..." to *nr (0 otherwise). */
uint32_t cause_parse(const char *cause, uint32_t *nr);
/* x86_64 syscall name, or NULL when not in our table. */
const char *syscall_name(unsigned int nr);
/* A LEAVE row's `label`: enum mt_leave_why's bits as words joined by
 * '+' (secure, uid, gid, dumpable), e.g. "secure+uid"; "" for none. */
const char *leave_why_format(uint32_t why, char *buf, size_t len);
/* Name of a checkpoint kind as in the `cause` column. */
const char *ckpt_kind_name(unsigned int kind);

#endif
