/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Firmware steering laws against the reference simulator's golden trajectories: the
 * HMG-50 bare ramp law and gated pipeline, the Venus D integer integrator and the B2500
 * channel regulator. Same inputs, same outputs (setpoints within 0.01 W, integers exact). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <cmocka.h>

#include "sim/sim_steer.h"

/* ---- HMG-50 bare ramp law ------------------------------------------------------------ */

struct hmg_step {
	int g;
	double sp;
	int ramp;
	int last;
};
struct hmg_case {
	const char *name;
	float sp0;
	double hi, lo;
	size_t n;
	struct hmg_step s[12];
};

static const struct hmg_case hmg_golden[] = {
        {"import_converge",
         0,
         2500,
         -2500,
         7,
         {{200, -50.23, 0, 200},
          {150, -100.35, -1, 150},
          {100, -160.37, -2, 100},
          {50, -210.37, -3, 50},
          {10, -220.37, -4, 10},
          {0, -220.37, -5, 0},
          {0, -220.37, -5, 0}}},
        {"export_converge",
         0,
         2500,
         -2500,
         7,
         {{-200, 200.0, -1, -200},
          {-150, 350.0, 0, -150},
          {-100, 450.0, 0, -100},
          {-50, 500.0, 0, -50},
          {-10, 510.0, 0, -10},
          {0, 510.0, 0, 0},
          {0, 510.0, -1, 0}}},
        {"const_import",
         0,
         2500,
         -2500,
         8,
         {{300, -50.23, 0, 300},
          {300, -100.35, -1, 300},
          {300, -160.37, -2, 300},
          {300, -340.67, -3, 300},
          {300, -640.67, -4, 300},
          {300, -940.67, -5, 300},
          {300, -1240.6699, -5, 300},
          {300, -1540.6699, -5, 300}}},
        {"const_export",
         0,
         2500,
         -2500,
         6,
         {{-300, 300.0, -1, -300},
          {-300, 600.0, -2, -300},
          {-300, 900.0, -3, -300},
          {-300, 1200.0, -4, -300},
          {-300, 1500.0, -5, -300},
          {-300, 1800.0, -5, -300}}},
        {"settle_to_zero",
         0,
         2500,
         -2500,
         6,
         {{300, -50.23, 0, 300},
          {200, -100.35, -1, 200},
          {100, -160.37, -2, 100},
          {0, -160.37, -3, 0},
          {0, -160.37, -4, 0},
          {0, -160.37, -5, 0}}},
        {"oscillate",
         0,
         2500,
         -2500,
         5,
         {{200, -50.23, 0, 200},
          {-200, 149.77, -1, -200},
          {200, 139.77, 0, 200},
          {-200, 339.77, -1, -200},
          {200, 329.77, 0, 200}}},
        {"window_lo_300",
         0,
         2500,
         -300,
         10,
         {{300, -50.23, 0, 300},
          {300, -100.35, -1, 300},
          {300, -160.37, -2, 300},
          {300, -340.67, -3, 300},
          {300, -200.0, 0, 300},
          {300, -250.12, -1, 300},
          {300, -310.14, -2, 300},
          {300, -200.0, 0, 300},
          {300, -250.12, -1, 300},
          {300, -310.14, -2, 300}}},
        {"window_hi_300",
         0,
         300,
         -2500,
         10,
         {{-300, 300.0, -1, -300},
          {-300, 600.0, -2, -300},
          {-300, 200.0, -1, -300},
          {-300, 500.0, -2, -300},
          {-300, 200.0, -1, -300},
          {-300, 500.0, -2, -300},
          {-300, 200.0, -1, -300},
          {-300, 500.0, -2, -300},
          {-300, 200.0, -1, -300},
          {-300, 500.0, -2, -300}}},
        {"hard_clamp",
         0,
         2500,
         -2500,
         6,
         {{-700, 700.0, -1, -700},
          {-700, 1400.0, -2, -700},
          {-700, 2100.0, -3, -700},
          {-700, 2500.0, -4, -700},
          {-700, 2500.0, -5, -700},
          {-700, 2500.0, -5, -700}}},
        {"start_pos",
         400,
         800,
         -800,
         5,
         {{100, 349.77, 0, 100},
          {-50, 399.77, -1, -50},
          {200, 349.54, 0, 200},
          {-300, 649.54, -1, -300},
          {40, 639.54, 0, 40}}},
        {"mixed",
         0,
         800,
         -800,
         8,
         {{123, -50.23, 0, 123},
          {-45, -5.23, -1, -45},
          {67, -15.23, 0, 67},
          {-200, 184.77, -1, -200},
          {15, 174.77, 0, 15},
          {-15, 189.77, -1, -15},
          {5, 184.77, 0, 5},
          {250, 134.54, 0, 250}}},
};

static void test_hmg_golden(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(hmg_golden) / sizeof(hmg_golden[0]); k++) {
		const struct hmg_case *c = &hmg_golden[k];
		struct sim_hmg h;
		sim_hmg_init(&h, c->sp0);
		for (size_t i = 0; i < c->n; i++) {
			float sp = sim_hmg_step_raw(&h, c->s[i].g, c->hi, c->lo, 1);
			if (fabs((double)sp - c->s[i].sp) > 0.01 || h.ramp != c->s[i].ramp ||
			    h.last != c->s[i].last)
				fail_msg("%s step %zu: sp %.4f ramp %d last %d, want %.4f %d %d",
				         c->name, i, (double)sp, h.ramp, h.last, c->s[i].sp,
				         c->s[i].ramp, c->s[i].last);
		}
	}
}

/* ---- HMG-50 gated pipeline ----------------------------------------------------------- */

struct gated_step {
	int g, out, acted;
	double sp;
	int ramp, last;
};
struct gated_case {
	const char *name;
	size_t n;
	struct gated_step s[8];
};

static const struct gated_case hmg_gated[] = {
        {"spike_then_import_converge",
         8,
         {{200, 0, 0, 0.0, 0, 0},
          {200, 0, 1, -50.23, 0, 200},
          {150, 50, 1, -100.35, -1, 150},
          {100, 100, 1, -160.37, -2, 100},
          {50, 160, 1, -210.37, -3, 50},
          {10, 210, 1, -220.37, -4, 10},
          {0, 220, 0, -220.37, -4, 10},
          {0, 220, 0, -220.37, -4, 10}}},
        {"deadband_idle_hold",
         6,
         {{30, 0, 1, -30.0, 0, 30},
          {15, 0, 0, -30.0, 0, 30},
          {15, 0, 0, -30.0, 0, 30},
          {15, 30, 1, -45.0, -1, 15},
          {10, 45, 1, -55.0, -2, 10},
          {0, 55, 0, -55.0, -2, 10}}},
        {"spike_blip_rejected",
         5,
         {{0, 0, 0, 0.0, 0, 0},
          {200, 0, 0, 0.0, 0, 0},
          {0, 0, 0, 0.0, 0, 0},
          {30, 0, 1, -30.0, 0, 30},
          {30, 0, 1, -60.0, -1, 30}}},
        {"drift_keeps_skipping",
         4,
         {{-9000, 0, 0, 0.0, 0, 0},
          {-8800, 0, 0, 0.0, 0, 0},
          {-8600, 0, 0, 0.0, 0, 0},
          {-8400, 0, 0, 0.0, 0, 0}}},
        {"charging_deadband_signed",
         5,
         {{-300, 0, 0, 0.0, 0, 0},
          {15, -300, 0, 0.0, 0, 0},
          {15, -300, 0, 0.0, 0, 0},
          {-30, -300, 1, 30.0, -1, -30},
          {-30, -285, 1, 60.0, -2, -30}}},
        {"small_import_hold",
         4,
         {{5, 0, 0, 0.0, 0, 0},
          {5, 100, 0, 0.0, 0, 0},
          {12, 100, 1, -12.0, 0, 12},
          {0, 0, 0, -12.0, 0, 12}}},
};

static void test_hmg_gated_golden(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(hmg_gated) / sizeof(hmg_gated[0]); k++) {
		const struct gated_case *c = &hmg_gated[k];
		struct sim_hmg h;
		sim_hmg_init(&h, 0.0f);
		for (size_t i = 0; i < c->n; i++) {
			float held = h.setpoint;
			float sp = sim_hmg_step(&h, c->s[i].g, 2500, -2500, 1, c->s[i].out);
			if (fabs((double)sp - c->s[i].sp) > 0.01 || h.ramp != c->s[i].ramp ||
			    h.last != c->s[i].last)
				fail_msg("%s step %zu: sp %.4f ramp %d last %d", c->name, i,
				         (double)sp, h.ramp, h.last);
			if (!c->s[i].acted && sp != held)
				fail_msg("%s step %zu: held sample moved the setpoint", c->name, i);
		}
	}
}

static float raw_first(int g)
{
	struct sim_hmg h;
	sim_hmg_init(&h, 0.0f);
	return sim_hmg_step_raw(&h, g, 2500, -2500, 1);
}

static void test_hmg_gate_edges(void **state)
{
	(void)state;
	struct sim_hmg h;
	/* |g| == 20 leaves the deadband. */
	sim_hmg_init(&h, 0);
	assert_true(sim_hmg_step(&h, 20, 2500, -2500, 1, 0) == raw_first(20));
	/* own output >= 1 W disables the deadband */
	sim_hmg_init(&h, 0);
	assert_true(sim_hmg_step(&h, 19, 2500, -2500, 1, 1.0) == raw_first(19));
	/* signed: a charging battery is held */
	sim_hmg_init(&h, 0);
	assert_true(sim_hmg_step(&h, 19, 2500, -2500, 1, -300.0) == 0.0f);
	assert_int_equal(h.last, 0);
	/* small import hold, 10 W is acted on */
	sim_hmg_init(&h, 0);
	assert_true(sim_hmg_step(&h, 5, 2500, -2500, 1, 100.0) == 0.0f);
	sim_hmg_init(&h, 0);
	assert_true(sim_hmg_step(&h, 10, 2500, -2500, 1, 100.0) == raw_first(10));
	/* the split happens before the gate: 30/2 = 15 is inside the deadband */
	sim_hmg_init(&h, 0);
	assert_true(sim_hmg_step(&h, 30, 2500, -2500, 2, 0.0) == 0.0f);
	/* spike advances the baseline, skips the ramp */
	sim_hmg_init(&h, 0);
	assert_true(sim_hmg_step(&h, 200, 2500, -2500, 1, 0.0) == 0.0f);
	assert_int_equal(h.prev_g, 200);
	/* a jump explained by own output is not a spike */
	sim_hmg_init(&h, 0);
	assert_true(sim_hmg_step(&h, 200, 2500, -2500, 1, 20.0) == raw_first(200));
	/* 50 W jump is not a spike */
	sim_hmg_init(&h, 0);
	assert_true(sim_hmg_step(&h, 50, 2500, -2500, 1, 0.0) == raw_first(50));
}

static void test_hmg_share_split_and_gain(void **state)
{
	(void)state;
	struct sim_hmg a, b;
	sim_hmg_init(&a, 0);
	sim_hmg_init(&b, 0);
	assert_true(fabs((double)sim_hmg_step_raw(&a, 60, 2500, -2500, 1) + 50.23) < 0.01);
	assert_true(fabs((double)sim_hmg_step_raw(&b, 60, 2500, -2500, 2) + 30.0) < 0.01);
	assert_true(fabs((double)sim_hmg_gain(0) - 50.23) < 0.01);
	assert_true(fabs((double)sim_hmg_gain(-5) - 410.35) < 0.01);
	assert_true(fabs((double)sim_hmg_gain(5) - 400.40) < 0.01);
	assert_true(sim_hmg_gain(99) == sim_hmg_gain(5));
}

/* ---- Venus D ------------------------------------------------------------------------- */

struct vd_step {
	int err, mg, pc, sp;
};
struct vd_case {
	const char *name;
	int ratio, hi, lo;
	size_t n;
	struct vd_step s[6];
};

static const struct vd_case vd_golden[] = {
        {"import_ramp",
         100,
         2500,
         -2500,
         6,
         {{500, 500, 1, 495},
          {500, 500, 1, 990},
          {500, 500, 1, 1485},
          {500, 500, 1, 1980},
          {500, 500, 1, 2475},
          {500, 500, 1, 2500}}},
        {"export_ramp",
         100,
         2500,
         -2500,
         6,
         {{-500, -500, 1, -500},
          {-500, -500, 1, -1000},
          {-500, -500, 1, -1500},
          {-500, -500, 1, -2000},
          {-500, -500, 1, -2500},
          {-500, -500, 1, -2500}}},
        {"gain_50_import",
         50,
         2500,
         -2500,
         4,
         {{500, 500, 1, 245}, {500, 500, 1, 490}, {500, 500, 1, 735}, {500, 500, 1, 980}}},
        {"gain_30_export",
         30,
         2500,
         -2500,
         4,
         {{-500, -500, 1, -149},
          {-500, -500, 1, -299},
          {-500, -500, 1, -449},
          {-500, -500, 1, -599}}},
        {"deadband_single",
         100,
         2500,
         -2500,
         4,
         {{10, 10, 1, 0}, {8, 8, 1, 0}, {12, 12, 1, 7}, {-8, -8, 1, 0}}},
        {"deadband_combined",
         100,
         2500,
         -2500,
         4,
         {{12, 12, 2, 0}, {14, 14, 2, 0}, {16, 16, 2, 11}, {-14, -14, 2, 0}}},
        {"clamp_discharge",
         100,
         800,
         -2200,
         4,
         {{3000, 3000, 1, 800}, {3000, 3000, 1, 800}, {3000, 3000, 1, 800}, {3000, 3000, 1, 800}}},
        {"clamp_charge",
         100,
         800,
         -2200,
         4,
         {{-3000, -3000, 1, -2200},
          {-3000, -3000, 1, -2200},
          {-3000, -3000, 1, -2200},
          {-3000, -3000, 1, -2200}}},
        {"signflip", 100, 2500, -2500, 3, {{50, -50, 1, 50}, {-50, 50, 1, 0}, {300, 300, 1, 295}}},
};

static void test_vd_golden(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(vd_golden) / sizeof(vd_golden[0]); k++) {
		const struct vd_case *c = &vd_golden[k];
		struct sim_vd v;
		sim_vd_init(&v, 0, c->ratio);
		for (size_t i = 0; i < c->n; i++) {
			int32_t got =
			        sim_vd_step(&v, c->s[i].err, c->hi, c->lo, c->s[i].mg, c->s[i].pc);
			if (got != c->s[i].sp || v.setpoint != got)
				fail_msg("%s step %zu: %d want %d", c->name, i, got, c->s[i].sp);
		}
	}
}

static void test_vd_bad_ratio_is_unity(void **state)
{
	(void)state;
	struct sim_vd v;
	sim_vd_init(&v, 0, 100);
	int32_t unity = sim_vd_step(&v, 500, 2500, -2500, 500, 1);
	static const int bad[] = {0, 29, 101, 255};
	for (size_t i = 0; i < 4; i++) {
		sim_vd_init(&v, 0, bad[i]);
		assert_int_equal(sim_vd_step(&v, 500, 2500, -2500, 500, 1), unity);
	}
}

/* ---- B2500 ---------------------------------------------------------------------------- */

static void run_b2500_golden(int setpoint, size_t n)
{
	struct sim_b2500 c;
	sim_b2500_init(&c, 2500);
	int32_t power = 0;
	/* cmd climbs by 100 from 60 each cycle until the output is within 10 W. */
	uint32_t cmd = 60;
	for (size_t i = 0; i < n; i++) {
		int32_t out = sim_b2500_regulate(&c, setpoint, power);
		if (power < setpoint - 10)
			cmd += 100;
		int32_t want = (int32_t)((cmd - 5) * 10 / 59);
		if (c.cmd != cmd || out != want)
			fail_msg("sp %d step %zu: cmd %u out %d want %u %d", setpoint, i, c.cmd,
			         out, cmd, want);
		power = out;
	}
}

static void test_b2500_golden(void **state)
{
	(void)state;
	/* Spot values straight from the reference table. */
	struct sim_b2500 c;
	sim_b2500_init(&c, 2500);
	static const int32_t exp300[][2] = {{160, 26},   {260, 43},   {360, 60},   {460, 77},
	                                    {560, 94},   {660, 111},  {760, 127},  {860, 144},
	                                    {960, 161},  {1060, 178}, {1160, 195}, {1260, 212},
	                                    {1360, 229}, {1460, 246}, {1560, 263}, {1660, 280},
	                                    {1760, 297}, {1760, 297}, {1760, 297}};
	int32_t power = 0;
	for (size_t i = 0; i < sizeof(exp300) / sizeof(exp300[0]); i++) {
		power = sim_b2500_regulate(&c, 300, power);
		assert_int_equal(c.cmd, exp300[i][0]);
		assert_int_equal(power, exp300[i][1]);
	}
	run_b2500_golden(324, 20);
	run_b2500_golden(400, 25);
	/* converge_324 ends at (1860, 314), converge_400 at (2360, 399) */
	sim_b2500_init(&c, 2500);
	power = 0;
	for (int i = 0; i < 25; i++)
		power = sim_b2500_regulate(&c, 400, power);
	assert_int_equal(c.cmd, 2360);
	assert_int_equal(power, 399);
}

static void test_b2500_law(void **state)
{
	(void)state;
	static const int32_t cal[][2] = {{50, 7},   {100, 16},   {200, 33},
	                                 {500, 83}, {1000, 168}, {2000, 338}};
	for (size_t i = 0; i < 6; i++) {
		struct sim_b2500 c = {.cmd = (uint32_t)cal[i][0], .max_output = 2500};
		assert_int_equal(sim_b2500_output(&c), cal[i][1]);
	}
	/* inclusive +-10 W deadband */
	static const int32_t db[][2] = {{289, 600}, {290, 500}, {310, 500}, {311, 400}};
	for (size_t i = 0; i < 4; i++) {
		struct sim_b2500 c = {.cmd = 500, .max_output = 2500};
		sim_b2500_regulate(&c, 300, db[i][0]);
		assert_int_equal(c.cmd, db[i][1]);
	}
	/* closed loop nulls the grid, clamps to the envelope, winds down on surplus */
	static const int loads[] = {300, 600};
	for (size_t k = 0; k < 2; k++) {
		struct sim_b2500 c;
		sim_b2500_init(&c, 2500);
		int32_t p = 0;
		for (int i = 0; i < 120; i++)
			p = sim_b2500_step(&c, loads[k] - p, p, 800);
		assert_true(abs(p - loads[k]) <= 15);
	}
	struct sim_b2500 c;
	sim_b2500_init(&c, 2500);
	int32_t p = 0;
	for (int i = 0; i < 120; i++)
		p = sim_b2500_step(&c, 2000 - p, p, 800);
	assert_true(p >= 780 && p <= 815);
	for (int i = 0; i < 60; i++)
		p = sim_b2500_step(&c, -400, p, 800);
	assert_true(p >= 0 && p <= 20);
	/* setpoint drop: 8 cycles up to 300, 8 down to 120 lands at 127 */
	sim_b2500_init(&c, 2500);
	p = 0;
	for (int i = 0; i < 8; i++)
		p = sim_b2500_regulate(&c, 300, p);
	for (int i = 0; i < 8; i++)
		p = sim_b2500_regulate(&c, 120, p);
	assert_int_equal(p, 127);
	/* incremental: from 100 W with 200 W import the output rises */
	struct sim_b2500 d = {.cmd = 600, .max_output = 2500};
	assert_int_equal(sim_b2500_output(&d), 100);
	assert_true(sim_b2500_step(&d, 200, 100, 800) > 100);
	/* floor division is Python's */
	assert_int_equal(sim_floordiv(-9, 10), -1);
	assert_int_equal(sim_floordiv(9, 10), 0);
	assert_int_equal(sim_floordiv(-20, 10), -2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_hmg_golden),
	        cmocka_unit_test(test_hmg_gated_golden),
	        cmocka_unit_test(test_hmg_gate_edges),
	        cmocka_unit_test(test_hmg_share_split_and_gain),
	        cmocka_unit_test(test_vd_golden),
	        cmocka_unit_test(test_vd_bad_ratio_is_unity),
	        cmocka_unit_test(test_b2500_golden),
	        cmocka_unit_test(test_b2500_law),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
