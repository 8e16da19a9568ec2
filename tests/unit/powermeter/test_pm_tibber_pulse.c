/* SPDX-License-Identifier: GPL-3.0-or-later */
/* TIBBER_PULSE: decoding with the stale-reuse window of the reference (#518). */
#include "pm_test_util.h"
#include "astrameter/pm_parsers.h"
#include "astrameter/sml.h"

static void test_reuse_window(void **state)
{
	(void)state;
	struct pm_sml_obis_cfg cfg;
	pm_sml_obis_cfg_default(&cfg);
	struct pm_tibber_pulse_cache c = {0};
	struct pm_reading r;
	struct err e = {{0}};
	size_t len;
	char *good = pmt_load("tibber_pulse/multiphase.bin", &len);
	const unsigned char *junk = (const unsigned char *)"not a valid sml frame";
	/* cold start: garbage is an error */
	assert_int_equal(pm_tibber_pulse_decode(&c, junk, 21, &cfg, 1000, &r, &e), -1);
	assert_non_null(strstr(e.msg, "decode SML"));
	assert_int_equal(pm_tibber_pulse_decode(&c, (unsigned char *)good, len, &cfg, 1000, &r, &e),
	                 0);
	assert_int_equal(r.n, 3);
	assert_float_equal(r.w[0], 400, 0);
	/* 2 s later garbage: last good reading reused */
	memset(&r, 0, sizeof(r));
	assert_int_equal(pm_tibber_pulse_decode(&c, junk, 21, &cfg, 3000, &r, &e), 0);
	assert_int_equal(r.n, 3);
	assert_float_equal(r.w[2], 334, 0);
	/* edge of the window still reuses, past it fails */
	assert_int_equal(
	        pm_tibber_pulse_decode(&c, junk, 21, &cfg, 1000 + PM_TIBBER_PULSE_STALE_MS, &r, &e),
	        0);
	assert_int_equal(
	        pm_tibber_pulse_decode(&c, junk, 21, &cfg, 1001 + PM_TIBBER_PULSE_STALE_MS, &r, &e),
	        -1);
	assert_int_equal(pm_tibber_pulse_decode(&c, NULL, 0, &cfg, 99999, &r, &e), -1);
	free(good);
	/* a valid frame without power registers reads 0 W, as the reference */
	char *np = pmt_load("tibber_pulse/no_power.bin", &len);
	assert_int_equal(pm_tibber_pulse_decode(&c, (unsigned char *)np, len, &cfg, 5, &r, &e), 0);
	assert_int_equal(r.n, 1);
	assert_float_equal(r.w[0], 0, 0);
	free(np);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_reuse_window),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
