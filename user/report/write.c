// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A report written as every output of ours is: a new file put in place
 * whole (lib/files.h), or stdout. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include "lib/files.h"
#include "report/report.h"

#define SVG_WIDTH 1200
#define SVG_HEIGHT 520

static int write_to(struct report *r, enum report_format fmt, FILE *f)
{
	return fmt == REPORT_SVG ? report__svg(r, f, SVG_WIDTH, SVG_HEIGHT) : report__html(r, f);
}

int report__write_file(struct report *r, enum report_format fmt, int dirfd, const char *out,
		       char *err, size_t len)
{
	struct out_file of;
	FILE *f;
	int e;

	err[0] = 0;
	if (!strcmp(out, "-")) {
		e = write_to(r, fmt, stdout);
		if (!e && (fflush(stdout) || ferror(stdout)))
			e = errno ? -errno : -EIO;
		if (e)
			snprintf(err, len, "writing the report failed: %s", strerror(-e));
		return e;
	}
	e = out_file__create(&of, dirfd, out, "report", err, len);
	if (e)
		return e;
	f = out_file__stream(&of);
	if (!f) {
		e = errno ? -errno : -ENOMEM;
		snprintf(err, len, "cannot write %s: %s", out, strerror(-e));
	} else if ((e = write_to(r, fmt, f))) {
		fclose(f);
	} else if (!(e = out_file__stream_end(&of, f))) {
		e = out_file__publish(&of, err, len);
	}
	if (e && !err[0])
		snprintf(err, len, "writing %s failed: %s", out, strerror(-e));
	out_file__close(&of);
	return e;
}

int report_write(const struct report_opts *o, enum report_format fmt, int dirfd,
		 const char *out, char *err, size_t len)
{
	struct report *r = NULL;
	char msg[512];
	int e;

	err[0] = 0;
	/* the output first: a path we cannot write is said before a long read */
	if (dirfd == AT_FDCWD && strcmp(out, "-") &&
	    (e = check_output_path(out, "report", msg, sizeof(msg)))) {
		snprintf(err, len, "%s", msg);
		return e;
	}
	e = report__read(&r, o, err, len);
	if (!e)
		e = report__write_file(r, fmt, dirfd, out, err, len);
	report__free(r);
	return e;
}

int report_beside(const char *trace, const char *summary, int dirfd, const char *who,
		  const char *version)
{
	struct report_opts o = { .trace = trace, .summary = summary, .version = version };
	char out[4096], err[1024];
	int e;

	report_path_beside(out, sizeof(out), trace, "html");
	e = report_write(&o, REPORT_HTML, dirfd, out, err, sizeof(err));
	if (e)
		fprintf(stderr, "%s: the report %s was not written: %s\n", who, out, err);
	return e;
}
