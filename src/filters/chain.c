/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Placeholder chain (pass-through) until the filter stages land; replaced by the filters
 * module. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "astrameter/filter.h"

struct flt_chain {
	int unused;
};

int flt_chain_new(struct flt_chain **out, struct cfg_section *sec, struct cfg_section *general,
		  struct err *e)
{
	(void)sec;
	(void)general;
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return err_set(e, "out of memory");
	return 0;
}

void flt_chain_process(struct flt_chain *c, ev_ms now, struct pm_reading *io)
{
	(void)c;
	(void)now;
	(void)io;
}

void flt_chain_reset(struct flt_chain *c)
{
	(void)c;
}

void flt_chain_describe(const struct flt_chain *c, char *buf, size_t len)
{
	(void)c;
	if (len)
		snprintf(buf, len, "none");
}

void flt_chain_free(struct flt_chain *c)
{
	free(c);
}
