/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Shared fixture for the filter stage tests: loads an ini text, configures one stage (or
 * the whole chain) from a named section plus [GENERAL], and feeds it readings. */
#ifndef TEST_FILTERS_UTIL_H
#define TEST_FILTERS_UTIL_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrameter/config.h"
#include "astrameter/filter.h"

struct stage_fx {
	struct cfg cfg;
	const struct flt_ops *ops;
	void *state;
	bool enabled;
	struct err err;
};

/* Configures ops from section sec of ini. Returns the configure() result; on -1 the
 * message is in f->err.msg. */
static inline int stage_open(struct stage_fx *f, const struct flt_ops *ops, const char *ini,
                             const char *sec)
{
	memset(f, 0, sizeof(*f));
	f->ops = ops;
	if (cfg_load_string(&f->cfg, ini, &f->err) < 0)
		return -1;
	f->state = calloc(1, ops->state_size);
	if (!f->state)
		return -1;
	return ops->configure(f->state, cfg_find(&f->cfg, sec), cfg_find(&f->cfg, "GENERAL"),
	                      &f->enabled, &f->err);
}

static inline void stage_close(struct stage_fx *f)
{
	if (f->state && f->ops->fini)
		f->ops->fini(f->state);
	free(f->state);
	cfg_free(&f->cfg);
	f->state = NULL;
}

static inline struct pm_reading mk_reading(const double *v, unsigned n)
{
	struct pm_reading r;

	memset(&r, 0, sizeof(r));
	for (unsigned i = 0; i < n && i < PM_MAX_VALUES; i++)
		r.w[i] = v[i];
	r.n = n;
	return r;
}

/* Runs one reading through the stage; returns the result. */
static inline struct pm_reading stage_run(struct stage_fx *f, ev_ms now, const double *v,
                                          unsigned n)
{
	struct pm_reading r = mk_reading(v, n);

	f->ops->process(f->state, now, &r);
	return r;
}

/* Single-phase convenience. */
static inline double stage_run1(struct stage_fx *f, ev_ms now, double v)
{
	return stage_run(f, now, &v, 1).w[0];
}

/* Deterministic xorshift64* so property tests are reproducible everywhere. */
static inline uint64_t prng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/* Uniform in [lo, hi). */
static inline double prng_uniform(uint64_t *s, double lo, double hi)
{
	return lo + (hi - lo) * ((double)(prng_next(s) >> 11) / 9007199254740992.0);
}

#define TOL 1e-9

#endif
