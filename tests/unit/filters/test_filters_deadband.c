/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Deadband stage: upstream's DeadbandPowermeter vectors and the DEADBAND key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "test_filters_util.h"

struct dvec {
	const char *name;
	const char *deadband;
	double in[3];
	unsigned n;
	double out[3];
};

static const struct dvec vectors[] = {
        {"within_deadband_zeros", "20", {5, -3, 2}, 3, {0, 0, 0}},
        {"outside_deadband_passes", "20", {50, 30, -10}, 3, {50, 30, -10}},
        {"negative_total_within", "20", {-5, -3, 2}, 3, {0, 0, 0}},
        {"just_below_threshold", "20", {19.9}, 1, {0}},
        /* ours: |sum| == deadband is outside (the comparison is strict, as upstream) */
        {"exactly_at_threshold_passes", "20", {20}, 1, {20}},
        {"negative_outside", "20", {-25}, 1, {-25}},
        /* phases large, sum small: the sum decides */
        {"cancelling_phases", "20", {500, -495, 0}, 3, {0, 0, 0}},
};

static void test_vectors(void **st)
{
	(void)st;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct dvec *v = &vectors[i];
		struct stage_fx f;
		char ini[128];

		snprintf(ini, sizeof(ini), "[GENERAL]\n[SHELLY_1]\nDEADBAND = %s\n", v->deadband);
		assert_int_equal(stage_open(&f, &flt_deadband_ops, ini, "SHELLY_1"), 0);
		assert_true(f.enabled);
		/* stateless: the same answer every time */
		for (int rep = 0; rep < 3; rep++) {
			struct pm_reading r = stage_run(&f, rep, v->in, v->n);
			for (unsigned j = 0; j < v->n; j++)
				if (fabs(r.w[j] - v->out[j]) > TOL)
					fail_msg("%s phase %u: got %.12g want %.12g", v->name, j,
					         r.w[j], v->out[j]);
		}
		stage_close(&f);
	}
}

static bool enabled_for(const char *ini)
{
	struct stage_fx f;
	bool en;

	if (stage_open(&f, &flt_deadband_ops, ini, "SHELLY_1") != 0)
		fail_msg("unexpected error: %s", f.err.msg);
	en = f.enabled;
	stage_close(&f);
	return en;
}

static void test_config(void **st)
{
	(void)st;
	struct stage_fx f;

	/* zero disables gating (upstream test_zero_deadband_disables_gating) */
	assert_false(enabled_for("[SHELLY_1]\nDEADBAND = 0\n"));
	assert_false(enabled_for("[SHELLY_1]\n"));
	assert_false(enabled_for("[SHELLY_1]\nDEADBAND = -10\n"));
	assert_true(enabled_for("[GENERAL]\nDEADBAND = 15\n[SHELLY_1]\n"));
	assert_false(enabled_for("[GENERAL]\nDEADBAND = 15\n[SHELLY_1]\nDEADBAND = 0\n"));

	/* section value overrides [GENERAL] */
	assert_int_equal(stage_open(&f, &flt_deadband_ops,
	                            "[GENERAL]\nDEADBAND = 15\n[SHELLY_1]\nDEADBAND = 50\n",
	                            "SHELLY_1"),
	                 0);
	assert_true(stage_run1(&f, 0, 30) == 0);
	stage_close(&f);

	assert_int_equal(
	        stage_open(&f, &flt_deadband_ops, "[SHELLY_1]\nDEADBAND = 2O\n", "SHELLY_1"), -1);
	assert_non_null(strstr(f.err.msg, "[SHELLY_1]"));
	assert_non_null(strstr(f.err.msg, "DEADBAND"));
	assert_non_null(strstr(f.err.msg, "2O"));
	stage_close(&f);

	assert_int_equal(stage_open(&f, &flt_deadband_ops,
	                            "[GENERAL]\nDEADBAND = x\n[SHELLY_1]\n"
	                            "DEADBAND = 5\n",
	                            "SHELLY_1"),
	                 -1);
	assert_non_null(strstr(f.err.msg, "[GENERAL]"));
	stage_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_vectors),
	        cmocka_unit_test(test_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
