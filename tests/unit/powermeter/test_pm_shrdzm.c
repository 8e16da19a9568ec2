/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SHRDZM parser: the reference's recorded body, then broken bodies. */
#include "pm_test_util.h"
#include "astrameter/pm_parsers.h"

static int parse(const char *b, size_t n, struct pm_reading *r, struct err *e)
{
	return pm_shrdzm_parse(b, n, r, e);
}

static void test_recorded(void **state)
{
	(void)state;
	size_t len;
	struct pm_reading r;
	struct err e = {{0}};
	char *b = pmt_load("shrdzm/lastdata.json", &len);
	assert_int_equal(parse(b, len, &r, &e), 0);
	assert_int_equal(r.n, 1);
	assert_float_equal(r.w[0], 3000, 1e-9);
	free(b);
}

static void test_broken(void **state)
{
	(void)state;
	static const struct pmt_bad bad[] = {
	        {"{\"1.7.0\": 5000}", "missing field '2.7.0'"},
	        {"{\"2.7.0\": 5000}", "missing field '1.7.0'"},
	        {"{\"1.7.0\": null, \"2.7.0\": 1}", "null"},
	        {"{\"1.7.0\": \"5k\", \"2.7.0\": 1}", "not an integer"},
	        {"{\"1.7.0\": 1e12, \"2.7.0\": 1}", "out of range"},
	        {"{\"1.7.0\": {}, \"2.7.0\": 1}", "not a number"},
	        {"{\"1.7.0\": 50", "not valid JSON"},
	};
	pmt_check_broken(parse, bad, sizeof(bad) / sizeof(bad[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_recorded),
	        cmocka_unit_test(test_broken),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
