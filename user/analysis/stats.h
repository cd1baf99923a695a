/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Statistics across a campaign's runs, per configuration. */
#ifndef MEMTRACE_ANALYSIS_STATS_H
#define MEMTRACE_ANALYSIS_STATS_H

#include "format/result.h"

/* Statistics of one config over its successful runs (exit 0); std is the
 * sample standard deviation (n-1). */
#define STATS_STD_KIND "sample (n-1)"
struct config_stats {
	char config[256];
	int runs, failed;
	double mean_peak_kb, std_peak_kb, cv_peak_pct, min_peak_kb, max_peak_kb;
	double mean_dur_s, std_dur_s, cv_dur_pct, min_dur_s, max_dur_s;
	/* over those of them whose result has the figure (a result.csv of
	 * the first version has none) */
	int baseline_runs, vm_runs;
	double mean_base_kb, std_base_kb, cv_base_pct, min_base_kb, max_base_kb;
	double mean_vmsize_kb, std_vmsize_kb, cv_vmsize_pct, min_vmsize_kb, max_vmsize_kb;
	double mean_vmdata_kb, std_vmdata_kb, cv_vmdata_pct, min_vmdata_kb, max_vmdata_kb;
};

/* Sample mean / standard deviation (n-1; 0 for one value) / CV in percent. */
void stats_of(const double *v, int n, double *mean, double *std, double *cv,
	      double *min, double *max);
/* Groups results (sorted by index) by config, in order of first
 * appearance. Returns the number of configs written to out (malloc'd). */
int stats_by_config(const struct run_result *res, int n, struct config_stats **out);

#endif
