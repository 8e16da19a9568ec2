/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The control-field table: every per-battery and per-device control a user can change
 * (active, auto_target, manual_target, distribution_weight, efficiency_window_weight,
 * min_dc_output; active_control, force_rotation), with its wire name, wire unit, bounds,
 * type, whether its MQTT command topic is retained, and accessors. It is the one place
 * these facts live: MQTT commands, Home Assistant discovery, the state file and the REST
 * API all read it, so a value one path accepts is never refused (or undone by a retained
 * replay) on another (upstream 2.3.0 controls.py, REFERENCE-2.3 §2.3).
 *
 * Two unit systems: "wire" is what users send and see (MQTT payloads, REST, discovery
 * bounds; efficiency_window_weight in percent), "internal" is what the balancer stores
 * (efficiency_window_weight as a fraction). internal = wire * scale. Pure: no I/O. */
#ifndef ASTRAMETER_BAL_FIELDS_H
#define ASTRAMETER_BAL_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include "astrameter/balancer.h"
#include "astrameter/err.h"
#include "astrameter/ev.h"

/* Bounds in internal units (the setters in balancer.h enforce them too). */
#define BAL_MANUAL_TARGET_MAX 10000.0 /* W, both signs */
#define BAL_WEIGHT_MAX        10.0
#define BAL_EFF_WEIGHT_MAX    1.0    /* fraction; 100 % on the wire */
#define BAL_MIN_DC_OUTPUT_MAX 1000.0 /* W */

enum bal_field_id {
	BAL_F_ACTIVE,
	BAL_F_AUTO_TARGET,
	BAL_F_MANUAL_TARGET,
	BAL_F_DISTRIBUTION_WEIGHT,
	BAL_F_EFFICIENCY_WINDOW_WEIGHT,
	BAL_F_MIN_DC_OUTPUT,
	BAL_F_ACTIVE_CONTROL,
	BAL_F_FORCE_ROTATION,
	BAL_F_COUNT
};

enum bal_field_type {
	BAL_FT_BOOL,
	BAL_FT_NUMBER,
	BAL_FT_BUTTON, /* an action without a value (force_rotation) */
};

enum bal_field_scope {
	BAL_FS_BATTERY, /* one value per consumer id */
	BAL_FS_DEVICE,  /* one value per CT002/CT003 device */
};

/* When a field is offered to users (Home Assistant entities, dashboard). */
enum bal_field_when {
	BAL_FW_ALWAYS,
	BAL_FW_EFFICIENCY, /* only with efficiency rotation (MIN_EFFICIENT_POWER > 0) */
	BAL_FW_DC_FLOOR,   /* only for batteries behind an external inverter (B2500 family) */
};

/* A field's value. set = false is "none" (min_dc_output not set: MIN_DC_OUTPUT applies). */
struct bal_value {
	bool set;
	bool b;     /* BAL_FT_BOOL */
	double num; /* BAL_FT_NUMBER */
};

/* What a live change needs: the balancer, the battery (battery fields), the device's
 * current reports (force_rotation) and now. */
struct bal_field_ctx {
	struct balancer *b;
	const char *id;
	const struct bal_report *reports;
	size_t n;
	ev_ms now;
};

struct bal_field {
	enum bal_field_id id;
	const char *name;     /* wire name: MQTT topic segment / JSON key / REST field */
	const char *label;    /* Home Assistant entity name */
	const char *file_key; /* key in the state file's consumer record; NULL: not there */
	enum bal_field_scope scope;
	enum bal_field_type type;
	enum bal_field_when when;
	const char *unit; /* wire unit ("W", "%"), NULL for none */
	double min, max;  /* wire bounds (numbers) */
	double step;      /* Home Assistant number step, 0 = none given */
	double scale;     /* internal = wire * scale */
	bool retained;    /* its command topic is retained (and mirrored after a change) */
	bool nullable;    /* may be "none" (reads as JSON null) */
	/* Battery fields: read / write a controls record, internal units, no side effects
	 * (the state file). NULL for device fields. */
	void (*get)(const struct bal_controls *c, struct bal_value *out);
	void (*put)(struct bal_controls *c, const struct bal_value *v);
	/* The live change, internal units, with its side effects (a resumed battery is
	 * reset, manual mode leaves the rotation...). 0, or -1 with e set. */
	int (*apply)(const struct bal_field_ctx *x, const struct bal_value *v, struct err *e);
};

/* The table entry for id (never NULL for id < BAL_F_COUNT). */
const struct bal_field *bal_field_get(enum bal_field_id id);
/* The field of that scope whose wire name is name[0..len); NULL if none. */
const struct bal_field *bal_field_find(enum bal_field_scope scope, const char *name, size_t len);
/* Whether f is offered for a battery of this device type on a device with or without
 * efficiency rotation. */
bool bal_field_offered(const struct bal_field *f, const char *device_type, bool efficiency);
/* B2500 family (no built-in inverter, no AC input): MIN_DC_OUTPUT applies. */
bool bal_field_needs_dc_floor(const char *device_type);

/* Parses a scalar command payload (MQTT, as upstream accepts it): surrounding white space
 * ignored; a bool is true/on/1 or false/off/0 in any case; a number is a decimal float as
 * Python's float() reads it (sign, digits with single '_' between them, fraction,
 * exponent; no hex), finite and within the wire bounds. Buttons accept anything. out is in
 * wire units. 0, or -1 with e naming the field and the problem (not the value: the caller
 * names topic and value, sanitised). An all-blank payload is an error here; MQTT treats it
 * as a cleared retained command before calling this. */
int bal_field_parse(const struct bal_field *f, const char *s, size_t len, struct bal_value *out,
                    struct err *e);
/* Checks a wire value against the field's type and bounds (what a JSON caller built). */
int bal_field_check(const struct bal_field *f, const struct bal_value *wire, struct err *e);
/* Applies a wire value (checked, scaled, applied). 0/-1. */
int bal_field_apply_wire(const struct bal_field *f, const struct bal_field_ctx *x,
                         const struct bal_value *wire, struct err *e);
/* The current value in wire units; -1 for buttons. */
int bal_field_read_wire(const struct bal_field *f, const struct balancer *b, const char *id,
                        struct bal_value *out);
/* Formats a wire value as a command payload (what to mirror to the retained topic):
 * "true"/"false", or the shortest decimal that reads back exactly. Returns the length, or
 * -1 if it does not fit (or for a button / a "none" value). */
int bal_field_format(const struct bal_field *f, const struct bal_value *wire, char *buf,
                     size_t len);

/* The shortest "%.*g" text of d that strtod reads back exactly (d finite). Returns the
 * length, or -1 if it does not fit len. */
int bal_fmt_double(double d, char *buf, size_t len);

#endif
