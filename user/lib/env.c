// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/env.h"

extern char **environ;

static bool is_named(const char *kv, const char *const *names, int n)
{
	for (int j = 0; j < n; j++) {
		size_t l = strlen(names[j]);

		if (!strncmp(kv, names[j], l) && kv[l] == '=')
			return true;
	}
	return false;
}

char **env_with(char *const *base, const char *const *names, const char *const *vals, int n)
{
	char *const *src = base ? base : environ;
	size_t ne = 0, k = 0;
	char **env;

	while (src[ne])
		ne++;
	env = calloc(ne + (size_t)n + 1, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < ne; i++)
		if (!is_named(src[i], names, n))
			env[k++] = src[i];
	for (int j = 0; j < n; j++) {
		if (asprintf(&env[k], "%s=%s", names[j], vals[j]) < 0) {
			env[k] = NULL;
			env_free(env, j);
			return NULL;
		}
		k++;
	}
	env[k] = NULL;
	return env;
}

void env_free(char **env, int n)
{
	size_t len = 0;

	if (!env)
		return;
	while (env[len])
		len++;
	/* ours are the last n */
	for (size_t i = len >= (size_t)n ? len - (size_t)n : 0; i < len; i++)
		free(env[i]);
	free(env);
}
