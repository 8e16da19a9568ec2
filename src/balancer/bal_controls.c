/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Per-battery user controls (pause, auto/manual target, manual target value, distribution
 * weight, efficiency-window weight, min DC output) and the device-level ACTIVE_CONTROL
 * switch. They are keyed by consumer id and kept apart from controller state, so a battery
 * that is evicted and comes back finds its settings again (upstream's ConsumerOverride),
 * and they serialise to a small text that the owner (the CT002 emulator) keeps in a file so
 * they also survive a restart (bal_ctlfile.c); bal_controls_version() tells it when to
 * write it again. The bounds are the control-field table's (astrameter/bal_fields.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "astrameter/bal_fields.h"
#include "balancer/bal_efficiency.h"
#include "balancer/bal_saturation.h"
#include "balancer/bal_state.h"

void bal_get_controls(const struct balancer *b, const char *id, struct bal_controls *out)
{
	const struct bal_controls *c = id ? bal_ctl_find(b, id) : NULL;
	if (c)
		*out = *c;
	else
		bal_controls_default(out);
}

/* The entry for id, created with defaults; NULL (e set) if the table is full. Every caller
 * changes the entry, so this counts a change of what must be persisted. */
static struct bal_controls *ctl_get(struct balancer *b, const char *id, struct err *e)
{
	if (!bal_ctl_id_ok(id)) {
		err_set(e, "invalid consumer id");
		return NULL;
	}
	struct bal_ctl_entry *free_slot = NULL;
	for (size_t i = 0; i < BAL_MAX_CONTROLS; i++) {
		if (b->ctl[i].used && strcmp(b->ctl[i].id, id) == 0) {
			b->ctl_version++;
			return &b->ctl[i].c;
		}
		if (!b->ctl[i].used && !free_slot)
			free_slot = &b->ctl[i];
	}
	if (!free_slot) {
		err_set(e, "too many batteries with controls (max %d)", BAL_MAX_CONTROLS);
		return NULL;
	}
	free_slot->used = true;
	snprintf(free_slot->id, sizeof(free_slot->id), "%s", id);
	bal_controls_default(&free_slot->c);
	b->ctl_version++;
	return &free_slot->c;
}

int bal_set_active(struct balancer *b, const char *id, bool active, ev_ms now, struct err *e)
{
	struct bal_controls *c = ctl_get(b, id, e);
	if (!c)
		return -1;
	c->active = active;
	if (active)
		bal_reset_consumer(b, id, (double)now / 1000.0);
	return 0;
}

int bal_set_auto_target(struct balancer *b, const char *id, bool auto_target, ev_ms now,
                        struct err *e)
{
	struct bal_controls *c = ctl_get(b, id, e);
	if (!c)
		return -1;
	if (auto_target) {
		bool was_manual = !c->auto_target;
		c->auto_target = true;
		if (was_manual)
			bal_reset_consumer(b, id, (double)now / 1000.0);
	} else {
		c->auto_target = false;
		bal_detach_from_auto_pool(b, id);
	}
	return 0;
}

int bal_set_manual_target(struct balancer *b, const char *id, double w, struct err *e)
{
	if (!isfinite(w) || w < -BAL_MANUAL_TARGET_MAX || w > BAL_MANUAL_TARGET_MAX)
		return err_set(e, "manual target must be in [%g, %g] W, got %g",
		               -BAL_MANUAL_TARGET_MAX, BAL_MANUAL_TARGET_MAX, w);
	struct bal_controls *c = ctl_get(b, id, e);
	if (!c)
		return -1;
	c->manual_target = w;
	return 0;
}

int bal_set_weight(struct balancer *b, const char *id, double w, struct err *e)
{
	if (!isfinite(w) || w < 0.0 || w > BAL_WEIGHT_MAX)
		return err_set(e, "distribution weight must be in [0, %g], got %g", BAL_WEIGHT_MAX,
		               w);
	struct bal_controls *c = ctl_get(b, id, e);
	if (!c)
		return -1;
	c->weight = w;
	return 0;
}

int bal_set_eff_window_weight(struct balancer *b, const char *id, double w, struct err *e)
{
	if (!isfinite(w) || w < 0.0 || w > BAL_EFF_WEIGHT_MAX)
		return err_set(e, "efficiency window weight must be in [0, %g], got %g",
		               BAL_EFF_WEIGHT_MAX, w);
	struct bal_controls *c = ctl_get(b, id, e);
	if (!c)
		return -1;
	c->eff_window_weight = w;
	return 0;
}

int bal_set_min_dc_output(struct balancer *b, const char *id, double w, struct err *e)
{
	if (!isfinite(w) || w < 0.0 || w > BAL_MIN_DC_OUTPUT_MAX)
		return err_set(e, "min_dc_output must be in [0, %g] W, got %g",
		               BAL_MIN_DC_OUTPUT_MAX, w);
	struct bal_controls *c = ctl_get(b, id, e);
	if (!c)
		return -1;
	c->has_min_dc_output = true;
	c->min_dc_output = w;
	return 0;
}

void bal_force_rotation(struct balancer *b, const struct bal_report *reports, size_t n, ev_ms now)
{
	if (!b || !reports || n > BAL_MAX_CONSUMERS)
		return;
	struct bal_ctx x;
	memset(&x, 0, sizeof(x));
	x.r = reports;
	x.n = n;
	struct bal_view pool = {0};
	for (size_t i = 0; i < n; i++) {
		const struct bal_report *r = &reports[i];
		if (!r->id)
			return;
		struct bal_controls c;
		bal_get_controls(b, r->id, &c);
		bool steered =
		        r->phase == 'A' || r->phase == 'B' || r->phase == 'C' || r->phase == 'D';
		if (c.active && c.auto_target && steered)
			pool.idx[pool.n++] = i;
	}
	bal_eff_force_rotation(b, &x, &pool, (double)now / 1000.0);
}

uint64_t bal_controls_version(const struct balancer *b)
{
	return b->ctl_version;
}
