/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Sharing a pool target: upstream's balance correction (gain, boost/reduce thresholds,
 * per-step cap) and the split over phases. Expression order as upstream's balancer.py. */
#include <math.h>

#include "balancer/bal_share.h"

void bal_split_by_phase(const struct bal_ctx *x, double target, const struct bal_view *v,
                        const double *w, double value[3])
{
	double pe[3] = {0.0, 0.0, 0.0};
	for (size_t i = 0; i < v->n; i++)
		pe[bal_phase_idx(x->r[v->idx[i]].phase)] += w ? w[i] : 1.0;
	double total = pe[0] + pe[1] + pe[2];
	if (total <= 0) {
		value[0] = target;
		value[1] = value[2] = 0.0;
		return;
	}
	for (int k = 0; k < 3; k++)
		value[k] = target * (pe[k] / total);
}

double bal_balance_correction(const struct balancer *b, const struct bal_ctx *x,
                              const struct bal_view *v, const double *eff, size_t self, double fair)
{
	const struct bal_config *c = &b->cfg;
	double actual_self = (double)x->r[self].power;
	double actual_total = 0.0, total_weight = 0.0, self_weight = 0.0;
	size_t npart = 0;
	for (size_t i = 0; i < v->n; i++) {
		if (!(eff[i] > 0.1))
			continue;
		size_t k = v->idx[i];
		npart++;
		actual_total += (double)x->r[k].power;
		total_weight += x->weight[k];
		if (k == self)
			self_weight = x->weight[k];
	}
	if (npart == 0)
		return fair;
	double target_share = total_weight > 0 ? actual_total * self_weight / total_weight
	                                       : actual_total / (double)npart;
	double error = target_share - actual_self;
	double err_abs = fabs(error);
	if (c->balance_deadband > 0 && err_abs < c->balance_deadband)
		return fair;
	double gain = c->balance_gain;
	if (c->error_reduce_threshold > 0 && err_abs < c->error_reduce_threshold) {
		gain = gain * (err_abs / c->error_reduce_threshold);
	} else if (c->error_boost_threshold > 0 && c->error_boost_max > 0) {
		double boost = fmin(err_abs / c->error_boost_threshold, 1.0) * c->error_boost_max;
		gain = gain * (1.0 + boost);
	}
	double corr = gain * error;
	if (c->max_correction_per_step > 0) {
		double cap = c->max_correction_per_step;
		corr = fmax(-cap, fmin(cap, corr));
	}
	double target = fair + corr;
	if (c->max_target_step > 0) {
		/* Upstream clamps the residual against the absolute output (REFERENCE §10
		 * item 9); kept for parity. */
		double lo = actual_self - c->max_target_step;
		double hi = actual_self + c->max_target_step;
		target = fmax(lo, fmin(hi, target));
	}
	return target;
}
