/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Inside the balancer: per-consumer trackers (saturation, ramp pacing, oscillation
 * damping, in-flight compensation) and the grid predictors. */
#ifndef ASTRAMETER_BAL_SATURATION_H
#define ASTRAMETER_BAL_SATURATION_H

#include "balancer/bal_state.h"

void bal_sat_update(const struct bal_config *c, struct bal_cstate *s, bool has_target,
                    double target, double actual, double t);
void bal_sat_set_grace(struct bal_cstate *s, double deadline, double t);
void bal_sat_clear(struct bal_cstate *s);
/* Upstream's ramp pacing with the cap bounded by max_step (PACE_MAX_STEP, or the pool's
 * share of it: see balancer.c). */
double bal_pace(const struct bal_config *c, double max_step, struct bal_cstate *s, double reading,
                double reported, double t);
double bal_damp(const struct bal_config *c, struct bal_cstate *s, double residual);
/* Ours (dead-time predictor, AC batteries): the part of the previous commands the battery
 * has not delivered yet, taken off a same-direction reading (see bal_saturation.c);
 * bal_inflight_sent records what was finally sent. */
double bal_inflight(struct bal_cstate *s, double reading, double reported, double t);
void bal_inflight_sent(struct bal_cstate *s, double sent);
double bal_predict_grid(struct balancer *b, double pool_output, double grid_total, uint64_t sample);
/* The dead-time predictor: the grid the pool sees now, given its output now, the meter's
 * (filtered) total, the sample id and now in seconds. */
double bal_deadtime_grid(struct balancer *b, double pool_output, double grid_total, uint64_t sample,
                         double t);
/* Upstream's import trim; hold (ours: the dead-time predictor with a pool of B2500-family
 * batteries) keeps it on between fresh samples (see bal_saturation.c). */
double bal_import_trim(struct balancer *b, double control_grid, bool fresh, bool hold);

/* Upstream reset_consumer: clears a consumer's targets, pacing, damping and saturation
 * score and gives it a saturation grace period from t. */
void bal_reset_consumer(struct balancer *b, const char *id, double t);

#endif
