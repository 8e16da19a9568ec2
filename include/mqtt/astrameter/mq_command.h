/* SPDX-License-Identifier: GPL-3.0-or-later */
/* MQTT command topics (REFERENCE §6.3): the pure parser of a message on
 *     {base}/ct002/{device}/consumer/{consumer}/{field}/set   a scalar payload
 *     {base}/ct002/{device}/set                               a JSON object
 * against the control-field table (astrameter/bal_fields.h). No I/O, no logging: the
 * caller logs the error (rate-limited, topic and value sanitised) and applies the result. */
#ifndef ASTRAMETER_MQ_COMMAND_H
#define ASTRAMETER_MQ_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include "astrameter/bal_fields.h"
#include "astrameter/err.h"

#define MQ_ID_MAX          64   /* device and consumer ids in a topic, incl. NUL */
#define MQ_CMD_PAYLOAD_MAX 1024 /* longer command payloads are refused unread */

enum mq_cmd_kind {
	MQ_CMD_BATTERY = 1, /* one battery field */
	MQ_CMD_DEVICE,      /* the device's JSON command */
};

struct mq_command {
	enum mq_cmd_kind kind;
	char device[MQ_ID_MAX];   /* as in the topic */
	char consumer[MQ_ID_MAX]; /* MQ_CMD_BATTERY */
	/* MQ_CMD_BATTERY: the field and its value in wire units; clear = an empty payload
	 * (a retained command was cleared: forget any held copy, change nothing). */
	const struct bal_field *field;
	bool clear;
	struct bal_value value;
	/* MQ_CMD_DEVICE ({"force_rotation": true} and/or {"active_control": bool}) */
	bool force_rotation;
	bool has_active_control;
	bool active_control;
};

/* Parses one message. Returns 0 with out filled; 1 if topic is not a command topic under
 * base (not ours: ignore it quietly); -1 with e set for a command topic with a bad
 * topic shape, unknown field, or invalid payload (refuse it, log e with topic and value).
 * Upstream's rules: a scalar payload as bal_field_parse reads it; a device payload must be
 * a JSON object, force_rotation acts only on JSON true, active_control must be a JSON
 * bool. Deviations (docs/mqtt-insights.md): an empty device payload is a cleared retained
 * command (kind DEVICE, no action) instead of a warning; a device payload with a non-bool
 * active_control is refused whole (upstream still presses force_rotation first). */
int mq_command_parse(const char *base, const char *topic, const void *payload, size_t len,
                     struct mq_command *out, struct err *e);

#endif
