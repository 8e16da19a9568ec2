/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Inside the balancer: its shared state (struct balancer, per-consumer controller state,
 * id lists, the per-step view) and the small accessors every part uses. A leaf: every
 * other balancer file includes it, it includes none of them. Times inside are seconds
 * (now_ms / 1000) so the formulas read like upstream's; 0 is the "never" sentinel, which
 * is why bal_create() wants now > 0. */
#ifndef ASTRAMETER_BAL_STATE_H
#define ASTRAMETER_BAL_STATE_H

#include "astrameter/balancer.h"

/* Constants upstream does not expose in config (REFERENCE §5.7). */
#define BAL_PACE_TRACKING_DELTA_W 5.0
#define BAL_PACE_GROWTH_FACTOR    2.0
/* Ours, with the dead-time predictor: the cap grows from the base to PACE_MAX_STEP in one
 * poll once the battery follows. Every rise of the reading restarts the Venus firmware's
 * own 50-60-180-350-410 W ramp, so doubling over four polls cost four slow responses;
 * PACE_MAX_STEP is then the pool's per-poll step, split over its active batteries. Not in
 * efficiency mode (MIN_EFFICIENT_POWER > 0), where it overshot during handoffs. */
#define BAL_PACE_GROWTH_FAST        16.0
#define BAL_PACE_REFERENCE_DT       1.0
#define BAL_PRED_TRUST_MIN          0.15
#define BAL_PRED_TRUST_MAX          0.9
#define BAL_PRED_TRUST_RAISE        0.2
#define BAL_PRED_TRUST_SHRINK       0.5
#define BAL_PRED_INNOVATION_GATE_W  40.0
#define BAL_IMPORT_TRIM_GATE_W      120.0
#define BAL_IMPORT_TRIM_DWELL       6
#define BAL_EFFICIENCY_HYSTERESIS   1.2
#define BAL_SATURATION_REFERENCE_DT 1.0
#define BAL_SATURATION_LONG_GAP     30.0
/* PACE_MAX_STEP defaults: ours (with the dead-time predictor) and upstream's. */
#define BAL_PACE_MAX_DEFAULT  400.0
#define BAL_PACE_MAX_UPSTREAM 100.0
/* Dead-time predictor: pool-output history (one entry per auto step), the candidate meter
 * lags (0 .. (LAGS-1) * LAG_STEP seconds), the EMA weight of each lag's squared
 * sample-to-sample demand change, and the noise filter: a demand change smaller than
 * the noise gate moves the estimate by NOISE_ALPHA of it, a larger one replaces it. */
#define BAL_DT_HIST        256
#define BAL_DT_LAGS        17
#define BAL_DT_LAG_STEP_S  0.25
#define BAL_DT_DEFAULT_LAG 4 /* 1 s: a 1 s meter read per poll */
#define BAL_DT_STEP_GATE_W 100.0
#define BAL_DT_SCORE_ALPHA 0.1
#define BAL_DT_NOISE_W     30.0
#define BAL_DT_NOISE_ALPHA 0.3
/* The gate is max(NOISE_W, NOISE_K x the noise level); the level is an EMA (weight
 * NOISE_EMA) of the demand change, each clipped to NOISE_CLIP x max(NOISE_W, level). */
#define BAL_DT_NOISE_K    3.0
#define BAL_DT_NOISE_EMA  0.05
#define BAL_DT_NOISE_CLIP 4.0

/* Controller state per consumer (upstream BalancerConsumerState). */
struct bal_cstate {
	bool used;
	char id[BAL_ID_LEN];
	bool has_last_target;
	double last_target; /* paced reading sent */
	bool has_intent;
	double last_intent; /* absolute net target before pacing */
	bool has_intent_reading;
	double last_intent_reading; /* unpaced reading: saturation input (upstream #522) */
	double fade_weight;
	double pace_cap;
	int pace_sign;
	bool has_pace_prev;
	double pace_prev_reported;
	double pace_last_at;
	double osc_score;
	int osc_last_sign;
	bool has_fw_sp;
	double fw_sp; /* ours: the firmware setpoint the commands sent so far aim at, W */
	double slew;  /* ours: the fastest output change seen, W/s (slowly forgotten) */
	double sat_score;
	double grace_until;
	double grace_started_at;
	double last_sat_update;
};

/* A small ordered set of ids (priority list, probe participants, ...). */
struct bal_idlist {
	size_t n;
	char id[BAL_MAX_CONSUMERS][BAL_ID_LEN];
};

struct bal_probe {
	bool on;
	char candidate[BAL_ID_LEN];
	struct bal_idlist active, backup, restore;
	double deadline, started_at;
	int proof_samples;
	double requested_abs;
};

struct bal_ctl_entry {
	bool used;
	char id[BAL_ID_LEN];
	struct bal_controls c;
};

#define BAL_STATE_CAP (2 * BAL_MAX_CONSUMERS)

struct balancer {
	struct bal_config cfg;
	bool active_control;
	bool active_control_set; /* switched live: persisted */

	struct bal_cstate st[BAL_STATE_CAP];
	struct bal_cstate scratch; /* used when st[] is full, so no path sees NULL */

	struct bal_idlist priority;
	struct bal_idlist deprio;
	double last_rotation;
	bool has_cache;
	uint64_t cache_sample;
	struct bal_idlist cache_priority;
	struct bal_idlist cache_result; /* ids parked (adjustment 0) */
	struct bal_probe probe;
	double probe_timeout;
	double probe_success_threshold;
	double post_probe_fade_until;
	struct bal_idlist post_probe_ids;

	/* Dead-time predictor (GRID_PREDICTOR = deadtime). */
	struct {
		double t, p;
	} dt_hist[BAL_DT_HIST];
	size_t dt_head, dt_n;
	double dt_score[BAL_DT_LAGS]; /* EMA of each lag's squared demand change */
	double dt_last[BAL_DT_LAGS];  /* each lag's demand at the previous sample */
	bool dt_has;                  /* a fresh sample has been seen: dt_last, dt_demand are set */
	double dt_demand;             /* the estimate: house demand behind the meter */
	double dt_noise;              /* typical sample-to-sample demand change (noise level) */
	uint64_t dt_sample;
	int dt_lag; /* index of the lag in use */

	bool has_pred;
	double pred_grid, pred_pool_output, pred_trust;
	uint64_t pred_sample;
	int pred_innov_sign;
	int import_dwell;
	uint64_t trim_sample;
	bool has_demand;
	double demand_ema;

	struct bal_ctl_entry ctl[BAL_MAX_CONTROLS];
	uint64_t ctl_version; /* counts changes of ctl[] and the live switch (to persist) */
};

/* Per-step view: which reports take part, with their controls looked up once. */
struct bal_ctx {
	const struct bal_report *r;
	size_t n;
	double t; /* now, seconds */
	double weight[BAL_MAX_CONSUMERS];
	double effw[BAL_MAX_CONSUMERS];
	bool has_mindc[BAL_MAX_CONSUMERS];
	double mindc[BAL_MAX_CONSUMERS];
	bool inactive[BAL_MAX_CONSUMERS];
	bool manual[BAL_MAX_CONSUMERS];
	struct bal_output *out;
};

/* A subset of ctx reports (indices, in report order). */
struct bal_view {
	size_t n;
	size_t idx[BAL_MAX_CONSUMERS];
};

/* ---- per-consumer state table ---- */
struct bal_cstate *bal_state(struct balancer *b, const char *id);
struct bal_cstate *bal_state_find(const struct balancer *b, const char *id);
void bal_state_drop(struct balancer *b, const char *id);
bool bal_view_has(const struct bal_ctx *x, const struct bal_view *v, const char *id, size_t *pos);

/* ---- id lists ---- */
bool bal_idl_has(const struct bal_idlist *l, const char *id);
void bal_idl_add(struct bal_idlist *l, const char *id);
void bal_idl_del(struct bal_idlist *l, const char *id);

/* ---- user controls table (the setters are in bal_controls.c) ---- */
const struct bal_controls *bal_ctl_find(const struct balancer *b, const char *id);
/* A consumer id that may have controls: 1..BAL_ID_LEN-1 bytes, no space, control byte or
 * '=' (the state file's separators). */
bool bal_ctl_id_ok(const char *id);
void bal_controls_default(struct bal_controls *c);

/* Index of the phase field a consumer reads: A/B/C, everything else (D, inspection) A. */
int bal_phase_idx(char p);

#endif
