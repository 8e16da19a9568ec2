/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Fuzz target for the DSMR/P1 framer and parser: the input is a serial stream, consumed as
 * a driver would (scan, parse a telegram, drop f.skip, repeat). Checks that every step
 * makes progress or waits, spans stay inside the buffer, and readings have 1 or 3 finite
 * values. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "astrameter/dsmr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	for (;;) {
		struct dsmr_frame f;
		int rc = dsmr_frame_scan(data + off, size - off, &f, NULL);
		if (f.skip > size - off)
			abort();
		if (rc == 1) {
			if (f.start >= f.end || f.end > size - off || f.skip != f.end)
				abort();
			struct pm_reading r;
			if (dsmr_parse_powers((const char *)data + off + f.start, f.end - f.start,
			                      &r, NULL) == 0) {
				if (r.n != 1 && r.n != 3)
					abort();
				for (unsigned i = 0; i < r.n; i++)
					if (!isfinite(r.w[i]))
						abort();
			}
		} else if (rc < 0 && f.skip == 0) {
			abort();
		}
		off += f.skip;
		if (rc == 0)
			break;
	}
	/* the parser alone on arbitrary text */
	struct pm_reading r;
	(void)dsmr_parse_powers((const char *)data, size, &r, NULL);
	return 0;
}
