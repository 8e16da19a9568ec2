/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Request dedupe: window semantics, table overflow and long keys (64-byte consumer ids). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "astrameter/dedupe.h"

static void disabled_accepts_everything(void **state)
{
	(void)state;
	struct dedupe d;
	dedupe_init(&d, 0);
	for (int i = 0; i < 5; i++)
		assert_true(dedupe_accept(&d, "a", 0));
}

static void window_drops_and_drop_does_not_refresh(void **state)
{
	(void)state;
	struct dedupe d;
	dedupe_init(&d, 1000);
	assert_true(dedupe_accept(&d, "aabbccddeeff", 0));
	assert_false(dedupe_accept(&d, "aabbccddeeff", 999));
	assert_true(dedupe_accept(&d, "other", 500));
	/* 999 was dropped, so the window still counts from 0. */
	assert_true(dedupe_accept(&d, "aabbccddeeff", 1000));
	assert_false(dedupe_accept(&d, "aabbccddeeff", 1500));
}

static void overflow_reuses_oldest(void **state)
{
	(void)state;
	struct dedupe d;
	dedupe_init(&d, 10000);
	char key[16];
	for (int i = 0; i < DEDUPE_SLOTS + 10; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_true(dedupe_accept(&d, key, i));
	}
	/* The newest keys are still remembered. */
	snprintf(key, sizeof(key), "k%d", DEDUPE_SLOTS + 9);
	assert_false(dedupe_accept(&d, key, 100));
}

static void long_keys_compared_whole(void **state)
{
	(void)state;
	struct dedupe d;
	dedupe_init(&d, 1000);
	/* Two 64-byte consumer ids (CT002_ID_MAX) that differ only in their last byte are
	 * two batteries: neither may be dropped as the other's duplicate. */
	char a[65], b[65];
	memset(a, 'm', 64);
	a[64] = '\0';
	memcpy(b, a, sizeof(a));
	b[63] = 'n';
	assert_true(dedupe_accept(&d, a, 0));
	assert_true(dedupe_accept(&d, b, 10));
	assert_false(dedupe_accept(&d, a, 20));
	assert_false(dedupe_accept(&d, b, 20));
	/* Differing at byte 50 (past the old 47-byte cut). */
	char c[65];
	memcpy(c, a, sizeof(a));
	c[50] = 'z';
	assert_true(dedupe_accept(&d, c, 30));
	/* A key too long to keep is always accepted, never matched by prefix. */
	char big[DEDUPE_KEY_LEN + 8];
	memset(big, 'm', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_true(dedupe_accept(&d, big, 40));
	assert_true(dedupe_accept(&d, big, 41));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(disabled_accepts_everything),
	        cmocka_unit_test(window_drops_and_drop_does_not_refresh),
	        cmocka_unit_test(overflow_reuses_oldest),
	        cmocka_unit_test(long_keys_compared_whole),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
