/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SHELLY parser against the reference's recorded bodies, plus broken bodies. */
#include "pm_test_util.h"
#include "astrameter/pm_parsers.h"

static void check_fixture(const char *rel, enum pm_shelly_type t, bool indexed, unsigned n,
                          const double *want)
{
	size_t len;
	char *body = pmt_load(rel, &len);
	struct pm_reading r;
	struct err e = {{0}};
	assert_int_equal(pm_shelly_parse(body, len, t, indexed, &r, &e), 0);
	assert_int_equal(r.n, n);
	for (unsigned i = 0; i < n; i++)
		assert_float_equal(r.w[i], want[i], 1e-9);
	free(body);
}

static void test_recorded(void **state)
{
	(void)state;
	check_fixture("shelly/1pm_status.json", PM_SHELLY_1PM, false, 1, (double[]){456});
	check_fixture("shelly/1pm_meter0.json", PM_SHELLY_1PM, true, 1, (double[]){789});
	check_fixture("shelly/em_status.json", PM_SHELLY_EM, false, 3, (double[]){789, 1011, 1213});
	check_fixture("shelly/em_emeter1.json", PM_SHELLY_EM, true, 1, (double[]){555});
	check_fixture("shelly/3em_status.json", PM_SHELLY_EM, false, 3, (double[]){100, 200, 300});
	check_fixture("shelly/plus1pm_switch.json", PM_SHELLY_PLUS1PM, false, 1, (double[]){150});
	check_fixture("shelly/3empro_total_only.json", PM_SHELLY_3EMPRO, false, 1, (double[]){450});
	/* Beyond the reference: all three phases of a Pro 3EM, int-truncated. */
	check_fixture("shelly/3empro_emstatus.json", PM_SHELLY_3EMPRO, false, 3,
	              (double[]){120, -30, 200});
}

static void test_type_names(void **state)
{
	(void)state;
	enum pm_shelly_type t;
	assert_int_equal(pm_shelly_type_parse("1PM", &t), 0);
	assert_int_equal(t, PM_SHELLY_1PM);
	assert_int_equal(pm_shelly_type_parse("3EM", &t), 0);
	assert_int_equal(t, PM_SHELLY_EM);
	assert_int_equal(pm_shelly_type_parse("3EMPro", &t), 0);
	assert_int_equal(t, PM_SHELLY_3EMPRO);
	assert_int_equal(pm_shelly_type_parse("PLUS1PM", &t), 0);
	assert_int_equal(t, PM_SHELLY_PLUS1PM);
	assert_int_equal(pm_shelly_type_parse("3empro", &t), -1);
	assert_int_equal(pm_shelly_type_parse("", &t), -1);
}

static void test_int_semantics(void **state)
{
	(void)state;
	struct pm_reading r;
	struct err e;
	assert_int_equal(
	        pm_shelly_parse(PMT_BODY("{\"power\": 456.9}"), PM_SHELLY_1PM, true, &r, &e), 0);
	assert_float_equal(r.w[0], 456, 0);
	assert_int_equal(
	        pm_shelly_parse(PMT_BODY("{\"power\": -12.7}"), PM_SHELLY_1PM, true, &r, &e), 0);
	assert_float_equal(r.w[0], -12, 0);
	assert_int_equal(
	        pm_shelly_parse(PMT_BODY("{\"power\": \" 200 \"}"), PM_SHELLY_1PM, true, &r, &e),
	        0);
	assert_float_equal(r.w[0], 200, 0);
	/* Python int("12.5") raises */
	assert_int_equal(
	        pm_shelly_parse(PMT_BODY("{\"power\": \"12.5\"}"), PM_SHELLY_1PM, true, &r, &e),
	        -1);
}

static void test_broken(void **state)
{
	(void)state;
	static const struct {
		const char *body;
		enum pm_shelly_type t;
		bool idx;
		const char *msg;
	} bad[] = {
	        {"{\"apower\": 1}", PM_SHELLY_1PM, true, "missing field 'power'"},
	        {"{\"power\": null}", PM_SHELLY_1PM, true, "is null"},
	        {"{\"power\": \"abc\"}", PM_SHELLY_1PM, true, "not an integer"},
	        {"{\"power\": [1]}", PM_SHELLY_1PM, true, "not a number"},
	        {"{\"power\": 1e300}", PM_SHELLY_1PM, true, "out of range"},
	        {"{\"power\": 99999999999999999999}", PM_SHELLY_1PM, true, "out of range"},
	        {"{\"power\": \"99999999999999999999\"}", PM_SHELLY_1PM, true, "out of range"},
	        {"{\"meters\": []}", PM_SHELLY_1PM, false, "empty"},
	        {"{\"meters\": {}}", PM_SHELLY_1PM, false, "not a list"},
	        {"{\"meters\": [{\"power\": 1}, {}]}", PM_SHELLY_1PM, false, "missing field"},
	        {"{\"emeters\": [1,2,3,4,5,6,7,8,9]}", PM_SHELLY_EM, false, "at most"},
	        {"{\"meters\": [{\"power\": 1}]}", PM_SHELLY_EM, false, "missing field 'emeters'"},
	        {"{\"total_act_power\": false, \"a_act_power\": 1}", PM_SHELLY_3EMPRO, false, NULL},
	        {"{\"a_act_power\": 1, \"b_act_power\": 2, \"c_act_power\": null}",
	         PM_SHELLY_3EMPRO, false, "null"},
	        {"{\"id\": 0}", PM_SHELLY_PLUS1PM, false, "missing field 'apower'"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pm_reading r;
		struct err e = {{0}};
		int rc = pm_shelly_parse(PMT_BODY(bad[i].body), bad[i].t, bad[i].idx, &r, &e);
		if (!bad[i].msg) {
			/* bool counts as int() like Python: false -> 0 */
			assert_int_equal(rc, 0);
			assert_float_equal(r.w[0], 0, 0);
			continue;
		}
		if (rc != -1 || !strstr(e.msg, bad[i].msg))
			fail_msg("case %zu (%s): rc %d msg '%s'", i, bad[i].body, rc, e.msg);
	}
	for (size_t i = 0; i < PMT_N_GARBAGE; i++) {
		struct pm_reading r;
		struct err e = {{0}};
		assert_int_equal(
		        pm_shelly_parse(PMT_BODY(pmt_garbage[i]), PM_SHELLY_EM, false, &r, &e), -1);
		assert_true(e.msg[0] != '\0');
	}
	struct pm_reading r;
	struct err e;
	assert_int_equal(pm_shelly_parse(NULL, 0, PM_SHELLY_1PM, true, &r, &e), -1);
	assert_string_equal(e.msg, "empty body");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_recorded),
	        cmocka_unit_test(test_type_names),
	        cmocka_unit_test(test_int_semantics),
	        cmocka_unit_test(test_broken),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
