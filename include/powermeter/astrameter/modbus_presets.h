/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Register maps of the Modbus meters users ask for, so `PRESET = sdm630` is enough: which
 * registers hold total and per-phase active power, their type, byte and word order, the
 * factor to watts and the sign (every row yields import positive). One const row per
 * meter in src/powermeter/modbus_presets.c, each with a comment naming its manual. Pure:
 * the MODBUS driver reads the block mb_preset_block() names and hands it to
 * mb_preset_decode(). */
#ifndef ASTRAMETER_MODBUS_PRESETS_H
#define ASTRAMETER_MODBUS_PRESETS_H

#include <stddef.h>
#include <stdint.h>
#include "astrameter/err.h"
#include "astrameter/modbus_codec.h"
#include "astrameter/reading.h"

#define MB_NO_REG (-1)

/* One power quantity: the register at pos, minus the one at neg for meters that count
 * import and export in separate unsigned registers (MB_NO_REG: none). */
struct mb_quantity {
	int32_t pos, neg;
};

struct mb_preset {
	const char *name;  /* PRESET value (lower case; matched case-insensitively) */
	const char *meter; /* what it is, for logs and docs */
	enum mb_regtype regtype;
	struct mb_format fmt;
	double scale; /* raw value x scale = W, import positive */
	struct mb_quantity total;
	struct mb_quantity phase[3]; /* phase[0].pos == MB_NO_REG: a single-phase meter */
	/* SunSpec int+SF models: register of the int16 power-of-ten scale factor applied to
	 * every power value, and 0x8000 in a value register meaning "not implemented". */
	int32_t sunssf;
	/* A register whose value must lie in [model_min, model_max] (the SunSpec model id),
	 * MB_NO_REG for none: reading the wrong block must fail, not give wrong watts. */
	int32_t model_reg;
	uint16_t model_min, model_max;
	uint8_t unit; /* the meter's factory unit id */
};

/* The row named name (case-insensitive, blanks around allowed), or NULL. */
const struct mb_preset *mb_preset_find(const char *name);

/* Rows in table order, for docs and tests: NULL past the end. */
const struct mb_preset *mb_preset_at(size_t i);

/* Comma-separated preset names, for an error message about an unknown PRESET. */
const char *mb_preset_names(void);

/* The one read that covers every register the preset uses. */
void mb_preset_block(const struct mb_preset *p, uint16_t *base, uint16_t *count);

/* Power from the block regs[0, nregs) read at base: three values (L1..L3) when the meter
 * has phases and all three decode, else one total. -1 (e says which register and why) if
 * the total does not decode either, the model id check fails or the scale factor is
 * missing or out of range. out->at is left 0. */
int mb_preset_decode(const struct mb_preset *p, const uint16_t *regs, size_t nregs, uint16_t base,
                     struct pm_reading *out, struct err *e);

#endif
