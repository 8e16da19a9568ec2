/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target for the filter chain: the input is an ini text, a NUL byte, then
 * readings, each one byte phase count (mod PM_MAX_VALUES + 1, so 0 occurs), two bytes of time
 * step in ms and a little-endian int16 per phase (watts). The chain is built from section [F]
 * with [GENERAL] and every reading run through it; every few readings reset() is called.
 * Checks that a configured chain never crashes, trips a sanitizer or leaks, and keeps
 * the phase count. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "astrameter/config.h"
#include "astrameter/filter.h"
#include "astrameter/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	struct cfg cfg;
	struct err e;
	struct flt_chain *c = NULL;
	char *text;
	size_t tlen, pos;
	ev_ms now = 0;
	unsigned count = 0;

	if (!nul)
		return 0;
	log_set_level(LOG_LVL_CRIT); /* configure() logs one line per stage */
	tlen = (size_t)(nul - data);
	text = malloc(tlen + 1);
	if (!text)
		return 0;
	memcpy(text, data, tlen);
	text[tlen] = '\0';
	memset(&cfg, 0, sizeof(cfg));
	if (cfg_load_string(&cfg, text, &e) < 0) {
		free(text);
		return 0;
	}
	free(text);
	if (flt_chain_new(&c, cfg_find(&cfg, "F"), cfg_find(&cfg, "GENERAL"), &e) < 0) {
		cfg_free(&cfg);
		return 0;
	}
	pos = tlen + 1;
	while (pos + 3 <= size) {
		struct pm_reading r;
		unsigned n = data[pos] % (PM_MAX_VALUES + 1);

		now += (ev_ms)(data[pos + 1] | (unsigned)data[pos + 2] << 8);
		pos += 3;
		if (pos + 2 * (size_t)n > size)
			break;
		memset(&r, 0, sizeof(r));
		r.n = n;
		for (unsigned i = 0; i < n; i++, pos += 2)
			r.w[i] = (double)(int16_t)(uint16_t)(data[pos] | (unsigned)data[pos + 1]
			                                                         << 8);
		r.at = now;
		flt_chain_process(c, now, &r);
		if (r.n != n)
			abort();
		if (++count % 17 == 0)
			flt_chain_reset(c);
	}
	flt_chain_free(c);
	cfg_free(&cfg);
	return 0;
}
