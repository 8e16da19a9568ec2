/* SPDX-License-Identifier: GPL-3.0-or-later */
/* EMLOG parser: the reference's recorded body, then broken bodies. */
#include "pm_test_util.h"
#include "astrameter/pm_parsers.h"

static int parse(const char *b, size_t n, struct pm_reading *r, struct err *e)
{
	return pm_emlog_parse(b, n, true, r, e);
}

static void test_recorded(void **state)
{
	(void)state;
	size_t len;
	struct pm_reading r;
	struct err e = {{0}};
	char *b = pmt_load("emlog/import_export.json", &len);
	assert_int_equal(parse(b, len, &r, &e), 0);
	assert_int_equal(r.n, 1);
	assert_float_equal(r.w[0], 250, 1e-9);
	free(b);
}

static void test_broken(void **state)
{
	(void)state;
	static const struct pmt_bad bad[] = {
	        {"{\"Leistung170\": \"400\"}", "missing field 'Leistung270'"},
	        {"{\"Leistung270\": \"400\"}", "missing field 'Leistung170'"},
	        {"{\"Leistung170\": null, \"Leistung270\": \"1\"}", "null"},
	        {"{\"Leistung170\": \"4.5\", \"Leistung270\": \"1\"}", "not an integer"},
	        {"{\"Leistung170\": \"9999999999999\", \"Leistung270\": \"1\"}", "out of range"},
	        {"{\"Leistung170\": \"4", "not valid JSON"},
	};
	pmt_check_broken(parse, bad, sizeof(bad) / sizeof(bad[0]));
}

static void test_no_calculate(void **state)
{
	(void)state;
	size_t len;
	struct pm_reading r;
	struct err e;
	char *b = pmt_load("emlog/import_only.json", &len);
	assert_int_equal(pm_emlog_parse(b, len, false, &r, &e), 0);
	assert_float_equal(r.w[0], 200, 0);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_recorded),
	        cmocka_unit_test(test_broken),
	        cmocka_unit_test(test_no_calculate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
