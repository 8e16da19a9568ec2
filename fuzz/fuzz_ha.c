/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target for the Home Assistant decoder: the input is a stream of messages, one
 * per line, applied to a three-phase model and then to a power-calculate model (so both
 * value paths run); the last line is also tried as a REST seed body. Checks that values are
 * only reported when every needed entity has a finite value. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "astrameter/pm_ha.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct pm_ha_model *m)
{
	struct pm_reading r;
	const char *missing = NULL;
	if (pm_ha_model_values(m, &r, &missing) == 0) {
		if (r.n != m->n)
			abort();
		for (unsigned i = 0; i < r.n; i++)
			if (!isfinite(r.w[i]))
				abort();
	} else if (!missing || pm_ha_model_find(m, missing, strlen(missing)) < 0) {
		abort();
	}
}

static void run(struct pm_ha_model *m, const char *text, size_t size)
{
	const char *p = text, *end = text + size, *last = text;
	size_t last_len = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct pm_ha_msg_info info;
		(void)pm_ha_handle_message(m, p, len, &info);
		if (info.fresh && info.updates == 0)
			abort();
		check(m);
		last = p;
		last_len = len;
		p += len + 1;
	}
	struct err e;
	pm_ha_model_invalidate(m);
	(void)pm_ha_apply_seed(m, 0, last, last_len, &e);
	check(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	static const char *const ids =
	        "sensor.power_phase1,sensor.power_phase2,sensor.power_phase3";
	struct pm_ha_model *m = malloc(sizeof(*m));
	if (!m)
		return 0;
	struct err e;
	if (pm_ha_model_init(m, ids, false, NULL, NULL, &e) != 0)
		abort();
	run(m, (const char *)data, size);
	if (pm_ha_model_init(m, NULL, true, "sensor.power_input", "sensor.power_output", &e) != 0)
		abort();
	run(m, (const char *)data, size);
	char *s = pm_ha_msg_subscribe(m, 1);
	free(s);
	free(m);
	return 0;
}
