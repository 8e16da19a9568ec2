/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The balancer's per-consumer dynamics and its grid observer: the time-weighted
 * saturation detector with grace and stall timeout, ramp pacing of the sent reading,
 * oscillation-gated damping, the adaptive grid predictor and the steady-import trim.
 *
 * Cadence: the saturation EMA and the pacing caps are defined per reference second and
 * scaled by the time since this consumer's previous call, so a Venus V3 polling every
 * ~0.45 s and a battery polling every 3 s converge alike (upstream does exactly this; the
 * balance gain, damping and fade stay per poll, as upstream has them). */
#include <math.h>

#include "balancer/bal_saturation.h"
#include "balancer/bal_state.h"

static int sgn(double v)
{
	return v > 0 ? 1 : (v < 0 ? -1 : 0);
}

/* ---- saturation ------------------------------------------------------------------------ */

void bal_sat_set_grace(struct bal_cstate *s, double deadline, double t)
{
	s->grace_until = deadline;
	s->grace_started_at = t;
	/* Tracking pauses until grace ends; the next update re-seeds. */
	s->last_sat_update = 0.0;
}

void bal_sat_clear(struct bal_cstate *s)
{
	s->sat_score = 0.0;
	s->grace_until = 0.0;
	s->grace_started_at = 0.0;
	s->last_sat_update = 0.0;
}

void bal_sat_update(const struct bal_config *c, struct bal_cstate *s, bool has_target,
                    double target, double actual, double t)
{
	if (!c->saturation_detection || !has_target)
		return;
	double alpha = fmax(0.01, fmin(1.0, c->saturation_alpha));
	double min_target = fmax(1.0, c->min_target_for_saturation);
	double decay = fmax(0.0, fmin(1.0, c->saturation_decay_factor));
	double stall = fmax(0.0, c->saturation_stall_timeout_seconds);
	double target_abs = fabs(target);

	if (s->grace_until > 0) {
		if (t < s->grace_until) {
			if (fabs(actual) >= min_target) {
				/* Proved it can deliver: end grace early and re-seed. */
				s->grace_until = 0.0;
				s->grace_started_at = 0.0;
				s->last_sat_update = 0.0;
			} else if (target_abs >= min_target && s->grace_started_at > 0 &&
			           t - s->grace_started_at >= stall) {
				/* Still nothing under a real target after the stall timeout:
				 * empty/full, not ramping. */
				s->sat_score = 1.0;
				s->grace_until = 0.0;
				s->grace_started_at = 0.0;
				s->last_sat_update = 0.0;
				return;
			} else {
				return;
			}
		} else {
			s->grace_until = 0.0;
			s->grace_started_at = 0.0;
			s->last_sat_update = 0.0;
		}
	}
	/* Target one way, output still the other way: ramping through zero, healthy. */
	int ts = sgn(target), as = sgn(actual);
	bool reversing = ts != 0 && as != 0 && ts != as;

	double prev_t = s->last_sat_update;
	if (prev_t <= 0.0)
		prev_t = t - BAL_SATURATION_REFERENCE_DT;
	double dt = fmax(0.0, t - prev_t);
	s->last_sat_update = t;
	if (dt == 0.0)
		return;
	if (dt > BAL_SATURATION_LONG_GAP)
		return; /* battery was away: re-seed rather than dose a huge step */
	double ratio = dt / BAL_SATURATION_REFERENCE_DT;
	if (target_abs < min_target || reversing) {
		if (s->sat_score > 0) {
			double decayed = s->sat_score * pow(decay, ratio);
			s->sat_score = decayed < 0.001 ? 0.0 : decayed;
		}
		return;
	}
	double inst = fabs(actual) < min_target ? 1.0 : 0.0;
	double alpha_eff = 1.0 - pow(1.0 - alpha, ratio);
	s->sat_score = alpha_eff * inst + (1 - alpha_eff) * s->sat_score;
}

/* ---- ramp pacing (upstream #458) ------------------------------------------------------- */

double bal_pace(const struct bal_config *c, double max_step, struct bal_cstate *s, double reading,
                double reported, double t)
{
	double base = c->pace_base_step;
	if (base <= 0)
		return reading;
	double dt = s->pace_last_at > 0.0 ? t - s->pace_last_at : 0.0;
	if (dt <= 0.0)
		dt = BAL_PACE_REFERENCE_DT; /* first poll or clock did not advance */
	s->pace_last_at = t;
	double ratio = fmin(1.0, dt / BAL_PACE_REFERENCE_DT);
	int sign = sgn(reading);
	double cap = s->pace_cap > 0 ? s->pace_cap : base;
	/* Never below the base step: hysteresis regulators (B2500) need a minimum reading
	 * to leave their hold window at all. */
	double limit = fmax(base, cap * ratio);
	if (sign == 0 || sign != s->pace_sign) {
		cap = base;
	} else if (fabs(reading) > limit) {
		double moved = s->has_pace_prev ? (reported - s->pace_prev_reported) * sign : 0.0;
		/* Grow only while the battery demonstrably follows the command. */
		if (moved >= BAL_PACE_TRACKING_DELTA_W * ratio) {
			/* Efficiency mode hands load between batteries (fades, probes):
			 * there the fast growth overshot (two_venus/eff 311 W vs 94 W). */
			bool fast =
			        c->predictor == BAL_PRED_DEADTIME && c->min_efficient_power <= 0;
			double g = fast ? BAL_PACE_GROWTH_FAST : BAL_PACE_GROWTH_FACTOR;
			cap = fmin(cap * pow(g, ratio), max_step);
		}
	} else {
		cap = fmax(base, fabs(reading) / ratio);
	}
	cap = fmin(cap, max_step);
	s->pace_cap = cap;
	s->pace_sign = sign;
	s->has_pace_prev = true;
	s->pace_prev_reported = reported;
	limit = fmax(base, cap * ratio);
	return fmax(-limit, fmin(limit, reading));
}

/* ---- commands in flight (ours) --------------------------------------------------------- */

/* A Venus firmware integrates each reading into its setpoint and the inverter then ramps to
 * it at its own rate (200 W/s in the reference's live simulator, about a second per poll
 * of 300 W). While it ramps, a reading computed from the reported output asks again for
 * what the last one already asked for, and the setpoint winds past the target: one
 * battery, a -900 W solar step, the output went from +643 W to -648 W where -250 W was
 * needed (issue 14). The estimate of the setpoint is the reported output plus every
 * reading sent since (an upper bound: the firmware moves by at most the reading), kept
 * only while the output moves at the battery's ramp limit; otherwise it is the output. */
#define BAL_INFLIGHT_SLEW_MIN    100.0 /* W/s: slower is not a ramp limit */
#define BAL_INFLIGHT_SLEW_NEAR   0.75  /* of the fastest seen: at its ramp limit */
#define BAL_INFLIGHT_SLEW_FORGET 0.995 /* per poll */

double bal_inflight(struct bal_cstate *s, double reading, double reported, double t)
{
	/* Only a battery moving at its ramp limit can be behind its setpoint: one that moved
	 * slower than it can has reached it (the firmware's own step was smaller than the
	 * reading, which the estimate cannot know). */
	bool limited = false;
	double dt = s->pace_last_at > 0.0 ? t - s->pace_last_at : 0.0;
	if (s->has_pace_prev && dt > 0.0) {
		double rate = fabs(reported - s->pace_prev_reported) / dt;
		s->slew = fmax(rate, s->slew * BAL_INFLIGHT_SLEW_FORGET);
		limited = rate >= BAL_INFLIGHT_SLEW_MIN && rate >= BAL_INFLIGHT_SLEW_NEAR * s->slew;
	}
	if (!s->has_fw_sp || !limited) {
		s->has_fw_sp = true;
		s->fw_sp = reported;
	}
	double ahead = s->fw_sp - reported;
	/* The setpoint is ahead in the direction of the new reading: only the rest is
	 * needed. Never reversed on the estimate alone (it is an upper bound). */
	if (ahead * reading > 0.0) {
		double rest = reading - ahead;
		return rest * reading > 0.0 ? rest : 0.0;
	}
	/* Behind, or the other way: the firmware's setpoint is where the reading says. */
	s->fw_sp = reported;
	return reading;
}

void bal_inflight_sent(struct bal_cstate *s, double sent)
{
	s->fw_sp += sent;
}

/* ---- oscillation damping (upstream #473) ------------------------------------------------ */

double bal_damp(const struct bal_config *c, struct bal_cstate *s, double residual)
{
	if (c->osc_damp_max <= 0.0)
		return residual;
	int sign = sgn(residual);
	/* A large residual is a real demand step: full gain, and bleed hunt memory. */
	if (c->osc_damp_threshold > 0.0 && fabs(residual) > c->osc_damp_threshold) {
		s->osc_score *= 1.0 - c->osc_damp_decay;
		if (sign != 0)
			s->osc_last_sign = sign;
		return residual;
	}
	if (sign != 0 && s->osc_last_sign != 0 && sign != s->osc_last_sign)
		s->osc_score = fmin(1.0, s->osc_score + c->osc_damp_alpha);
	else
		s->osc_score *= 1.0 - c->osc_damp_decay;
	if (sign != 0)
		s->osc_last_sign = sign;
	return residual * (1.0 - c->osc_damp_max * s->osc_score);
}

/* ---- grid predictor and import trim ------------------------------------------------------ */

double bal_predict_grid(struct balancer *b, double pool_output, double grid_total, uint64_t sample)
{
	if (b->cfg.grid_predict_trust <= 0.0)
		return grid_total;
	if (!b->has_pred) {
		b->has_pred = true;
		b->pred_grid = grid_total;
		b->pred_pool_output = pool_output;
		b->pred_sample = sample;
		b->pred_trust = fmin(BAL_PRED_TRUST_MAX,
		                     fmax(BAL_PRED_TRUST_MIN, b->cfg.grid_predict_trust));
		return grid_total;
	}
	/* Credit the pool's own output change at once; the meter shows it only later. */
	b->pred_grid -= pool_output - b->pred_pool_output;
	b->pred_pool_output = pool_output;
	if (sample != b->pred_sample) {
		b->pred_sample = sample;
		double innovation = grid_total - b->pred_grid;
		int sign = sgn(innovation);
		if (fabs(innovation) >= BAL_PRED_INNOVATION_GATE_W && sign != 0) {
			/* Same-sign runs (a real step) raise trust; a flip (hunting) halves it. */
			if (b->pred_innov_sign == 0 || sign == b->pred_innov_sign)
				b->pred_trust = fmin(BAL_PRED_TRUST_MAX,
				                     b->pred_trust + BAL_PRED_TRUST_RAISE);
			else
				b->pred_trust = fmax(BAL_PRED_TRUST_MIN,
				                     b->pred_trust * BAL_PRED_TRUST_SHRINK);
			b->pred_innov_sign = sign;
		}
		b->pred_grid += b->pred_trust * innovation;
	}
	return b->pred_grid;
}

/* The pool output at each candidate lag: for lag j, the newest history entry at or before
 * t - j * LAG_STEP (the oldest entry if none is that old). The lags go back in time, so one
 * walk from the newest entry serves them all (this runs on every fresh sample). */
static void dt_pool_lags(const struct balancer *b, double t, double p[BAL_DT_LAGS])
{
	size_t k = b->dt_n; /* entries newer than the current lag's target: [k, n) */
	for (int j = 0; j < BAL_DT_LAGS; j++) {
		double target = t - j * BAL_DT_LAG_STEP_S;
		while (k > 0 && b->dt_hist[(b->dt_head + k - 1) % BAL_DT_HIST].t > target)
			k--;
		size_t i = (b->dt_head + (k > 0 ? k - 1 : 0)) % BAL_DT_HIST;
		p[j] = b->dt_hist[i].p;
	}
}

double bal_deadtime_grid(struct balancer *b, double pool_output, double grid_total, uint64_t sample,
                         double t)
{
	if (b->dt_n == BAL_DT_HIST) {
		b->dt_head = (b->dt_head + 1) % BAL_DT_HIST;
		b->dt_n--;
	}
	size_t w = (b->dt_head + b->dt_n) % BAL_DT_HIST;
	b->dt_hist[w].t = t;
	b->dt_hist[w].p = pool_output;
	b->dt_n++;
	if (b->dt_has && sample == b->dt_sample)
		return b->dt_demand - pool_output;
	b->dt_sample = sample;
	/* A sample shows the grid as it was some dead time ago: demand = sample + the pool
	 * output of that moment. The right lag keeps the demand flat while the pool ramps;
	 * a wrong one makes it move with the ramp. A load step moves every lag's demand by
	 * about the same large amount, and would swamp that evidence: a sample where even
	 * the flattest lag moved by more than the gate is a load step and is not scored. */
	double d[BAL_DT_LAGS];
	dt_pool_lags(b, t, d);
	double flattest = INFINITY;
	for (int j = 0; j < BAL_DT_LAGS; j++) {
		d[j] += grid_total;
		if (b->dt_has)
			flattest = fmin(flattest, fabs(d[j] - b->dt_last[j]));
	}
	bool score = b->dt_has && flattest < BAL_DT_STEP_GATE_W;
	for (int j = 0; j < BAL_DT_LAGS; j++) {
		if (score) {
			double dd = d[j] - b->dt_last[j];
			b->dt_score[j] = BAL_DT_SCORE_ALPHA * dd * dd +
			                 (1.0 - BAL_DT_SCORE_ALPHA) * b->dt_score[j];
		}
		b->dt_last[j] = d[j];
	}
	/* Until a ramp has told the lags apart (equal scores), assume the typical one. */
	int best = BAL_DT_DEFAULT_LAG;
	for (int j = 0; j < BAL_DT_LAGS; j++)
		if (b->dt_score[j] < b->dt_score[best] - 1e-9)
			best = j;
	b->dt_lag = best;
	double dem = d[best];
	/* The noise gate adapts to the meter: a noisy house (+-150 W) would otherwise pass
	 * every sample as a "step" and the batteries would chase the noise. The level is an
	 * EMA of the sample-to-sample change, clipped so that one real step barely moves it. */
	if (b->dt_has) {
		double cap = BAL_DT_NOISE_CLIP * fmax(BAL_DT_NOISE_W, b->dt_noise);
		double dev = fmin(fabs(dem - b->dt_demand), cap);
		b->dt_noise = BAL_DT_NOISE_EMA * dev + (1.0 - BAL_DT_NOISE_EMA) * b->dt_noise;
	}
	double gate = fmax(BAL_DT_NOISE_W, BAL_DT_NOISE_K * b->dt_noise);
	if (b->dt_has && fabs(dem - b->dt_demand) < gate)
		b->dt_demand += BAL_DT_NOISE_ALPHA * (dem - b->dt_demand);
	else
		b->dt_demand = dem;
	b->dt_has = true;
	return b->dt_demand - pool_output;
}

double bal_import_trim(struct balancer *b, double control_grid, bool fresh, bool hold)
{
	double trim = b->cfg.import_trim_w;
	if (trim <= 0)
		return control_grid;
	if (!fresh) {
		/* Upstream adds the trim only on the first request after a fresh sample, so
		 * with several batteries it lands on whichever polls first and the battery the
		 * pool concentrates on may never see it (upstream #624's hover). The dead-time
		 * predictor credits the pool's response between samples, so holding the trim
		 * until the next sample re-evaluates the dwell cannot wind up. */
		if (hold && b->import_dwell >= BAL_IMPORT_TRIM_DWELL)
			return control_grid + trim;
		return control_grid;
	}
	if (control_grid > 0.0 && control_grid < BAL_IMPORT_TRIM_GATE_W) {
		/* Saturating count: only ">= DWELL" matters, and it must not overflow. */
		if (b->import_dwell < BAL_IMPORT_TRIM_DWELL)
			b->import_dwell++;
	} else {
		b->import_dwell = 0;
	}
	if (b->import_dwell >= BAL_IMPORT_TRIM_DWELL)
		return control_grid + trim;
	return control_grid;
}

void bal_reset_consumer(struct balancer *b, const char *id, double t)
{
	struct bal_cstate *s = bal_state(b, id);
	s->has_last_target = s->has_intent = s->has_intent_reading = false;
	s->last_target = s->last_intent = s->last_intent_reading = 0.0;
	s->pace_cap = 0.0;
	s->pace_sign = 0;
	s->has_pace_prev = false;
	s->pace_last_at = 0.0;
	s->osc_score = 0.0;
	s->osc_last_sign = 0;
	s->sat_score = 0.0;
	double grace = t + fmin(fmax(0.0, b->cfg.saturation_grace_seconds),
	                        b->cfg.efficiency_rotation_interval);
	bal_sat_set_grace(s, grace, t);
}
