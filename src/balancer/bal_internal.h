/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Everything inside the balancer at once, for its unit tests (which inspect priority,
 * parked set and per-consumer state like upstream's tests do). The balancer's own files
 * include only the headers of the files they call (see docs/architecture.md). */
#ifndef ASTRAMETER_BAL_INTERNAL_H
#define ASTRAMETER_BAL_INTERNAL_H

#include "balancer/bal_config.h"
#include "balancer/bal_efficiency.h"
#include "balancer/bal_saturation.h"
#include "balancer/bal_share.h"
#include "balancer/bal_state.h"

/* Upstream compute_target for the requester ctx->r[self] (balancer.c); writes value[3]. */
void bal_compute_target(struct balancer *b, struct bal_ctx *x, size_t self, double grid_total,
                        uint64_t sample, double value[3]);

#endif
