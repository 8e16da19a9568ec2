/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Closed-loop steering evaluation (`astra-sim eval`): named, seeded scenarios in the
 * reference's shape (its simulator/evaluation.py: same names, batteries, loads, meters and
 * schedules), the pure pieces that turn a scenario into a timed event list and a recorded
 * run into the reference's metric set (settling, overshoot, hunting, RMS, energy, avoidable
 * exchange, share imbalance, travel, cost and regret against a perfect-foresight battery),
 * and the reports (JSON, a self-contained HTML page with inline SVG, a --compare table).
 * Two engines play a scenario: eval_run.c against the real daemon over loopback in real
 * time, eval_virtual.c in-process under a virtual clock (our CT002 core and balancer called
 * directly, the reference's own closed-loop shape); the world both drive is eval_world.
 * Everything declared before the engines here is pure (time and randomness are
 * parameters). */
#ifndef ASTRAMETER_SIM_EVAL_H
#define ASTRAMETER_SIM_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "astrameter/err.h"
#include "sim/sim_battery.h"
#include "sim/sim_config.h"
#include "sim/sim_meter.h"

#define EVAL_MAX_BAT   4
#define EVAL_MAX_LOADS 4
/* Points each per-run series is downsampled to for the report (the reference's count). */
#define EVAL_GRAPH_POINTS 1800

/* The reference's metric constants (evaluation.py). */
#define EVAL_SETTLE_BAND_W     25.0
#define EVAL_SETTLE_HOLD_S     10.0
#define EVAL_EVENT_WINDOW_S    600.0
#define EVAL_OSC_BAND_W        20.0
#define EVAL_STEADY_EXCLUDE_S  120.0
#define EVAL_HEADROOM_MARGIN_W 5.0
#define EVAL_SOC_EMPTY         0.02
#define EVAL_SOC_FULL          0.98
#define EVAL_RETAIL_CT_PER_KWH 30.0
#define EVAL_FEEDIN_CT_PER_KWH 8.0

/* One battery of a scenario (the reference's BatterySpec defaults). */
struct eval_bat_spec {
	const char *dev_type; /* NULL = HMG-50 */
	char phase;           /* 0 = 'A' */
	int max_charge, max_discharge;
	double capacity_wh, initial_soc, ramp_rate, poll_interval;
	int max_dc_input;
	double initial_power;
};

/* How a scenario's world changes over time. */
enum eval_schedule {
	EVAL_SCHED_NONE = 0,      /* base load and noise only */
	EVAL_SCHED_STEPS,         /* kettle / oven cycling / dishwasher */
	EVAL_SCHED_WASHER,        /* drum motor pausing every 16 s */
	EVAL_SCHED_SOLAR,         /* half-sine PV day + two labelled cloud dips */
	EVAL_SCHED_STEPS_SOLAR,   /* both of the above */
	EVAL_SCHED_STEPS_DC,      /* steps + DC PV half-sine into one battery */
	EVAL_SCHED_TRACE,         /* per-seed window of the RAE household trace (base, A) */
	EVAL_SCHED_NETTRACE,      /* per-seed window of the Cyprus load+PV trace, x0.45 */
	EVAL_SCHED_TRACE_FULL,    /* the RAE trace from its start */
	EVAL_SCHED_NETTRACE_FULL, /* the Cyprus trace from its start, x0.45 */
};

struct eval_load_spec {
	const char *name;
	double power;
	char phase;
};

struct eval_scenario {
	const char *name;
	const char *description;
	struct eval_bat_spec bat[EVAL_MAX_BAT];
	size_t nbat;
	double duration; /* s, the reference's length */
	double base[3];
	double noise; /* uniform +- W */
	struct eval_load_spec loads[EVAL_MAX_LOADS];
	size_t nloads;
	double meter_interval, meter_latency; /* s */
	enum eval_schedule sched;
	double solar_peak;     /* W, AC (SOLAR*) or DC (STEPS_DC) */
	int dc_battery;        /* STEPS_DC: index of the battery with PV */
	bool solar_all_phases; /* PV inverter feeds A, B and C (default: A only) */
	/* Extra [CT002] lines for active mode ("KEY = value\n..."), or NULL. */
	const char *ct_extra;
};

/* The scenario table: the reference's set plus ours (three phases, whole traces). */
size_t eval_scenario_count(void);
const struct eval_scenario *eval_scenario_at(size_t i);
/* By exact name, or NULL. */
const struct eval_scenario *eval_scenario_find(const char *name);

/* A battery spec with every default applied (dev type, 2500/2500 W, 5120 Wh, SoC 0.6,
 * 400 W/s, 1 s poll, phase A). */
void eval_bat_spec_resolve(const struct eval_bat_spec *in, struct eval_bat_spec *out);

/* ---- events ---------------------------------------------------------------------------- */

enum eval_ev_kind {
	EVAL_EV_LOAD = 0,     /* loads[index].active = value != 0 */
	EVAL_EV_SOLAR_CURVE,  /* solar curve W (multiplied by the factor) */
	EVAL_EV_SOLAR_FACTOR, /* cloud factor */
	EVAL_EV_DC,           /* battery[index] DC input W */
};

struct eval_event {
	double at; /* s since start */
	enum eval_ev_kind kind;
	int index;
	double value;
	char label[24]; /* non-empty: a measured step (settling, overshoot) */
};

struct eval_events {
	struct eval_event *v;
	size_t n, cap;
};

/* Builds the scenario's event list for a run of `duration` seconds (the scenario's own
 * duration, or shorter: scripted step schedules are compressed by duration/sc->duration,
 * physical rhythms such as the washer drum are not) with per-seed jitter from `seed`.
 * Sorted by time (stable). Trace schedules produce no events (eval_trace_window gives
 * their offset). 0, or -1 on allocation failure. */
int eval_build_events(const struct eval_scenario *sc, double duration, uint64_t seed,
                      struct eval_events *out, struct err *e);
void eval_events_free(struct eval_events *ev);

/* Trace schedules: the start offset into a trace spanning `span` seconds for a run of
 * `duration` s: uniform in [0, span - duration] from the seed (0 for the _FULL kinds). */
double eval_trace_offset(const struct eval_scenario *sc, double span, double duration,
                         uint64_t seed);

/* ---- recorded run and metrics ---------------------------------------------------------- */

struct eval_sample {
	double t;           /* s since start */
	double grid;        /* true grid total, W (+ import) */
	double consumption; /* house load + noise - AC solar, W */
	double power[EVAL_MAX_BAT];
	double soc[EVAL_MAX_BAT];
	double dc_input; /* W, fleet total */
	/* A battery polled since the previous sample. The reference records one sample per
	 * poll, so when any sample carries this flag the sample-counted metrics (band
	 * crossings, p95-p5, steady RMS) use only the flagged ones, which keeps them
	 * comparable; time-weighted metrics use every sample. */
	bool poll;
};

struct eval_mark {
	double t;
	char label[24];
};

struct eval_record {
	struct eval_sample *s;
	size_t n, cap;
	struct eval_mark *m;
	size_t nm, mcap;
};

int eval_record_add(struct eval_record *r, const struct eval_sample *s);
int eval_record_mark(struct eval_record *r, double t, const char *label);
void eval_record_free(struct eval_record *r);

/* The reference's metric set (all lower is better), plus context. */
struct eval_metrics {
	double duration_h;
	size_t samples;
	double soc_min, soc_max;
	int events_measured, unsettled_events;
	double settle_mean_s, settle_p95_s;
	double overshoot_mean_w, overshoot_max_w;
	double band_crossings_per_h;
	double grid_p2p_w, grid_rms_w, steady_rms_w, mean_abs_grid_w;
	double share_imbalance_w;
	double import_wh, export_wh, avoidable_import_wh, avoidable_export_wh;
	double grid_cost_ct, oracle_cost_ct, cost_regret_ct;
	double battery_travel_w_per_h;
	/* Ours (not the reference's): the sharing goal, see eval_share_dev_p95, and
	 * how many samples it counted (0: the scenario never had steady load to share). */
	double share_dev_p95_w;
	size_t share_samples;
	/* Ours: steady_rms_w without the first EVAL_START_EXCLUDE_S seconds, where no
	 * controller can act yet (the inspection poll and the inverter's start-up delay). */
	double steady_rms_after_start_w;
};

/* Seconds at the start of a run left out of steady_rms_after_start_w. */
#define EVAL_START_EXCLUDE_S 30.0

/* Linear-interpolated percentile of values (copied and sorted; pct in 0..1); 0 if n == 0.
 * -1 only on allocation failure. */
int eval_percentile(const double *values, size_t n, double pct, double *out);
/* Seconds from start until |grid| stays under the settle band for the hold time, within
 * [start, end]; returns false if it never does. */
bool eval_settle_time(const struct eval_sample *s, size_t n, double start, double end, double *out);
/* Cost in eurocents of an import/export pair at the reference's flat tariffs. */
double eval_grid_cost_ct(double import_wh, double export_wh);
/* Cost of the perfect-foresight lossless fleet battery on the same load (greedy optimum
 * under a flat tariff); bats/nbat give the summed capacity, limits and initial energy. */
double eval_oracle_cost_ct(const struct eval_bat_spec *bats, size_t nbat,
                           const struct eval_sample *s, size_t n);
/* Computes every metric of a recorded run of `duration` seconds. bats are resolved
 * specs. 0, or -1 on allocation failure. */
int eval_compute_metrics(const struct eval_bat_spec *bats, size_t nbat, double duration,
                         const struct eval_record *rec, struct eval_metrics *m, struct err *e);
/* Seconds of steady load before a sample counts for the sharing goal. */
#define EVAL_SHARE_STEADY_S 60.0
/* How far (W) the house consumption may have strayed from its current value over those
 * seconds for the load to count as steady. */
#define EVAL_SHARE_STEADY_BAND_W 50.0
/* share_dev_p95_w: how far same-phase batteries are from their weighted share once the load
 * has been steady. A pool is the batteries on one phase, if there are two or more. A sample
 * counts (only the poll-flagged ones when any sample is flagged) if it lies at least
 * EVAL_SHARE_STEADY_S after the run's start and after the latest labelled step at or before
 * it, and every sample's consumption in the EVAL_SHARE_STEADY_S before it (inclusive) lies
 * within EVAL_SHARE_STEADY_BAND_W of its own (steady load). A pool is left out of a
 * sample when one of its batteries has SoC <= EVAL_SOC_EMPTY or >= EVAL_SOC_FULL, when it
 * holds a DC-only battery (no AC input: B2500, Jupiter) and its total output is below 0
 * (charging), or when its weights sum to 0. Otherwise a battery's deviation is
 * |P_i - w_i / sum(w) * sum(P)| over its pool (weights w, NULL = all 1); the sample's value
 * is the largest deviation over its pools. *out is the linear 95th percentile of those
 * values, 0 when no sample counts (and so for single-battery scenarios); *counted (may be
 * NULL) is the number of samples that counted. O(n) time.
 * -1 only on allocation failure. */
int eval_share_dev_p95(const struct eval_bat_spec *bats, const double *weights, size_t nbat,
                       const struct eval_record *rec, double *out, size_t *counted);
/* Whether [CT002] lines ("KEY = value\n...") put the balancer in efficiency mode:
 * the last MIN_EFFICIENT_POWER line (key case-insensitive, '=' or ':') has a value > 0.
 * There the balancer parks batteries on purpose, so the sharing goal does not apply. */
bool eval_ct_efficiency_mode(const char *lines);
/* `n` evenly spaced bucket means of a per-sample value (battery index `which`, or -1 for
 * grid, -2 for consumption); empty buckets carry the previous value. */
void eval_downsample(const struct eval_record *rec, double duration, int which, double *out,
                     size_t n);

/* ---- reports ------------------------------------------------------------------------- */

/* Metric keys in report order (the reference's _REPORT_METRICS). */
extern const char *const eval_report_keys[];
extern const size_t eval_report_nkeys;

/* Text summary of one result object (as produced by eval_run_scenario). */
void eval_print_text(FILE *f, const void *result_json);
/* --compare: a table of base vs head per scenario and for the mean across the scenarios
 * both hold (lower is better). Results are cJSON arrays (opaque here). */
void eval_print_compare(FILE *f, const void *base_json, const void *head_json);
/* Writes the self-contained HTML report (inline SVG, no scripts). base may be NULL. */
int eval_write_html(FILE *f, const void *head_json, const void *base_json);

/* ---- engines ---------------------------------------------------------------------------- */

enum eval_mode { EVAL_MODE_RELAY = 0, EVAL_MODE_ACTIVE };

enum eval_engine {
	EVAL_ENGINE_DAEMON = 0, /* the real daemon over loopback, real clock (eval_run.c) */
	EVAL_ENGINE_VIRTUAL,    /* our CT002 core in-process, virtual clock (eval_virtual.c) */
};

struct eval_opts {
	const char *daemon_bin;
	const char *trace_dir;
	enum eval_mode mode;
	double duration;   /* s; 0 = the scenario's own */
	double time_scale; /* sim seconds per wall second; > 1 only in relay mode */
	uint64_t seed;
	const char *ct_set; /* extra [CT002] lines from --set, or NULL */
	bool keep_dir;      /* keep the daemon's temp dir (config + log) */
	bool verbose;
	enum eval_engine engine;
	/* --timing (virtual engine): the meter's latency and refresh interval instead of the
	 * scenario's (< 0: the scenario's), poll jitter (each poll interval +- U(0, jitter) s),
	 * every battery's ramp rate (W/s, 0: the scenario's) and the chance that a due meter
	 * refresh is skipped (the reading stays stale for that poll). */
	struct eval_timing {
		double latency, interval, jitter, ramp, stale;
	} timing;
};

/* Parses a --timing spec "latency=S,interval=S,jitter=S,ramp=W,stale=P" into t (unset
 * keys keep their value). 0, or -1 with e naming the bad part. */
int eval_timing_parse(const char *spec, struct eval_timing *t, struct err *e);

/* Plays one scenario: spawns the daemon with a generated config.ini (CT002 on a free UDP
 * port, JSON_HTTP meter on the simulator's /power), runs the simulator with the schedule
 * on its own event loop, records the true grid every meter tick, stops the daemon and
 * returns a malloc'ed cJSON object (as void *) with the metrics, context and downsampled
 * series. NULL with e on failure. */
void *eval_run_scenario(const struct eval_scenario *sc, const struct eval_opts *o, struct err *e);

/* `astra-sim eval ...` (argv[0] is "eval"). Returns the exit status. */
int eval_main(int argc, char **argv);

#endif
