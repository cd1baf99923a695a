/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* memtrace-bpf campaign: its plan is cmd/campaign_plan.h; its tables and
 * `campaign report` are cmd/campaign_report.c. */
#ifndef MEMTRACE_CMD_CAMPAIGN_H
#define MEMTRACE_CMD_CAMPAIGN_H

#include <stdbool.h>

/* DIR/campaign.csv, stats.csv and stats.json from the finished runs on
 * disk; print: the statistics table (or stats.json) on stdout. 0 or -errno
 * (said). *nfailed: the finished runs that did not exit 0; *nover: those
 * over their --max-peak (status over-limit). */
int campaign_tables(const char *dir, bool print, bool json_out, int *nfailed, int *nover);
/* memtrace-bpf campaign report DIR [--format text|json] */
int campaign_report_main(int argc, char **argv);

#endif
