/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Fuzzes astra-sim's battery-side CT002 decoder, and the battery's response handling on
 * whatever it accepts. The simulator sources are compiled in directly because fuzz targets
 * link only the daemon's core library. */
#include <stddef.h>
#include <stdint.h>

#include "sim/sim_battery.c"
#include "sim/sim_ct.c"
#include "sim/sim_steer.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sim_ct_fields f;
	if (sim_ct_decode(data, size, &f) == 0) {
		static const char *const types[] = {"HMG-50", "VNSD-0", "HMJ-2"};
		for (size_t i = 0; i < 3; i++) {
			struct sim_bat_cfg c;
			struct sim_battery b;
			sim_bat_cfg_defaults(&c);
			snprintf(c.mac, sizeof(c.mac), "02B250000001");
			snprintf(c.dev_type, sizeof(c.dev_type), "%s", types[i]);
			c.phase = (char)('A' + (size % 3));
			sim_bat_init(&b, &c);
			sim_bat_response(&b, &f, false);
			sim_bat_tick(&b, 1.0);
			char buf[SIM_CT_MAX_FRAME];
			bool insp;
			(void)sim_bat_request(&b, buf, sizeof(buf), &insp);
		}
	}
	return 0;
}
