/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The simulator's control API (sim_app_route): the /status document, /power as the daemon's
 * JSON_HTTP meter reads it, and the POST commands (loads, solar, batteries, auto mode,
 * shutdown). The HTTP server (sim_http.c) and the in-process terminal UI both call it, so
 * both see the same behaviour. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim/sim_app.h"

static double round1(double v)
{
	return round(v * 10.0) / 10.0;
}

static void add_grid(cJSON *o, const double g[3])
{
	cJSON_AddNumberToObject(o, "phase_a", round1(g[0]));
	cJSON_AddNumberToObject(o, "phase_b", round1(g[1]));
	cJSON_AddNumberToObject(o, "phase_c", round1(g[2]));
}

char *sim_app_status_json(struct sim_app *app)
{
	cJSON *root = cJSON_CreateObject();
	if (!root)
		return NULL;
	double g[3];
	sim_app_meter_value(app, g);
	cJSON *grid = cJSON_AddObjectToObject(root, "grid");
	add_grid(grid, g);
	cJSON_AddNumberToObject(grid, "total", round1(g[0] + g[1] + g[2]));
	cJSON *loads = cJSON_AddArrayToObject(root, "loads");
	for (size_t i = 0; i < app->house.nloads; i++) {
		const struct sim_load *l = &app->house.loads[i];
		cJSON *o = cJSON_CreateObject();
		char ph[2] = {(char)('A' + l->phase), 0};
		cJSON_AddStringToObject(o, "name", l->name);
		cJSON_AddNumberToObject(o, "power", l->power);
		cJSON_AddStringToObject(o, "phase", ph);
		cJSON_AddBoolToObject(o, "active", l->active);
		cJSON_AddItemToArray(loads, o);
	}
	cJSON *solar = cJSON_AddObjectToObject(root, "solar");
	cJSON_AddNumberToObject(solar, "current", round1(app->house.solar));
	cJSON_AddNumberToObject(solar, "max", app->house.solar_max);
	cJSON *sp = cJSON_AddArrayToObject(solar, "phases");
	for (int p = 0; p < 3; p++) {
		char ph[2] = {(char)('A' + p), 0};
		if (app->house.solar_on[p])
			cJSON_AddItemToArray(sp, cJSON_CreateString(ph));
	}
	cJSON_AddBoolToObject(root, "auto_mode", app->house.auto_mode);
	cJSON *bats = cJSON_AddArrayToObject(root, "batteries");
	for (size_t i = 0; i < app->nbat; i++) {
		const struct sim_battery *b = &app->bat[i].b;
		cJSON *o = cJSON_CreateObject();
		char ph[2] = {b->cfg.phase, 0};
		cJSON_AddStringToObject(o, "mac", b->cfg.mac);
		cJSON_AddStringToObject(o, "phase", ph);
		cJSON_AddStringToObject(o, "meter_dev_type", b->cfg.dev_type);
		cJSON_AddNumberToObject(o, "power", (double)sim_round(b->power));
		cJSON_AddNumberToObject(o, "target", (double)sim_round(b->requested));
		cJSON_AddNumberToObject(o, "applied_target", (double)sim_round(b->target));
		cJSON_AddNumberToObject(o, "power_update_delay_ticks", b->cfg.delay_ticks);
		cJSON_AddNumberToObject(o, "soc", round(b->soc * 10000.0) / 10000.0);
		cJSON_AddNumberToObject(o, "max_charge", b->cfg.max_charge);
		cJSON_AddNumberToObject(o, "max_discharge", b->cfg.max_discharge);
		cJSON_AddNumberToObject(o, "max_dc_input", b->cfg.max_dc_input);
		cJSON_AddNumberToObject(o, "dc_input", (double)sim_round(b->dc_input));
		cJSON_AddNumberToObject(o, "timeouts", app->bat[i].timeouts);
		cJSON_AddItemToArray(bats, o);
	}
	char *s = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return s;
}

static char *json_msg(const char *key, const char *msg)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, key, msg);
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static int reply_err(char **out, int status, const char *msg)
{
	*out = json_msg("error", msg);
	return status;
}

static struct sim_bat_rt *find_battery(struct sim_app *app, const char *mac, size_t len)
{
	for (size_t i = 0; i < app->nbat; i++)
		if (strlen(app->bat[i].b.cfg.mac) == len &&
		    !strncasecmp(app->bat[i].b.cfg.mac, mac, len))
			return &app->bat[i];
	return NULL;
}

/* A JSON number, or a numeric string (the reference accepts float("0.5")). */
static int json_number(const cJSON *v, double *out)
{
	if (cJSON_IsNumber(v)) {
		*out = v->valuedouble;
		return isfinite(*out) ? 0 : -1;
	}
	if (cJSON_IsString(v)) {
		char *end;
		*out = strtod(v->valuestring, &end);
		return (end != v->valuestring && *end == '\0' && isfinite(*out)) ? 0 : -1;
	}
	return -1;
}

static int route_battery(struct sim_app *app, const char *rest, cJSON *body, char **out)
{
	const char *slash = strchr(rest, '/');
	if (!slash)
		return reply_err(out, 404, "not found");
	struct sim_bat_rt *r = find_battery(app, rest, (size_t)(slash - rest));
	if (!r)
		return reply_err(out, 404, "battery not found");
	const char *what = slash + 1;
	if (!body)
		return reply_err(out, 400, "invalid or missing JSON");
	double v;
	if (!strcmp(what, "soc")) {
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(body, "soc");
		if (!s)
			return reply_err(out, 400, "missing 'soc'");
		if (json_number(s, &v) < 0 || v < 0.0 || v > 1.0)
			return reply_err(out, 400, "invalid 'soc'");
		sim_bat_set_soc(&r->b, v);
	} else if (!strcmp(what, "max_power")) {
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(body, "charge");
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(body, "discharge");
		double cv = r->b.cfg.max_charge, dv = r->b.cfg.max_discharge;
		if ((c && json_number(c, &cv) < 0) || (d && json_number(d, &dv) < 0))
			return reply_err(out, 400, "invalid max power");
		if (cv < 0 || dv < 0 || cv > 100000 || dv > 100000)
			return reply_err(out, 400, "max power must be >= 0");
		r->b.cfg.max_charge = (int)cv;
		r->b.cfg.max_discharge = (int)dv;
	} else if (!strcmp(what, "dc")) {
		if (r->b.cfg.max_dc_input <= 0)
			return reply_err(out, 400, "battery has no DC input capability");
		const cJSON *w = cJSON_GetObjectItemCaseSensitive(body, "watts");
		if (!w)
			return reply_err(out, 400, "missing 'watts'");
		if (json_number(w, &v) < 0 || v < 0 || v > r->b.cfg.max_dc_input)
			return reply_err(out, 400, "invalid 'watts'");
		sim_bat_set_dc_input(&r->b, v);
	} else {
		return reply_err(out, 404, "not found");
	}
	*out = sim_app_status_json(app);
	return 200;
}

static ev_ms stop_loop(struct ev_loop *loop, void *arg)
{
	(void)arg;
	ev_stop(loop);
	return EV_STOP;
}

int sim_app_route(struct sim_app *app, const char *method, const char *path, const char *body,
                  size_t blen, char **out)
{
	*out = NULL;
	bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
	if (get && !strcmp(path, "/power")) {
		double g[3];
		sim_app_meter_value(app, g);
		cJSON *o = cJSON_CreateObject();
		if (!o)
			return 500;
		add_grid(o, g);
		*out = cJSON_PrintUnformatted(o);
		cJSON_Delete(o);
		return 200;
	}
	if (get && !strcmp(path, "/status")) {
		*out = sim_app_status_json(app);
		return 200;
	}
	if (!post)
		return reply_err(out, get ? 404 : 405, get ? "not found" : "method not allowed");

	cJSON *j = blen ? cJSON_ParseWithLength(body, blen) : cJSON_CreateObject();
	if (j && !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		j = NULL;
	}
	int status = 200;
	int idx;
	char tail[16];
	if (sscanf(path, "/loads/%d/%15s", &idx, tail) == 2 && !strcmp(tail, "toggle")) {
		if (sim_house_toggle(&app->house, idx) < 0)
			status = reply_err(out, 400, "Load index out of range");
		else
			*out = sim_app_status_json(app);
	} else if (!strcmp(path, "/solar")) {
		const cJSON *w = j ? cJSON_GetObjectItemCaseSensitive(j, "watts") : NULL;
		double v;
		if (!j)
			status = reply_err(out, 400, "invalid or missing JSON");
		else if (!w)
			status = reply_err(out, 400, "missing 'watts'");
		else if (cJSON_IsString(w) && !strcmp(w->valuestring, "max"))
			sim_house_set_solar(&app->house, app->house.solar_max);
		else if (cJSON_IsString(w) && !strcmp(w->valuestring, "off"))
			sim_house_set_solar(&app->house, 0);
		else if (cJSON_IsNumber(w) && json_number(w, &v) == 0)
			sim_house_set_solar(&app->house, v);
		else
			status = reply_err(out, 400, "invalid watts");
		if (status == 200)
			*out = sim_app_status_json(app);
	} else if (!strncmp(path, "/batteries/", 11)) {
		status = route_battery(app, path + 11, j, out);
	} else if (!strcmp(path, "/auto")) {
		if (!j) {
			status = reply_err(out, 400, "invalid or missing JSON");
		} else {
			const cJSON *en = cJSON_GetObjectItemCaseSensitive(j, "enabled");
			app->house.auto_mode = en && (cJSON_IsTrue(en) ||
			                              (cJSON_IsNumber(en) && en->valuedouble != 0));
			*out = sim_app_status_json(app);
		}
	} else if (!strcmp(path, "/shutdown")) {
		app->shutdown = true;
		/* Stop shortly after, so this reply still goes out. */
		ev_timer_add(app->loop, 100, stop_loop, NULL);
		*out = json_msg("status", "shutting_down");
	} else {
		status = reply_err(out, 404, "not found");
	}
	cJSON_Delete(j);
	return status;
}
