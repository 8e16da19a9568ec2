/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SCRIPT: the pure stdout parser (upstream's script_test vectors plus broken output), and
 * the driver running real commands through /bin/sh with a real loop: values, exit codes,
 * stderr in the message, a timeout that kills a whole pipeline, the output cap, and a
 * stop in the middle of a run. */
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "astrameter/config.h"
#include "astrameter/pm_script.h"
#include "astrameter/powermeter.h"

struct parse_case {
	const char *out;
	unsigned n;
	double w[3];
};

static const struct parse_case parse_cases[] = {
        {"456\n", 1, {456}},     /* upstream test_script_get_powermeter_watts_integer */
        {"456.7\n", 1, {456.7}}, /* upstream ..._float */
        {"1\n2\n3\n", 3, {1, 2, 3}}, {"\n  -12.5 \n\n\t7\n", 2, {-12.5, 7}},
        {"1\r\n2\r\n", 2, {1, 2}},   {"1\r2", 2, {1, 2}},
        {"100", 1, {100}},           {"1e3\n1_000\n+5\n", 3, {1000, 1000, 5}},
};

static void test_parse_ok(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct pm_reading r;
		struct err e;
		if (pm_script_parse_output(c->out, strlen(c->out), &r, &e) != 0)
			fail_msg("'%s': %s", c->out, e.msg);
		assert_int_equal(r.n, c->n);
		for (unsigned k = 0; k < c->n; k++)
			assert_true(fabs(r.w[k] - c->w[k]) < 1e-9);
	}
}

static const struct {
	const char *out;
	const char *msg;
} bad_cases[] = {
        {"", "no output"},
        {"\n \n\t\n", "no output"},
        {"12 W\n", "line 1 is not a number: '12 W'"},
        {"1\n\nabc\n", "line 3 is not a number: 'abc'"},
        {"nan\n", "line 1 is not a number"},
        {"inf\n", "line 1 is not a number"},
        {"1\n2\n3\n4\n5\n6\n7\n8\n9\n", "more than 8 values"},
        {"5e9\n", "out of range"},
        {"1,5\n", "not a number"},
};

static void test_parse_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct pm_reading r = {.n = 42};
		struct err e = {{0}};
		if (pm_script_parse_output(bad_cases[i].out, strlen(bad_cases[i].out), &r, &e) == 0)
			fail_msg("'%s' parsed", bad_cases[i].out);
		if (!strstr(e.msg, bad_cases[i].msg))
			fail_msg("'%s': '%s' lacks '%s'", bad_cases[i].out, e.msg,
			         bad_cases[i].msg);
		assert_int_equal(r.n, 42);
	}
	/* An embedded NUL is not a number. */
	struct pm_reading r;
	struct err e;
	assert_int_equal(pm_script_parse_output("1\0002\n", 4, &r, &e), -1);
}

/* --- driver ------------------------------------------------------------------------------ */

struct fx {
	struct ev_loop *loop;
	struct pm_ctx ctx;
	struct cfg cfg;
	struct pm_meter *m;
};

static int setup(void **state)
{
	static struct fx f;
	memset(&f, 0, sizeof(f));
	f.loop = ev_new(NULL, NULL);
	f.ctx.loop = f.loop;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	pm_meter_free(f->m);
	cfg_free(&f->cfg);
	ev_free(f->loop);
	return 0;
}

static void make(struct fx *f, const char *command, const char *timeout)
{
	char ini[1024];
	snprintf(ini, sizeof(ini), "[SCRIPT]\nCOMMAND = %s\n%s%s\n", command,
	         timeout ? "TIMEOUT = " : "", timeout ? timeout : "");
	struct err e;
	assert_int_equal(cfg_load_string(&f->cfg, ini, &e), 0);
	f->m = pm_meter_new(pm_driver_for_section("SCRIPT"), &f->cfg.sec[0], NULL, &f->ctx, &e);
	if (!f->m)
		fail_msg("configure: %s", e.msg);
	assert_int_equal(pm_meter_start(f->m, &e), 0);
}

/* Polls once, runs the loop until the result lands; returns elapsed ms. */
static ev_ms run(struct fx *f)
{
	ev_ms start = ev_update_now(f->loop);
	pm_meter_kick(f->m, start);
	while (f->m->in_flight && ev_now(f->loop) - start < 8000)
		ev_run_once(f->loop, 50);
	assert_false(f->m->in_flight);
	return ev_now(f->loop) - start;
}

static void test_echo(void **state)
{
	struct fx *f = *state;
	make(f, "echo \"456.7\"", NULL);
	run(f);
	assert_false(f->m->failed);
	assert_int_equal(f->m->raw.n, 1);
	assert_true(f->m->raw.w[0] == 456.7);
	/* Again: the previous child was reaped and a new one runs. */
	ev_run_once(f->loop, 10);
	run(f);
	assert_false(f->m->failed);
	assert_int_equal(f->m->fetches, 2);
}

static void test_three_values(void **state)
{
	struct fx *f = *state;
	make(f, "printf '1\\n\\n-2.5\\n3\\n'; echo ignored >&2", NULL);
	run(f);
	assert_false(f->m->failed);
	assert_int_equal(f->m->raw.n, 3);
	assert_true(f->m->raw.w[1] == -2.5);
}

static void test_exit_code(void **state)
{
	struct fx *f = *state;
	make(f, "echo 5; echo 'sensor offline' >&2; exit 3", NULL);
	run(f);
	assert_true(f->m->failed);
	assert_string_equal(f->m->last_error, "command exited with code 3: sensor offline");
}

static void test_exit_1_no_stderr(void **state)
{
	struct fx *f = *state;
	make(f, "exit 1", NULL);
	run(f);
	assert_true(f->m->failed);
	assert_string_equal(f->m->last_error, "command exited with code 1");
}

static void test_bad_output(void **state)
{
	struct fx *f = *state;
	make(f, "echo hello", NULL);
	run(f);
	assert_true(f->m->failed);
	assert_string_equal(f->m->last_error, "command output: line 1 is not a number: 'hello'");
}

static void test_timeout_kills_group(void **state)
{
	struct fx *f = *state;
	/* A pipeline with a grandchild that would keep stdout open. */
	make(f, "sleep 30 | cat; echo 1", "0.3");
	ev_ms took = run(f);
	assert_true(f->m->failed);
	assert_string_equal(f->m->last_error, "command timed out after 300 ms");
	assert_true(took >= 250 && took < 2000);
	/* The loop reaps the killed group; the next poll runs normally. */
	for (int i = 0; i < 10; i++)
		ev_run_once(f->loop, 20);
	assert_int_equal(system("pgrep -f '^sleep 30$' >/dev/null"), 256);
}

static void test_output_cap(void **state)
{
	struct fx *f = *state;
	make(f, "yes 1 | head -c 200000", NULL);
	run(f);
	assert_true(f->m->failed);
	assert_non_null(strstr(f->m->last_error, "output too long"));
}

static void test_stop_midway(void **state)
{
	struct fx *f = *state;
	make(f, "sleep 30", NULL);
	pm_meter_kick(f->m, ev_update_now(f->loop));
	ev_run_once(f->loop, 20);
	assert_true(f->m->in_flight);
	/* Freeing the meter stops the driver: the child is killed and reaped. */
	pm_meter_free(f->m);
	f->m = NULL;
	assert_int_equal(system("pgrep -f '^sleep 30$' >/dev/null"), 256);
}

static void test_config_errors(void **state)
{
	(void)state;
	static const struct {
		const char *ini, *msg;
	} cases[] = {
	        {"[SCRIPT]\nTIMEOUT = 2\n", "[SCRIPT] COMMAND: required"},
	        {"[SCRIPT]\nCOMMAND = echo 1\nTIMEOUT = 0\n", "timeout"},
	        {"[SCRIPT]\nCOMMAND = echo 1\nTIMEOUT = soon\n", "timeout"},
	};
	struct pm_ctx ctx = {0};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cfg cfg;
		memset(&cfg, 0, sizeof(cfg));
		struct err e = {{0}};
		assert_int_equal(cfg_load_string(&cfg, cases[i].ini, &e), 0);
		struct pm_meter *m =
		        pm_meter_new(pm_driver_for_section("SCRIPT"), &cfg.sec[0], NULL, &ctx, &e);
		if (m)
			fail_msg("case %zu configured", i);
		if (!strcasestr(e.msg, cases[i].msg))
			fail_msg("case %zu: '%s' lacks '%s'", i, e.msg, cases[i].msg);
		cfg_free(&cfg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_ok),
	        cmocka_unit_test(test_parse_bad),
	        cmocka_unit_test_setup_teardown(test_echo, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_three_values, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_exit_code, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_exit_1_no_stderr, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bad_output, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_timeout_kills_group, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_output_cap, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_stop_midway, setup, teardown),
	        cmocka_unit_test(test_config_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
