/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Reading the active-control keys of [CT002]/[CT003] into the balancer's struct
 * bal_config through the typed config getters. The balancer itself never sees the config
 * file: the emulator (and astra-sim's virtual engine) read it here and hand the struct
 * over. */
#include <float.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <strings.h>

#include "astrameter/ct002.h"

/* Upstream reads these with getint (so "12.5" is an error), the rest with getfloat. */
struct int_key {
	const char *key;
	size_t off;
};
struct dbl_key {
	const char *key;
	size_t off;
};

#define OFF(f) offsetof(struct bal_config, f)

static const struct int_key int_keys[] = {
        {"BALANCE_DEADBAND", OFF(balance_deadband)},
        {"ERROR_BOOST_THRESHOLD", OFF(error_boost_threshold)},
        {"ERROR_REDUCE_THRESHOLD", OFF(error_reduce_threshold)},
        {"MAX_CORRECTION_PER_STEP", OFF(max_correction_per_step)},
        {"MAX_TARGET_STEP", OFF(max_target_step)},
        {"PACE_BASE_STEP", OFF(pace_base_step)},
        {"PACE_MAX_STEP", OFF(pace_max_step)},
        {"MIN_TARGET_FOR_SATURATION", OFF(min_target_for_saturation)},
        {"MIN_EFFICIENT_POWER", OFF(min_efficient_power)},
        {"PROBE_MIN_POWER", OFF(probe_min_power)},
        {"EFFICIENCY_ROTATION_INTERVAL", OFF(efficiency_rotation_interval)},
};

static const struct dbl_key dbl_keys[] = {
        {"BALANCE_GAIN", OFF(balance_gain)},
        {"ERROR_BOOST_MAX", OFF(error_boost_max)},
        {"OSC_DAMP_MAX", OFF(osc_damp_max)},
        {"OSC_DAMP_ALPHA", OFF(osc_damp_alpha)},
        {"OSC_DAMP_DECAY", OFF(osc_damp_decay)},
        {"OSC_DAMP_THRESHOLD", OFF(osc_damp_threshold)},
        {"GRID_PREDICT_TRUST", OFF(grid_predict_trust)},
        {"CONCENTRATE_DEADBAND", OFF(concentrate_deadband)},
        {"IMPORT_TRIM_W", OFF(import_trim_w)},
        {"SATURATION_ALPHA", OFF(saturation_alpha)},
        {"SATURATION_GRACE_SECONDS", OFF(saturation_grace_seconds)},
        {"SATURATION_STALL_TIMEOUT_SECONDS", OFF(saturation_stall_timeout_seconds)},
        {"SATURATION_DECAY_FACTOR", OFF(saturation_decay_factor)},
        {"EFFICIENCY_FADE_ALPHA", OFF(efficiency_fade_alpha)},
        {"EFFICIENCY_SATURATION_THRESHOLD", OFF(efficiency_saturation_threshold)},
        {"EFFICIENCY_DEMAND_ALPHA", OFF(efficiency_demand_alpha)},
        {"MIN_DC_OUTPUT", OFF(min_dc_output)},
};

int ct002_bal_config_load(struct bal_config *c, struct cfg_section *s, struct err *e)
{
	bal_config_defaults(c);
	if (cfg_get_bool(s, "ACTIVE_CONTROL", true, &c->active_control, e) < 0 ||
	    cfg_get_bool(s, "FAIR_DISTRIBUTION", true, &c->fair_distribution, e) < 0 ||
	    cfg_get_bool(s, "SATURATION_DETECTION", true, &c->saturation_detection, e) < 0 ||
	    cfg_get_bool(s, "INFLIGHT_COMPENSATION", true, &c->inflight_comp, e) < 0)
		return -1;
	const char *pred = NULL;
	if (cfg_get_str(s, "GRID_PREDICTOR", "upstream", &pred, e) < 0)
		return -1;
	if (strcasecmp(pred, "upstream") == 0) {
		/* Upstream's pacing default goes with upstream's predictor. */
		struct bal_config u;
		bal_config_upstream(&u);
		c->predictor = u.predictor;
		c->pace_max_step = u.pace_max_step;
	} else if (strcasecmp(pred, "deadtime") != 0) {
		return err_set(e, "[%s] GRID_PREDICTOR: expected deadtime or upstream '%s'",
		               s ? s->name : "CT002", pred);
	}
	for (size_t i = 0; i < sizeof(int_keys) / sizeof(int_keys[0]); i++) {
		double *f = (double *)(void *)((char *)c + int_keys[i].off);
		long v;
		if (cfg_get_int(s, int_keys[i].key, (long)*f, LONG_MIN, LONG_MAX, &v, e) < 0)
			return -1;
		*f = (double)v;
	}
	for (size_t i = 0; i < sizeof(dbl_keys) / sizeof(dbl_keys[0]); i++) {
		double *f = (double *)(void *)((char *)c + dbl_keys[i].off);
		if (cfg_get_double(s, dbl_keys[i].key, *f, -DBL_MAX, DBL_MAX, f, e) < 0)
			return -1;
	}
	/* Upstream warns on the raw values, before clamping. */
	if (c->min_dc_output > 0 && c->min_dc_output < c->min_target_for_saturation)
		snprintf(c->warning, sizeof(c->warning),
		         "MIN_DC_OUTPUT (%gW) is below MIN_TARGET_FOR_SATURATION (%gW): a floored "
		         "battery's target never clears the saturation gate, so an empty/full "
		         "unit can't be detected. Consider MIN_DC_OUTPUT >= %g.",
		         c->min_dc_output, c->min_target_for_saturation,
		         c->min_target_for_saturation);
	bal_config_clamp(c);
	return 0;
}
