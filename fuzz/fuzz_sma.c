/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Fuzz target for the SMA Speedwire decoder: the input is one datagram, run through the
 * header check, the serial filter (auto and configured) and the channel walk. Checks that
 * a decoded reading has 1 or 3 finite values within what 32-bit tenths of a watt allow. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "astrameter/sma.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pm_sma_header h;
	struct pm_reading r;
	if (pm_sma_parse_header(data, size, &h) == 0) {
		struct pm_sma_filter autof = {0}, fixed = {.want = 0x71551764u};
		bool locked;
		(void)pm_sma_filter_accept(&autof, &h, &locked);
		(void)pm_sma_filter_accept(&fixed, &h, &locked);
	}
	if (pm_sma_parse_power(data, size, &r) == 0) {
		if (r.n != 1 && r.n != 3)
			abort();
		for (unsigned i = 0; i < r.n; i++)
			if (!isfinite(r.w[i]) || fabs(r.w[i]) > 429496729.6)
				abort();
	}
	return 0;
}
