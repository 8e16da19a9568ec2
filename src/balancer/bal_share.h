/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Inside the balancer: how a pool target is shared: the balance correction between
 * batteries and the split over phases. Pure arithmetic on the per-step view. */
#ifndef ASTRAMETER_BAL_SHARE_H
#define ASTRAMETER_BAL_SHARE_H

#include "balancer/bal_state.h"

/* Upstream's balance correction: moves the requester's fair share toward its weighted
 * part of the pool's actual output (eff[] per view position: who takes part). */
double bal_balance_correction(const struct balancer *b, const struct bal_ctx *x,
                              const struct bal_view *v, const double *eff, size_t self,
                              double fair);
/* Splits target over the phases of the view's consumers (weights w per position, NULL =
 * equal) into value[3]. */
void bal_split_by_phase(const struct bal_ctx *x, double target, const struct bal_view *v,
                        const double *w, double value[3]);

#endif
