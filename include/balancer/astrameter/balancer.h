/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The CT002/CT003 active-control balancer: decides, for the battery whose request is being
 * answered, the three phase values (grid "readings" the battery adds to its own output) so
 * that the pool of batteries together brings the grid to zero, shares load by weight and
 * hands load over when a battery is full or empty. Pure: no I/O, no clock reads, no
 * allocation after bal_create(); the caller passes "now" and every consumer's latest report.
 *
 * The algorithm is upstream AstraMeter 2.2.3's ct002/balancer.py (grid predictor, import
 * trim, charge-blind exclusion, weighted fair share, balance correction, deadband
 * concentration, oscillation damping, ramp pacing, phase split, MIN_DC_OUTPUT floor,
 * saturation detection, efficiency rotation with probe handoff). Deviations are listed in
 * docs/ct002.md (the main one: inspection-mode batteries are not part of the pool).
 *
 * Per-battery user controls (pause, auto/manual, manual target, distribution weight,
 * efficiency-window weight, min DC output) live in the balancer, keyed by consumer id, so
 * they survive a battery's eviction and return. The balancer does no file I/O: it hands
 * out what must be persisted (bal_controls_serialize, bal_controls_version) and the owner
 * (the CT002 emulator) writes it off the request path and feeds it back at start. */
#ifndef ASTRAMETER_BALANCER_H
#define ASTRAMETER_BALANCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "astrameter/err.h"
#include "astrameter/ev.h"

#define BAL_MAX_CONSUMERS 32 /* reports per step; more is refused (hold) */
#define BAL_MAX_CONTROLS  64 /* ids with user controls (evicted ones included) */
#define BAL_ID_LEN        64 /* consumer id incl. NUL: lower-case MAC or "ip:port" */

/* How the controller estimates the grid between meter samples (GRID_PREDICTOR). */
enum bal_predictor {
	/* Ours (default): learns the meter's dead time from how well each candidate lag
	 * explains the samples, and adds the pool output of that moment back to the
	 * sample, so a battery's own ramp is never counted twice; small sample-to-sample
	 * changes (meter noise) are smoothed, larger ones (real steps) pass at once. */
	BAL_PRED_DEADTIME = 0,
	/* Upstream 2.2.3's trust-weighted predictor (GRID_PREDICT_TRUST seeds it). */
	BAL_PRED_UPSTREAM,
};

/* [CT002]/[CT003] active-control settings. Defaults and clamps are upstream's, except
 * GRID_PREDICTOR (ours) and the PACE_MAX_STEP default that goes with it (docs/ct002.md,
 * "Deviations"); bal_config_upstream() gives upstream's exact defaults. */
struct bal_config {
	bool active_control;     /* ACTIVE_CONTROL (true); live switch: bal_set_active_control */
	bool fair_distribution;  /* FAIR_DISTRIBUTION (true) */
	double balance_gain;     /* BALANCE_GAIN 0.2, [0,1] */
	double balance_deadband; /* BALANCE_DEADBAND 25 W, >= 0 */
	double error_boost_threshold;   /* ERROR_BOOST_THRESHOLD 150 W, >= 0 */
	double error_boost_max;         /* ERROR_BOOST_MAX 0.5, >= 0 */
	double error_reduce_threshold;  /* ERROR_REDUCE_THRESHOLD 20 W, >= 0 */
	double max_correction_per_step; /* MAX_CORRECTION_PER_STEP 80 W, >= 0 (0 = no cap) */
	double max_target_step;         /* MAX_TARGET_STEP 0 W (off), >= 0 */
	double pace_base_step;          /* PACE_BASE_STEP 30 W (0 = pacing off), >= 0 */
	double pace_max_step;      /* PACE_MAX_STEP 400 W (upstream and GRID_PREDICTOR = upstream:
	                            * 100), >= pace_base_step */
	double osc_damp_max;       /* OSC_DAMP_MAX 0.95, [0,1] (0 = off) */
	double osc_damp_alpha;     /* OSC_DAMP_ALPHA 0.3, [0,1] */
	double osc_damp_decay;     /* OSC_DAMP_DECAY 0.05, [0,1] */
	double osc_damp_threshold; /* OSC_DAMP_THRESHOLD 300 W, >= 0 */
	double grid_predict_trust; /* GRID_PREDICT_TRUST 0.5, [0,1] (0 = off) */
	enum bal_predictor predictor;            /* GRID_PREDICTOR deadtime (ours) | upstream */
	bool inflight_comp;                      /* INFLIGHT_COMPENSATION (true; ours, deadtime) */
	double concentrate_deadband;             /* CONCENTRATE_DEADBAND 60 W, >= 0 (0 = off) */
	double import_trim_w;                    /* IMPORT_TRIM_W 15 W, >= 0 (0 = off) */
	double min_dc_output;                    /* MIN_DC_OUTPUT 0 W, >= 0 */
	bool saturation_detection;               /* SATURATION_DETECTION (true) */
	double saturation_alpha;                 /* SATURATION_ALPHA 0.15, [0.01,1] */
	double min_target_for_saturation;        /* MIN_TARGET_FOR_SATURATION 20 W, >= 1 */
	double saturation_grace_seconds;         /* SATURATION_GRACE_SECONDS 90, >= 0 */
	double saturation_stall_timeout_seconds; /* SATURATION_STALL_TIMEOUT_SECONDS 60, >= 0 */
	double saturation_decay_factor;          /* SATURATION_DECAY_FACTOR 0.995, [0,1] */
	double min_efficient_power;              /* MIN_EFFICIENT_POWER 0 W (off), >= 0 */
	double probe_min_power;                  /* PROBE_MIN_POWER 80 W, >= 0 */
	double efficiency_rotation_interval;     /* EFFICIENCY_ROTATION_INTERVAL 900 s, >= 1 */
	double efficiency_fade_alpha;            /* EFFICIENCY_FADE_ALPHA 0.15, [0.01,1] */
	double efficiency_saturation_threshold;  /* EFFICIENCY_SATURATION_THRESHOLD 0.4, [0,1] */
	double efficiency_demand_alpha;          /* EFFICIENCY_DEMAND_ALPHA 0.1, [0.01,1] */
	/* Set by the config reader (ct002_bal_config_load) for a legal but doubtful
	 * combination (empty if none); the caller logs it as a warning. */
	char warning[256];
};

/* Our defaults (upstream's, with the dead-time predictor and PACE_MAX_STEP 400). */
void bal_config_defaults(struct bal_config *c);
/* Upstream 2.2.3's exact defaults (GRID_PREDICTOR = upstream, PACE_MAX_STEP 100): what the
 * differential test replays the reference's command streams against. */
void bal_config_upstream(struct bal_config *c);
/* Applies upstream's silent clamps (e.g. PACE_MAX_STEP >= PACE_BASE_STEP). Non-finite
 * values become the default. Called by the config reader and by bal_create(). */
void bal_config_clamp(struct bal_config *c);

struct balancer;

/* Allocates a balancer (the only allocation it ever makes). NULL on ENOMEM. now is the
 * monotonic time in ms (must be > 0, which CLOCK_MONOTONIC is). */
struct balancer *bal_create(const struct bal_config *cfg, ev_ms now);
void bal_destroy(struct balancer *b);
const struct bal_config *bal_get_config(const struct balancer *b);

/* One consumer as the CT layer knows it (latest request). */
struct bal_report {
	const char *id;          /* lower-case battery MAC, or "ip:port" */
	const char *device_type; /* request field 0 (HMG-50, VNSE3-0, HMA-1 ...); may be NULL */
	char phase;              /* 'A' 'B' 'C' 'D'; anything else = inspection mode */
	int power;               /* reported output, W, + = discharge */
	bool participates;       /* request field 6 absent/non-zero */
};

/* One request to answer. reports[] holds every known consumer (the requester included, at
 * index self), in first-seen order, including ones past their TTL that are not evicted
 * yet (upstream does the same). grid[] is the filtered meter per phase (pad a one-phase
 * meter with zeros). sample_id must change whenever the meter delivers a new sample and
 * stay equal while it repeats one (bal_sample_id() derives it from the values, like
 * upstream's tuple(values)); 0 means "no sample id". */
struct bal_input {
	const struct bal_report *reports;
	size_t n;
	size_t self;
	double grid[3];
	uint64_t sample_id;
	bool meter_ok; /* false: the meter read failed -> zero-delta hold, balancer not run */
	ev_ms now;
};

enum bal_event {
	BAL_EV_PROBE_BEGIN = 1u << 0,
	BAL_EV_PROBE_COMMIT = 1u << 1,
	BAL_EV_PROBE_REJECT = 1u << 2,
	BAL_EV_FORCED_SWAP = 1u << 3, /* a saturated active battery swapped with a parked one */
	BAL_EV_ROTATION = 1u << 4,    /* scheduled efficiency rotation */
};

struct bal_output {
	double value[3]; /* A/B/C values for the reply (send round() of each, total = sum) */
	bool steered;    /* the balancer decided value[] (false: hold, inspection or relay) */
	/* false for inspection requests: the CT layer must leave last_instructed alone. */
	bool record_instructed;
	/* reported + delta the battery will apply: its own phase field, or the sum of all
	 * three for phase D (A for anything else); for the cross-talk buckets. */
	double instructed;
	bool has_intent; /* the requester's unpaced absolute net target (see bal_last_intent) */
	double intent;
	/* A probe handoff committed or was rejected: reset the powermeter filter chain so
	 * the next reading starts from a fresh baseline (upstream's reset_fn). */
	bool reset_filters;
	unsigned events; /* enum bal_event bits, for logging */
};

/* Answers one request. With active control off or an inspection-mode requester value[] is
 * the raw grid[]; with !meter_ok it is {0,0,0}. Otherwise the requester's mode (paused or
 * not participating -> steer to 0; manual -> manual target; else auto) decides. Returns 0;
 * -1 (out = hold) if the input is malformed (n == 0, n > BAL_MAX_CONSUMERS, self >= n,
 * NULL id). */
int bal_step(struct balancer *b, const struct bal_input *in, struct bal_output *out);

/* A 64-bit id for a meter sample, derived from its three values (never 0). */
uint64_t bal_sample_id(const double grid[3]);

/* Cross-talk sign filter (upstream issue #376): the power to put in a consumer's
 * charge/discharge bucket in active mode, given its instructed net power (already
 * rounded) and, if the balancer has one, its recorded intent: zero when the signs
 * contradict (intent <= 0 but power > 0, or intent >= 0 but power < 0). */
long bal_bucket_power(long instructed, bool has_intent, double intent);

/* Drops all controller state for a consumer that was evicted (its user controls stay). */
void bal_remove_consumer(struct balancer *b, const char *id);

/* Observability (MQTT insights). */
double bal_saturation(const struct balancer *b, const char *id);
bool bal_last_target(const struct balancer *b, const char *id, double *out);
bool bal_last_intent(const struct balancer *b, const char *id, double *out);
bool bal_efficiency_enabled(const struct balancer *b);

/* ---- Per-battery controls (survive eviction; persisted by the owner) ----------------- */

struct bal_controls {
	bool active;              /* false = paused: steered to 0 */
	bool auto_target;         /* false = manual target */
	double manual_target;     /* W, + = discharge; setting it does not enable manual */
	double weight;            /* distribution weight [0,10], 1 neutral */
	double eff_window_weight; /* efficiency window weight [0,1], 1 neutral */
	bool has_min_dc_output;   /* false = inherit MIN_DC_OUTPUT (B2500 family only) */
	double min_dc_output;     /* W >= 0, applies to any device type when set */
};

/* The controls for id (defaults when never set). */
void bal_get_controls(const struct balancer *b, const char *id, struct bal_controls *out);
/* Setters: 0, or -1 with e set for a bad value or a full control table. Activating a
 * battery or switching it back to auto clears its controller state and gives it a
 * saturation grace period (upstream reset_consumer); switching to manual drops it from the
 * efficiency rotation. */
int bal_set_active(struct balancer *b, const char *id, bool active, ev_ms now, struct err *e);
int bal_set_auto_target(struct balancer *b, const char *id, bool auto_target, ev_ms now,
                        struct err *e);
int bal_set_manual_target(struct balancer *b, const char *id, double w, struct err *e);
int bal_set_weight(struct balancer *b, const char *id, double w, struct err *e);
int bal_set_eff_window_weight(struct balancer *b, const char *id, double w, struct err *e);
int bal_set_min_dc_output(struct balancer *b, const char *id, double w, struct err *e);
/* Rotates the efficiency priority now (head to tail) over the auto pool formed by
 * reports[] (active, auto, steered phase). No-op with fewer than 2. */
void bal_force_rotation(struct balancer *b, const struct bal_report *reports, size_t n, ev_ms now);
/* Device-level ACTIVE_CONTROL live switch (persisted too). */
void bal_set_active_control(struct balancer *b, bool on);
bool bal_active_control(const struct balancer *b);

/* The serialised controls always fit a buffer of this size. */
#define BAL_CONTROLS_TEXT_MAX (BAL_MAX_CONTROLS * 256 + 128)
/* Serialises the controls to text (versioned, one line per battery). Returns the length
 * written (NUL-terminated), or -1 if buf is too small. */
long bal_controls_serialize(const struct balancer *b, char *buf, size_t len);
/* Replaces the controls with the ones in text. Invalid lines make it fail without
 * changing anything. 0/-1. */
int bal_controls_parse(struct balancer *b, const char *text, size_t len, struct err *e);
/* Grows by one at every change of what bal_controls_serialize() writes (a setter, the
 * live ACTIVE_CONTROL switch, a successful bal_controls_parse): the owner persists when it
 * differs from the version it last wrote. */
uint64_t bal_controls_version(const struct balancer *b);

#endif
