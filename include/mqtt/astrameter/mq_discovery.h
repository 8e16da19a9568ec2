/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Home Assistant MQTT device discovery (REFERENCE §6.4, with 2.3.0's changes from
 * REFERENCE-2.3 §4.1): one retained payload per device on {prefix}/device/{node_id}/config,
 * with the reference's node ids, unique ids, names, units, device/state classes, entity
 * categories, availability and origin, so entities a Home Assistant installation created
 * for the reference are adopted. Pure writers into caller buffers; each returns the
 * payload length (topic and payload NUL-terminated) or -1 if either does not fit.
 *
 * 2.3.0 changes applied: consumer Phase options include D; Answer Interval sensor next to
 * Poll Interval; the Last Seen sensor of consumers and Shelly batteries is retired (its
 * component is sent as {"platform": "sensor"} only, which makes Home Assistant delete the
 * entity); the CT device has the five control-quality sensors. */
#ifndef ASTRAMETER_MQ_DISCOVERY_H
#define ASTRAMETER_MQ_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>

#define MQ_DISCOVERY_MAX 16384 /* every discovery payload fits */
#define MQ_TOPIC_MAX     512

struct mq_disc_ctx {
	const char *base;       /* BASE_TOPIC */
	const char *prefix;     /* HA_DISCOVERY_PREFIX */
	const char *hub_id;     /* mq_hub_id(); NULL: devices without via_device */
	const char *sw_version; /* origin.sw_version; NULL: "unknown" */
};

/* Upstream's _sanitize_id: every byte outside [A-Za-z0-9_-] becomes '_' (a multi-byte
 * UTF-8 character becomes one '_', as Python's re does on str). Returns the length, or -1
 * if it does not fit cap. */
int mq_sanitize_id(const char *in, char *out, size_t cap);
/* The hub device identifier: ADDON_SLUG if set (non-empty), else "astrameter_" +
 * sanitised base topic. -1 if it does not fit. */
int mq_hub_id(const char *addon_slug, const char *base, char *out, size_t cap);
/* Python's str.title() of the section name with '_' as space ("SHELLY_3EM" ->
 * "Shelly 3Em"), the powermeter device's display name. -1 if it does not fit. */
int mq_title_case(const char *in, char *out, size_t cap);

/* The hub ("AstraMeter"): status, version, consumer count. Needs ctx->hub_id. */
int mq_disc_hub(const struct mq_disc_ctx *ctx, char *topic, size_t tlen, char *buf, size_t len);
/* A CT002/CT003 device; efficiency: MIN_EFFICIENT_POWER > 0 (Force Rotation button). */
int mq_disc_ct002_device(const struct mq_disc_ctx *ctx, const char *device_id, bool efficiency,
                         char *topic, size_t tlen, char *buf, size_t len);
/* A battery (consumer) of a CT002/CT003 device; device_type may be NULL/"" (unknown). */
int mq_disc_ct002_consumer(const struct mq_disc_ctx *ctx, const char *device_id,
                           const char *consumer_id, const char *device_type, bool efficiency,
                           char *topic, size_t tlen, char *buf, size_t len);
/* A powermeter by its config section name. */
int mq_disc_powermeter(const struct mq_disc_ctx *ctx, const char *section, char *topic, size_t tlen,
                       char *buf, size_t len);
/* A Shelly emulator device and one of its batteries (by IP; its device name shows the
 * sanitised IP, "192_168_1_30", as the reference's does). */
int mq_disc_shelly_device(const struct mq_disc_ctx *ctx, const char *device_id, char *topic,
                          size_t tlen, char *buf, size_t len);
int mq_disc_shelly_battery(const struct mq_disc_ctx *ctx, const char *device_id,
                           const char *battery_ip, char *topic, size_t tlen, char *buf, size_t len);

#endif
