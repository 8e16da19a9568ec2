/* SPDX-License-Identifier: GPL-3.0-or-later */
/* IOBROKER getBulk parser: recorded bodies and broken ones. */
#include "pm_test_util.h"
#include "astrameter/pm_parsers.h"

static const struct pm_iobroker_cfg single = {
        .current_alias = "alias1", .input_alias = "input_alias", .output_alias = "output_alias"};
static const struct pm_iobroker_cfg calc = {.current_alias = "alias1",
                                            .calculate = true,
                                            .input_alias = "input_alias",
                                            .output_alias = "output_alias"};

static void test_recorded(void **state)
{
	(void)state;
	size_t len;
	struct pm_reading r;
	struct err e = {{0}};
	char *b = pmt_load("iobroker/single.json", &len);
	assert_int_equal(pm_iobroker_parse(b, len, &single, &r, &e), 0);
	assert_float_equal(r.w[0], 100, 0);
	free(b);
	b = pmt_load("iobroker/calculate.json", &len);
	assert_int_equal(pm_iobroker_parse(b, len, &calc, &r, &e), 0);
	assert_float_equal(r.w[0], 150, 0);
	free(b);
	/* calculate: a missing alias counts as 0, as the reference */
	assert_int_equal(pm_iobroker_parse(PMT_BODY("[{\"id\":\"input_alias\",\"val\":\"42\"}]"),
	                                   &calc, &r, &e),
	                 0);
	assert_float_equal(r.w[0], 42, 0);
}

static void test_broken(void **state)
{
	(void)state;
	static const struct {
		const char *body, *msg;
	} bad[] = {
	        {"[{\"id\":\"other\",\"val\":1}]", "alias 'alias1' not found"},
	        {"[]", "not found"},
	        {"{\"id\":\"alias1\",\"val\":1}", "expected a list"},
	        {"[{\"id\":\"alias1\"}]", "missing field 'val'"},
	        {"[{\"val\":1}]", "missing field 'id'"},
	        {"[{\"id\":\"alias1\",\"val\":null}]", "null"},
	        {"[{\"id\":\"alias1\",\"val\":\"on\"}]", "not an integer"},
	        {"[{\"id\":\"alias1\",\"val\":1e100}]", "out of range"},
	        {"[{\"id\":\"alias1\",\"val\":1", "not valid JSON"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pm_reading r;
		struct err e = {{0}};
		int rc = pm_iobroker_parse(PMT_BODY(bad[i].body), &single, &r, &e);
		if (rc != -1 || !strstr(e.msg, bad[i].msg))
			fail_msg("case %zu: rc %d '%s'", i, rc, e.msg);
	}
	for (size_t i = 0; i < PMT_N_GARBAGE; i++) {
		struct pm_reading r;
		struct err e;
		assert_int_equal(pm_iobroker_parse(PMT_BODY(pmt_garbage[i]), &single, &r, &e), -1);
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
