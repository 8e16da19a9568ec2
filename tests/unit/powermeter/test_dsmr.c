/* SPDX-License-Identifier: GPL-3.0-or-later */
/* DSMR / P1: the framer on a recorded DSMR 5 telegram (its own CRC), the DSMR 5.0.2
 * standard's example (whose printed CRC does not match its text), Belgian e-MUCS, DSMR 2.2
 * without CRC, CRC errors, truncation, a telegram cut by the next, and a noisy stream fed
 * in chunks of every size; the power parser on each (phases, totals, units). Fixtures
 * from tests/fixtures/dsmr/gen_dsmr.py. */
#include <math.h>

#include "pm_test_util.h"
#include "astrameter/dsmr.h"

static void expect_powers(const char *file, unsigned n, const double *w)
{
	size_t len;
	char *b = pmt_load(file, &len);
	struct dsmr_frame f;
	struct err e = {{0}};
	int rc = dsmr_frame_scan((uint8_t *)b, len, &f, &e);
	if (rc != 1)
		fail_msg("%s: frame rc %d '%s'", file, rc, e.msg);
	struct pm_reading r;
	if (dsmr_parse_powers(b + f.start, f.end - f.start, &r, &e) != 0)
		fail_msg("%s: %s", file, e.msg);
	assert_int_equal(r.n, n);
	for (unsigned k = 0; k < n; k++)
		if (fabs(r.w[k] - w[k]) > 1e-6)
			fail_msg("%s: w[%u] = %.6f, want %.6f", file, k, r.w[k], w[k]);
	free(b);
}

static void test_telegrams(void **state)
{
	(void)state;
	expect_powers("dsmr/dsmr5_recorded.txt", 3, (double[]){70, 32, 142});
	/* the standard's example: L1 1.111 - 4.444 kW etc. */
	expect_powers("dsmr/dsmr502_example_crc.txt", 3, (double[]){-3333, -3333, -3333});
	expect_powers("dsmr/emucs_fluvius.txt", 3, (double[]){512, -300, 633});
	expect_powers("dsmr/dsmr22_iskra.txt", 1, (double[]){980});
	/* single-phase meter: no L2/L3 lines, so the total */
	expect_powers("dsmr/dsmr5_single_phase.txt", 1, (double[]){-1532});

	size_t len;
	char *b = pmt_load("dsmr/dsmr22_iskra.txt", &len);
	struct dsmr_frame f;
	struct err e;
	assert_int_equal(dsmr_frame_scan((uint8_t *)b, len, &f, &e), 1);
	assert_false(f.has_crc);
	assert_int_equal(f.start, 0);
	assert_int_equal(f.end, len - 2); /* "!" included, CRLF left */
	free(b);
	b = pmt_load("dsmr/dsmr5_recorded.txt", &len);
	assert_int_equal(dsmr_frame_scan((uint8_t *)b, len, &f, &e), 1);
	assert_true(f.has_crc);
	assert_int_equal(f.end, len - 2);
	assert_int_equal(f.skip, f.end);
	/* every proper prefix waits, keeping the telegram */
	for (size_t n = 0; n < f.end; n++) {
		struct dsmr_frame g;
		assert_int_equal(dsmr_frame_scan((uint8_t *)b, n, &g, &e), 0);
		assert_int_equal(g.skip, 0);
	}
	/* lower-case CRC digits are accepted */
	memcpy(b + len - 6, "6eee", 4);
	assert_int_equal(dsmr_frame_scan((uint8_t *)b, len, &f, &e), 1);
	free(b);
}

static void test_bad_telegrams(void **state)
{
	(void)state;
	size_t len;
	struct dsmr_frame f;
	struct err e;
	char *b = pmt_load("dsmr/dsmr502_example.txt", &len);
	assert_int_equal(dsmr_frame_scan((uint8_t *)b, len, &f, &e), -1);
	assert_non_null(strstr(e.msg, "telegram EF2F, computed E47C"));
	assert_int_equal(f.skip, len - 2);
	free(b);
	b = pmt_load("dsmr/bad_crc.txt", &len);
	assert_int_equal(dsmr_frame_scan((uint8_t *)b, len, &f, &e), -1);
	assert_non_null(strstr(e.msg, "CRC mismatch"));
	/* a bad CRC digit, or a stray byte after "!" */
	b[len - 4] = 'G';
	assert_int_equal(dsmr_frame_scan((uint8_t *)b, len, &f, &e), -1);
	assert_non_null(strstr(e.msg, "four hex digits"));
	b[len - 6] = '#';
	assert_int_equal(dsmr_frame_scan((uint8_t *)b, len, &f, &e), -1);
	assert_non_null(strstr(e.msg, "0x23"));
	free(b);
	/* cut off by the next telegram: the bad part is dropped, the next one is kept */
	b = pmt_load("dsmr/cut_then_good.txt", &len);
	assert_int_equal(dsmr_frame_scan((uint8_t *)b, len, &f, &e), -1);
	assert_non_null(strstr(e.msg, "cut off"));
	assert_int_equal(f.skip, 300);
	assert_int_equal(dsmr_frame_scan((uint8_t *)b + f.skip, len - f.skip, &f, &e), 1);
	free(b);
	/* no "!" within the limit: drop the "/" only */
	char *big = malloc(DSMR_MAX_TELEGRAM + 10);
	assert_non_null(big);
	memset(big, 'x', DSMR_MAX_TELEGRAM + 10);
	big[0] = '/';
	assert_int_equal(dsmr_frame_scan((uint8_t *)big, DSMR_MAX_TELEGRAM + 10, &f, &e), -1);
	assert_int_equal(f.skip, 1);
	assert_int_equal(dsmr_frame_scan((uint8_t *)big, DSMR_MAX_TELEGRAM - 1, &f, &e), 0);
	free(big);
	/* garbage only: all of it can go */
	assert_int_equal(dsmr_frame_scan((const uint8_t *)"abc!1234\r\n", 10, &f, &e), 0);
	assert_int_equal(f.skip, 10);
}

/* The stream in chunks of every size from 1 to 64 and whole: the good telegrams come out
 * in order, each bad one is reported once, nothing else. */
static void test_stream(void **state)
{
	(void)state;
	size_t len;
	char *s = pmt_load("dsmr/stream.txt", &len);
	static const double want_first[] = {512, 980, 70}; /* emucs L1, 2.2 total, recorded L1 */
	for (size_t chunk = 1; chunk <= len; chunk = chunk < 64 ? chunk + 1 : len) {
		uint8_t buf[2 * DSMR_MAX_TELEGRAM];
		size_t have = 0, fed = 0, good = 0, bad = 0;
		while (fed < len || have) {
			size_t n = len - fed < chunk ? len - fed : chunk;
			assert_true(have + n <= sizeof(buf));
			memcpy(buf + have, s + fed, n);
			have += n;
			fed += n;
			for (;;) {
				struct dsmr_frame f;
				struct err e;
				int rc = dsmr_frame_scan(buf, have, &f, &e);
				if (rc == 1) {
					struct pm_reading r;
					assert_int_equal(dsmr_parse_powers((char *)buf + f.start,
					                                   f.end - f.start, &r, &e),
					                 0);
					assert_true(good < 3);
					assert_float_equal(r.w[0], want_first[good], 1e-6);
					good++;
				} else if (rc < 0) {
					bad++;
				}
				memmove(buf, buf + f.skip, have - f.skip);
				have -= f.skip;
				if (rc == 0)
					break;
			}
			if (fed == len)
				break;
		}
		assert_int_equal(good, 3);
		assert_int_equal(bad, 1);
		assert_true(have < 120); /* only the partial telegram at the end is kept */
		if (chunk == len)
			break;
	}
	free(s);
}

static void test_lines(void **state)
{
	(void)state;
	static const char tg[] = "/X\r\n\r\n1-0:1.7.0(01.193*kW)\r\n1-0:2.7.0(0.5*W)\r\n"
	                         "1-0:21.7.0(12*kWh)\r\n1-0:41.7.0(1.2.3*kW)\r\n"
	                         "1-0:61.7.0(5*kW\r\n1-0:22.7.0(7)\r\n0-1:24.2.1(1)(2*m3)\r\n!";
	double v;
	char unit[8];
	struct err e;
	size_t n = sizeof(tg) - 1;
	assert_int_equal(dsmr_obis_value(tg, n, "1-0:1.7.0", &v, unit, sizeof(unit), &e), 1);
	assert_float_equal(v, 1.193, 1e-12);
	assert_string_equal(unit, "kW");
	assert_int_equal(dsmr_obis_value(tg, n, "1-0:2.7.0", &v, unit, sizeof(unit), &e), 1);
	assert_string_equal(unit, "W");
	assert_int_equal(dsmr_obis_value(tg, n, "1-0:22.7.0", &v, unit, sizeof(unit), &e), 1);
	assert_float_equal(v, 7, 0);
	assert_string_equal(unit, "");
	assert_int_equal(dsmr_obis_value(tg, n, "1-0:1.8.0", &v, unit, sizeof(unit), &e), 0);
	assert_int_equal(dsmr_obis_value(tg, n, "1-0:41.7.0", &v, unit, sizeof(unit), &e), -1);
	assert_int_equal(dsmr_obis_value(tg, n, "1-0:61.7.0", &v, unit, sizeof(unit), &e), -1);
	assert_non_null(strstr(e.msg, "not closed"));
	assert_int_equal(dsmr_obis_value(tg, n, "0-1:24.2.1", &v, unit, sizeof(unit), &e), 1);
	assert_float_equal(v, 1, 0);
	/* not a prefix match: 1-0:1.7.0 does not find 1-0:1.7.00 */
	assert_int_equal(
	        dsmr_obis_value("1-0:1.7.00(1*kW)", 16, "1-0:1.7.0", &v, unit, sizeof(unit), &e),
	        0);
	/* a unit longer than the buffer */
	assert_int_equal(dsmr_obis_value(tg, n, "1-0:1.7.0", &v, unit, 2, &e), -1);

	struct pm_reading r;
	static const struct {
		const char *tg, *msg;
	} bad[] = {
	        {"1-0:1.7.0(1.0*kWh)\r\n", "unit 'kWh'"},
	        {"1-0:1.7.0(1.0*V)\r\n", "unit 'V'"},
	        {"1-0:1.7.0(1.0)\r\n", "unit ''"},
	        {"1-0:1.7.0(*kW)\r\n", "no number"},
	        {"1-0:1.7.0(1.0*kW)\r\n1-0:2.7.0(x*kW)\r\n", "1-0:2.7.0"},
	        {"1-0:32.7.0(230*V)\r\n", "no power line"},
	        {"", "no power line"},
	        {"1-0:1.7.0(1*kW)\r\n1-0:21.7.0(1*kW)\r\n1-0:41.7.0(1*kW)\r\n1-0:61.7.0(1*MW)\r\n",
	         "1-0:61.7.0"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e.msg[0] = 0;
		assert_int_equal(dsmr_parse_powers(bad[i].tg, strlen(bad[i].tg), &r, &e), -1);
		if (!strstr(e.msg, bad[i].msg))
			fail_msg("bad %zu: '%s' lacks '%s'", i, e.msg, bad[i].msg);
	}
	/* W units, export lines missing, phases all zero while the total is not */
	static const char w[] = "1-0:1.7.0(0*W)\r\n1-0:2.7.0(250*W)\r\n1-0:21.7.0(0*W)\r\n"
	                        "1-0:41.7.0(0*W)\r\n1-0:61.7.0(0*W)\r\n";
	assert_int_equal(dsmr_parse_powers(w, sizeof(w) - 1, &r, &e), 0);
	assert_int_equal(r.n, 1);
	assert_float_equal(r.w[0], -250, 0);
	static const char p[] = "1-0:21.7.0(0.1*kW)\r\n1-0:41.7.0(0.2*kW)\r\n1-0:61.7.0(0.3*kW)";
	assert_int_equal(dsmr_parse_powers(p, sizeof(p) - 1, &r, &e), 0);
	assert_int_equal(r.n, 3);
	assert_float_equal(r.w[2], 300, 1e-9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_telegrams),
	        cmocka_unit_test(test_bad_telegrams),
	        cmocka_unit_test(test_stream),
	        cmocka_unit_test(test_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
