/* SPDX-License-Identifier: GPL-3.0-or-later */
/* FRONIUS parser: the reference's recorded body, then broken bodies. */
#include "pm_test_util.h"
#include "astrameter/pm_parsers.h"

static int parse(const char *b, size_t n, struct pm_reading *r, struct err *e)
{
	return pm_fronius_parse(b, n, false, r, e);
}

static void test_recorded(void **state)
{
	(void)state;
	size_t len;
	struct pm_reading r;
	struct err e = {{0}};
	char *b = pmt_load("fronius/import.json", &len);
	assert_int_equal(parse(b, len, &r, &e), 0);
	assert_int_equal(r.n, 1);
	assert_float_equal(r.w[0], 562.93, 1e-9);
	free(b);
}

static void test_broken(void **state)
{
	(void)state;
	static const struct pmt_bad bad[] = {
	        {"{\"Head\": {\"Status\": {\"Code\": 0}}, \"Body\": {\"Data\": {}}}",
	         "missing field 'PowerReal_P_Sum'"},
	        {"{\"Head\": {\"Status\": {\"Code\": 0}}}", "missing field 'Body'"},
	        {"{\"Body\": {\"Data\": {\"PowerReal_P_Sum\": null}}}", "null"},
	        {"{\"Body\": {\"Data\": {\"PowerReal_P_Sum\": \"abc\"}}}", "not a number"},
	        {"{\"Body\": {\"Data\": {\"PowerReal_P_Sum\": 1e300}}}", "out of range"},
	        {"{\"Body\": {\"Data\": [1]}}", "not an object"},
	        {"{\"Head\": {\"Status\": {\"Code\": 8, \"UserMessage\": \"busy\"}}, \"Body\": {}}",
	         "status 8: busy"},
	        {"{\"Head\": {\"Status\": {\"Code\": 2}}, \"Body\": {}}", "unknown error"},
	        {"{\"Body\": {\"Data\": {\"PowerReal_P_Sum\": 5", "not valid JSON"},
	};
	pmt_check_broken(parse, bad, sizeof(bad) / sizeof(bad[0]));
}

static void test_more_recorded(void **state)
{
	(void)state;
	size_t len;
	struct pm_reading r;
	struct err e = {{0}};
	char *b = pmt_load("fronius/export.json", &len);
	assert_int_equal(pm_fronius_parse(b, len, false, &r, &e), 0);
	assert_float_equal(r.w[0], -834.13, 1e-9);
	free(b);
	b = pmt_load("fronius/per_phase.json", &len);
	assert_int_equal(pm_fronius_parse(b, len, true, &r, &e), 0);
	assert_int_equal(r.n, 3);
	assert_float_equal(r.w[0], 100, 0);
	assert_float_equal(r.w[1], 200, 0);
	assert_float_equal(r.w[2], 300, 0);
	free(b);
	b = pmt_load("fronius/per_phase_missing.json", &len);
	assert_int_equal(pm_fronius_parse(b, len, true, &r, &e), 0);
	assert_int_equal(r.n, 3);
	assert_float_equal(r.w[0], 150, 0);
	assert_float_equal(r.w[1], 0, 0);
	assert_float_equal(r.w[2], 0, 0);
	free(b);
	b = pmt_load("fronius/api_error.json", &len);
	assert_int_equal(pm_fronius_parse(b, len, false, &r, &e), -1);
	assert_non_null(strstr(e.msg, "device not available"));
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_recorded),
	        cmocka_unit_test(test_broken),
	        cmocka_unit_test(test_more_recorded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
