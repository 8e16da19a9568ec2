/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Command-line parsing, compatible with upstream's argparse options. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "astrameter/app.h"

#define ARGV(...)        ((char *[]){"astrameter", __VA_ARGS__, NULL})
#define ARGC(...)        ((int)(sizeof((char *[]){"astrameter", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(o, e, ...) app_parse_args(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), o, e)

static void defaults(void **state)
{
	(void)state;
	unsetenv("LOG_LEVEL");
	struct app_opts o;
	struct err e;
	char *argv[] = {"astrameter", NULL};
	assert_int_equal(app_parse_args(1, argv, &o, &e), 0);
	assert_string_equal(o.config_path, "config.ini");
	assert_int_equal(o.level, LOG_LVL_WARN);
	assert_int_equal(o.skip_test, -1);
	assert_int_equal(o.n_types, 0);
	assert_false(o.check_config);
}

static void upstream_options(void **state)
{
	(void)state;
	struct app_opts o;
	struct err e;
	assert_int_equal(PARSE(&o, &e, "-c", "/etc/a.ini", "-t", "-log", "debug", "-d", "ct002",
	                       "shellyemg3", "--device-ids", "x", "y", "--throttle-interval",
	                       "2.5"),
	                 0);
	assert_string_equal(o.config_path, "/etc/a.ini");
	assert_int_equal(o.skip_test, 1);
	assert_int_equal(o.level, LOG_LVL_DEBUG);
	assert_int_equal(o.n_types, 2);
	assert_string_equal(o.device_types[1], "shellyemg3");
	assert_int_equal(o.n_ids, 2);
	assert_string_equal(o.device_ids[0], "x");
	assert_string_equal(o.throttle, "2.5");
	assert_int_equal(PARSE(&o, &e, "--config=b.ini", "--loglevel=INFO", "--check-config"), 0);
	assert_string_equal(o.config_path, "b.ini");
	assert_int_equal(o.level, LOG_LVL_INFO);
	assert_true(o.check_config);
}

static void loglevel_env_and_unknown_fallback(void **state)
{
	(void)state;
	struct app_opts o;
	struct err e;
	setenv("LOG_LEVEL", "info", 1);
	char *argv[] = {"astrameter", NULL};
	assert_int_equal(app_parse_args(1, argv, &o, &e), 0);
	assert_int_equal(o.level, LOG_LVL_INFO);
	assert_int_equal(PARSE(&o, &e, "--loglevel", "chatty"), 0);
	assert_int_equal(o.level, LOG_LVL_WARN); /* unknown -> warning, as upstream */
	unsetenv("LOG_LEVEL");
}

static void errors(void **state)
{
	(void)state;
	struct app_opts o;
	struct err e;
	assert_int_equal(PARSE(&o, &e, "-d", "ct004"), -1);
	assert_non_null(strstr(e.msg, "ct004"));
	assert_int_equal(PARSE(&o, &e, "-d"), -1);
	assert_int_equal(PARSE(&o, &e, "-c"), -1);
	assert_non_null(strstr(e.msg, "-c"));
	assert_int_equal(PARSE(&o, &e, "--frobnicate"), -1);
	assert_non_null(strstr(e.msg, "--frobnicate"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(defaults),
	        cmocka_unit_test(upstream_options),
	        cmocka_unit_test(loglevel_env_and_unknown_fallback),
	        cmocka_unit_test(errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
