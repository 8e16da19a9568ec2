/* SPDX-License-Identifier: GPL-3.0-or-later */
/* MQTT meter pure parts: topic/path pairing (upstream's constructor cases), payload
 * parsing (plain numbers and JSON paths, upstream's extract_json_value cases), values
 * invalid until every pair has spoken, and the mqtt[s]:// URI parser (upstream's
 * parse_mqtt_uri cases). */
#include "pm_test_util.h"
#include "astrameter/jsonpath.h"
#include "astrameter/mqtt_loop.h"
#include "astrameter/pm_mqtt.h"

static void build_ok(const char *topics, const char *topic, const char *paths, const char *path,
                     size_t n, const char *const *want_topics, const char *const *want_paths)
{
	struct pm_mqtt_subs s;
	struct err e = {{0}};
	if (pm_mqtt_subs_build(topics, topic, paths, path, &s, &e) != 0)
		fail_msg("build failed: %s", e.msg);
	assert_int_equal(s.n, n);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(s.s[i].topic, want_topics[i]);
		if (!want_paths[i])
			assert_null(s.s[i].path);
		else
			assert_string_equal(jsonpath_text(s.s[i].path), want_paths[i]);
	}
	pm_mqtt_subs_free(&s);
	assert_int_equal(s.n, 0);
}

static void test_pairing(void **state)
{
	(void)state;
	build_ok(NULL, "t1", NULL, NULL, 1, (const char *[]){"t1"}, (const char *[]){NULL});
	build_ok(NULL, "t1", NULL, "$.power", 1, (const char *[]){"t1"},
	         (const char *[]){"$.power"});
	build_ok("t1, t2, t3", NULL, NULL, NULL, 3, (const char *[]){"t1", "t2", "t3"},
	         (const char *[]){NULL, NULL, NULL});
	build_ok(NULL, "t", "$.a, $.b, $.c", NULL, 3, (const char *[]){"t", "t", "t"},
	         (const char *[]){"$.a", "$.b", "$.c"});
	build_ok("t1,t2", NULL, NULL, "$.p", 2, (const char *[]){"t1", "t2"},
	         (const char *[]){"$.p", "$.p"});
	build_ok("t1,t2", NULL, "$.a", NULL, 2, (const char *[]){"t1", "t2"},
	         (const char *[]){"$.a", "$.a"});
	build_ok("t1,t2", NULL, "$.a,$.b", NULL, 2, (const char *[]){"t1", "t2"},
	         (const char *[]){"$.a", "$.b"});
	/* lists win over the single keys */
	build_ok("home/l1, home/l2", "ignored", "$.x,$.y", "$.ignored", 2,
	         (const char *[]){"home/l1", "home/l2"}, (const char *[]){"$.x", "$.y"});
	/* blank items are skipped, blank lists fall back to the single key */
	build_ok(" a ,, b ,", NULL, NULL, NULL, 2, (const char *[]){"a", "b"},
	         (const char *[]){NULL, NULL});
	build_ok("  ", "single", "", "", 1, (const char *[]){"single"}, (const char *[]){NULL});
	/* JSON_PATH is one expression, not a list */
	build_ok(NULL, "t", NULL, "$['a','b']", 1, (const char *[]){"t"},
	         (const char *[]){"$['a','b']"});
}

static void build_fails(const char *topics, const char *topic, const char *paths, const char *path,
                        const char *msg)
{
	struct pm_mqtt_subs s;
	struct err e = {{0}};
	assert_int_equal(pm_mqtt_subs_build(topics, topic, paths, path, &s, &e), -1);
	if (!strstr(e.msg, msg))
		fail_msg("'%s' does not say '%s'", e.msg, msg);
	assert_int_equal(s.n, 0);
}

static void test_pairing_errors(void **state)
{
	(void)state;
	build_fails(NULL, NULL, NULL, NULL, "at least one MQTT topic");
	build_fails(NULL, "  ", NULL, NULL, "at least one MQTT topic");
	build_fails(" , ", NULL, NULL, NULL, "at least one MQTT topic");
	build_fails("t1,t2", NULL, "$.a,$.b,$.c", NULL, "must match");
	build_fails("a,b,c,d,e,f,g,h,i", NULL, NULL, NULL, "more than 8");
	build_fails(NULL, "t", "$.a,$[", NULL, "JSON_PATHS");
	build_fails(NULL, "t", NULL, "$[", "JSON_PATH");
}

static struct jsonpath *jp(const char *s)
{
	struct err e;
	struct jsonpath *p = jsonpath_compile(s, &e);
	if (!p)
		fail_msg("%s", e.msg);
	return p;
}

static void test_parse_value(void **state)
{
	(void)state;
	double v;
	struct err e = {{0}};
	/* upstream extract_json_value cases */
	struct jsonpath *p = jp("$.SML.curr_w");
	assert_int_equal(pm_mqtt_parse_value(p, PMT_BODY("{\"SML\": {\"curr_w\": 381}}"), &v, &e),
	                 0);
	assert_float_equal(v, 381, 0);
	assert_int_equal(
	        pm_mqtt_parse_value(p, PMT_BODY("{\"SML\": {\"curr_w\": 381.75}}"), &v, &e), 0);
	assert_float_equal(v, 381.75, 0);
	assert_int_equal(pm_mqtt_parse_value(p, PMT_BODY("{\"SML\": {\"other\": 1}}"), &v, &e), -1);
	assert_non_null(strstr(e.msg, "no match"));
	jsonpath_free(p);
	p = jp("$.SML.measurements[1].curr_w");
	assert_int_equal(pm_mqtt_parse_value(p,
	                                     PMT_BODY("{\"SML\": {\"measurements\": [{\"curr_w\": "
	                                              "100.5}, {\"curr_w\": 200.75}, {\"curr_w\": "
	                                              "300}]}}"),
	                                     &v, &e),
	                 0);
	assert_float_equal(v, 200.75, 0);
	/* numeric strings, as float() */
	assert_int_equal(pm_mqtt_parse_value(p,
	                                     PMT_BODY("{\"SML\": {\"measurements\": [0, "
	                                              "{\"curr_w\": \" -12.5 \"}]}} \n"),
	                                     &v, &e),
	                 0);
	assert_float_equal(v, -12.5, 0);
	/* broken JSON */
	for (size_t i = 0; i < PMT_N_GARBAGE; i++)
		assert_int_equal(pm_mqtt_parse_value(p, PMT_BODY(pmt_garbage[i]), &v, &e), -1);
	assert_int_equal(pm_mqtt_parse_value(p, PMT_BODY("{} {}"), &v, &e), -1);
	jsonpath_free(p);

	/* plain payloads */
	static const struct {
		const char *in;
		double want;
	} good[] = {{"42.5", 42.5}, {"-300", -300}, {" 12\n", 12},
	            {"1e3", 1000},  {"+7", 7},      {"0", 0}};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(pm_mqtt_parse_value(NULL, PMT_BODY(good[i].in), &v, &e), 0);
		assert_float_equal(v, good[i].want, 1e-9);
	}
	static const char *const bad[] = {"",    " ",     "abc", "12W",        "nan",
	                                  "inf", "1e400", "2e9", "{\"p\": 1}", "1,5"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (pm_mqtt_parse_value(NULL, PMT_BODY(bad[i]), &v, &e) != -1)
			fail_msg("'%s' accepted", bad[i]);
	/* an embedded NUL is not a number, whatever follows */
	assert_int_equal(pm_mqtt_parse_value(NULL, "12\0003", 4, &v, &e), -1);
}

static void test_values_until_all_seen(void **state)
{
	(void)state;
	struct pm_mqtt_subs s;
	struct pm_mqtt_values vals;
	struct pm_reading r;
	struct err e = {{0}};
	unsigned errors = 0;
	memset(&vals, 0, sizeof(vals));
	assert_int_equal(pm_mqtt_subs_build("t1, t2, t3", NULL, NULL, NULL, &s, &e), 0);
	assert_int_equal(pm_mqtt_reading(&s, &vals, &r, &e), -1);
	assert_non_null(strstr(e.msg, "'t1'"));
	assert_int_equal(pm_mqtt_apply(&s, &vals, 1000, "t1", PMT_BODY("100"), &errors, &e), 1);
	assert_int_equal(pm_mqtt_apply(&s, &vals, 1000, "other", PMT_BODY("5"), &errors, &e), 0);
	assert_int_equal(pm_mqtt_reading(&s, &vals, &r, &e), -1);
	assert_non_null(strstr(e.msg, "'t2'"));
	assert_int_equal(pm_mqtt_apply(&s, &vals, 1000, "t2", PMT_BODY("200"), &errors, &e), 1);
	assert_int_equal(pm_mqtt_apply(&s, &vals, 1000, "t3", PMT_BODY("bad"), &errors, &e), 0);
	assert_int_equal(errors, 1);
	assert_int_equal(pm_mqtt_reading(&s, &vals, &r, &e), -1);
	assert_int_equal(pm_mqtt_apply(&s, &vals, 1000, "t3", PMT_BODY("300"), &errors, &e), 1);
	assert_int_equal(pm_mqtt_reading(&s, &vals, &r, &e), 0);
	assert_int_equal(r.n, 3);
	assert_float_equal(r.w[0], 100, 0);
	assert_float_equal(r.w[1], 200, 0);
	assert_float_equal(r.w[2], 300, 0);
	/* a bad payload keeps the previous value; topics match exactly (no wildcards) */
	assert_int_equal(pm_mqtt_apply(&s, &vals, 1000, "t2", PMT_BODY("x"), &errors, &e), 0);
	assert_int_equal(pm_mqtt_apply(&s, &vals, 1000, "T2", PMT_BODY("1"), &errors, &e), 0);
	assert_int_equal(pm_mqtt_reading(&s, &vals, &r, &e), 0);
	assert_float_equal(r.w[1], 200, 0);
	pm_mqtt_subs_free(&s);
}

static void test_one_topic_many_paths(void **state)
{
	(void)state;
	struct pm_mqtt_subs s;
	struct pm_mqtt_values vals;
	struct pm_reading r;
	struct err e = {{0}};
	unsigned errors = 0;
	memset(&vals, 0, sizeof(vals));
	assert_int_equal(pm_mqtt_subs_build(NULL, "home/power",
	                                    "$.l1.power, $.l2.power, $.l3.power", NULL, &s, &e),
	                 0);
	const char *msg = "{\"l1\": {\"power\": 110.5}, \"l2\": {\"power\": 220.3}, "
	                  "\"l3\": {\"power\": 330.1}}";
	assert_int_equal(pm_mqtt_apply(&s, &vals, 1000, "home/power", PMT_BODY(msg), &errors, &e),
	                 3);
	assert_int_equal(errors, 0);
	assert_int_equal(pm_mqtt_reading(&s, &vals, &r, &e), 0);
	assert_float_equal(r.w[0], 110.5, 0);
	assert_float_equal(r.w[1], 220.3, 0);
	assert_float_equal(r.w[2], 330.1, 0);
	/* one path fails: the others still update */
	assert_int_equal(pm_mqtt_apply(&s, &vals, 1000, "home/power",
	                               PMT_BODY("{\"l1\": {\"power\": 1}, \"l3\": {\"power\": 3}}"),
	                               &errors, &e),
	                 2);
	assert_int_equal(errors, 1);
	assert_non_null(strstr(e.msg, "$.l2.power"));
	/* not JSON: every path fails once */
	errors = 0;
	assert_int_equal(pm_mqtt_apply(&s, &vals, 1000, "home/power", PMT_BODY("12"), &errors, &e),
	                 0);
	assert_int_equal(errors, 3);
	pm_mqtt_subs_free(&s);
}

/* MAX_AGE: the values turn stale max_age after the last message that updated any of
 * them (a message that updates nothing does not count); 0 = never, as upstream. */
static void test_values_go_stale(void **state)
{
	(void)state;
	struct pm_mqtt_subs s;
	struct pm_mqtt_values vals;
	struct err e = {{0}};
	unsigned errors = 0;
	memset(&vals, 0, sizeof(vals));
	assert_int_equal(pm_mqtt_subs_build("t1, t2", NULL, NULL, NULL, &s, &e), 0);
	/* nothing received: nothing to expire */
	assert_int_equal(pm_mqtt_stale_in(&vals, 5000, 3000), EV_STOP);
	assert_int_equal(pm_mqtt_apply(&s, &vals, 10000, "t1", PMT_BODY("100"), &errors, &e), 1);
	assert_int_equal(pm_mqtt_stale_in(&vals, 10000, 3000), 3000);
	assert_int_equal(pm_mqtt_stale_in(&vals, 12999, 3000), 1);
	assert_int_equal(pm_mqtt_stale_in(&vals, 13000, 3000), 0);
	assert_int_equal(pm_mqtt_stale_in(&vals, 128000, 3000), 0);
	assert_int_equal(pm_mqtt_stale_in(&vals, 128000, 0), EV_STOP); /* MAX_AGE = 0 */
	/* a message on any of the topics moves the deadline */
	assert_int_equal(pm_mqtt_apply(&s, &vals, 12000, "t2", PMT_BODY("5"), &errors, &e), 1);
	assert_int_equal(pm_mqtt_stale_in(&vals, 13000, 3000), 2000);
	/* ... but not one that parses to nothing or is not ours */
	assert_int_equal(pm_mqtt_apply(&s, &vals, 14000, "t2", PMT_BODY("x"), &errors, &e), 0);
	assert_int_equal(pm_mqtt_apply(&s, &vals, 14000, "t9", PMT_BODY("1"), &errors, &e), 0);
	assert_int_equal(pm_mqtt_stale_in(&vals, 15000, 3000), 0);
	pm_mqtt_subs_free(&s);
}

static void uri_ok(const char *in, const char *host, int port, const char *user, const char *pass,
                   bool tls)
{
	struct mqtt_uri u;
	struct err e = {{0}};
	if (mqtt_uri_parse(in, &u, &e) != 0)
		fail_msg("'%s': %s", in, e.msg);
	assert_string_equal(u.host, host);
	assert_int_equal(u.port, port);
	assert_int_equal(u.has_username, user != NULL);
	if (user)
		assert_string_equal(u.username, user);
	assert_int_equal(u.has_password, pass != NULL);
	if (pass)
		assert_string_equal(u.password, pass);
	assert_int_equal(u.tls, tls);
}

static void test_uri(void **state)
{
	(void)state;
	uri_ok("mqtt://alice:s%40cret@broker.example.com:1884", "broker.example.com", 1884, "alice",
	       "s@cret", false);
	uri_ok("mqtts://broker.example.com", "broker.example.com", 8883, NULL, NULL, true);
	uri_ok("mqtt://broker.example.com", "broker.example.com", 1883, NULL, NULL, false);
	uri_ok("mqtt://broker.example.com:1883/", "broker.example.com", 1883, NULL, NULL, false);
	uri_ok("mqtts://alice:secret@broker.example.com:8884", "broker.example.com", 8884, "alice",
	       "secret", true);
	uri_ok("mqtt://bob:pw@192.168.1.50:1885", "192.168.1.50", 1885, "bob", "pw", false);
	uri_ok("  MQTT://Broker.Example.COM  ", "broker.example.com", 1883, NULL, NULL, false);
	uri_ok("mqtt://user@h", "h", 1883, "user", NULL, false);
	uri_ok("mqtt://:pw@h", "h", 1883, "", "pw", false);
	uri_ok("mqtt://u:p:q@h", "h", 1883, "u", "p:q", false);
	uri_ok("mqtt://a@b:c@h:2", "h", 2, "a@b", "c", false);    /* last '@' ends userinfo */
	uri_ok("mqtt://u:100%@h", "h", 1883, "u", "100%", false); /* bad escape kept */
	uri_ok("mqtt://u:%7e%7E@h", "h", 1883, "u", "~~", false);
	uri_ok("mqtt://[::1]:1999", "::1", 1999, NULL, NULL, false);
	uri_ok("mqtt://h:", "h", 1883, NULL, NULL, false);
}

static void uri_bad(const char *in, const char *msg)
{
	struct mqtt_uri u;
	struct err e = {{0}};
	assert_int_equal(mqtt_uri_parse(in, &u, &e), -1);
	if (!strstr(e.msg, msg))
		fail_msg("'%s': '%s' does not say '%s'", in, e.msg, msg);
}

static void test_uri_errors(void **state)
{
	(void)state;
	uri_bad("http://broker.example.com", "scheme");
	uri_bad("mqtt://", "missing a host");
	uri_bad("mqtt://user:pw@", "missing a host");
	uri_bad("", "empty");
	uri_bad("   ", "empty");
	uri_bad("broker.example.com", "scheme");
	uri_bad("mqtt://broker.example.com/some/path", "path");
	uri_bad("mqtt://broker.example.com?clientId=foo", "query");
	uri_bad("mqtt://broker.example.com#frag", "fragment");
	uri_bad("mqtt://broker.example.com/?a", "query");
	uri_bad("mqtt://h:0", "port");
	uri_bad("mqtt://h:65536", "port");
	uri_bad("mqtt://h:12a", "port");
	uri_bad("mqtt://h:99999999999999999999", "port");
	uri_bad("mqtt://[::1", "unclosed");
	/* the password never appears in the message */
	struct mqtt_uri u;
	struct err e = {{0}};
	assert_int_equal(mqtt_uri_parse("mqtt://u:topsecret@h:bad", &u, &e), -1);
	assert_null(strstr(e.msg, "topsecret"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_pairing),
	        cmocka_unit_test(test_pairing_errors),
	        cmocka_unit_test(test_parse_value),
	        cmocka_unit_test(test_values_until_all_seen),
	        cmocka_unit_test(test_one_topic_many_paths),
	        cmocka_unit_test(test_values_go_stale),
	        cmocka_unit_test(test_uri),
	        cmocka_unit_test(test_uri_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
