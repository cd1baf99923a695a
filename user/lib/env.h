/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef MEMTRACE_LIB_ENV_H
#define MEMTRACE_LIB_ENV_H

/* A new environment: base (NULL: ours) without the n names given, then
 * NAME=VALUE for each. The array and the n strings it adds are malloc'd
 * (env_free); the rest are base's. NULL without memory. */
char **env_with(char *const *base, const char *const *names, const char *const *vals, int n);
/* Frees what env_with made (n: as given to it). */
void env_free(char **env, int n);

#endif
