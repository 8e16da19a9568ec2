/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Deadband stage: when |sum of phases| < DEADBAND every phase becomes 0, so a battery does
 * not hunt around zero. Stateless; the EMA before it supplies the inertia that keeps the
 * entry/exit jump no larger than the deadband. DEADBAND > 0 enables it. */
#include <math.h>

#include "astrameter/filter.h"
#include "astrameter/log.h"
#include "filters/flt_util.h"

struct deadband_state {
	double deadband;
};

static int deadband_configure(void *state, struct cfg_section *sec, struct cfg_section *general,
                              bool *enabled, struct err *e)
{
	struct deadband_state *d = state;

	if (flt_cfg_double(sec, general, "DEADBAND", 0.0, &d->deadband, e) < 0)
		return -1;
	*enabled = d->deadband > 0;
	if (*enabled)
		log_info("filter", "Applying %s deadband (%.0fW) to %s",
		         flt_cfg_origin(sec, "DEADBAND"), d->deadband, flt_sec_name(sec));
	return 0;
}

static enum flt_verdict deadband_process(void *state, ev_ms now, struct pm_reading *io)
{
	const struct deadband_state *d = state;
	unsigned n = io->n < PM_MAX_VALUES ? io->n : PM_MAX_VALUES;

	(void)now;
	if (d->deadband > 0 && fabs(pm_reading_total(io)) < d->deadband)
		for (unsigned i = 0; i < n; i++)
			io->w[i] = 0.0;
	return FLT_PASS;
}

const struct flt_ops flt_deadband_ops = {
        .name = "deadband",
        .state_size = sizeof(struct deadband_state),
        .configure = deadband_configure,
        .process = deadband_process,
        .reset = NULL,
        .fini = NULL,
};
