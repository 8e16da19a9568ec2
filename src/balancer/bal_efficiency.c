/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Efficiency mode of the balancer (MIN_EFFICIENT_POWER > 0): at low demand only as many
 * batteries stay active as can each run above MIN_EFFICIENT_POWER; the rest are parked at
 * 0 W. A priority list decides who is active; it rotates every
 * EFFICIENCY_ROTATION_INTERVAL (scaled by the head's efficiency-window weight) for fair
 * wear, swaps a saturated active battery for a healthy parked one, and hands load over
 * through a probe: the promoted battery ramps up under its own schedule while the old one
 * backs it up, and the handoff commits once the newcomer proves two samples of real output
 * or is rejected at the deadline. Fade weights blend the transition. Follows upstream
 * balancer.py (_compute_efficiency_deprioritized and friends). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balancer/bal_efficiency.h"
#include "balancer/bal_saturation.h"
#include "balancer/bal_share.h"
#include "balancer/bal_state.h"

void bal_eff_invalidate(struct balancer *b)
{
	b->has_cache = false;
	b->cache_result.n = 0;
}

bool bal_probe_participant(const struct balancer *b, const char *id)
{
	return b->probe.on &&
	       (bal_idl_has(&b->probe.active, id) || bal_idl_has(&b->probe.backup, id));
}

void bal_probe_clear(struct balancer *b)
{
	if (!b->probe.on)
		return;
	b->probe.on = false;
	bal_eff_invalidate(b);
}

static void clear_post_probe_fade(struct balancer *b)
{
	b->post_probe_fade_until = 0.0;
	b->post_probe_ids.n = 0;
}

static void set_grace(struct balancer *b, const char *id, double deadline, double t)
{
	bal_sat_set_grace(bal_state(b, id), deadline, t);
}

static void clear_grace(struct balancer *b, const char *id)
{
	struct bal_cstate *s = bal_state(b, id);
	s->grace_until = 0.0;
	s->grace_started_at = 0.0;
}

static double power_of(const struct bal_ctx *x, const struct bal_view *v, const char *id)
{
	size_t pos;
	return bal_view_has(x, v, id, &pos) ? (double)x->r[v->idx[pos]].power : 0.0;
}

static double pool_sum(const struct bal_ctx *x, const struct bal_view *v)
{
	double s = 0.0;
	for (size_t i = 0; i < v->n; i++)
		s += (double)x->r[v->idx[i]].power;
	return s;
}

static double effw_of(const struct bal_ctx *x, const struct bal_view *v, const char *id)
{
	size_t pos;
	return bal_view_has(x, v, id, &pos) ? x->effw[v->idx[pos]] : 1.0;
}

/* ---- probe handoff ---------------------------------------------------------------------- */

static void begin_probe(struct balancer *b, struct bal_ctx *x, const char *candidate,
                        const struct bal_idlist *active, const struct bal_idlist *backup,
                        const struct bal_idlist *restore)
{
	double t = x->t;
	double deadline = t + b->probe_timeout;
	struct bal_probe *p = &b->probe;
	memset(p, 0, sizeof(*p));
	p->on = true;
	snprintf(p->candidate, sizeof(p->candidate), "%s", candidate);
	p->active = *active;
	p->backup = *backup;
	p->restore = *restore;
	p->deadline = deadline;
	p->started_at = t;
	for (size_t i = 0; i < active->n; i++)
		bal_state(b, active->id[i])->fade_weight = 1.0;
	for (size_t i = 0; i < backup->n; i++)
		bal_state(b, backup->id[i])->fade_weight = 1.0;
	clear_post_probe_fade(b);
	bal_sat_clear(bal_state(b, candidate));
	set_grace(b, candidate, deadline, t);
	bal_eff_invalidate(b);
	if (x->out)
		x->out->events |= BAL_EV_PROBE_BEGIN;
}

static void commit_probe(struct balancer *b, struct bal_ctx *x, const struct bal_view *pool)
{
	struct bal_probe *p = &b->probe;
	struct bal_idlist part = {0};
	for (size_t i = 0; i < p->active.n; i++)
		if (bal_view_has(x, pool, p->active.id[i], NULL))
			bal_idl_add(&part, p->active.id[i]);
	for (size_t i = 0; i < p->backup.n; i++)
		if (bal_view_has(x, pool, p->backup.id[i], NULL))
			bal_idl_add(&part, p->backup.id[i]);
	double total = 0.0;
	for (size_t i = 0; i < part.n; i++)
		total += fabs(power_of(x, pool, part.id[i]));
	if (total > 0) {
		/* Start the post-handoff split where the batteries actually are. */
		for (size_t i = 0; i < part.n; i++)
			bal_state(b, part.id[i])->fade_weight =
			        fabs(power_of(x, pool, part.id[i])) / total;
	} else {
		double cnt = p->active.n > 0 ? (double)p->active.n : 1.0;
		for (size_t i = 0; i < p->active.n; i++)
			bal_state(b, p->active.id[i])->fade_weight = 1.0 / cnt;
		for (size_t i = 0; i < p->backup.n; i++)
			bal_state(b, p->backup.id[i])->fade_weight = 0.0;
	}
	b->post_probe_fade_until = x->t + fmin(5.0, b->probe_timeout);
	b->post_probe_ids = part;
	clear_grace(b, p->candidate);
	p->on = false;
	b->last_rotation = x->t;
	bal_eff_invalidate(b);
	if (x->out) {
		x->out->events |= BAL_EV_PROBE_COMMIT;
		x->out->reset_filters = true;
	}
}

static void reject_probe(struct balancer *b, struct bal_ctx *x)
{
	struct bal_probe *p = &b->probe;
	struct bal_cstate *cs = bal_state(b, p->candidate);
	cs->sat_score = fmax(cs->sat_score, 1.0);
	cs->fade_weight = 0.0;
	for (size_t i = 0; i < p->restore.n; i++)
		bal_state(b, p->restore.id[i])->fade_weight = 1.0;
	clear_grace(b, p->candidate);
	clear_post_probe_fade(b);
	/* Previous actives first, the failed candidate last (upstream #230: otherwise the
	 * swap logic keeps re-picking the same empty battery). */
	struct bal_idlist np = {0};
	for (size_t i = 0; i < p->restore.n; i++)
		bal_idl_add(&np, p->restore.id[i]);
	for (size_t i = 0; i < b->priority.n; i++)
		if (!bal_idl_has(&p->restore, b->priority.id[i]) &&
		    strcmp(b->priority.id[i], p->candidate) != 0)
			bal_idl_add(&np, b->priority.id[i]);
	bal_idl_add(&np, p->candidate);
	b->priority = np;
	p->on = false;
	bal_eff_invalidate(b);
	if (x->out) {
		x->out->events |= BAL_EV_PROBE_REJECT;
		x->out->reset_filters = true;
	}
}

static bool resolve_probe(struct balancer *b, struct bal_ctx *x, const struct bal_view *pool,
                          double grid_total)
{
	struct bal_probe *p = &b->probe;
	if (!p->on)
		return false;
	for (size_t i = 0; i < p->active.n; i++) {
		if (!bal_view_has(x, pool, p->active.id[i], NULL)) {
			bal_probe_clear(b);
			return true;
		}
	}
	for (size_t i = 0; i < p->backup.n; i++) {
		if (!bal_view_has(x, pool, p->backup.id[i], NULL)) {
			bal_probe_clear(b);
			return true;
		}
	}
	double actual = power_of(x, pool, p->candidate);
	double desired = pool_sum(x, pool) + grid_total;
	int ds = desired > 0 ? 1 : (desired < 0 ? -1 : 0);
	int as = actual > 0 ? 1 : (actual < 0 ? -1 : 0);
	if (ds != 0 && as == ds && fabs(actual) >= b->probe_success_threshold)
		p->proof_samples++;
	else
		p->proof_samples = 0;
	if (p->proof_samples >= 2) {
		commit_probe(b, x, pool);
		return true;
	}
	if (x->t >= p->deadline) {
		reject_probe(b, x);
		return true;
	}
	return false;
}

static double next_probe_abs(const struct balancer *b, double cur, double ceiling)
{
	ceiling = fmax(0.0, ceiling);
	double step = fmax(1.0, b->probe_success_threshold * 0.25);
	if (cur <= 0)
		return fmin(ceiling, step);
	return fmin(ceiling, fmax(cur + step, cur * 1.35));
}

static double desired_contribution(const struct balancer *b, const struct bal_ctx *x,
                                   const struct bal_view *v, const double *w, size_t self,
                                   double desired_total)
{
	double total_w = 0.0, self_w = 0.0;
	size_t pos;
	bool in = bal_view_has(x, v, x->r[self].id, &pos);
	for (size_t i = 0; i < v->n; i++)
		total_w += w[i];
	if (in)
		self_w = w[pos];
	double fair = total_w > 0 ? desired_total * self_w / total_w
	                          : desired_total / (double)(v->n > 0 ? v->n : 1);
	if (!b->cfg.fair_distribution || !in ||
	    (b->cfg.balance_deadband > 0 && fabs(desired_total) < b->cfg.balance_deadband))
		return fair;
	return bal_balance_correction(b, x, v, w, self, fair);
}

bool bal_probe_target(struct balancer *b, struct bal_ctx *x, const struct bal_view *pool,
                      size_t self, double grid_total, const double *eff, double value[3])
{
	struct bal_probe *p = &b->probe;
	if (!p->on)
		return false;
	size_t cand_pos;
	if (!bal_view_has(x, pool, p->candidate, &cand_pos))
		return false;
	/* Support = backups, then the other actives (upstream's dict order). */
	struct bal_view sup = {0};
	double sw[BAL_MAX_CONSUMERS];
	const struct bal_idlist *lists[2] = {&p->backup, &p->active};
	for (int l = 0; l < 2; l++) {
		for (size_t i = 0; i < lists[l]->n; i++) {
			const char *id = lists[l]->id[i];
			size_t pos;
			if (strcmp(id, p->candidate) == 0 || !bal_view_has(x, pool, id, &pos) ||
			    bal_view_has(x, &sup, id, NULL))
				continue;
			sw[sup.n] = fmax(0.01, eff[pos]) * x->weight[pool->idx[pos]];
			sup.idx[sup.n++] = pool->idx[pos];
		}
	}
	const char *me = x->r[self].id;
	bool is_cand = strcmp(me, p->candidate) == 0;
	if (!is_cand && !bal_view_has(x, &sup, me, NULL))
		return false;

	double desired_total = pool_sum(x, pool) + grid_total;
	struct bal_cstate *s = bal_state(b, me);
	double probe_actual = (double)x->r[pool->idx[cand_pos]].power;
	double ceiling = fmax(fabs(desired_total), b->cfg.probe_min_power);

	if (is_cand) {
		double next = next_probe_abs(b, p->requested_abs, ceiling);
		double want = 0.0;
		if (desired_total > 0)
			want = fmax(fabs(probe_actual), next);
		else if (desired_total < 0)
			want = -fmax(fabs(probe_actual), next);
		else if (p->requested_abs > 0)
			want = fmax(0.0, p->requested_abs - b->probe_success_threshold);
		if (desired_total < 0 && want > 0)
			want = -want;
		p->requested_abs = fabs(want);
		double reading = want - probe_actual;
		s->has_last_target = s->has_intent = s->has_intent_reading = true;
		s->last_target = reading;
		s->last_intent = want;
		s->last_intent_reading = reading;
		struct bal_view one = {.n = 1, .idx = {pool->idx[cand_pos]}};
		bal_split_by_phase(x, reading, &one, NULL, value);
		return true;
	}
	/* The candidate's output counts only once it has shown a qualifying sample. */
	double qualified = p->proof_samples > 0 ? probe_actual : 0.0;
	double desired = desired_contribution(b, x, &sup, sw, self, desired_total - qualified);
	double reported = (double)x->r[self].power;
	double reading = desired - reported;
	s->has_last_target = s->has_intent = s->has_intent_reading = true;
	s->last_target = reading;
	s->last_intent = desired;
	s->last_intent_reading = reading;
	bal_split_by_phase(x, reading, &sup, sw, value);
	return true;
}

/* ---- active set ----------------------------------------------------------------------- */

static bool force_swap_saturated(struct balancer *b, size_t slots, double t)
{
	double thr = b->cfg.efficiency_saturation_threshold;
	if (thr <= 0 || slots >= b->priority.n)
		return false;
	size_t sat = SIZE_MAX, healthy = SIZE_MAX;
	for (size_t i = 0; i < slots; i++) {
		const struct bal_cstate *s = bal_state_find(b, b->priority.id[i]);
		if (s && s->sat_score >= thr) {
			sat = i;
			break;
		}
	}
	if (sat == SIZE_MAX)
		return false;
	for (size_t i = slots; i < b->priority.n; i++) {
		const struct bal_cstate *s = bal_state_find(b, b->priority.id[i]);
		if (!s || s->sat_score < thr) {
			healthy = i;
			break;
		}
	}
	if (healthy == SIZE_MAX)
		return false;
	char tmp[BAL_ID_LEN];
	memcpy(tmp, b->priority.id[sat], BAL_ID_LEN);
	memcpy(b->priority.id[sat], b->priority.id[healthy], BAL_ID_LEN);
	memcpy(b->priority.id[healthy], tmp, BAL_ID_LEN);
	b->last_rotation = t;
	return true;
}

static void sort_ids(const struct bal_ctx *x, const struct bal_view *v, size_t *ord)
{
	for (size_t i = 0; i < v->n; i++)
		ord[i] = v->idx[i];
	for (size_t i = 1; i < v->n; i++) {
		size_t k = ord[i], j = i;
		while (j > 0 && strcmp(x->r[ord[j - 1]].id, x->r[k].id) > 0) {
			ord[j] = ord[j - 1];
			j--;
		}
		ord[j] = k;
	}
}

static void rotate_head(struct bal_idlist *l)
{
	if (l->n < 2)
		return;
	char head[BAL_ID_LEN];
	memcpy(head, l->id[0], BAL_ID_LEN);
	memmove(l->id[0], l->id[1], (l->n - 1) * sizeof(l->id[0]));
	memcpy(l->id[l->n - 1], head, BAL_ID_LEN);
}

static bool idl_equal(const struct bal_idlist *a, const struct bal_idlist *c)
{
	if (a->n != c->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->id[i], c->id[i]) != 0)
			return false;
	return true;
}

static void slice(const struct bal_idlist *l, size_t from, size_t to, struct bal_idlist *out)
{
	out->n = 0;
	for (size_t i = from; i < to && i < l->n; i++)
		bal_idl_add(out, l->id[i]);
}

static void fill_parked(const struct bal_ctx *x, const struct bal_view *pool,
                        const struct bal_idlist *res, bool parked[])
{
	for (size_t i = 0; i < pool->n; i++)
		parked[i] = bal_idl_has(res, x->r[pool->idx[i]].id);
}

bool bal_eff_deprioritize(struct balancer *b, struct bal_ctx *x, const struct bal_view *pool,
                          uint64_t sample, double grid_total, bool parked[])
{
	const struct bal_config *c = &b->cfg;
	for (size_t i = 0; i < pool->n; i++)
		parked[i] = false;
	if (c->min_efficient_power <= 0 || pool->n < 2) {
		b->probe.on = false;
		b->deprio.n = 0;
		bal_eff_invalidate(b);
		return false;
	}
	double t = x->t;
	/* Keep only current members; append newcomers (sorted) with a grace period. */
	struct bal_idlist np = {0};
	for (size_t i = 0; i < b->priority.n; i++)
		if (bal_view_has(x, pool, b->priority.id[i], NULL))
			bal_idl_add(&np, b->priority.id[i]);
	b->priority = np;
	struct bal_idlist nd = {0};
	for (size_t i = 0; i < b->deprio.n; i++)
		if (bal_view_has(x, pool, b->deprio.id[i], NULL))
			bal_idl_add(&nd, b->deprio.id[i]);
	b->deprio = nd;
	double grace =
	        t + fmin(fmax(0.0, c->saturation_grace_seconds), c->efficiency_rotation_interval);
	size_t ord[BAL_MAX_CONSUMERS];
	sort_ids(x, pool, ord);
	for (size_t i = 0; i < pool->n; i++) {
		const char *id = x->r[ord[i]].id;
		if (!bal_idl_has(&b->priority, id)) {
			bal_idl_add(&b->priority, id);
			set_grace(b, id, grace, t);
		}
	}
	/* Stable sort by efficiency-window weight, descending: low weights park first. */
	for (size_t i = 1; i < b->priority.n; i++) {
		char key[BAL_ID_LEN];
		memcpy(key, b->priority.id[i], BAL_ID_LEN);
		double kw = effw_of(x, pool, key);
		size_t j = i;
		while (j > 0 && effw_of(x, pool, b->priority.id[j - 1]) < kw) {
			memcpy(b->priority.id[j], b->priority.id[j - 1], BAL_ID_LEN);
			j--;
		}
		memcpy(b->priority.id[j], key, BAL_ID_LEN);
	}

	size_t n = b->priority.n;
	size_t prev_slots = n > b->deprio.n ? n - b->deprio.n : 0;
	struct bal_idlist previous_active;
	slice(&b->priority, 0, prev_slots, &previous_active);
	bool resolved = resolve_probe(b, x, pool, grid_total);
	bool probing = b->probe.on;

	if (!probing && !resolved && b->priority.n > 0) {
		double hw = effw_of(x, pool, b->priority.id[0]);
		if (t - b->last_rotation >= c->efficiency_rotation_interval * hw) {
			b->last_rotation = t;
			rotate_head(&b->priority);
			bal_eff_invalidate(b);
			if (x->out)
				x->out->events |= BAL_EV_ROTATION;
		}
	}
	if (!probing && !resolved && c->efficiency_saturation_threshold > 0 && b->has_cache) {
		size_t est = b->priority.n > b->deprio.n ? b->priority.n - b->deprio.n : 0;
		for (size_t i = 0; i < est; i++) {
			const struct bal_cstate *s = bal_state_find(b, b->priority.id[i]);
			if (s && s->sat_score >= c->efficiency_saturation_threshold) {
				bal_eff_invalidate(b);
				break;
			}
		}
	}
	if (b->has_cache && b->cache_sample == sample &&
	    idl_equal(&b->cache_priority, &b->priority)) {
		fill_parked(x, pool, &b->cache_result, parked);
		return b->cache_result.n > 0;
	}

	/* Household demand, low-passed so meter noise does not thrash the active set. */
	double total = 0.0;
	for (size_t i = 0; i < b->priority.n; i++)
		total += power_of(x, pool, b->priority.id[i]);
	double raw = fabs(total + grid_total);
	double alpha = c->efficiency_demand_alpha;
	if (!b->has_demand || alpha >= 1.0) {
		b->demand_ema = raw;
		b->has_demand = true;
	} else {
		b->demand_ema += alpha * (raw - b->demand_ema);
	}
	double demand = b->demand_ema;
	n = b->priority.n;
	double per = demand / (double)n;
	bool was_limiting = b->deprio.n > 0;
	double mep = c->min_efficient_power;
	bool limiting = was_limiting ? per < mep * BAL_EFFICIENCY_HYSTERESIS : per < mep;
	size_t slots;
	if (limiting && n > 1) {
		/* floor() in double first: a huge demand must not overflow a cast. */
		double k = fmin((double)(n - 1), floor(demand / mep));
		slots = k < 1.0 ? 1 : (size_t)k;
		if (was_limiting && prev_slots >= 1 && prev_slots < slots) {
			/* Growing takes the same 20 % margin as leaving limiting (#469). */
			double g = fmin((double)(n - 1),
			                floor(demand / (mep * BAL_EFFICIENCY_HYSTERESIS)));
			size_t grown = g < 0.0 ? 0 : (size_t)g;
			slots = grown > prev_slots ? grown : prev_slots;
		}
	} else {
		slots = n;
	}

	struct bal_idlist newd, pre_swap_active;
	slice(&b->priority, slots, n, &newd);
	slice(&b->priority, 0, slots, &pre_swap_active);
	for (size_t i = 0; i < b->deprio.n; i++) {
		if (!bal_idl_has(&newd, b->deprio.id[i])) {
			bal_sat_clear(bal_state(b, b->deprio.id[i]));
			set_grace(b, b->deprio.id[i], grace, t);
		}
	}
	if (!probing && !resolved && force_swap_saturated(b, slots, t)) {
		slice(&b->priority, slots, n, &newd);
		for (size_t i = 0; i < slots; i++) {
			if (!bal_idl_has(&pre_swap_active, b->priority.id[i])) {
				bal_sat_clear(bal_state(b, b->priority.id[i]));
				set_grace(b, b->priority.id[i], grace, t);
			}
		}
		if (x->out)
			x->out->events |= BAL_EV_FORCED_SWAP;
	}
	struct bal_idlist final_active;
	slice(&b->priority, 0, slots, &final_active);
	if (!probing && !resolved && previous_active.n > 0) {
		struct bal_idlist promoted = {0}, backups = {0};
		for (size_t i = 0; i < final_active.n; i++)
			if (!bal_idl_has(&previous_active, final_active.id[i]))
				bal_idl_add(&promoted, final_active.id[i]);
		for (size_t i = 0; i < previous_active.n; i++)
			if (!bal_idl_has(&final_active, previous_active.id[i]))
				bal_idl_add(&backups, previous_active.id[i]);
		if (promoted.n > 0 && backups.n > 0)
			begin_probe(b, x, promoted.id[0], &final_active, &backups,
			            &previous_active);
	}
	/* A newly parked battery's score belongs to its old role; clearing it lets the
	 * swap logic promote it back later. */
	for (size_t i = 0; i < newd.n; i++) {
		if (!bal_idl_has(&b->deprio, newd.id[i])) {
			struct bal_cstate *s = bal_state_find(b, newd.id[i]);
			if (s)
				bal_sat_clear(s);
		}
	}
	b->deprio = newd;
	b->has_cache = true;
	b->cache_sample = sample;
	b->cache_priority = b->priority;
	b->cache_result = newd;
	fill_parked(x, pool, &newd, parked);
	return newd.n > 0;
}

void bal_eff_fade(struct balancer *b, struct bal_ctx *x, const struct bal_view *pool,
                  const bool parked[], double faded[], bool has_faded[])
{
	double alpha = b->cfg.efficiency_fade_alpha;
	bool post = x->t < b->post_probe_fade_until;
	struct bal_idlist frozen = {0};
	if (b->probe.on) {
		for (size_t i = 0; i < b->probe.active.n; i++)
			bal_idl_add(&frozen, b->probe.active.id[i]);
		for (size_t i = 0; i < b->probe.backup.n; i++)
			bal_idl_add(&frozen, b->probe.backup.id[i]);
	}
	for (size_t i = 0; i < pool->n; i++) {
		const char *id = x->r[pool->idx[i]].id;
		struct bal_cstate *s = bal_state(b, id);
		has_faded[i] = false;
		faded[i] = 1.0;
		if (bal_idl_has(&frozen, id)) {
			s->fade_weight = 1.0;
			continue;
		}
		double goal = parked[i] ? 0.0 : 1.0;
		double a = alpha;
		if (post && bal_idl_has(&b->post_probe_ids, id))
			a = fmin(alpha, 0.25);
		double nw = s->fade_weight + a * (goal - s->fade_weight);
		if (fabs(nw - goal) < 0.05)
			nw = goal;
		s->fade_weight = nw;
		if (nw < 1.0) {
			faded[i] = nw;
			has_faded[i] = true;
		}
	}
	if (!post)
		clear_post_probe_fade(b);
	/* Forget consumers that left the pool and the priority list. */
	for (size_t i = 0; i < BAL_STATE_CAP; i++) {
		struct bal_cstate *s = &b->st[i];
		if (s->used && !bal_view_has(x, pool, s->id, NULL) &&
		    !bal_idl_has(&b->priority, s->id))
			memset(s, 0, sizeof(*s));
	}
}

void bal_eff_force_rotation(struct balancer *b, const struct bal_ctx *x,
                            const struct bal_view *pool, double t)
{
	struct bal_idlist np = {0};
	for (size_t i = 0; i < b->priority.n; i++)
		if (bal_view_has(x, pool, b->priority.id[i], NULL))
			bal_idl_add(&np, b->priority.id[i]);
	size_t ord[BAL_MAX_CONSUMERS];
	sort_ids(x, pool, ord);
	for (size_t i = 0; i < pool->n; i++)
		bal_idl_add(&np, x->r[ord[i]].id);
	b->priority = np;
	struct bal_idlist nd = {0};
	for (size_t i = 0; i < b->deprio.n; i++)
		if (bal_view_has(x, pool, b->deprio.id[i], NULL))
			bal_idl_add(&nd, b->deprio.id[i]);
	b->deprio = nd;
	if (b->priority.n < 2)
		return;
	rotate_head(&b->priority);
	b->last_rotation = t;
	b->probe.on = false;
	bal_eff_invalidate(b);
	for (size_t i = 0; i < BAL_STATE_CAP; i++) {
		struct bal_cstate *s = &b->st[i];
		if (!s->used)
			continue;
		if (bal_view_has(x, pool, s->id, NULL))
			s->fade_weight = 1.0;
		else
			memset(s, 0, sizeof(*s));
	}
}

void bal_detach_from_auto_pool(struct balancer *b, const char *id)
{
	bal_idl_del(&b->deprio, id);
	bal_idl_del(&b->priority, id);
	bal_state_drop(b, id);
	bal_eff_invalidate(b);
	if (bal_probe_participant(b, id))
		bal_probe_clear(b);
}
