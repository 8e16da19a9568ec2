/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Config helpers shared by the filter stages (see flt_util.h). */
#include <float.h>
#include <limits.h>

#include "filters/flt_util.h"

int flt_cfg_double(struct cfg_section *sec, struct cfg_section *general, const char *key,
                   double def, double *out, struct err *e)
{
	double g;

	/* Upstream reads every [GENERAL] default up front, so a bad global value is an error
	 * even when each section overrides it. */
	if (cfg_get_double(general, key, def, -DBL_MAX, DBL_MAX, &g, e) < 0)
		return -1;
	return cfg_get_double(sec, key, g, -DBL_MAX, DBL_MAX, out, e);
}

int flt_cfg_long(struct cfg_section *sec, struct cfg_section *general, const char *key, long def,
                 long *out, struct err *e)
{
	long g;

	if (cfg_get_int(general, key, def, LONG_MIN, LONG_MAX, &g, e) < 0)
		return -1;
	return cfg_get_int(sec, key, g, LONG_MIN, LONG_MAX, out, e);
}

const char *flt_cfg_raw(struct cfg_section *sec, struct cfg_section *general, const char *key)
{
	struct cfg_section *s = cfg_pick(sec, general, key);

	return s ? cfg_get(s, key) : NULL;
}

const char *flt_cfg_where(struct cfg_section *sec, struct cfg_section *general, const char *key)
{
	struct cfg_section *s = cfg_pick(sec, general, key);

	return flt_sec_name(s ? s : sec);
}

const char *flt_cfg_origin(struct cfg_section *sec, const char *key)
{
	return cfg_has(sec, key) ? "section-specific" : "global";
}

void flt_cfg_touch(struct cfg_section *sec, const char *key)
{
	(void)cfg_get(sec, key);
}

const char *flt_sec_name(const struct cfg_section *sec)
{
	return sec && sec->name ? sec->name : "?";
}
