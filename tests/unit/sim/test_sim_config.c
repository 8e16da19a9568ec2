/* SPDX-License-Identifier: GPL-3.0-or-later */
/* astra-sim JSON config (schema, defaults, validation, quick household) and the control
 * router (routes, status codes, state changes) on a real event loop with ephemeral ports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "astrameter/ev.h"
#include "sim/sim_app.h"
#include "sim/sim_config.h"

static int parse(const char *js, struct sim_config *c, struct err *e)
{
	return sim_config_parse(js, strlen(js), c, e);
}

static void test_defaults_and_full(void **state)
{
	(void)state;
	struct sim_config *c = malloc(sizeof(*c));
	struct err e;
	assert_non_null(c);
	assert_int_equal(parse("{}", c, &e), 0);
	assert_int_equal(c->ct_port, 12345);
	assert_int_equal(c->http_port, 8080);
	assert_string_equal(c->ct_mac, "112233445566");
	assert_true(c->house.base[1] == 100 && c->house.noise == 20 && c->house.solar_max == 2000);
	assert_true(c->house.solar_on[0] && !c->house.solar_on[1]);
	assert_int_equal(c->nbat, 0);
	assert_int_equal(sim_config_validate(c, &e), 0);

	const char *full =
	        "{\"ct\":{\"mac\":\"AABBCCDDEEFF\",\"host\":\"127.0.0.2\",\"port\":4000},"
	        "\"http\":{\"port\":9000},\"power_update_delay_ticks\":3,"
	        "\"powermeter\":{\"base_load\":[300,0],\"base_noise\":5,\"solar_max\":900,"
	        "\"solar_phases\":[\"B\",\"C\"],\"meter_interval\":10,\"meter_latency\":1,"
	        "\"loads\":[{\"name\":\"Kettle\",\"power\":1200,\"phase\":\"C\"}],"
	        "\"trace\":{\"path\":\"x.csv\",\"columns\":3,\"scale\":0.45,\"phase\":\"B\"}},"
	        "\"batteries\":[{\"mac\":\"02b250000001\",\"phase\":\"A\",\"meter_dev_type\":"
	        "\"HMJ-2\",\"max_dc_input\":800,\"dc_input_power\":500,\"participates\":false},"
	        "{\"mac\":\"02B250000002\",\"phase\":\"B\",\"power_update_delay_ticks\":1}],"
	        "\"auto_mode\":true,\"auto_interval\":[5,7],\"time_scale\":4,\"seed\":9}";
	assert_int_equal(parse(full, c, &e), 0);
	assert_int_equal(sim_config_validate(c, &e), 0);
	assert_string_equal(c->ct_host, "127.0.0.2");
	assert_int_equal(c->ct_port, 4000);
	assert_int_equal(c->http_port, 9000);
	assert_true(c->house.base[0] == 300 && c->house.base[1] == 0 && c->house.base[2] == 0);
	assert_true(!c->house.solar_on[0] && c->house.solar_on[1] && c->house.solar_on[2]);
	assert_int_equal(c->house.nloads, 1);
	assert_int_equal(c->house.loads[0].phase, 2);
	assert_true(c->meter_interval == 10 && c->meter_latency == 1);
	assert_string_equal(c->trace_path, "x.csv");
	assert_int_equal(c->trace_columns, 3);
	assert_int_equal(c->house.trace_phase, 1);
	assert_int_equal(c->nbat, 2);
	assert_string_equal(c->bat[0].mac, "02B250000001"); /* upper-cased */
	assert_string_equal(c->bat[0].dev_type, "HMJ-2");
	assert_false(c->bat[0].participates);
	assert_int_equal(c->bat[0].delay_ticks, 3); /* top-level default */
	assert_int_equal(c->bat[1].delay_ticks, 1);
	assert_string_equal(c->bat[1].dev_type, "HMG-50");
	assert_true(c->house.auto_mode && c->house.auto_lo == 5 && c->house.auto_hi == 7);
	assert_true(c->time_scale == 4);
	assert_int_equal(c->seed, 9);
	free(c);
}

static void test_rejects(void **state)
{
	(void)state;
	static const char *const bad_parse[] = {
	        "{",
	        "[]",
	        "{\"batteries\":[{\"mac\":\"02B250000001\"}]}",
	        "{\"batteries\":[{\"mac\":\"02B250000001\",\"phase\":\"D\"}]}",
	        "{\"batteries\":[{\"mac\":\"02B250000001\",\"phase\":\"A\",\"meter_dev_type\":2}]}",
	        "{\"batteries\":[{\"mac\":\"02B250000001\",\"phase\":\"A\",\"meter_dev_type\":null}"
	        "]}",
	        "{\"powermeter\":{\"loads\":[{\"name\":\"x\",\"power\":1,\"phase\":\"Q\"}]}}",
	        "{\"powermeter\":{\"solar_phases\":[\"Z\"]}}",
	        "{\"powermeter\":{\"base_load\":[1,2,3,4]}}",
	        "{\"ct\":{\"port\":70000}}",
	        "{\"auto_interval\":[1]}",
	        "{\"powermeter\":{\"trace\":{\"path\":\"x\",\"columns\":4}}}",
	};
	static const char *const bad_valid[] = {
	        "{\"batteries\":[{\"mac\":\"XYZ\",\"phase\":\"A\"}]}",
	        "{\"batteries\":[{\"mac\":\"02B250000001\",\"phase\":\"A\"},"
	        "{\"mac\":\"02b250000001\",\"phase\":\"B\"}]}",
	        "{\"batteries\":[{\"mac\":\"02B250000001\",\"phase\":\"A\",\"initial_soc\":1.5}]}",
	        "{\"batteries\":[{\"mac\":\"02B250000001\",\"phase\":\"A\",\"max_charge_power\":-1}"
	        "]}",
	        "{\"batteries\":[{\"mac\":\"02B250000001\",\"phase\":\"A\",\"dc_input_power\":5}]}",
	        "{\"batteries\":[{\"mac\":\"02B250000001\",\"phase\":\"A\","
	        "\"power_update_delay_ticks\":-1}]}",
	        "{\"time_scale\":0}",
	};
	struct sim_config *c = malloc(sizeof(*c));
	struct err e;
	assert_non_null(c);
	for (size_t i = 0; i < sizeof(bad_parse) / sizeof(bad_parse[0]); i++)
		if (parse(bad_parse[i], c, &e) == 0)
			fail_msg("accepted: %s", bad_parse[i]);
	for (size_t i = 0; i < sizeof(bad_valid) / sizeof(bad_valid[0]); i++) {
		assert_int_equal(parse(bad_valid[i], c, &e), 0);
		if (sim_config_validate(c, &e) == 0)
			fail_msg("validated: %s", bad_valid[i]);
	}
	assert_int_equal(sim_config_load("/nonexistent.json", c, &e), -1);
	free(c);
}

static void test_quick(void **state)
{
	(void)state;
	struct sim_config *c = malloc(sizeof(*c));
	struct err e;
	assert_non_null(c);
	sim_config_defaults(c);
	sim_config_quick(c, 3, 3, NULL, 0.7);
	assert_int_equal(c->nbat, 3);
	assert_string_equal(c->bat[0].mac, "02B250000001");
	assert_string_equal(c->bat[2].mac, "02B250000003");
	assert_true(c->bat[1].phase == 'B' && c->bat[2].phase == 'C');
	assert_true(c->bat[0].initial_soc == 0.7);
	assert_int_equal(c->house.nloads, 5);
	assert_int_equal(c->house.loads[1].phase, 1);
	assert_true(c->house.base[0] == 100 && c->house.base[2] == 100);
	assert_true(c->house.solar_on[2]);
	sim_config_quick(c, 1, 1, NULL, 0.5);
	assert_true(c->house.base[0] == 300 && c->house.base[1] == 0);
	assert_int_equal(c->house.loads[4].phase, 0);
	sim_config_set_delay(c, 2);
	assert_int_equal(c->bat[0].delay_ticks, 2);
	assert_int_equal(sim_config_validate(c, &e), 0);
	free(c);
}

static int route(struct sim_app *app, const char *m, const char *p, const char *body)
{
	char *out = NULL;
	int st = sim_app_route(app, m, p, body, body ? strlen(body) : 0, &out);
	assert_non_null(out);
	free(out);
	return st;
}

static void test_router(void **state)
{
	(void)state;
	struct sim_config *c = malloc(sizeof(*c));
	struct sim_app *app = malloc(sizeof(*app));
	struct ev_loop *loop = ev_new(NULL, NULL);
	struct err e;
	assert_true(c && app && loop);
	sim_config_defaults(c);
	sim_config_quick(c, 1, 1, NULL, 0.5);
	c->http_port = 0; /* ephemeral */
	c->ct_port = 9;   /* nobody answers: only the router is exercised */
	c->house.noise = 0;
	assert_int_equal(sim_app_start(app, c, loop, &e), 0);

	char *out = NULL;
	assert_int_equal(sim_app_route(app, "GET", "/power", NULL, 0, &out), 200);
	assert_string_equal(out, "{\"phase_a\":300,\"phase_b\":0,\"phase_c\":0}");
	free(out);
	assert_int_equal(route(app, "POST", "/loads/4/toggle", NULL), 200);
	assert_true(app->house.loads[3].active);
	assert_int_equal(route(app, "POST", "/loads/6/toggle", NULL), 400);
	assert_int_equal(sim_app_route(app, "GET", "/power", NULL, 0, &out), 200);
	assert_string_equal(out, "{\"phase_a\":1100,\"phase_b\":0,\"phase_c\":0}");
	free(out);
	assert_int_equal(route(app, "POST", "/solar", "{\"watts\":\"max\"}"), 200);
	assert_true(app->house.solar == 2000);
	assert_int_equal(route(app, "POST", "/solar", "{\"watts\":\"off\"}"), 200);
	assert_true(app->house.solar == 0);
	assert_int_equal(route(app, "POST", "/solar", "{\"watts\":250}"), 200);
	assert_true(app->house.solar == 250);
	assert_int_equal(route(app, "POST", "/solar", "{}"), 400);
	assert_int_equal(route(app, "POST", "/solar", "not json"), 400);
	assert_int_equal(route(app, "POST", "/batteries/02b250000001/soc", "{\"soc\":0.2}"), 200);
	assert_true(app->bat[0].b.soc == 0.2);
	assert_int_equal(route(app, "POST", "/batteries/02B250000001/soc", "{\"soc\":\"0.3\"}"),
	                 200);
	assert_true(app->bat[0].b.soc == 0.3);
	assert_int_equal(route(app, "POST", "/batteries/02B250000001/soc", "{\"soc\":-1}"), 400);
	assert_int_equal(route(app, "POST", "/batteries/02B250000009/soc", "{\"soc\":0.5}"), 404);
	assert_int_equal(
	        route(app, "POST", "/batteries/02B250000001/max_power", "{\"charge\":100}"), 200);
	assert_int_equal(app->bat[0].b.cfg.max_charge, 100);
	assert_int_equal(app->bat[0].b.cfg.max_discharge, 800);
	assert_int_equal(
	        route(app, "POST", "/batteries/02B250000001/max_power", "{\"discharge\":-5}"), 400);
	assert_int_equal(route(app, "POST", "/batteries/02B250000001/dc", "{\"watts\":5}"), 400);
	assert_int_equal(route(app, "POST", "/batteries/02B250000001/nope", "{}"), 404);
	assert_int_equal(route(app, "POST", "/auto", "{\"enabled\":true}"), 200);
	assert_true(app->house.auto_mode);
	assert_int_equal(route(app, "GET", "/nope", NULL), 404);
	assert_int_equal(route(app, "DELETE", "/power", NULL), 405);
	assert_int_equal(route(app, "GET", "/status", NULL), 200);
	assert_int_equal(route(app, "POST", "/shutdown", NULL), 200);
	assert_true(app->shutdown);

	sim_app_stop(app);
	sim_app_stop(app); /* idempotent */
	ev_free(loop);
	free(app);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults_and_full),
	        cmocka_unit_test(test_rejects),
	        cmocka_unit_test(test_quick),
	        cmocka_unit_test(test_router),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
