/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Simulated battery: physics and CT-response handling (see sim_battery.h). Mirrors the
 * reference simulator's BatterySimulator step for step so closed-loop numbers compare. */
#include "sim/sim_battery.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

long sim_round(double v)
{
	/* Python's round() is half-to-even, which is rint() in the default rounding mode. */
	return (long)rint(v);
}

void sim_bat_cfg_defaults(struct sim_bat_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->phase = 'A';
	snprintf(c->dev_type, sizeof(c->dev_type), "HMG-50");
	snprintf(c->ct_dev_type, sizeof(c->ct_dev_type), "HME-4");
	snprintf(c->ct_mac, sizeof(c->ct_mac), "112233445566");
	c->max_charge = 800;
	c->max_discharge = 800;
	c->capacity_wh = 2560.0;
	c->initial_soc = 0.5;
	c->ramp_rate = 200.0;
	c->poll_interval = 1.0;
	c->min_power = 20.0;
	c->startup_delay = 2.0;
	c->inspection_count = 1;
	c->participates = true;
}

enum sim_bat_law sim_bat_law_for(const char *t)
{
	if (!strncasecmp(t, "HMA", 3) || !strncasecmp(t, "HMJ", 3) || !strncasecmp(t, "HMK", 3))
		return SIM_LAW_B2500;
	if (!strncasecmp(t, "VNSD", 4))
		return SIM_LAW_VENUS_D;
	return SIM_LAW_HMG;
}

static double clampd(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

void sim_bat_init(struct sim_battery *b, const struct sim_bat_cfg *cfg)
{
	memset(b, 0, sizeof(*b));
	b->cfg = *cfg;
	if (b->cfg.startup_delay < 0)
		b->cfg.startup_delay = 0;
	if (b->cfg.delay_ticks < 0)
		b->cfg.delay_ticks = 0;
	if (b->cfg.max_dc_input < 0)
		b->cfg.max_dc_input = 0;
	b->law = sim_bat_law_for(cfg->dev_type);
	b->soc = clampd(cfg->initial_soc, 0.0, 1.0);
	sim_bat_set_dc_input(b, cfg->dc_input);
	sim_hmg_init(&b->hmg, 0.0f);
	sim_vd_init(&b->vd, 0, SIM_VD_DEFAULT_RATIO);
	/* Two DC channels, each capped at half the unit's discharge envelope. */
	int ch_max = cfg->max_discharge / 2 < 1 ? 1 : cfg->max_discharge / 2;
	sim_b2500_init(&b->ch[0], ch_max);
	sim_b2500_init(&b->ch[1], ch_max);
	if (cfg->initial_power != 0.0) {
		/* Start in motion: seed the steering state so it holds the seeded output
		 * instead of winding back to rest on the first response. */
		b->power = b->target = b->requested = cfg->initial_power;
		if (b->law == SIM_LAW_VENUS_D)
			b->vd.setpoint = (int32_t)sim_round(cfg->initial_power);
		else if (b->law == SIM_LAW_HMG)
			b->hmg.setpoint = (float)-cfg->initial_power;
	}
}

void sim_bat_set_soc(struct sim_battery *b, double soc)
{
	b->soc = clampd(soc, 0.0, 1.0);
}

void sim_bat_set_dc_input(struct sim_battery *b, double watts)
{
	b->dc_input = clampd(watts, 0.0, (double)b->cfg.max_dc_input);
}

void sim_bat_set_target(struct sim_battery *b, double target)
{
	b->requested = target;
	if (b->cfg.delay_ticks <= 0) {
		b->target = target;
		return;
	}
	if (b->npending == SIM_BAT_MAX_PENDING) {
		/* Queue full (delay longer than the queue): apply the oldest early. */
		b->target = b->pending[0].target;
		memmove(&b->pending[0], &b->pending[1], (b->npending - 1) * sizeof(b->pending[0]));
		b->npending--;
	}
	b->pending[b->npending].at = b->step_index + b->cfg.delay_ticks;
	b->pending[b->npending].target = target;
	b->npending++;
}

static void drain_pending(struct sim_battery *b)
{
	size_t keep = 0;
	for (size_t i = 0; i < b->npending; i++) {
		if (b->pending[i].at <= b->step_index)
			b->target = b->pending[i].target;
		else
			b->pending[keep++] = b->pending[i];
	}
	b->npending = keep;
}

static void dc_passthrough(struct sim_battery *b)
{
	/* A full pack passes unabsorbed PV straight through to AC (Venus D behaviour). */
	if (b->soc < 1.0 || b->dc_input <= 0)
		return;
	if (b->power < b->dc_input)
		b->power = b->dc_input;
}

static void update_power(struct sim_battery *b, double dt)
{
	double target = b->target;
	if (fabs(target) < b->cfg.min_power)
		target = 0.0;
	if (b->soc >= 1.0 && target < 0)
		target = 0.0;
	if (b->soc <= 0.0 && target > 0)
		target = 0.0;

	/* Start-up delay: an idle inverter takes a few seconds before it ramps. */
	if (b->cfg.startup_delay > 0) {
		bool idle = fabs(b->power) < b->cfg.min_power;
		bool want = fabs(target) >= b->cfg.min_power;
		if (idle && want) {
			b->startup_elapsed += dt;
			if (b->startup_elapsed < b->cfg.startup_delay) {
				dc_passthrough(b);
				return;
			}
		} else {
			b->startup_elapsed = 0.0;
		}
	}

	double diff = target - b->power;
	double max_step = b->cfg.ramp_rate * dt;
	if (fabs(diff) > max_step)
		diff = diff > 0 ? max_step : -max_step;
	b->power += diff;
	b->power = clampd(b->power, -(double)b->cfg.max_charge, (double)b->cfg.max_discharge);
	dc_passthrough(b);
}

static void update_soc(struct sim_battery *b, double dt)
{
	if (b->cfg.capacity_wh <= 0)
		return;
	b->soc -= b->power * (dt / 3600.0) / b->cfg.capacity_wh;
	if (b->dc_input > 0)
		b->soc += b->dc_input * (dt / 3600.0) / b->cfg.capacity_wh;
	b->soc = clampd(b->soc, 0.0, 1.0);
}

void sim_bat_tick(struct sim_battery *b, double dt)
{
	b->step_index++;
	if (b->cfg.delay_ticks > 0)
		drain_pending(b);
	update_power(b, dt);
	update_soc(b, dt);
}

int sim_bat_request(const struct sim_battery *b, char *buf, size_t cap, bool *inspection)
{
	char phase[2] = {b->cfg.phase, '\0'};
	char power[24];
	bool insp = b->request_count <
	            (unsigned)(b->cfg.inspection_count < 0 ? 0 : b->cfg.inspection_count);
	snprintf(power, sizeof(power), "%ld", sim_round(b->power));
	const char *f[7] = {
	        b->cfg.dev_type, b->cfg.mac, b->cfg.ct_dev_type, b->cfg.ct_mac, insp ? "0" : phase,
	        power,           "0"};
	if (inspection)
		*inspection = insp;
	/* Participating batteries send six fields, like a Venus. */
	return sim_ct_encode(f, b->cfg.participates ? 6 : 7, buf, cap);
}

static void steer_b2500(struct sim_battery *b, long grid)
{
	long cur = sim_round(b->power);
	if (cur < 0)
		cur = 0;
	int64_t target = cur + sim_floordiv((int64_t)grid * 9, 10);
	if (target > b->cfg.max_discharge)
		target = b->cfg.max_discharge;
	if (target < 0)
		target = 0;
	/* A full pack cannot curtail PV below the DC input: do not steer under that floor,
	 * or the loop fights the pass-through and oscillates. */
	if (b->soc >= 1.0 && b->dc_input > 0 && target < sim_round(b->dc_input))
		target = sim_round(b->dc_input);
	int32_t per = (int32_t)(target / 2), own = (int32_t)(cur / 2);
	int32_t out =
	        sim_b2500_regulate(&b->ch[0], per, own) + sim_b2500_regulate(&b->ch[1], per, own);
	sim_bat_set_target(b, (double)out);
}

void sim_bat_steer(struct sim_battery *b, long grid, long phase_count)
{
	switch (b->law) {
	case SIM_LAW_B2500:
		steer_b2500(b, grid);
		return;
	case SIM_LAW_VENUS_D: {
		int32_t g = (int32_t)grid;
		int32_t sp = sim_vd_step(&b->vd, g, (double)b->cfg.max_discharge,
		                         -(double)b->cfg.max_charge, g, 1);
		sim_bat_set_target(b, (double)sp);
		return;
	}
	case SIM_LAW_HMG:
	default: {
		float sp = sim_hmg_step(&b->hmg, (double)grid, (double)b->cfg.max_charge,
		                        -(double)b->cfg.max_discharge, (int)phase_count, b->power);
		/* Controller: + charge; simulator: + discharge. */
		sim_bat_set_target(b, -(double)sp);
		return;
	}
	}
}

void sim_bat_response(struct sim_battery *b, const struct sim_ct_fields *f, bool inspection)
{
	b->request_count++;
	if (inspection)
		return;
	long grid = sim_ct_field_int(f, 4) + sim_ct_field_int(f, 5) + sim_ct_field_int(f, 6);
	size_t pi = b->cfg.phase == 'B' ? 1 : b->cfg.phase == 'C' ? 2 : 0;
	sim_bat_steer(b, grid, sim_ct_field_int(f, 8 + pi));
}
