/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target: the balancer controls state-file parser (bal_controls_parse) on
 * arbitrary bytes; whatever it accepts must serialise and parse back identically. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "astrameter/balancer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bal_config c;
	bal_config_defaults(&c);
	struct balancer *b = bal_create(&c, 1000);
	if (!b)
		return 0;
	struct err e;
	if (bal_controls_parse(b, (const char *)data, size, &e) == 0) {
		static char buf[64 * 1024], buf2[64 * 1024];
		long n = bal_controls_serialize(b, buf, sizeof(buf));
		if (n < 0)
			abort();
		struct balancer *b2 = bal_create(&c, 1000);
		if (b2) {
			if (bal_controls_parse(b2, buf, (size_t)n, &e) != 0)
				abort();
			long n2 = bal_controls_serialize(b2, buf2, sizeof(buf2));
			if (n2 != n || memcmp(buf, buf2, (size_t)n) != 0)
				abort();
			bal_destroy(b2);
		}
	}
	bal_destroy(b);
	return 0;
}
