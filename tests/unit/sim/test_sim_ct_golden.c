/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The simulator's battery-side CT002 codec (src/sim/sim_ct.c) against the daemon's codec
 * and CT logic (src/emulators/ct002_*.c). The two are written separately on purpose (a
 * shared bug must not cancel out), so here both are held to the reference's golden vectors,
 * and a whole exchange is run: a request the simulator encodes goes through the daemon's
 * request handling, and the reply the daemon builds is decoded by the simulator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "astrameter/ct002.h"
#include "ct002_golden.h"
#include "sim/sim_ct.h"

#define NGOLDEN (sizeof(golden) / sizeof(golden[0]))

/* Both encoders produce the golden bytes from the golden fields. */
static void both_encoders_match_golden(void **state)
{
	(void)state;
	for (size_t g = 0; g < NGOLDEN; g++) {
		uint8_t want[1024];
		size_t wlen = unhex(golden[g].hex, want, sizeof(want));
		/* The space-for-high-nibble variant is accepted on input, never emitted. */
		char sim[1024];
		int n = sim_ct_encode(golden[g].fields, golden[g].n, sim, sizeof(sim));
		if (n != (int)wlen || memcmp(sim, want, wlen) != 0)
			fail_msg("%s: simulator encoder differs from the golden bytes",
			         golden[g].name);
		struct ct002_str s[24];
		for (size_t i = 0; i < golden[g].n; i++)
			s[i] = (struct ct002_str){golden[g].fields[i], strlen(golden[g].fields[i])};
		uint8_t dae[1024];
		n = ct002_encode(s, golden[g].n, dae, sizeof(dae));
		if (n != (int)wlen || memcmp(dae, want, wlen) != 0)
			fail_msg("%s: daemon encoder differs from the golden bytes",
			         golden[g].name);
	}
}

/* Each decoder reads what the other encoded, field for field. */
static void each_decodes_the_other(void **state)
{
	(void)state;
	for (size_t g = 0; g < NGOLDEN; g++) {
		char sim[1024];
		int n = sim_ct_encode(golden[g].fields, golden[g].n, sim, sizeof(sim));
		assert_true(n > 0);
		struct ct002_frame fr;
		assert_int_equal(ct002_decode((const uint8_t *)sim, (size_t)n, &fr), CT002_OK);
		assert_int_equal(fr.n, golden[g].n);
		for (size_t i = 0; i < fr.n; i++) {
			assert_int_equal(fr.f[i].len, strlen(golden[g].fields[i]));
			assert_memory_equal(sim + fr.f[i].off, golden[g].fields[i], fr.f[i].len);
		}

		struct ct002_str s[24];
		for (size_t i = 0; i < golden[g].n; i++)
			s[i] = (struct ct002_str){golden[g].fields[i], strlen(golden[g].fields[i])};
		uint8_t dae[1024];
		n = ct002_encode(s, golden[g].n, dae, sizeof(dae));
		assert_true(n > 0);
		struct sim_ct_fields out;
		assert_int_equal(sim_ct_decode(dae, (size_t)n, &out), 0);
		assert_int_equal(out.n, golden[g].n);
		for (size_t i = 0; i < out.n; i++)
			assert_string_equal(out.f[i], golden[g].fields[i]);
	}
}

/* A relay exchange end to end: the simulator's request through the daemon's CT logic, the
 * daemon's 24-field reply through the simulator's decoder. */
static void relay_exchange_round_trip(void **state)
{
	(void)state;
	struct ct002_core_cfg cfg = {.wifi_rssi = -50, .consumer_ttl = -1};
	memcpy(cfg.ct_type, "HME-4", 6);
	struct ct002_core core;
	ct002_core_init(&core, &cfg);
	struct pm_reading r = {.n = 3, .at = 1000};
	r.w[0] = 300;
	r.w[1] = -50;
	r.w[2] = 0;

	const char *req_a[] = {"HMG-50", "AABBCCDDEEF1", "HME-4", "112233445566", "A", "-200"};
	const char *req_b[] = {"HMG-50", "AABBCCDDEEF2", "HME-4", "112233445566", "B", "150"};
	char frame[256];
	uint8_t reply[1024];
	int n = sim_ct_encode(req_a, 6, frame, sizeof(frame));
	assert_true(ct002_core_handle(&core, (const uint8_t *)frame, (size_t)n, 0x7f000001, 22222,
	                              CT002_SRC_METER, &r, 1000, reply, sizeof(reply)) > 0);
	n = sim_ct_encode(req_b, 6, frame, sizeof(frame));
	int rl = ct002_core_handle(&core, (const uint8_t *)frame, (size_t)n, 0x7f000002, 22222,
	                           CT002_SRC_METER, &r, 1100, reply, sizeof(reply));
	assert_true(rl > 0);

	struct sim_ct_fields out;
	assert_int_equal(sim_ct_decode(reply, (size_t)rl, &out), 0);
	assert_int_equal(out.n, 24);
	/* The reference's worked example (relay): CT first, meter per phase, counts, buckets. */
	static const char *const want[24] = {"HME-4",  "112233445566",
	                                     "HMG-50", "AABBCCDDEEF2",
	                                     "300",    "-50",
	                                     "0",      "250",
	                                     "1",      "1",
	                                     "0",      "0",
	                                     "-50",    "1",
	                                     "0",      "-200",
	                                     "0",      "0",
	                                     "0",      "0",
	                                     "0",      "150",
	                                     "0",      "0"};
	for (size_t i = 0; i < 24; i++)
		if (strcmp(out.f[i], want[i]) != 0)
			fail_msg("field %zu: '%s' != '%s'", i, out.f[i], want[i]);
	assert_int_equal(sim_ct_field_int(&out, 4), 300);
	assert_int_equal(sim_ct_field_int(&out, 7), 250);

	/* A hold (meter failed) decodes to zero deltas. */
	rl = ct002_core_handle(&core, (const uint8_t *)frame, (size_t)n, 0x7f000002, 22222,
	                       CT002_SRC_HOLD, NULL, 1200, reply, sizeof(reply));
	assert_int_equal(sim_ct_decode(reply, (size_t)rl, &out), 0);
	for (size_t i = 4; i < 8; i++)
		assert_int_equal(sim_ct_field_int(&out, i), 0);
}

/* Both decoders refuse the same broken frames. */
static void both_refuse_broken_frames(void **state)
{
	(void)state;
	uint8_t good[256];
	size_t len = unhex(golden[0].hex, good, sizeof(good));
	uint8_t bad[256];
	struct ct002_frame fr;
	struct sim_ct_fields out;
	/* Wrong checksum. */
	memcpy(bad, good, len);
	bad[len - 1] = bad[len - 1] == '0' ? '1' : '0';
	assert_true(ct002_decode(bad, len, &fr) != CT002_OK);
	assert_int_equal(sim_ct_decode(bad, len, &out), -1);
	/* Truncated. */
	assert_true(ct002_decode(good, len - 3, &fr) != CT002_OK);
	assert_int_equal(sim_ct_decode(good, len - 3, &out), -1);
	/* Missing ETX. */
	memcpy(bad, good, len);
	bad[len - 3] = 'x';
	assert_true(ct002_decode(bad, len, &fr) != CT002_OK);
	assert_int_equal(sim_ct_decode(bad, len, &out), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(both_encoders_match_golden),
	        cmocka_unit_test(each_decodes_the_other),
	        cmocka_unit_test(relay_exchange_round_trip),
	        cmocka_unit_test(both_refuse_broken_frames),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
