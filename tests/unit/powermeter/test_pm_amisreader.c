/* SPDX-License-Identifier: GPL-3.0-or-later */
/* AMIS_READER parser: the reference's recorded body, then broken bodies. */
#include "pm_test_util.h"
#include "astrameter/pm_parsers.h"

static int parse(const char *b, size_t n, struct pm_reading *r, struct err *e)
{
	return pm_amisreader_parse(b, n, r, e);
}

static void test_recorded(void **state)
{
	(void)state;
	size_t len;
	struct pm_reading r;
	struct err e = {{0}};
	char *b = pmt_load("amisreader/rest.json", &len);
	assert_int_equal(parse(b, len, &r, &e), 0);
	assert_int_equal(r.n, 1);
	assert_float_equal(r.w[0], 1200, 1e-9);
	free(b);
}

static void test_broken(void **state)
{
	(void)state;
	static const struct pmt_bad bad[] = {
	        {"{\"saldox\": 1}", "missing field 'saldo'"},
	        {"{\"saldo\": null}", "null"},
	        {"{\"saldo\": []}", "not a number"},
	        {"{\"saldo\": 1e30}", "out of range"},
	        {"{\"saldo\"", "not valid JSON"},
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
