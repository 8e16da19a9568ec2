/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Log level names and the complain/release back-off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "astrameter/log.h"

static void level_names(void **state)
{
	(void)state;
	enum log_level l = LOG_LVL_ERROR;
	assert_int_equal(log_level_parse("DEBUG", &l), 0);
	assert_int_equal(l, LOG_LVL_DEBUG);
	assert_int_equal(log_level_parse("warn", &l), 0);
	assert_int_equal(l, LOG_LVL_WARN);
	assert_int_equal(log_level_parse("Warning", &l), 0);
	assert_int_equal(log_level_parse("critical", &l), 0);
	assert_int_equal(l, LOG_LVL_CRIT);
	assert_int_equal(log_level_parse("verbose", &l), -1);
	assert_int_equal(l, LOG_LVL_CRIT); /* untouched */
	assert_int_equal(log_level_parse(NULL, &l), -1);
}

static void complain_backs_off_and_releases_once(void **state)
{
	(void)state;
	log_set_level(LOG_LVL_CRIT); /* keep the test output quiet */
	struct log_complain c = {0};
	log_complain(&c, 1000, "t", "fail %d", 1);
	assert_true(c.failing);
	assert_int_equal(c.next, 1000 + 30000);
	log_complain(&c, 2000, "t", "fail");
	log_complain(&c, 3000, "t", "fail");
	assert_int_equal(c.missed, 2);
	log_complain(&c, 31000, "t", "fail");
	assert_int_equal(c.missed, 0);
	assert_int_equal(c.interval, 60000);
	for (int i = 0; i < 20; i++)
		log_complain(&c, c.next, "t", "fail");
	assert_int_equal(c.interval, 3600000); /* capped at 1 h */
	log_release(&c, "t", "ok again");
	assert_false(c.failing);
	assert_int_equal(c.interval, 0);
	log_release(&c, "t", "ok again"); /* no second recovery line */
	assert_false(c.failing);
	log_set_level(LOG_LVL_WARN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(level_names),
	        cmocka_unit_test(complain_backs_off_and_releases_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
