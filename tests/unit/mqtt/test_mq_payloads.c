/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The MQTT insights payload builders against the reference's own output: every publish
 * of tests/fixtures/mqtt_insights/publishes.json (the reference's service and discovery
 * code run for one CT002 with three batteries, a Shelly device and one powermeter; see
 * that folder's README) and builders.json (direct builder calls for the variants) is
 * rebuilt from the same inputs and compared as parsed JSON, key order irrelevant, numbers
 * by value. The only differences allowed are the listed 2.3.0 changes, and each of those
 * is checked for its own expected content. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <cmocka.h>

#include "astrameter/mq_discovery.h"
#include "astrameter/mq_state.h"

static cJSON *load(const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/mqtt_insights/%s", AM_FIXTURES, name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	static char buf[1 << 17];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	cJSON *j = cJSON_Parse(buf);
	assert_non_null(j);
	return j;
}

/* The nth (0-based) publish on topic. */
static const cJSON *publish(const cJSON *pubs, const char *topic, int nth)
{
	const cJSON *p;
	cJSON_ArrayForEach(p, pubs)
	{
		const cJSON *t = cJSON_GetObjectItem(p, "topic");
		if (strcmp(t->valuestring, topic) == 0 && nth-- == 0)
			return cJSON_GetObjectItem(p, "payload");
	}
	fail_msg("no publish #%d on %s in the fixture", nth, topic);
	return NULL;
}

static const cJSON *builder(const cJSON *list, const char *name, const char **topic)
{
	const cJSON *p;
	cJSON_ArrayForEach(p, list)
	{
		if (strcmp(cJSON_GetObjectItem(p, "name")->valuestring, name) == 0) {
			*topic = cJSON_GetObjectItem(p, "topic")->valuestring;
			return cJSON_GetObjectItem(p, "payload");
		}
	}
	fail_msg("no builder fixture %s", name);
	return NULL;
}

static bool allowed(const char *path, const char *const *allow)
{
	for (; allow && *allow; allow++) {
		size_t n = strlen(*allow);
		if (strncmp(path, *allow, n) == 0 && (path[n] == '\0' || path[n] == '.'))
			return true;
	}
	return false;
}

/* Differences between ref and ours, except under allowed paths; prints each. */
static int diff(const cJSON *ref, const cJSON *ours, const char *path, const char *const *allow)
{
	if (allowed(path, allow))
		return 0;
	if (!ref || !ours) {
		printf("  %s: %s\n", path, ref ? "missing in ours" : "extra in ours");
		return 1;
	}
	if (cJSON_IsNumber(ref) && cJSON_IsNumber(ours)) {
		if (ref->valuedouble != ours->valuedouble) {
			printf("  %s: %g != %g\n", path, ref->valuedouble, ours->valuedouble);
			return 1;
		}
		return 0;
	}
	if ((ref->type & 0xff) != (ours->type & 0xff)) {
		printf("  %s: type %d != %d\n", path, ref->type & 0xff, ours->type & 0xff);
		return 1;
	}
	if (cJSON_IsString(ref)) {
		if (strcmp(ref->valuestring, ours->valuestring) != 0) {
			printf("  %s: \"%s\" != \"%s\"\n", path, ref->valuestring,
			       ours->valuestring);
			return 1;
		}
		return 0;
	}
	int bad = 0;
	char sub[512];
	if (cJSON_IsArray(ref)) {
		int n = cJSON_GetArraySize(ref), m = cJSON_GetArraySize(ours);
		if (n != m) {
			printf("  %s: %d items != %d\n", path, n, m);
			return 1;
		}
		for (int i = 0; i < n; i++) {
			snprintf(sub, sizeof(sub), "%s.%d", path, i);
			bad += diff(cJSON_GetArrayItem(ref, i), cJSON_GetArrayItem(ours, i), sub,
			            allow);
		}
		return bad;
	}
	if (cJSON_IsObject(ref)) {
		const cJSON *c;
		cJSON_ArrayForEach(c, ref)
		{
			snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", c->string);
			bad += diff(c, cJSON_GetObjectItemCaseSensitive(ours, c->string), sub,
			            allow);
		}
		cJSON_ArrayForEach(c, ours)
		{
			if (cJSON_GetObjectItemCaseSensitive(ref, c->string))
				continue;
			snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", c->string);
			bad += diff(NULL, c, sub, allow);
		}
		return bad;
	}
	return 0; /* true/false/null: the type said it all */
}

static cJSON *parse(const char *buf, int n)
{
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	cJSON *j = cJSON_Parse(buf);
	if (!j)
		fail_msg("our payload is not JSON: %s", buf);
	return j;
}

static void same(const cJSON *ref, const char *ours, int n, const char *const *allow)
{
	cJSON *o = parse(ours, n);
	int bad = diff(ref, o, "", allow);
	cJSON_Delete(o);
	assert_int_equal(bad, 0);
}

static const struct mq_disc_ctx ctx = {
        .base = "astrameter", .prefix = "homeassistant", .hub_id = "astrameter_astrameter"};

/* ---- state payloads -------------------------------------------------------------------- */

struct bat {
	const char *cid, *type, *ip;
	char phase;
	long reported;
	double target[3], sat;
	bool has_lt;
	double lt;
	bool has_poll;
	double poll;
};
static const struct bat bats[3] = {
        {"02aabbcc0001", "HMA-1", "192.168.1.21", 'A', 120, {150, 0, 0}, 0.0, true, 150, true, 1.0},
        {"02aabbcc0002",
         "HMG-50",
         "192.168.1.22",
         'B',
         -80,
         {0, -40, 0},
         0.25,
         true,
         -40,
         true,
         2.1},
        {"02aabbcc0003", "VNSE3-0", "192.168.1.23", 'C', 0, {0, 0, 12}, 1.0, false, 0, false, 0},
};

static void consumer_state(int i, struct mq_consumer_state *s)
{
	const struct bat *b = &bats[i];
	*s = (struct mq_consumer_state){
	        .grid = {310.0, -20.5, 45.0},
	        .target = {b->target[0], b->target[1], b->target[2]},
	        .phase = b->phase,
	        .reported_power = b->reported,
	        .device_type = b->type,
	        .battery_ip = b->ip,
	        .ct_type = "HME-4",
	        .ct_mac = "02b250000001",
	        .saturation = b->sat,
	        .has_last_target = b->has_lt,
	        .last_target = b->lt,
	        .active = i != 2,
	        .has_poll_interval = b->has_poll,
	        .poll_interval = b->poll,
	        .has_answer_interval = i == 0,
	        .answer_interval = 1.0,
	        .last_seen = "2026-07-01T12:00:00.000000+00:00",
	        .has_manual_target = i == 1,
	        .manual_target = 250.0,
	        .auto_target = i != 1,
	        .distribution_weight = i == 0 ? 1.5 : 1.0,
	        .efficiency_window_weight = i == 0 ? 0.5 : 1.0,
	        .has_min_dc_output = i == 0,
	        .min_dc_output = 80.0,
	};
}

static void test_consumer_state(void **st)
{
	(void)st;
	cJSON *pubs = load("publishes.json");
	char buf[MQ_STATE_MAX], topic[128];
	static const char *const allow[] = {"answer_interval", NULL}; /* 2.3.0 */
	for (int i = 0; i < 3; i++) {
		struct mq_consumer_state s;
		consumer_state(i, &s);
		int n = mq_consumer_state_json(&s, buf, sizeof(buf));
		snprintf(topic, sizeof(topic), "astrameter/ct002/device-1/consumer/%s",
		         bats[i].cid);
		same(publish(pubs, topic, 0), buf, n, allow);
		cJSON *o = parse(buf, n);
		const cJSON *ai = cJSON_GetObjectItem(o, "answer_interval");
		assert_true(i == 0 ? cJSON_IsNumber(ai) : cJSON_IsNull(ai));
		cJSON_Delete(o);
	}
	/* too small a buffer: -1, never a cut payload */
	struct mq_consumer_state s;
	consumer_state(0, &s);
	assert_int_equal(mq_consumer_state_json(&s, buf, 64), -1);
	cJSON_Delete(pubs);
}

static void test_device_states(void **st)
{
	(void)st;
	cJSON *pubs = load("publishes.json");
	char buf[MQ_STATE_MAX];
	for (int i = 0; i < 3; i++) {
		struct mq_ct002_status s = {
		        .smooth_target = 334.5, .active_control = true, .consumer_count = i + 1};
		int n = mq_ct002_status_json(&s, buf, sizeof(buf));
		same(publish(pubs, "astrameter/ct002/device-1/status", i), buf, n, NULL);
	}
	/* 2.3.0: the control-quality keys; null where unknown, band never null */
	struct mq_quality q = {.verdict = "warmup", .band_w = 25};
	struct mq_ct002_status s = {
	        .smooth_target = 334.5, .active_control = true, .consumer_count = 3, .quality = &q};
	static const char *const allow[] = {"control_quality",
	                                    "control_quality_score",
	                                    "control_quality_error_w",
	                                    "control_quality_in_band_pct",
	                                    "control_quality_crossings_per_min",
	                                    "control_quality_band_w",
	                                    NULL};
	int n = mq_ct002_status_json(&s, buf, sizeof(buf));
	same(publish(pubs, "astrameter/ct002/device-1/status", 2), buf, n, allow);
	cJSON *o = parse(buf, n);
	assert_string_equal(cJSON_GetObjectItem(o, "control_quality")->valuestring, "warmup");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "control_quality_score")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "control_quality_crossings_per_min")));
	assert_int_equal(cJSON_GetObjectItem(o, "control_quality_band_w")->valueint, 25);
	cJSON_Delete(o);

	struct mq_shelly_battery_state sb = {.grid = {310.0, -20.5, 45.0},
	                                     .active = true,
	                                     .has_poll_interval = true,
	                                     .poll_interval = 1.0,
	                                     .last_seen = "2026-07-01T12:00:00.000000+00:00"};
	n = mq_shelly_battery_state_json(&sb, buf, sizeof(buf));
	same(publish(pubs, "astrameter/shelly/shelly-1/battery/192_168_1_30", 0), buf, n, NULL);
	n = mq_shelly_status_json(1, buf, sizeof(buf));
	same(publish(pubs, "astrameter/shelly/shelly-1/status", 0), buf, n, NULL);

	const double v3[3] = {310.0, -20.5, 45.0}, v1[1] = {100.0};
	n = mq_powermeter_health_json(true, v3, 3, buf, sizeof(buf));
	same(publish(pubs, "astrameter/powermeter/SHELLY_3EM", 0), buf, n, NULL);
	n = mq_powermeter_health_json(false, NULL, 0, buf, sizeof(buf));
	same(publish(pubs, "astrameter/powermeter/SHELLY_3EM", 1), buf, n, NULL);
	n = mq_powermeter_health_json(true, v1, 1, buf, sizeof(buf));
	same(publish(pubs, "astrameter/powermeter/SHELLY_3EM", 2), buf, n, NULL);

	/* bridge: consumer count after each discovery, version as the reference had it */
	static const int counts[] = {0, 1, 2, 3, 4, 3};
	for (int i = 0; i < 6; i++) {
		n = mq_bridge_json("unknown", counts[i], buf, sizeof(buf));
		same(publish(pubs, "astrameter/bridge", i), buf, n, NULL);
	}
	cJSON_Delete(pubs);
}

/* ---- discovery ------------------------------------------------------------------------- */

static void check_disc(const cJSON *pubs, const char *want_topic, int n, const char *topic,
                       const char *buf, const char *const *allow)
{
	assert_string_equal(topic, want_topic);
	same(publish(pubs, want_topic, 0), buf, n, allow);
}

static const cJSON *component(const cJSON *payload, const char *key)
{
	return cJSON_GetObjectItem(cJSON_GetObjectItem(payload, "components"), key);
}

static void test_discovery_setup(void **st)
{
	(void)st;
	cJSON *pubs = load("publishes.json");
	char topic[MQ_TOPIC_MAX], buf[MQ_DISCOVERY_MAX];
	int n = mq_disc_hub(&ctx, topic, sizeof(topic), buf, sizeof(buf));
	check_disc(pubs, "homeassistant/device/astrameter_addon_astrameter_astrameter/config", n,
	           topic, buf, NULL);

	static const char *const dev_allow[] = {"components.control_quality",
	                                        "components.control_quality_score",
	                                        "components.control_quality_error_w",
	                                        "components.control_quality_in_band_pct",
	                                        "components.control_quality_crossings_per_min",
	                                        NULL};
	n = mq_disc_ct002_device(&ctx, "device-1", true, topic, sizeof(topic), buf, sizeof(buf));
	check_disc(pubs, "homeassistant/device/astrameter_ct002_device-1/config", n, topic, buf,
	           dev_allow);
	cJSON *o = parse(buf, n);
	const cJSON *cq = component(o, "control_quality");
	assert_string_equal(cJSON_GetObjectItem(cq, "device_class")->valuestring, "enum");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cq, "options")), 5);
	assert_string_equal(cJSON_GetObjectItem(cq, "entity_category")->valuestring, "diagnostic");
	cJSON_Delete(o);

	static const char *const con_allow[] = {"components.last_seen",
	                                        "components.answer_interval",
	                                        "components.phase.options", NULL};
	for (int i = 0; i < 3; i++) {
		char want[256];
		snprintf(want, sizeof(want),
		         "homeassistant/device/astrameter_ct002_device-1_%s/config", bats[i].cid);
		n = mq_disc_ct002_consumer(&ctx, "device-1", bats[i].cid, bats[i].type, true, topic,
		                           sizeof(topic), buf, sizeof(buf));
		check_disc(pubs, want, n, topic, buf, con_allow);
		o = parse(buf, n);
		/* the retirement update: only the platform, so HA deletes Last Seen */
		const cJSON *ls = component(o, "last_seen");
		assert_int_equal(cJSON_GetArraySize(ls), 1);
		assert_string_equal(cJSON_GetObjectItem(ls, "platform")->valuestring, "sensor");
		const cJSON *opts = cJSON_GetObjectItem(component(o, "phase"), "options");
		assert_int_equal(cJSON_GetArraySize(opts), 4);
		assert_string_equal(cJSON_GetArrayItem(opts, 3)->valuestring, "D");
		const cJSON *ai = component(o, "answer_interval");
		char uid[128];
		snprintf(uid, sizeof(uid), "astrameter_ct002_device-1_%s_answer_interval",
		         bats[i].cid);
		assert_string_equal(cJSON_GetObjectItem(ai, "unique_id")->valuestring, uid);
		assert_string_equal(cJSON_GetObjectItem(ai, "device_class")->valuestring,
		                    "duration");
		/* min_dc_output only for the B2500 (HMA-1) */
		assert_true((component(o, "min_dc_output") != NULL) == (i == 0));
		cJSON_Delete(o);
	}

	static const char *const sb_allow[] = {"components.last_seen", NULL};
	n = mq_disc_shelly_device(&ctx, "shelly-1", topic, sizeof(topic), buf, sizeof(buf));
	check_disc(pubs, "homeassistant/device/astrameter_shelly_shelly-1/config", n, topic, buf,
	           NULL);
	n = mq_disc_shelly_battery(&ctx, "shelly-1", "192.168.1.30", topic, sizeof(topic), buf,
	                           sizeof(buf));
	check_disc(pubs, "homeassistant/device/astrameter_shelly_shelly-1_192_168_1_30/config", n,
	           topic, buf, sb_allow);
	n = mq_disc_powermeter(&ctx, "SHELLY_3EM", topic, sizeof(topic), buf, sizeof(buf));
	check_disc(pubs, "homeassistant/device/astrameter_powermeter_SHELLY_3EM/config", n, topic,
	           buf, NULL);
	o = parse(buf, n);
	assert_string_equal(
	        cJSON_GetObjectItem(cJSON_GetObjectItem(o, "device"), "name")->valuestring,
	        "AstraMeter Powermeter Shelly 3Em");
	cJSON_Delete(o);
	cJSON_Delete(pubs);
}

static void test_discovery_variants(void **st)
{
	(void)st;
	cJSON *list = load("builders.json");
	char topic[MQ_TOPIC_MAX], buf[MQ_DISCOVERY_MAX];
	const char *want;
	const cJSON *ref;
	struct mq_disc_ctx noslug = ctx;
	noslug.hub_id = NULL;
	static const char *const dev_allow[] = {"components.control_quality",
	                                        "components.control_quality_score",
	                                        "components.control_quality_error_w",
	                                        "components.control_quality_in_band_pct",
	                                        "components.control_quality_crossings_per_min",
	                                        NULL};
	static const char *const con_allow[] = {"components.last_seen",
	                                        "components.answer_interval",
	                                        "components.phase.options", NULL};

	ref = builder(list, "ct002_device_noeff_noslug", &want);
	int n = mq_disc_ct002_device(&noslug, "device-1", false, topic, sizeof(topic), buf,
	                             sizeof(buf));
	assert_string_equal(topic, want);
	same(ref, buf, n, dev_allow);

	ref = builder(list, "ct002_consumer_noeff_hma", &want);
	n = mq_disc_ct002_consumer(&ctx, "device-1", "02aabbcc0001", "HMA-1", false, topic,
	                           sizeof(topic), buf, sizeof(buf));
	assert_string_equal(topic, want);
	same(ref, buf, n, con_allow);

	/* odd ids: sanitised in ids, raw in topics, the MAC slug without '-'/'_' */
	ref = builder(list, "ct002_consumer_notype", &want);
	n = mq_disc_ct002_consumer(&ctx, "dev 2/x", "02:AA:bb-cc_01", NULL, false, topic,
	                           sizeof(topic), buf, sizeof(buf));
	assert_string_equal(topic, want);
	same(ref, buf, n, con_allow);

	ref = builder(list, "addon_slug", &want);
	struct mq_disc_ctx addon = {.base = "my/base", .prefix = "ha"};
	char hub[128];
	assert_true(mq_hub_id("a0d7b954_astrameter", "my/base", hub, sizeof(hub)) > 0);
	addon.hub_id = hub;
	n = mq_disc_hub(&addon, topic, sizeof(topic), buf, sizeof(buf));
	assert_string_equal(topic, want);
	same(ref, buf, n, NULL);

	ref = builder(list, "powermeter_noslug", &want);
	n = mq_disc_powermeter(&noslug, "pm_2nd_meter", topic, sizeof(topic), buf, sizeof(buf));
	assert_string_equal(topic, want);
	same(ref, buf, n, NULL);

	ref = builder(list, "shelly_device_noslug", &want);
	n = mq_disc_shelly_device(&noslug, "shelly-1", topic, sizeof(topic), buf, sizeof(buf));
	assert_string_equal(topic, want);
	same(ref, buf, n, NULL);
	cJSON_Delete(list);
}

static void test_ids(void **st)
{
	(void)st;
	char out[64];
	assert_int_equal(mq_sanitize_id("a.b c/d-e_f", out, sizeof(out)), 11);
	assert_string_equal(out, "a_b_c_d-e_f");
	/* one character, one '_' (Python str semantics) */
	assert_int_equal(mq_sanitize_id("z\xc3\xa4hler", out, sizeof(out)), 6);
	assert_string_equal(out, "z_hler");
	assert_int_equal(mq_sanitize_id("abcdef", out, 4), -1);
	assert_true(mq_hub_id(NULL, "my/base", out, sizeof(out)) > 0);
	assert_string_equal(out, "astrameter_my_base");
	assert_true(mq_hub_id("", "astrameter", out, sizeof(out)) > 0);
	assert_string_equal(out, "astrameter_astrameter");
	assert_true(mq_title_case("SMA_ENERGY_METER", out, sizeof(out)) > 0);
	assert_string_equal(out, "Sma Energy Meter");
	assert_true(mq_title_case("pm_2nd_meter", out, sizeof(out)) > 0);
	assert_string_equal(out, "Pm 2Nd Meter");
	/* a discovery payload that does not fit is refused, not cut */
	char topic[MQ_TOPIC_MAX], small[512];
	assert_int_equal(mq_disc_ct002_consumer(&ctx, "d", "c", "HMA-1", true, topic, sizeof(topic),
	                                        small, sizeof(small)),
	                 -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_consumer_state),
	        cmocka_unit_test(test_device_states),
	        cmocka_unit_test(test_discovery_setup),
	        cmocka_unit_test(test_discovery_variants),
	        cmocka_unit_test(test_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
