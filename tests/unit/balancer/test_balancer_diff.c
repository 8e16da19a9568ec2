/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Differential test: replays command streams recorded from the reference balancer
 * (tests/fixtures/balancer/vectors.txt, made by gen_vectors.py from AstraMeter v2.2.3's
 * balancer.py) through bal_step() and requires the same answer for every request: the
 * three phase values within 1e-6 W, the same recorded intent, and a filter reset exactly
 * where the reference called its reset_fn. The scenarios cover pacing, the predictor,
 * efficiency rotation with probes, saturation, user controls, evictions and forced
 * rotations; they contain no inspection-mode battery (our one deliberate deviation). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "astrameter/balancer.h"

#define MAXC 8

struct cons {
	char id[BAL_ID_LEN];
	char dt[32];
	char phase;
	int power;
	bool present;
};

struct dbl_field {
	const char *name;
	size_t off;
};

#define F(x)                                       \
	{                                          \
#x, offsetof(struct bal_config, x) \
	}
static const struct dbl_field fields[] = {
        F(balance_gain),
        F(balance_deadband),
        F(error_boost_threshold),
        F(error_boost_max),
        F(error_reduce_threshold),
        F(max_correction_per_step),
        F(max_target_step),
        F(pace_base_step),
        F(pace_max_step),
        F(osc_damp_max),
        F(osc_damp_alpha),
        F(osc_damp_decay),
        F(osc_damp_threshold),
        F(grid_predict_trust),
        F(concentrate_deadband),
        F(import_trim_w),
        F(min_dc_output),
        F(saturation_alpha),
        F(min_target_for_saturation),
        F(saturation_grace_seconds),
        F(saturation_stall_timeout_seconds),
        F(saturation_decay_factor),
        F(min_efficient_power),
        F(probe_min_power),
        F(efficiency_rotation_interval),
        F(efficiency_fade_alpha),
        F(efficiency_saturation_threshold),
        F(efficiency_demand_alpha),
};

static void set_cfg(struct bal_config *c, const char *k, double v)
{
	if (strcmp(k, "fair_distribution") == 0) {
		c->fair_distribution = v != 0;
		return;
	}
	if (strcmp(k, "saturation_detection") == 0) {
		c->saturation_detection = v != 0;
		return;
	}
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (strcmp(fields[i].name, k) == 0) {
			*(double *)(void *)((char *)c + fields[i].off) = v;
			return;
		}
	}
	fail_msg("unknown cfg key %s", k);
}

static size_t build_reports(struct cons *cs, const int *order, size_t n, struct bal_report *r)
{
	for (size_t i = 0; i < n; i++) {
		struct cons *c = &cs[order[i]];
		r[i] = (struct bal_report){.id = c->id,
		                           .device_type = c->dt,
		                           .phase = c->phase,
		                           .power = c->power,
		                           .participates = true};
	}
	return n;
}

static void test_replay(void **state)
{
	(void)state;
	FILE *f = fopen(AM_FIXTURES "/balancer/vectors.txt", "r");
	assert_non_null(f);
	char line[4096];
	struct bal_config cfg;
	struct balancer *b = NULL;
	struct cons cs[MAXC];
	int order[MAXC];
	size_t norder = 0;
	long now0 = 1;
	unsigned long steps = 0, scenarios = 0;
	double max_err = 0.0;
	char scen[32] = "";
	struct err e;

	while (fgets(line, sizeof(line), f)) {
		char *save = NULL;
		char *tok = strtok_r(line, " \n", &save);
		if (!tok || tok[0] == '#')
			continue;
		if (strcmp(tok, "scenario") == 0) {
			snprintf(scen, sizeof(scen), "%s", strtok_r(NULL, " \n", &save));
			bal_config_upstream(&cfg); /* the streams are upstream's */
			memset(cs, 0, sizeof(cs));
			norder = 0;
			scenarios++;
		} else if (strcmp(tok, "cfg") == 0) {
			char *k = strtok_r(NULL, " \n", &save);
			double v = strtod(strtok_r(NULL, " \n", &save), NULL);
			if (strcmp(k, "now_ms") == 0)
				now0 = (long)v;
			else
				set_cfg(&cfg, k, v);
		} else if (strcmp(tok, "consumer") == 0) {
			int idx = atoi(strtok_r(NULL, " \n", &save));
			assert_true(idx >= 0 && idx < MAXC);
			snprintf(cs[idx].id, sizeof(cs[idx].id), "%s",
			         strtok_r(NULL, " \n", &save));
			const char *dt = strtok_r(NULL, " \n", &save);
			snprintf(cs[idx].dt, sizeof(cs[idx].dt), "%s", strcmp(dt, "-") ? dt : "");
			if (!b) {
				b = bal_create(&cfg, now0);
				assert_non_null(b);
			}
		} else if (strcmp(tok, "ctl") == 0) {
			long t = atol(strtok_r(NULL, " \n", &save));
			int idx = atoi(strtok_r(NULL, " \n", &save));
			const char *kind = strtok_r(NULL, " \n", &save);
			double v = strtod(strtok_r(NULL, " \n", &save), NULL);
			const char *id = cs[idx].id;
			int rc;
			if (strcmp(kind, "active") == 0)
				rc = bal_set_active(b, id, v != 0, t, &e);
			else if (strcmp(kind, "auto") == 0)
				rc = bal_set_auto_target(b, id, v != 0, t, &e);
			else if (strcmp(kind, "manual") == 0)
				rc = bal_set_manual_target(b, id, v, &e);
			else if (strcmp(kind, "weight") == 0)
				rc = bal_set_weight(b, id, v, &e);
			else if (strcmp(kind, "effw") == 0)
				rc = bal_set_eff_window_weight(b, id, v, &e);
			else
				rc = bal_set_min_dc_output(b, id, v, &e);
			assert_int_equal(rc, 0);
		} else if (strcmp(tok, "rotate") == 0) {
			long t = atol(strtok_r(NULL, " \n", &save));
			struct bal_report r[MAXC];
			size_t n = build_reports(cs, order, norder, r);
			bal_force_rotation(b, r, n, t);
		} else if (strcmp(tok, "remove") == 0) {
			int idx = atoi(strtok_r(NULL, " \n", &save));
			bal_remove_consumer(b, cs[idx].id);
			size_t k = 0;
			for (size_t i = 0; i < norder; i++)
				if (order[i] != idx)
					order[k++] = order[i];
			norder = k;
		} else if (strcmp(tok, "step") == 0) {
			long t = atol(strtok_r(NULL, " \n", &save));
			int self = atoi(strtok_r(NULL, " \n", &save));
			double grid = strtod(strtok_r(NULL, " \n", &save), NULL);
			unsigned long sample = strtoul(strtok_r(NULL, " \n", &save), NULL, 10);
			size_t n = (size_t)atoi(strtok_r(NULL, " \n", &save));
			assert_true(n <= MAXC);
			size_t self_pos = 0;
			for (size_t i = 0; i < n; i++) {
				int idx = atoi(strtok_r(NULL, " \n", &save));
				order[i] = idx;
				cs[idx].phase = strtok_r(NULL, " \n", &save)[0];
				cs[idx].power = atoi(strtok_r(NULL, " \n", &save));
				if (idx == self)
					self_pos = i;
			}
			norder = n;
			assert_string_equal(strtok_r(NULL, " \n", &save), "->");
			double exp[3];
			for (int k = 0; k < 3; k++)
				exp[k] = strtod(strtok_r(NULL, " \n", &save), NULL);
			int reset = atoi(strtok_r(NULL, " \n", &save));
			double intent = strtod(strtok_r(NULL, " \n", &save), NULL);

			struct bal_report r[MAXC];
			build_reports(cs, order, n, r);
			struct bal_input in = {.reports = r,
			                       .n = n,
			                       .self = self_pos,
			                       .grid = {grid, 0, 0},
			                       .sample_id = sample,
			                       .meter_ok = true,
			                       .now = t};
			struct bal_output out;
			assert_int_equal(bal_step(b, &in, &out), 0);
			steps++;
			for (int k = 0; k < 3; k++) {
				double d = fabs(out.value[k] - exp[k]);
				if (d > max_err)
					max_err = d;
				if (d > 1e-6)
					fail_msg("%s step at t=%ld (self %d): phase %d got %.9g "
					         "want "
					         "%.9g",
					         scen, t, self, k, out.value[k], exp[k]);
			}
			if ((int)out.reset_filters != reset)
				fail_msg("%s t=%ld: reset %d want %d", scen, t, out.reset_filters,
				         reset);
			if (isnan(intent)) {
				if (out.has_intent)
					fail_msg("%s t=%ld: unexpected intent %g", scen, t,
					         out.intent);
			} else if (!out.has_intent || fabs(out.intent - intent) > 1e-6) {
				fail_msg("%s t=%ld: intent %g (has %d) want %g", scen, t,
				         out.intent, out.has_intent, intent);
			}
		} else if (strcmp(tok, "end") == 0) {
			bal_destroy(b);
			b = NULL;
		}
	}
	fclose(f);
	bal_destroy(b);
	print_message("replayed %lu requests in %lu scenarios, max |diff| %.3g W\n", steps,
	              scenarios, max_err);
	assert_true(steps > 5000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_replay),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
