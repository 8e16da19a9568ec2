/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target for the CT002/CT003 decoder and the CT logic behind it. The input is
 * split on the byte sequence "\n--\n" into datagrams that one core handles in turn (so the
 * consumer table, TTLs and info_idx see sequences, not single frames); the first byte of
 * each chunk picks the meter outcome and the clock step. Every accepted frame must produce
 * a response that decodes again with 24 fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "astrameter/ct002.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(struct ct002_core *core, const uint8_t *p, size_t n, ev_ms *now)
{
	if (n == 0)
		return;
	uint8_t ctl = p[0];
	p++;
	n--;
	*now += (ev_ms)(ctl & 0x0f) * 700;
	struct ct002_frame fr;
	(void)ct002_decode(p, n, &fr);
	struct ct002_request req;
	(void)ct002_request_parse(p, n, &req);

	struct pm_reading r = {.w = {300.5, -50, 0.25, 7}, .n = 1u + (ctl >> 6), .at = *now};
	enum ct002_src src = (ctl & 0x30) == 0x10   ? CT002_SRC_HOLD
	                     : (ctl & 0x30) == 0x20 ? CT002_SRC_NO_METER
	                                            : CT002_SRC_METER;
	uint8_t out[CT002_MAX_FRAME];
	int len = ct002_core_handle(core, p, n, 0x0a000000u | ctl, (uint16_t)(22222 + ctl), src, &r,
	                            *now, out, sizeof(out));
	if (len > 0) {
		struct ct002_frame back;
		if (ct002_decode(out, (size_t)len, &back) != CT002_OK ||
		    back.n != CT002_RESP_FIELDS)
			abort();
	}
	if (ctl & 0x08)
		(void)ct002_core_expire(core, *now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ct002_core core;
	struct ct002_core_cfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	memcpy(cfg.ct_type, "HME-4", 6);
	cfg.wifi_rssi = -50;
	cfg.consumer_ttl = (size & 1) ? -1 : 20;
	if (size & 2)
		memcpy(cfg.ct_mac, "112233445566", 13);
	ct002_core_init(&core, &cfg);
	ev_ms now = 1000;
	static const uint8_t sep[] = "\n--\n";
	size_t start = 0;
	for (size_t i = 0; i + 4 <= size; i++) {
		if (memcmp(data + i, sep, 4) == 0) {
			one(&core, data + start, i - start, &now);
			start = i + 4;
			i += 3;
		}
	}
	one(&core, data + start, size - start, &now);

	/* The number helpers on the raw input too. */
	long v;
	(void)ct002_parse_pyint((const char *)data, size, CT002_POWER_LIMIT, &v);
	return 0;
}
