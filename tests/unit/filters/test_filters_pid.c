/* SPDX-License-Identifier: GPL-3.0-or-later */
/* PID stage: upstream's pid_test.py vectors, the PID_* keys (errors, [GENERAL] fallback,
 * per-section override), our anti-windup difference, and fixed-seed property tests (output
 * always within ±PID_OUTPUT_MAX, no wind-up during a long saturation).
 *
 * Upstream's I-only and D-only vectors construct the wrapper with kp = 0; through config a
 * PID needs PID_KP > 0, so those vectors use PID_KP = 1e-15, whose P term (< 1e-12 W) is far
 * below the 1e-9 tolerance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "test_filters_util.h"

#define TINY_KP "PID_KP = 1e-15\n"

struct pstep {
	ev_ms now;
	double in[3];
	unsigned n;
	double out[3];
};

struct pvec {
	const char *name;
	const char *keys;
	struct pstep steps[6];
	size_t nsteps;
};

#define P1(t, i, o)        \
	{                  \
		t, {i}, 1, \
		{          \
			o  \
		}          \
	}
#define P3(t, a, b, c, x, y, z)  \
	{                        \
		t, {a, b, c}, 3, \
		{                \
			x, y, z  \
		}                \
	}

static const struct pvec vectors[] = {
        {"p_only_positive_error", "PID_KP = 1.0\nPID_OUTPUT_MAX = 800\n", {P1(0, 200, 0)}, 1},
        {"p_only_negative_error", "PID_KP = 1.0\nPID_OUTPUT_MAX = 800\n", {P1(0, -100, 0)}, 1},
        {"output_clamped_positive",
         "PID_KP = 1.0\nPID_OUTPUT_MAX = 500\n",
         {P1(0, -1000, -500)},
         1},
        {"output_clamped_negative", "PID_KP = 1.0\nPID_OUTPUT_MAX = 500\n", {P1(0, 2000, 1500)}, 1},
        /* t in ms: upstream's t0 and t0 + 1.0 s */
        {"integral_accumulates",
         TINY_KP "PID_KI = 1.0\nPID_OUTPUT_MAX = 800\n",
         {P1(1000000, 100, 100), P1(1001000, 100, 0)},
         2},
        /* upstream only asserts >= 300; the rejected integral leaves exactly 500 */
        {"anti_windup_stops_integration",
         TINY_KP "PID_KI = 1.0\nPID_OUTPUT_MAX = 200\n",
         {P1(1000000, 500, 500), P1(1010000, 500, 500)},
         2},
        {"derivative_reacts_to_change",
         TINY_KP "PID_KD = 1.0\nPID_OUTPUT_MAX = 800\n",
         {P1(1000000, 100, 100), P1(1001000, 200, 100)},
         2},
        {"multiphase_bias",
         "PID_KP = 1.0\nPID_OUTPUT_MAX = 800\n",
         {P3(0, 100, 200, 300, -100, 0, 100)},
         1},
        {"multiphase_replace",
         "PID_KP = 1.0\nPID_OUTPUT_MAX = 800\nPID_MODE = replace\n",
         {P3(0, 100, 200, 300, -200, -200, -200)},
         1},
        {"replace_mode",
         "PID_KP = 1.0\nPID_OUTPUT_MAX = 800\nPID_MODE = replace\n",
         {P1(0, 500, -500)},
         1},
        {"first_call_no_derivative_spike",
         TINY_KP "PID_KD = 100\nPID_OUTPUT_MAX = 800\n",
         {P1(0, 500, 500)},
         1},
        /* same timestamp twice: dt = 0, so no D term and no integration */
        {"zero_dt_no_kick",
         "PID_KP = 0.5\nPID_KI = 1\nPID_KD = 10\n",
         {P1(5000, 100, 50), P1(5000, 300, 150)},
         2},
        /* a clock step backwards is dt = 0 as well */
        {"negative_dt_no_kick",
         "PID_KP = 0.5\nPID_KI = 1\nPID_KD = 10\n",
         {P1(5000, 100, 50), P1(4000, 300, 150)},
         2},
        /* Ours (upstream: -200 at t=12000 and after, the integral wound to -49900 in one step):
         * a saturated unwinding step stops the integral at zero. */
        {"unwinding_stops_at_zero",
         "PID_KP = 0.1\nPID_KI = 1\nPID_OUTPUT_MAX = 200\n",
         {P1(0, -100, -90), P1(1000, -100, 10), P1(11000, 5000, 4800), P1(12000, 0, 0),
          P1(13000, 0, 0)},
         5},
};

static void test_vectors(void **st)
{
	(void)st;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct pvec *v = &vectors[i];
		struct stage_fx f;
		char ini[256];

		snprintf(ini, sizeof(ini), "[GENERAL]\n[SHELLY_1]\n%s", v->keys);
		if (stage_open(&f, &flt_pid_ops, ini, "SHELLY_1") != 0)
			fail_msg("%s: %s", v->name, f.err.msg);
		assert_true(f.enabled);
		for (size_t s = 0; s < v->nsteps; s++) {
			const struct pstep *p = &v->steps[s];
			struct pm_reading r = stage_run(&f, p->now, p->in, p->n);
			for (unsigned j = 0; j < p->n; j++)
				if (fabs(r.w[j] - p->out[j]) > TOL)
					fail_msg("%s step %zu phase %u: got %.12g want %.12g",
					         v->name, s, j, r.w[j], p->out[j]);
		}
		stage_close(&f);
	}
}

/* Output (what the PID adds, or the whole reading in replace mode) never exceeds the
 * limit, whatever the gains, loads and time steps. */
static void test_prop_output_bounded(void **st)
{
	(void)st;
	uint64_t seed = 2024;
	for (int trial = 0; trial < 200; trial++) {
		struct stage_fx f;
		char ini[256];
		double kp = prng_uniform(&seed, 0.01, 3), ki = prng_uniform(&seed, -0.5, 3);
		double kd = prng_uniform(&seed, 0, 2), max = prng_uniform(&seed, 10, 1500);
		bool replace = trial % 2;
		ev_ms now = 0;

		snprintf(ini, sizeof(ini),
		         "[S]\nPID_KP = %.6f\nPID_KI = %.6f\nPID_KD = %.6f\nPID_OUTPUT_MAX = %.6f\n"
		         "PID_MODE = %s\n",
		         kp, ki, kd, max, replace ? "replace" : "bias");
		assert_int_equal(stage_open(&f, &flt_pid_ops, ini, "S"), 0);
		for (int k = 0; k < 300; k++) {
			double in[3], tin = 0, tout = 0;
			unsigned n = 1 + (unsigned)(prng_next(&seed) % 3);
			now += (ev_ms)(prng_next(&seed) % 5000);
			for (unsigned j = 0; j < n; j++) {
				in[j] = prng_uniform(&seed, -3000, 3000);
				tin += in[j];
			}
			struct pm_reading r = stage_run(&f, now, in, n);
			for (unsigned j = 0; j < n; j++)
				tout += r.w[j];
			double pid_out = replace ? tout : tout - tin;
			assert_true(fabs(pid_out) <= max + 1e-6);
		}
		stage_close(&f);
	}
}

/* After a long saturation (a big import held for minutes) the integral has not wound up:
 * the first reading after the load turns into a small export is already out of saturation,
 * and with zero error the output is the integral share, inside the limit. */
static void test_prop_no_windup(void **st)
{
	(void)st;
	uint64_t seed = 99;
	for (int trial = 0; trial < 200; trial++) {
		struct stage_fx f;
		char ini[256];
		double kp = prng_uniform(&seed, 0.05, 1), ki = prng_uniform(&seed, 0.01, 2);
		double max = (double)(50 + prng_next(&seed) % 750); /* exact in the ini text */
		/* sometimes P alone saturates, sometimes only P + I does */
		double load = max / kp * prng_uniform(&seed, 0.2, 3);
		ev_ms now = 0;

		snprintf(ini, sizeof(ini),
		         "[S]\nPID_KP = %.6f\nPID_KI = %.6f\nPID_OUTPUT_MAX = %.0f\nPID_MODE = "
		         "replace\n",
		         kp, ki, max);
		assert_int_equal(stage_open(&f, &flt_pid_ops, ini, "S"), 0);
		for (int k = 0; k < 600; k++) {
			now += 1000 + (ev_ms)(prng_next(&seed) % 3000);
			double out = stage_run1(&f, now, load);
			if (!(out >= -max - 1e-9 && out < 0))
				fail_msg("trial %d k %d out %g max %g load %g kp %g ki %g", trial,
				         k, out, max, load, kp, ki);
		}
		now += 1000;
		double out = stage_run1(&f, now, -20);
		if (!(out > -max + 1e-9))
			fail_msg("trial %d: still saturated (%g) after the load dropped", trial,
			         out);
		stage_close(&f);
	}
}

static void expect_err(const char *ini, const char *sec, const char *key, const char *val)
{
	struct stage_fx f;
	char want[64];

	assert_int_equal(stage_open(&f, &flt_pid_ops, ini, "SHELLY_1"), -1);
	snprintf(want, sizeof(want), "[%s]", sec);
	if (!strstr(f.err.msg, want) || !strstr(f.err.msg, key) || !strstr(f.err.msg, val))
		fail_msg("message '%s' should name %s, %s and %s", f.err.msg, want, key, val);
	stage_close(&f);
}

static bool enabled_for(const char *ini)
{
	struct stage_fx f;
	bool en;

	if (stage_open(&f, &flt_pid_ops, ini, "SHELLY_1") != 0)
		fail_msg("unexpected error: %s", f.err.msg);
	en = f.enabled;
	stage_close(&f);
	return en;
}

static void test_config(void **st)
{
	(void)st;
	/* all gains zero: no PID at all (upstream test_all_gains_zero_passthrough) */
	assert_false(enabled_for("[SHELLY_1]\nPID_KP = 0\nPID_KI = 0\nPID_KD = 0\n"));
	assert_false(enabled_for("[SHELLY_1]\n"));
	assert_false(enabled_for("[SHELLY_1]\nPID_KP = -1\n"));
	assert_false(enabled_for("[SHELLY_1]\nPID_KI = 5\n")); /* KP enables, not KI */
	assert_true(enabled_for("[GENERAL]\nPID_KP = 0.5\n[SHELLY_1]\n"));
	assert_false(enabled_for("[GENERAL]\nPID_KP = 0.5\n[SHELLY_1]\nPID_KP = 0\n"));
	/* mode is case-insensitive and trimmed */
	assert_true(enabled_for("[SHELLY_1]\nPID_KP = 1\nPID_MODE = BIAS\n"));
	assert_true(enabled_for("[SHELLY_1]\nPID_KP = 1\nPID_MODE = Replace\n"));
	/* upstream validates mode and limit only when a PID is built */
	assert_false(enabled_for("[GENERAL]\nPID_MODE = nonsense\nPID_OUTPUT_MAX = -1\n"
	                         "[SHELLY_1]\n"));
	assert_false(enabled_for("[SHELLY_1]\nPID_MODE = nonsense\nPID_KI = x\n"));

	expect_err("[SHELLY_1]\nPID_KP = 1\nPID_OUTPUT_MAX = 0\n", "SHELLY_1", "PID_OUTPUT_MAX",
	           "0");
	expect_err("[SHELLY_1]\nPID_KP = 1\nPID_OUTPUT_MAX = -100\n", "SHELLY_1", "PID_OUTPUT_MAX",
	           "-100");
	expect_err("[GENERAL]\nPID_OUTPUT_MAX = -5\n[SHELLY_1]\nPID_KP = 1\n", "GENERAL",
	           "PID_OUTPUT_MAX", "-5");
	expect_err("[SHELLY_1]\nPID_KP = 1\nPID_MODE = invalid\n", "SHELLY_1", "PID_MODE",
	           "invalid");
	expect_err("[GENERAL]\nPID_MODE = both\n[SHELLY_1]\nPID_KP = 1\n", "GENERAL", "PID_MODE",
	           "both");
	expect_err("[SHELLY_1]\nPID_KP = one\n", "SHELLY_1", "PID_KP", "one");
	expect_err("[SHELLY_1]\nPID_KP = 1\nPID_KI = i\n", "SHELLY_1", "PID_KI", "i");
	expect_err("[SHELLY_1]\nPID_KP = 1\nPID_KD = d\n", "SHELLY_1", "PID_KD", "d");
	/* [GENERAL] numbers are parsed up front, as upstream */
	expect_err("[GENERAL]\nPID_KI = q\n[SHELLY_1]\n", "GENERAL", "PID_KI", "q");
}

/* [GENERAL] gains with a per-section override of one of them. */
static void test_general_fallback(void **st)
{
	(void)st;
	struct stage_fx f;

	assert_int_equal(stage_open(&f, &flt_pid_ops,
	                            "[GENERAL]\nPID_KP = 0.5\nPID_OUTPUT_MAX = 100\n"
	                            "PID_MODE = replace\n[SHELLY_1]\nPID_OUTPUT_MAX = 300\n",
	                            "SHELLY_1"),
	                 0);
	/* 0.5 * -1000 = -500, clamped to the section's 300, replace mode from [GENERAL] */
	assert_true(fabs(stage_run1(&f, 0, 1000) + 300) < TOL);
	stage_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_vectors),          cmocka_unit_test(test_prop_output_bounded),
	        cmocka_unit_test(test_prop_no_windup),   cmocka_unit_test(test_config),
	        cmocka_unit_test(test_general_fallback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
