/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Scenario tests ported from the reference's tests/test_balancer*.py and
 * tests/test_ct002_active_control.py (same inputs, same expected outputs), the worked
 * examples of REFERENCE §1.10, and our deliberate deviation (inspection batteries do not
 * take a fair-share slot). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_balancer_harness.h"

#define assert_near(a, b, eps)                                        \
	do {                                                          \
		double a_ = (a), b_ = (b);                            \
		if (!(fabs(a_ - b_) <= (eps)))                        \
			fail_msg("%s = %.9g, want %.9g", #a, a_, b_); \
	} while (0)

/* These mirror upstream's tests/test_balancer*.py, so they run upstream's defaults
 * (GRID_PREDICTOR = upstream, PACE_MAX_STEP 100); the dead-time predictor has its own
 * tests in test_balancer_deadtime.c. */
static struct bal_config defcfg(void)
{
	struct bal_config c;
	bal_config_upstream(&c);
	return c;
}

/* CT-level tests upstream run with pacing off (tests/test_ct002_active_control.py). */
static struct bal_config ctcfg(void)
{
	struct bal_config c = defcfg();
	c.pace_base_step = 0;
	return c;
}

static const double *ct(struct h *h, const char *id, double grid)
{
	double g[3] = {grid, 0, 0};
	return h_step3(h, id, g, bal_sample_id(g));
}

/* ---- REFERENCE §1.10 worked examples ----------------------------------------------------- */

static void test_worked_active_pacing(void **st)
{
	(void)st;
	struct bal_config c = defcfg();
	struct h h;
	h_init(&h, &c);
	h_put(&h, "aabbccddeeff", 'A', 100, "HMG-50");
	const double *v = ct(&h, "aabbccddeeff", 300);
	assert_near(v[0], 30, 1e-9); /* PACE_BASE_STEP */
	assert_near(v[1], 0, 0);
	assert_near(h.out.instructed, 130, 1e-9);
	h.now += 1000;
	h_power(&h, "aabbccddeeff", 130);
	v = ct(&h, "aabbccddeeff", 250);
	assert_near(round(v[0]), 60, 0); /* cap doubled: the battery followed */
	assert_near(round(h.out.instructed), 190, 0);
	h_free(&h);
}

static void test_worked_pacing_off_two_phases(void **st)
{
	(void)st;
	struct bal_config c = ctcfg();
	struct h h;
	h_init(&h, &c);
	h_put(&h, "a", 'A', 0, "HMG-50");
	h_put(&h, "b", 'B', 0, "HMG-50");
	const double *v = ct(&h, "b", 400);
	assert_near(v[0], 100, 1e-9);
	assert_near(v[1], 100, 1e-9);
	assert_near(v[2], 0, 0);
	assert_near(v[0] + v[1] + v[2], 200, 1e-9);
	h_free(&h);
}

static void test_inspection_raw_and_not_in_pool(void **st)
{
	(void)st;
	struct bal_config c = ctcfg();
	struct h h;
	h_init(&h, &c);
	h_put(&h, "steer", 'A', 0, "HMG-50");
	h_put(&h, "insp", '0', 0, "HMG-50");
	double g[3] = {400, 10, 0};
	const double *v = h_step3(&h, "insp", g, 1);
	/* Inspection: raw meter, not steered, nothing recorded. */
	assert_near(v[0], 400, 0);
	assert_near(v[1], 10, 0);
	assert_false(h.out.steered);
	assert_false(h.out.record_instructed);
	/* Deviation from upstream (REFERENCE §10 item 10): the steered battery gets the whole
	 * 410 W, not a share diluted by the inspecting one (upstream sent ~184 W of 400). */
	v = h_step3(&h, "steer", g, 1);
	assert_near(v[0] + v[1] + v[2], 410, 1e-9);
	h_free(&h);
}

static void test_meter_failure_holds(void **st)
{
	(void)st;
	struct bal_config c = defcfg();
	struct h h;
	h_init(&h, &c);
	h_put(&h, "a", 'A', 250, "HMG-50");
	struct bal_input in = {.reports = h.r,
	                       .n = 1,
	                       .self = 0,
	                       .grid = {500, 0, 0},
	                       .sample_id = 5,
	                       .meter_ok = false,
	                       .now = h.now};
	assert_int_equal(bal_step(h.b, &in, &h.out), 0);
	assert_near(h.out.value[0], 0, 0);
	assert_false(h.out.steered);
	assert_true(h.out.record_instructed);
	assert_near(h.out.instructed, 250, 0);
	/* The controller did not run: no state was created. */
	double t;
	assert_false(bal_last_target(h.b, "a", &t));
	h_free(&h);
}

static void test_phase_d_instructed_is_sum(void **st)
{
	(void)st;
	struct bal_config c = ctcfg();
	c.fair_distribution = false;
	struct h h;
	h_init(&h, &c);
	h_put(&h, "a", 'B', 0, "HMG-50");
	h_put(&h, "d", 'D', 100, "VNSD-0");
	const double *v = ct(&h, "d", 400);
	/* D counts as A in the split; its net is reported + the whole target. */
	assert_near(h.out.instructed, 100 + v[0] + v[1] + v[2], 1e-9);
	assert_near(v[0] + v[1] + v[2], 200, 1e-9);
	h_free(&h);
}

static void test_relay_mode_passes_raw(void **st)
{
	(void)st;
	struct bal_config c = defcfg();
	c.active_control = false;
	struct h h;
	h_init(&h, &c);
	h_put(&h, "a", 'A', 0, NULL);
	double g[3] = {100, 50, 25};
	const double *v = h_step3(&h, "a", g, 1);
	assert_near(v[0], 100, 0);
	assert_near(v[1], 50, 0);
	assert_near(v[2], 25, 0);
	bal_set_active_control(h.b, true);
	v = h_step3(&h, "a", g, 2);
	assert_true(h.out.steered);
	h_free(&h);
}

static void test_bucket_power_sign_filter(void **st)
{
	(void)st;
	assert_int_equal(bal_bucket_power(150, false, 0), 150);
	assert_int_equal(bal_bucket_power(150, true, -100), 0); /* PV pass-through, told charge */
	assert_int_equal(bal_bucket_power(-80, true, 50), 0);
	assert_int_equal(bal_bucket_power(-80, true, -50), -80);
	assert_int_equal(bal_bucket_power(5, true, 0), 0);
	assert_int_equal(bal_bucket_power(0, true, 0), 0);
}

/* ---- TestActiveControl / TestFairDistribution ------------------------------------------ */

static void test_split_across_consumers(void **st)
{
	(void)st;
	struct bal_config c = ctcfg();
	c.fair_distribution = false;
	struct h h;
	h_init(&h, &c);
	h_put(&h, "a", 'A', 100, NULL);
	h_put(&h, "b", 'A', 100, NULL);
	const double *v = ct(&h, "a", 400);
	assert_near(v[0], 200, 1e-9);
	assert_near(v[1], 0, 0);
	h_free(&h);
}

static double fair_run(struct bal_config c, int pa, int pb, double grid, const char *who)
{
	struct h h;
	h_init(&h, &c);
	h_put(&h, "a", 'A', pa, NULL);
	h_put(&h, "b", 'A', pb, NULL);
	double r = ct(&h, who, grid)[0];
	h_free(&h);
	return r;
}

static void test_fair_distribution(void **st)
{
	(void)st;
	struct bal_config c = ctcfg();
	c.balance_gain = 0.3;
	c.balance_deadband = 0;
	c.max_correction_per_step = 0;
	assert_true(fair_run(c, 44, 356, 400, "a") > 200);
	assert_true(fair_run(c, 44, 356, 400, "b") < 200);
	c.error_boost_threshold = 0;
	assert_near(fair_run(c, 0, 400, 400, "a"), 260, 1e-9);
	assert_near(fair_run(c, 0, 400, 400, "b"), 140, 1e-9);
	c = ctcfg();
	c.balance_gain = 0.3;
	c.error_boost_threshold = 100;
	c.error_boost_max = 1.0;
	c.balance_deadband = 0;
	c.max_correction_per_step = 0;
	assert_true(fair_run(c, 0, 400, 400, "a") > 250);
	assert_true(fair_run(c, 0, 400, 400, "b") < 150);
	c = ctcfg();
	c.balance_gain = 0.3;
	c.error_reduce_threshold = 0;
	c.error_boost_threshold = 0;
	c.balance_deadband = 0;
	c.max_correction_per_step = 0;
	assert_near(fair_run(c, 90, 110, 200, "a"), 103, 1e-9);
	c = ctcfg();
	c.balance_gain = 0.3;
	c.balance_deadband = 25;
	c.max_correction_per_step = 0;
	assert_near(fair_run(c, 95, 105, 200, "a"), 100, 1e-9);
	c = ctcfg();
	c.balance_gain = 0.5;
	c.balance_deadband = 0;
	c.max_correction_per_step = 50;
	double a = fair_run(c, 0, 400, 400, "a");
	assert_true(a > 200 && a <= 250);
	c = ctcfg();
	c.balance_gain = 0.5;
	c.balance_deadband = 0;
	c.max_correction_per_step = 0;
	c.max_target_step = 100;
	assert_near(fair_run(c, 0, 400, 400, "a"), 100, 1e-9);
	c = ctcfg();
	c.fair_distribution = false;
	assert_near(fair_run(c, 44, 356, 400, "a"), 200, 1e-9);
	c = ctcfg();
	c.balance_gain = 0;
	c.balance_deadband = 0;
	c.max_correction_per_step = 0;
	assert_near(fair_run(c, 44, 356, 400, "b"), 200, 1e-9);
}

/* ---- test_balancer_distribution_weight.py ---------------------------------------------- */

static void test_distribution_weight(void **st)
{
	(void)st;
	struct bal_config c = defcfg();
	c.fair_distribution = false;
	c.balance_deadband = 15;
	c.pace_base_step = 0;
	struct h h;
	h_init(&h, &c);
	h_put(&h, "a", 'A', 0, "HMA-2");
	h_put(&h, "b", 'A', 0, "HMA-2");
	assert_int_equal(bal_set_weight(h.b, "a", 1.5, NULL), 0);
	assert_near(h_step(&h, "a", 500, 0)[0], 300, 1e-9);
	assert_near(h_step(&h, "b", 500, 0)[0], 200, 1e-9);
	h_free(&h);

	h_init(&h, &c);
	h_put(&h, "a", 'A', 0, "HMA-2");
	h_put(&h, "b", 'A', 0, "HMA-2");
	assert_int_equal(bal_set_weight(h.b, "a", 0.0, NULL), 0);
	assert_near(h_step(&h, "a", 400, 0)[0], 0, 1e-9);
	assert_near(h_step(&h, "b", 400, 0)[0], 400, 1e-9);
	h_free(&h);

	c.fair_distribution = true;
	h_init(&h, &c);
	h_put(&h, "a", 'A', 250, "HMA-2");
	h_put(&h, "b", 'A', 250, "HMA-2");
	assert_int_equal(bal_set_weight(h.b, "a", 1.5, NULL), 0);
	assert_true(h_step(&h, "a", 500, 0)[0] > 250);
	assert_true(h_step(&h, "b", 500, 0)[0] < 250);
	h_free(&h);
}

/* ---- TestPaceReading ----------------------------------------------------------------------- */

static double pace_auto(struct h *h, int reported, double grid, double dt)
{
	h->now += (ev_ms)llround(dt * 1000);
	h_power(h, "a", reported);
	return h_step(h, "a", grid, 0)[0];
}

static struct h pace_h(double base, double max)
{
	struct bal_config c = defcfg();
	c.fair_distribution = false;
	c.grid_predict_trust = 0;
	c.saturation_detection = false;
	c.pace_base_step = base;
	c.pace_max_step = max;
	struct h h;
	h_init(&h, &c);
	h_put(&h, "a", 'A', 0, "HMG-50");
	return h;
}

static void test_pace_grows_and_resets(void **st)
{
	(void)st;
	struct h h = pace_h(50, 200);
	assert_near(pace_auto(&h, 0, 600, 1), 50, 1e-9);
	assert_near(pace_auto(&h, 0, 600, 1), 50, 1e-9);
	assert_near(pace_auto(&h, 50, 550, 1), 100, 1e-9);
	assert_near(pace_auto(&h, 150, 450, 1), 200, 1e-9);
	assert_near(pace_auto(&h, 350, 250, 1), 200, 1e-9);
	assert_near(pace_auto(&h, 520, 80, 1), 80, 1e-9);
	assert_near(pace_auto(&h, 600, -300, 1), -50, 1e-9);
	h_free(&h);

	h = pace_h(50, 200); /* slow firmware crawl still bootstraps the cap (#469) */
	assert_near(pace_auto(&h, 0, 2000, 1), 50, 1e-9);
	assert_near(pace_auto(&h, 10, 1990, 1), 100, 1e-9);
	assert_near(pace_auto(&h, 20, 1980, 1), 200, 1e-9);
	h_free(&h);
}

static void test_pace_fast_poller(void **st)
{
	(void)st;
	struct h h = pace_h(50, 200);
	assert_near(pace_auto(&h, 0, 600, 0.5), 50, 1e-9);
	assert_near(pace_auto(&h, 25, 575, 0.5), 50, 1e-9);
	assert_near(pace_auto(&h, 50, 550, 0.5), 50, 1e-9);
	assert_near(pace_auto(&h, 75, 525, 0.5), 70.71, 0.01);
	assert_near(pace_auto(&h, 110, 490, 0.5), 100, 0.01);
	assert_near(pace_auto(&h, 160, 440, 0.5), 100, 0.01);
	h_free(&h);

	h = pace_h(50, 200); /* cap clamped to max after very fast polls */
	pace_auto(&h, 0, 50, 0.05);
	pace_auto(&h, 0, 50, 0.05);
	assert_near(pace_auto(&h, 0, 5000, 1.0), 200, 0.01);
	h_free(&h);
}

static void test_pace_off_small_and_unpaced_paths(void **st)
{
	(void)st;
	struct h h = pace_h(0, 0);
	assert_near(pace_auto(&h, 0, 600, 1), 600, 1e-9);
	h_free(&h);
	h = pace_h(50, 200);
	assert_near(pace_auto(&h, 0, 30, 1), 30, 1e-9);
	h_free(&h);
	h = pace_h(50, 200);
	h_power(&h, "a", 600);
	assert_int_equal(bal_set_manual_target(h.b, "a", 0.0, NULL), 0);
	assert_int_equal(bal_set_auto_target(h.b, "a", false, h.now, NULL), 0);
	assert_near(h_step(&h, "a", 0, 0)[0], -600, 1e-9);
	assert_int_equal(bal_set_auto_target(h.b, "a", true, h.now, NULL), 0);
	assert_int_equal(bal_set_active(h.b, "a", false, h.now, NULL), 0);
	assert_near(h_step(&h, "a", 0, 0)[0], -600, 1e-9);
	/* participate = 0 behaves like a pause. */
	assert_int_equal(bal_set_active(h.b, "a", true, h.now, NULL), 0);
	h.r[0].participates = false;
	assert_near(h_step(&h, "a", 0, 0)[0], -600, 1e-9);
	h_free(&h);
	struct bal_config c = defcfg();
	c.pace_base_step = 80;
	c.pace_max_step = 10;
	bal_config_clamp(&c);
	assert_near(c.pace_max_step, 80, 0);
}

static void test_pace_deprioritized_wind_down(void **st)
{
	(void)st;
	struct bal_config c = defcfg();
	c.fair_distribution = false;
	c.grid_predict_trust = 0;
	c.saturation_detection = false;
	c.pace_base_step = 50;
	c.pace_max_step = 200;
	c.min_efficient_power = 400;
	struct h h;
	h_init(&h, &c);
	h_put(&h, "a", 'A', 300, "HMG-50");
	h_put(&h, "b", 'A', 300, "HMG-50");
	double mn = 0;
	for (int i = 0; i < 40; i++) {
		h.now += 1000;
		double d = h_step(&h, "b", 0.0, (uint64_t)h.now)[0];
		assert_true(d >= -200.0);
		mn = fmin(mn, d);
	}
	assert_true(mn < 0);
	assert_int_equal(h.b->deprio.n, 1);
	assert_string_equal(h.b->deprio.id[0], "b");
	h_free(&h);
}

/* ---- TestGridPredictor ------------------------------------------------------------------ */

static struct h pred_h(double trust)
{
	struct bal_config c = defcfg();
	c.fair_distribution = false;
	c.pace_base_step = 0;
	c.osc_damp_max = 0;
	c.saturation_detection = false;
	c.grid_predict_trust = trust;
	struct h h;
	h_init(&h, &c);
	h_put(&h, "a", 'A', 0, "HMG-50");
	return h;
}

static double pred(struct h *h, int reported, double grid)
{
	h_power(h, "a", reported);
	/* sample id = the grid value, so a changed grid is a fresh sample */
	return h_step(h, "a", grid, (uint64_t)(int64_t)grid + 100000)[0];
}

static void test_grid_predictor(void **st)
{
	(void)st;
	struct h h = pred_h(0);
	assert_near(pred(&h, 0, 300), 300, 1e-9);
	assert_near(pred(&h, 100, 300), 300, 1e-9);
	h_free(&h);
	h = pred_h(0.5);
	assert_near(pred(&h, 0, 300), 300, 1e-9);
	assert_near(pred(&h, 120, 300), 180, 1e-9);
	assert_near(pred(&h, 300, 300), 0, 1e-9);
	h_free(&h);
	h = pred_h(0.5);
	assert_near(pred(&h, 0, 0), 0, 0);
	assert_near(pred(&h, 0, 200), 140, 1e-9);
	h_free(&h);
	h = pred_h(0.5);
	pred(&h, 0, 0);
	pred(&h, 0, 200);
	pred(&h, 0, 400);
	pred(&h, 0, 600);
	assert_near(h.b->pred_trust, BAL_PRED_TRUST_MAX, 1e-9);
	pred(&h, 0, -200);
	assert_true(h.b->pred_trust < BAL_PRED_TRUST_MAX * BAL_PRED_TRUST_SHRINK + 1e-6);
	h_free(&h);
}

/* ---- TestConcentrateDeadband -------------------------------------------------------------- */

static struct h conc_h(double db)
{
	struct bal_config c = defcfg();
	c.grid_predict_trust = 0;
	c.saturation_detection = false;
	c.concentrate_deadband = db;
	struct h h;
	h_init(&h, &c);
	return h;
}

static void test_concentrate(void **st)
{
	(void)st;
	struct h h = conc_h(0);
	h_put(&h, "a", 'A', 200, NULL);
	h_put(&h, "b", 'A', 100, NULL);
	assert_true(h_step(&h, "a", 30, 0)[0] > 0 && h_step(&h, "b", 30, 0)[0] > 0);
	h_free(&h);

	h = conc_h(60);
	h_put(&h, "a", 'A', 200, NULL);
	h_put(&h, "b", 'B', 100, NULL);
	const double *v = h_step(&h, "a", 30, 0);
	assert_true(v[0] + v[1] + v[2] != 0);
	v = h_step(&h, "b", 30, 0);
	assert_true(v[0] + v[1] + v[2] != 0);
	h_free(&h);

	h = conc_h(60);
	h_put(&h, "a", 'A', 160, NULL);
	h_put(&h, "b", 'A', 140, NULL);
	assert_near(h_step(&h, "a", 30, 0)[0], 30, 1.0);
	assert_near(h_step(&h, "b", 30, 0)[0], 0, 1e-6);
	h_free(&h);

	h = conc_h(60); /* #523: imbalanced pool is not concentrated, equalises both sides */
	h_put(&h, "a", 'A', -890, "VNSE3");
	h_put(&h, "b", 'A', -88, "VNSE3");
	double a = h_step(&h, "a", -30, 0)[0];
	double b = h_step(&h, "b", -30, 0)[0];
	assert_true(b < -1.0);
	assert_true(a > 0);
	h_free(&h);

	h = conc_h(60);
	h_put(&h, "a", 'A', 200, NULL);
	assert_near(h_step(&h, "a", 30, 0)[0], 30, 1.0);
	h_free(&h);

	h = conc_h(60); /* a zero-weight battery is never designated */
	h_put(&h, "a", 'A', 200, NULL);
	h_put(&h, "b", 'A', 80, NULL);
	h_put(&h, "c", 'A', 70, NULL);
	bal_set_weight(h.b, "a", 0.0, NULL);
	a = h_step(&h, "a", 30, 0)[0];
	assert_near(h_step(&h, "b", 30, 0)[0], 30, 1.0);
	assert_near(h_step(&h, "c", 30, 0)[0], 0, 1e-6);
	assert_true(a < 0);
	h_free(&h);
}

/* ---- TestImportTrim --------------------------------------------------------------------- */

static struct h trim_h(double trim)
{
	struct bal_config c = defcfg();
	c.grid_predict_trust = 0;
	c.pace_base_step = 0;
	c.osc_damp_max = 0;
	c.concentrate_deadband = 0;
	c.saturation_detection = false;
	c.import_trim_w = trim;
	struct h h;
	h_init(&h, &c);
	h_put(&h, "a", 'A', 200, NULL);
	return h;
}

static void test_import_trim(void **st)
{
	(void)st;
	uint64_t tick = 1;
	struct h h = trim_h(0);
	double r = 0;
	for (int i = 0; i < BAL_IMPORT_TRIM_DWELL + 4; i++)
		r = h_step(&h, "a", 60, tick++)[0];
	assert_near(r, 60, 1e-6);
	h_free(&h);

	h = trim_h(15);
	double rs[BAL_IMPORT_TRIM_DWELL + 2];
	for (int i = 0; i < BAL_IMPORT_TRIM_DWELL + 2; i++)
		rs[i] = h_step(&h, "a", 60, tick++)[0];
	assert_near(rs[BAL_IMPORT_TRIM_DWELL - 2], 60, 1e-6);
	assert_near(rs[BAL_IMPORT_TRIM_DWELL + 1], 75, 1e-6);
	h_step(&h, "a", -200, tick++); /* export resets the dwell */
	assert_near(h_step(&h, "a", 60, tick++)[0], 60, 1e-6);
	h_free(&h);

	h = trim_h(15);
	for (int i = 0; i < BAL_IMPORT_TRIM_DWELL + 4; i++)
		r = h_step(&h, "a", BAL_IMPORT_TRIM_GATE_W + 80, tick++)[0];
	assert_near(r, BAL_IMPORT_TRIM_GATE_W + 80, 1e-6);
	h_free(&h);

	h = trim_h(15); /* frozen meter never trims */
	for (int i = 0; i < BAL_IMPORT_TRIM_DWELL + 6; i++)
		r = h_step(&h, "a", 60, 424242)[0];
	assert_near(r, 60, 1e-6);
	h_free(&h);
}

/* ---- TestEfficiencyDemandSmoothing / slot hysteresis / window weight ------------------- */

static struct h eff_h(double alpha)
{
	struct bal_config c = defcfg();
	c.min_efficient_power = 150;
	c.efficiency_demand_alpha = alpha;
	c.grid_predict_trust = 0;
	c.saturation_detection = false;
	struct h h;
	h_init(&h, &c);
	h_put(&h, "a", 'A', 200, "HMG-50");
	h_put(&h, "b", 'A', 200, "HMG-50");
	return h;
}

static void test_demand_smoothing(void **st)
{
	(void)st;
	struct h h = eff_h(0.1);
	for (uint64_t t = 1; t <= 8; t++)
		h_step(&h, "a", 0, t);
	assert_int_equal(h.b->deprio.n, 0);
	h_step(&h, "a", -150, 9);
	assert_int_equal(h.b->deprio.n, 0);
	h_free(&h);
	h = eff_h(1.0);
	for (uint64_t t = 1; t <= 8; t++)
		h_step(&h, "a", 0, t);
	h_step(&h, "a", -150, 9);
	assert_int_equal(h.b->deprio.n, 1);
	assert_string_equal(h.b->deprio.id[0], "b");
	h_free(&h);
}

static void test_slot_hysteresis(void **st)
{
	(void)st;
	struct bal_config c = defcfg();
	c.min_efficient_power = 150;
	c.efficiency_rotation_interval = 1000000;
	c.efficiency_saturation_threshold = 0;
	c.efficiency_demand_alpha = 1.0;
	c.saturation_detection = false;
	struct h h;
	h_init(&h, &c);
	const char *m[3] = {"aabb00000001", "aabb00000002", "aabb00000003"};
	h_put(&h, m[0], 'A', 295, NULL);
	h_put(&h, m[1], 'A', 0, NULL);
	h_put(&h, m[2], 'A', 0, NULL);
	uint64_t tick = 1;
#define RUN(demand)                                             \
	do {                                                    \
		for (int k = 0; k < 3; k++)                     \
			h_step(&h, m[k], (demand)-295.0, tick); \
		tick++;                                         \
		h.now += 1000;                                  \
	} while (0)
	RUN(295.0);
	assert_int_equal(h.b->deprio.n, 2);
	for (int i = 0; i < 50; i++) {
		RUN(308.0);
		assert_int_equal(h.b->deprio.n, 2);
		RUN(292.0);
		assert_int_equal(h.b->deprio.n, 2);
	}
	RUN(365.0);
	assert_int_equal(h.b->deprio.n, 1);
	for (int i = 0; i < 5; i++)
		RUN(310.0);
	assert_int_equal(h.b->deprio.n, 1);
	RUN(290.0);
	assert_int_equal(h.b->deprio.n, 2);
	RUN(550.0);
	assert_int_equal(h.b->deprio.n, 0);
#undef RUN
	h_free(&h);
}

static struct h effw_h(double interval, double wa, double wb)
{
	struct bal_config c = defcfg();
	c.min_efficient_power = 150;
	c.efficiency_rotation_interval = interval;
	c.efficiency_demand_alpha = 1.0;
	c.saturation_detection = false;
	struct h h;
	h_init(&h, &c);
	h_put(&h, "a", 'A', 0, "HMG-50");
	h_put(&h, "b", 'A', 0, "HMG-50");
	bal_set_eff_window_weight(h.b, "a", wa, NULL);
	bal_set_eff_window_weight(h.b, "b", wb, NULL);
	return h;
}

static void test_efficiency_window_weight(void **st)
{
	(void)st;
	struct h h = effw_h(900, 1.0, 0.0);
	for (uint64_t i = 0; i < 3; i++) {
		h.now += 1000;
		h_step(&h, "a", 200, i + 1);
	}
	assert_int_equal(h.b->deprio.n, 1);
	assert_string_equal(h.b->deprio.id[0], "b");
	assert_string_equal(h.b->priority.id[0], "a");
	h_free(&h);

	h = effw_h(900, 1.0, 0.0);
	for (uint64_t i = 0; i < 3; i++) {
		h.now += 1000;
		h_step(&h, "a", 600, i + 1);
	}
	assert_int_equal(h.b->deprio.n, 0);
	h_free(&h);

	h = effw_h(900, 0.2, 1.0);
	h.now += 1000;
	h_step(&h, "a", 200, 1);
	assert_string_equal(h.b->priority.id[0], "b");
	assert_string_equal(h.b->deprio.id[0], "a");
	h_free(&h);

	h = effw_h(900, 0.5, 0.5); /* half weight: rotates after half the interval */
	h.now += 1000;
	h_step(&h, "a", 200, 1);
	double rot0 = h.b->last_rotation;
	h.now += 440000;
	h_step(&h, "a", 200, 2);
	assert_near(h.b->last_rotation, rot0, 0);
	h.now += 20000;
	h_step(&h, "a", 200, 3);
	assert_true(h.b->last_rotation > rot0);
	h_free(&h);
}

static void test_efficiency_basics(void **st)
{
	(void)st;
	struct bal_config c = ctcfg();
	c.fair_distribution = false;
	c.min_efficient_power = 150;
	c.efficiency_fade_alpha = 1.0;
	struct h h;
	h_init(&h, &c);
	h_put(&h, "a", 'A', 0, NULL);
	h_put(&h, "b", 'A', 0, NULL);
	double a = ct(&h, "a", 200)[0], b = ct(&h, "b", 200)[0];
	assert_true((a > 150 && b < 10) || (b > 150 && a < 10));
	h_free(&h);

	c.efficiency_fade_alpha = 0.15;
	h_init(&h, &c);
	h_put(&h, "a", 'A', 0, NULL);
	h_put(&h, "b", 'A', 0, NULL);
	assert_near(ct(&h, "a", 600)[0], 300, 1e-9);
	assert_near(ct(&h, "b", 600)[0], 300, 1e-9);
	h_free(&h);

	c.efficiency_fade_alpha = 1.0;
	c.efficiency_rotation_interval = 10;
	h_init(&h, &c);
	h_put(&h, "a", 'A', 0, NULL);
	h_put(&h, "b", 'A', 0, NULL);
	ct(&h, "a", 200);
	ct(&h, "b", 200);
	assert_int_equal(h.b->deprio.n, 1);
	char first[BAL_ID_LEN];
	snprintf(first, sizeof(first), "%s", h.b->deprio.id[0]);
	h.b->last_rotation -= 11; /* same sample: rotation must fire before the cache */
	ct(&h, "a", 200);
	ct(&h, "b", 200);
	assert_int_equal(h.b->deprio.n, 1);
	assert_string_not_equal(first, h.b->deprio.id[0]);
	h_free(&h);

	h_init(&h, &c); /* charging concentrates too */
	h_put(&h, "a", 'A', 0, "HMG-50");
	h_put(&h, "b", 'A', 0, "HMG-50");
	a = ct(&h, "a", -200)[0];
	b = ct(&h, "b", -200)[0];
	assert_true(fabs(a) + fabs(b) > 150);
	assert_true(fmin(fabs(a), fabs(b)) < 10);
	h_free(&h);
}

/* ---- saturation tracker (TestSaturationTracker) ------------------------------------------ */

static struct bal_config satcfg(double alpha, double min_target, double decay, double stall)
{
	struct bal_config c = defcfg();
	c.saturation_alpha = alpha;
	c.min_target_for_saturation = min_target;
	c.saturation_decay_factor = decay;
	c.saturation_stall_timeout_seconds = stall;
	return c;
}

static void test_saturation_tracker(void **st)
{
	(void)st;
	struct bal_cstate s;
	double t = 1000.0;
	struct bal_config c = satcfg(1.0, 20, 0.995, 60);
	memset(&s, 0, sizeof(s));
	bal_sat_update(&c, &s, true, 200, 5, t);
	assert_near(s.sat_score, 1.0, 0);
	memset(&s, 0, sizeof(s));
	bal_sat_update(&c, &s, true, 200, 20, t);
	assert_near(s.sat_score, 0.0, 0);
	memset(&s, 0, sizeof(s));
	bal_sat_update(&c, &s, false, 200, 0, t);
	assert_near(s.sat_score, 0.0, 0);
	c.saturation_detection = false;
	bal_sat_update(&c, &s, true, 200, 0, t);
	assert_near(s.sat_score, 0.0, 0);

	c = satcfg(0.5, 20, 0.995, 60);
	memset(&s, 0, sizeof(s));
	bal_sat_update(&c, &s, true, 200, 0, t);
	assert_near(s.sat_score, 0.5, 1e-12);
	bal_sat_update(&c, &s, true, 200, 0, t + 1);
	assert_near(s.sat_score, 0.75, 1e-12);

	c = satcfg(0.15, 20, 0.9, 60);
	memset(&s, 0, sizeof(s));
	s.sat_score = 0.5;
	bal_sat_update(&c, &s, true, 10, 10, t);
	assert_near(s.sat_score, 0.45, 1e-6);
	c = satcfg(0.15, 20, 0.5, 60);
	memset(&s, 0, sizeof(s));
	s.sat_score = 0.001;
	bal_sat_update(&c, &s, true, 10, 10, t);
	assert_near(s.sat_score, 0.0, 0);

	c = satcfg(1.0, 20, 0.995, 60); /* grace */
	memset(&s, 0, sizeof(s));
	s.grace_until = t + 100;
	bal_sat_update(&c, &s, true, 200, 0, t);
	assert_near(s.sat_score, 0.0, 0);
	memset(&s, 0, sizeof(s));
	s.grace_until = t + 100;
	s.grace_started_at = t;
	bal_sat_update(&c, &s, true, 200, 50, t);
	assert_near(s.grace_until, 0, 0);
	assert_near(s.sat_score, 0.0, 0);
	memset(&s, 0, sizeof(s));
	s.grace_until = t - 1;
	s.grace_started_at = t - 5;
	bal_sat_update(&c, &s, true, 200, 0, t);
	assert_near(s.grace_until, 0, 0);
	assert_near(s.sat_score, 1.0, 0);
	c = satcfg(0.15, 20, 0.995, 4.0); /* stall */
	memset(&s, 0, sizeof(s));
	s.grace_until = t + 100;
	s.grace_started_at = t - 5;
	bal_sat_update(&c, &s, true, 200, 0, t);
	assert_near(s.sat_score, 1.0, 0);
	assert_near(s.grace_until, 0, 0);

	c = satcfg(0.15, 20, 0.995, 60); /* sign reversal decays */
	memset(&s, 0, sizeof(s));
	for (int i = 0; i < 5; i++)
		bal_sat_update(&c, &s, true, 100, 95, t + i);
	for (int i = 0; i < 20; i++)
		bal_sat_update(&c, &s, true, -100, 80, t + 5 + i);
	assert_true(s.sat_score < 0.01);
	memset(&s, 0, sizeof(s));
	for (int i = 0; i < 20; i++)
		bal_sat_update(&c, &s, true, -100, 0, t + i);
	assert_true(s.sat_score > 0.4);

	/* rate invariance: 30 s at dt 0.5 vs dt 3 */
	double sc[2];
	double dts[2] = {0.5, 3.0};
	for (int k = 0; k < 2; k++) {
		memset(&s, 0, sizeof(s));
		double tt = t;
		s.last_sat_update = tt;
		for (double el = 0; el < 30 - 1e-9; el += dts[k]) {
			tt += dts[k];
			bal_sat_update(&c, &s, true, 100, 5, tt);
		}
		sc[k] = s.sat_score;
	}
	assert_near(sc[0], sc[1], 0.02);
	assert_true(sc[0] > 0.4);
	/* long gap re-seeds */
	memset(&s, 0, sizeof(s));
	s.sat_score = 0.5;
	s.last_sat_update = t;
	bal_sat_update(&c, &s, true, 100, 5, t + BAL_SATURATION_LONG_GAP + 10);
	assert_near(s.sat_score, 0.5, 0);
}

static void test_saturation_in_balancer(void **st)
{
	(void)st;
	struct bal_config c = ctcfg();
	c.saturation_alpha = 1.0;
	c.min_target_for_saturation = 10;
	struct h h;
	h_init(&h, &c);
	h_put(&h, "a", 'A', 0, NULL);
	h_put(&h, "b", 'A', 400, NULL);
	struct bal_cstate *sa = bal_state(h.b, "a"), *sb = bal_state(h.b, "b");
	sa->has_intent_reading = sb->has_intent_reading = true;
	sa->last_intent_reading = sb->last_intent_reading = 200;
	double a = ct(&h, "a", 400)[0];
	double b = ct(&h, "b", 400)[0];
	assert_true(a < b);
	assert_true(b > 200);
	h_free(&h);

	c = ctcfg(); /* opposite-sign meaningful output is not saturation */
	c.fair_distribution = false;
	c.saturation_alpha = 1.0;
	c.min_target_for_saturation = 10;
	h_init(&h, &c);
	h_put(&h, "a", 'A', -100, NULL);
	h_put(&h, "b", 'A', 200, NULL);
	sa = bal_state(h.b, "a");
	sa->has_intent_reading = true;
	sa->last_intent_reading = 200;
	assert_near(ct(&h, "a", 400)[0], 200, 1e-9);
	assert_near(bal_saturation(h.b, "a"), 0, 0);
	h_free(&h);
}

/* ---- inactive consumers ---------------------------------------------------------------- */

static void test_inactive(void **st)
{
	(void)st;
	struct bal_config c = ctcfg();
	c.fair_distribution = false;
	c.saturation_detection = false; /* "a" never moves; keep its share undiluted */
	struct h h;
	h_init(&h, &c);
	h_put(&h, "a", 'A', 0, NULL);
	h_put(&h, "b", 'B', 150, NULL);
	bal_set_active(h.b, "b", false, h.now, NULL);
	const double *v = ct(&h, "b", 400);
	assert_near(v[0], 0, 0);
	assert_near(v[1], -150, 0); /* own phase, full reading */
	double lt;
	assert_true(bal_last_target(h.b, "b", &lt));
	assert_near(lt, 0, 0);
	v = ct(&h, "a", 400); /* excluded from the share */
	assert_near(v[0], 400, 1e-9);
	h_power(&h, "b", 0);
	v = ct(&h, "b", 400);
	assert_near(v[0] + v[1] + v[2], 0, 0);
	/* Reactivation rejoins the distribution and clears stale state with a grace. */
	bal_set_active(h.b, "b", true, h.now, NULL);
	assert_false(bal_last_target(h.b, "b", &lt));
	assert_true(bal_state_find(h.b, "b")->grace_until > 0);
	v = ct(&h, "a", 400);
	assert_near(v[0], 100, 1e-9);
	assert_near(v[1], 100, 1e-9);
	h_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_worked_active_pacing),
	        cmocka_unit_test(test_worked_pacing_off_two_phases),
	        cmocka_unit_test(test_inspection_raw_and_not_in_pool),
	        cmocka_unit_test(test_meter_failure_holds),
	        cmocka_unit_test(test_phase_d_instructed_is_sum),
	        cmocka_unit_test(test_relay_mode_passes_raw),
	        cmocka_unit_test(test_bucket_power_sign_filter),
	        cmocka_unit_test(test_split_across_consumers),
	        cmocka_unit_test(test_fair_distribution),
	        cmocka_unit_test(test_distribution_weight),
	        cmocka_unit_test(test_pace_grows_and_resets),
	        cmocka_unit_test(test_pace_fast_poller),
	        cmocka_unit_test(test_pace_off_small_and_unpaced_paths),
	        cmocka_unit_test(test_pace_deprioritized_wind_down),
	        cmocka_unit_test(test_grid_predictor),
	        cmocka_unit_test(test_concentrate),
	        cmocka_unit_test(test_import_trim),
	        cmocka_unit_test(test_demand_smoothing),
	        cmocka_unit_test(test_slot_hysteresis),
	        cmocka_unit_test(test_efficiency_window_weight),
	        cmocka_unit_test(test_efficiency_basics),
	        cmocka_unit_test(test_saturation_tracker),
	        cmocka_unit_test(test_saturation_in_balancer),
	        cmocka_unit_test(test_inactive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
