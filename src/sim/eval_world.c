/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The world a scenario run changes over time, shared by both engines (the daemon engine in
 * eval_run.c, the virtual one in eval_virtual.c): the scheduled events and the trace
 * replay applied to the engine's house and batteries, the simulator config and the
 * [CT002] lines of a scenario, and the result object built from the recorded run. It
 * calls only the scenario tables and the metrics; the engines call it. */
#include "sim/eval_world.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRACE_PV_SCALE 0.45 /* the reference's balcony-size scaling of the Cyprus trace */

int eval_ct002_lines(const struct eval_scenario *sc, const struct eval_opts *o, char *buf,
                     size_t cap)
{
	bool active = o->mode == EVAL_MODE_ACTIVE;
	int n = snprintf(buf, cap, "ACTIVE_CONTROL = %s\n%s%s", active ? "True" : "False",
	                 active && sc->ct_extra ? sc->ct_extra : "", o->ct_set ? o->ct_set : "");
	return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

/* ---- world ---------------------------------------------------------------------------- */

static int apply_event(struct eval_world *w, const struct eval_event *ev)
{
	struct sim_house *h = w->house;
	switch (ev->kind) {
	case EVAL_EV_LOAD:
		if (ev->index >= 0 && (size_t)ev->index < h->nloads)
			h->loads[ev->index].active = ev->value != 0;
		break;
	case EVAL_EV_SOLAR_CURVE:
		w->solar_curve = ev->value;
		sim_house_set_solar(h, w->solar_curve * w->solar_factor);
		break;
	case EVAL_EV_SOLAR_FACTOR:
		/* Curve x factor, so a cloud dip composes with the day curve underneath. */
		w->solar_factor = ev->value;
		sim_house_set_solar(h, w->solar_curve * w->solar_factor);
		break;
	case EVAL_EV_DC:
		if (ev->index >= 0 && (size_t)ev->index < w->nbat)
			sim_bat_set_dc_input(w->bat[ev->index], ev->value);
		break;
	}
	if (ev->label[0] && eval_record_mark(&w->rec, ev->at, ev->label) < 0)
		return -1;
	return 0;
}

int eval_world_advance(struct eval_world *w, double t)
{
	int rc = 0;
	while (w->next_ev < w->ev.n && w->ev.v[w->next_ev].at <= t)
		if (apply_event(w, &w->ev.v[w->next_ev++]) < 0)
			rc = -1;
	if (w->trace_on) {
		double load, pv;
		sim_trace_at(&w->trace, w->trace.t[0] + w->trace_off + t, &load, &pv);
		w->house->base[0] = load * w->trace_scale;
		if (w->trace.has_pv) {
			w->solar_curve = pv * w->trace_scale;
			sim_house_set_solar(w->house, w->solar_curve * w->solar_factor);
		}
	}
	return rc;
}

void eval_sim_config(const struct eval_scenario *sc, const struct eval_opts *o, uint16_t ct_port,
                     struct sim_config *c)
{
	sim_config_defaults(c);
	snprintf(c->ct_host, sizeof(c->ct_host), "127.0.0.1");
	snprintf(c->http_host, sizeof(c->http_host), "127.0.0.1");
	c->ct_port = ct_port;
	c->http_port = 0; /* ephemeral; read back from the socket */
	sim_house_defaults(&c->house);
	memcpy(c->house.base, sc->base, sizeof(c->house.base));
	c->house.noise = sc->noise;
	c->house.solar_max = 2000.0; /* the reference's LoadModel clamp */
	for (int p = 0; p < 3; p++)
		c->house.solar_on[p] = p == 0 || sc->solar_all_phases;
	c->house.nloads = sc->nloads;
	for (size_t i = 0; i < sc->nloads && i < SIM_MAX_LOADS; i++) {
		struct sim_load *l = &c->house.loads[i];
		snprintf(l->name, sizeof(l->name), "%s", sc->loads[i].name);
		l->power = sc->loads[i].power;
		l->phase = sc->loads[i].phase - 'A';
		l->active = false;
	}
	c->meter_interval = sc->meter_interval;
	c->meter_latency = sc->meter_latency;
	c->nbat = sc->nbat;
	for (size_t i = 0; i < sc->nbat; i++) {
		struct eval_bat_spec b;
		eval_bat_spec_resolve(&sc->bat[i], &b);
		struct sim_bat_cfg *bc = &c->bat[i];
		sim_bat_cfg_defaults(bc);
		snprintf(bc->mac, sizeof(bc->mac), "02B250%06X", (unsigned)(i + 1));
		bc->phase = b.phase;
		snprintf(bc->dev_type, sizeof(bc->dev_type), "%s", b.dev_type);
		bc->max_charge = b.max_charge;
		bc->max_discharge = b.max_discharge;
		bc->capacity_wh = b.capacity_wh;
		bc->initial_soc = b.initial_soc;
		bc->ramp_rate = b.ramp_rate;
		bc->poll_interval = b.poll_interval;
		bc->min_power = 5.0; /* the evaluation's BatterySpec, not the live sim's 20 W */
		bc->startup_delay = 2.0;
		bc->max_dc_input = b.max_dc_input;
		bc->initial_power = b.initial_power;
	}
	c->log_interval = 3600;
	c->time_scale = o->time_scale > 0 ? o->time_scale : 1.0;
	c->seed = o->seed;
}

static int load_trace(struct eval_world *w, const struct eval_opts *o, struct err *e)
{
	enum eval_schedule k = w->sc->sched;
	bool pv = k == EVAL_SCHED_NETTRACE || k == EVAL_SCHED_NETTRACE_FULL;
	if (k != EVAL_SCHED_TRACE && k != EVAL_SCHED_TRACE_FULL && !pv)
		return 0;
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", o->trace_dir ? o->trace_dir : ".",
	         pv ? "cyprus_netload.csv" : "rae_household.csv");
	if (sim_trace_load(path, pv, &w->trace, e) < 0)
		return -1;
	double span = w->trace.t[w->trace.n - 1] - w->trace.t[0];
	w->trace_on = true;
	w->trace_scale = pv ? TRACE_PV_SCALE : 1.0;
	w->trace_off = eval_trace_offset(w->sc, span, w->duration, o->seed);
	return 0;
}

int eval_world_init(struct eval_world *w, const struct eval_scenario *sc, const struct eval_opts *o,
                    struct err *e)
{
	memset(w, 0, sizeof(*w));
	w->sc = sc;
	w->solar_factor = 1.0;
	w->duration = o->duration > 0 ? o->duration : sc->duration;
	if (load_trace(w, o, e) < 0 || eval_build_events(sc, w->duration, o->seed, &w->ev, e) < 0) {
		eval_world_free(w);
		return -1;
	}
	return 0;
}

void eval_world_free(struct eval_world *w)
{
	eval_events_free(&w->ev);
	eval_record_free(&w->rec);
	sim_trace_free(&w->trace);
}

static cJSON *series(const struct eval_record *rec, double duration, int which)
{
	double *v = malloc(EVAL_GRAPH_POINTS * sizeof(double));
	if (!v)
		return NULL;
	eval_downsample(rec, duration, which, v, EVAL_GRAPH_POINTS);
	cJSON *a = cJSON_CreateDoubleArray(v, EVAL_GRAPH_POINTS);
	free(v);
	return a;
}

static cJSON *result_json(const struct eval_world *w, const struct eval_opts *opts,
                          double time_scale, const struct eval_metrics *m, double wall_s,
                          const unsigned *timeouts)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	const struct eval_scenario *sc = w->sc;
	cJSON_AddStringToObject(o, "scenario", sc->name);
	cJSON_AddStringToObject(o, "description", sc->description);
	cJSON_AddStringToObject(o, "mode", opts->mode == EVAL_MODE_ACTIVE ? "active" : "relay");
	cJSON_AddStringToObject(o, "engine",
	                        opts->engine == EVAL_ENGINE_VIRTUAL ? "virtual" : "daemon");
	cJSON_AddNumberToObject(o, "seed", (double)opts->seed);
	cJSON_AddNumberToObject(o, "duration_s", w->duration);
	cJSON_AddNumberToObject(o, "duration_h", round(m->duration_h * 1000.0) / 1000.0);
	cJSON_AddNumberToObject(o, "time_scale", time_scale);
	cJSON_AddNumberToObject(o, "wall_s", round(wall_s * 10.0) / 10.0);
	cJSON_AddNumberToObject(o, "samples", (double)m->samples);
	cJSON_AddNumberToObject(o, "soc_min", m->soc_min);
	cJSON_AddNumberToObject(o, "soc_max", m->soc_max);
	cJSON_AddNumberToObject(o, "events_measured", m->events_measured);
	cJSON_AddNumberToObject(o, "unsettled_events", m->unsettled_events);
	cJSON_AddNumberToObject(o, "settle_mean_s", m->settle_mean_s);
	cJSON_AddNumberToObject(o, "settle_p95_s", m->settle_p95_s);
	cJSON_AddNumberToObject(o, "overshoot_mean_w", m->overshoot_mean_w);
	cJSON_AddNumberToObject(o, "overshoot_max_w", m->overshoot_max_w);
	cJSON_AddNumberToObject(o, "band_crossings_per_h", m->band_crossings_per_h);
	cJSON_AddNumberToObject(o, "grid_p2p_w", m->grid_p2p_w);
	cJSON_AddNumberToObject(o, "grid_rms_w", m->grid_rms_w);
	cJSON_AddNumberToObject(o, "steady_rms_w", m->steady_rms_w);
	cJSON_AddNumberToObject(o, "mean_abs_grid_w", m->mean_abs_grid_w);
	cJSON_AddNumberToObject(o, "share_imbalance_w", m->share_imbalance_w);
	cJSON_AddNumberToObject(o, "import_wh", m->import_wh);
	cJSON_AddNumberToObject(o, "export_wh", m->export_wh);
	cJSON_AddNumberToObject(o, "avoidable_import_wh", m->avoidable_import_wh);
	cJSON_AddNumberToObject(o, "avoidable_export_wh", m->avoidable_export_wh);
	cJSON_AddNumberToObject(o, "grid_cost_ct", m->grid_cost_ct);
	cJSON_AddNumberToObject(o, "oracle_cost_ct", m->oracle_cost_ct);
	cJSON_AddNumberToObject(o, "cost_regret_ct", m->cost_regret_ct);
	cJSON_AddNumberToObject(o, "battery_travel_w_per_h", m->battery_travel_w_per_h);
	cJSON_AddNumberToObject(o, "share_dev_p95_w", m->share_dev_p95_w);
	cJSON_AddNumberToObject(o, "share_samples", (double)m->share_samples);
	cJSON_AddNumberToObject(o, "steady_rms_after_start_w", m->steady_rms_after_start_w);
	cJSON_AddBoolToObject(o, "efficiency_mode", eval_efficiency_mode(sc, opts));
	cJSON *to = cJSON_AddArrayToObject(o, "battery_timeouts");
	cJSON *labels = cJSON_AddArrayToObject(o, "battery_labels");
	cJSON *traces = cJSON_AddArrayToObject(o, "battery_traces");
	cJSON_AddItemToObject(o, "grid_trace", series(&w->rec, w->duration, -1));
	cJSON_AddItemToObject(o, "consumption_trace", series(&w->rec, w->duration, -2));
	for (size_t i = 0; i < w->nbat; i++) {
		char l[48];
		snprintf(l, sizeof(l), "B%zu %s", i + 1, w->bat[i]->cfg.dev_type);
		cJSON_AddItemToArray(labels, cJSON_CreateString(l));
		cJSON_AddItemToArray(traces, series(&w->rec, w->duration, (int)i));
		cJSON_AddItemToArray(to, cJSON_CreateNumber(timeouts ? timeouts[i] : 0));
	}
	return o;
}

void *eval_world_result(const struct eval_world *w, const struct eval_opts *o, double time_scale,
                        double wall_s, const unsigned *timeouts, struct err *e)
{
	const struct eval_scenario *sc = w->sc;
	struct eval_bat_spec bats[EVAL_MAX_BAT];
	for (size_t i = 0; i < sc->nbat && i < EVAL_MAX_BAT; i++)
		eval_bat_spec_resolve(&sc->bat[i], &bats[i]);
	struct eval_metrics m;
	if (eval_compute_metrics(bats, sc->nbat, w->duration, &w->rec, &m, e) < 0)
		return NULL;
	cJSON *out = result_json(w, o, time_scale, &m, wall_s, timeouts);
	if (!out)
		err_set(e, "out of memory");
	return out;
}

bool eval_efficiency_mode(const struct eval_scenario *sc, const struct eval_opts *o)
{
	char lines[1536];
	return eval_ct002_lines(sc, o, lines, sizeof(lines)) == 0 && eval_ct_efficiency_mode(lines);
}
