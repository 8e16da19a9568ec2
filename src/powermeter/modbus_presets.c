/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Modbus meter presets (see modbus_presets.h). Addresses are 0-based protocol addresses;
 * the comments give the manual's own numbering. Every row's block fits one read of at
 * most 125 registers (checked by the unit test). */
#include <ctype.h>
#include <math.h>
#include <string.h>
#include <strings.h>

#include "astrameter/modbus_presets.h"

#define NONE                         \
	{                            \
		MB_NO_REG, MB_NO_REG \
	}
#define ONE(r)                 \
	{                      \
		(r), MB_NO_REG \
	}
#define NO_PHASES                \
	{                        \
		NONE, NONE, NONE \
	}
#define FLOAT_BE                           \
	{                                  \
		MB_FLOAT32, MB_BIG, MB_BIG \
	}
#define NO_SUNSPEC .sunssf = MB_NO_REG, .model_reg = MB_NO_REG

static const struct mb_preset presets[] = {
        /* Eastron SDM630 Modbus V2, "SDM630 Modbus Protocol" (input registers, function
         * 04, IEEE 754 float32, high word first): 30013/30015/30017 "Phase 1/2/3 active
         * power" W, 30053 "Total system power" W; signed, positive = import. */
        {.name = "sdm630",
         .meter = "Eastron SDM630 (three-phase)",
         .regtype = MB_INPUT,
         .fmt = FLOAT_BE,
         .scale = 1.0,
         .total = ONE(52),
         .phase = {ONE(12), ONE(14), ONE(16)},
         NO_SUNSPEC,
         .unit = 1},
        /* Eastron SDM120 Modbus, "SDM120 Modbus Protocol" (input registers, float32,
         * high word first): 30013 "Active power" W, signed, positive = import. */
        {.name = "sdm120",
         .meter = "Eastron SDM120 (single-phase)",
         .regtype = MB_INPUT,
         .fmt = FLOAT_BE,
         .scale = 1.0,
         .total = ONE(12),
         .phase = NO_PHASES,
         NO_SUNSPEC,
         .unit = 1},
        /* CHINT DTSU666 user manual, "Communication address table" (holding registers,
         * function 03, float32, high word first): 0x2012 Pt (combined active power),
         * 0x2014/0x2016/0x2018 Pa/Pb/Pc, unit 0.1 W; signed, positive = forward (import)
         * when wired as the manual shows. The meter Huawei and Sungrow inverters read on
         * their RS485 meter port. */
        {.name = "dtsu666",
         .meter = "CHINT DTSU666 (three-phase)",
         .regtype = MB_HOLDING,
         .fmt = FLOAT_BE,
         .scale = 0.1,
         .total = ONE(0x2012),
         .phase = {ONE(0x2014), ONE(0x2016), ONE(0x2018)},
         NO_SUNSPEC,
         .unit = 1},
        /* KOSTAL Smart Energy Meter (KSEM), "Modbus TCP interface" register list (holding,
         * uint32 high word first, 0.1 W): 0x0000/0x0002 active power+ / active power-
         * (import / export) total, 0x0028/0x002A L1, 0x0050/0x0052 L2, 0x0078/0x007A L3;
         * both unsigned, so W = (import - export) / 10. */
        {.name = "ksem",
         .meter = "KOSTAL Smart Energy Meter",
         .regtype = MB_HOLDING,
         .fmt = {MB_UINT32, MB_BIG, MB_BIG},
         .scale = 0.1,
         .total = {0x0000, 0x0002},
         .phase = {{0x0028, 0x002a}, {0x0050, 0x0052}, {0x0078, 0x007a}},
         NO_SUNSPEC,
         .unit = 1},
        /* SunSpec Alliance "Meter Models" 201-204 (int16 + scale factor), block at the
         * usual 40069 (after "SunS" at 40000 and common model 1 of 66 registers, as in the
         * Fronius Smart Meter and Carlo Gavazzi maps): offset 0 model id, 18 W, 19/20/21
         * WphA/B/C, 22 W_SF. SunSpec's sign: positive = import; 0x8000 = not implemented
         * (single-phase model 201 leaves WphB/C so). */
        {.name = "sunspec",
         .meter = "SunSpec meter (models 201-204, int+SF)",
         .regtype = MB_HOLDING,
         .fmt = {MB_INT16, MB_BIG, MB_BIG},
         .scale = 1.0,
         .total = ONE(40069 + 18),
         .phase = {ONE(40069 + 19), ONE(40069 + 20), ONE(40069 + 21)},
         .sunssf = 40069 + 22,
         .model_reg = 40069,
         .model_min = 201,
         .model_max = 204,
         .unit = 1},
};

#define N_PRESETS (sizeof(presets) / sizeof(presets[0]))

const struct mb_preset *mb_preset_at(size_t i)
{
	return i < N_PRESETS ? &presets[i] : NULL;
}

const struct mb_preset *mb_preset_find(const char *name)
{
	while (isspace((unsigned char)*name))
		name++;
	size_t n = strlen(name);
	while (n && isspace((unsigned char)name[n - 1]))
		n--;
	for (size_t i = 0; i < N_PRESETS; i++)
		if (strlen(presets[i].name) == n && strncasecmp(presets[i].name, name, n) == 0)
			return &presets[i];
	return NULL;
}

const char *mb_preset_names(void)
{
	return "sdm630, sdm120, dtsu666, ksem, sunspec";
}

static void widen(int32_t reg, unsigned width, int32_t *lo, int32_t *hi)
{
	if (reg == MB_NO_REG)
		return;
	if (reg < *lo)
		*lo = reg;
	if (reg + (int32_t)width > *hi)
		*hi = reg + (int32_t)width;
}

void mb_preset_block(const struct mb_preset *p, uint16_t *base, uint16_t *count)
{
	int32_t lo = 65536, hi = 0;
	unsigned w = mb_type_regs(p->fmt.type);
	widen(p->total.pos, w, &lo, &hi);
	widen(p->total.neg, w, &lo, &hi);
	for (int i = 0; i < 3; i++) {
		widen(p->phase[i].pos, w, &lo, &hi);
		widen(p->phase[i].neg, w, &lo, &hi);
	}
	widen(p->sunssf, 1, &lo, &hi);
	widen(p->model_reg, 1, &lo, &hi);
	*base = (uint16_t)lo;
	*count = (uint16_t)(hi - lo);
}

/* The raw register at reg of the block, or -1 if it lies outside. */
static int raw_reg(const uint16_t *regs, size_t nregs, uint16_t base, int32_t reg, uint16_t *out)
{
	if (reg < base || (size_t)(reg - base) >= nregs)
		return -1;
	*out = regs[reg - base];
	return 0;
}

/* One quantity in W (before the SunSpec factor). -1 if it does not decode. */
static int quantity(const struct mb_preset *p, const struct mb_quantity *q, const uint16_t *regs,
                    size_t nregs, uint16_t base, double *out, struct err *e)
{
	double v = 0, neg = 0;
	if (p->sunssf != MB_NO_REG) {
		uint16_t r;
		if (raw_reg(regs, nregs, base, q->pos, &r) == 0 && r == 0x8000)
			return err_set(e, "%s: register %d is not implemented by the meter",
			               p->name, q->pos);
	}
	if (mb_block_value(regs, nregs, base, (uint16_t)q->pos, &p->fmt, 1.0, &v, e) < 0)
		return -1;
	if (q->neg != MB_NO_REG &&
	    mb_block_value(regs, nregs, base, (uint16_t)q->neg, &p->fmt, 1.0, &neg, e) < 0)
		return -1;
	*out = (v - neg) * p->scale;
	return 0;
}

int mb_preset_decode(const struct mb_preset *p, const uint16_t *regs, size_t nregs, uint16_t base,
                     struct pm_reading *out, struct err *e)
{
	double factor = 1.0;
	uint16_t r;
	if (p->model_reg != MB_NO_REG) {
		if (raw_reg(regs, nregs, base, p->model_reg, &r) < 0)
			return err_set(e, "%s: model id register %d not in the block", p->name,
			               p->model_reg);
		if (r < p->model_min || r > p->model_max)
			return err_set(e, "%s: register %d holds model %u, expected %u..%u",
			               p->name, p->model_reg, r, p->model_min, p->model_max);
	}
	if (p->sunssf != MB_NO_REG) {
		if (raw_reg(regs, nregs, base, p->sunssf, &r) < 0)
			return err_set(e, "%s: scale factor register %d not in the block", p->name,
			               p->sunssf);
		int16_t sf = (int16_t)r;
		if (sf < -10 || sf > 10)
			return err_set(e, "%s: scale factor %d at register %d out of range",
			               p->name, sf, p->sunssf);
		factor = pow(10.0, sf);
	}
	memset(out, 0, sizeof(*out));
	if (p->phase[0].pos != MB_NO_REG) {
		double w[3];
		struct err ignored;
		int ok = 1;
		for (int i = 0; i < 3 && ok; i++)
			ok = quantity(p, &p->phase[i], regs, nregs, base, &w[i], &ignored) == 0;
		if (ok) {
			for (int i = 0; i < 3; i++)
				out->w[i] = w[i] * factor;
			out->n = 3;
			return 0;
		}
	}
	double t;
	if (quantity(p, &p->total, regs, nregs, base, &t, e) < 0)
		return -1;
	out->w[0] = t * factor;
	out->n = 1;
	return 0;
}
