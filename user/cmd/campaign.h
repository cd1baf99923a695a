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
/* DIR's page (out, NULL: DIR/campaign.html) and each run's own page
 * (DIR/CONFIG/REPEAT/trace.html; rewrite: also where one is there). 0 or
 * -errno (said; and, unless quiet, what was written). */
int campaign_page(const char *dir, const char *out, bool rewrite, bool quiet);
/* memtrace-bpf campaign report DIR [--format text|json] [--html [-o FILE]] */
int campaign_report_main(int argc, char **argv);

#endif
