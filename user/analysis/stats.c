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
	size_t w = (size_t)n + 1;
	struct config_stats *st = calloc(w, sizeof(*st));
	/* one array, five columns of w: the figures of one config's runs */
	double *v = malloc(5 * w * sizeof(double));
	double *peaks, *durs, *bases, *vmsizes, *vmdatas;
	int nst = 0;

	*out = NULL;
	if (!st || !v) {
		free(st);
		free(v);
		return -ENOMEM;
	}
	peaks = v;
	durs = v + w;
	bases = v + 2 * w;
	vmsizes = v + 3 * w;
	vmdatas = v + 4 * w;
	for (int i = 0; i < n; i++) {
		struct config_stats *c = &st[nst];
		int k, m = 0, mb = 0, mv = 0;

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
			if (res[j].baseline_kb >= 0)
				bases[mb++] = (double)res[j].baseline_kb;
			if (res[j].peak_vmsize_kb >= 0 && res[j].peak_vmdata_kb >= 0) {
				vmsizes[mv] = (double)res[j].peak_vmsize_kb;
				vmdatas[mv++] = (double)res[j].peak_vmdata_kb;
			}
		}
		c->runs = m;
		c->baseline_runs = mb;
		c->vm_runs = mv;
		stats_of(peaks, m, &c->mean_peak_kb, &c->std_peak_kb, &c->cv_peak_pct,
			 &c->min_peak_kb, &c->max_peak_kb);
		stats_of(durs, m, &c->mean_dur_s, &c->std_dur_s, &c->cv_dur_pct,
			 &c->min_dur_s, &c->max_dur_s);
		stats_of(bases, mb, &c->mean_base_kb, &c->std_base_kb, &c->cv_base_pct,
			 &c->min_base_kb, &c->max_base_kb);
		stats_of(vmsizes, mv, &c->mean_vmsize_kb, &c->std_vmsize_kb, &c->cv_vmsize_pct,
			 &c->min_vmsize_kb, &c->max_vmsize_kb);
		stats_of(vmdatas, mv, &c->mean_vmdata_kb, &c->std_vmdata_kb, &c->cv_vmdata_pct,
			 &c->min_vmdata_kb, &c->max_vmdata_kb);
		nst++;
	}
	free(v);
	*out = st;
	return nst;
}
