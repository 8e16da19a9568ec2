/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Battery firmware steering laws for the simulator: the control law a real Marstek battery
 * runs on the grid value it reads back from the CT. Three families: the HMG-50 (Venus C)
 * float32 gain-scheduled ramp with its input gate, the VNSD (Venus D) integer integrator,
 * and the B2500 (HMA/HMJ/HMK) per-channel DC-output hysteresis regulator. Each is a pure
 * step function over plain state; none reads a clock. The laws and constants are the ones
 * the reference simulator documents (firmware_steering.py, venus_d_steering.py,
 * b2500_steering.py); the unit tests replay its golden trajectories. */
#ifndef ASTRAMETER_SIM_STEER_H
#define ASTRAMETER_SIM_STEER_H

#include <stdint.h>

/* ---- HMG-50 / Venus C ---------------------------------------------------------------- */

#define SIM_HMG_HARD_CLAMP_W        2500.0f
#define SIM_HMG_DEADBAND_W          20
#define SIM_HMG_SPIKE_JUMP_W        50
#define SIM_HMG_SPIKE_OWN_DELTA_W   20
#define SIM_HMG_SMALL_IMPORT_HOLD_W 10

/* Setpoint convention: positive = charge, negative = discharge; g positive = import. */
struct sim_hmg {
	float setpoint;
	int ramp;         /* acceleration counter, -5..5 */
	int32_t last;     /* previous g seen by the ramp law */
	int32_t s58;      /* running unsigned minimum of g */
	int32_t ref;      /* value of that minimum when g last rose */
	int32_t prev_g;   /* gate baseline: previous share-split g (every cycle) */
	int32_t prev_out; /* gate baseline: previous own output (every cycle) */
};

/* Zeroes the state and seeds the setpoint (rounded to float32). */
void sim_hmg_init(struct sim_hmg *c, float setpoint);
/* The gain table entry for ramp counter r (-5..5, clamped). */
float sim_hmg_gain(int ramp);
/* Full regulation cycle: share-split g by device_count, run the input gate (spike filter,
 * signed deadband, small-import hold), then the ramp law. out is the battery's own output
 * (positive = discharge). hi/lo are the charge/discharge limits (lo negative). Returns the
 * new setpoint (unchanged when the gate holds). */
float sim_hmg_step(struct sim_hmg *c, double g, double hi, double lo, int device_count, double out);
/* The bare ramp law without the gate (the golden trajectories' subject). */
float sim_hmg_step_raw(struct sim_hmg *c, double g, double hi, double lo, int device_count);

/* ---- VNSD / Venus D ------------------------------------------------------------------ */

#define SIM_VD_DEADBAND_SINGLE_W   11
#define SIM_VD_DEADBAND_COMBINED_W 15
#define SIM_VD_IMPORT_THRESHOLD_W  11
#define SIM_VD_STEP_BIAS_W         5
#define SIM_VD_DEFAULT_RATIO       100

/* Setpoint convention: positive = discharge, negative = charge. */
struct sim_vd {
	int32_t setpoint;
	int ctrl_ratio; /* loop gain in percent; outside 30..100 means 100 */
};

void sim_vd_init(struct sim_vd *c, int32_t setpoint, int ctrl_ratio);
/* One regulation cycle. hi = discharge limit (positive), lo = charge limit (negative),
 * measured_grid selects the branch (pass error when the device reads the same value),
 * phase_count < 2 uses the +-11 W deadband, else +-15 W. Returns the new setpoint. */
int32_t sim_vd_step(struct sim_vd *c, int32_t error, double hi, double lo, int32_t measured_grid,
                    int phase_count);

/* ---- B2500 (one DC output channel) --------------------------------------------------- */

#define SIM_B2500_DEADBAND_W 10
#define SIM_B2500_CMD_STEP   100
#define SIM_B2500_CMD_INIT   60

struct sim_b2500 {
	uint32_t cmd;       /* internal command unit, 16-bit on the device */
	int32_t max_output; /* anti-windup ceiling in W */
};

void sim_b2500_init(struct sim_b2500 *c, int32_t max_output);
/* Output power (W) the current command maps to: (cmd - 5) * 10 / 59 in device arithmetic. */
int32_t sim_b2500_output(const struct sim_b2500 *c);
/* One hysteresis cycle toward setpoint given the channel's measured power. Returns output. */
int32_t sim_b2500_regulate(struct sim_b2500 *c, int32_t setpoint, int32_t power);
/* Incremental law: setpoint = power + floor(0.9 * grid) clamped to [0, max_power], then
 * regulate. Returns the new output. */
int32_t sim_b2500_step(struct sim_b2500 *c, int32_t grid, int32_t power, int32_t max_power);

/* Python-style floor division (the reference's // on possibly negative values). */
int64_t sim_floordiv(int64_t a, int64_t b);

#endif
