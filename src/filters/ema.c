/* SPDX-License-Identifier: GPL-3.0-or-later */
/* EMA stage (upstream's SmoothedPowermeter): an exponential moving average of the sum of
 * phases, handed back spread over the phases in the raw ratio (ema / raw total). The first
 * reading seeds the average; a reading identical to the previous one (same phase values and
 * total) does not advance it; when the raw total and the average sit on different sides of
 * zero the factor is raised to max(alpha, min(0.5, 4 alpha)) so the average does not lag a
 * zero crossing; MAX_SMOOTH_STEP > 0 limits the change per reading. A raw total of exactly 0
 * is passed through (the ratio would be undefined). SMOOTH_TARGET_ALPHA > 0 enables the
 * stage and is clamped to 0.01..1. */
#include <math.h>
#include <string.h>

#include "astrameter/filter.h"
#include "astrameter/log.h"
#include "filters/flt_util.h"

struct ema_state {
	double alpha, max_step;
	bool have;
	double value;
	double last[PM_MAX_VALUES];
	unsigned last_n;
	double last_total;
};

static int ema_configure(void *state, struct cfg_section *sec, struct cfg_section *general,
                         bool *enabled, struct err *e)
{
	struct ema_state *s = state;

	*enabled = false;
	if (flt_cfg_double(sec, general, "SMOOTH_TARGET_ALPHA", 0.0, &s->alpha, e) < 0)
		return -1;
	if (!(s->alpha > 0)) {
		if (flt_cfg_double(NULL, general, "MAX_SMOOTH_STEP", 0.0, &s->max_step, e) < 0)
			return -1;
		flt_cfg_touch(sec, "MAX_SMOOTH_STEP");
		return 0;
	}
	s->alpha = fmax(0.01, fmin(1.0, s->alpha));
	if (flt_cfg_double(sec, general, "MAX_SMOOTH_STEP", 0.0, &s->max_step, e) < 0)
		return -1;
	*enabled = true;
	log_info("filter", "Applying %s EMA smoothing (alpha=%.2f, max_step=%.0f) to %s",
	         flt_cfg_origin(sec, "SMOOTH_TARGET_ALPHA"), s->alpha, s->max_step,
	         flt_sec_name(sec));
	return 0;
}

static bool same_sample(const struct ema_state *s, const struct pm_reading *io, unsigned n,
                        double total)
{
	if (s->last_n != n || s->last_total != total)
		return false;
	for (unsigned i = 0; i < n; i++)
		if (s->last[i] != io->w[i])
			return false;
	return true;
}

static void remember(struct ema_state *s, const struct pm_reading *io, unsigned n, double total)
{
	memcpy(s->last, io->w, n * sizeof(io->w[0]));
	s->last_n = n;
	s->last_total = total;
}

static void distribute(const struct ema_state *s, struct pm_reading *io, unsigned n, double total)
{
	double ratio;

	if (total == 0)
		return;
	ratio = s->value / total;
	for (unsigned i = 0; i < n; i++)
		io->w[i] *= ratio;
}

static enum flt_verdict ema_process(void *state, ev_ms now, struct pm_reading *io)
{
	struct ema_state *s = state;
	unsigned n = io->n < PM_MAX_VALUES ? io->n : PM_MAX_VALUES;
	double total, a, delta;

	(void)now;
	total = pm_reading_total(io);
	/* A non-finite reading would poison the average for good. */
	if (!isfinite(total))
		return FLT_PASS;
	if (!s->have) {
		s->have = true;
		s->value = total;
		remember(s, io, n, total);
		distribute(s, io, n, total);
		return FLT_PASS;
	}
	if (same_sample(s, io, n, total)) {
		distribute(s, io, n, total);
		return FLT_PASS;
	}
	remember(s, io, n, total);

	a = s->alpha;
	if ((total > 0) != (s->value > 0))
		a = fmax(s->alpha, fmin(0.5, s->alpha * 4));
	delta = a * (total - s->value);
	if (s->max_step > 0)
		delta = fmax(-s->max_step, fmin(s->max_step, delta));
	s->value += delta;
	distribute(s, io, n, total);
	return FLT_PASS;
}

static void ema_reset(void *state)
{
	struct ema_state *s = state;

	s->have = false;
	s->value = 0;
	s->last_n = 0;
	s->last_total = 0;
}

const struct flt_ops flt_ema_ops = {
        .name = "ema",
        .state_size = sizeof(struct ema_state),
        .configure = ema_configure,
        .process = ema_process,
        .reset = ema_reset,
        .fini = NULL,
};
