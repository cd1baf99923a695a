/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * memtrace/mark.h: name the stages of a C/C++ program for memtrace-bpf.
 *
 *   #include <memtrace/mark.h>
 *
 *   MEMTRACE_MARK("frame_loaded");       a point: stages run from one
 *                                        mark of a name to the next
 *   MEMTRACE_BEGIN("pose_detection");    a span: NAME:begin .. NAME:end
 *   MEMTRACE_END("pose_detection");
 *
 * Each is a USDT probe (provider "memtrace", name "mark", one argument:
 * the NUL-terminated name). Untraced it costs a nop instruction and one
 * byte read of the name (so that its page is in memory when a tracer
 * reads it: a probe cannot take a page fault); no system call, no
 * library. memtrace-bpf
 * attaches to the probes of the command it launches and records a `mark`
 * row with the exact RSS at that instant (names are cut at 39 bytes, so a
 * span's NAME keeps its ":begin" up to 33 bytes).
 * Names must be string literals for BEGIN/END; MEMTRACE_MARK also takes
 * a const char * built at run time.
 *
 * Needs <sys/sdt.h> (Debian/Ubuntu: systemtap-sdt-dev; Fedora:
 * systemtap-sdt-devel). Without it, or with -DMEMTRACE_NO_MARKS, the
 * macros compile to nothing and MEMTRACE_MARK_ENABLED is 0.
 */
#ifndef MEMTRACE_MARK_H
#define MEMTRACE_MARK_H

#if !defined(MEMTRACE_NO_MARKS) && defined(__has_include)
#if __has_include(<sys/sdt.h>)
#include <sys/sdt.h>
#define MEMTRACE_MARK_ENABLED 1
#endif
#endif

#ifndef MEMTRACE_MARK_ENABLED
#define MEMTRACE_MARK_ENABLED 0
#define MEMTRACE_MARK(name) do { } while (0)
#else
#define MEMTRACE_MARK(name) do {						\
	const char *memtrace_name_ = (name);					\
	__asm__ __volatile__("" : : "r"(*(const volatile char *)memtrace_name_));\
	DTRACE_PROBE1(memtrace, mark, memtrace_name_);				\
} while (0)
#endif

#define MEMTRACE_BEGIN(name) MEMTRACE_MARK(name ":begin")
#define MEMTRACE_END(name) MEMTRACE_MARK(name ":end")

#endif /* MEMTRACE_MARK_H */
