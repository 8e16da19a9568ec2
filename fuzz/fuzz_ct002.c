/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target for the CT002/CT003 decoder and the CT logic behind it. The input is
 * split on the byte sequence "\n--\n" into datagrams that one core handles in turn (so the
 * consumer table, TTLs and info_idx see sequences, not single frames); the first byte of
 * each chunk picks the meter outcome and the clock step. Bit 2 of the input size attaches a
 * balancer (active control), so the same streams also run through bal_step, the bucket
 * sign filter and evictions of steered consumers. Every accepted frame must produce a
 * response that decodes again with 24 fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "astrameter/balancer.h"
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
	if (core->bal && (ctl & 0xc0) == 0xc0) {
		/* A control change for the consumer that just asked. */
		struct err e;
		char id[CT002_ID_MAX + 1] = "";
		if (ct002_request_parse(p, n, &req) == CT002_OK)
			ct002_consumer_id(&req, 0x0a000000u | ctl, (uint16_t)(22222 + ctl), id,
			                  sizeof(id));
		(void)ct002_core_control(core, id, (enum ct002_ctl)(ctl & 0x07),
		                         (double)(ctl & 0x0f) * 40.0 - 100.0, *now, &e);
	}
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
	struct balancer *bal = NULL;
	if (size & 4) {
		struct bal_config bc;
		bal_config_defaults(&bc);
		bc.min_efficient_power = (size & 8) ? 150 : 0;
		bal = bal_create(&bc, 1);
		ct002_core_set_balancer(&core, bal);
	}
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
	bal_destroy(bal);

	/* The number helpers on the raw input too. */
	long v;
	(void)ct002_parse_pyint((const char *)data, size, CT002_POWER_LIMIT, &v);
	return 0;
}
