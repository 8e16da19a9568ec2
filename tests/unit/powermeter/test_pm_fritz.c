/* SPDX-License-Identifier: GPL-3.0-or-later */
/* FRITZ: AIN normalisation, login challenge-response (PBKDF2 and the AVM-documented MD5
 * example), SessionInfo and device list XML from the reference's tests, broken XML. */
#include "pm_test_util.h"
#include "astrameter/pm_parsers.h"

static void test_ain(void **state)
{
	(void)state;
	char out[64];
	struct err e;
	assert_int_equal(pm_fritz_normalize_ain("12345 0123456", out, sizeof(out), &e), 0);
	assert_string_equal(out, "123450123456-1");
	assert_int_equal(pm_fritz_normalize_ain("123450123456-2", out, sizeof(out), &e), 0);
	assert_string_equal(out, "123450123456-2");
	assert_int_equal(pm_fritz_normalize_ain(" 12345\t0123456-12 ", out, sizeof(out), &e), 0);
	assert_string_equal(out, "123450123456-12");
	assert_int_equal(pm_fritz_normalize_ain("1234-", out, sizeof(out), &e), 0);
	assert_string_equal(out, "1234--1");
	assert_int_equal(pm_fritz_normalize_ain("  ", out, sizeof(out), &e), -1);
	assert_non_null(strstr(e.msg, "requires an AIN"));
	assert_int_equal(pm_fritz_normalize_ain("123456", out, 7, &e), -1);
}

static void test_login_response(void **state)
{
	(void)state;
	char out[128];
	struct err e = {{0}};
	/* AVM's documented legacy example (UTF-16LE of "1234567z-äbc"). */
	assert_int_equal(pm_fritz_login_response("1234567z", "äbc", out, sizeof(out), &e), 0);
	assert_string_equal(out, "1234567z-9e224a41eeefa284df7bb0f26c2913e2");
	/* PBKDF2: value computed with Python's hashlib.pbkdf2_hmac for the reference's
	 * challenge and password. */
	assert_int_equal(pm_fritz_login_response("2$10000$5A1711$2000$5A1722", "1example!", out,
	                                         sizeof(out), &e),
	                 0);
	assert_string_equal(
	        out, "5A1722$1798a1672bca7c6463d6b245f82b53703b0f50813401b03e4045a5861e689adb");
	static const char *const bad[] = {"2$",          "2$10$zz$10$00",   "2$x$00$10$00",
	                                  "2$10$00$10",  "2$10$00$10$00$1", "2$0$00$10$00",
	                                  "2$10$0$10$00"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pm_fritz_login_response(bad[i], "pw", out, sizeof(out), &e), -1);
	assert_int_equal(pm_fritz_login_response("abc", "\xff\xfe", out, sizeof(out), &e), -1);
	assert_int_equal(pm_fritz_login_response("abc", "pw", out, 10, &e), -1);
}

static void test_session(void **state)
{
	(void)state;
	size_t len;
	char sid[32], chal[128];
	long bt = -1;
	struct err e = {{0}};
	char *b = pmt_load("fritz/challenge.xml", &len);
	assert_int_equal(
	        pm_fritz_parse_session(b, len, sid, sizeof(sid), chal, sizeof(chal), &bt, &e), 0);
	assert_string_equal(sid, PM_FRITZ_INVALID_SID);
	assert_string_equal(chal, "2$10000$5A1711$2000$5A1722");
	assert_int_equal(bt, 0);
	free(b);
	b = pmt_load("fritz/sid.xml", &len);
	assert_int_equal(
	        pm_fritz_parse_session(b, len, sid, sizeof(sid), chal, sizeof(chal), &bt, &e), 0);
	assert_string_equal(sid, "abcdef0123456789");
	assert_string_equal(chal, "");
	free(b);
	b = pmt_load("fritz/login_failed.xml", &len);
	assert_int_equal(
	        pm_fritz_parse_session(b, len, sid, sizeof(sid), chal, sizeof(chal), &bt, &e), 0);
	assert_int_equal(bt, 5);
	/* truncated */
	assert_int_equal(
	        pm_fritz_parse_session(b, len / 2, sid, sizeof(sid), chal, sizeof(chal), &bt, &e),
	        -1);
	free(b);
	static const char *const bad[] = {"", "  ", "<SessionInfo><SID>", "{\"SID\": 1}",
	                                  "<SessionInfo><SID>abc</SessionInfo>"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pm_fritz_parse_session(PMT_BODY(bad[i]), sid, sizeof(sid), chal,
		                                        sizeof(chal), &bt, &e),
		                 -1);
}

static void test_devicelist(void **state)
{
	(void)state;
	size_t len;
	double w = 0;
	struct err e = {{0}};
	char *b = pmt_load("fritz/devicelist.xml", &len);
	assert_int_equal(pm_fritz_parse_devicelist(b, len, "123450123456-1", &w, &e), 0);
	assert_float_equal(w, -71.0, 1e-12);
	assert_int_equal(pm_fritz_parse_devicelist(b, len, "123450123456-2", &w, &e), 0);
	assert_float_equal(w, 120.0, 1e-12);
	/* the base device has no powermeter */
	assert_int_equal(pm_fritz_parse_devicelist(b, len, "123450123456", &w, &e), -1);
	assert_non_null(strstr(e.msg, "no powermeter/power"));
	assert_int_equal(pm_fritz_parse_devicelist(b, len, "999999999999-1", &w, &e), -1);
	assert_non_null(strstr(e.msg, "not found"));
	/* truncated XML */
	assert_int_equal(pm_fritz_parse_devicelist(b, len - 20, "123450123456-1", &w, &e), -1);
	free(b);
	static const struct {
		const char *body, *msg;
	} bad[] = {
	        {"", "empty"},
	        {"<devicelist></devicelist>", "not found"},
	        {"<devicelist><device identifier=\"1-1\"><powermeter><power></power></powermeter>"
	         "</device></devicelist>",
	         "not a number"},
	        {"<devicelist><device identifier=\"1-1\"><powermeter><power>abc</power>"
	         "</powermeter></device></devicelist>",
	         "not a number"},
	        {"<devicelist><device identifier=\"1-1\"><powermeter><power>1e30</power>"
	         "</powermeter></device></devicelist>",
	         "out of range"},
	        {"<devicelist><device identifier=\"1-1\"/></devicelist>", "no powermeter"},
	        {"not xml </devicelist>", "not a complete"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct err e2 = {{0}};
		int rc = pm_fritz_parse_devicelist(PMT_BODY(bad[i].body), "1-1", &w, &e2);
		if (rc != -1 || !strstr(e2.msg, bad[i].msg))
			fail_msg("case %zu: rc %d '%s'", i, rc, e2.msg);
	}
	assert_int_equal(pm_fritz_parse_devicelist(
	                         PMT_BODY("<devicelist><device identifier='1 -1' x=\"y\">"
	                                  "<powermeter><power> 2500 </power></powermeter></device>"
	                                  "</devicelist>"),
	                         "1-1", &w, &e),
	                 0);
	assert_float_equal(w, 2.5, 1e-12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_ain),
	        cmocka_unit_test(test_login_response),
	        cmocka_unit_test(test_session),
	        cmocka_unit_test(test_devicelist),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
