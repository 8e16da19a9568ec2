/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Simulated battery and its CT002 codec: golden frames from REFERENCE.md 1.10, malformed
 * frames, and the battery behaviours the reference simulator's battery tests pin down
 * (delayed targets, DC pass-through, own-phase steering, seeded motion, gate on own output,
 * B2500 DC steering, participate field, inspection phase). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "sim/sim_battery.h"
#include "sim/sim_ct.h"

static void test_ct_encode_golden(void **state)
{
	(void)state;
	char buf[256];
	const char *f1[] = {"HMG-50", "AABBCCDDEEFF", "HME-4", "112233445566", "5", "7"};
	int n = sim_ct_encode(f1, 6, buf, sizeof(buf));
	const char want1[] = "\x01\x02"
	                     "50|HMG-50|AABBCCDDEEFF|HME-4|112233445566|5|7\x03"
	                     "34";
	assert_int_equal(n, (int)sizeof(want1) - 1);
	assert_memory_equal(buf, want1, sizeof(want1) - 1);
	const char *f2[] = {"HMG-50", "AABBCCDDEEF2", "HME-4", "112233445566", "B", "150"};
	n = sim_ct_encode(f2, 6, buf, sizeof(buf));
	const char want2[] = "\x01\x02"
	                     "52|HMG-50|AABBCCDDEEF2|HME-4|112233445566|B|150\x03"
	                     "36";
	assert_int_equal(n, (int)sizeof(want2) - 1);
	assert_memory_equal(buf, want2, sizeof(want2) - 1);
	/* a field with '|' or a non-ASCII byte is refused; too small a buffer too */
	const char *bad[] = {"A|B"};
	assert_int_equal(sim_ct_encode(bad, 1, buf, sizeof(buf)), -1);
	const char *hi[] = {"\xc3\xa4"};
	assert_int_equal(sim_ct_encode(hi, 1, buf, sizeof(buf)), -1);
	assert_int_equal(sim_ct_encode(f1, 6, buf, 20), -1);
}

static const char relay_resp[] =
        "\x01\x02"
        "99|HME-4|112233445566|HMG-50|AABBCCDDEEF2|300|-50|0|250|1|1|0|0|-50|1|0|"
        "-200|0|0|0|0|0|150|0|0\x03"
        "69";

static void test_ct_decode_golden(void **state)
{
	(void)state;
	struct sim_ct_fields f;
	assert_int_equal(
	        sim_ct_decode((const unsigned char *)relay_resp, sizeof(relay_resp) - 1, &f), 0);
	assert_int_equal(f.n, 24);
	assert_string_equal(f.f[0], "HME-4");
	assert_string_equal(f.f[3], "AABBCCDDEEF2");
	assert_int_equal(sim_ct_field_int(&f, 4), 300);
	assert_int_equal(sim_ct_field_int(&f, 5), -50);
	assert_int_equal(sim_ct_field_int(&f, 15), -200);
	assert_int_equal(sim_ct_field_int(&f, 21), 150);
	assert_int_equal(sim_ct_field_int(&f, 99), 0);
	/* upper-case and space-padded checksums are accepted */
	unsigned char m[128];
	memcpy(m, relay_resp, sizeof(relay_resp) - 1);
	size_t len = sizeof(relay_resp) - 1;
	/* Like the reference parser, a space stands for any high nibble. */
	m[len - 2] = ' ';
	assert_int_equal(sim_ct_decode(m, len, &f), 0);
	m[len - 2] = '6';
	m[len - 1] = '9';
	assert_int_equal(sim_ct_decode(m, len, &f), 0);
}

static void test_ct_decode_checksum_variants(void **state)
{
	(void)state;
	/* Build a frame whose checksum has a zero high nibble to try the space form. */
	char buf[256];
	struct sim_ct_fields f;
	for (int p = 0; p < 400; p++) {
		char pw[16];
		snprintf(pw, sizeof(pw), "%d", p);
		const char *fl[] = {"HMG-50", "AABBCCDDEEFF", "HME-4", "112233445566", "A", pw};
		int n = sim_ct_encode(fl, 6, buf, sizeof(buf));
		assert_true(n > 0);
		assert_int_equal(sim_ct_decode((unsigned char *)buf, (size_t)n, &f), 0);
		assert_string_equal(f.f[5], pw);
		if (buf[n - 2] == '0') {
			buf[n - 2] = ' ';
			assert_int_equal(sim_ct_decode((unsigned char *)buf, (size_t)n, &f), 0);
			buf[n - 2] = '0';
		}
		if (buf[n - 1] >= 'a') {
			buf[n - 1] = (char)(buf[n - 1] - 'a' + 'A');
			assert_int_equal(sim_ct_decode((unsigned char *)buf, (size_t)n, &f), 0);
		}
	}
}

static void test_ct_decode_rejects(void **state)
{
	(void)state;
	struct sim_ct_fields f;
	unsigned char m[128];
	size_t len = sizeof(relay_resp) - 1;
	memcpy(m, relay_resp, len);
	assert_int_equal(sim_ct_decode(m, 9, &f), -1);       /* short */
	assert_int_equal(sim_ct_decode(m, len - 1, &f), -1); /* length mismatch */
	m[0] = 0x02;
	assert_int_equal(sim_ct_decode(m, len, &f), -1); /* no SOH */
	memcpy(m, relay_resp, len);
	m[len - 1] = 'x';
	assert_int_equal(sim_ct_decode(m, len, &f), -1); /* bad checksum char */
	memcpy(m, relay_resp, len);
	m[len - 1] = (unsigned char)(m[len - 1] == '9' ? '8' : '9');
	assert_int_equal(sim_ct_decode(m, len, &f), -1); /* checksum mismatch */
	memcpy(m, relay_resp, len);
	m[len - 3] = '|';
	assert_int_equal(sim_ct_decode(m, len, &f), -1); /* no ETX */
	memcpy(m, relay_resp, len);
	m[2] = 'x';
	assert_int_equal(sim_ct_decode(m, len, &f), -1); /* bad length digits */
	static const unsigned char nosep[] = "\x01\x02"
	                                     "1234567890";
	assert_int_equal(sim_ct_decode(nosep, sizeof(nosep) - 1, &f), -1);
}

static struct sim_bat_cfg test_cfg(void)
{
	struct sim_bat_cfg c;
	sim_bat_cfg_defaults(&c);
	snprintf(c.mac, sizeof(c.mac), "02B250000001");
	c.phase = 'A';
	c.inspection_count = 0;
	c.startup_delay = 0;
	c.min_power = 0;
	c.ramp_rate = 1e9;
	return c;
}

/* Fills *out with a decoded 24-field response (fields point into out->store, so the
 * struct must not be copied). */
static void resp(struct sim_ct_fields *out, int a, int b, int c, int nb)
{
	char buf[256], pa[12], pb[12], pc[12], tot[12], nbs[4];
	snprintf(pa, sizeof(pa), "%d", a);
	snprintf(pb, sizeof(pb), "%d", b);
	snprintf(pc, sizeof(pc), "%d", c);
	snprintf(tot, sizeof(tot), "%d", a + b + c);
	snprintf(nbs, sizeof(nbs), "%d", nb);
	const char *f[24] = {"HME-4",  "112233445566",
	                     "HMG-50", "02B250000001",
	                     pa,       pb,
	                     pc,       tot,
	                     nbs,      nbs,
	                     nbs,      "0",
	                     "-50",    "1",
	                     "0",      "0",
	                     "0",      "0",
	                     "0",      "0",
	                     "0",      "400",
	                     "0",      "0"};
	int n = sim_ct_encode(f, 24, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(sim_ct_decode((unsigned char *)buf, (size_t)n, out), 0);
}

static void test_bat_delay_ticks(void **state)
{
	(void)state;
	struct sim_bat_cfg c = test_cfg();
	c.delay_ticks = 2;
	struct sim_battery b;
	sim_bat_init(&b, &c);
	/* a target requested at tick 1 applies at tick 3 */
	sim_bat_tick(&b, 1.0);
	sim_bat_set_target(&b, 250.0);
	assert_true(b.target == 0.0 && b.requested == 250.0);
	sim_bat_tick(&b, 1.0);
	assert_true(b.target == 0.0);
	sim_bat_tick(&b, 1.0);
	assert_true(b.target == 250.0);
	c.delay_ticks = 0;
	sim_bat_init(&b, &c);
	sim_bat_set_target(&b, 80.0);
	assert_true(b.target == 80.0);
}

static void test_bat_dc_passthrough_and_soc(void **state)
{
	(void)state;
	struct sim_bat_cfg c = test_cfg();
	c.max_dc_input = 500;
	c.dc_input = 500;
	c.initial_soc = 1.0;
	struct sim_battery b;
	sim_bat_init(&b, &c);
	sim_bat_set_target(&b, -300.0);
	sim_bat_tick(&b, 1.0);
	assert_true(b.power >= 500.0);
	c.initial_soc = 0.5;
	c.capacity_wh = 1000;
	sim_bat_init(&b, &c);
	sim_bat_set_target(&b, 0.0);
	sim_bat_tick(&b, 1.0);
	assert_true(b.power == 0.0);
	assert_true(b.soc > 0.5); /* DC charges the cells */
	sim_bat_set_dc_input(&b, 2000);
	assert_true(b.dc_input == 500.0);
	sim_bat_set_dc_input(&b, -10);
	assert_true(b.dc_input == 0.0);
}

static void test_bat_physics(void **state)
{
	(void)state;
	struct sim_bat_cfg c = test_cfg();
	c.ramp_rate = 100;
	c.min_power = 20;
	c.startup_delay = 2.0;
	c.capacity_wh = 100;
	c.max_discharge = 300;
	struct sim_battery b;
	sim_bat_init(&b, &c);
	sim_bat_set_target(&b, 1000.0);
	sim_bat_tick(&b, 1.0); /* start-up: still idle */
	assert_true(b.power == 0.0);
	sim_bat_tick(&b, 1.0); /* 2 s elapsed: ramps 100 W */
	assert_true(fabs(b.power - 100.0) < 1e-9);
	for (int i = 0; i < 10; i++)
		sim_bat_tick(&b, 1.0);
	assert_true(b.power == 300.0); /* clamped to max discharge */
	for (int i = 0; i < 3600; i++)
		sim_bat_tick(&b, 1.0);
	assert_true(b.soc == 0.0); /* drained and saturated */
	sim_bat_tick(&b, 1.0);
	sim_bat_tick(&b, 1.0);
	sim_bat_tick(&b, 1.0);
	assert_true(b.power == 0.0); /* empty pack stops discharging */
	/* full pack refuses to charge; sub-threshold target is zero */
	c.initial_soc = 1.0;
	c.startup_delay = 0;
	sim_bat_init(&b, &c);
	sim_bat_set_target(&b, -500.0);
	sim_bat_tick(&b, 1.0);
	assert_true(b.power == 0.0);
	c.initial_soc = 0.5;
	sim_bat_init(&b, &c);
	sim_bat_set_target(&b, 15.0);
	sim_bat_tick(&b, 1.0);
	assert_true(b.power == 0.0);
}

static void test_bat_own_phase_only(void **state)
{
	(void)state;
	struct sim_bat_cfg c = test_cfg();
	struct sim_battery b;
	sim_bat_init(&b, &c);
	b.power = -500.0;
	/* grid -500 on C, another battery's B_dchrg 400: the target follows the grid sum */
	struct sim_ct_fields f;
	resp(&f, 0, 0, -500, 0);
	sim_bat_response(&b, &f, false);
	assert_true(b.target == -500.0);
}

static void test_bat_initial_power(void **state)
{
	(void)state;
	struct sim_bat_cfg c = test_cfg();
	c.initial_power = -300.0;
	struct sim_battery b;
	sim_bat_init(&b, &c);
	assert_true(b.power == -300.0 && b.target == -300.0);
	struct sim_ct_fields f;
	resp(&f, 0, 0, 0, 1);
	sim_bat_response(&b, &f, false);
	assert_true(b.target == -300.0);
}

static void test_bat_gate_uses_own_output(void **state)
{
	(void)state;
	struct sim_bat_cfg c = test_cfg();
	struct sim_battery b;
	sim_bat_init(&b, &c);
	struct sim_ct_fields f;
	resp(&f, 15, 0, 0, 1);
	sim_bat_response(&b, &f, false);
	assert_true(b.target == 0.0);
	b.power = 100.0;
	sim_bat_response(&b, &f, false);
	assert_true(b.target != 0.0);
	/* spike debounce: an idle battery reacts to a >50 W jump on the second sample */
	sim_bat_init(&b, &c);
	resp(&f, 200, 0, 0, 1);
	sim_bat_response(&b, &f, false);
	assert_true(b.target == 0.0);
	sim_bat_response(&b, &f, false);
	struct sim_hmg h;
	sim_hmg_init(&h, 0);
	assert_true(b.target == -(double)sim_hmg_step_raw(&h, 200, 800, -800, 1));
	/* an inspection reply never steers */
	sim_bat_init(&b, &c);
	sim_bat_response(&b, &f, true);
	sim_bat_response(&b, &f, true);
	assert_true(b.target == 0.0);
	assert_int_equal(b.request_count, 2);
}

static void test_bat_b2500(void **state)
{
	(void)state;
	struct sim_bat_cfg c = test_cfg();
	snprintf(c.dev_type, sizeof(c.dev_type), "HMJ-2");
	assert_int_equal(sim_bat_law_for("HMJ-2"), SIM_LAW_B2500);
	assert_int_equal(sim_bat_law_for("hma-1"), SIM_LAW_B2500);
	assert_int_equal(sim_bat_law_for("VNSD-0"), SIM_LAW_VENUS_D);
	assert_int_equal(sim_bat_law_for("HMG-50"), SIM_LAW_HMG);
	assert_int_equal(sim_bat_law_for(""), SIM_LAW_HMG);
	struct sim_battery b;
	sim_bat_init(&b, &c);
	for (int i = 0; i < 40; i++) {
		sim_bat_tick(&b, 1.0);
		struct sim_ct_fields f;
		resp(&f, (int)sim_round(300.0 - b.power), 0, 0, 1);
		sim_bat_response(&b, &f, false);
	}
	assert_true(b.target > 0);
	assert_true(fabs(b.power - 300) <= 20);
	struct sim_ct_fields sur;
	resp(&sur, -300, 0, 0, 1);
	for (int i = 0; i < 40; i++) {
		sim_bat_tick(&b, 1.0);
		sim_bat_response(&b, &sur, false);
	}
	assert_true(b.power >= 0 && b.power <= 20);
}

static void test_bat_venus_d(void **state)
{
	(void)state;
	struct sim_bat_cfg c = test_cfg();
	snprintf(c.dev_type, sizeof(c.dev_type), "VNSD-0");
	c.max_charge = 2200;
	c.max_discharge = 2500;
	struct sim_battery b;
	sim_bat_init(&b, &c);
	struct sim_ct_fields imp, ex;
	resp(&imp, 500, 0, 0, 1);
	resp(&ex, -500, 0, 0, 1);
	for (int i = 0; i < 6; i++)
		sim_bat_response(&b, &imp, false);
	assert_true(b.target > 0);
	sim_bat_init(&b, &c);
	for (int i = 0; i < 6; i++)
		sim_bat_response(&b, &ex, false);
	assert_true(b.target < 0);
}

static void test_bat_request_fields(void **state)
{
	(void)state;
	struct sim_bat_cfg c = test_cfg();
	c.inspection_count = 1;
	c.participates = false;
	struct sim_battery b;
	sim_bat_init(&b, &c);
	b.power = -100.4;
	char buf[256];
	bool insp = false;
	int n = sim_bat_request(&b, buf, sizeof(buf), &insp);
	struct sim_ct_fields f;
	assert_int_equal(sim_ct_decode((unsigned char *)buf, (size_t)n, &f), 0);
	assert_true(insp);
	assert_int_equal(f.n, 7);
	assert_string_equal(f.f[4], "0");
	assert_string_equal(f.f[5], "-100");
	assert_string_equal(f.f[6], "0");
	b.request_count = 1;
	c.participates = true;
	b.cfg.participates = true;
	n = sim_bat_request(&b, buf, sizeof(buf), &insp);
	assert_int_equal(sim_ct_decode((unsigned char *)buf, (size_t)n, &f), 0);
	assert_false(insp);
	assert_int_equal(f.n, 6);
	assert_string_equal(f.f[4], "A");
	assert_int_equal(sim_round(2.5), 2);
	assert_int_equal(sim_round(3.5), 4);
	assert_int_equal(sim_round(-2.5), -2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_ct_encode_golden),
	        cmocka_unit_test(test_ct_decode_golden),
	        cmocka_unit_test(test_ct_decode_checksum_variants),
	        cmocka_unit_test(test_ct_decode_rejects),
	        cmocka_unit_test(test_bat_delay_ticks),
	        cmocka_unit_test(test_bat_dc_passthrough_and_soc),
	        cmocka_unit_test(test_bat_physics),
	        cmocka_unit_test(test_bat_own_phase_only),
	        cmocka_unit_test(test_bat_initial_power),
	        cmocka_unit_test(test_bat_gate_uses_own_output),
	        cmocka_unit_test(test_bat_b2500),
	        cmocka_unit_test(test_bat_venus_d),
	        cmocka_unit_test(test_bat_request_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
