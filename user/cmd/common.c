// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <argp.h>
#include <stdlib.h>
#include <string.h>
#include "cmd/cmd.h"
#include "lib/units.h"

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

int trace_args_parse(const char *sub, int key, char *arg, const char **trace, bool *json,
		     pid_t *only_pid)
{
	unsigned long u;

	switch (key) {
	case TOPT_FORMAT:
		if (strcmp(arg, "json") && strcmp(arg, "table"))
			usage_exit(sub, "--format %s: use table or json", arg);
		*json = !strcmp(arg, "json");
		return 0;
	case TOPT_PID:
		if (parse_uint(arg, 0x7fffffff, &u) || !u)
			usage_exit(sub, "--pid %s: not a PID", arg);
		*only_pid = (pid_t)u;
		return 0;
	case ARGP_KEY_ARG:
		if (*trace)
			usage_exit(sub, "one trace at a time (got %s and %s)", *trace, arg);
		*trace = arg;
		return 0;
	case ARGP_KEY_END:
		if (!*trace)
			usage_exit(sub, "which trace? e.g. memtrace-bpf %s trace.csv", sub);
		break;
	}
	return ARGP_ERR_UNKNOWN;
}
