/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Fuzzes astra-sim's JSON config parser + validator and the CSV trace parser (both forms)
 * on the same input. The simulator sources are compiled in directly because fuzz targets
 * link only the daemon's core library. */
#include <stddef.h>
#include <stdint.h>

#include "sim/sim_battery.c"
#include "sim/sim_config.c"
#include "sim/sim_ct.c"
#include "sim/sim_meter.c"
#include "sim/sim_steer.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sim_config c;
	struct err e;
	if (sim_config_parse((const char *)data, size, &c, &e) == 0)
		(void)sim_config_validate(&c, &e);
	for (int pv = 0; pv < 2; pv++) {
		struct sim_trace t;
		if (sim_trace_parse((const char *)data, size, pv != 0, &t, &e) == 0) {
			double ld, p;
			sim_trace_at(&t, t.t[t.n / 2], &ld, &p);
			sim_trace_free(&t);
		}
	}
	return 0;
}
