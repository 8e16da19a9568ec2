/* SPDX-License-Identifier: GPL-3.0-or-later */
/* One simulated Marstek battery: physics (ramp rate, minimum power, start-up delay, SoC
 * integration and saturation, charge/discharge limits, DC input pass-through), the CT002
 * request it sends (inspection phase "0" first, optional participate field) and the
 * firmware steering law it applies to the CT's reply, chosen by device type: B2500 family
 * (HMA/HMJ/HMK), Venus D (VNSD), else the HMG-50 ramp. Pure: the caller supplies dt and
 * the decoded response; no clock, no socket, no randomness. Sign convention: power > 0 is
 * discharge (what the battery reports to the CT). */
#ifndef ASTRAMETER_SIM_BATTERY_H
#define ASTRAMETER_SIM_BATTERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/sim_ct.h"
#include "sim/sim_steer.h"

#define SIM_BAT_MAX_PENDING 64

enum sim_bat_law { SIM_LAW_HMG = 0, SIM_LAW_VENUS_D, SIM_LAW_B2500 };

struct sim_bat_cfg {
	char mac[13];         /* 12 hex, upper case */
	char phase;           /* 'A' 'B' 'C' */
	char dev_type[24];    /* meter_dev_type, e.g. HMG-50 */
	char ct_dev_type[16]; /* HME-4 */
	char ct_mac[13];
	int max_charge;    /* W */
	int max_discharge; /* W */
	double capacity_wh;
	double initial_soc;   /* 0..1 */
	double ramp_rate;     /* W/s */
	double poll_interval; /* s */
	double min_power;     /* W, below which a target counts as zero */
	double startup_delay; /* s */
	int inspection_count; /* first N requests in phase "0" */
	int delay_ticks;      /* power_update_delay_ticks */
	int max_dc_input;     /* W */
	double dc_input;      /* W */
	bool participates;
	double initial_power; /* W, start already in motion */
};

/* Fills upstream's defaults (HMG-50, 800/800 W, 2560 Wh, SoC 0.5, 200 W/s, 1 s, 20 W,
 * 2 s start-up, 1 inspection request, participating). mac/phase stay to be set. */
void sim_bat_cfg_defaults(struct sim_bat_cfg *c);

struct sim_battery {
	struct sim_bat_cfg cfg;
	enum sim_bat_law law;
	double power;     /* current AC output, W (+ discharge) */
	double soc;       /* 0..1 */
	double target;    /* applied target */
	double requested; /* latest CT-derived target (before the delay) */
	double dc_input;
	double startup_elapsed;
	int64_t step_index;
	unsigned request_count; /* responses received */
	struct {
		int64_t at;
		double target;
	} pending[SIM_BAT_MAX_PENDING];
	size_t npending;
	struct sim_hmg hmg;
	struct sim_vd vd;
	struct sim_b2500 ch[2];
};

/* Selects the steering family from a device type (case-insensitive prefix). */
enum sim_bat_law sim_bat_law_for(const char *dev_type);
/* Initialises a battery from cfg (copied). */
void sim_bat_init(struct sim_battery *b, const struct sim_bat_cfg *cfg);
/* Advances physics by dt seconds: step index, delayed targets, ramp, SoC. */
void sim_bat_tick(struct sim_battery *b, double dt);
/* Builds the CT002 request frame for the next poll into buf. Returns its length or -1.
 * *inspection is set when the request carries phase "0" (its reply must not steer). */
int sim_bat_request(const struct sim_battery *b, char *buf, size_t cap, bool *inspection);
/* Feeds a decoded CT response: counts it and, unless it answered an inspection request,
 * runs the steering law on grid = fields 4+5+6. */
void sim_bat_response(struct sim_battery *b, const struct sim_ct_fields *f, bool inspection);
/* Runs the steering law on an already-extracted response (grid and phase count). */
void sim_bat_steer(struct sim_battery *b, long grid, long phase_count);
/* Records a CT-derived target, applied now or after delay_ticks ticks. */
void sim_bat_set_target(struct sim_battery *b, double target);
/* Setters used by the control API (clamped like the reference). */
void sim_bat_set_soc(struct sim_battery *b, double soc);
void sim_bat_set_dc_input(struct sim_battery *b, double watts);
/* Python-compatible round-half-even to integer. */
long sim_round(double v);

#endif
