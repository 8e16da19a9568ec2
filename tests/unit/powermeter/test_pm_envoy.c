/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ENVOY: production.json parser with the reference's recorded shapes, login/JWT checks. */
#include "pm_test_util.h"
#include "astrameter/pm_parsers.h"

static int parse_fx(const char *name, struct pm_reading *r, struct err *e)
{
	char rel[128];
	size_t len;
	snprintf(rel, sizeof(rel), "envoy/%s", name);
	char *b = pmt_load(rel, &len);
	int rc = pm_envoy_parse(b, len, r, e);
	free(b);
	return rc;
}

static void test_recorded(void **state)
{
	(void)state;
	struct pm_reading r;
	struct err e = {{0}};
	assert_int_equal(parse_fx("production_lines.json", &r, &e), 0);
	assert_int_equal(r.n, 3);
	assert_float_equal(r.w[0], -100, 0);
	assert_float_equal(r.w[1], -80, 0);
	assert_float_equal(r.w[2], -120, 0);
	assert_int_equal(parse_fx("production_single.json", &r, &e), 0);
	assert_int_equal(r.n, 1);
	assert_float_equal(r.w[0], 1234.5, 0);
	assert_int_equal(parse_fx("production_empty_lines.json", &r, &e), 0);
	assert_int_equal(r.n, 1);
	assert_float_equal(r.w[0], 999, 0);
	assert_int_equal(parse_fx("production_no_net.json", &r, &e), -1);
	assert_non_null(strstr(e.msg, "net-consumption"));
	assert_int_equal(parse_fx("production_no_consumption.json", &r, &e), -1);
	assert_non_null(strstr(e.msg, "consumption"));
	assert_int_equal(parse_fx("production_malformed_line.json", &r, &e), -1);
	assert_non_null(strstr(e.msg, "malformed net-consumption line entry at index 1"));
	assert_int_equal(parse_fx("production_nonnumeric_line.json", &r, &e), -1);
	assert_non_null(strstr(e.msg, "non-numeric 'wNow'"));
}

static void test_broken(void **state)
{
	(void)state;
	static const struct {
		const char *body, *msg;
	} bad[] = {
	        {"{\"consumption\": {}}", "missing 'consumption' array"},
	        {"{\"consumption\": [{\"measurementType\": \"net-consumption\"}]}",
	         "missing 'wNow'"},
	        {"{\"consumption\": [{\"measurementType\": \"net-consumption\", \"wNow\": null}]}",
	         "non-numeric"},
	        {"{\"consumption\": [{\"measurementType\": \"net-consumption\", \"wNow\": 1e20}]}",
	         "non-numeric"},
	        {"{\"consumption\": [{\"measurementType\": \"net-consumption\", \"lines\": "
	         "[{\"wNow\": null}]}]}",
	         "non-numeric"},
	        {"[1, 2]", "missing 'consumption'"},
	        {"{\"consumption\": [", "not valid JSON"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pm_reading r;
		struct err e = {{0}};
		int rc = pm_envoy_parse(PMT_BODY(bad[i].body), &r, &e);
		if (rc != -1 || !strstr(e.msg, bad[i].msg))
			fail_msg("case %zu: rc %d '%s'", i, rc, e.msg);
	}
	for (size_t i = 0; i < PMT_N_GARBAGE; i++) {
		struct pm_reading r;
		struct err e;
		assert_int_equal(pm_envoy_parse(PMT_BODY(pmt_garbage[i]), &r, &e), -1);
	}
	/* only the first three lines count */
	struct pm_reading r;
	struct err e;
	assert_int_equal(pm_envoy_parse(PMT_BODY("{\"consumption\": [{\"measurementType\": "
	                                         "\"net-consumption\", \"lines\": [{\"wNow\": 1}, "
	                                         "{\"wNow\": 2}, {\"wNow\": 3}, {\"wNow\": 4}]}]}"),
	                                &r, &e),
	                 0);
	assert_int_equal(r.n, 3);
}

static void test_token_flow_helpers(void **state)
{
	(void)state;
	size_t len;
	char sid[64], tok[512];
	struct err e = {{0}};
	char *b = pmt_load("envoy/enlighten_login.json", &len);
	assert_int_equal(pm_envoy_parse_login(b, len, sid, sizeof(sid), &e), 0);
	assert_string_equal(sid, "3f6b1c2d9e8a");
	free(b);
	assert_int_equal(pm_envoy_parse_login(PMT_BODY("{\"message\": \"Invalid credentials\"}"),
	                                      sid, sizeof(sid), &e),
	                 -1);
	assert_non_null(strstr(e.msg, "Invalid credentials"));
	assert_int_equal(
	        pm_envoy_parse_login(PMT_BODY("{\"session_id\": 5}"), sid, sizeof(sid), &e), -1);
	assert_int_equal(pm_envoy_parse_login(PMT_BODY("<html>"), sid, sizeof(sid), &e), -1);
	b = pmt_load("envoy/entrez_token.txt", &len);
	assert_int_equal(pm_envoy_check_jwt(b, len, tok, sizeof(tok), &e), 0);
	assert_int_equal(strlen(tok), len);
	assert_int_equal(pm_envoy_check_jwt(b, len, tok, 20, &e), -1);
	free(b);
	assert_int_equal(pm_envoy_check_jwt(PMT_BODY("  eyJa.b.c\n"), tok, sizeof(tok), &e), 0);
	assert_string_equal(tok, "eyJa.b.c");
	static const char *const bad[] = {
	        "", "eyJa.b", "eyJa.b.c.d", "xeyJa.b.c", "<html>login</html>", "eyJ a.b.c"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(pm_envoy_check_jwt(PMT_BODY(bad[i]), tok, sizeof(tok), &e), -1);
		assert_null(strstr(e.msg, "eyJ"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_recorded),
	        cmocka_unit_test(test_broken),
	        cmocka_unit_test(test_token_flow_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
