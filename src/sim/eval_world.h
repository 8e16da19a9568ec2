/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Inside the evaluation: the world both engines drive (eval_world.c). */
#ifndef ASTRAMETER_EVAL_WORLD_H
#define ASTRAMETER_EVAL_WORLD_H

#include "sim/eval.h"

/* The world a scenario run changes over time, shared by both engines: the scheduled events
 * (appliances, solar curve, clouds, DC PV) and the trace replay, applied to a house and
 * batteries the engine owns and binds (house, bat[]). */
struct eval_world {
	const struct eval_scenario *sc;
	double duration;
	struct sim_house *house;
	struct sim_battery *bat[EVAL_MAX_BAT];
	size_t nbat;
	struct eval_events ev;
	size_t next_ev;
	double solar_curve, solar_factor;
	struct sim_trace trace;
	bool trace_on;
	double trace_off, trace_scale;
	struct eval_record rec; /* the samples and the labelled steps' marks */
};

/* Resolves the run length (o->duration or the scenario's), loads the trace of a trace
 * scenario from o->trace_dir and builds the event list from o->seed. house/bat stay unbound
 * (NULL) for the engine to set. 0, or -1 with e (the world is then freed). */
int eval_world_init(struct eval_world *w, const struct eval_scenario *sc, const struct eval_opts *o,
                    struct err *e);
/* Applies every event due at or before t (in order; labelled ones are marked in w->rec),
 * then the trace sample at t. -1 on allocation failure (marks), else 0. */
int eval_world_advance(struct eval_world *w, double t);
void eval_world_free(struct eval_world *w);

/* The simulator config of a scenario: its house, meter and batteries (HMG-50 defaults,
 * the evaluation's 5 W minimum and 2 s start-up), seed o->seed, time scale o->time_scale,
 * CT on 127.0.0.1:ct_port. */
void eval_sim_config(const struct eval_scenario *sc, const struct eval_opts *o, uint16_t ct_port,
                     struct sim_config *c);
/* The daemon's [CT002] lines after UDP_PORT: ACTIVE_CONTROL, the scenario's ct_extra in
 * active mode, then o->ct_set. -1 if they do not fit in cap. */
int eval_ct002_lines(const struct eval_scenario *sc, const struct eval_opts *o, char *buf,
                     size_t cap);
/* Computes the metrics of w->rec and builds the result object (cJSON, as void *): metrics,
 * context (engine, time_scale, wall_s) and the downsampled series. timeouts: one count per
 * battery, or NULL for none. NULL with e on failure. */
void *eval_world_result(const struct eval_world *w, const struct eval_opts *o, double time_scale,
                        double wall_s, const unsigned *timeouts, struct err *e);

/* Whether a run of sc under o is in efficiency mode: eval_ct_efficiency_mode over the
 * lines eval_ct002_lines writes (the scenario's ct_extra in active mode, then --set). */
bool eval_efficiency_mode(const struct eval_scenario *sc, const struct eval_opts *o);

#endif
