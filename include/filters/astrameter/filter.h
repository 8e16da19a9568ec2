/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The reading filter chain: transform -> Hampel -> EMA (+ max step) -> deadband -> PID,
 * each stage present only when enabled by config. Stages are objects with configure /
 * process / reset; process does no I/O and reads no clock (now is a parameter). The chain
 * runs once per fresh source reading (throttling is the powermeter core's job). */
#ifndef ASTRAMETER_FILTER_H
#define ASTRAMETER_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include "astrameter/config.h"
#include "astrameter/err.h"
#include "astrameter/ev.h"
#include "astrameter/reading.h"

enum flt_verdict { FLT_PASS = 0 };

struct flt_ops {
	const char *name;
	size_t state_size;
	/* Reads keys (sec first, then general where upstream allows a [GENERAL] default).
	 * Sets *enabled; returns 0/-1 with e naming section, key and value. */
	int (*configure)(void *state, struct cfg_section *sec, struct cfg_section *general,
	                 bool *enabled, struct err *e);
	enum flt_verdict (*process)(void *state, ev_ms now, struct pm_reading *io);
	void (*reset)(void *state);
	void (*fini)(void *state); /* may be NULL */
};

struct flt_chain;

/* Builds the chain for one powermeter section. *out is NULL-safe to free. 0/-1. */
int flt_chain_new(struct flt_chain **out, struct cfg_section *sec, struct cfg_section *general,
                  struct err *e);
/* Runs every stage in order over io. */
void flt_chain_process(struct flt_chain *c, ev_ms now, struct pm_reading *io);
/* Clears stateful stages (Hampel window, EMA); used by the balancer after a probe. */
void flt_chain_reset(struct flt_chain *c);
/* Names of active stages, comma separated, for --check-config. */
void flt_chain_describe(const struct flt_chain *c, char *buf, size_t len);
void flt_chain_free(struct flt_chain *c);

/* The stages, in chain order. Each file src/filters/<name>.c exports one of these; the chain
 * allocates state_size zeroed bytes per stage, calls configure, and drops the stage (calling
 * fini) when configure reports it disabled. Exposed so tests can drive one stage alone. */
extern const struct flt_ops flt_transform_ops; /* POWER_MULTIPLIER / POWER_OFFSET */
extern const struct flt_ops flt_hampel_ops;    /* HAMPEL_WINDOW / _N_SIGMA / _MIN_THRESHOLD */
extern const struct flt_ops flt_ema_ops;       /* SMOOTH_TARGET_ALPHA / MAX_SMOOTH_STEP */
extern const struct flt_ops flt_deadband_ops;  /* DEADBAND */
extern const struct flt_ops flt_pid_ops;       /* PID_KP / _KI / _KD / _OUTPUT_MAX / _MODE */

#endif
