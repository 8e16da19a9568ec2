/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The balancer's shared state: the per-consumer state table, id lists, the per-step view
 * lookup and the user controls table lookup (see bal_state.h). */
#include <stdio.h>
#include <string.h>

#include "balancer/bal_state.h"

/* ---- id lists --------------------------------------------------------------------- */

bool bal_idl_has(const struct bal_idlist *l, const char *id)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->id[i], id) == 0)
			return true;
	return false;
}

void bal_idl_add(struct bal_idlist *l, const char *id)
{
	if (l->n >= BAL_MAX_CONSUMERS || bal_idl_has(l, id))
		return;
	snprintf(l->id[l->n], BAL_ID_LEN, "%s", id);
	l->n++;
}

void bal_idl_del(struct bal_idlist *l, const char *id)
{
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->id[i], id) != 0)
			continue;
		memmove(l->id[i], l->id[i + 1], (l->n - i - 1) * sizeof(l->id[0]));
		l->n--;
		return;
	}
}

/* ---- per-consumer state table ------------------------------------------------------- */

struct bal_cstate *bal_state_find(const struct balancer *b, const char *id)
{
	for (size_t i = 0; i < BAL_STATE_CAP; i++)
		if (b->st[i].used && strcmp(b->st[i].id, id) == 0)
			return (struct bal_cstate *)&b->st[i];
	return NULL;
}

static void cstate_init(struct bal_cstate *s, const char *id)
{
	memset(s, 0, sizeof(*s));
	s->used = true;
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->fade_weight = 1.0;
}

/* Upstream's _get_consumer: finds or creates. The table holds twice the report capacity
 * and states of departed consumers are dropped every auto step, so it does not fill in
 * practice; if it does, a scratch state keeps the arithmetic defined (and forgetful). */
struct bal_cstate *bal_state(struct balancer *b, const char *id)
{
	struct bal_cstate *s = bal_state_find(b, id);
	if (s)
		return s;
	for (size_t i = 0; i < BAL_STATE_CAP; i++) {
		if (!b->st[i].used) {
			cstate_init(&b->st[i], id);
			return &b->st[i];
		}
	}
	cstate_init(&b->scratch, id);
	return &b->scratch;
}

void bal_state_drop(struct balancer *b, const char *id)
{
	struct bal_cstate *s = bal_state_find(b, id);
	if (s)
		memset(s, 0, sizeof(*s));
}

bool bal_view_has(const struct bal_ctx *x, const struct bal_view *v, const char *id, size_t *pos)
{
	for (size_t i = 0; i < v->n; i++) {
		if (strcmp(x->r[v->idx[i]].id, id) == 0) {
			if (pos)
				*pos = i;
			return true;
		}
	}
	return false;
}

/* ---- user controls table ---- */

void bal_controls_default(struct bal_controls *c)
{
	c->active = true;
	c->auto_target = true;
	c->manual_target = 0.0;
	c->weight = 1.0;
	c->eff_window_weight = 1.0;
	c->has_min_dc_output = false;
	c->min_dc_output = 0.0;
}

const struct bal_controls *bal_ctl_find(const struct balancer *b, const char *id)
{
	for (size_t i = 0; i < BAL_MAX_CONTROLS; i++)
		if (b->ctl[i].used && strcmp(b->ctl[i].id, id) == 0)
			return &b->ctl[i].c;
	return NULL;
}

int bal_phase_idx(char p)
{
	return p == 'B' ? 1 : (p == 'C' ? 2 : 0);
}

bool bal_ctl_id_ok(const char *id)
{
	if (!id || !*id || strlen(id) >= BAL_ID_LEN)
		return false;
	for (const char *p = id; *p; p++)
		if (*p <= ' ' || *p == 0x7f || *p == '=')
			return false;
	return true;
}
