// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/stats.h"

void stats_of(const double *v, int n, double *mean, double *std, double *cv,
	      double *min, double *max)
{
	double sum = 0, ss = 0;

	*mean = *std = *cv = *min = *max = 0;
	if (n <= 0)
		return;
	*min = *max = v[0];
	for (int i = 0; i < n; i++) {
		sum += v[i];
		if (v[i] < *min)
			*min = v[i];
		if (v[i] > *max)
			*max = v[i];
	}
	*mean = sum / n;
	for (int i = 0; i < n; i++)
		ss += (v[i] - *mean) * (v[i] - *mean);
	*std = n > 1 ? sqrt(ss / (n - 1)) : 0;
	*cv = *mean != 0 ? 100.0 * *std / *mean : 0;
}

int stats_by_config(const struct run_result *res, int n, struct config_stats **out)
{
	struct config_stats *st = calloc((size_t)n + 1, sizeof(*st));
	double *peaks = malloc(((size_t)n + 1) * sizeof(double));
	double *durs = malloc(((size_t)n + 1) * sizeof(double));
	int nst = 0;

	*out = NULL;
	if (!st || !peaks || !durs) {
		free(st);
		free(peaks);
		free(durs);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		int k, m = 0;

		for (k = 0; k < nst; k++)
			if (!strcmp(st[k].config, res[i].config))
				break;
		if (k < nst)
			continue;	/* done with the config's first row */
		snprintf(st[nst].config, sizeof(st[nst].config), "%s", res[i].config);
		for (int j = i; j < n; j++) {
			if (strcmp(res[j].config, res[i].config))
				continue;
			if (res[j].exit_code != 0) {
				st[nst].failed++;
				continue;
			}
			peaks[m] = (double)res[j].peak_rss_kb;
			durs[m] = res[j].duration_s;
			m++;
		}
		st[nst].runs = m;
		stats_of(peaks, m, &st[nst].mean_peak_kb, &st[nst].std_peak_kb, &st[nst].cv_peak_pct,
			 &st[nst].min_peak_kb, &st[nst].max_peak_kb);
		stats_of(durs, m, &st[nst].mean_dur_s, &st[nst].std_dur_s, &st[nst].cv_dur_pct,
			 &st[nst].min_dur_s, &st[nst].max_dur_s);
		nst++;
	}
	free(peaks);
	free(durs);
	*out = st;
	return nst;
}
