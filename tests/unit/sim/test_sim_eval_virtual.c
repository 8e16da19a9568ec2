/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Unit tests of `astra-sim eval --engine virtual` (eval_virtual.c): the reference's
 * closed-loop harness run in-process against our CT002 core and balancer. They check that
 * a run is a pure function of the seed, that the poll cadence is the reference's (one
 * sample per poll, staggered batteries), that active control settles the steps scenario
 * and beats relay mode, that two batteries on one phase both carry the load, that the
 * [CT002] lines (--set, the scenario's extras, ACTIVE_CONTROL) reach the balancer, and the
 * error paths. Each run is a few simulated minutes, i.e. milliseconds. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "sim/eval.h"

#define TRACES AM_FIXTURES "/sim/traces"

static struct eval_opts opts(enum eval_mode mode, double duration, uint64_t seed)
{
	struct eval_opts o;
	memset(&o, 0, sizeof(o));
	o.engine = EVAL_ENGINE_VIRTUAL;
	o.mode = mode;
	o.duration = duration;
	o.time_scale = 1.0;
	o.seed = seed;
	o.trace_dir = TRACES;
	o.timing.latency =
	        -1.0; /* the scenario's meter timing, as astra-sim eval without --timing */
	o.timing.interval = -1.0;
	return o;
}

static cJSON *run(const char *name, const struct eval_opts *o)
{
	const struct eval_scenario *sc = eval_scenario_find(name);
	assert_non_null(sc);
	struct err e = {{0}};
	cJSON *r = eval_run_scenario(sc, o, &e);
	if (!r)
		fail_msg("%s: %s", name, e.msg);
	return r;
}

static double num(const cJSON *r, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, key);
	if (!cJSON_IsNumber(v))
		fail_msg("no number '%s'", key);
	return v->valuedouble;
}

static const char *str(const cJSON *r, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, key);
	if (!cJSON_IsString(v))
		fail_msg("no string '%s'", key);
	return v->valuestring;
}

/* Mean of battery i's downsampled output series. */
static double bat_mean(const cJSON *r, int i)
{
	const cJSON *tr =
	        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "battery_traces"), i);
	assert_true(cJSON_IsArray(tr));
	double sum = 0;
	int n = 0;
	const cJSON *v;
	cJSON_ArrayForEach(v, tr)
	{
		sum += v->valuedouble;
		n++;
	}
	assert_int_equal(n, EVAL_GRAPH_POINTS);
	return sum / n;
}

/* Every key of a result, wall time aside, printed: equal strings = identical runs. */
static char *fingerprint(cJSON *r)
{
	cJSON_DeleteItemFromObjectCaseSensitive(r, "wall_s");
	char *s = cJSON_PrintUnformatted(r);
	assert_non_null(s);
	return s;
}

static void test_deterministic(void **state)
{
	(void)state;
	struct eval_opts o = opts(EVAL_MODE_ACTIVE, 300, 1);
	cJSON *a = run("two_venus/fair", &o);
	cJSON *b = run("two_venus/fair", &o);
	o.seed = 2;
	cJSON *c = run("two_venus/fair", &o);
	assert_string_equal(str(a, "engine"), "virtual");
	char *fa = fingerprint(a), *fb = fingerprint(b), *fc = fingerprint(c);
	assert_string_equal(fa, fb);
	assert_true(strcmp(fa, fc) != 0);
	/* The seed moves the noise and the jitter, not just a label. */
	assert_true(num(a, "grid_rms_w") != num(c, "grid_rms_w"));
	assert_true(num(a, "battery_travel_w_per_h") != num(c, "battery_travel_w_per_h"));
	free(fa);
	free(fb);
	free(fc);
	cJSON_Delete(a);
	cJSON_Delete(b);
	cJSON_Delete(c);
}

/* One sample per poll: a 1 s battery whose first poll is at 0.5 s polls 300 times in
 * 300 s; a second one starting 0.131 s later polls as often. No poll goes unanswered. */
static void test_poll_cadence(void **state)
{
	(void)state;
	struct eval_opts o = opts(EVAL_MODE_ACTIVE, 300, 1);
	cJSON *one = run("single_venus_steps", &o);
	cJSON *two = run("two_venus/fair", &o);
	assert_int_equal((int)num(one, "samples"), 300);
	assert_int_equal((int)num(two, "samples"), 600);
	const cJSON *to;
	cJSON_ArrayForEach(to, cJSON_GetObjectItemCaseSensitive(two, "battery_timeouts"))
	        assert_int_equal(to->valueint, 0);
	cJSON_Delete(one);
	cJSON_Delete(two);
}

/* At the scenario's own length (the reference's step lengths) every labelled step
 * settles, quickly, and the grid is quiet between steps. */
static void test_single_venus_steps_settles(void **state)
{
	(void)state;
	struct eval_opts o = opts(EVAL_MODE_ACTIVE, 0, 1);
	cJSON *r = run("single_venus_steps", &o);
	assert_true(num(r, "events_measured") >= 8);
	assert_int_equal((int)num(r, "unsettled_events"), 0);
	assert_true(num(r, "settle_mean_s") > 0);
	assert_true(num(r, "settle_mean_s") < 60);
	assert_true(num(r, "steady_rms_w") < 60);
	assert_true(num(r, "overshoot_max_w") < 500);
	cJSON_Delete(r);
}

/* Relay mode (the battery's own law on a late meter, with 410 W steps and 400 W/s ramps)
 * chases the washer's drum; the balancer paces itself and travels far less. */
static void test_active_beats_relay(void **state)
{
	(void)state;
	struct eval_opts o = opts(EVAL_MODE_ACTIVE, 900, 1);
	cJSON *act = run("single_venus_washer", &o);
	o.mode = EVAL_MODE_RELAY;
	cJSON *rel = run("single_venus_washer", &o);
	assert_string_equal(str(rel, "mode"), "relay");
	assert_true(num(act, "grid_rms_w") * 1.5 < num(rel, "grid_rms_w"));
	assert_true(num(act, "battery_travel_w_per_h") * 3 < num(rel, "battery_travel_w_per_h"));
	cJSON_Delete(act);
	cJSON_Delete(rel);
}

/* Two Venus on one phase: the balancer hands each a share; both carry load. */
static void test_two_batteries_share(void **state)
{
	(void)state;
	struct eval_opts o = opts(EVAL_MODE_ACTIVE, 900, 1);
	cJSON *r = run("two_venus/fair", &o);
	double b1 = bat_mean(r, 0), b2 = bat_mean(r, 1);
	assert_true(b1 > 150);
	assert_true(b2 > 150);
	assert_true(fabs(b1 - b2) < 0.5 * (b1 + b2) / 2);
	assert_true(num(r, "share_imbalance_w") < 150);
	assert_true(num(r, "mean_abs_grid_w") < 150);
	cJSON_Delete(r);
}

/* --set lines reach the balancer: pacing off (PACE_BASE_STEP = 0) changes the run. An
 * invalid value is the balancer config's error, not a silent default. */
static void test_set_lines(void **state)
{
	(void)state;
	struct eval_opts o = opts(EVAL_MODE_ACTIVE, 300, 1);
	cJSON *base = run("single_venus_steps", &o);
	o.ct_set = "PACE_BASE_STEP = 0\n";
	cJSON *nopace = run("single_venus_steps", &o);
	assert_true(num(base, "battery_travel_w_per_h") != num(nopace, "battery_travel_w_per_h"));
	o.ct_set = "PACE_BASE_STEP = fast\n";
	struct err e = {{0}};
	assert_null(eval_run_scenario(eval_scenario_find("single_venus_steps"), &o, &e));
	assert_non_null(strstr(e.msg, "PACE_BASE_STEP"));
	cJSON_Delete(base);
	cJSON_Delete(nopace);
}

/* Trace scenarios read their trace from trace_dir; a missing one is an error. */
static void test_trace(void **state)
{
	(void)state;
	struct eval_opts o = opts(EVAL_MODE_ACTIVE, 300, 3);
	cJSON *r = run("single_venus_trace", &o);
	assert_true(num(r, "grid_rms_w") > 0);
	assert_true(num(r, "mean_abs_grid_w") < 200);
	cJSON_Delete(r);
	o.trace_dir = "/nonexistent";
	struct err e = {{0}};
	assert_null(eval_run_scenario(eval_scenario_find("single_venus_trace"), &o, &e));
	assert_true(e.msg[0] != '\0');
}

/* The point of the engine: an hour of three batteries costs well under a second, even
 * under the sanitizers. */
static void test_fast(void **state)
{
	(void)state;
	struct eval_opts o = opts(EVAL_MODE_ACTIVE, 3600, 1);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cJSON *r = run("phase_imbalance", &o);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(s < 2.0);
	assert_int_equal((int)num(r, "samples"), 3 * 3600);
	cJSON_Delete(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_deterministic),
	        cmocka_unit_test(test_poll_cadence),
	        cmocka_unit_test(test_single_venus_steps_settles),
	        cmocka_unit_test(test_active_beats_relay),
	        cmocka_unit_test(test_two_batteries_share),
	        cmocka_unit_test(test_set_lines),
	        cmocka_unit_test(test_trace),
	        cmocka_unit_test(test_fast),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
