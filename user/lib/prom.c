// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <inttypes.h>
#include <string.h>
#include "format/text.h"
#include "lib/files.h"
#include "lib/metrics_http.h"
#include "lib/prom.h"

const struct prom_family prom_run[PROM_NRUN] = {
	[PROM_RSS] = { "memtrace_rss_bytes", "gauge", "A traced run's resident memory now (anon, file and shmem pages), exact from kernel events." },
	[PROM_PEAK] = { "memtrace_peak_rss_bytes", "gauge", "A traced run's largest resident memory so far, exact to the page." },
	[PROM_PROCESSES] = { "memtrace_processes", "gauge", "Processes of a run traced now." },
	[PROM_EVENTS] = { "memtrace_events_total", "counter", "A run's records (the rows of its trace)." },
	[PROM_LOST] = { "memtrace_lost_events_total", "counter", "A run's records dropped (ring, ring share or client queue full); its peak stays exact." },
	[PROM_ALERTS] = { "memtrace_alerts_total", "counter", "A run's --alert thresholds crossed." },
	[PROM_SIGNALS] = { "memtrace_guard_signals_total", "counter", "Processes of a run signalled by its guard (--kill-at, --timeout)." },
};

void prom_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value as the format wants it: UTF-8 (an invalid byte, from a
 * program's name, as U+FFFD), with \\, \" and \n escaped. */
static void label_value(FILE *f, const char *v)
{
	size_t n = strlen(v);

	for (size_t i = 0; i < n;) {
		int k = utf8_seq(v + i, n - i);

		if (k <= 0) {
			fputs("\xef\xbf\xbd", f);
			i++;
			continue;
		}
		if (v[i] == '\n')
			fputs("\\n", f);
		else if (v[i] == '\\' || v[i] == '"')
			fprintf(f, "\\%c", v[i]);
		else
			fwrite(v + i, 1, (size_t)k, f);
		i += (size_t)k;
	}
}

void prom_sample(FILE *f, const char *name, const struct prom_label *l, size_t nl, uint64_t v)
{
	fputs(name, f);
	for (size_t i = 0; i < nl; i++) {
		fprintf(f, "%c%s=\"", i ? ',' : '{', l[i].name);
		label_value(f, l[i].value);
		fputc('"', f);
	}
	fprintf(f, "%s %" PRIu64 "\n", nl ? "}" : "", v);
}

int prom_publish(const char *path, struct metrics_http *h, const char *text, size_t len)
{
	if (h) {
		metrics_http__set(h, text, len);
		return 0;
	}
	return write_file(path, text, len);
}
