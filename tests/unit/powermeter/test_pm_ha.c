/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Home Assistant decoder (astrameter/pm_ha.h): config lists, the recorded event streams in
 * tests/fixtures/homeassistant (from the reference's homeassistant_test.py plus real
 * message shapes), lu/lc touches, unavailable states, removals, reconnect invalidation,
 * the REST seed, the messages we send, and broken input. */
#include <math.h>

#include <cjson/cJSON.h>

#include "pm_test_util.h"
#include "astrameter/pm_ha.h"

#define MSG(s) (s), strlen(s)

static void init_ok(struct pm_ha_model *m, const char *cur, bool calc, const char *in,
                    const char *out)
{
	struct err e = {{0}};
	int rc = pm_ha_model_init(m, cur, calc, in, out, &e);
	if (rc != 0)
		fail_msg("init: %s", e.msg);
}

static void event(struct pm_ha_model *m, const char *json, struct pm_ha_msg_info *info)
{
	assert_int_equal(pm_ha_handle_message(m, json, strlen(json), info), HA_MSG_EVENT);
}

static void expect_values(const struct pm_ha_model *m, unsigned n, const double *v)
{
	struct pm_reading r;
	const char *missing = NULL;
	assert_int_equal(pm_ha_model_values(m, &r, &missing), 0);
	assert_int_equal(r.n, n);
	for (unsigned i = 0; i < n; i++)
		assert_float_equal(r.w[i], v[i], 1e-9);
}

static void expect_missing(const struct pm_ha_model *m, const char *eid)
{
	struct pm_reading r;
	const char *missing = NULL;
	assert_int_equal(pm_ha_model_values(m, &r, &missing), -1);
	assert_string_equal(missing, eid);
}

static void test_config_lists(void **state)
{
	(void)state;
	struct pm_ha_model m;
	init_ok(&m, " sensor.c , sensor.a,sensor.b", false, NULL, NULL);
	assert_int_equal(m.n_ids, 3);
	assert_string_equal(m.id[0], "sensor.a");
	assert_string_equal(m.id[2], "sensor.c");
	assert_int_equal(m.n, 3);
	/* outputs keep config order */
	assert_string_equal(m.id[m.a[0]], "sensor.c");
	assert_string_equal(m.id[m.a[1]], "sensor.a");

	init_ok(&m, "ignored", true, "sensor.in_1,sensor.in_2", "sensor.out_1,sensor.out_2");
	assert_int_equal(m.n_ids, 4);
	assert_int_equal(m.n, 2);
	/* the same entity twice is tracked once */
	init_ok(&m, "sensor.x,sensor.x", false, NULL, NULL);
	assert_int_equal(m.n_ids, 1);
	assert_int_equal(m.n, 2);

	static const struct {
		const char *cur, *in, *out;
		bool calc;
		const char *msg;
	} bad[] = {
	        {"", NULL, NULL, false, "CURRENT_POWER_ENTITY: required"},
	        {NULL, NULL, NULL, false, "CURRENT_POWER_ENTITY: required"},
	        {"sensor.a,,sensor.b", NULL, NULL, false, "blank entity"},
	        {"sensor.a,", NULL, NULL, false, "blank entity"},
	        {NULL, "sensor.a,sensor.b", "sensor.c", true, "lengths differ"},
	        {NULL, "sensor.a", "", true, "needs POWER_INPUT_ALIAS"},
	        {"a,b,c,d,e,f,g,h,i", NULL, NULL, false, "at most"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct err e = {{0}};
		assert_int_equal(
		        pm_ha_model_init(&m, bad[i].cur, bad[i].calc, bad[i].in, bad[i].out, &e),
		        -1);
		if (!strstr(e.msg, bad[i].msg))
			fail_msg("case %zu: '%s' lacks '%s'", i, e.msg, bad[i].msg);
	}
}

/* The whole recorded three-phase stream, message by message. */
static void test_recorded_stream(void **state)
{
	(void)state;
	size_t len;
	char *buf = pmt_load("homeassistant/stream_three_phase.jsonl", &len);
	struct pm_ha_model m;
	init_ok(&m, "sensor.power_phase1,sensor.power_phase2,sensor.power_phase3", false, NULL,
	        NULL);
	static const struct {
		enum pm_ha_msg_type type;
		bool fresh, invalidated, ready;
		double v[3];
	} want[] = {
	        {HA_MSG_AUTH_REQUIRED, false, false, false, {0}},
	        {HA_MSG_AUTH_OK, false, false, false, {0}},
	        {HA_MSG_RESULT, false, false, false, {0}},
	        {HA_MSG_EVENT, true, false, true, {100, 200, 300}},    /* a: snapshot */
	        {HA_MSG_EVENT, true, false, true, {150.5, 200, 300}},  /* c: new s */
	        {HA_MSG_EVENT, true, false, true, {150.5, 200, 300}},  /* c: lu only */
	        {HA_MSG_EVENT, false, false, true, {150.5, 200, 300}}, /* untracked */
	        {HA_MSG_EVENT, false, true, false, {0}},               /* unavailable */
	        {HA_MSG_EVENT, true, false, true, {150.5, 200, -42}},  /* back, with "-" */
	        {HA_MSG_EVENT, false, true, false, {0}},               /* r: removal */
	};
	size_t k = 0;
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		assert_true(k < sizeof(want) / sizeof(want[0]));
		struct pm_ha_msg_info info;
		assert_int_equal(pm_ha_handle_message(&m, line, strlen(line), &info), want[k].type);
		assert_int_equal(info.fresh, want[k].fresh);
		assert_int_equal(info.invalidated, want[k].invalidated);
		if (want[k].ready)
			expect_values(&m, 3, want[k].v);
		else if (k >= 3)
			expect_missing(&m, "sensor.power_phase3");
		if (k == 2) {
			assert_int_equal(info.id, 1);
			assert_true(info.success);
		}
		if (k == 7)
			assert_string_equal(
			        info.why, "sensor.power_phase3 state 'unavailable' is not numeric");
		if (k == 9)
			assert_string_equal(info.why, "sensor.power_phase3 was removed");
		k++;
	}
	assert_int_equal(k, sizeof(want) / sizeof(want[0]));
	free(buf);
}

static void test_calculate_stream(void **state)
{
	(void)state;
	size_t len;
	char *buf = pmt_load("homeassistant/stream_calculate.jsonl", &len);
	struct pm_ha_model m;
	init_ok(&m, NULL, true, "sensor.power_input", "sensor.power_output");
	char *save = NULL;
	struct pm_ha_msg_info info;
	char *l1 = strtok_r(buf, "\n", &save);
	char *l2 = strtok_r(NULL, "\n", &save);
	char *l3 = strtok_r(NULL, "\n", &save);
	char *l4 = strtok_r(NULL, "\n", &save);
	assert_non_null(l4);
	(void)l1;
	(void)l2;
	event(&m, l3, &info);
	assert_int_equal(info.updates, 2); /* temperature is not tracked */
	expect_values(&m, 1, (const double[]){800});
	event(&m, l4, &info);
	expect_values(&m, 1, (const double[]){-300});
	free(buf);
}

/* The reference's three-phase power-calculate test. */
static void test_three_phase_calculated(void **state)
{
	(void)state;
	struct pm_ha_model m;
	init_ok(&m, "", true, "sensor.power_in_1,sensor.power_in_2,sensor.power_in_3",
	        "sensor.power_out_1,sensor.power_out_2,sensor.power_out_3");
	struct pm_ha_msg_info info;
	event(&m,
	      "{\"type\":\"event\",\"event\":{\"a\":{"
	      "\"sensor.power_in_1\":{\"s\":\"1000\"},\"sensor.power_out_1\":{\"s\":\"200\"},"
	      "\"sensor.power_in_2\":{\"s\":\"2000\"},\"sensor.power_out_2\":{\"s\":\"300\"},"
	      "\"sensor.power_in_3\":{\"s\":\"3000\"},\"sensor.power_out_3\":{\"s\":\"400\"}}}}",
	      &info);
	expect_values(&m, 3, (const double[]){800, 1700, 2600});
}

static void test_touch_before_value_is_ignored(void **state)
{
	(void)state;
	struct pm_ha_model m;
	init_ok(&m, "sensor.current_power", false, NULL, NULL);
	struct pm_ha_msg_info info;
	event(&m,
	      "{\"id\":1,\"type\":\"event\",\"event\":{\"c\":{\"sensor.current_power\":"
	      "{\"+\":{\"lu\":1000.0}}}}}",
	      &info);
	assert_false(info.fresh);
	assert_int_equal(info.updates, 0);
	event(&m,
	      "{\"type\":\"event\",\"event\":{\"c\":{\"sensor.current_power\":"
	      "{\"+\":{\"s\":\"42\"}}}}}",
	      &info);
	assert_true(info.fresh);
	/* lc-only touch with a value: fresh, value kept */
	event(&m,
	      "{\"type\":\"event\",\"event\":{\"c\":{\"sensor.current_power\":"
	      "{\"+\":{\"lc\":1001.0}}}}}",
	      &info);
	assert_true(info.fresh);
	expect_values(&m, 1, (const double[]){42});
	/* a "+" without s, lu or lc (attributes only) is no push */
	event(&m,
	      "{\"type\":\"event\",\"event\":{\"c\":{\"sensor.current_power\":"
	      "{\"+\":{\"a\":{\"x\":1}}}}}}",
	      &info);
	assert_false(info.fresh);
}

static void test_states(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		bool ok;
		double v;
	} cases[] = {
	        {"\"1000\"", true, 1000},
	        {"\"-12.5\"", true, -12.5},
	        {"\" 7 \"", true, 7},
	        {"123.25", true, 123.25},
	        {"\"1e3\"", true, 1000},
	        {"null", false, 0},
	        {"\"unavailable\"", false, 0},
	        {"\"unknown\"", false, 0},
	        {"\"\"", false, 0},
	        {"\"nan\"", false, 0},
	        {"\"inf\"", false, 0},
	        {"\"0x10\"", false, 0},
	        {"[1]", false, 0},
	        {"{}", false, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pm_ha_model m;
		init_ok(&m, "sensor.p", false, NULL, NULL);
		char msg[256];
		snprintf(msg, sizeof(msg),
		         "{\"type\":\"event\",\"event\":{\"a\":{\"sensor.p\":{\"s\":%s}}}}",
		         cases[i].s);
		struct pm_ha_msg_info info;
		event(&m, msg, &info);
		assert_int_equal(m.valid[0], cases[i].ok);
		assert_int_equal(info.fresh, cases[i].ok);
		assert_int_equal(info.invalidated, !cases[i].ok);
		if (cases[i].ok)
			assert_float_equal(m.val[0], cases[i].v, 1e-9);
	}
}

static void test_invalidate_on_reconnect(void **state)
{
	(void)state;
	struct pm_ha_model m;
	init_ok(&m, "sensor.current_power", false, NULL, NULL);
	struct pm_ha_msg_info info;
	event(&m,
	      "{\"type\":\"event\",\"event\":{\"a\":{\"sensor.current_power\":{\"s\":\"100\"}}}}",
	      &info);
	expect_values(&m, 1, (const double[]){100});
	pm_ha_model_invalidate(&m);
	expect_missing(&m, "sensor.current_power");
	event(&m,
	      "{\"type\":\"event\",\"event\":{\"a\":{\"sensor.current_power\":{\"s\":\"250\"}}}}",
	      &info);
	expect_values(&m, 1, (const double[]){250});
}

static void test_control_messages(void **state)
{
	(void)state;
	struct pm_ha_model m;
	init_ok(&m, "sensor.p", false, NULL, NULL);
	struct pm_ha_msg_info info;
	size_t len;
	char *b = pmt_load("homeassistant/auth_invalid.json", &len);
	assert_int_equal(pm_ha_handle_message(&m, b, len, &info), HA_MSG_AUTH_INVALID);
	assert_string_equal(info.message, "Invalid access token or password");
	free(b);
	b = pmt_load("homeassistant/subscribe_failed.json", &len);
	assert_int_equal(pm_ha_handle_message(&m, b, len, &info), HA_MSG_RESULT);
	assert_int_equal(info.id, 1);
	assert_false(info.success);
	assert_string_equal(info.message, "Entity IDs must be valid");
	free(b);
	assert_int_equal(pm_ha_handle_message(&m, MSG("{\"type\":\"pong\",\"id\":3}"), &info),
	                 HA_MSG_OTHER);
	assert_int_equal(pm_ha_handle_message(&m, MSG("{\"id\":3}"), &info), HA_MSG_OTHER);
	for (size_t i = 0; i < PMT_N_GARBAGE; i++) {
		enum pm_ha_msg_type t = pm_ha_handle_message(&m, PMT_BODY(pmt_garbage[i]), &info);
		assert_int_equal(t, HA_MSG_BAD);
	}
	/* malformed events change nothing */
	static const char *const odd[] = {
	        "{\"type\":\"event\"}",
	        "{\"type\":\"event\",\"event\":[]}",
	        "{\"type\":\"event\",\"event\":{\"a\":[],\"c\":1,\"r\":{}}}",
	        "{\"type\":\"event\",\"event\":{\"a\":{\"sensor.p\":1}}}",
	        "{\"type\":\"event\",\"event\":{\"a\":{\"sensor.p\":{}}}}",
	        "{\"type\":\"event\",\"event\":{\"c\":{\"sensor.p\":{\"+\":1}}}}",
	        "{\"type\":\"event\",\"event\":{\"r\":[1,null,\"sensor.q\"]}}",
	};
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		event(&m, odd[i], &info);
		assert_int_equal(info.updates, 0);
	}
}

static void test_seed(void **state)
{
	(void)state;
	struct pm_ha_model m;
	init_ok(&m, "sensor.current_power", false, NULL, NULL);
	size_t len;
	struct err e = {{0}};
	char *b = pmt_load("homeassistant/rest_state.json", &len);
	assert_int_equal(pm_ha_apply_seed(&m, 0, b, len, &e), 1);
	expect_values(&m, 1, (const double[]){123});
	/* a pushed value is newer: the seed does not overwrite it */
	struct pm_ha_msg_info info;
	event(&m,
	      "{\"type\":\"event\",\"event\":{\"a\":{\"sensor.current_power\":{\"s\":\"999\"}}}}",
	      &info);
	assert_int_equal(pm_ha_apply_seed(&m, 0, b, len, &e), 0);
	expect_values(&m, 1, (const double[]){999});
	free(b);
	pm_ha_model_invalidate(&m);
	b = pmt_load("homeassistant/rest_unavailable.json", &len);
	assert_int_equal(pm_ha_apply_seed(&m, 0, b, len, &e), 0);
	assert_false(m.valid[0]);
	free(b);
	assert_int_equal(pm_ha_apply_seed(&m, 0, MSG("[1,2]"), &e), -1);
	assert_int_equal(pm_ha_apply_seed(&m, 0, MSG("{\"state\":"), &e), -1);
	assert_int_equal(pm_ha_apply_seed(&m, 5, MSG("{}"), &e), -1);
}

static void test_outgoing(void **state)
{
	(void)state;
	char *s = pm_ha_msg_auth("tok\"en");
	assert_string_equal(s, "{\"type\":\"auth\",\"access_token\":\"tok\\\"en\"}");
	free(s);
	struct pm_ha_model m;
	init_ok(&m, "sensor.power_phase3,sensor.power_phase1,sensor.power_phase2", false, NULL,
	        NULL);
	s = pm_ha_msg_subscribe(&m, 1);
	assert_string_equal(s, "{\"id\":1,\"type\":\"subscribe_entities\",\"entity_ids\":["
	                       "\"sensor.power_phase1\",\"sensor.power_phase2\","
	                       "\"sensor.power_phase3\"]}");
	free(s);
	/* calculate mode subscribes inputs and outputs */
	init_ok(&m, NULL, true, "sensor.power_input", "sensor.power_output");
	s = pm_ha_msg_subscribe(&m, 7);
	cJSON *j = cJSON_Parse(s);
	assert_non_null(j);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "entity_ids")), 2);
	cJSON_Delete(j);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_config_lists),
	        cmocka_unit_test(test_recorded_stream),
	        cmocka_unit_test(test_calculate_stream),
	        cmocka_unit_test(test_three_phase_calculated),
	        cmocka_unit_test(test_touch_before_value_is_ignored),
	        cmocka_unit_test(test_states),
	        cmocka_unit_test(test_invalidate_on_reconnect),
	        cmocka_unit_test(test_control_messages),
	        cmocka_unit_test(test_seed),
	        cmocka_unit_test(test_outgoing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
