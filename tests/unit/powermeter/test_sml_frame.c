/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SML stream framer: the files of tests/fixtures/tibber_pulse one by one (same payload as
 * the existing pm_sml_frame_scan), escapes, every prefix, and a read-head stream
 * (tests/fixtures/sml_stream) fed in chunks of every size: exactly the good files come
 * out, in order, decoded by the existing SML decoder into the right watts. */
#include <math.h>

#include "pm_test_util.h"
#include "astrameter/sml.h"
#include "astrameter/sml_frame.h"

static void test_files(void **state)
{
	(void)state;
	static const struct {
		const char *file;
		int rc;
		const char *msg;
	} v[] = {
	        {"tibber_pulse/real_iskra.bin", 1, NULL},
	        {"tibber_pulse/multiphase.bin", 1, NULL},
	        {"tibber_pulse/escaped.bin", 1, NULL},
	        {"tibber_pulse/escape_min.bin", 1, NULL},
	        {"tibber_pulse/garbage_before.bin", 1, NULL},
	        {"tibber_pulse/bad_crc.bin", -1, "CRC mismatch"},
	        {"tibber_pulse/truncated.bin", 0, NULL},
	        {"tibber_pulse/not_sml.txt", 0, NULL},
	};
	static uint8_t p1[SML_FRAME_MAX_PAYLOAD], p2[SML_MAX_FRAME];
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t len;
		char *b = pmt_load(v[i].file, &len);
		struct sml_frame f;
		struct err e = {{0}};
		int rc = sml_frame_next((uint8_t *)b, len, p1, sizeof(p1), &f, &e);
		if (rc != v[i].rc)
			fail_msg("%s: rc %d '%s'", v[i].file, rc, e.msg);
		if (v[i].msg && !strstr(e.msg, v[i].msg))
			fail_msg("%s: '%s' lacks '%s'", v[i].file, e.msg, v[i].msg);
		if (rc == 1) {
			/* the same file and payload as the existing whole-body framer */
			size_t start, end, plen;
			assert_int_equal(pm_sml_frame_scan((uint8_t *)b, len, &start, &end, p2,
			                                   sizeof(p2), &plen, &e),
			                 1);
			assert_int_equal(f.start, start);
			assert_int_equal(f.end, end);
			assert_int_equal(f.plen, plen);
			assert_memory_equal(p1, p2, plen);
			assert_int_equal(f.skip, f.end);
			/* every proper prefix waits and keeps the start */
			for (size_t n = 0; n < f.end; n++) {
				struct sml_frame g;
				assert_int_equal(
				        sml_frame_next((uint8_t *)b, n, p1, sizeof(p1), &g, &e), 0);
				assert_true(g.skip <= f.start);
			}
		}
		free(b);
	}
}

static void test_edge_cases(void **state)
{
	(void)state;
	uint8_t p[64];
	struct sml_frame f;
	struct err e;
	/* unknown escape: skip past it, not past what follows */
	static const uint8_t badesc[] = {0x1b, 0x1b, 0x1b, 0x1b, 1,    1, 1, 1, 0x76,
	                                 0x1b, 0x1b, 0x1b, 0x1b, 0x42, 0, 0, 0};
	assert_int_equal(sml_frame_next(badesc, sizeof(badesc), p, sizeof(p), &f, &e), -1);
	assert_non_null(strstr(e.msg, "escape 1b1b1b1b 42"));
	assert_int_equal(f.skip, 13);
	/* a payload larger than the buffer */
	uint8_t big[80] = {0x1b, 0x1b, 0x1b, 0x1b, 1, 1, 1, 1};
	assert_int_equal(sml_frame_next(big, sizeof(big), p, 16, &f, &e), -1);
	assert_non_null(strstr(e.msg, "larger than 16"));
	assert_int_equal(f.skip, 24);
	/* no start: keep 7 bytes that may begin one */
	static const uint8_t junk[20] = {0};
	assert_int_equal(sml_frame_next(junk, sizeof(junk), p, sizeof(p), &f, &e), 0);
	assert_int_equal(f.skip, 13);
	assert_int_equal(sml_frame_next(junk, 3, p, sizeof(p), &f, &e), 0);
	assert_int_equal(f.skip, 0);
	/* a start with a partial escape at the end waits */
	static const uint8_t part[] = {0x1b, 0x1b, 0x1b, 0x1b, 1, 1, 1, 1, 0x76, 0x1b, 0x1b};
	assert_int_equal(sml_frame_next(part, sizeof(part), p, sizeof(p), &f, &e), 0);
	assert_int_equal(f.skip, 0);
}

static void test_stream(void **state)
{
	(void)state;
	size_t len;
	char *s = pmt_load("sml_stream/stream.bin", &len);
	struct pm_sml_obis_cfg cfg;
	pm_sml_obis_cfg_default(&cfg);
	static const struct {
		unsigned n;
		double w[3];
	} want[] = {{1, {2144}}, {3, {400, 500, 334}}, {1, {45476.1243}}};
	static uint8_t buf[4096], payload[SML_FRAME_MAX_PAYLOAD];
	for (size_t chunk = 1;; chunk = chunk < 64 ? chunk + 1 : len) {
		size_t have = 0, fed = 0, good = 0, bad = 0;
		while (fed < len) {
			size_t n = len - fed < chunk ? len - fed : chunk;
			assert_true(have + n <= sizeof(buf));
			memcpy(buf + have, s + fed, n);
			have += n;
			fed += n;
			for (;;) {
				struct sml_frame f;
				struct err e;
				int rc =
				        sml_frame_next(buf, have, payload, sizeof(payload), &f, &e);
				if (rc == 1) {
					struct pm_reading r;
					assert_true(good < 3);
					assert_int_equal(pm_sml_payload_powers(payload, f.plen,
					                                       &cfg, &r, &e),
					                 1);
					assert_int_equal(r.n, want[good].n);
					for (unsigned k = 0; k < r.n; k++)
						assert_float_equal(r.w[k], want[good].w[k], 1e-6);
					good++;
				} else if (rc < 0) {
					bad++;
					assert_true(f.skip > 0);
				}
				memmove(buf, buf + f.skip, have - f.skip);
				have -= f.skip;
				if (rc == 0)
					break;
			}
		}
		assert_int_equal(good, 3);
		assert_int_equal(bad, 2);   /* the cut-off file and the CRC error */
		assert_int_equal(have, 40); /* the file still arriving */
		if (chunk == len)
			break;
	}
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_files),
	        cmocka_unit_test(test_edge_cases),
	        cmocka_unit_test(test_stream),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
