/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef MEMTRACE_LIB_WAITSTATUS_H
#define MEMTRACE_LIB_WAITSTATUS_H

/* A wait status (wait4's, or the kernel's task->exit_code) as a shell
 * shows it: 0-255, or 128+N for death by signal N. */
static inline int exit_status_code(int st)
{
	if (st & 0x7f)
		return 128 + (st & 0x7f);
	return (st >> 8) & 0xff;
}

#endif
