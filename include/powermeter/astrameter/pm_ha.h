/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Home Assistant WebSocket API, the pure part: the tracked entities and their last usable
 * values, the decoder of server messages (auth_required / auth_ok / auth_invalid / result
 * / event with subscribe_entities' compressed format), the REST seed body, and the
 * messages we send. No I/O, no clock: src/powermeter/homeassistant.c does the sockets.
 *
 * Compressed events (HA's subscribe_entities): "a" = additions {eid: {"s": state, ...}},
 * "c" = changes {eid: {"+": {"s": state, "lu": t, "lc": t, ...}, "-": {...}}}, "r" =
 * removals [eid, ...]. A change with "+" but no "s" (only "lu"/"lc") is HA re-reporting an
 * unchanged value: it still counts as a fresh push when the entity has a value. A state
 * that is not a number ("unavailable", "unknown", null) makes the entity unusable. */
#ifndef ASTRAMETER_PM_HA_H
#define ASTRAMETER_PM_HA_H

#include <stdbool.h>
#include <stddef.h>
#include "astrameter/err.h"
#include "astrameter/reading.h"

#define HA_MAX_ENTITIES (2 * PM_MAX_VALUES)
#define HA_MAX_ID       256

struct pm_ha_model {
	/* tracked entity ids, sorted and unique (the subscribe order) */
	char id[HA_MAX_ENTITIES][HA_MAX_ID];
	double val[HA_MAX_ENTITIES];
	bool valid[HA_MAX_ENTITIES];
	size_t n_ids;
	/* output: n values; value k = val[a[k]] (calculate: val[a[k]] - val[b[k]]) */
	bool calculate;
	size_t n;
	size_t a[PM_MAX_VALUES], b[PM_MAX_VALUES];
};

/* Builds the model from CURRENT_POWER_ENTITY (calculate false) or the POWER_INPUT_ALIAS /
 * POWER_OUTPUT_ALIAS pair lists (calculate true): comma lists, items trimmed. -1 with e
 * if a list is empty, an item is blank or too long, the pair lists differ in length, or
 * there are more than PM_MAX_VALUES values. */
int pm_ha_model_init(struct pm_ha_model *m, const char *current, bool calculate, const char *in,
                     const char *out, struct err *e);
/* Index of a tracked entity, or -1. */
int pm_ha_model_find(const struct pm_ha_model *m, const char *eid, size_t len);
/* Forgets every value (after a disconnect). */
void pm_ha_model_invalidate(struct pm_ha_model *m);
/* The output values if every entity they need has one: 0 and *out filled; else -1 and
 * *missing names the first entity without a usable state. */
int pm_ha_model_values(const struct pm_ha_model *m, struct pm_reading *out, const char **missing);

enum pm_ha_msg_type {
	HA_MSG_BAD,           /* not JSON, or not an object */
	HA_MSG_OTHER,         /* a type we do not act on */
	HA_MSG_AUTH_REQUIRED, /* send auth */
	HA_MSG_AUTH_OK,       /* send subscribe_entities (and seed) */
	HA_MSG_AUTH_INVALID,  /* the token was refused */
	HA_MSG_RESULT,        /* answer to a command: id, success */
	HA_MSG_EVENT,         /* applied to the model: see fresh/changed */
};

struct pm_ha_msg_info {
	long id;           /* "id" if present, else -1 */
	bool success;      /* result */
	char message[128]; /* auth_invalid message / result error message, truncated */
	/* event: */
	bool fresh;       /* a tracked entity got a numeric state, or was re-reported */
	bool invalidated; /* a tracked entity lost its value (non-numeric state, removal) */
	unsigned updates; /* tracked entities touched by the event */
	char why[160];    /* the last invalidation, e.g. "sensor.x state 'unavailable' is
	                     not numeric" */
};

/* Decodes one text message and, for events, applies it to m. Events are applied whatever
 * their id (HA only sends events for our one subscription). */
enum pm_ha_msg_type pm_ha_handle_message(struct pm_ha_model *m, const char *msg, size_t len,
                                         struct pm_ha_msg_info *info);

/* Applies a REST GET /api/states/<eid> body ({"entity_id": ..., "state": "123"}) for entity
 * index i, unless that entity already has a value (a pushed one is newer than the seed).
 * 1 if it gave the entity a usable value, 0 if it changed nothing or the state is not
 * numeric (the entity is then unusable), -1 if the body is not a state object. */
int pm_ha_apply_seed(struct pm_ha_model *m, size_t i, const char *body, size_t len, struct err *e);

/* The messages we send, as malloc'd NUL-terminated JSON (NULL on allocation failure). */
char *pm_ha_msg_auth(const char *token);
char *pm_ha_msg_subscribe(const struct pm_ha_model *m, long id);

#endif
