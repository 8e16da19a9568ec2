/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Active-control configuration: upstream's defaults, its silent clamps (the [CT002]/[CT003]
 * keys are read by the emulator, src/emulators/ct002_balcfg.c), and the device capability table
 * (what a battery model can do, by device-type prefix) that the balancer's charge-blind
 * and MIN_DC_OUTPUT rules derive from. */
#include <ctype.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "astrameter/balancer.h"
#include "balancer/bal_config.h"
#include "balancer/bal_state.h"

void bal_config_defaults(struct bal_config *c)
{
	memset(c, 0, sizeof(*c));
	c->active_control = true;
	c->fair_distribution = true;
	c->balance_gain = 0.2;
	c->balance_deadband = 25;
	c->error_boost_threshold = 150;
	c->error_boost_max = 0.5;
	c->error_reduce_threshold = 20;
	c->max_correction_per_step = 80;
	c->max_target_step = 0;
	c->pace_base_step = 30;
	c->pace_max_step = BAL_PACE_MAX_DEFAULT;
	c->osc_damp_max = 0.95;
	c->osc_damp_alpha = 0.3;
	c->osc_damp_decay = 0.05;
	c->osc_damp_threshold = 300;
	c->grid_predict_trust = 0.5;
	c->concentrate_deadband = 60;
	c->import_trim_w = 15;
	c->min_dc_output = 0;
	c->saturation_detection = true;
	c->saturation_alpha = 0.15;
	c->min_target_for_saturation = 20;
	c->saturation_grace_seconds = 90;
	c->saturation_stall_timeout_seconds = 60;
	c->saturation_decay_factor = 0.995;
	c->min_efficient_power = 0;
	c->probe_min_power = 80;
	c->efficiency_rotation_interval = 900;
	c->efficiency_fade_alpha = 0.15;
	c->efficiency_saturation_threshold = 0.4;
	c->efficiency_demand_alpha = 0.1;
	c->inflight_comp = true;
}

void bal_config_upstream(struct bal_config *c)
{
	bal_config_defaults(c);
	c->predictor = BAL_PRED_UPSTREAM;
	c->pace_max_step = BAL_PACE_MAX_UPSTREAM;
}

static void clamp(double *v, double lo, double hi, double def)
{
	if (!isfinite(*v))
		*v = def;
	*v = fmax(lo, fmin(hi, *v));
}

void bal_config_clamp(struct bal_config *c)
{
	struct bal_config d;
	bal_config_defaults(&d);
	clamp(&c->balance_gain, 0, 1, d.balance_gain);
	clamp(&c->balance_deadband, 0, DBL_MAX, d.balance_deadband);
	clamp(&c->error_boost_threshold, 0, DBL_MAX, d.error_boost_threshold);
	clamp(&c->error_boost_max, 0, DBL_MAX, d.error_boost_max);
	clamp(&c->error_reduce_threshold, 0, DBL_MAX, d.error_reduce_threshold);
	clamp(&c->max_correction_per_step, 0, DBL_MAX, d.max_correction_per_step);
	clamp(&c->max_target_step, 0, DBL_MAX, d.max_target_step);
	clamp(&c->min_efficient_power, 0, DBL_MAX, d.min_efficient_power);
	clamp(&c->probe_min_power, 0, DBL_MAX, d.probe_min_power);
	clamp(&c->efficiency_rotation_interval, 1, DBL_MAX, d.efficiency_rotation_interval);
	clamp(&c->efficiency_fade_alpha, 0.01, 1, d.efficiency_fade_alpha);
	clamp(&c->efficiency_saturation_threshold, 0, 1, d.efficiency_saturation_threshold);
	clamp(&c->efficiency_demand_alpha, 0.01, 1, d.efficiency_demand_alpha);
	clamp(&c->min_dc_output, 0, DBL_MAX, d.min_dc_output);
	clamp(&c->pace_base_step, 0, DBL_MAX, d.pace_base_step);
	clamp(&c->pace_max_step, c->pace_base_step, DBL_MAX, d.pace_max_step);
	clamp(&c->osc_damp_max, 0, 1, d.osc_damp_max);
	clamp(&c->osc_damp_alpha, 0, 1, d.osc_damp_alpha);
	clamp(&c->osc_damp_decay, 0, 1, d.osc_damp_decay);
	clamp(&c->osc_damp_threshold, 0, DBL_MAX, d.osc_damp_threshold);
	clamp(&c->grid_predict_trust, 0, 1, d.grid_predict_trust);
	clamp(&c->concentrate_deadband, 0, DBL_MAX, d.concentrate_deadband);
	clamp(&c->import_trim_w, 0, DBL_MAX, d.import_trim_w);
	/* The saturation tracker's own clamps. */
	clamp(&c->saturation_alpha, 0.01, 1, d.saturation_alpha);
	clamp(&c->min_target_for_saturation, 1, DBL_MAX, d.min_target_for_saturation);
	clamp(&c->saturation_decay_factor, 0, 1, d.saturation_decay_factor);
	clamp(&c->saturation_stall_timeout_seconds, 0, DBL_MAX, d.saturation_stall_timeout_seconds);
	clamp(&c->saturation_grace_seconds, 0, DBL_MAX, d.saturation_grace_seconds);
}

/* ---- device capabilities (REFERENCE §5.3) ---------------------------------------------- */

struct caps {
	bool inverter, ac_in, dc_in;
};

static bool prefix(const char *dt, const char *p)
{
	for (; *p; p++, dt++)
		if (toupper((unsigned char)*dt) != *p)
			return false;
	return true;
}

static struct caps dev_caps(const char *dt)
{
	if (!dt)
		dt = "";
	/* VNSA/VNSD before the generic VNS branch. */
	if (prefix(dt, "VNSA") || prefix(dt, "VNSD"))
		return (struct caps){true, true, true};
	if (prefix(dt, "HMG") || prefix(dt, "VNS"))
		return (struct caps){true, true, false};
	if (prefix(dt, "HMN") || prefix(dt, "HMM") || prefix(dt, "JPLS"))
		return (struct caps){true, false, true};
	if (prefix(dt, "HMA") || prefix(dt, "HMJ") || prefix(dt, "HMK"))
		return (struct caps){false, false, true};
	/* Unknown or empty: a modern AC-coupled battery. */
	return (struct caps){true, true, false};
}

bool bal_dev_ac_chargeable(const char *device_type)
{
	return dev_caps(device_type).ac_in;
}

bool bal_dev_needs_dc_floor(const char *device_type)
{
	struct caps k = dev_caps(device_type);
	return !k.ac_in && !k.inverter;
}
