/* SPDX-License-Identifier: GPL-3.0-or-later */
/* MQTT powermeter: its pure parts, exposed for tests and fuzzing (the driver itself is
 * pm_mqtt_driver in powermeter.h). A meter subscribes to one or more topics; each value
 * of the reading is one (topic, JSON path) pair, where no path means the payload is a
 * plain number. Pairing follows upstream: 1 topic + n paths, n topics + 1 path (or none),
 * or n topics + n paths. */
#ifndef ASTRAMETER_PM_MQTT_H
#define ASTRAMETER_PM_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include "astrameter/err.h"
#include "astrameter/ev.h"
#include "astrameter/reading.h"

struct jsonpath;

struct pm_mqtt_sub {
	char *topic;
	struct jsonpath *path; /* NULL: the payload is a plain number */
};

struct pm_mqtt_subs {
	struct pm_mqtt_sub s[PM_MAX_VALUES];
	size_t n;
};

/* Builds the pairs from the config values (each may be NULL or empty = absent): TOPICS
 * (comma list) wins over TOPIC, JSON_PATHS (comma list, quote-aware) wins over JSON_PATH
 * (one expression, not split). Paths are compiled here, once. 0, or -1 with e (no topic,
 * counts that do not pair up, more than PM_MAX_VALUES, a path that does not compile);
 * on error out is left empty. */
int pm_mqtt_subs_build(const char *topics, const char *topic, const char *paths, const char *path,
                       struct pm_mqtt_subs *out, struct err *e);
void pm_mqtt_subs_free(struct pm_mqtt_subs *s);

/* Parses one payload (len bytes, not NUL-terminated): with path, as JSON (one document,
 * trailing blanks allowed) and the first match converted to a number; without, as
 * Python's float() would (surrounding blanks allowed). Values must be finite and within
 * +-PM_PARSE_MAX_W. 0 with *out, or -1 with e. */
int pm_mqtt_parse_value(const struct jsonpath *path, const char *payload, size_t len, double *out,
                        struct err *e);

/* Default MAX_AGE: values older than this (no usable message on any of the meter's
 * topics for so long) are stale and the meter fails, so batteries get the hold answer. */
#define PM_MQTT_DEFAULT_MAX_AGE_MS 60000

/* The latest value per pair; a reading exists once every pair has had one. */
struct pm_mqtt_values {
	double v[PM_MAX_VALUES];
	bool seen[PM_MAX_VALUES];
	ev_ms last; /* when a message last updated a value (0: never) */
};

/* Applies a message that arrived at now to every pair whose topic equals topic (exact
 * match, as upstream), parsing the payload once. Returns how many values were updated
 * (0 if the topic is not ours or nothing parsed; else v->last = now); the first parse
 * error, if any, is left in e and *errors counts them. A pair whose payload fails keeps
 * its previous value. */
int pm_mqtt_apply(const struct pm_mqtt_subs *s, struct pm_mqtt_values *v, ev_ms now,
                  const char *topic, const char *payload, size_t len, unsigned *errors,
                  struct err *e);

/* How long the values stay fresh at now under MAX_AGE max_age_ms: > 0 ms to go; 0 stale
 * (no update for max_age_ms or longer); EV_STOP if they never go stale (max_age_ms 0,
 * the upstream behaviour) or nothing was received yet (there is no reading to expire). */
ev_ms pm_mqtt_stale_in(const struct pm_mqtt_values *v, ev_ms now, ev_ms max_age_ms);

/* Fills out with the values if every pair has one (out->at = 0). 0, or -1 with e naming
 * the first topic still without a value. */
int pm_mqtt_reading(const struct pm_mqtt_subs *s, const struct pm_mqtt_values *v,
                    struct pm_reading *out, struct err *e);

#endif
