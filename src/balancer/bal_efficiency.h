/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Inside the balancer: efficiency mode (priority rotation, parking, probe handoff,
 * fade). */
#ifndef ASTRAMETER_BAL_EFFICIENCY_H
#define ASTRAMETER_BAL_EFFICIENCY_H

#include "balancer/bal_state.h"

/* Fills parked[] (per view position) and returns true if any consumer is parked. */
bool bal_eff_deprioritize(struct balancer *b, struct bal_ctx *x, const struct bal_view *pool,
                          uint64_t sample, double grid_total, bool parked[]);
/* Fade weights toward parked/active; faded[] gets each one's weight (1 when not <1). */
void bal_eff_fade(struct balancer *b, struct bal_ctx *x, const struct bal_view *pool,
                  const bool parked[], double faded[], bool has_faded[]);
bool bal_probe_target(struct balancer *b, struct bal_ctx *x, const struct bal_view *pool,
                      size_t self, double grid_total, const double *eff, double value[3]);
bool bal_probe_participant(const struct balancer *b, const char *id);
void bal_probe_clear(struct balancer *b);
void bal_eff_invalidate(struct balancer *b);
void bal_eff_force_rotation(struct balancer *b, const struct bal_ctx *x,
                            const struct bal_view *pool, double t);

/* Takes a consumer out of the auto pool (manual mode): priority, parked set, state,
 * a probe it took part in. */
void bal_detach_from_auto_pool(struct balancer *b, const char *id);

#endif
