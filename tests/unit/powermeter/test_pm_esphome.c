/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ESPHOME parser: the reference's recorded body, then broken bodies. */
#include "pm_test_util.h"
#include "astrameter/pm_parsers.h"

static int parse(const char *b, size_t n, struct pm_reading *r, struct err *e)
{
	return pm_esphome_parse(b, n, r, e);
}

static void test_recorded(void **state)
{
	(void)state;
	size_t len;
	struct pm_reading r;
	struct err e = {{0}};
	char *b = pmt_load("esphome/sensor.json", &len);
	assert_int_equal(parse(b, len, &r, &e), 0);
	assert_int_equal(r.n, 1);
	assert_float_equal(r.w[0], 234, 1e-9);
	free(b);
}

static void test_broken(void **state)
{
	(void)state;
	static const struct pmt_bad bad[] = {
	        {"{\"id\": \"sensor-power\"}", "missing field 'value'"},
	        {"{\"value\": null}", "null"},
	        {"{\"value\": \"NA\"}", "not an integer"},
	        {"{\"value\": -1e10}", "out of range"},
	        {"{\"value\": 23", "not valid JSON"},
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
