/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The control-field table (bounds, wire units, retained, offered, state-file keys) and the
 * MQTT command parser (topic shapes, upstream's accepted payloads, refusals). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "astrameter/bal_fields.h"
#include "astrameter/mq_command.h"

static int cmd(const char *topic, const char *payload, struct mq_command *c, struct err *e)
{
	return mq_command_parse("astrameter", topic, payload, payload ? strlen(payload) : 0, c, e);
}

#define T(field) "astrameter/ct002/device-1/consumer/02aabbcc0001/" field "/set"

static void test_table(void **st)
{
	(void)st;
	for (int i = 0; i < BAL_F_COUNT; i++) {
		const struct bal_field *f = bal_field_get((enum bal_field_id)i);
		assert_int_equal(f->id, i);
		assert_ptr_equal(bal_field_find(f->scope, f->name, strlen(f->name)), f);
		assert_non_null(f->apply);
		/* only the button is not retained (a retained press fires on every reconnect) */
		assert_true(f->retained == (f->type != BAL_FT_BUTTON));
	}
	const struct bal_field *w = bal_field_get(BAL_F_EFFICIENCY_WINDOW_WEIGHT);
	assert_string_equal(w->unit, "%");
	assert_true(w->max == 100.0 && w->scale == 0.01);
	assert_true(bal_field_get(BAL_F_MANUAL_TARGET)->min == -10000.0);
	assert_true(bal_field_get(BAL_F_MIN_DC_OUTPUT)->max == 1000.0);
	assert_null(bal_field_find(BAL_FS_DEVICE, "active", 6));
	assert_null(bal_field_find(BAL_FS_BATTERY, "activ", 5));
	/* offered: window weight and the button with efficiency rotation; min DC for B2500 */
	const struct bal_field *m = bal_field_get(BAL_F_MIN_DC_OUTPUT);
	assert_true(bal_field_offered(m, "HMA-1", false));
	assert_true(bal_field_offered(m, "hmj-2", false));
	assert_false(bal_field_offered(m, "HMG-50", false));
	assert_false(bal_field_offered(m, NULL, true));
	assert_false(bal_field_offered(w, "HMA-1", false));
	assert_true(bal_field_offered(w, "HMA-1", true));
}

static void test_apply_read_wire(void **st)
{
	(void)st;
	struct bal_config cfg;
	bal_config_defaults(&cfg);
	struct balancer *b = bal_create(&cfg, 1000);
	struct err e;
	struct bal_field_ctx x = {.b = b, .id = "aa", .now = 2000};
	const struct bal_field *w = bal_field_get(BAL_F_EFFICIENCY_WINDOW_WEIGHT);
	struct bal_value v = {.set = true, .num = 100.0};
	assert_int_equal(bal_field_apply_wire(w, &x, &v, &e), 0);
	struct bal_controls c;
	bal_get_controls(b, "aa", &c);
	assert_true(c.eff_window_weight == 1.0);
	v.num = 35;
	assert_int_equal(bal_field_apply_wire(w, &x, &v, &e), 0);
	struct bal_value r;
	assert_int_equal(bal_field_read_wire(w, b, "aa", &r), 0);
	assert_true(fabs(r.num - 35) < 1e-9);
	v.num = 100.5;
	assert_int_equal(bal_field_apply_wire(w, &x, &v, &e), -1);
	assert_non_null(strstr(e.msg, "out of range [0, 100] %"));
	/* min DC: none until set; the setter refuses what the table refuses */
	const struct bal_field *m = bal_field_get(BAL_F_MIN_DC_OUTPUT);
	assert_int_equal(bal_field_read_wire(m, b, "aa", &r), 0);
	assert_false(r.set);
	assert_int_equal(bal_set_min_dc_output(b, "aa", 1000.5, &e), -1);
	assert_int_equal(bal_set_manual_target(b, "aa", -10000.5, &e), -1);
	assert_int_equal(bal_set_manual_target(b, "aa", -10000, &e), 0);
	/* device fields */
	const struct bal_field *ac = bal_field_get(BAL_F_ACTIVE_CONTROL);
	v = (struct bal_value){.set = true, .b = false};
	assert_int_equal(bal_field_apply_wire(ac, &x, &v, &e), 0);
	assert_int_equal(bal_field_read_wire(ac, b, NULL, &r), 0);
	assert_false(r.b);
	assert_int_equal(bal_field_read_wire(bal_field_get(BAL_F_FORCE_ROTATION), b, NULL, &r), -1);
	/* formatting for the retained mirror */
	char buf[32];
	v = (struct bal_value){.set = true, .num = 0.1};
	assert_int_equal(bal_field_format(w, &v, buf, sizeof(buf)), 3);
	assert_string_equal(buf, "0.1");
	v.b = true;
	assert_int_equal(bal_field_format(ac, &v, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "true");
	assert_int_equal(bal_field_format(bal_field_get(BAL_F_FORCE_ROTATION), &v, buf, 32), -1);
	bal_destroy(b);
}

static void test_state_file_bounds(void **st)
{
	(void)st;
	struct bal_config cfg;
	bal_config_defaults(&cfg);
	struct balancer *b = bal_create(&cfg, 1000);
	struct err e;
	/* the file accepts exactly the table's bounds (internal units) */
	static const char ok[] = "astrameter-controls 1\nconsumer aa active=1 auto=0 "
	                         "manual=-10000 weight=10 eff_weight=1 min_dc=1000\n";
	assert_int_equal(bal_controls_parse(b, ok, strlen(ok), &e), 0);
	static const char *const bad[] = {
	        "astrameter-controls 1\nconsumer aa manual=10000.5\n",
	        "astrameter-controls 1\nconsumer aa min_dc=1001\n",
	        "astrameter-controls 1\nconsumer aa eff_weight=1.01\n",
	};
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(bal_controls_parse(b, bad[i], strlen(bad[i]), &e), -1);
	char out[BAL_CONTROLS_TEXT_MAX];
	assert_true(bal_controls_serialize(b, out, sizeof(out)) > 0);
	assert_non_null(strstr(out, "consumer aa active=1 auto=0 manual=-10000 weight=10 "
	                            "eff_weight=1 min_dc=1000\n"));
	bal_destroy(b);
}

static void test_battery_commands(void **st)
{
	(void)st;
	struct mq_command c;
	struct err e;
	static const char *const yes[] = {"true", "ON", " on\n", "1", "True"};
	static const char *const no[] = {"false", "OFF", "0", "\tFalse "};
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(cmd(T("active"), yes[i], &c, &e), 0);
		assert_int_equal(c.kind, MQ_CMD_BATTERY);
		assert_string_equal(c.device, "device-1");
		assert_string_equal(c.consumer, "02aabbcc0001");
		assert_int_equal(c.field->id, BAL_F_ACTIVE);
		assert_true(c.value.b);
	}
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(cmd(T("auto_target"), no[i], &c, &e), 0);
		assert_false(c.value.b);
	}
	static const char *const badbool[] = {"yes", "2", "1.0", "tru", "on off"};
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(cmd(T("active"), badbool[i], &c, &e), -1);
		assert_non_null(strstr(e.msg, "active"));
	}
	/* numbers as Python's float() reads them, then bounds */
	static const struct {
		const char *p;
		double v;
	} nums[] = {{"250", 250},        {" -10000 ", -10000}, {"1e3", 1000},
	            {"1_000.5", 1000.5}, {".5", 0.5},          {"5.", 5},
	            {"+7", 7},           {"1E+2", 100}};
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		assert_int_equal(cmd(T("manual_target"), nums[i].p, &c, &e), 0);
		assert_true(c.value.num == nums[i].v);
	}
	static const char *const badnum[] = {"0x10", "nan",  "inf", "-Infinity", "1__0",
	                                     "_1",   "1_",   "1e",  "e3",        "10001",
	                                     "1 0",  "true", "."};
	for (size_t i = 0; i < sizeof(badnum) / sizeof(badnum[0]); i++)
		assert_int_equal(cmd(T("manual_target"), badnum[i], &c, &e), -1);
	assert_int_equal(cmd(T("efficiency_window_weight"), "100", &c, &e), 0);
	assert_true(c.value.num == 100); /* wire units: percent */
	assert_int_equal(cmd(T("efficiency_window_weight"), "101", &c, &e), -1);
	assert_non_null(strstr(e.msg, "[0, 100] %"));
	assert_int_equal(cmd(T("distribution_weight"), "10.01", &c, &e), -1);
	assert_int_equal(cmd(T("min_dc_output"), "-1", &c, &e), -1);
	assert_int_equal(cmd(T("min_dc_output"), "1000", &c, &e), 0);
	/* empty payload: a cleared retained command */
	assert_int_equal(cmd(T("manual_target"), "", &c, &e), 0);
	assert_true(c.clear);
	assert_int_equal(cmd(T("manual_target"), "  ", &c, &e), 0);
	assert_true(c.clear);
	/* unknown field, bad shapes */
	assert_int_equal(cmd(T("force_rotation"), "true", &c, &e), -1);
	assert_non_null(strstr(e.msg, "unknown consumer field"));
	assert_int_equal(cmd("astrameter/ct002/device-1/consumer/aa/set", "1", &c, &e), -1);
	assert_int_equal(cmd("astrameter/ct002/device-1/consumer/a/b/active/set", "1", &c, &e), -1);
	assert_int_equal(cmd("astrameter/ct002//consumer/aa/active/set", "1", &c, &e), -1);
	/* a NUL inside the payload is refused */
	assert_int_equal(mq_command_parse("astrameter", T("active"), "1\0", 2, &c, &e), -1);
	char big[MQ_CMD_PAYLOAD_MAX + 2];
	memset(big, '1', sizeof(big));
	assert_int_equal(
	        mq_command_parse("astrameter", T("manual_target"), big, sizeof(big), &c, &e), -1);
}

static void test_device_commands(void **st)
{
	(void)st;
	struct mq_command c;
	struct err e;
	const char *t = "astrameter/ct002/device-1/set";
	assert_int_equal(cmd(t, "{\"force_rotation\": true}", &c, &e), 0);
	assert_int_equal(c.kind, MQ_CMD_DEVICE);
	assert_true(c.force_rotation);
	assert_false(c.has_active_control);
	assert_int_equal(cmd(t, "{\"force_rotation\": 1}", &c, &e), 0);
	assert_false(c.force_rotation); /* only JSON true, as upstream's "is True" */
	assert_int_equal(cmd(t, "{\"active_control\": false}", &c, &e), 0);
	assert_true(c.has_active_control && !c.active_control);
	assert_int_equal(cmd(t, "{\"active_control\": \"on\"}", &c, &e), -1);
	assert_non_null(strstr(e.msg, "active_control"));
	assert_int_equal(cmd(t, "[true]", &c, &e), -1);
	assert_int_equal(cmd(t, "{\"active_control\": tru", &c, &e), -1);
	assert_int_equal(cmd(t, "", &c, &e), 0); /* cleared retained */
	assert_false(c.force_rotation || c.has_active_control);
	assert_int_equal(cmd("astrameter/ct002/a/b/set", "{}", &c, &e), -1);
	/* not ours */
	assert_int_equal(cmd("astrameter/ct003/device-1/set", "{}", &c, &e), 1);
	assert_int_equal(cmd("other/ct002/device-1/set", "{}", &c, &e), 1);
	assert_int_equal(cmd("astrameter/ct002/device-1/status", "{}", &c, &e), 1);
	assert_int_equal(cmd("astrameter/ct002/set", "{}", &c, &e), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_table),
	        cmocka_unit_test(test_apply_read_wire),
	        cmocka_unit_test(test_state_file_bounds),
	        cmocka_unit_test(test_battery_commands),
	        cmocka_unit_test(test_device_commands),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
