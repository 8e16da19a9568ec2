/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Battery firmware steering laws (see sim_steer.h). The HMG-50 and Venus D laws run in
 * IEEE-754 single precision like the devices' 32-bit FPUs: every intermediate is a float,
 * so results match the reference trajectories bit for bit. The B2500 law is integer-only
 * and mirrors the device's unsigned 16/32-bit wrap-around. */
#include "sim/sim_steer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HMG_STEP_BASE_W       10.0f
#define HMG_WINDOW_PULLBACK_W 100.0
#define HMG_RAMP_MIN          (-5)
#define HMG_RAMP_MAX          5

/* Gain table (max correction step per cycle, W) as the exact float32 bit patterns the
 * device uses, indexed by ramp + 5. Bit patterns avoid any decimal rounding drift. */
static const uint32_t hmg_gain_bits[11] = {
        0x43CD2CCDu, /* -5: 410.35 */
        0x43AF347Bu, /* -4: 350.41 */
        0x43344CCDu, /* -3: 180.30 */
        0x4270147Bu, /* -2:  60.02 */
        0x42487AE1u, /* -1:  50.12 */
        0x4248EB85u, /*  0:  50.23 */
        0x42486666u, /*  1:  50.10 */
        0x4248D70Au, /*  2:  50.21 */
        0x42C8051Fu, /*  3: 100.01 */
        0x4348051Fu, /*  4: 200.02 */
        0x43C83333u, /*  5: 400.40 */
};

int64_t sim_floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

float sim_hmg_gain(int ramp)
{
	float f;
	if (ramp < HMG_RAMP_MIN)
		ramp = HMG_RAMP_MIN;
	if (ramp > HMG_RAMP_MAX)
		ramp = HMG_RAMP_MAX;
	memcpy(&f, &hmg_gain_bits[ramp + 5], sizeof(f));
	return f;
}

void sim_hmg_init(struct sim_hmg *c, float setpoint)
{
	memset(c, 0, sizeof(*c));
	c->setpoint = setpoint;
}

/* Truncate toward zero into int32 range (Python int() of a float of sane size). */
static int32_t trunc_i32(double v)
{
	if (!(v == v))
		return 0;
	if (v > 2147483647.0)
		return INT32_MAX;
	if (v < -2147483648.0)
		return INT32_MIN;
	return (int32_t)v;
}

/* The device splits the grid value across the batteries counted in its bucket
 * (signed integer division, truncated toward zero) before anything else sees it. */
static int32_t share_split(double g, int device_count)
{
	int nb = device_count < 1 ? 1 : device_count;
	int32_t gi = trunc_i32(g);
	if (nb > 1)
		gi = gi / nb;
	return gi;
}

static float hmg_clamp(struct sim_hmg *c)
{
	if (c->setpoint > SIM_HMG_HARD_CLAMP_W)
		c->setpoint = SIM_HMG_HARD_CLAMP_W;
	else if (c->setpoint < -SIM_HMG_HARD_CLAMP_W)
		c->setpoint = -SIM_HMG_HARD_CLAMP_W;
	return c->setpoint;
}

/* Pre-ramp conditioning gate; true means run the ramp. The baseline (prev_g/prev_out)
 * advances on every cycle before any hold branch, as the firmware does, so a sustained
 * drift with a motionless own output keeps being skipped (no one-shot). */
static int hmg_gate(struct sim_hmg *c, int32_t g, double out)
{
	int32_t out_i = trunc_i32(out);
	int is_spike = abs(g) > SIM_HMG_DEADBAND_W &&
	               llabs((long long)g - c->prev_g) > SIM_HMG_SPIKE_JUMP_W &&
	               llabs((long long)out_i - c->prev_out) < SIM_HMG_SPIKE_OWN_DELTA_W;
	c->prev_g = g;
	c->prev_out = out_i;
	if (is_spike)
		return 0;
	/* The deadband is signed on the own output: a charging battery is held too. */
	if (abs(g) < SIM_HMG_DEADBAND_W && out_i < 1)
		return 0;
	return !(g >= 0 && g < SIM_HMG_SMALL_IMPORT_HOLD_W);
}

float sim_hmg_step(struct sim_hmg *c, double g, double hi, double lo, int device_count, double out)
{
	int32_t gs = share_split(g, device_count);
	if (!hmg_gate(c, gs, out))
		return hmg_clamp(c);
	return sim_hmg_step_raw(c, (double)gs, hi, lo, 1);
}

float sim_hmg_step_raw(struct sim_hmg *c, double g_in, double hi, double lo, int device_count)
{
	int32_t g = share_split(g_in, device_count);

	/* Pull a setpoint that left the dynamic window back in; this also resets the ramp.
	 * The firmware still stores last on this path. */
	if ((double)c->setpoint > hi) {
		c->setpoint = (float)(hi - HMG_WINDOW_PULLBACK_W);
		c->ramp = -1;
		c->last = g;
		return hmg_clamp(c);
	}
	if ((double)c->setpoint < lo) {
		c->setpoint = (float)(lo + HMG_WINDOW_PULLBACK_W);
		c->ramp = 0;
		c->last = g;
		return hmg_clamp(c);
	}

	/* Running unsigned minimum: a negative g reads as a huge unsigned value. */
	int32_t m = ((uint32_t)c->s58 < (uint32_t)g) ? c->s58 : g;
	c->s58 = m;
	if (g > c->last) {
		c->ref = m;
		c->s58 = g;
		c->ramp = c->ramp > 0 ? -1 : 0;
	} else if (c->ramp > 0) {
		c->ramp = c->ramp + 1 > HMG_RAMP_MAX ? HMG_RAMP_MAX : c->ramp + 1;
	} else {
		c->ramp = c->ramp - 1 < HMG_RAMP_MIN ? HMG_RAMP_MIN : c->ramp - 1;
	}

	uint32_t v = (uint32_t)((int64_t)g * g - (int64_t)c->ref * c->ref);
	/* double sqrt rounded once to float, then a float add: as the reference computes. */
	float step = (float)sqrt((double)v) + HMG_STEP_BASE_W;
	float gain = sim_hmg_gain(c->ramp);
	if (gain < step)
		step = gain;
	if ((double)g < (double)step)
		step = (float)g; /* signed cap: a negative g forces a charging step */

	if (c->ramp > 0)
		c->setpoint = c->setpoint + step;
	else
		c->setpoint = c->setpoint - step;
	c->last = g;
	return hmg_clamp(c);
}

/* ---- Venus D ------------------------------------------------------------------------ */

void sim_vd_init(struct sim_vd *c, int32_t setpoint, int ctrl_ratio)
{
	c->setpoint = setpoint;
	c->ctrl_ratio = ctrl_ratio;
}

static float vd_gain(const struct sim_vd *c)
{
	int ratio = c->ctrl_ratio;
	if (ratio < 30 || ratio > 100)
		ratio = SIM_VD_DEFAULT_RATIO;
	return (float)ratio * 0.01f;
}

/* float -> int truncation toward zero, saturating (the setpoint is clamped right after). */
static int32_t f2i(float f)
{
	return trunc_i32((double)f);
}

int32_t sim_vd_step(struct sim_vd *c, int32_t error, double hi, double lo, int32_t measured_grid,
                    int phase_count)
{
	int64_t err = error, mg = measured_grid;
	int64_t sp = c->setpoint;
	float gain = vd_gain(c);

	if (mg < 0 || err < SIM_VD_IMPORT_THRESHOLD_W) {
		if (mg < 1 && err < -10)
			sp = f2i((float)sp + (float)err * gain);
		else if (mg * err < 0)
			sp = sp + err;
		else if (mg < 0 && err > -SIM_VD_IMPORT_THRESHOLD_W && err < 0)
			sp = err - SIM_VD_STEP_BIAS_W + sp;
		/* else hold */
	} else {
		float step = (float)err * gain - (float)SIM_VD_STEP_BIAS_W;
		sp = f2i(step + (float)sp);
	}

	int64_t hi_i = trunc_i32(hi), lo_i = trunc_i32(lo);
	if (sp > hi_i)
		sp = hi_i;
	if (sp < lo_i)
		sp = lo_i;

	int64_t deadband = phase_count < 2 ? SIM_VD_DEADBAND_SINGLE_W : SIM_VD_DEADBAND_COMBINED_W;
	if (llabs((long long)sp) < deadband && err < deadband)
		sp = 0;
	c->setpoint = (int32_t)sp;
	return c->setpoint;
}

/* ---- B2500 -------------------------------------------------------------------------- */

#define B2500_CMD_FLOOR 5u
#define B2500_CAL_NUM   10u
#define B2500_CAL_DEN   59u

void sim_b2500_init(struct sim_b2500 *c, int32_t max_output)
{
	c->cmd = SIM_B2500_CMD_INIT;
	c->max_output = max_output;
}

int32_t sim_b2500_output(const struct sim_b2500 *c)
{
	/* Unsigned wrap mirrors the device when cmd < 5 (never in normal operation). */
	uint32_t r = (c->cmd - B2500_CMD_FLOOR) * B2500_CAL_NUM;
	return (int32_t)((r / B2500_CAL_DEN) & 0xFFFFu);
}

int32_t sim_b2500_regulate(struct sim_b2500 *c, int32_t setpoint, int32_t power)
{
	if ((int64_t)power > (int64_t)setpoint + SIM_B2500_DEADBAND_W)
		c->cmd = (c->cmd - SIM_B2500_CMD_STEP) & 0xFFFFu;
	else if ((int64_t)power < (int64_t)setpoint - SIM_B2500_DEADBAND_W)
		c->cmd = (c->cmd + SIM_B2500_CMD_STEP) & 0xFFFFu;
	/* Anti-windup: a watt-domain model needs the explicit ceiling that the real
	 * inverter's saturated feedback provides on hardware. */
	int64_t ceiling = B2500_CMD_FLOOR +
	                  sim_floordiv((int64_t)c->max_output * B2500_CAL_DEN, B2500_CAL_NUM);
	if ((int64_t)c->cmd > ceiling)
		c->cmd = (uint32_t)ceiling;
	return sim_b2500_output(c);
}

int32_t sim_b2500_step(struct sim_b2500 *c, int32_t grid, int32_t power, int32_t max_power)
{
	int64_t sp = (int64_t)power + sim_floordiv((int64_t)grid * 9, 10);
	if (sp > max_power)
		sp = max_power;
	if (sp < 0)
		sp = 0;
	return sim_b2500_regulate(c, (int32_t)sp, power);
}
