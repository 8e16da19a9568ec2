/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Helpers on struct pm_reading. */
#include "astrameter/reading.h"

double pm_reading_total(const struct pm_reading *r)
{
	double t = 0.0;
	for (unsigned i = 0; i < r->n && i < PM_MAX_VALUES; i++)
		t += r->w[i];
	return t;
}
