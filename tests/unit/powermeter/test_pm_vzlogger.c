/* SPDX-License-Identifier: GPL-3.0-or-later */
/* VZLOGGER channel parser: recorded body and broken ones. */
#include "pm_test_util.h"
#include "astrameter/pm_parsers.h"

static void test_recorded(void **state)
{
	(void)state;
	size_t len;
	double w = 0;
	struct err e = {{0}};
	char *b = pmt_load("vzlogger/channel.json", &len);
	assert_int_equal(pm_vzlogger_parse(b, len, &w, &e), 0);
	assert_float_equal(w, 900, 0);
	free(b);
	assert_int_equal(
	        pm_vzlogger_parse(
	                PMT_BODY("{\"version\":\"0.8\",\"data\":[{\"uuid\":\"u\",\"tuples\":"
	                         "[[1700000000000,-523.7,1]]}]}"),
	                &w, &e),
	        0);
	assert_float_equal(w, -523, 0);
}

static void test_broken(void **state)
{
	(void)state;
	static const struct {
		const char *body, *msg;
	} bad[] = {
	        {"{}", "missing field 'data'"},
	        {"{\"data\": []}", "'data' is empty"},
	        {"{\"data\": {}}", "not a list"},
	        {"{\"data\": [{}]}", "missing field 'tuples'"},
	        {"{\"data\": [{\"tuples\": []}]}", "'tuples' is empty"},
	        {"{\"data\": [{\"tuples\": [[1]]}]}", "no value"},
	        {"{\"data\": [{\"tuples\": [[1, null]]}]}", "null"},
	        {"{\"data\": [{\"tuples\": [[1, \"x\"]]}]}", "not an integer"},
	        {"{\"data\": [{\"tuples\": [[1, 1e40]]}]}", "out of range"},
	        {"{\"data\": [{\"tuples\": [[1, 5", "not valid JSON"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		double w;
		struct err e = {{0}};
		int rc = pm_vzlogger_parse(PMT_BODY(bad[i].body), &w, &e);
		if (rc != -1 || !strstr(e.msg, bad[i].msg))
			fail_msg("case %zu: rc %d '%s'", i, rc, e.msg);
	}
	for (size_t i = 0; i < PMT_N_GARBAGE; i++) {
		double w;
		struct err e;
		assert_int_equal(pm_vzlogger_parse(PMT_BODY(pmt_garbage[i]), &w, &e), -1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_recorded),
	        cmocka_unit_test(test_broken),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
