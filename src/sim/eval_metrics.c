/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The evaluation's metric set over a recorded run (see eval.h): the reference's formulas
 * from simulator/evaluation.py (_compute_metrics, _settle_time, _oracle_cost_ct, the
 * percentile and downsampling helpers), computed over our samples (one per simulator
 * meter tick). Pure. */
#include "sim/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int eval_record_add(struct eval_record *r, const struct eval_sample *s)
{
	if (r->n == r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 4096;
		struct eval_sample *ns = realloc(r->s, nc * sizeof(*ns));
		if (!ns)
			return -1;
		r->s = ns;
		r->cap = nc;
	}
	r->s[r->n++] = *s;
	return 0;
}

int eval_record_mark(struct eval_record *r, double t, const char *label)
{
	if (r->nm == r->mcap) {
		size_t nc = r->mcap ? r->mcap * 2 : 32;
		struct eval_mark *nm = realloc(r->m, nc * sizeof(*nm));
		if (!nm)
			return -1;
		r->m = nm;
		r->mcap = nc;
	}
	r->m[r->nm].t = t;
	snprintf(r->m[r->nm].label, sizeof(r->m[r->nm].label), "%s", label ? label : "");
	r->nm++;
	return 0;
}

void eval_record_free(struct eval_record *r)
{
	free(r->s);
	free(r->m);
	memset(r, 0, sizeof(*r));
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int eval_percentile(const double *values, size_t n, double pct, double *out)
{
	*out = 0.0;
	if (n == 0)
		return 0;
	double *v = malloc(n * sizeof(*v));
	if (!v)
		return -1;
	memcpy(v, values, n * sizeof(*v));
	qsort(v, n, sizeof(*v), cmp_double);
	double k = (double)(n - 1) * pct;
	size_t lo = (size_t)floor(k), hi = (size_t)ceil(k);
	*out = lo == hi ? v[lo] : v[lo] + (v[hi] - v[lo]) * (k - (double)lo);
	free(v);
	return 0;
}

bool eval_settle_time(const struct eval_sample *s, size_t n, double start, double end, double *out)
{
	bool have = false, any = false;
	double cand = 0, last_t = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i].t < start || s[i].t > end)
			continue;
		any = true;
		last_t = s[i].t;
		if (fabs(s[i].grid) < EVAL_SETTLE_BAND_W) {
			if (!have) {
				have = true;
				cand = s[i].t;
			}
			if (s[i].t - cand >= EVAL_SETTLE_HOLD_S) {
				*out = cand - start;
				return true;
			}
		} else {
			have = false;
		}
	}
	/* A quiet tail shorter than the hold still counts when the window ends (the
	 * reference's rule; with the hold checked above it only fires on equal times). */
	if (have && any && last_t - cand >= EVAL_SETTLE_HOLD_S) {
		*out = cand - start;
		return true;
	}
	return false;
}

double eval_grid_cost_ct(double import_wh, double export_wh)
{
	return (EVAL_RETAIL_CT_PER_KWH * import_wh - EVAL_FEEDIN_CT_PER_KWH * export_wh) / 1000.0;
}

double eval_oracle_cost_ct(const struct eval_bat_spec *bats, size_t nbat,
                           const struct eval_sample *s, size_t n)
{
	/* One ideal aggregate battery: summed capacity and limits, lossless, perfect
	 * foresight. Under a flat tariff with retail >= feed-in, zeroing the grid whenever
	 * feasible and otherwise storing or shedding the residual is optimal. */
	double cap = 0, max_c = 0, max_d = 0, energy = 0;
	for (size_t i = 0; i < nbat; i++) {
		cap += bats[i].capacity_wh;
		max_c += bats[i].max_charge;
		max_d += bats[i].max_discharge;
		energy += bats[i].initial_soc * bats[i].capacity_wh;
	}
	double imp = 0, exp_ = 0;
	for (size_t i = 1; i < n; i++) {
		double dt = fmin(s[i].t - s[i - 1].t, 5.0);
		if (dt <= 0)
			continue;
		double h = dt / 3600.0;
		double net = s[i - 1].consumption, dc = s[i - 1].dc_input;
		double hi = fmin(max_d, dc + energy / h);
		double lo = fmax(-max_c, dc - (cap - energy) / h);
		if (lo > hi)
			lo = hi; /* DC inflow beyond what a full pack can shed: curtail */
		double p = fmin(fmax(net, lo), hi);
		energy = fmax(0.0, fmin(cap, energy + (dc - p) * h));
		double g = net - p;
		if (g > 0)
			imp += g * h;
		else
			exp_ += -g * h;
	}
	return eval_grid_cost_ct(imp, exp_);
}

static bool ac_chargeable(const char *dev_type)
{
	/* The balancer's capability table: B2500 family (HMA/HMJ/HMK) and Jupiter
	 * (HMN/HMM/JPLS) have no AC input. */
	static const char *const dc_only[] = {"HMA", "HMJ", "HMK", "HMN", "HMM", "JPLS"};
	for (size_t i = 0; i < sizeof(dc_only) / sizeof(dc_only[0]); i++)
		if (!strncasecmp(dev_type, dc_only[i], strlen(dc_only[i])))
			return false;
	return true;
}

static double r1(double v)
{
	return round(v * 10.0) / 10.0;
}

static double r2(double v)
{
	return round(v * 100.0) / 100.0;
}

int eval_compute_metrics(const struct eval_bat_spec *bats, size_t nbat, double duration,
                         const struct eval_record *rec, struct eval_metrics *m, struct err *e)
{
	const struct eval_sample *s = rec->s;
	size_t n = rec->n;
	memset(m, 0, sizeof(*m));
	m->duration_h = duration / 3600.0;
	m->samples = n;
	double *settle = malloc((rec->nm + 1) * sizeof(double));
	double *grid = malloc((n + 1) * sizeof(double));
	double *steady = malloc((n + 1) * sizeof(double));
	if (!settle || !grid || !steady) {
		free(settle);
		free(grid);
		free(steady);
		return err_set(e, "out of memory");
	}

	/* Per-event settling and overshoot, each in a window truncated by the next event. */
	size_t nsettle = 0;
	double over_sum = 0, over_max = 0;
	for (size_t k = 0; k < rec->nm; k++) {
		double t0 = rec->m[k].t;
		double t_end = fmin(duration, t0 + EVAL_EVENT_WINDOW_S);
		if (k + 1 < rec->nm)
			t_end = fmin(t_end, rec->m[k + 1].t);
		size_t first = n;
		for (size_t i = 0; i < n; i++)
			if (s[i].t >= t0 && s[i].t <= t_end) {
				first = i;
				break;
			}
		if (first == n)
			continue;
		double e0 = s[first].grid;
		if (fabs(e0) < EVAL_SETTLE_BAND_W)
			continue; /* too small a step to measure against the band */
		m->events_measured++;
		double sign = e0 > 0 ? 1.0 : -1.0;
		double st;
		if (eval_settle_time(s, n, t0, t_end, &st)) {
			settle[nsettle++] = st;
		} else {
			m->unsettled_events++;
			settle[nsettle++] = t_end - t0;
		}
		double over = 0;
		for (size_t i = first; i < n && s[i].t <= t_end; i++)
			over = fmax(over, -sign * s[i].grid);
		over_sum += over;
		over_max = fmax(over_max, over);
	}

	/* Sample-counted metrics: at poll instants when the run flags them (see eval.h). */
	bool any_poll = false;
	for (size_t i = 0; i < n && !any_poll; i++)
		any_poll = s[i].poll;

	/* Hunting: crossings of the +-20 W hysteresis band. */
	int crossings = 0, state = 0;
	for (size_t i = 0; i < n; i++) {
		if (any_poll && !s[i].poll)
			continue;
		if (s[i].grid > EVAL_OSC_BAND_W) {
			crossings += state == -1;
			state = 1;
		} else if (s[i].grid < -EVAL_OSC_BAND_W) {
			crossings += state == 1;
			state = -1;
		}
	}

	/* Steady RMS (outside the 120 s after each event) and the p95-p5 swing. */
	size_t nsteady = 0, ngrid = 0, npost = 0;
	double steady_sq = 0, post_sq = 0;
	for (size_t i = 0; i < n; i++) {
		if (any_poll && !s[i].poll)
			continue;
		grid[ngrid++] = s[i].grid;
		bool transient = false;
		for (size_t k = 0; k < rec->nm && !transient; k++)
			transient = s[i].t >= rec->m[k].t &&
			            s[i].t < rec->m[k].t + EVAL_STEADY_EXCLUDE_S;
		if (!transient) {
			steady[nsteady++] = s[i].grid;
			steady_sq += s[i].grid * s[i].grid;
			if (s[i].t >= EVAL_START_EXCLUDE_S) {
				npost++;
				post_sq += s[i].grid * s[i].grid;
			}
		}
	}
	double p95, p5, sp95;
	if (eval_percentile(grid, ngrid, 0.95, &p95) < 0 ||
	    eval_percentile(grid, ngrid, 0.05, &p5) < 0 ||
	    eval_percentile(settle, nsettle, 0.95, &sp95) < 0) {
		free(settle);
		free(grid);
		free(steady);
		return err_set(e, "out of memory");
	}

	/* Phase groups with two or more batteries: share imbalance. */
	int group[3][EVAL_MAX_BAT];
	size_t gn[3] = {0, 0, 0};
	for (size_t i = 0; i < nbat && i < EVAL_MAX_BAT; i++) {
		int p = (bats[i].phase >= 'A' && bats[i].phase <= 'C') ? bats[i].phase - 'A' : 0;
		group[p][gn[p]++] = (int)i;
	}

	double imp = 0, exp_ = 0, aimp = 0, aexp = 0, travel = 0;
	double sq_dt = 0, abs_dt = 0, tot_dt = 0, imb_dt = 0;
	for (size_t i = 1; i < n; i++) {
		const struct eval_sample *pv = &s[i - 1], *cu = &s[i];
		double dt = fmin(cu->t - pv->t, 5.0);
		if (dt <= 0)
			continue;
		sq_dt += pv->grid * pv->grid * dt;
		abs_dt += fabs(pv->grid) * dt;
		tot_dt += dt;
		for (int p = 0; p < 3; p++) {
			if (gn[p] < 2)
				continue;
			double fair = 0;
			for (size_t k = 0; k < gn[p]; k++)
				fair += pv->power[group[p][k]];
			fair /= (double)gn[p];
			for (size_t k = 0; k < gn[p]; k++)
				imb_dt += fabs(pv->power[group[p][k]] - fair) * dt;
		}
		double wh = pv->grid * dt / 3600.0;
		if (wh > 0) {
			imp += wh;
			/* Avoidable while any battery had charge and discharge headroom. */
			for (size_t b = 0; b < nbat; b++)
				if (pv->soc[b] > EVAL_SOC_EMPTY &&
				    pv->power[b] < bats[b].max_discharge - EVAL_HEADROOM_MARGIN_W) {
					aimp += wh;
					break;
				}
		} else {
			exp_ += -wh;
			for (size_t b = 0; b < nbat; b++)
				if (ac_chargeable(bats[b].dev_type) && pv->soc[b] < EVAL_SOC_FULL &&
				    pv->power[b] > -bats[b].max_charge + EVAL_HEADROOM_MARGIN_W) {
					aexp += -wh;
					break;
				}
		}
		for (size_t b = 0; b < nbat; b++)
			travel += fabs(cu->power[b] - pv->power[b]);
	}

	double soc_min = INFINITY, soc_max = -INFINITY;
	for (size_t i = 0; i < n; i++)
		for (size_t b = 0; b < nbat; b++) {
			soc_min = fmin(soc_min, s[i].soc[b]);
			soc_max = fmax(soc_max, s[i].soc[b]);
		}
	m->soc_min = (n && nbat) ? round(soc_min * 1000.0) / 1000.0 : 0.0;
	m->soc_max = (n && nbat) ? round(soc_max * 1000.0) / 1000.0 : 0.0;

	double sum_settle = 0;
	for (size_t k = 0; k < nsettle; k++)
		sum_settle += settle[k];
	m->settle_mean_s = nsettle ? r1(sum_settle / (double)nsettle) : 0.0;
	m->settle_p95_s = r1(sp95);
	m->overshoot_mean_w = m->events_measured ? r1(over_sum / m->events_measured) : 0.0;
	m->overshoot_max_w = r1(over_max);
	m->band_crossings_per_h = m->duration_h > 0 ? r2(crossings / m->duration_h) : 0.0;
	m->grid_p2p_w = r1(p95 - p5);
	m->grid_rms_w = tot_dt > 0 ? r1(sqrt(sq_dt / tot_dt)) : 0.0;
	m->steady_rms_w = nsteady ? r1(sqrt(steady_sq / (double)nsteady)) : 0.0;
	m->steady_rms_after_start_w = npost ? r1(sqrt(post_sq / (double)npost)) : 0.0;
	m->mean_abs_grid_w = tot_dt > 0 ? r1(abs_dt / tot_dt) : 0.0;
	m->share_imbalance_w = tot_dt > 0 ? r1(imb_dt / tot_dt) : 0.0;
	m->import_wh = r1(imp);
	m->export_wh = r1(exp_);
	m->avoidable_import_wh = r1(aimp);
	m->avoidable_export_wh = r1(aexp);
	double cost = eval_grid_cost_ct(imp, exp_);
	double oracle = eval_oracle_cost_ct(bats, nbat, s, n);
	m->grid_cost_ct = r2(cost);
	m->oracle_cost_ct = r2(oracle);
	m->cost_regret_ct = r2(fmax(0.0, cost - oracle));
	m->battery_travel_w_per_h = m->duration_h > 0 ? round(travel / m->duration_h) : 0.0;
	double share_dev;
	if (eval_share_dev_p95(bats, NULL, nbat, rec, &share_dev, &m->share_samples) < 0) {
		free(settle);
		free(grid);
		free(steady);
		return err_set(e, "out of memory");
	}
	m->share_dev_p95_w = r1(share_dev);
	free(settle);
	free(grid);
	free(steady);
	return 0;
}

/* A sliding-window extreme of the house consumption: a monotonic deque of sample indices
 * whose consumption is non-increasing (max) or non-decreasing (min) from head to tail, so
 * the window's extreme is at the head. Each index enters and leaves once: O(n) per run. */
struct share_deque {
	size_t *idx;
	size_t head, tail;
};

static void deque_push(struct share_deque *d, const struct eval_sample *s, size_t i, bool max)
{
	while (d->tail > d->head) {
		double last = s[d->idx[d->tail - 1]].consumption;
		if (max ? last > s[i].consumption : last < s[i].consumption)
			break;
		d->tail--;
	}
	d->idx[d->tail++] = i;
}

static void deque_expire(struct share_deque *d, const struct eval_sample *s, double from)
{
	while (d->tail > d->head && s[d->idx[d->head]].t < from)
		d->head++;
}

int eval_share_dev_p95(const struct eval_bat_spec *bats, const double *weights, size_t nbat,
                       const struct eval_record *rec, double *out, size_t *counted)
{
	*out = 0.0;
	if (counted)
		*counted = 0;
	if (nbat > EVAL_MAX_BAT)
		nbat = EVAL_MAX_BAT;
	int group[3][EVAL_MAX_BAT];
	size_t gn[3] = {0, 0, 0};
	for (size_t i = 0; i < nbat; i++) {
		int p = (bats[i].phase >= 'A' && bats[i].phase <= 'C') ? bats[i].phase - 'A' : 0;
		group[p][gn[p]++] = (int)i;
	}
	if (gn[0] < 2 && gn[1] < 2 && gn[2] < 2)
		return 0;
	const struct eval_sample *s = rec->s;
	bool any_poll = false;
	for (size_t i = 0; i < rec->n && !any_poll; i++)
		any_poll = s[i].poll;
	double *dev = malloc((rec->n + 1) * sizeof(double));
	struct share_deque hi = {malloc((rec->n + 1) * sizeof(size_t)), 0, 0};
	struct share_deque lo = {malloc((rec->n + 1) * sizeof(size_t)), 0, 0};
	if (!dev || !hi.idx || !lo.idx) {
		free(dev);
		free(hi.idx);
		free(lo.idx);
		return -1;
	}
	size_t ndev = 0, mark = 0;
	double since = 0.0; /* the run's start, then the latest labelled step */
	for (size_t i = 0; i < rec->n; i++) {
		/* Every sample feeds the load window, flagged or not: the load must have
		 * held still throughout, not just at the polls. */
		deque_push(&hi, s, i, true);
		deque_push(&lo, s, i, false);
		deque_expire(&hi, s, s[i].t - EVAL_SHARE_STEADY_S);
		deque_expire(&lo, s, s[i].t - EVAL_SHARE_STEADY_S);
		while (mark < rec->nm && rec->m[mark].t <= s[i].t)
			since = fmax(since, rec->m[mark++].t);
		if ((any_poll && !s[i].poll) || s[i].t - since < EVAL_SHARE_STEADY_S)
			continue;
		/* Steady load: the house consumption stayed within the band around its
		 * current value for the whole window. Traces, solar curves and the washer
		 * move between labelled steps; there the pool tracks a moving target, which
		 * is settling, not sharing. */
		double c = s[i].consumption;
		if (s[hi.idx[hi.head]].consumption - c > EVAL_SHARE_STEADY_BAND_W ||
		    c - s[lo.idx[lo.head]].consumption > EVAL_SHARE_STEADY_BAND_W)
			continue;
		double worst = -1.0;
		for (int p = 0; p < 3; p++) {
			if (gn[p] < 2)
				continue;
			double tot = 0, wsum = 0;
			bool limited = false, dc_only = false;
			for (size_t k = 0; k < gn[p]; k++) {
				int b = group[p][k];
				tot += s[i].power[b];
				wsum += weights ? weights[b] : 1.0;
				/* An empty or full pack cannot take its share: not the
				 * balancer's fault, so the sample does not count. */
				if (s[i].soc[b] <= EVAL_SOC_EMPTY || s[i].soc[b] >= EVAL_SOC_FULL)
					limited = true;
				if (!ac_chargeable(bats[b].dev_type))
					dc_only = true;
			}
			/* A DC-only pack (B2500, Jupiter) cannot charge from the grid, so
			 * while the pool charges its share is unreachable by design. */
			if (dc_only && tot < 0)
				limited = true;
			if (limited || wsum <= 0)
				continue;
			for (size_t k = 0; k < gn[p]; k++) {
				int b = group[p][k];
				double w = weights ? weights[b] : 1.0;
				worst = fmax(worst, fabs(s[i].power[b] - w / wsum * tot));
			}
		}
		if (worst >= 0)
			dev[ndev++] = worst;
	}
	if (counted)
		*counted = ndev;
	int rc = eval_percentile(dev, ndev, 0.95, out);
	free(dev);
	free(hi.idx);
	free(lo.idx);
	return rc;
}

/* Skips spaces and tabs. */
static const char *skip_blank(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

bool eval_ct_efficiency_mode(const char *lines)
{
	static const char key[] = "MIN_EFFICIENT_POWER";
	bool on = false;
	for (const char *p = lines; p && *p;) {
		const char *l = skip_blank(p);
		const char *nl = strchr(p, '\n');
		if (!strncasecmp(l, key, sizeof(key) - 1)) {
			const char *v = skip_blank(l + sizeof(key) - 1);
			if (*v == '=' || *v == ':') {
				char *endp;
				double w = strtod(v + 1, &endp);
				/* The last line wins, as in the config parser. */
				on = endp != v + 1 && w > 0;
			}
		}
		p = nl ? nl + 1 : NULL;
	}
	return on;
}

static double pick(const struct eval_sample *s, int which)
{
	if (which == -1)
		return s->grid;
	if (which == -2)
		return s->consumption;
	return s->power[which];
}

void eval_downsample(const struct eval_record *rec, double duration, int which, double *out,
                     size_t n)
{
	if (n == 0)
		return;
	double *sum = calloc(n, sizeof(double));
	size_t *cnt = calloc(n, sizeof(size_t));
	if (sum && cnt && duration > 0) {
		for (size_t i = 0; i < rec->n; i++) {
			double fi = rec->s[i].t / duration * (double)n;
			size_t idx = fi < 0 ? 0 : (size_t)fi;
			if (idx >= n)
				idx = n - 1;
			sum[idx] += pick(&rec->s[i], which);
			cnt[idx]++;
		}
	}
	double last = 0;
	for (size_t i = 0; i < n; i++) {
		if (cnt && sum && cnt[i])
			last = sum[i] / (double)cnt[i];
		out[i] = r1(last);
	}
	free(sum);
	free(cnt);
}
