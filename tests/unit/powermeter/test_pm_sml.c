/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SML decoder: CRC, framing with escapes, entries, power selection with scaler and unit
 * checks, OBIS overrides; telegrams built like the reference's tests plus a recorded
 * ISKRA telegram. */
#include "pm_test_util.h"
#include "astrameter/sml.h"

static int decode(const char *name, const struct pm_sml_obis_cfg *cfg, struct pm_reading *r,
                  struct err *e)
{
	char rel[128];
	size_t len;
	snprintf(rel, sizeof(rel), "tibber_pulse/%s", name);
	char *b = pmt_load(rel, &len);
	int rc = pm_sml_decode_powers((const uint8_t *)b, len, cfg, r, e);
	free(b);
	return rc;
}

static void test_crc(void **state)
{
	(void)state;
	assert_int_equal(pm_sml_crc16((const uint8_t *)"123456789", 9), 0x906e);
	assert_int_equal(pm_sml_crc16(NULL, 0), 0);
}

static void test_obis_hex(void **state)
{
	(void)state;
	uint8_t o[6];
	struct err e;
	assert_int_equal(pm_sml_obis_parse_hex(" 0100100700FF ", o, &e), 0);
	assert_memory_equal(o, "\x01\x00\x10\x07\x00\xff", 6);
	assert_int_equal(pm_sml_obis_parse_hex("deadbeef", o, &e), -1);
	assert_non_null(strstr(e.msg, "12 hexadecimal"));
	assert_int_equal(pm_sml_obis_parse_hex("0100100700fg", o, &e), -1);
	assert_int_equal(pm_sml_obis_parse_hex("", o, &e), -1);
}

static void test_powers(void **state)
{
	(void)state;
	struct pm_sml_obis_cfg cfg;
	pm_sml_obis_cfg_default(&cfg);
	struct pm_reading r;
	struct err e = {{0}};
	static const struct {
		const char *file;
		unsigned n;
		double w[3];
	} ok[] = {
	        {"multiphase.bin", 3, {400, 500, 334}},     {"scaler_m3.bin", 3, {170, 0, 0}},
	        {"aggregate_only.bin", 1, {1500}},          {"partial_phases.bin", 1, {1500}},
	        {"negative.bin", 3, {-100, -50, -100}},     {"escaped.bin", 1, {45476.1243}},
	        {"garbage_before.bin", 3, {400, 500, 334}}, {"real_iskra.bin", 1, {2144}},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int rc = decode(ok[i].file, &cfg, &r, &e);
		if (rc != 1)
			fail_msg("%s: rc %d '%s'", ok[i].file, rc, e.msg);
		assert_int_equal(r.n, ok[i].n);
		for (unsigned k = 0; k < ok[i].n; k++)
			assert_float_equal(r.w[k], ok[i].w[k], 1e-6);
	}
	assert_int_equal(decode("no_power.bin", &cfg, &r, &e), 0);
	assert_int_equal(decode("wrong_unit.bin", &cfg, &r, &e), -1);
	assert_non_null(strstr(e.msg, "aggregate power"));
	assert_non_null(strstr(e.msg, "1500"));
	assert_int_equal(decode("bad_crc.bin", &cfg, &r, &e), -1);
	assert_non_null(strstr(e.msg, "CRC"));
	assert_int_equal(decode("truncated.bin", &cfg, &r, &e), -1);
	assert_int_equal(decode("not_sml.txt", &cfg, &r, &e), -1);
	assert_int_equal(pm_sml_decode_powers((const uint8_t *)"", 0, &cfg, &r, &e), -1);
	/* OBIS override: read 1-0:1.7.0 as the aggregate */
	assert_int_equal(pm_sml_obis_parse_hex("0100010700ff", cfg.current, &e), 0);
	assert_int_equal(decode("custom_obis.bin", &cfg, &r, &e), 1);
	assert_float_equal(r.w[0], 2222, 0);
}

static void test_framing(void **state)
{
	(void)state;
	uint8_t payload[SML_MAX_FRAME];
	size_t start, end, plen;
	struct err e;
	size_t len;
	char *b = pmt_load("tibber_pulse/escape_min.bin", &len);
	assert_int_equal(pm_sml_frame_scan((uint8_t *)b, len, &start, &end, payload,
	                                   sizeof(payload), &plen, &e),
	                 1);
	assert_int_equal(start, 0);
	assert_int_equal(end, len);
	assert_int_equal(plen, 5);
	assert_memory_equal(payload, "\x12\x1b\x1b\x1b\x1b", 5);
	/* every proper prefix is incomplete, never an error or a frame */
	for (size_t n = 0; n < len; n++) {
		int rc = pm_sml_frame_scan((uint8_t *)b, n, &start, &end, payload, sizeof(payload),
		                           &plen, &e);
		assert_int_equal(rc, 0);
		assert_true(start <= n);
	}
	free(b);
	/* bad CRC: reported with the frame's end so a stream reader can skip it */
	b = pmt_load("tibber_pulse/bad_crc.bin", &len);
	assert_int_equal(pm_sml_frame_scan((uint8_t *)b, len, &start, &end, payload,
	                                   sizeof(payload), &plen, &e),
	                 -1);
	assert_int_equal(end, len);
	free(b);
	/* stream: garbage, then a frame */
	b = pmt_load("tibber_pulse/garbage_before.bin", &len);
	assert_int_equal(pm_sml_frame_scan((uint8_t *)b, len, &start, &end, payload,
	                                   sizeof(payload), &plen, &e),
	                 1);
	assert_int_equal(start, 9);
	free(b);
	/* invalid escape */
	static const uint8_t badesc[] = {0x1b, 0x1b, 0x1b, 0x1b, 1,    1, 1, 1, 0x76,
	                                 0x1b, 0x1b, 0x1b, 0x1b, 0x42, 0, 0, 0};
	assert_int_equal(pm_sml_frame_scan(badesc, sizeof(badesc), &start, &end, payload,
	                                   sizeof(payload), &plen, &e),
	                 -1);
	/* no start sequence: keep only a short tail */
	static const uint8_t junk[32] = {0};
	assert_int_equal(pm_sml_frame_scan(junk, sizeof(junk), &start, &end, payload,
	                                   sizeof(payload), &plen, &e),
	                 0);
	assert_int_equal(start, sizeof(junk) - 7);
}

struct counter {
	size_t n;
	bool saw_power;
};

static void count_fn(const struct pm_sml_entry *ent, void *arg)
{
	struct counter *c = arg;
	c->n++;
	if (memcmp(ent->obis, "\x01\x00\x10\x07\x00\xff", 6) == 0) {
		c->saw_power = ent->has_unit && ent->unit == SML_UNIT_W && ent->has_value &&
		               ent->value == 2144 && ent->scaler == 0;
	}
}

static void test_entries_real(void **state)
{
	(void)state;
	size_t len, start, end, plen;
	uint8_t payload[SML_MAX_FRAME];
	struct err e;
	char *b = pmt_load("tibber_pulse/real_iskra.bin", &len);
	assert_int_equal(pm_sml_frame_scan((uint8_t *)b, len, &start, &end, payload,
	                                   sizeof(payload), &plen, &e),
	                 1);
	struct counter c = {0};
	/* 96.50.1, 96.1.0, 1.8.0, 2.8.0, 16.7.0 */
	assert_int_equal(pm_sml_payload_entries(payload, plen, count_fn, &c), 5);
	assert_int_equal(c.n, 5);
	assert_true(c.saw_power);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_crc),          cmocka_unit_test(test_obis_hex),
	        cmocka_unit_test(test_powers),       cmocka_unit_test(test_framing),
	        cmocka_unit_test(test_entries_real),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
