// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "cmds.h"

void usage_exit(const char *sub, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "memtrace-bpf %s: ", sub);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'memtrace-bpf %s --help' for the options and examples.\n", sub);
	exit(2);
}
