/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Household load model, trace parsing/replay and the delayed meter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>
#include <cmocka.h>

#include "sim/sim_meter.h"

static void test_rng_seeded(void **state)
{
	(void)state;
	struct sim_rng a, b, c;
	sim_rng_seed(&a, 42);
	sim_rng_seed(&b, 42);
	sim_rng_seed(&c, 43);
	int differ = 0;
	for (int i = 0; i < 1000; i++) {
		double x = sim_rng_uniform(&a, -20, 20), y = sim_rng_uniform(&b, -20, 20);
		assert_true(x == y);
		assert_true(x >= -20 && x < 20);
		differ |= sim_rng_uniform(&c, -20, 20) != x;
	}
	assert_true(differ);
}

static void test_trace_parse(void **state)
{
	(void)state;
	struct sim_trace t;
	struct err e;
	const char txt[] = "# a comment\n#\nt_s,watts\n0,100\n\n60,250.5\n120,90\n";
	assert_int_equal(sim_trace_parse(txt, sizeof(txt) - 1, false, &t, &e), 0);
	assert_int_equal(t.n, 3);
	assert_true(t.t[1] == 60.0 && t.load[1] == 250.5 && t.pv[1] == 0.0);
	double ld, pv;
	sim_trace_at(&t, -5, &ld, &pv);
	assert_true(ld == 100.0);
	sim_trace_at(&t, 59.9, &ld, &pv);
	assert_true(ld == 100.0);
	sim_trace_at(&t, 60, &ld, &pv);
	assert_true(ld == 250.5);
	sim_trace_at(&t, 1e9, &ld, &pv);
	assert_true(ld == 90.0);
	sim_trace_free(&t);

	const char unsorted[] = "120,3\n0,1\n60,2\n";
	assert_int_equal(sim_trace_parse(unsorted, sizeof(unsorted) - 1, false, &t, &e), 0);
	assert_true(t.load[0] == 1 && t.load[1] == 2 && t.load[2] == 3);
	sim_trace_free(&t);

	const char net[] = "# c\nt_s,load_w,pv_w\n0,300,0\n30,250.5,1200\n60,400,900\n1,2\n";
	assert_int_equal(sim_trace_parse(net, sizeof(net) - 1, true, &t, &e), 0);
	assert_int_equal(t.n, 3);
	assert_true(t.load[1] == 250.5 && t.pv[1] == 1200.0);
	sim_trace_free(&t);

	static const char *const bad[] = {"", "# only a comment\n#\n\n",
	                                  "t_s,watts\nnope,nope\nfoo,bar\n"};
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(sim_trace_parse(bad[i], strlen(bad[i]), false, &t, &e), -1);
		assert_int_equal(sim_trace_parse(bad[i], strlen(bad[i]), true, &t, &e), -1);
	}
	const char badnet[] = "t_s,load_w,pv_w\nx,y,z\n1,2\n";
	assert_int_equal(sim_trace_parse(badnet, sizeof(badnet) - 1, true, &t, &e), -1);
	assert_int_equal(sim_trace_load("/nonexistent/trace.csv", false, &t, &e), -1);
}

static void test_vendored_traces(void **state)
{
	(void)state;
	struct sim_trace t;
	struct err e;
	assert_int_equal(sim_trace_load(AM_FIXTURES "/sim/traces/rae_household.csv", false, &t, &e),
	                 0);
	assert_true(t.n > 3600);
	assert_true(t.t[0] == 0.0);
	double mn = 1e9, mx = -1e9;
	for (size_t i = 0; i < t.n; i++) {
		if (i)
			assert_true(fabs(t.t[i] - t.t[i - 1] - 1.0) < 1e-9);
		assert_true(t.load[i] >= 0);
		mn = fmin(mn, t.load[i]);
		mx = fmax(mx, t.load[i]);
	}
	assert_true(mn < 900 && mx > 2500);
	sim_trace_free(&t);
	assert_int_equal(sim_trace_load(AM_FIXTURES "/sim/traces/cyprus_netload.csv", true, &t, &e),
	                 0);
	assert_true(t.n > 600);
	double pvmax = 0;
	for (size_t i = 0; i < t.n; i++) {
		if (i)
			assert_true(fabs(t.t[i] - t.t[i - 1] - 30.0) < 1e-9);
		pvmax = fmax(pvmax, t.pv[i]);
		assert_true(t.load[i] >= 0 && t.pv[i] >= 0);
	}
	assert_true(pvmax > 2000);
	sim_trace_free(&t);
}

static void test_house(void **state)
{
	(void)state;
	struct sim_house h;
	struct sim_rng r;
	sim_rng_seed(&r, 1);
	sim_house_defaults(&h);
	h.base[0] = 300;
	h.base[1] = 0;
	h.base[2] = 0;
	h.noise = 20;
	h.nloads = 2;
	strcpy(h.loads[0].name, "Microwave");
	h.loads[0].power = 800;
	h.loads[0].phase = 0;
	strcpy(h.loads[1].name, "Washer");
	h.loads[1].power = 400;
	h.loads[1].phase = 1;
	double c[3];
	sim_house_contribution(&h, &r, 0, c);
	assert_true(c[0] >= 280 && c[0] <= 320);
	assert_true(c[1] == 0.0 && c[2] == 0.0); /* no noise on an empty phase */
	assert_int_equal(sim_house_toggle(&h, 2), 0);
	assert_int_equal(sim_house_toggle(&h, 3), -1);
	assert_int_equal(sim_house_toggle(&h, 0), -1);
	sim_house_contribution(&h, &r, 0, c);
	assert_true(c[1] >= 380 && c[1] <= 420);
	/* solar split over its phases and clamped */
	h.solar_on[0] = h.solar_on[1] = true;
	sim_house_set_solar(&h, 5000);
	assert_true(h.solar == 2000);
	sim_house_set_solar(&h, -5);
	assert_true(h.solar == 0);
	sim_house_set_solar(&h, 600);
	h.noise = 0;
	sim_house_contribution(&h, &r, 0, c);
	assert_true(c[0] == 0.0 && c[1] == 100.0 && c[2] == 0.0);
	/* battery output subtracted, 0.1 W rounding */
	double bat[3] = {100.04, 0, -50}, g[3];
	sim_grid(c, bat, g);
	assert_true(fabs(g[0] + 100.0) < 1e-9 && g[1] == 100.0 && g[2] == 50.0);
	/* auto mode changes something, deterministically per seed */
	sim_house_auto_step(&h, &r);
	assert_true(h.solar >= 0 && h.solar <= 2000);
}

static void test_house_trace(void **state)
{
	(void)state;
	struct sim_trace t;
	struct err e;
	const char net[] = "0,1000,2000\n30,500,0\n";
	assert_int_equal(sim_trace_parse(net, sizeof(net) - 1, true, &t, &e), 0);
	struct sim_house h;
	struct sim_rng r;
	sim_rng_seed(&r, 1);
	sim_house_defaults(&h);
	h.noise = 0;
	h.base[1] = h.base[2] = 0;
	h.trace = &t;
	h.trace_scale = 0.45;
	double c[3];
	sim_house_contribution(&h, &r, 10, c);
	assert_true(fabs(c[0] - (450 - 900)) < 1e-9);
	sim_house_contribution(&h, &r, 31, c);
	assert_true(fabs(c[0] - 225) < 1e-9);
	sim_trace_free(&t);
}

static void test_meter_interval_latency(void **state)
{
	(void)state;
	struct sim_meter m;
	double out[3];
	sim_meter_init(&m, 1.0, 0.5);
	sim_meter_read(&m, 0, out);
	assert_true(out[0] == 0);
	/* true grid = 10 * t on phase A, recorded every 0.1 s */
	for (int i = 0; i <= 100; i++) {
		double t = i * 0.1, g[3] = {10.0 * i * 0.1, 0, 0};
		sim_meter_record(&m, t, g);
		if (i == 20) {
			sim_meter_read(&m, t, out); /* t=2.0 shows the grid at 1.5 */
			assert_true(fabs(out[0] - 15.0) < 1e-6);
		}
		if (i == 25) {
			sim_meter_read(&m, t, out); /* not refreshed yet: still 15 */
			assert_true(fabs(out[0] - 15.0) < 1e-6);
		}
		if (i == 30) {
			sim_meter_read(&m, t, out); /* refreshed: grid at 2.5 */
			assert_true(fabs(out[0] - 25.0) < 1e-6);
		}
	}
	/* interval 0, latency 0: always the newest sample */
	sim_meter_init(&m, 0, 0);
	for (int i = 0; i < 3000; i++) { /* more than the history holds */
		double g[3] = {(double)i, 1, 2};
		sim_meter_record(&m, i * 0.1, g);
		sim_meter_read(&m, i * 0.1, out);
		assert_true(out[0] == (double)i && out[2] == 2);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rng_seeded),
	        cmocka_unit_test(test_trace_parse),
	        cmocka_unit_test(test_vendored_traces),
	        cmocka_unit_test(test_house),
	        cmocka_unit_test(test_house_trace),
	        cmocka_unit_test(test_meter_interval_latency),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
