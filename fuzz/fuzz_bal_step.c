/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target: random request streams through the balancer. The input bytes pick a
 * config, consumers (phase, device type, power), user controls, meter values (including
 * NaN, inf, huge), meter failures, evictions and time steps; every answer must be finite
 * and the sanitizers must stay quiet (no division by zero, no overflow, no NaN). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrameter/balancer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct rd {
	const uint8_t *p;
	size_t n;
};

static unsigned u8(struct rd *r)
{
	if (!r->n)
		return 0;
	r->n--;
	return *r->p++;
}

static int s16(struct rd *r)
{
	return (int16_t)(uint16_t)(u8(r) | (u8(r) << 8));
}

static double val(struct rd *r)
{
	unsigned k = u8(r);
	if (k == 255)
		return NAN;
	if (k == 254)
		return u8(r) & 1 ? INFINITY : -INFINITY;
	if (k == 253)
		return 1e300;
	return (double)s16(r) / (k % 4 + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd r = {data, size};
	struct bal_config c;
	bal_config_defaults(&c);
	unsigned f = u8(&r);
	c.pace_base_step = f & 1 ? 0 : 30;
	c.min_efficient_power = f & 2 ? 150 : 0;
	c.grid_predict_trust = f & 4 ? 0 : 0.5;
	c.fair_distribution = !(f & 8);
	c.min_dc_output = f & 16 ? 50 : 0;
	c.efficiency_rotation_interval = f & 32 ? 5 : 900;
	c.saturation_grace_seconds = f & 64 ? 3 : 90;
	c.concentrate_deadband = f & 128 ? 0 : 60;
	unsigned f2 = u8(&r);
	if (f2 & 1) { /* upstream's predictor and pacing default */
		c.predictor = BAL_PRED_UPSTREAM;
		c.pace_max_step = 100;
	}
	c.import_trim_w = f2 & 2 ? 0 : 15;
	ev_ms now = 1000;
	struct balancer *b = bal_create(&c, now);
	if (!b)
		return 0;
	static const char *dts[] = {"HMG-50", "VNSE3-0", "HMA-1", "VNSD-0", "JPLS-8", "", "HMJ"};
	static const char phases[] = "ABCD0x";
	char ids[8][16];
	struct bal_report rep[8];
	size_t n = 1 + u8(&r) % 8;
	for (size_t i = 0; i < n; i++) {
		snprintf(ids[i], sizeof(ids[i]), "c%u", (unsigned)i);
		rep[i] = (struct bal_report){.id = ids[i],
		                             .device_type = dts[u8(&r) % 7],
		                             .phase = phases[u8(&r) % 6],
		                             .participates = true};
	}
	uint64_t sample = 1;
	while (r.n > 0) {
		unsigned op = u8(&r);
		size_t i = u8(&r) % n;
		switch (op % 8) {
		case 0:
			bal_set_active(b, ids[i], u8(&r) & 1, now, NULL);
			break;
		case 1:
			bal_set_auto_target(b, ids[i], u8(&r) & 1, now, NULL);
			bal_set_manual_target(b, ids[i], val(&r), NULL);
			break;
		case 2:
			bal_set_weight(b, ids[i], u8(&r) / 20.0, NULL);
			bal_set_eff_window_weight(b, ids[i], u8(&r) / 200.0, NULL);
			bal_set_min_dc_output(b, ids[i], val(&r), NULL);
			break;
		case 3:
			bal_remove_consumer(b, ids[i]);
			break;
		case 4:
			bal_force_rotation(b, rep, n, now);
			break;
		default: {
			rep[i].power = s16(&r);
			rep[i].participates = u8(&r) != 7;
			struct bal_input in = {.reports = rep,
			                       .n = n,
			                       .self = i,
			                       .grid = {val(&r), val(&r), val(&r)},
			                       .meter_ok = u8(&r) != 9,
			                       .now = now};
			if (u8(&r) & 1)
				sample++;
			in.sample_id = sample;
			struct bal_output out;
			if (bal_step(b, &in, &out) != 0)
				abort();
			for (int k = 0; k < 3; k++)
				if (!isfinite(out.value[k]))
					abort();
			if (!isfinite(out.instructed))
				abort();
			break;
		}
		}
		now += u8(&r) * 20;
	}
	bal_destroy(b);
	return 0;
}
