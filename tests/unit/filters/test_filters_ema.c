/* SPDX-License-Identifier: GPL-3.0-or-later */
/* EMA stage: upstream's smoothing_test.py vectors (SmoothedPowermeter), the
 * SMOOTH_TARGET_ALPHA clamp and MAX_SMOOTH_STEP keys, and fixed-seed property tests (output
 * within the range of the inputs, slew-limited). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "test_filters_util.h"

#define RESET_MARK 1e300

struct estep {
	double in[3];
	unsigned n;
	double out[3];
};

struct evec {
	const char *name;
	const char *keys;
	struct estep steps[8];
	size_t nsteps;
};

#define S1(i, o)          \
	{                 \
		{i}, 1,   \
		{         \
			o \
		}         \
	}
#define S2(a, b, x, y)       \
	{                    \
		{a, b}, 2,   \
		{            \
			x, y \
		}            \
	}
#define S3(a, b, c, x, y, z)    \
	{                       \
		{a, b, c}, 3,   \
		{               \
			x, y, z \
		}               \
	}

/* Single-phase outputs equal upstream's smoothed_value; multi-phase outputs are the value
 * spread in the raw ratio. */
static const struct evec vectors[] = {
        {"first_call_seeds_value",
         "SMOOTH_TARGET_ALPHA = 0.5\n",
         {S3(100, 50, -30, 100, 50, -30)},
         1},
        /* 100 -> 150 -> 175 (two phases with the same total bypass the dedupe) */
        {"ema_converges_toward_raw",
         "SMOOTH_TARGET_ALPHA = 0.5\n",
         {S1(100, 100), S1(200, 150), S2(120, 80, 105, 70)},
         3},
        /* catch-up alpha max(0.1, min(0.5, 0.4)) = 0.4: 100 + 0.4 * -200 = 20 */
        {"sign_change_catchup", "SMOOTH_TARGET_ALPHA = 0.1\n", {S1(100, 100), S1(-100, 20)}, 2},
        {"sign_change_does_not_slow_high_alpha",
         "SMOOTH_TARGET_ALPHA = 1.0\n",
         {S1(1, 1), S1(-99, -99)},
         2},
        {"max_step_limits_delta",
         "SMOOTH_TARGET_ALPHA = 0.9\nMAX_SMOOTH_STEP = 10\n",
         {S1(100, 100), S1(1000, 110)},
         2},
        {"dedup_identical_values", "SMOOTH_TARGET_ALPHA = 0.5\n", {S1(100, 100), S1(100, 100)}, 2},
        /* ours: proves the repeat was skipped (an update would give 175) */
        {"dedup_skips_update",
         "SMOOTH_TARGET_ALPHA = 0.5\n",
         {S1(100, 100), S1(200, 150), S1(200, 150), S1(200, 150)},
         4},
        {"dedup_same_sample_different_total",
         "SMOOTH_TARGET_ALPHA = 0.5\n",
         {S2(100, 50, 100, 50), S2(120, 60, 110, 55)},
         2},
        {"reset_clears_state",
         "SMOOTH_TARGET_ALPHA = 0.5\n",
         {S1(100, 100), S1(RESET_MARK, 0), S1(200, 200)},
         3},
        {"proportional_phase_distribution",
         "SMOOTH_TARGET_ALPHA = 0.5\n",
         {S3(60, 30, 10, 60, 30, 10), S3(80, 40, 80, 60, 30, 60)},
         2},
        {"all_zero_returns_raw", "SMOOTH_TARGET_ALPHA = 0.5\n", {S3(0, 0, 0, 0, 0, 0)}, 1},
        /* raw total 0 passes raw; the average still moves (100 -> 50), then 50 -> 75 */
        {"raw_total_zero_passes_raw",
         "SMOOTH_TARGET_ALPHA = 0.5\n",
         {S1(100, 100), S2(50, -50, 50, -50), S1(100, 75)},
         3},
        /* clamps: alpha 5 -> 1, alpha 0.001 -> 0.01 */
        {"alpha_clamped_high", "SMOOTH_TARGET_ALPHA = 5\n", {S1(100, 100), S1(200, 200)}, 2},
        {"alpha_clamped_low", "SMOOTH_TARGET_ALPHA = 0.001\n", {S1(100, 100), S1(200, 101)}, 2},
        /* negative MAX_SMOOTH_STEP means unlimited, as 0 */
        {"negative_max_step_unlimited",
         "SMOOTH_TARGET_ALPHA = 1\nMAX_SMOOTH_STEP = -5\n",
         {S1(100, 100), S1(900, 900)},
         2},
};

static void test_vectors(void **st)
{
	(void)st;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct evec *v = &vectors[i];
		struct stage_fx f;
		char ini[256];

		snprintf(ini, sizeof(ini), "[GENERAL]\n[SHELLY_1]\n%s", v->keys);
		assert_int_equal(stage_open(&f, &flt_ema_ops, ini, "SHELLY_1"), 0);
		assert_true(f.enabled);
		for (size_t s = 0; s < v->nsteps; s++) {
			const struct estep *e = &v->steps[s];
			if (e->in[0] == RESET_MARK) {
				f.ops->reset(f.state);
				continue;
			}
			struct pm_reading r = stage_run(&f, (ev_ms)s, e->in, e->n);
			for (unsigned j = 0; j < e->n; j++)
				if (fabs(r.w[j] - e->out[j]) > TOL)
					fail_msg("%s step %zu phase %u: got %.12g want %.12g",
					         v->name, s, j, r.w[j], e->out[j]);
		}
		stage_close(&f);
	}
}

/* Without zero crossings (all inputs positive) the smoothed total stays within the range of
 * the inputs seen so far, and with MAX_SMOOTH_STEP it never moves more than the step. */
static void test_prop_range_and_slew(void **st)
{
	(void)st;
	uint64_t seed = 12345;
	for (int trial = 0; trial < 200; trial++) {
		struct stage_fx f;
		char ini[128];
		double alpha = prng_uniform(&seed, 0.01, 1.0);
		double step = trial % 2 ? prng_uniform(&seed, 1, 200) : 0;
		double lo = INFINITY, hi = -INFINITY, prev = NAN;

		snprintf(ini, sizeof(ini),
		         "[S]\nSMOOTH_TARGET_ALPHA = %.6f\nMAX_SMOOTH_STEP = %.6f\n", alpha, step);
		assert_int_equal(stage_open(&f, &flt_ema_ops, ini, "S"), 0);
		for (int k = 0; k < 300; k++) {
			double in[3];
			unsigned n = 1 + (unsigned)(prng_next(&seed) % 3);
			double total = 0, out = 0;
			for (unsigned j = 0; j < n; j++) {
				in[j] = prng_uniform(&seed, 1, 1500);
				total += in[j];
			}
			lo = fmin(lo, total);
			hi = fmax(hi, total);
			struct pm_reading r = stage_run(&f, k, in, n);
			for (unsigned j = 0; j < n; j++)
				out += r.w[j];
			assert_true(out >= lo - 1e-6 && out <= hi + 1e-6);
			if (step > 0 && k > 0)
				assert_true(fabs(out - prev) <= step + 1e-6);
			prev = out;
		}
		stage_close(&f);
	}
}

static void expect_err(const char *ini, const char *sec, const char *key, const char *val)
{
	struct stage_fx f;
	char want[64];

	assert_int_equal(stage_open(&f, &flt_ema_ops, ini, "SHELLY_1"), -1);
	snprintf(want, sizeof(want), "[%s]", sec);
	if (!strstr(f.err.msg, want) || !strstr(f.err.msg, key) || !strstr(f.err.msg, val))
		fail_msg("message '%s' should name %s, %s and %s", f.err.msg, want, key, val);
	stage_close(&f);
}

static bool enabled_for(const char *ini)
{
	struct stage_fx f;
	bool en;

	if (stage_open(&f, &flt_ema_ops, ini, "SHELLY_1") != 0)
		fail_msg("unexpected error: %s", f.err.msg);
	en = f.enabled;
	stage_close(&f);
	return en;
}

static void test_config(void **st)
{
	(void)st;
	struct stage_fx f;

	assert_false(enabled_for("[SHELLY_1]\n"));
	assert_false(enabled_for("[SHELLY_1]\nSMOOTH_TARGET_ALPHA = 0\n"));
	assert_false(enabled_for("[SHELLY_1]\nSMOOTH_TARGET_ALPHA = -0.5\n"));
	assert_true(enabled_for("[GENERAL]\nSMOOTH_TARGET_ALPHA = 0.3\n[SHELLY_1]\n"));
	assert_false(enabled_for("[GENERAL]\nSMOOTH_TARGET_ALPHA = 0.3\n[SHELLY_1]\n"
	                         "SMOOTH_TARGET_ALPHA = 0\n"));
	/* a disabled section's MAX_SMOOTH_STEP is not read (upstream) */
	assert_false(enabled_for("[SHELLY_1]\nMAX_SMOOTH_STEP = junk\n"));

	expect_err("[SHELLY_1]\nSMOOTH_TARGET_ALPHA = abc\n", "SHELLY_1", "SMOOTH_TARGET_ALPHA",
	           "abc");
	expect_err("[GENERAL]\nSMOOTH_TARGET_ALPHA = 1,5\n[SHELLY_1]\n", "GENERAL",
	           "SMOOTH_TARGET_ALPHA", "1,5");
	expect_err("[SHELLY_1]\nSMOOTH_TARGET_ALPHA = 0.5\nMAX_SMOOTH_STEP = ten\n", "SHELLY_1",
	           "MAX_SMOOTH_STEP", "ten");
	expect_err("[GENERAL]\nMAX_SMOOTH_STEP = ten\n[SHELLY_1]\n", "GENERAL", "MAX_SMOOTH_STEP",
	           "ten");

	/* MAX_SMOOTH_STEP from [GENERAL], overridden per section */
	assert_int_equal(stage_open(&f, &flt_ema_ops,
	                            "[GENERAL]\nSMOOTH_TARGET_ALPHA = 1\nMAX_SMOOTH_STEP = 10\n"
	                            "[SHELLY_1]\n",
	                            "SHELLY_1"),
	                 0);
	(void)stage_run1(&f, 0, 100);
	assert_true(fabs(stage_run1(&f, 1, 500) - 110) < TOL);
	stage_close(&f);
	assert_int_equal(stage_open(&f, &flt_ema_ops,
	                            "[GENERAL]\nSMOOTH_TARGET_ALPHA = 1\nMAX_SMOOTH_STEP = 10\n"
	                            "[SHELLY_1]\nMAX_SMOOTH_STEP = 50\n",
	                            "SHELLY_1"),
	                 0);
	(void)stage_run1(&f, 0, 100);
	assert_true(fabs(stage_run1(&f, 1, 500) - 150) < TOL);
	stage_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_vectors),
	        cmocka_unit_test(test_prop_range_and_slew),
	        cmocka_unit_test(test_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
