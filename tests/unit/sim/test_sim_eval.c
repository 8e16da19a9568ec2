/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Unit tests of the closed-loop evaluation's pure parts: the metric formulas (percentile,
 * settling, overshoot, band crossings, RMS, energy and avoidable exchange, share imbalance,
 * travel, tariff cost and the perfect-foresight oracle) on hand-built runs with known
 * answers, the scenario table (the reference's names are all there), the event schedules
 * (sorted, seeded, compressed where they should be and not where they should not), and the
 * reports (compare deltas, HTML with inline SVG and no scripts). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "sim/eval.h"

static const struct eval_bat_spec venus = {"HMG-50", 'A',   2500, 2500, 5120.0,
                                           0.6,      400.0, 1.0,  0,    0.0};

static void fill(struct eval_record *r, double dt, size_t n, double grid, double cons)
{
	for (size_t i = 0; i < n; i++) {
		struct eval_sample s;
		memset(&s, 0, sizeof(s));
		s.t = (double)i * dt;
		s.grid = grid;
		s.consumption = cons;
		s.soc[0] = s.soc[1] = 0.5;
		assert_int_equal(eval_record_add(r, &s), 0);
	}
}

static void test_percentile(void **state)
{
	(void)state;
	const double v[] = {4, 1, 3, 2};
	double p;
	assert_int_equal(eval_percentile(v, 4, 0.5, &p), 0);
	assert_float_equal(p, 2.5, 1e-12);
	assert_int_equal(eval_percentile(v, 4, 0.95, &p), 0);
	assert_float_equal(p, 3.85, 1e-12);
	assert_int_equal(eval_percentile(v, 4, 0.0, &p), 0);
	assert_float_equal(p, 1.0, 1e-12);
	assert_int_equal(eval_percentile(v, 0, 0.5, &p), 0);
	assert_float_equal(p, 0.0, 0);
}

static void test_settle_time(void **state)
{
	(void)state;
	struct eval_record r = {0};
	fill(&r, 1.0, 60, 10.0, 0);
	/* 500 W until t=7, 30 W at t=12 (breaks the first quiet run), quiet from t=13 */
	for (size_t i = 0; i < 7; i++)
		r.s[i].grid = 500;
	r.s[12].grid = 30;
	double st;
	assert_true(eval_settle_time(r.s, r.n, 2.0, 59.0, &st));
	assert_float_equal(st, 11.0, 1e-9); /* settled at t=13, 11 s after the step at 2 */
	/* A window too short to hold 10 s never settles. */
	assert_false(eval_settle_time(r.s, r.n, 2.0, 20.0, &st));
	/* Never inside the band. */
	for (size_t i = 0; i < r.n; i++)
		r.s[i].grid = -40;
	assert_false(eval_settle_time(r.s, r.n, 0.0, 59.0, &st));
	eval_record_free(&r);
}

static void test_cost_and_oracle(void **state)
{
	(void)state;
	assert_float_equal(eval_grid_cost_ct(1000, 500), 26.0, 1e-9);
	assert_float_equal(eval_grid_cost_ct(0, 1000), -8.0, 1e-9);

	/* 200 W load for one hour; a 100 W battery covers half: 100 Wh import = 3 ct. */
	struct eval_bat_spec small = {"HMG-50", 'A', 100, 100, 1000.0, 0.5, 400, 1, 0, 0};
	struct eval_record r = {0};
	fill(&r, 1.0, 3601, 0, 200);
	assert_float_equal(eval_oracle_cost_ct(&small, 1, r.s, r.n), 3.0, 1e-6);
	/* A full pack cannot absorb a 300 W surplus: all exported, -2.4 ct. */
	small.initial_soc = 1.0;
	for (size_t i = 0; i < r.n; i++)
		r.s[i].consumption = -300;
	assert_float_equal(eval_oracle_cost_ct(&small, 1, r.s, r.n), -2.4, 1e-6);
	/* An empty pack with room charges 100 W of it: 200 Wh exported. */
	small.initial_soc = 0.0;
	assert_float_equal(eval_oracle_cost_ct(&small, 1, r.s, r.n), -1.6, 1e-6);
	/* Enough energy for 30 minutes at 100 W, then import 200 W: 50 + 100 Wh. */
	small.initial_soc = 0.05;
	for (size_t i = 0; i < r.n; i++)
		r.s[i].consumption = 200;
	assert_float_equal(eval_oracle_cost_ct(&small, 1, r.s, r.n), 4.5, 1e-3);
	eval_record_free(&r);
}

static void test_metrics_energy_and_avoidable(void **state)
{
	(void)state;
	struct eval_record r = {0};
	struct eval_metrics m;
	struct err e;
	fill(&r, 1.0, 3601, 100.0, 100.0);
	assert_int_equal(eval_compute_metrics(&venus, 1, 3600, &r, &m, &e), 0);
	assert_float_equal(m.import_wh, 100.0, 1e-9);
	assert_float_equal(m.export_wh, 0.0, 1e-9);
	assert_float_equal(m.avoidable_import_wh, 100.0, 1e-9);
	assert_float_equal(m.grid_rms_w, 100.0, 1e-9);
	assert_float_equal(m.mean_abs_grid_w, 100.0, 1e-9);
	assert_float_equal(m.steady_rms_w, 100.0, 1e-9);
	assert_float_equal(m.steady_rms_after_start_w, 100.0, 1e-9);
	assert_float_equal(m.grid_p2p_w, 0.0, 1e-9);
	assert_float_equal(m.grid_cost_ct, 3.0, 1e-9);
	assert_float_equal(m.oracle_cost_ct, 0.0, 1e-9); /* the oracle covers 100 W */
	assert_float_equal(m.cost_regret_ct, 3.0, 1e-9);
	assert_int_equal(m.events_measured, 0);
	/* A start-up transient: 3000 W for the first 30 s (no battery can act yet), then
	 * 0. It dominates steady_rms_w; steady_rms_after_start_w leaves it out. */
	for (size_t i = 0; i < r.n; i++)
		r.s[i].grid = r.s[i].t < 30.0 ? 3000.0 : 0.0;
	assert_int_equal(eval_compute_metrics(&venus, 1, 3600, &r, &m, &e), 0);
	assert_true(m.steady_rms_w > 250.0);
	assert_float_equal(m.steady_rms_after_start_w, 0.0, 1e-9);
	for (size_t i = 0; i < r.n; i++)
		r.s[i].grid = 100.0;
	/* An empty battery: the import is not avoidable. */
	for (size_t i = 0; i < r.n; i++)
		r.s[i].soc[0] = 0.01;
	assert_int_equal(eval_compute_metrics(&venus, 1, 3600, &r, &m, &e), 0);
	assert_float_equal(m.avoidable_import_wh, 0.0, 1e-9);
	assert_float_equal(m.soc_min, 0.01, 1e-9);
	/* Export next to a B2500 (no AC charging) is not avoidable; next to a Venus it is. */
	struct eval_bat_spec b2500 = {"HMA-1", 'A', 0, 800, 2240, 0.5, 400, 1, 1000, 0};
	for (size_t i = 0; i < r.n; i++) {
		r.s[i].grid = -50;
		r.s[i].soc[0] = 0.5;
	}
	assert_int_equal(eval_compute_metrics(&b2500, 1, 3600, &r, &m, &e), 0);
	assert_float_equal(m.export_wh, 50.0, 1e-9);
	assert_float_equal(m.avoidable_export_wh, 0.0, 1e-9);
	assert_int_equal(eval_compute_metrics(&venus, 1, 3600, &r, &m, &e), 0);
	assert_float_equal(m.avoidable_export_wh, 50.0, 1e-9);
	eval_record_free(&r);
}

static void test_metrics_hunting_travel_share(void **state)
{
	(void)state;
	struct eval_bat_spec two[2] = {venus, venus};
	struct eval_record r = {0};
	struct eval_metrics m;
	struct err e;
	fill(&r, 1.0, 3601, 0, 0);
	for (size_t i = 0; i < r.n; i++) {
		r.s[i].grid = (i % 2) ? 30.0 : -30.0; /* crosses the band on every sample */
		r.s[i].power[0] = 100;
		r.s[i].power[1] = (i % 2) ? 300 : 500;
	}
	assert_int_equal(eval_compute_metrics(two, 2, 3600, &r, &m, &e), 0);
	assert_float_equal(m.band_crossings_per_h, 3600.0, 1e-9);
	assert_float_equal(m.grid_p2p_w, 60.0, 1e-9);
	assert_float_equal(m.grid_rms_w, 30.0, 1e-9);
	/* Travel: battery 2 moves 200 W per sample, 3600 times in the hour. */
	assert_float_equal(m.battery_travel_w_per_h, 720000.0, 1e-9);
	/* Share: |100-200|+|300-200| or |100-300|+|500-300|, time-weighted: 300 W. */
	assert_float_equal(m.share_imbalance_w, 300.0, 1e-9);
	/* With poll flags, the sample-counted metrics see only the polled samples (every
	 * 10th, all at -30 W: no crossings, no swing); travel still sees every sample. */
	for (size_t i = 0; i < r.n; i += 10)
		r.s[i].poll = true;
	assert_int_equal(eval_compute_metrics(two, 2, 3600, &r, &m, &e), 0);
	assert_float_equal(m.band_crossings_per_h, 0.0, 1e-9);
	assert_float_equal(m.grid_p2p_w, 0.0, 1e-9);
	assert_float_equal(m.steady_rms_w, 30.0, 1e-9);
	assert_float_equal(m.battery_travel_w_per_h, 720000.0, 1e-9);
	for (size_t i = 0; i < r.n; i += 10)
		r.s[i].poll = false;
	/* On different phases there is nothing to balance. */
	two[1].phase = 'B';
	assert_int_equal(eval_compute_metrics(two, 2, 3600, &r, &m, &e), 0);
	assert_float_equal(m.share_imbalance_w, 0.0, 1e-9);
	/* Inside the band, no crossings. */
	for (size_t i = 0; i < r.n; i++)
		r.s[i].grid = (i % 2) ? 15.0 : -15.0;
	assert_int_equal(eval_compute_metrics(two, 2, 3600, &r, &m, &e), 0);
	assert_float_equal(m.band_crossings_per_h, 0.0, 1e-9);
	eval_record_free(&r);
}

static void test_metrics_steps(void **state)
{
	(void)state;
	struct eval_record r = {0};
	struct eval_metrics m;
	struct err e;
	fill(&r, 1.0, 601, 0, 0);
	/* Step at t=100: 800 W import, overshoot to -60 W at t=110, settled from t=115.
	 * Step at t=300: 20 W only (below the band: not measured).
	 * Step at t=400: -500 W export that never settles before t=600. */
	for (size_t i = 100; i < 110; i++)
		r.s[i].grid = 800;
	r.s[110].grid = -60;
	for (size_t i = 111; i < 115; i++)
		r.s[i].grid = 40;
	r.s[300].grid = 20;
	for (size_t i = 400; i < r.n; i++)
		r.s[i].grid = (i == 450) ? 90.0 : -500.0;
	assert_int_equal(eval_record_mark(&r, 100, "kettle_on"), 0);
	assert_int_equal(eval_record_mark(&r, 300, "small"), 0);
	assert_int_equal(eval_record_mark(&r, 400, "solar"), 0);
	assert_int_equal(eval_compute_metrics(&venus, 1, 600, &r, &m, &e), 0);
	assert_int_equal(m.events_measured, 2);
	assert_int_equal(m.unsettled_events, 1);
	/* settle times 15 and 200 (window end 600 - 400) */
	assert_float_equal(m.settle_mean_s, 107.5, 1e-9);
	assert_float_equal(m.settle_p95_s, 190.8, 1e-9);
	/* overshoots: 60 after the import step, 90 after the export step */
	assert_float_equal(m.overshoot_mean_w, 75.0, 1e-9);
	assert_float_equal(m.overshoot_max_w, 90.0, 1e-9);
	eval_record_free(&r);
}

static void test_downsample(void **state)
{
	(void)state;
	struct eval_record r = {0};
	fill(&r, 1.0, 10, 0, 0);
	for (size_t i = 0; i < r.n; i++)
		r.s[i].grid = (double)i;
	double out[4];
	eval_downsample(&r, 10.0, -1, out, 4);
	/* buckets [0,2.5) [2.5,5) [5,7.5) [7.5,10): means 1, 3.5, 6, 8.5 */
	assert_float_equal(out[0], 1.0, 1e-9);
	assert_float_equal(out[1], 3.5, 1e-9);
	assert_float_equal(out[2], 6.0, 1e-9);
	assert_float_equal(out[3], 8.5, 1e-9);
	/* Empty buckets carry the previous value. */
	double wide[40];
	eval_downsample(&r, 20.0, -1, wide, 40);
	assert_float_equal(wide[39], 9.0, 1e-9);
	eval_record_free(&r);
}

static void test_scenario_table(void **state)
{
	(void)state;
	/* The reference's scenario names, all present. */
	static const char *const upstream[] = {
	        "single_venus_steps",       "single_venus_steps_slow", "single_venus_washer",
	        "single_venus_noisy",       "single_venus_trace",      "single_venus_solar",
	        "single_venus_solar_slow",  "single_venus_drain",      "single_venus_fill",
	        "single_venus_pv",          "single_venus_d_steps",    "single_venus_d_washer",
	        "single_venus_d_solar",     "venus_d_plus_c/fair",     "venus_d_plus_c/eff",
	        "two_venus/fair",           "two_venus/eff",           "two_venus_slow/fair",
	        "phase_imbalance",          "two_venus_noisy/fair",    "two_venus_noisy/eff",
	        "two_venus_trace/fair",     "two_venus_trace/eff",     "two_venus_solar/fair",
	        "two_venus_solar/eff",      "full_battery_low_pace",   "mixed_venus_b2500/fair",
	        "mixed_venus_b2500/eff",    "mixed_cadence/fair",      "mixed_cadence/eff",
	        "mixed_cadence_solar/fair", "mixed_cadence_solar/eff"};
	for (size_t i = 0; i < sizeof(upstream) / sizeof(upstream[0]); i++) {
		const struct eval_scenario *sc = eval_scenario_find(upstream[i]);
		assert_non_null(sc);
		assert_string_equal(sc->name, upstream[i]);
	}
	assert_null(eval_scenario_find("no_such"));
	for (size_t i = 0; i < eval_scenario_count(); i++) {
		const struct eval_scenario *sc = eval_scenario_at(i);
		assert_true(sc->nbat >= 1 && sc->nbat <= EVAL_MAX_BAT);
		assert_true(sc->duration > 0);
		for (size_t j = i + 1; j < eval_scenario_count(); j++)
			assert_string_not_equal(sc->name, eval_scenario_at(j)->name);
		for (size_t b = 0; b < sc->nbat; b++)
			assert_true(sc->bat[b].phase >= 'A' && sc->bat[b].phase <= 'C');
	}
	assert_null(eval_scenario_at(eval_scenario_count()));
	/* Spot checks against the reference's definitions. */
	const struct eval_scenario *s = eval_scenario_find("single_venus_steps_slow");
	assert_float_equal(s->meter_interval, 10.0, 0);
	assert_float_equal(s->meter_latency, 1.0, 0);
	s = eval_scenario_find("mixed_venus_b2500/eff");
	assert_int_equal(s->nbat, 3);
	assert_string_equal(s->bat[2].dev_type, "HMA-1");
	assert_int_equal(s->bat[2].max_charge, 0);
	assert_non_null(strstr(s->ct_extra, "MIN_EFFICIENT_POWER = 150"));
	s = eval_scenario_find("phase_imbalance");
	assert_int_equal(s->bat[1].phase, 'B');
	assert_int_equal(s->loads[2].phase, 'C');
}

static size_t count_label(const struct eval_events *ev, const char *label)
{
	size_t n = 0;
	for (size_t i = 0; i < ev->n; i++)
		n += !strcmp(ev->v[i].label, label);
	return n;
}

static void test_events_steps(void **state)
{
	(void)state;
	const struct eval_scenario *sc = eval_scenario_find("single_venus_steps");
	struct eval_events a, b, c;
	struct err e;
	assert_int_equal(eval_build_events(sc, 0, 1, &a, &e), 0);
	/* kettle twice, oven cycles from 1080 s while on+240 s < 2160 s (1080, 1500), and
	 * the dishwasher */
	assert_int_equal(count_label(&a, "kettle_on"), 2);
	assert_int_equal(count_label(&a, "kettle_off"), 2);
	assert_int_equal(count_label(&a, "oven_on"), 2);
	assert_int_equal(count_label(&a, "dishwasher_off"), 1);
	assert_int_equal(a.n, 10);
	for (size_t i = 1; i < a.n; i++)
		assert_true(a.v[i].at >= a.v[i - 1].at);
	assert_true(a.v[0].at > 580 && a.v[0].at < 620); /* kettle at 600 +- 20 */
	/* Same seed, same schedule; another seed, other jitter. */
	assert_int_equal(eval_build_events(sc, 0, 1, &b, &e), 0);
	assert_memory_equal(a.v, b.v, a.n * sizeof(*a.v));
	eval_events_free(&b);
	assert_int_equal(eval_build_events(sc, 0, 2, &b, &e), 0);
	assert_true(a.v[0].at != b.v[0].at);
	/* Compressed to 360 s: the same steps, ten times faster, inside the run. */
	assert_int_equal(eval_build_events(sc, 360, 1, &c, &e), 0);
	assert_int_equal(c.n, a.n);
	assert_true(c.v[0].at > 58 && c.v[0].at < 62);
	assert_true(c.v[c.n - 1].at < 360);
	eval_events_free(&a);
	eval_events_free(&b);
	eval_events_free(&c);
}

static void test_events_washer_solar_dc(void **state)
{
	(void)state;
	struct eval_events ev;
	struct err e;
	/* The drum rhythm is not compressed: 16 s period at any duration. */
	assert_int_equal(
	        eval_build_events(eval_scenario_find("single_venus_washer"), 200, 3, &ev, &e), 0);
	/* on at 30, pauses at 43, 59, ..., 155 (while t + 3 < 170), off at 170 */
	size_t pauses = 0;
	for (size_t i = 0; i < ev.n; i++)
		pauses += ev.v[i].kind == EVAL_EV_LOAD && ev.v[i].value == 0;
	assert_int_equal(pauses, 8 + 1);
	assert_int_equal(ev.v[0].label[0], '\0'); /* unlabelled: scored on aggregates */
	eval_events_free(&ev);

	assert_int_equal(eval_build_events(eval_scenario_find("single_venus_solar"), 0, 1, &ev, &e),
	                 0);
	size_t curve = 0;
	double peak = 0;
	for (size_t i = 0; i < ev.n; i++)
		if (ev.v[i].kind == EVAL_EV_SOLAR_CURVE) {
			curve++;
			peak = fmax(peak, ev.v[i].value);
		}
	assert_int_equal(curve, 2700);
	assert_float_equal(peak, 1800.0, 0.01);
	assert_int_equal(count_label(&ev, "cloud_on"), 2);
	assert_int_equal(count_label(&ev, "cloud_off"), 2);
	eval_events_free(&ev);

	assert_int_equal(
	        eval_build_events(eval_scenario_find("mixed_venus_b2500/fair"), 0, 1, &ev, &e), 0);
	size_t dc = 0;
	for (size_t i = 0; i < ev.n; i++)
		if (ev.v[i].kind == EVAL_EV_DC) {
			dc++;
			assert_int_equal(ev.v[i].index, 2);
			assert_true(ev.v[i].value <= 700.0 + 1e-9);
		}
	assert_int_equal(dc, 2700);
	eval_events_free(&ev);

	/* No schedule: no events. */
	assert_int_equal(eval_build_events(eval_scenario_find("single_venus_noisy"), 0, 1, &ev, &e),
	                 0);
	assert_int_equal(ev.n, 0);
	eval_events_free(&ev);
}

static void test_trace_offset(void **state)
{
	(void)state;
	const struct eval_scenario *sc = eval_scenario_find("single_venus_trace");
	double o1 = eval_trace_offset(sc, 21599, 3600, 1);
	assert_true(o1 >= 0 && o1 <= 21599 - 3600);
	assert_float_equal(eval_trace_offset(sc, 21599, 3600, 1), o1, 0);
	assert_true(eval_trace_offset(sc, 21599, 3600, 2) != o1);
	assert_float_equal(eval_trace_offset(sc, 100, 3600, 1), 0.0, 0);
	assert_float_equal(
	        eval_trace_offset(eval_scenario_find("trace_rae_household"), 21599, 3600, 1), 0.0,
	        0);
}

static cJSON *result(const char *name, double regret, double over)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "scenario", name);
	cJSON_AddStringToObject(o, "mode", "relay");
	cJSON_AddNumberToObject(o, "duration_s", 600);
	cJSON_AddNumberToObject(o, "cost_regret_ct", regret);
	cJSON_AddNumberToObject(o, "overshoot_max_w", over);
	return o;
}

static char *capture(void (*fn)(FILE *, const void *, const void *), const void *a, const void *b)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	fn(f, a, b);
	fclose(f);
	return buf;
}

static void html_adapter(FILE *f, const void *head, const void *base)
{
	assert_int_equal(eval_write_html(f, head, base), 0);
}

static void test_reports(void **state)
{
	(void)state;
	cJSON *base = cJSON_CreateArray(), *head = cJSON_CreateArray();
	cJSON_AddItemToArray(base, result("a", 2.0, 100));
	cJSON_AddItemToArray(base, result("gone", 1.0, 1));
	cJSON *h = result("a", 1.0, 100);
	double tr[3] = {5, -5, 0};
	cJSON_AddItemToObject(h, "grid_trace", cJSON_CreateDoubleArray(tr, 3));
	cJSON_AddItemToObject(h, "consumption_trace", cJSON_CreateDoubleArray(tr, 3));
	cJSON *bt = cJSON_AddArrayToObject(h, "battery_traces");
	cJSON_AddItemToArray(bt, cJSON_CreateDoubleArray(tr, 3));
	cJSON *bl = cJSON_AddArrayToObject(h, "battery_labels");
	cJSON_AddItemToArray(bl, cJSON_CreateString("B1 <HMG>"));
	cJSON_AddItemToArray(head, h);
	cJSON_AddItemToArray(head, result("new", 0.5, 3));

	char *txt = capture(eval_print_compare, base, head);
	assert_non_null(strstr(txt, "AGGREGATE (mean across 1 scenarios in both)"));
	assert_non_null(strstr(txt, "-50%")); /* regret 2 -> 1 */
	assert_non_null(strstr(txt, "new (not in base)"));
	assert_non_null(strstr(txt, "only in base: gone"));
	free(txt);

	char *html = capture(html_adapter, head, base);
	assert_non_null(strstr(html, "<svg"));
	assert_non_null(strstr(html, "<polyline"));
	assert_null(strstr(html, "<script"));
	assert_non_null(strstr(html, "B1 &lt;HMG&gt;")); /* labels escaped */
	assert_non_null(strstr(html, "class=\"better\""));
	free(html);
	cJSON_Delete(base);
	cJSON_Delete(head);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_percentile),
	        cmocka_unit_test(test_settle_time),
	        cmocka_unit_test(test_cost_and_oracle),
	        cmocka_unit_test(test_metrics_energy_and_avoidable),
	        cmocka_unit_test(test_metrics_hunting_travel_share),
	        cmocka_unit_test(test_metrics_steps),
	        cmocka_unit_test(test_downsample),
	        cmocka_unit_test(test_scenario_table),
	        cmocka_unit_test(test_events_steps),
	        cmocka_unit_test(test_events_washer_solar_dc),
	        cmocka_unit_test(test_trace_offset),
	        cmocka_unit_test(test_reports),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
