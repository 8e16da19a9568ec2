/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Modbus presets: every row's block fits one read and is what its registers need; each
 * meter's recorded-looking answer (tests/fixtures/modbus, laid out per the vendor's
 * manual by gen_modbus.py) decodes through the codec and the preset into the right watts,
 * import positive; SunSpec's model check, scale factor and unimplemented phases. */
#include <math.h>

#include "pm_test_util.h"
#include "astrameter/modbus_presets.h"

struct preset_vec {
	const char *preset, *file;
	bool rtu;
	uint16_t tid;
	uint8_t unit;
	unsigned n;
	double w[3];
};

static void test_rows(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		uint16_t base, count;
	} want[] = {
	        {"sdm630", 12, 42}, {"sdm120", 12, 2},      {"dtsu666", 0x2012, 8},
	        {"ksem", 0, 124},   {"sunspec", 40069, 23},
	};
	size_t i = 0;
	for (; mb_preset_at(i); i++) {
		const struct mb_preset *p = mb_preset_at(i);
		uint16_t base, count;
		mb_preset_block(p, &base, &count);
		assert_true(count >= 1 && count <= MB_MAX_READ);
		assert_string_equal(p->name, want[i].name);
		assert_int_equal(base, want[i].base);
		assert_int_equal(count, want[i].count);
		assert_ptr_equal(mb_preset_find(p->name), p);
		assert_non_null(strstr(mb_preset_names(), p->name));
	}
	assert_int_equal(i, sizeof(want) / sizeof(want[0]));
	assert_non_null(mb_preset_find(" SDM630 "));
	assert_null(mb_preset_find("sdm63"));
	assert_null(mb_preset_find(""));
}

static void test_fixtures(void **state)
{
	(void)state;
	static const struct preset_vec v[] = {
	        {"sdm630", "modbus/sdm630_rtu.bin", true, 0, 1, 3, {230.5, -120.25, 1500}},
	        {"sdm120", "modbus/sdm120_rtu.bin", true, 0, 2, 1, {-456.5}},
	        {"dtsu666", "modbus/dtsu666_tcp.bin", false, 0x0102, 1, 3, {-300, -250, -250}},
	        {"ksem", "modbus/ksem_tcp.bin", false, 7, 1, 3, {500, -120, 1143}},
	        {"sunspec", "modbus/sunspec203_tcp.bin", false, 0xbeef, 240, 3, {-150, -152, -150}},
	        {"sunspec", "modbus/sunspec201_tcp.bin", false, 1, 1, 1, {2300}},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		const struct mb_preset *p = mb_preset_find(v[i].preset);
		assert_non_null(p);
		struct mb_request rq = {
		        .tid = v[i].tid, .unit = v[i].unit, .func = mb_regtype_func(p->regtype)};
		mb_preset_block(p, &rq.addr, &rq.count);
		size_t len;
		char *b = pmt_load(v[i].file, &len);
		struct mb_response rsp;
		struct err e = {{0}};
		enum mb_result rc = v[i].rtu ? mb_rtu_decode(&rq, (uint8_t *)b, len, &rsp, &e)
		                             : mb_tcp_decode(&rq, (uint8_t *)b, len, &rsp, &e);
		free(b);
		if (rc != MB_REGISTERS)
			fail_msg("%s: decode rc %d '%s'", v[i].file, rc, e.msg);
		struct pm_reading r;
		if (mb_preset_decode(p, rsp.regs, rsp.nregs, rq.addr, &r, &e) != 0)
			fail_msg("%s: %s", v[i].file, e.msg);
		assert_int_equal(r.n, v[i].n);
		for (unsigned k = 0; k < v[i].n; k++)
			if (fabs(r.w[k] - v[i].w[k]) > 1e-6)
				fail_msg("%s: w[%u] = %.6f, want %.6f", v[i].file, k, r.w[k],
				         v[i].w[k]);
	}
}

/* The total when phases do not decode; errors name the register. */
static void test_fallbacks_and_errors(void **state)
{
	(void)state;
	const struct mb_preset *sdm = mb_preset_find("sdm630");
	uint16_t regs[42] = {0};
	struct pm_reading r;
	struct err e;
	/* L2 is NaN (a meter that has not measured yet): the total is used */
	regs[14 - 12] = 0x7fc0;
	regs[52 - 12] = 0x44c8; /* 1600.0 */
	assert_int_equal(mb_preset_decode(sdm, regs, 42, 12, &r, &e), 0);
	assert_int_equal(r.n, 1);
	assert_float_equal(r.w[0], 1600.0, 1e-9);
	/* total NaN too: error naming the register */
	regs[52 - 12] = 0x7fc0;
	assert_int_equal(mb_preset_decode(sdm, regs, 42, 12, &r, &e), -1);
	assert_non_null(strstr(e.msg, "not a number"));
	/* a block too short for the total */
	assert_int_equal(mb_preset_decode(sdm, regs, 10, 12, &r, &e), -1);
	assert_non_null(strstr(e.msg, "register 52"));

	const struct mb_preset *ss = mb_preset_find("sunspec");
	uint16_t s[23] = {0};
	s[0] = 213; /* the float model: not this preset's layout */
	assert_int_equal(mb_preset_decode(ss, s, 23, 40069, &r, &e), -1);
	assert_non_null(strstr(e.msg, "model 213"));
	s[0] = 203;
	s[22] = 0x8000; /* scale factor not implemented */
	assert_int_equal(mb_preset_decode(ss, s, 23, 40069, &r, &e), -1);
	assert_non_null(strstr(e.msg, "scale factor"));
	s[22] = 2;
	s[18] = 0x8000;
	s[19] = 0x8000;
	assert_int_equal(mb_preset_decode(ss, s, 23, 40069, &r, &e), -1);
	assert_non_null(strstr(e.msg, "not implemented"));
	s[18] = 12; /* W = 12 x 10^2 */
	assert_int_equal(mb_preset_decode(ss, s, 23, 40069, &r, &e), 0);
	assert_int_equal(r.n, 1);
	assert_float_equal(r.w[0], 1200.0, 1e-9);
	s[19] = 0xfffb; /* -5 */
	s[20] = 3;
	s[21] = 4;
	assert_int_equal(mb_preset_decode(ss, s, 23, 40069, &r, &e), 0);
	assert_int_equal(r.n, 3);
	assert_float_equal(r.w[0], -500.0, 1e-9);
	assert_float_equal(r.w[2], 400.0, 1e-9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rows),
	        cmocka_unit_test(test_fixtures),
	        cmocka_unit_test(test_fallbacks_and_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
