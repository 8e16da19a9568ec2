/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Transform stage: upstream's transform_test.py vectors, config_loader parsing of
 * POWER_OFFSET / POWER_MULTIPLIER (lists, blanks, errors, per-section only), the warn-once
 * rule for list/phase-count mismatches, and our empty-value choice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_filters_util.h"

struct tvec {
	const char *name;
	const char *off, *mult; /* NULL = key absent */
	double in[3];
	unsigned n;
	double out[3];
};

/* From upstream src/astrameter/powermeter/wrappers/transform_test.py. */
static const struct tvec vectors[] = {
        {"raw_matches_wrapped", "10.0", "1.0", {110, 210, 310}, 3, {120, 220, 320}},
        {"identity_single_phase", "0.0", "1.0", {500}, 1, {500}},
        {"identity_three_phase", "0.0", "1.0", {100, 200, 300}, 3, {100, 200, 300}},
        {"offset_only_broadcast", "10.0", "1.0", {100, 200, 300}, 3, {110, 210, 310}},
        {"negative_offset", "-50.0", "1.0", {1050}, 1, {1000}},
        {"multiplier_only_broadcast", "0.0", "2.0", {100, 200, 300}, 3, {200, 400, 600}},
        {"both_offset_and_multiplier", "-50.0", "0.95", {1050}, 1, {947.5}},
        {"negative_meter_values", "0.0", "2.0", {-100}, 1, {-200}},
        {"per_phase_offsets", "-10.0, -20.0, -30.0", "1.0", {100, 200, 300}, 3, {90, 180, 270}},
        {"per_phase_multipliers", "0.0", "1.05,1.02,1.03", {100, 200, 300}, 3, {105, 204, 309}},
        {"mixed_single_offset", "10.0", "1.0, 2.0, 3.0", {100, 200, 300}, 3, {110, 410, 910}},
        {"phase_count_mismatch", "10.0,20.0,30.0", "1.0", {100}, 1, {110}},
        {"int_values", "0.5", "1.0", {100, 200}, 2, {100.5, 200.5}},
        /* config_loader_test.py: only one key set, the other defaults */
        {"offset_only_key", "10", NULL, {100, 200, 300}, 3, {110, 210, 310}},
        {"multiplier_only_key", NULL, "1.05", {100}, 1, {105}},
        {"zero_multiplier_accepted", NULL, "0", {100, 200}, 2, {0, 0}},
        {"null_one_phase", NULL, "1,0,1", {100, 200, 300}, 3, {100, 0, 300}},
        {"flip_sign", NULL, "-1", {250}, 1, {-250}},
        /* configparser-style blanks around items, and blank items skipped (parse_float_list) */
        {"blanks_around_items", " 10 , 20 ", NULL, {1, 1}, 2, {11, 21}},
        {"blank_item_skipped", "1,,2", NULL, {0, 0}, 2, {1, 2}},
        {"exponent", "1e1", "2.5E-1", {40}, 1, {20}},
        /* Python float() takes underscores between digits (issue 13: one parser) */
        {"underscores", "1_000", "0.5, 1_0", {40, 4}, 2, {1020, 1040}},
};

static void build_ini(char *buf, size_t len, const char *off, const char *mult)
{
	int k = snprintf(buf, len, "[GENERAL]\n[SHELLY_1]\nTYPE = 1PM\n");
	if (off)
		k += snprintf(buf + k, len - (size_t)k, "POWER_OFFSET = %s\n", off);
	if (mult)
		snprintf(buf + k, len - (size_t)k, "POWER_MULTIPLIER = %s\n", mult);
}

static void test_upstream_vectors(void **st)
{
	(void)st;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct tvec *v = &vectors[i];
		struct stage_fx f;
		char ini[256];

		build_ini(ini, sizeof(ini), v->off, v->mult);
		assert_int_equal(stage_open(&f, &flt_transform_ops, ini, "SHELLY_1"), 0);
		assert_true(f.enabled);
		struct pm_reading r = stage_run(&f, 0, v->in, v->n);
		assert_int_equal(r.n, v->n);
		for (unsigned j = 0; j < v->n; j++) {
			if (fabs(r.w[j] - v->out[j]) > TOL)
				fail_msg("%s: phase %u got %.12g want %.12g", v->name, j, r.w[j],
				         v->out[j]);
		}
		stage_close(&f);
	}
}

static void test_disabled_when_absent(void **st)
{
	(void)st;
	struct stage_fx f;

	assert_int_equal(stage_open(&f, &flt_transform_ops, "[SHELLY_1]\nTYPE = 1PM\n", "SHELLY_1"),
	                 0);
	assert_false(f.enabled);
	stage_close(&f);
}

/* Per section only: a [GENERAL] POWER_OFFSET is not a default (upstream never reads it). */
static void test_general_not_a_default(void **st)
{
	(void)st;
	struct stage_fx f;

	assert_int_equal(stage_open(&f, &flt_transform_ops,
	                            "[GENERAL]\nPOWER_OFFSET = 50\nPOWER_MULTIPLIER = 2\n"
	                            "[SHELLY_1]\nTYPE = 1PM\n",
	                            "SHELLY_1"),
	                 0);
	assert_false(f.enabled);
	stage_close(&f);
}

/* Deliberate difference: upstream parses an empty value to [0.0] (a zeroed meter). We treat
 * empty as absent: multiplier 1, offset 0. */
static void test_empty_values_count_as_absent(void **st)
{
	(void)st;
	struct stage_fx f;

	assert_int_equal(stage_open(&f, &flt_transform_ops,
	                            "[SHELLY_1]\nPOWER_MULTIPLIER =\nPOWER_OFFSET = 5\n",
	                            "SHELLY_1"),
	                 0);
	assert_true(f.enabled);
	assert_true(fabs(stage_run1(&f, 0, 100) - 105) < TOL);
	stage_close(&f);

	assert_int_equal(stage_open(&f, &flt_transform_ops, "[SHELLY_1]\nPOWER_MULTIPLIER = , ,\n",
	                            "SHELLY_1"),
	                 0);
	assert_false(f.enabled); /* nothing left to do */
	stage_close(&f);

	assert_int_equal(stage_open(&f, &flt_transform_ops,
	                            "[SHELLY_1]\nPOWER_MULTIPLIER = 3\nPOWER_OFFSET =\n",
	                            "SHELLY_1"),
	                 0);
	assert_true(f.enabled);
	assert_true(fabs(stage_run1(&f, 0, 100) - 300) < TOL);
	stage_close(&f);
}

static void expect_error(const char *ini, const char *key, const char *bad)
{
	struct stage_fx f;

	assert_int_equal(stage_open(&f, &flt_transform_ops, ini, "SHELLY_1"), -1);
	if (!strstr(f.err.msg, "[SHELLY_1]") || !strstr(f.err.msg, key) || !strstr(f.err.msg, bad))
		fail_msg("message '%s' lacks section/key/value", f.err.msg);
	stage_close(&f);
}

static void test_bad_values(void **st)
{
	(void)st;
	expect_error("[SHELLY_1]\nPOWER_OFFSET = abc\n", "POWER_OFFSET", "abc");
	expect_error("[SHELLY_1]\nPOWER_MULTIPLIER = 1,x,3\n", "POWER_MULTIPLIER", "x");
	expect_error("[SHELLY_1]\nPOWER_MULTIPLIER = 0x10\n", "POWER_MULTIPLIER", "0x10");
	expect_error("[SHELLY_1]\nPOWER_OFFSET = inf\n", "POWER_OFFSET", "inf");
	expect_error("[SHELLY_1]\nPOWER_OFFSET = nan\n", "POWER_OFFSET", "nan");
	expect_error("[SHELLY_1]\nPOWER_OFFSET = 1e999\n", "POWER_OFFSET", "1e999");
	expect_error("[SHELLY_1]\nPOWER_OFFSET = 1.2.3\n", "POWER_OFFSET", "1.2.3");
	expect_error("[SHELLY_1]\nPOWER_OFFSET = -\n", "POWER_OFFSET", "-");
	expect_error("[SHELLY_1]\nPOWER_OFFSET = 1e\n", "POWER_OFFSET", "1e");
	expect_error("[SHELLY_1]\nPOWER_OFFSET = 10 # comment\n", "POWER_OFFSET", "10 # comment");
}

/* A list longer than PM_MAX_VALUES is accepted; phase i uses item i. */
static void test_long_list(void **st)
{
	(void)st;
	struct stage_fx f;
	double in[PM_MAX_VALUES];

	for (unsigned i = 0; i < PM_MAX_VALUES; i++)
		in[i] = 1;
	assert_int_equal(stage_open(&f, &flt_transform_ops,
	                            "[SHELLY_1]\nPOWER_OFFSET = 1,2,3,4,5,6,7,8,9,10\n",
	                            "SHELLY_1"),
	                 0);
	struct pm_reading r = stage_run(&f, 0, in, PM_MAX_VALUES);
	for (unsigned i = 0; i < PM_MAX_VALUES; i++)
		assert_true(fabs(r.w[i] - (2.0 + i)) < TOL);
	stage_close(&f);
}

/* Cyclic application of a 2-item list over 3 phases. */
static void test_cyclic(void **st)
{
	(void)st;
	struct stage_fx f;
	const double in[3] = {100, 100, 100};

	assert_int_equal(stage_open(&f, &flt_transform_ops,
	                            "[SHELLY_1]\nPOWER_MULTIPLIER = 1,2\nPOWER_OFFSET = 0,1,2,3\n",
	                            "SHELLY_1"),
	                 0);
	struct pm_reading r = stage_run(&f, 0, in, 3);
	assert_true(fabs(r.w[0] - 100) < TOL);
	assert_true(fabs(r.w[1] - 201) < TOL);
	assert_true(fabs(r.w[2] - 102) < TOL);
	stage_close(&f);
}

/* Counts occurrences of needle in what fn logs to stderr. */
static int count_logged(struct stage_fx *f, const double *in, const unsigned *ns, size_t runs,
                        const char *needle)
{
	char path[] = "/tmp/test_filters_transform_XXXXXX";
	int fd = mkstemp(path);
	int saved = dup(STDERR_FILENO);
	int count = 0;
	char buf[8192];
	ssize_t got;

	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	for (size_t i = 0; i < runs; i++)
		(void)stage_run(f, 0, in, ns[i]);
	fflush(stderr);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	unlink(path);
	assert_true(got >= 0);
	buf[got] = '\0';
	for (const char *p = buf; (p = strstr(p, needle)) != NULL; p++)
		count++;
	return count;
}

/* Warn once on mismatch, re-arm after a matching reading (upstream's rule). */
static void test_mismatch_warns_once(void **st)
{
	(void)st;
	struct stage_fx f;
	const double in[3] = {1, 2, 3};
	const unsigned ns[] = {1, 1, 1, 3, 1, 1};

	assert_int_equal(stage_open(&f, &flt_transform_ops, "[SHELLY_1]\nPOWER_OFFSET = 1,2,3\n",
	                            "SHELLY_1"),
	                 0);
	assert_int_equal(count_logged(&f, in, ns, 6, "POWER_OFFSET has 3 values"), 2);
	stage_close(&f);

	/* a single value never warns */
	assert_int_equal(
	        stage_open(&f, &flt_transform_ops, "[SHELLY_1]\nPOWER_OFFSET = 1\n", "SHELLY_1"),
	        0);
	assert_int_equal(count_logged(&f, in, ns, 6, "has"), 0);
	stage_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_upstream_vectors),
	        cmocka_unit_test(test_disabled_when_absent),
	        cmocka_unit_test(test_general_not_a_default),
	        cmocka_unit_test(test_empty_values_count_as_absent),
	        cmocka_unit_test(test_bad_values),
	        cmocka_unit_test(test_long_list),
	        cmocka_unit_test(test_cyclic),
	        cmocka_unit_test(test_mismatch_warns_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
