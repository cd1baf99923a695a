// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "lib/units.h"

/* A non-negative decimal number with an optional fraction, then a suffix
 * that must be one of @units (matched case-insensitively and whole). */
struct unit {
	const char *name;
	double mult;
};

static int parse_scaled(const char *s, const struct unit *units, double bare_mult,
			uint64_t *out)
{
	const char *p = s;
	double v, mult = -1;
	char *end;

	if (!s || !*s)
		return -EINVAL;
	if (!isdigit((unsigned char)*p) && *p != '.')
		return -EINVAL;	/* no sign, no leading space, no "inf"/"nan" */
	errno = 0;
	v = strtod(p, &end);
	if (end == p || errno == ERANGE || !isfinite(v) || v < 0)
		return errno == ERANGE ? -ERANGE : -EINVAL;
	/* strtod accepts hex and exponents: keep plain decimals only */
	for (const char *q = p; q < end; q++)
		if (!isdigit((unsigned char)*q) && *q != '.')
			return -EINVAL;
	if (!*end) {
		mult = bare_mult;
	} else {
		for (const struct unit *u = units; u->name; u++) {
			if (!strcasecmp(end, u->name)) {
				mult = u->mult;
				break;
			}
		}
	}
	if (mult < 0)
		return -EINVAL;
	v *= mult;
	if (v >= 18446744073709551615.0)
		return -ERANGE;
	*out = (uint64_t)llround(v);
	return 0;
}

int parse_size(const char *s, uint64_t *bytes)
{
	static const struct unit units[] = {
		{ "B", 1 },
		{ "K", 1ULL << 10 }, { "KB", 1ULL << 10 }, { "KiB", 1ULL << 10 },
		{ "M", 1ULL << 20 }, { "MB", 1ULL << 20 }, { "MiB", 1ULL << 20 },
		{ "G", 1ULL << 30 }, { "GB", 1ULL << 30 }, { "GiB", 1ULL << 30 },
		{ "T", 1ULL << 40 }, { "TB", 1ULL << 40 }, { "TiB", 1ULL << 40 },
		{ NULL, 0 },
	};

	return parse_scaled(s, units, 1, bytes);
}

int parse_duration(const char *s, uint64_t *ns)
{
	static const struct unit units[] = {
		{ "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 },
		{ "m", 60e9 }, { "min", 60e9 }, { "h", 3600e9 },
		{ NULL, 0 },
	};

	return parse_scaled(s, units, 1e9, ns);
}

int parse_pct_or_size(const char *s, double max_pct, double *pct, uint64_t *bytes)
{
	size_t n = strlen(s);

	*pct = 0;
	*bytes = 0;
	if (n > 1 && s[n - 1] == '%') {
		char num[32], *end;

		if (n > sizeof(num) || !isdigit((unsigned char)s[0]) ||
		    strspn(s, "0123456789.") != n - 1)
			return -EINVAL;	/* no sign, exponent, hex or inf */
		snprintf(num, sizeof(num), "%.*s", (int)(n - 1), s);
		*pct = strtod(num, &end);
		if (*end)
			return -EINVAL;
		return *pct > max_pct ? -ERANGE : 0;
	}
	return parse_size(s, bytes);
}

int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

char *format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *names[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	int i = 0;

	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%.*f %s", v < 10 ? 2 : v < 100 ? 1 : 0, v, names[i]);
	return buf;
}

char *format_kb(int64_t kb, char *buf, size_t len)
{
	if (kb < 0) {
		format_size((uint64_t)-kb * 1024, buf + 1, len - 1);
		buf[0] = '-';
		return buf;
	}
	return format_size((uint64_t)kb * 1024, buf, len);
}

char *format_duration(uint64_t ns, char *buf, size_t len)
{
	if (ns >= 1000000000ULL)
		snprintf(buf, len, "%.3f s", ns / 1e9);
	else if (ns >= 1000000ULL)
		snprintf(buf, len, "%.3f ms", ns / 1e6);
	else if (ns >= 1000ULL)
		snprintf(buf, len, "%.1f us", ns / 1e3);
	else
		snprintf(buf, len, "%llu ns", (unsigned long long)ns);
	return buf;
}

int parse_reported_kb(const char *s, bool si, int64_t *kb)
{
	static const struct unit bin[] = {
		{ "B", 1 }, { "K", 1ULL << 10 }, { "KB", 1ULL << 10 }, { "KiB", 1ULL << 10 },
		{ "M", 1ULL << 20 }, { "MB", 1ULL << 20 }, { "MiB", 1ULL << 20 },
		{ "G", 1ULL << 30 }, { "GB", 1ULL << 30 }, { "GiB", 1ULL << 30 },
		{ "T", 1ULL << 40 }, { "TB", 1ULL << 40 }, { "TiB", 1ULL << 40 },
		{ NULL, 0 },
	};
	static const struct unit dec[] = {
		{ "B", 1 }, { "K", 1ULL << 10 }, { "KB", 1e3 }, { "KiB", 1ULL << 10 },
		{ "M", 1ULL << 20 }, { "MB", 1e6 }, { "MiB", 1ULL << 20 },
		{ "G", 1ULL << 30 }, { "GB", 1e9 }, { "GiB", 1ULL << 30 },
		{ "T", 1ULL << 40 }, { "TB", 1e12 }, { "TiB", 1ULL << 40 },
		{ NULL, 0 },
	};
	char buf[64];
	size_t n = 0, o = 0;
	uint64_t bytes;
	const char *p = s;

	while (*p == ' ' || *p == '\t')
		p++;
	n = strlen(p);
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r'))
		n--;
	if (!n || n >= sizeof(buf))
		return -EINVAL;
	/* "657 MB", "657  MB" and "657MB" alike: drop the run of blanks
	 * between the number and its unit (only there: "1 2 MB" is no
	 * number) */
	for (size_t i = 0; i < n; i++) {
		if (p[i] == ' ' || p[i] == '\t') {
			size_t j = i;

			while (j < n && (p[j] == ' ' || p[j] == '\t'))
				j++;
			if (o && (isdigit((unsigned char)buf[o - 1]) || buf[o - 1] == '.') &&
			    j < n && isalpha((unsigned char)p[j])) {
				i = j - 1;
				continue;
			}
		}
		buf[o++] = p[i];
	}
	buf[o] = 0;
	if (!isdigit((unsigned char)buf[0]) && buf[0] != '.')
		return -EINVAL;
	{
		size_t d = 0;

		while (isdigit((unsigned char)buf[d]) || buf[d] == '.')
			d++;
		if (!buf[d])
			return -EDOM;	/* a bare number: which unit? */
	}
	if (parse_scaled(buf, si ? dec : bin, -1, &bytes)) {
		/* a number then something: an unknown unit unless the
		 * number itself is bad */
		char *end;

		strtod(buf, &end);
		return end > buf && isalpha((unsigned char)*end) ? -EDOM : -EINVAL;
	}
	if (bytes / 1024 > (uint64_t)INT64_MAX)
		return -ERANGE;
	*kb = (int64_t)((bytes + 512) / 1024);
	return 0;
}

/* The signals a guard or a timeout may send: ending ones a program can
 * catch (TERM, INT, HUP, QUIT, USR1, USR2) and KILL. */
static const struct {
	const char *name;
	int sig;
} sig_names[] = {
	{ "KILL", SIGKILL }, { "TERM", SIGTERM }, { "INT", SIGINT }, { "HUP", SIGHUP },
	{ "QUIT", SIGQUIT }, { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 },
};

int parse_signal(const char *s, int *sig)
{
	unsigned long n;

	if (!s)
		return -EINVAL;
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < sizeof(sig_names) / sizeof(sig_names[0]); i++) {
		if (!strcasecmp(s, sig_names[i].name)) {
			*sig = sig_names[i].sig;
			return 0;
		}
	}
	if (parse_uint(s, 64, &n))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(sig_names) / sizeof(sig_names[0]); i++) {
		if (sig_names[i].sig == (int)n) {
			*sig = (int)n;
			return 0;
		}
	}
	return -ERANGE;
}

const char *signal_abbrev(int sig)
{
	for (size_t i = 0; i < sizeof(sig_names) / sizeof(sig_names[0]); i++)
		if (sig_names[i].sig == sig)
			return sig_names[i].name;
	return "?";
}
