// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: a campaign run's result.csv (format/result.c), read as
 * campaign report reads it, then written back as a campaign.csv row and
 * taken into the statistics, as campaign_tables() does.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "analysis/stats.h"
#include "format/result.h"

static char path[64];

static void cleanup(void)
{
	unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run_result res[2];
	struct config_stats *st = NULL;
	char err[512], line[1024];
	int fd, n;

	/* a regular file: result_read refuses anything else (and links) */
	if (!path[0]) {
		snprintf(path, sizeof(path), "/tmp/memtrace-fuzz-result-%d.csv", (int)getpid());
		atexit(cleanup);
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	err[0] = 0;
	if (result_read(path, &res[0], err, sizeof(err))) {
		if (!err[0] || !strstr(err, path))
			abort();	/* an error always names the file */
		return 0;
	}
	if (result_format(line, sizeof(line), &res[0]) < 0)
		abort();	/* what was read can be written again */
	res[1] = res[0];
	res[1].exit_code = 0;
	n = stats_by_config(res, 2, &st);
	if (n < 1)
		abort();
	free(st);
	return 0;
}
