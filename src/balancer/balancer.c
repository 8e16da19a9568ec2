/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The balancer's main pipeline: bal_step() (what the CT layer calls per request), the
 * per-consumer mode dispatch (paused / manual / auto), the auto-pool target (predicted
 * grid, import trim, charge-blind exclusion, weighted fair share, deadband concentration,
 * balance correction, oscillation damping, pacing), the phase split and the MIN_DC_OUTPUT
 * floor. The arithmetic follows upstream balancer.py step for step (same expression order)
 * so that command streams replay within floating-point noise of the reference. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balancer/bal_config.h"
#include "balancer/bal_efficiency.h"
#include "balancer/bal_internal.h"
#include "balancer/bal_saturation.h"
#include "balancer/bal_share.h"
#include "balancer/bal_state.h"

/* ---- small helpers ------------------------------------------------------------------ */

static bool steered_phase(char p)
{
	return p == 'A' || p == 'B' || p == 'C' || p == 'D';
}

static void record(struct bal_cstate *s, double reading, double intent, double unpaced)
{
	s->has_last_target = true;
	s->last_target = reading;
	s->has_intent = true;
	s->last_intent = intent;
	s->has_intent_reading = true;
	s->last_intent_reading = unpaced;
}

/* Ours, with the dead-time predictor: PACE_MAX_STEP is the pool's per-poll step, split
 * over its n active batteries, so that several batteries acting on one meter sample do
 * not overshoot together. Upstream's predictor paces each battery on its own. */
static double pool_max_step(const struct bal_config *c, size_t n)
{
	if (c->predictor == BAL_PRED_DEADTIME && n > 1)
		return fmax(c->pace_base_step, c->pace_max_step / (double)n);
	return c->pace_max_step;
}

/* True iff every listed report is a B2500-family battery (no AC input, no inverter): its
 * regulator ignores readings under ~25 W (ours, upstream #624). idx holds report indices. */
static bool all_b2500(const struct bal_ctx *x, const size_t *idx, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!bal_dev_needs_dc_floor(x->r[idx[i]].device_type))
			return false;
	return true;
}

/* Drive a consumer to 0 W net, entirely on its own phase field. Auto-pool callers pace
 * the wind-down (the firmware applies a charge-direction reading in full in one cycle);
 * user-initiated pauses do not. */
static void steer_to_zero(struct balancer *b, struct bal_ctx *x, size_t self, bool paced,
                          double value[3])
{
	const struct bal_report *r = &x->r[self];
	double reported = (double)r->power;
	double reading = 0.0 - reported;
	struct bal_cstate *s = bal_state(b, r->id);
	if (paced)
		reading = bal_pace(&b->cfg, b->cfg.pace_max_step, s, reading, reported, x->t);
	s->has_last_target = true;
	s->last_target = paced ? reading : 0.0;
	s->has_intent = true;
	s->last_intent = 0.0;
	/* Producing nothing on purpose is "idle", not "failed to follow". */
	s->has_intent_reading = true;
	s->last_intent_reading = 0.0;
	value[0] = value[1] = value[2] = 0.0;
	if (reading != 0.0)
		value[bal_phase_idx(r->phase)] = reading;
}

/* True iff every concentration candidate sits within BALANCE_DEADBAND of its weighted
 * share of their total output (upstream #523: never concentrate over a real imbalance). */
static bool pool_balanced(const struct balancer *b, const struct bal_ctx *x, const size_t *ids,
                          size_t n)
{
	double deadband = b->cfg.balance_deadband;
	if (deadband <= 0)
		return false;
	double actual_total = 0.0, total_weight = 0.0;
	for (size_t i = 0; i < n; i++) {
		actual_total += (double)x->r[ids[i]].power;
		total_weight += x->weight[ids[i]];
	}
	for (size_t i = 0; i < n; i++) {
		double self = (double)x->r[ids[i]].power;
		double share = total_weight > 0 ? actual_total * x->weight[ids[i]] / total_weight
		                                : actual_total / (double)n;
		if (fabs(share - self) >= deadband)
			return false;
	}
	return true;
}

/* ---- auto pool ---------------------------------------------------------------------- */

static void auto_target(struct balancer *b, struct bal_ctx *x, const struct bal_view *pool,
                        size_t self, double grid_total, uint64_t sample, double value[3])
{
	const struct bal_config *c = &b->cfg;
	const struct bal_report *me = &x->r[self];
	size_t me_pos = 0;
	bool me_in_pool = bal_view_has(x, pool, me->id, &me_pos);

	/* The trim integrates a bias, so it acts only on fresh samples. */
	bool trim_fresh = sample != b->trim_sample;
	b->trim_sample = sample;
	double pool_output = 0.0;
	for (size_t i = 0; i < pool->n; i++)
		pool_output += (double)x->r[pool->idx[i]].power;
	double cg;
	if (c->grid_predict_trust <= 0.0)
		cg = grid_total; /* GRID_PREDICT_TRUST = 0: act on the meter as it is */
	else if (c->predictor == BAL_PRED_DEADTIME)
		cg = bal_deadtime_grid(b, pool_output, grid_total, sample, x->t);
	else
		cg = bal_predict_grid(b, pool_output, grid_total, sample);
	/* B2500-family regulators ignore readings under ~25 W, so a pool of them needs the
	 * trim on every request, not just the first after a sample (ours, upstream #624). */
	bool hold_trim = c->predictor == BAL_PRED_DEADTIME && pool->n > 0 &&
	                 all_b2500(x, pool->idx, pool->n);
	cg = bal_import_trim(b, cg, trim_fresh, hold_trim);

	double eff[BAL_MAX_CONSUMERS];
	bool ac_charging = false, any_ac = false;
	for (size_t i = 0; i < pool->n; i++) {
		const struct bal_report *r = &x->r[pool->idx[i]];
		const struct bal_cstate *s = bal_state_find(b, r->id);
		eff[i] = fmax(0.01, 1.0 - (s ? s->sat_score : 0.0));
		bool ac = bal_dev_ac_chargeable(r->device_type);
		any_ac = any_ac || ac;
		ac_charging = ac_charging || (ac && r->power < 0);
	}
	/* DC-only batteries cannot absorb a surplus (upstream #338); only when some AC
	 * battery is there to take it (#359). */
	bool charge_territory = any_ac && (grid_total < 0 || (grid_total == 0 && ac_charging));
	bool blind[BAL_MAX_CONSUMERS];
	for (size_t i = 0; i < pool->n; i++) {
		blind[i] =
		        charge_territory && !bal_dev_ac_chargeable(x->r[pool->idx[i]].device_type);
		if (blind[i])
			eff[i] = 0.0;
	}

	bool parked[BAL_MAX_CONSUMERS];
	double faded[BAL_MAX_CONSUMERS];
	bool has_faded[BAL_MAX_CONSUMERS];
	bal_eff_deprioritize(b, x, pool, sample, grid_total, parked);
	bal_eff_fade(b, x, pool, parked, faded, has_faded);
	bool any_fading = false, any_faded = false;
	for (size_t i = 0; i < pool->n; i++) {
		any_faded = any_faded || has_faded[i];
		if (has_faded[i] && faded[i] > 0.0 && faded[i] < 1.0)
			any_fading = true;
	}

	if (bal_probe_target(b, x, pool, self, grid_total, eff, value))
		return;

	if (me_in_pool && blind[me_pos]) {
		steer_to_zero(b, x, self, true, value);
		return;
	}

	double reported = (double)me->power;
	if (any_fading) {
		struct bal_cstate *s = bal_state(b, me->id);
		double fade_w = s->fade_weight;
		if (fade_w == 0.0) {
			steer_to_zero(b, x, self, true, value);
			return;
		}
		double total_battery = 0.0, total_fade = 0.0;
		for (size_t i = 0; i < pool->n; i++)
			total_battery += (double)x->r[pool->idx[i]].power;
		double demand = total_battery + grid_total;
		for (size_t i = 0; i < pool->n; i++)
			total_fade += bal_state(b, x->r[pool->idx[i]].id)->fade_weight;
		/* fade_w may have moved if the table recycled; re-read it. */
		s = bal_state(b, me->id);
		double desired = total_fade > 0 ? demand * s->fade_weight / total_fade : 0.0;
		double reading = desired - reported;
		double unpaced = reading;
		reading = bal_pace(c, pool_max_step(c, pool->n), s, reading, reported, x->t);
		record(s, reading, desired, unpaced);
		bal_split_by_phase(x, reading, pool, eff, value);
		return;
	}

	for (size_t i = 0; i < pool->n; i++)
		if (has_faded[i] && faded[i] == 0.0)
			eff[i] = 0.0;
	if (any_faded && me_in_pool && has_faded[me_pos] && faded[me_pos] == 0.0) {
		steer_to_zero(b, x, self, true, value);
		return;
	}

	double share[BAL_MAX_CONSUMERS];
	double total_eff = 0.0;
	for (size_t i = 0; i < pool->n; i++) {
		share[i] = eff[i] * x->weight[pool->idx[i]];
		total_eff += share[i];
	}
	double num = pool->n > 0 ? (double)pool->n : 1.0;
	double fair = me_in_pool && total_eff > 0 ? (cg / total_eff) * share[me_pos] : cg / num;

	/* Deadband concentration: hand a small error to the most active battery so it
	 * clears the firmware's ~20 W input deadband. */
	size_t conc[BAL_MAX_CONSUMERS];
	size_t nconc = 0;
	bool me_conc = false;
	for (size_t i = 0; i < pool->n; i++) {
		size_t k = pool->idx[i];
		if (!blind[i] && eff[i] > 0.1 && x->weight[k] > 0.0) {
			conc[nconc++] = k;
			if (k == self)
				me_conc = true;
		}
	}
	bool concentrate = false;
	if (c->fair_distribution && c->concentrate_deadband > 0 && nconc > 1 && me_conc &&
	    fabs(cg) > 0 && fabs(cg) < c->concentrate_deadband) {
		bool same_phase = true;
		for (size_t i = 1; i < nconc; i++)
			if (x->r[conc[i]].phase != x->r[conc[0]].phase)
				same_phase = false;
		/* Ours: in a pool of B2500-family batteries a small error split N ways stays
		 * below every battery's regulator deadband (a B2500 moves only for ~25 W), so
		 * the grid would hover at +-20..50 W for ever; concentrate it even over an
		 * imbalance, which the balance deadband is not correcting anyway. */
		bool hover = c->predictor == BAL_PRED_DEADTIME && all_b2500(x, conc, nconc);
		if (same_phase && (hover || pool_balanced(b, x, conc, nconc))) {
			size_t des = conc[0];
			for (size_t i = 1; i < nconc; i++) {
				int pa = abs(x->r[conc[i]].power), pd = abs(x->r[des].power);
				if (pa > pd ||
				    (pa == pd && strcmp(x->r[conc[i]].id, x->r[des].id) > 0))
					des = conc[i];
			}
			fair = des == self ? cg : 0.0;
			concentrate = true;
		}
	}

	double residual;
	if (!c->fair_distribution || !me_in_pool || concentrate)
		residual = fair;
	else
		residual = bal_balance_correction(b, x, pool, eff, self, fair);
	/* Clamp only the grid-tracking half to the grid's direction; the balance half is
	 * zero-sum across the pool and must pass (upstream #523). */
	double tracking = fair;
	if ((cg < 0 && tracking > 0) || (cg > 0 && tracking < 0))
		tracking = 0.0;
	residual = tracking + (residual - fair);

	struct bal_cstate *s = bal_state(b, me->id);
	residual = bal_damp(c, s, residual);
	double reading = (reported + residual) - reported;
	double unpaced = reading;
	size_t nact = 0;
	for (size_t i = 0; i < pool->n; i++)
		if (eff[i] > 0.1)
			nact++;
	bool inflight = c->predictor == BAL_PRED_DEADTIME && c->inflight_comp &&
	                !bal_dev_needs_dc_floor(me->device_type);
	if (inflight)
		reading = bal_inflight(s, reading, reported, x->t);
	reading = bal_pace(c, pool_max_step(c, nact), s, reading, reported, x->t);
	if (inflight)
		bal_inflight_sent(s, reading);
	record(s, reading, reported + residual, unpaced);
	bal_split_by_phase(x, reading, pool, eff, value);
}

/* Keep a B2500-family battery (or one with a per-device floor) discharging at least the
 * floor so its external inverter does not sleep (upstream #425). */
static void apply_min_dc(struct balancer *b, struct bal_ctx *x, const struct bal_view *pool,
                         size_t self, double value[3])
{
	const struct bal_report *r = &x->r[self];
	if (!bal_view_has(x, pool, r->id, NULL))
		return;
	double floor_w;
	if (x->has_mindc[self])
		floor_w = fmax(0.0, x->mindc[self]);
	else if (bal_dev_needs_dc_floor(r->device_type))
		floor_w = b->cfg.min_dc_output;
	else
		floor_w = 0.0;
	if (floor_w <= 0)
		return;
	if (x->weight[self] == 0) /* an explicit park is respected */
		return;
	double reported = (double)r->power;
	double net_self = reported + (value[0] + value[1] + value[2]);
	if (net_self >= floor_w)
		return;
	double reading = floor_w - reported;
	value[0] = value[1] = value[2] = 0.0;
	value[bal_phase_idx(r->phase)] = reading;
	record(bal_state(b, r->id), reading, floor_w, reading);
}

void bal_compute_target(struct balancer *b, struct bal_ctx *x, size_t self, double grid_total,
                        uint64_t sample, double value[3])
{
	const struct bal_report *me = &x->r[self];
	if (x->inactive[self]) {
		steer_to_zero(b, x, self, false, value);
		return;
	}
	/* Deviation from upstream: inspection-mode batteries are not steered, so they are
	 * not part of any pool (upstream let them take a fair-share slot: 400 W -> 184 W). */
	struct bal_view active = {0}, pool = {0};
	for (size_t i = 0; i < x->n; i++) {
		if (x->inactive[i] || !steered_phase(x->r[i].phase))
			continue;
		active.idx[active.n++] = i;
		if (!x->manual[i])
			pool.idx[pool.n++] = i;
	}
	struct bal_cstate *s = bal_state(b, me->id);
	if (bal_view_has(x, &active, me->id, NULL) && !x->manual[self] &&
	    !bal_probe_participant(b, me->id) && !bal_idl_has(&b->deprio, me->id))
		bal_sat_update(&b->cfg, s, s->has_intent_reading, s->last_intent_reading,
		               (double)me->power, x->t);

	if (x->manual[self]) {
		const struct bal_controls *ctl = bal_ctl_find(b, me->id);
		double manual = ctl ? ctl->manual_target : 0.0;
		double reported = (double)me->power;
		double reading = manual - reported;
		s = bal_state(b, me->id);
		record(s, reading, manual, reading);
		bal_split_by_phase(x, reading, &active, NULL, value);
		return;
	}
	auto_target(b, x, &pool, self, grid_total, sample, value);
	apply_min_dc(b, x, &pool, self, value);
}

/* ---- lifecycle ------------------------------------------------------------------------ */

struct balancer *bal_create(const struct bal_config *cfg, ev_ms now)
{
	struct balancer *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->cfg = *cfg;
	bal_config_clamp(&b->cfg);
	b->active_control = b->cfg.active_control;
	b->last_rotation = (double)now / 1000.0;
	b->probe_timeout = fmax(0.0, b->cfg.saturation_grace_seconds);
	b->probe_success_threshold = fmax(1.0, b->cfg.min_target_for_saturation);
	return b;
}

void bal_destroy(struct balancer *b)
{
	free(b);
}

const struct bal_config *bal_get_config(const struct balancer *b)
{
	return &b->cfg;
}

void bal_remove_consumer(struct balancer *b, const char *id)
{
	if (!b || !id)
		return;
	bal_state_drop(b, id);
	bal_idl_del(&b->deprio, id);
	if (bal_idl_has(&b->priority, id)) {
		bal_idl_del(&b->priority, id);
		bal_eff_invalidate(b);
	}
	if (bal_probe_participant(b, id))
		bal_probe_clear(b);
}

/* ---- the per-request entry point ----------------------------------------------------- */

static void fill_ctx(const struct balancer *b, struct bal_ctx *x, const struct bal_report *r,
                     size_t n, double t)
{
	memset(x, 0, sizeof(*x));
	x->r = r;
	x->n = n;
	x->t = t;
	for (size_t i = 0; i < n; i++) {
		const struct bal_controls *c = bal_ctl_find(b, r[i].id);
		struct bal_controls d;
		if (!c) {
			bal_controls_default(&d);
			c = &d;
		}
		x->weight[i] = c->weight;
		x->effw[i] = fmax(0.0, fmin(1.0, c->eff_window_weight));
		x->has_mindc[i] = c->has_min_dc_output;
		x->mindc[i] = c->min_dc_output;
		x->inactive[i] = !c->active || !r[i].participates;
		x->manual[i] = !c->auto_target;
	}
}

static bool input_ok(const struct bal_input *in)
{
	if (!in || !in->reports || in->n == 0 || in->n > BAL_MAX_CONSUMERS || in->self >= in->n)
		return false;
	for (size_t i = 0; i < in->n; i++)
		if (!in->reports[i].id)
			return false;
	return true;
}

/* Python int(float) truncates; NaN/inf make parse_int fall back to 0. Beyond upstream,
 * absurd readings are clamped to +-1 GW so that sums of them stay finite. */
static double trunc_or_zero(double v)
{
	return isfinite(v) ? trunc(fmax(-1e9, fmin(1e9, v))) : 0.0;
}

int bal_step(struct balancer *b, const struct bal_input *in, struct bal_output *out)
{
	memset(out, 0, sizeof(*out));
	if (!b || !input_ok(in))
		return -1;
	const struct bal_report *me = &in->reports[in->self];
	bool inspection = !steered_phase(me->phase);
	out->record_instructed = !inspection;

	if (in->meter_ok && (inspection || !b->active_control)) {
		/* Raw meter: the battery needs it for phase self-detection (inspection) or
		 * does the sharing itself (relay). */
		for (int k = 0; k < 3; k++)
			out->value[k] = isfinite(in->grid[k]) ? in->grid[k] : 0.0;
	} else if (in->meter_ok) {
		struct bal_ctx x;
		fill_ctx(b, &x, in->reports, in->n, (double)in->now / 1000.0);
		x.out = out;
		double grid_total = 0.0;
		for (int k = 0; k < 3; k++)
			grid_total += trunc_or_zero(in->grid[k]);
		bal_compute_target(b, &x, in->self, grid_total, in->sample_id, out->value);
		for (int k = 0; k < 3; k++)
			if (!isfinite(out->value[k]))
				out->value[k] = 0.0;
		out->steered = true;
	}
	/* else: meter failed -> explicit zero delta so every battery holds (upstream #403). */

	if (!inspection) {
		double delta = me->phase == 'D' ? out->value[0] + out->value[1] + out->value[2]
		                                : out->value[bal_phase_idx(me->phase)];
		out->instructed = (double)me->power + delta;
	}
	const struct bal_cstate *s = bal_state_find(b, me->id);
	if (s && s->has_intent) {
		out->has_intent = true;
		out->intent = s->last_intent;
	}
	return 0;
}

uint64_t bal_sample_id(const double grid[3])
{
	/* FNV-1a over the values' bit patterns (+0.0 and -0.0 folded). */
	uint64_t h = 1469598103934665603ull;
	for (int k = 0; k < 3; k++) {
		double v = grid[k] == 0.0 ? 0.0 : grid[k];
		unsigned char bytes[sizeof(double)];
		memcpy(bytes, &v, sizeof(v));
		for (size_t i = 0; i < sizeof(bytes); i++) {
			h ^= bytes[i];
			h *= 1099511628211ull;
		}
	}
	return h ? h : 1;
}

long bal_bucket_power(long instructed, bool has_intent, double intent)
{
	if (has_intent && ((intent <= 0 && instructed > 0) || (intent >= 0 && instructed < 0)))
		return 0;
	return instructed;
}

double bal_saturation(const struct balancer *b, const char *id)
{
	const struct bal_cstate *s = bal_state_find(b, id);
	return s ? s->sat_score : 0.0;
}

bool bal_last_target(const struct balancer *b, const char *id, double *out)
{
	const struct bal_cstate *s = bal_state_find(b, id);
	if (!s || !s->has_last_target)
		return false;
	*out = s->last_target;
	return true;
}

bool bal_last_intent(const struct balancer *b, const char *id, double *out)
{
	const struct bal_cstate *s = bal_state_find(b, id);
	if (!s || !s->has_intent)
		return false;
	*out = s->last_intent;
	return true;
}

bool bal_efficiency_enabled(const struct balancer *b)
{
	return b->cfg.min_efficient_power > 0;
}

void bal_set_active_control(struct balancer *b, bool on)
{
	b->active_control = on;
	b->active_control_set = true;
	b->ctl_version++;
}

bool bal_active_control(const struct balancer *b)
{
	return b->active_control;
}
