/* SPDX-License-Identifier: GPL-3.0-or-later */
/* HomeWizard decoder (astrameter/pm_homewizard.h): the recorded message stream in
 * tests/fixtures/homewizard (the reference's homewizard_test.py messages plus a full
 * measurement as the dongle sends it), the messages we send, and broken input. */
#include <cjson/cJSON.h>

#include "pm_test_util.h"
#include "astrameter/pm_homewizard.h"

#define MSG(s) (s), strlen(s)

static void test_recorded_stream(void **state)
{
	(void)state;
	size_t len;
	char *buf = pmt_load("homewizard/stream.jsonl", &len);
	static const struct {
		enum pm_hw_msg_type type;
		int have;
		unsigned n;
		double v[3];
		const char *err;
	} want[] = {
	        {HW_MSG_AUTH_REQ, 0, 0, {0}, NULL},
	        {HW_MSG_AUTHORIZED, 0, 0, {0}, NULL},
	        {HW_MSG_MEASUREMENT, 1, 3, {-200, -143, -200}, NULL}, /* phases win */
	        {HW_MSG_MEASUREMENT, 1, 1, {500}, NULL},
	        {HW_MSG_MEASUREMENT, 1, 3, {-543, 0, 0}, NULL}, /* missing L2/L3 */
	        {HW_MSG_MEASUREMENT, 0, 0, {0}, "without power_w"},
	        {HW_MSG_ERROR, 0, 0, {0}, "user:not-authorized"},
	        {HW_MSG_OTHER, 0, 0, {0}, NULL},
	};
	size_t k = 0;
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		assert_true(k < sizeof(want) / sizeof(want[0]));
		struct pm_reading r;
		int have = -1;
		struct err e = {{0}};
		assert_int_equal(pm_hw_handle_message(line, strlen(line), &r, &have, &e),
		                 want[k].type);
		assert_int_equal(have, want[k].have);
		if (have) {
			assert_int_equal(r.n, want[k].n);
			for (unsigned i = 0; i < r.n; i++)
				assert_float_equal(r.w[i], want[k].v[i], 1e-9);
		}
		if (want[k].err && !strstr(e.msg, want[k].err))
			fail_msg("line %zu: '%s' lacks '%s'", k, e.msg, want[k].err);
		k++;
	}
	assert_int_equal(k, sizeof(want) / sizeof(want[0]));
	free(buf);
}

static void test_broken(void **state)
{
	(void)state;
	struct pm_reading r;
	int have;
	struct err e;
	for (size_t i = 0; i < PMT_N_GARBAGE; i++)
		assert_int_equal(pm_hw_handle_message(PMT_BODY(pmt_garbage[i]), &r, &have, &e),
		                 HW_MSG_BAD);
	assert_int_equal(pm_hw_handle_message(MSG("[1,2,3]"), &r, &have, &e), HW_MSG_BAD);
	assert_int_equal(pm_hw_handle_message(MSG("\"just a string\""), &r, &have, &e), HW_MSG_BAD);
	static const struct {
		const char *msg, *err;
	} bad[] = {
	        {"{\"type\":\"measurement\",\"data\":\"not a dict\"}", "not an object"},
	        {"{\"type\":\"measurement\"}", "not an object"},
	        {"{\"type\":\"measurement\",\"data\":{\"power_w\":null}}", "null"},
	        {"{\"type\":\"measurement\",\"data\":{\"power_w\":\"x\"}}", "not a number"},
	        {"{\"type\":\"measurement\",\"data\":{\"power_l1_w\":1,\"power_l2_w\":[]}}",
	         "not a number"},
	        {"{\"type\":\"measurement\",\"data\":{\"power_w\":1e300}}", "out of range"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0, sizeof(e));
		assert_int_equal(pm_hw_handle_message(MSG(bad[i].msg), &r, &have, &e),
		                 HW_MSG_MEASUREMENT);
		assert_int_equal(have, 0);
		if (!strstr(e.msg, bad[i].err))
			fail_msg("case %zu: '%s' lacks '%s'", i, e.msg, bad[i].err);
	}
	assert_int_equal(
	        pm_hw_handle_message(MSG("{\"type\":\"error\",\"data\":5}"), &r, &have, &e),
	        HW_MSG_ERROR);
	assert_string_equal(e.msg, "error without a message");
	/* numbers as the dongle may send them: floats and numeric strings */
	assert_int_equal(pm_hw_handle_message(MSG("{\"type\":\"measurement\",\"data\":"
	                                          "{\"power_w\":\"12.5\"}}"),
	                                      &r, &have, &e),
	                 HW_MSG_MEASUREMENT);
	assert_int_equal(have, 1);
	assert_float_equal(r.w[0], 12.5, 1e-9);
}

static void test_outgoing(void **state)
{
	(void)state;
	char *s = pm_hw_msg_auth("ABCD1234");
	assert_string_equal(s, "{\"type\":\"authorization\",\"data\":\"ABCD1234\"}");
	free(s);
	s = pm_hw_msg_subscribe();
	assert_string_equal(s, "{\"type\":\"subscribe\",\"data\":\"measurement\"}");
	free(s);
	s = pm_hw_msg_auth("a\"b\\c");
	cJSON *j = cJSON_Parse(s);
	assert_string_equal(cJSON_GetObjectItem(j, "data")->valuestring, "a\"b\\c");
	cJSON_Delete(j);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_recorded_stream),
	        cmocka_unit_test(test_broken),
	        cmocka_unit_test(test_outgoing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
