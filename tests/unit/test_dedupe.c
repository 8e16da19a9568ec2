/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Request dedupe: window semantics and table overflow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(disabled_accepts_everything),
	        cmocka_unit_test(window_drops_and_drop_does_not_refresh),
	        cmocka_unit_test(overflow_reuses_oldest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
