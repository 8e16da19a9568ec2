/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The simulated household and its grid meter: base load per phase with seeded noise,
 * switchable loads, solar spread over its phases, an optional replayed load trace, and a
 * meter that refreshes at its own interval and reports the grid as it was `latency`
 * seconds ago (slow and late meters are the hard case for the controller). Battery output
 * is subtracted by the caller (sim_grid). Pure: time is a parameter, randomness comes from
 * a caller-owned seeded generator. */
#ifndef ASTRAMETER_SIM_METER_H
#define ASTRAMETER_SIM_METER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "astrameter/err.h"

/* splitmix64: small, seedable, good enough for noise and jitter. */
struct sim_rng {
	uint64_t s;
};
void sim_rng_seed(struct sim_rng *r, uint64_t seed);
uint64_t sim_rng_next(struct sim_rng *r);
/* Uniform in [lo, hi). */
double sim_rng_uniform(struct sim_rng *r, double lo, double hi);

/* A replayable trace: `t_s,watts` (pv all zero) or `t_s,load_w,pv_w`. */
struct sim_trace {
	size_t n;
	double *t, *load, *pv;
	bool has_pv;
};
/* Parses CSV text: '#' comments, blank lines and a header row are skipped; rows with too
 * few or non-numeric columns are skipped; samples are sorted by time. want_pv selects the
 * three-column form. -1 (with e) if no valid sample remains or on allocation failure. */
int sim_trace_parse(const char *text, size_t len, bool want_pv, struct sim_trace *out,
                    struct err *e);
/* Reads and parses a file. */
int sim_trace_load(const char *path, bool want_pv, struct sim_trace *out, struct err *e);
void sim_trace_free(struct sim_trace *t);
/* Zero-order hold at time t (before the first sample: the first; after the last: the last). */
void sim_trace_at(const struct sim_trace *t, double at, double *load, double *pv);

#define SIM_MAX_LOADS 16

struct sim_load {
	char name[48];
	double power;
	int phase; /* 0..2 */
	bool active;
};

struct sim_house {
	double base[3];
	double noise; /* uniform +-noise on phases with base or active load */
	struct sim_load loads[SIM_MAX_LOADS];
	size_t nloads;
	double solar, solar_max;
	bool solar_on[3]; /* phases the inverter feeds */
	bool auto_mode;
	double auto_lo, auto_hi;       /* seconds between random changes */
	const struct sim_trace *trace; /* optional, not owned */
	int trace_phase;               /* phase whose base the trace load replaces */
	double trace_scale;            /* multiplies load and pv */
};

/* upstream defaults: base 100 W per phase, noise 20 W, solar max 2000 W on phase A. */
void sim_house_defaults(struct sim_house *h);
/* Per-phase house contribution (base + noise + loads - solar) at time t. */
void sim_house_contribution(const struct sim_house *h, struct sim_rng *r, double t, double out[3]);
/* Toggles load index1 (1-based). -1 if out of range. */
int sim_house_toggle(struct sim_house *h, int index1);
/* Sets solar, clamped to [0, solar_max]. */
void sim_house_set_solar(struct sim_house *h, double watts);
/* Auto mode: each load flips with probability 0.3; solar jumps to a random level. */
void sim_house_auto_step(struct sim_house *h, struct sim_rng *r);

#define SIM_METER_HIST 1024

struct sim_meter {
	double interval; /* s between fresh readings; 0 = every read is fresh */
	double latency;  /* s of transport delay */
	double read_at;
	double cache[3];
	bool have;
	struct {
		double t, g[3];
	} hist[SIM_METER_HIST];
	size_t head, count;
};

void sim_meter_init(struct sim_meter *m, double interval, double latency);
/* Records the true grid at time t (call at a steady cadence, e.g. every 100 ms). */
void sim_meter_record(struct sim_meter *m, double t, const double g[3]);
/* What the meter shows at time t: refreshed every interval from the newest sample at or
 * before t - latency (zero-order hold). Before any sample: zeros. */
void sim_meter_read(struct sim_meter *m, double t, double out[3]);

/* grid[p] = round(contribution[p] - battery[p], 0.1 W). */
void sim_grid(const double contribution[3], const double battery[3], double grid[3]);

#endif
