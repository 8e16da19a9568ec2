/* SPDX-License-Identifier: GPL-3.0-or-later */
/* TASMOTA parser: labels, label pairs, broken bodies. */
#include "pm_test_util.h"
#include "astrameter/pm_parsers.h"

static void test_recorded(void **state)
{
	(void)state;
	size_t len;
	struct pm_reading r;
	struct err e = {{0}};
	char *b = pmt_load("tasmota/energy.json", &len);
	const char *one[] = {"Power"};
	struct pm_tasmota_cfg c1 = {
	        .status = "StatusSNS", .prefix = "ENERGY", .labels = one, .n_labels = 1};
	assert_int_equal(pm_tasmota_parse(b, len, &c1, &r, &e), 0);
	assert_int_equal(r.n, 1);
	assert_float_equal(r.w[0], 123, 0);
	free(b);

	b = pmt_load("tasmota/three_phase.json", &len);
	const char *three[] = {"Power_L1", "Power_L2", "Power_L3"};
	struct pm_tasmota_cfg c3 = {
	        .status = "StatusSNS", .prefix = "eBZ", .labels = three, .n_labels = 3};
	assert_int_equal(pm_tasmota_parse(b, len, &c3, &r, &e), 0);
	assert_int_equal(r.n, 3);
	assert_float_equal(r.w[0], 100, 0);
	assert_float_equal(r.w[2], 300, 0);
	free(b);

	b = pmt_load("tasmota/calculate.json", &len);
	const char *in[] = {"In_L1", "In_L2", "In_L3"}, *out[] = {"Out_L1", "Out_L2", "Out_L3"};
	struct pm_tasmota_cfg cc = {.status = "StatusSNS",
	                            .prefix = "SML",
	                            .calculate = true,
	                            .in = in,
	                            .out = out,
	                            .n_pairs = 3};
	assert_int_equal(pm_tasmota_parse(b, len, &cc, &r, &e), 0);
	assert_int_equal(r.n, 3);
	assert_float_equal(r.w[0], 900, 0);
	assert_float_equal(r.w[1], 1800, 0);
	assert_float_equal(r.w[2], 2700, 0);
	free(b);
}

static void test_broken(void **state)
{
	(void)state;
	const char *one[] = {"Power"};
	struct pm_tasmota_cfg c = {
	        .status = "StatusSNS", .prefix = "ENERGY", .labels = one, .n_labels = 1};
	static const struct {
		const char *body, *msg;
	} bad[] = {
	        {"{\"StatusSNS\": {\"ENERGY\": {}}}", "missing field 'Power'"},
	        {"{\"StatusSNS\": {}}", "missing field 'ENERGY'"},
	        {"{\"Status\": {}}", "missing field 'StatusSNS'"},
	        {"{\"StatusSNS\": {\"ENERGY\": {\"Power\": null}}}", "null"},
	        {"{\"StatusSNS\": {\"ENERGY\": {\"Power\": \"x\"}}}", "not an integer"},
	        {"{\"StatusSNS\": {\"ENERGY\": {\"Power\": 1e99}}}", "out of range"},
	        {"{\"StatusSNS\": {\"ENERGY\": [1]}}", "expected an object"},
	        {"{\"StatusSNS\": {\"ENERGY\": {\"Power\": 1", "not valid JSON"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pm_reading r;
		struct err e = {{0}};
		int rc = pm_tasmota_parse(PMT_BODY(bad[i].body), &c, &r, &e);
		if (rc != -1 || !strstr(e.msg, bad[i].msg))
			fail_msg("case %zu: rc %d '%s'", i, rc, e.msg);
	}
	for (size_t i = 0; i < PMT_N_GARBAGE; i++) {
		struct pm_reading r;
		struct err e;
		assert_int_equal(pm_tasmota_parse(PMT_BODY(pmt_garbage[i]), &c, &r, &e), -1);
	}
	/* calculate with a missing output label */
	const char *in[] = {"In"}, *out[] = {"Out"};
	struct pm_tasmota_cfg cc = {.status = "S",
	                            .prefix = "P",
	                            .calculate = true,
	                            .in = in,
	                            .out = out,
	                            .n_pairs = 1};
	struct pm_reading r;
	struct err e;
	assert_int_equal(pm_tasmota_parse(PMT_BODY("{\"S\":{\"P\":{\"In\":5}}}"), &cc, &r, &e), -1);
	assert_non_null(strstr(e.msg, "'Out'"));
	assert_int_equal(
	        pm_tasmota_parse(PMT_BODY("{\"S\":{\"P\":{\"In\":5,\"Out\":7}}}"), &cc, &r, &e), 0);
	assert_float_equal(r.w[0], -2, 0);
	struct pm_tasmota_cfg none = {.status = "S", .prefix = "P"};
	assert_int_equal(pm_tasmota_parse(PMT_BODY("{}"), &none, &r, &e), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_recorded),
	        cmocka_unit_test(test_broken),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
