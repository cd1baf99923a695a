// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: a datagram as the service receives it from a client
 * (trace/wire.c: wire__check_request), and as a client receives it from
 * the service (wire__check_reply). The first byte is how many fds came
 * with it (0-2), the rest the datagram. A message taken is read whole, so
 * a payload the checks let past its bounds is an ASan report.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "trace/wire.h"

static unsigned touch(const struct wire_msg *m)
{
	const unsigned char *p = m->payload;
	unsigned sum = 0;

	for (size_t i = 0; i < m->len; i++)
		sum += p[i];
	return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_msg m;
	char why[160];
	int nfds;

	if (!size)
		return 0;
	nfds = data[0] % 3;
	if (!wire__check_request(data + 1, size - 1, nfds, &m, why, sizeof(why))) {
		if (m.len + sizeof(m.hdr) != size - 1 || m.nfds != nfds)
			abort();
		(void)touch(&m);
	} else if (!why[0]) {
		abort();	/* a refusal always says why */
	}
	if (!wire__check_reply(data + 1, size - 1, nfds, &m, why, 0))
		(void)touch(&m);
	return 0;
}
