/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The page's script and style (user/report/: report.js, report.css), linked into the
 * binary as data by the Makefile (ld -r -b binary, which names each file's
 * bytes _binary_NAME_EXT_start .. _end). Not NUL-terminated.
 */
#ifndef MEMTRACE_REPORT_ASSETS_H
#define MEMTRACE_REPORT_ASSETS_H

#include <stddef.h>

extern const char _binary_report_js_start[], _binary_report_js_end[];
extern const char _binary_report_css_start[], _binary_report_css_end[];

#define ASSET(name) (_binary_##name##_start)
#define ASSET_LEN(name) ((size_t)(_binary_##name##_end - _binary_##name##_start))

#endif
