// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <inttypes.h>
#include "lib/prom.h"

void prom_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value as the format wants it: \\, \" and \n escaped. */
static void label_value(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\n') {
			fputs("\\n", f);
			continue;
		}
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		fputc(*v, f);
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
