/* SPDX-License-Identifier: GPL-3.0-or-later */
/* TQ_EM: data parser and the login state machine driven with the reference's recorded
 * request/answer flows. */
#include "pm_test_util.h"
#include "astrameter/pm_parsers.h"

static char *fx(const char *name, size_t *len)
{
	char rel[128];
	snprintf(rel, sizeof(rel), "tq_em/%s", name);
	return pmt_load(rel, len);
}

/* Feeds one fixture answer; returns the next action. */
static enum pm_tq_em_action feed(struct pm_tq_em_sm *sm, long status, const char *name,
                                 struct pm_reading *r, struct err *e)
{
	size_t len = 0;
	char *b = name ? fx(name, &len) : NULL;
	enum pm_tq_em_action a = pm_tq_em_sm_step(sm, status, b, len, r, e);
	free(b);
	return a;
}

static void test_three_phase_flow(void **state)
{
	(void)state;
	struct pm_tq_em_sm sm = {0};
	struct pm_reading r;
	struct err e = {{0}};
	assert_int_equal(pm_tq_em_sm_begin(&sm, 1000), PM_TQ_EM_GET_START);
	assert_int_equal(feed(&sm, 200, "start_unauth.json", &r, &e), PM_TQ_EM_POST_LOGIN);
	char form[256];
	assert_int_equal(pm_tq_em_login_form(&sm, "", form, sizeof(form)), 0);
	assert_string_equal(form, "login=123&save_login=1");
	assert_int_equal(pm_tq_em_login_form(&sm, "p w&1", form, sizeof(form)), 0);
	assert_string_equal(form, "login=123&save_login=1&password=p+w%261");
	assert_int_equal(feed(&sm, 200, "login_ok.json", &r, &e), PM_TQ_EM_GET_DATA);
	assert_int_equal(feed(&sm, 200, "data_three_phase.json", &r, &e), PM_TQ_EM_DONE);
	assert_int_equal(r.n, 3);
	assert_float_equal(r.w[0], 1, 0);
	assert_float_equal(r.w[1], 2, 0);
	assert_float_equal(r.w[2], 3, 0);
	/* The session is kept: next poll reads data directly. */
	assert_int_equal(pm_tq_em_sm_begin(&sm, 2000), PM_TQ_EM_GET_DATA);
	assert_int_equal(feed(&sm, 200, "data_total.json", &r, &e), PM_TQ_EM_DONE);
	assert_int_equal(r.n, 1);
	assert_float_equal(r.w[0], 9, 0);
	/* After 30 min idle it logs in again. */
	assert_int_equal(pm_tq_em_sm_begin(&sm, 2000 + PM_TQ_EM_MAX_IDLE_MS + 1),
	                 PM_TQ_EM_GET_START);
}

static void test_relogin_on_expired(void **state)
{
	(void)state;
	struct pm_tq_em_sm sm = {0};
	struct pm_reading r;
	struct err e = {{0}};
	pm_tq_em_sm_begin(&sm, 0);
	feed(&sm, 200, "start_unauth.json", &r, &e);
	feed(&sm, 200, "login_ok.json", &r, &e);
	assert_int_equal(feed(&sm, 200, "data_expired.json", &r, &e), PM_TQ_EM_GET_START);
	assert_int_equal(feed(&sm, 200, "start_unauth.json", &r, &e), PM_TQ_EM_POST_LOGIN);
	assert_int_equal(feed(&sm, 200, "login_ok.json", &r, &e), PM_TQ_EM_GET_DATA);
	assert_int_equal(pm_tq_em_sm_step(&sm, 200,
	                                  PMT_BODY("{\"1-0:1.4.0*255\": 5, \"1-0:2.4.0*255\": 0}"),
	                                  &r, &e),
	                 PM_TQ_EM_DONE);
	assert_float_equal(r.w[0], 5, 0);
	/* 401/403 also expire the session; a second rejection right after login fails. */
	pm_tq_em_sm_begin(&sm, 10);
	assert_int_equal(feed(&sm, 401, NULL, &r, &e), PM_TQ_EM_GET_START);
	assert_int_equal(
	        pm_tq_em_sm_step(&sm, 200,
	                         PMT_BODY("{\"ieq_serial\": 777, \"authentication\": true}"), &r,
	                         &e),
	        PM_TQ_EM_GET_DATA);
	assert_string_equal(sm.serial, "777");
	assert_int_equal(feed(&sm, 403, NULL, &r, &e), PM_TQ_EM_FAIL);
	assert_non_null(strstr(e.msg, "rejected again"));
	assert_false(sm.have_session);
}

static void test_missing_export(void **state)
{
	(void)state;
	size_t len;
	struct pm_reading r;
	struct err e = {{0}};
	char *b = fx("data_missing_export.json", &len);
	assert_int_equal(pm_tq_em_parse_data(b, len, &r, &e), 0);
	assert_int_equal(r.n, 1);
	assert_float_equal(r.w[0], 4, 0);
	free(b);
	b = fx("data_three_phase_missing_export.json", &len);
	assert_int_equal(pm_tq_em_parse_data(b, len, &r, &e), 0);
	assert_int_equal(r.n, 3);
	assert_float_equal(r.w[2], 3, 0);
	free(b);
}

static void test_failures(void **state)
{
	(void)state;
	struct pm_tq_em_sm sm = {0};
	struct pm_reading r;
	struct err e = {{0}};
	pm_tq_em_sm_begin(&sm, 0);
	assert_int_equal(
	        pm_tq_em_sm_step(&sm, 200, PMT_BODY("{\"authentication\": false}"), &r, &e),
	        PM_TQ_EM_FAIL);
	assert_non_null(strstr(e.msg, "serial number missing"));
	pm_tq_em_sm_begin(&sm, 0);
	assert_int_equal(pm_tq_em_sm_step(&sm, 500, PMT_BODY(""), &r, &e), PM_TQ_EM_FAIL);
	assert_non_null(strstr(e.msg, "HTTP 500"));
	pm_tq_em_sm_begin(&sm, 0);
	feed(&sm, 200, "start_unauth.json", &r, &e);
	assert_int_equal(
	        pm_tq_em_sm_step(&sm, 200, PMT_BODY("{\"authentication\": false}"), &r, &e),
	        PM_TQ_EM_FAIL);
	assert_non_null(strstr(e.msg, "authentication failed"));
	assert_int_equal(pm_tq_em_sm_step(&sm, 200, PMT_BODY("{}"), &r, &e), PM_TQ_EM_FAIL);
	static const struct {
		const char *body, *msg;
	} bad[] = {
	        {"{}", "required OBIS values missing"},
	        {"{\"foo\": 1}", "required OBIS values missing"},
	        {"{\"1-0:1.4.0*255\": null}", "null"},
	        {"{\"1-0:1.4.0*255\": \"x\"}", "not a number"},
	        {"{\"1-0:21.4.0*255\": 1e99}", "out of range"},
	        {"{\"status\": \"bad\"}", "not a number"},
	        {"[1]", "expected a JSON object"},
	        {"{\"1-0:1.4.0*255\": 4", "not valid JSON"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct err e2 = {{0}};
		int rc = pm_tq_em_parse_data(PMT_BODY(bad[i].body), &r, &e2);
		if (rc != -1 || !strstr(e2.msg, bad[i].msg))
			fail_msg("case %zu: rc %d '%s'", i, rc, e2.msg);
	}
	for (size_t i = 0; i < PMT_N_GARBAGE; i++) {
		struct err e2;
		if (strcmp(pmt_garbage[i], "null") && strcmp(pmt_garbage[i], "42"))
			assert_int_equal(pm_tq_em_parse_data(PMT_BODY(pmt_garbage[i]), &r, &e2),
			                 -1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_three_phase_flow),
	        cmocka_unit_test(test_relogin_on_expired),
	        cmocka_unit_test(test_missing_export),
	        cmocka_unit_test(test_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
