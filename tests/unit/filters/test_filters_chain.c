/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The chain: stage order, presence only when enabled, describe(), reset() reaching Hampel
 * and EMA but not the PID, error propagation with no leak, and NULL safety. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "test_filters_util.h"

struct chain_fx {
	struct cfg cfg;
	struct flt_chain *c;
	struct err err;
};

static int chain_open(struct chain_fx *f, const char *ini, const char *sec)
{
	memset(f, 0, sizeof(*f));
	if (cfg_load_string(&f->cfg, ini, &f->err) < 0)
		return -1;
	return flt_chain_new(&f->c, cfg_find(&f->cfg, sec), cfg_find(&f->cfg, "GENERAL"), &f->err);
}

static void chain_close(struct chain_fx *f)
{
	flt_chain_free(f->c);
	cfg_free(&f->cfg);
}

static double run1(struct chain_fx *f, ev_ms now, double v)
{
	struct pm_reading r = mk_reading(&v, 1);

	flt_chain_process(f->c, now, &r);
	return r.w[0];
}

static void describe(struct chain_fx *f, char *buf, size_t len)
{
	flt_chain_describe(f->c, buf, len);
}

static void test_empty_chain(void **st)
{
	(void)st;
	struct chain_fx f;
	char d[64];

	assert_int_equal(chain_open(&f, "[GENERAL]\n[SHELLY_1]\nTYPE = 1PM\n", "SHELLY_1"), 0);
	describe(&f, d, sizeof(d));
	assert_string_equal(d, "none");
	assert_true(run1(&f, 0, 123.25) == 123.25);
	chain_close(&f);
}

static void test_all_stages_in_order(void **st)
{
	(void)st;
	struct chain_fx f;
	char d[128];

	assert_int_equal(chain_open(&f,
	                            "[GENERAL]\nPID_KP = 0.5\nDEADBAND = 10\n"
	                            "[SHELLY_1]\nPOWER_OFFSET = 1\nHAMPEL_WINDOW = 5\n"
	                            "SMOOTH_TARGET_ALPHA = 0.5\n",
	                            "SHELLY_1"),
	                 0);
	describe(&f, d, sizeof(d));
	assert_string_equal(d, "transform,hampel,ema,deadband,pid");
	chain_close(&f);

	/* describe truncates safely */
	assert_int_equal(chain_open(&f, "[S]\nDEADBAND = 5\nPID_KP = 1\n", "S"), 0);
	flt_chain_describe(f.c, d, 6);
	assert_string_equal(d, "deadb");
	chain_close(&f);
}

/* Transform runs before the deadband: 100 * 2 = 200 clears a 150 W band (the other order
 * would zero it). */
static void test_transform_before_deadband(void **st)
{
	(void)st;
	struct chain_fx f;

	assert_int_equal(chain_open(&f, "[S]\nPOWER_MULTIPLIER = 2\nDEADBAND = 150\n", "S"), 0);
	assert_true(run1(&f, 0, 100) == 200);
	assert_true(run1(&f, 1, 70) == 0);
	chain_close(&f);
}

/* EMA before deadband before PID: seed 100, then 10 -> EMA 55 -> inside a 60 W band -> 0 ->
 * PID (replace, kp 1) reports -0. */
static void test_ema_deadband_pid_order(void **st)
{
	(void)st;
	struct chain_fx f;

	assert_int_equal(chain_open(&f,
	                            "[S]\nSMOOTH_TARGET_ALPHA = 0.5\nDEADBAND = 60\nPID_KP = 1\n"
	                            "PID_MODE = replace\n",
	                            "S"),
	                 0);
	assert_true(fabs(run1(&f, 0, 100) + 100) < TOL); /* EMA seed 100, PID -100 */
	assert_true(fabs(run1(&f, 1000, 10) - 0) < TOL);
	chain_close(&f);
}

/* Hampel before EMA: a spike never reaches the average. */
static void test_hampel_before_ema(void **st)
{
	(void)st;
	struct chain_fx f;

	assert_int_equal(chain_open(&f,
	                            "[S]\nHAMPEL_WINDOW = 3\nHAMPEL_MIN_THRESHOLD = 50\n"
	                            "SMOOTH_TARGET_ALPHA = 0.5\n",
	                            "S"),
	                 0);
	for (int k = 0; k < 3; k++)
		assert_true(run1(&f, k, 100) == 100);
	assert_true(run1(&f, 3, 5000) == 100);
	assert_true(run1(&f, 4, 100) == 100);
	chain_close(&f);
}

/* reset() clears the Hampel window and the EMA but leaves the PID alone (as upstream). */
static void test_reset(void **st)
{
	(void)st;
	struct chain_fx f;

	assert_int_equal(chain_open(&f,
	                            "[S]\nHAMPEL_WINDOW = 3\nHAMPEL_MIN_THRESHOLD = 50\n"
	                            "SMOOTH_TARGET_ALPHA = 0.1\n",
	                            "S"),
	                 0);
	for (int k = 0; k < 3; k++)
		(void)run1(&f, k, 100);
	flt_chain_reset(f.c);
	/* warm-up again (spike passes) and the EMA re-seeds on it */
	assert_true(run1(&f, 3, 5000) == 5000);
	chain_close(&f);

	/* PID integral survives a reset */
	assert_int_equal(
	        chain_open(&f, "[S]\nPID_KP = 1e-15\nPID_KI = 1\nPID_MODE = replace\n", "S"), 0);
	(void)run1(&f, 0, 100);
	assert_true(fabs(run1(&f, 1000, 100) + 100) < TOL);
	flt_chain_reset(f.c);
	assert_true(fabs(run1(&f, 2000, 0) + 100) < TOL);
	chain_close(&f);
}

/* A bad key in any stage fails the whole chain with that stage's message. */
static void test_error_propagates(void **st)
{
	(void)st;
	struct chain_fx f;

	assert_int_equal(chain_open(&f,
	                            "[S]\nPOWER_OFFSET = 5\nHAMPEL_WINDOW = 5\n"
	                            "PID_KP = 1\nPID_MODE = sideways\n",
	                            "S"),
	                 -1);
	assert_null(f.c);
	assert_non_null(strstr(f.err.msg, "PID_MODE"));
	chain_close(&f);

	assert_int_equal(chain_open(&f, "[S]\nPOWER_OFFSET = x\nPID_KP = 1\n", "S"), -1);
	assert_non_null(strstr(f.err.msg, "POWER_OFFSET"));
	chain_close(&f);
}

/* [GENERAL] applies to every section; a section can switch a stage off. */
static void test_general_per_section(void **st)
{
	(void)st;
	struct chain_fx f;
	char d[128];

	const char *ini = "[GENERAL]\nDEADBAND = 20\nSMOOTH_TARGET_ALPHA = 0.5\n"
	                  "[SHELLY_1]\n[SHELLY_2]\nDEADBAND = 0\nPOWER_OFFSET = -20\n";
	assert_int_equal(chain_open(&f, ini, "SHELLY_1"), 0);
	describe(&f, d, sizeof(d));
	assert_string_equal(d, "ema,deadband");
	chain_close(&f);
	assert_int_equal(chain_open(&f, ini, "SHELLY_2"), 0);
	describe(&f, d, sizeof(d));
	assert_string_equal(d, "transform,ema");
	chain_close(&f);
}

/* Every key a stage reads is marked used, even for a disabled stage, so the config module
 * does not call them unknown. */
static void test_keys_marked_used(void **st)
{
	(void)st;
	struct chain_fx f;
	const char *ini = "[GENERAL]\nHAMPEL_N_SIGMA = 2\nHAMPEL_MIN_THRESHOLD = 1\n"
	                  "MAX_SMOOTH_STEP = 3\nPID_KI = 1\nPID_KD = 1\nPID_OUTPUT_MAX = 5\n"
	                  "PID_MODE = bias\nDEADBAND = 0\nHAMPEL_WINDOW = 0\n"
	                  "SMOOTH_TARGET_ALPHA = 0\nPID_KP = 0\n"
	                  "[S]\nHAMPEL_N_SIGMA = 2\nHAMPEL_MIN_THRESHOLD = 1\n"
	                  "MAX_SMOOTH_STEP = 3\nPID_KI = 1\nPID_KD = 1\nPID_OUTPUT_MAX = 5\n"
	                  "PID_MODE = bias\nPOWER_OFFSET =\n";

	assert_int_equal(chain_open(&f, ini, "S"), 0);
	for (size_t s = 0; s < f.cfg.n; s++)
		for (size_t i = 0; i < f.cfg.sec[s].n; i++)
			if (!f.cfg.sec[s].kv[i].used)
				fail_msg("[%s] %s not marked used", f.cfg.sec[s].name,
				         f.cfg.sec[s].kv[i].key);
	chain_close(&f);
}

/* A non-finite reading passes through without entering Hampel, EMA or PID state: the next
 * reading comes out exactly as if it had never happened. */
static void test_non_finite_does_not_poison(void **st)
{
	(void)st;
	const char *ini = "[S]\nHAMPEL_WINDOW = 3\nHAMPEL_MIN_THRESHOLD = 50\n"
	                  "SMOOTH_TARGET_ALPHA = 0.5\nPID_KP = 0.5\nPID_KI = 0.1\n";
	const double seq[] = {100, 120, 90, 110, 105};
	struct chain_fx a, b;

	assert_int_equal(chain_open(&a, ini, "S"), 0);
	assert_int_equal(chain_open(&b, ini, "S"), 0);
	for (size_t k = 0; k < 4; k++) {
		double x = run1(&a, (ev_ms)k * 1000, seq[k]);
		double y = run1(&b, (ev_ms)k * 1000, seq[k]);
		assert_true(x == y);
	}
	(void)run1(&b, 3500, NAN);
	(void)run1(&b, 3600, INFINITY);
	assert_true(run1(&a, 4000, seq[4]) == run1(&b, 4000, seq[4]));
	chain_close(&a);
	chain_close(&b);
}

/* A NaN or infinity in one phase goes through every stage configuration still non-finite
 * (no stage turns it into a plausible number the core could not tell from a reading), and
 * leaves no trace in the state of any stage. */
static void test_non_finite_phase_stays_visible(void **st)
{
	(void)st;
	const char *inis[] = {
	        "[S]\nPOWER_OFFSET = 10\nPOWER_MULTIPLIER = 0\n",
	        "[S]\nHAMPEL_WINDOW = 3\nHAMPEL_MIN_THRESHOLD = 50\n",
	        "[S]\nSMOOTH_TARGET_ALPHA = 0.3\nMAX_SMOOTH_STEP = 100\n",
	        "[S]\nDEADBAND = 1000\n",
	        "[S]\nPID_KP = 0.5\nPID_KI = 0.1\n",
	        "[S]\nPID_KP = 0.5\nPID_MODE = replace\n",
	        "[S]\nPOWER_MULTIPLIER = 2\nHAMPEL_WINDOW = 3\nSMOOTH_TARGET_ALPHA = 0.5\n"
	        "DEADBAND = 5\nPID_KP = 0.5\nPID_KI = 0.1\n",
	};
	const double poison[] = {NAN, INFINITY, -INFINITY};
	for (size_t i = 0; i < sizeof(inis) / sizeof(inis[0]); i++) {
		for (size_t p = 0; p < 3; p++) {
			struct chain_fx a, b;
			assert_int_equal(chain_open(&a, inis[i], "S"), 0);
			assert_int_equal(chain_open(&b, inis[i], "S"), 0);
			for (int k = 0; k < 5; k++) {
				double v[3] = {100.0 + k, -40.0 * k, 7.0};
				struct pm_reading ra = mk_reading(v, 3), rb = mk_reading(v, 3);
				flt_chain_process(a.c, k * 1000, &ra);
				flt_chain_process(b.c, k * 1000, &rb);
			}
			double bad[3] = {100, 200, 300};
			bad[p] = poison[p];
			struct pm_reading rb = mk_reading(bad, 3);
			flt_chain_process(b.c, 5000, &rb);
			if (isfinite(rb.w[0] + rb.w[1] + rb.w[2]))
				fail_msg("%s: %g in phase %zu came out as %g/%g/%g", inis[i],
				         poison[p], p, rb.w[0], rb.w[1], rb.w[2]);
			double good[3] = {150, -20, 30};
			struct pm_reading ra = mk_reading(good, 3);
			rb = mk_reading(good, 3);
			flt_chain_process(a.c, 6000, &ra);
			flt_chain_process(b.c, 6000, &rb);
			for (int j = 0; j < 3; j++)
				if (ra.w[j] != rb.w[j])
					fail_msg("%s: after %g, phase %d is %g, not %g", inis[i],
					         poison[p], j, rb.w[j], ra.w[j]);
			chain_close(&a);
			chain_close(&b);
		}
	}
}

static void test_null_safety(void **st)
{
	(void)st;
	struct pm_reading r = mk_reading((const double[]){1.0}, 1);
	char d[8];

	flt_chain_free(NULL);
	flt_chain_reset(NULL);
	flt_chain_process(NULL, 0, &r);
	assert_true(r.w[0] == 1.0);
	flt_chain_describe(NULL, d, sizeof(d));
	assert_string_equal(d, "none");
	flt_chain_describe(NULL, d, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_empty_chain),
	        cmocka_unit_test(test_all_stages_in_order),
	        cmocka_unit_test(test_transform_before_deadband),
	        cmocka_unit_test(test_ema_deadband_pid_order),
	        cmocka_unit_test(test_hampel_before_ema),
	        cmocka_unit_test(test_reset),
	        cmocka_unit_test(test_error_propagates),
	        cmocka_unit_test(test_general_per_section),
	        cmocka_unit_test(test_keys_marked_used),
	        cmocka_unit_test(test_non_finite_does_not_poison),
	        cmocka_unit_test(test_non_finite_phase_stays_visible),
	        cmocka_unit_test(test_null_safety),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
