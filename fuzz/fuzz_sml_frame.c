/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Fuzz target for the SML stream framer: the input is a read-head stream consumed as the
 * driver would (next file, decode its payload, drop f.skip, repeat); every step makes
 * progress or waits. On the whole input it is cross-checked against the existing
 * whole-body framer pm_sml_frame_scan (src/core/sml.c): when this one finds a good file,
 * that one must find the same file with the same payload. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "astrameter/sml.h"
#include "astrameter/sml_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t p1[SML_FRAME_MAX_PAYLOAD], p2[SML_MAX_FRAME];
	struct sml_frame f;
	if (sml_frame_next(data, size, p1, sizeof(p1), &f, NULL) == 1) {
		size_t start, end, plen;
		if (pm_sml_frame_scan(data, size, &start, &end, p2, sizeof(p2), &plen, NULL) != 1 ||
		    start != f.start || end != f.end || plen != f.plen || memcmp(p1, p2, plen) != 0)
			abort();
	}
	struct pm_sml_obis_cfg cfg;
	pm_sml_obis_cfg_default(&cfg);
	size_t off = 0;
	for (;;) {
		int rc = sml_frame_next(data + off, size - off, p1, sizeof(p1), &f, NULL);
		if (f.skip > size - off || (rc != 0 && f.skip == 0))
			abort();
		if (rc == 1) {
			if (f.plen > SML_FRAME_MAX_PAYLOAD || f.end > size - off)
				abort();
			struct pm_reading r;
			(void)pm_sml_payload_powers(p1, f.plen, &cfg, &r, NULL);
		}
		off += f.skip;
		if (rc == 0)
			break;
	}
	return 0;
}
