/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The filter chain of one powermeter section: the enabled stages of transform -> Hampel ->
 * EMA -> deadband -> PID, in that fixed order, each with its state block. The chain owns the
 * states; process() runs each stage once over the reading, allocating nothing. Throttling,
 * wait-for-next and health live in the powermeter core, which calls the chain once per fresh
 * reading. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrameter/filter.h"

/* Chain order; a const table (STYLE: no mutable globals). */
static const struct flt_ops *const flt_order[] = {
        &flt_transform_ops, &flt_hampel_ops, &flt_ema_ops, &flt_deadband_ops, &flt_pid_ops,
};
#define FLT_NSTAGES (sizeof(flt_order) / sizeof(flt_order[0]))

struct flt_stage {
	const struct flt_ops *ops;
	void *state;
};

struct flt_chain {
	struct flt_stage st[FLT_NSTAGES];
	size_t n;
};

static void stage_free(const struct flt_ops *ops, void *state)
{
	if (!state)
		return;
	if (ops->fini)
		ops->fini(state);
	free(state);
}

int flt_chain_new(struct flt_chain **out, struct cfg_section *sec, struct cfg_section *general,
                  struct err *e)
{
	struct flt_chain *c;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return err_set(e, "out of memory");
	for (size_t i = 0; i < FLT_NSTAGES; i++) {
		const struct flt_ops *ops = flt_order[i];
		void *state = calloc(1, ops->state_size);
		bool enabled = false;

		if (!state) {
			flt_chain_free(c);
			return err_set(e, "out of memory");
		}
		/* Every stage is configured, enabled or not, so that every key is validated
		 * (and marked as read) whatever the other stages do. */
		if (ops->configure(state, sec, general, &enabled, e) < 0) {
			stage_free(ops, state);
			flt_chain_free(c);
			return -1;
		}
		if (!enabled) {
			stage_free(ops, state);
			continue;
		}
		c->st[c->n].ops = ops;
		c->st[c->n].state = state;
		c->n++;
	}
	*out = c;
	return 0;
}

void flt_chain_process(struct flt_chain *c, ev_ms now, struct pm_reading *io)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		(void)c->st[i].ops->process(c->st[i].state, now, io);
}

void flt_chain_reset(struct flt_chain *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		if (c->st[i].ops->reset)
			c->st[i].ops->reset(c->st[i].state);
}

void flt_chain_describe(const struct flt_chain *c, char *buf, size_t len)
{
	size_t used = 0;

	if (!len)
		return;
	buf[0] = '\0';
	if (!c || c->n == 0) {
		snprintf(buf, len, "none");
		return;
	}
	for (size_t i = 0; i < c->n && used < len; i++) {
		int k = snprintf(buf + used, len - used, "%s%s", i ? "," : "", c->st[i].ops->name);
		if (k < 0)
			break;
		used += (size_t)k;
	}
}

void flt_chain_free(struct flt_chain *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		stage_free(c->st[i].ops, c->st[i].state);
	free(c);
}
