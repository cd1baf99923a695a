/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Statistics across a campaign's runs, per configuration. */
#ifndef MEMTRACE_ANALYSIS_STATS_H
#define MEMTRACE_ANALYSIS_STATS_H

#include "format/result.h"

/* Statistics of one config over its successful runs (exit 0). */
struct config_stats {
	char config[256];
	int runs, failed;
	double mean_peak_kb, std_peak_kb, cv_peak_pct, min_peak_kb, max_peak_kb;
	double mean_dur_s, std_dur_s, cv_dur_pct, min_dur_s, max_dur_s;
};

/* Sample mean / standard deviation (n-1; 0 for one value) / CV in percent. */
void stats_of(const double *v, int n, double *mean, double *std, double *cv,
	      double *min, double *max);
/* Groups results (sorted by index) by config, in order of first
 * appearance. Returns the number of configs written to out (malloc'd). */
int stats_by_config(const struct run_result *res, int n, struct config_stats **out);

#endif
