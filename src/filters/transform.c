/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Transform stage: value * POWER_MULTIPLIER + POWER_OFFSET per phase, both keys per powermeter
 * section only (no [GENERAL] default, as upstream). Each key is a float or a comma list applied
 * to phase i as list[i mod len]; a list of more than one value whose length differs from the
 * reading's phase count is used cyclically and warned about once (again after it matched).
 *
 * Deliberate difference: upstream turns an empty value ("POWER_MULTIPLIER =") into [0.0],
 * which silently zeroes the meter. Here an empty or all-blank value counts as absent (1 for
 * the multiplier, 0 for the offset) and a warning says so. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrameter/filter.h"
#include "astrameter/log.h"
#include "astrameter/pynum.h"
#include "astrameter/text.h"
#include "filters/flt_util.h"

struct flt_list {
	double v[PM_MAX_VALUES]; /* first PM_MAX_VALUES items: a reading never has more phases */
	size_t len;              /* items in the config value, used for i mod len */
	bool warned;
};

struct transform_state {
	struct flt_list mult, off;
	char section[64];
};

/* Parses "1.05, 1.02,1.03" into l. Blank items are skipped as upstream does; an empty
 * result leaves l->len == 0 (the caller substitutes the default). 0/-1. */
static int parse_list(struct flt_list *l, const char *sec, const char *key, const char *value,
                      struct err *e)
{
	struct txt_split it;
	struct txt_item item;

	l->len = 0;
	txt_split_init(&it, value, strlen(value), ',');
	while (txt_split_next(&it, &item)) {
		double d;

		if (item.len == 0)
			continue;
		if (pynum_float_finite(item.s, item.len, &d) != 0)
			return err_set(e, "[%s] %s: not a number '%.*s' in '%s'", sec, key,
			               (int)item.len, item.s, value);
		if (l->len < PM_MAX_VALUES)
			l->v[l->len] = d;
		l->len++;
	}
	return 0;
}

static int read_list(struct flt_list *l, struct cfg_section *sec, const char *key, double def,
                     bool *present, struct err *e)
{
	const char *name = flt_sec_name(sec);
	const char *raw = cfg_get(sec, key);

	*present = false;
	l->len = 0;
	if (raw) {
		if (parse_list(l, name, key, raw, e) < 0)
			return -1;
		if (l->len == 0)
			log_warnx("filter", "[%s] %s is empty; treated as not set (%g)", name, key,
			          def);
		else
			*present = true;
	}
	if (l->len == 0) {
		l->v[0] = def;
		l->len = 1;
	}
	return 0;
}

static void list_str(const struct flt_list *l, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < l->len && i < PM_MAX_VALUES && used < len; i++) {
		int k = snprintf(buf + used, len - used, "%s%g", i ? "," : "", l->v[i]);
		if (k < 0)
			break;
		used += (size_t)k;
	}
}

static int transform_configure(void *state, struct cfg_section *sec, struct cfg_section *general,
                               bool *enabled, struct err *e)
{
	struct transform_state *t = state;
	bool has_mult, has_off;
	char ms[128], os[128];

	(void)general; /* per section only, as upstream */
	if (read_list(&t->mult, sec, "POWER_MULTIPLIER", 1.0, &has_mult, e) < 0 ||
	    read_list(&t->off, sec, "POWER_OFFSET", 0.0, &has_off, e) < 0)
		return -1;
	*enabled = has_mult || has_off;
	snprintf(t->section, sizeof(t->section), "%s", flt_sec_name(sec));
	if (*enabled) {
		list_str(&t->mult, ms, sizeof(ms));
		list_str(&t->off, os, sizeof(os));
		log_info("filter", "Applying power transform (multiplier=%s, offset=%s) to %s", ms,
		         os, t->section);
	}
	return 0;
}

/* Upstream's rule: warn when a list of more than one value does not match the phase
 * count, once, and re-arm the warning when it matches again. */
static void check_len(struct flt_list *l, const char *key, unsigned n, const char *section)
{
	if (l->len > 1 && l->len != n) {
		if (!l->warned)
			log_warnx("filter",
			          "[%s] %s has %zu values but the powermeter returned %u "
			          "phases; applying them cyclically",
			          section, key, l->len, n);
		l->warned = true;
	} else {
		l->warned = false;
	}
}

static enum flt_verdict transform_process(void *state, ev_ms now, struct pm_reading *io)
{
	struct transform_state *t = state;
	unsigned n = io->n < PM_MAX_VALUES ? io->n : PM_MAX_VALUES;

	(void)now;
	for (unsigned i = 0; i < n; i++) {
		/* i < PM_MAX_VALUES, so i mod len indexes a stored item even for long lists */
		double m = t->mult.v[i % t->mult.len];
		double o = t->off.v[i % t->off.len];
		io->w[i] = io->w[i] * m + o;
	}
	check_len(&t->off, "POWER_OFFSET", n, t->section);
	check_len(&t->mult, "POWER_MULTIPLIER", n, t->section);
	return FLT_PASS;
}

const struct flt_ops flt_transform_ops = {
        .name = "transform",
        .state_size = sizeof(struct transform_state),
        .configure = transform_configure,
        .process = transform_process,
        .reset = NULL,
        .fini = NULL,
};
