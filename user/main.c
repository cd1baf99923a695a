// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * memtrace-bpf: the exact RSS timeline of a process, from kernel events.
 * Which subcommand runs; `memtrace-bpf [OPTIONS] ...` is `record`.
 */
#include <argp.h>
#include <stdio.h>
#include <string.h>
#include "cmd/cmd.h"

static const struct {
	const char *name;
	int (*main)(int argc, char **argv);
} subcommands[] = {
	{ "spikes", cmd_spikes },
	{ "campaign", cmd_campaign },
	{ "validate", cmd_validate },
	{ "stages", cmd_stages },
	{ "resample", cmd_resample },
	{ "export", cmd_export },
	{ "report", cmd_report },
	{ "daemon", cmd_daemon },
	{ "slurm-helper", cmd_slurm_helper },
};

int main(int argc, char **argv)
{
	stdio_reserve();
	argp_err_exit_status = EXIT_USAGE;	/* argp's own default is 64 */
	if (argc > 1 && !strcmp(argv[1], "record")) {
		argv[1] = argv[0];
		return cmd_record(argc - 1, argv + 1);
	}
	for (size_t i = 0; argc > 1 && i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
		static char name[64];

		if (strcmp(argv[1], subcommands[i].name))
			continue;
		/* argp's name in its messages */
		snprintf(name, sizeof(name), "memtrace-bpf %s", subcommands[i].name);
		argv[1] = name;
		return subcommands[i].main(argc - 1, argv + 1);
	}
	return cmd_record(argc, argv);
}
