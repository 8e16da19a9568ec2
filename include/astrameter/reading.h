/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A powermeter reading: grid power per phase in watts, import positive. Most meters give
 * 1 or 3 values; list-configured sources may give more (the CT emulator pads/truncates to
 * 3, the Shelly emulator turns any count other than 1 or 3 into zeros). */
#ifndef ASTRAMETER_READING_H
#define ASTRAMETER_READING_H

#include <stddef.h>
#include "astrameter/ev.h"

#define PM_MAX_VALUES 8

struct pm_reading {
	double w[PM_MAX_VALUES];
	unsigned n; /* number of valid values, 1..PM_MAX_VALUES */
	ev_ms at;   /* monotonic time the source produced it */
};

/* Sum of all values. */
double pm_reading_total(const struct pm_reading *r);

#endif
