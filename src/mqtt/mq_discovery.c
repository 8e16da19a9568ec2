/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Home Assistant device-discovery payloads (astrameter/mq_discovery.h). The facts (ids,
 * names, templates, classes) are the reference's discovery.py (2.2.3) plus the 2.3.0
 * changes listed in the header; the battery controls' names, bounds, steps and units come
 * from the control-field table, so the entities accept exactly what the command parser
 * accepts. Written with the module's fixed-buffer JSON writer: no allocation. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "astrameter/bal_fields.h"
#include "astrameter/mq_discovery.h"
#include "mqtt/mq_json.h"

#define SUPPORT_URL "https://github.com/tomquist/astrameter"

int mq_sanitize_id(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	const unsigned char *p = (const unsigned char *)(in ? in : "");
	while (*p) {
		unsigned char c = *p++;
		char w = '_';
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '-')
			w = (char)c;
		else if (c >= 0xc0)
			while (*p >= 0x80 && *p < 0xc0)
				p++; /* one character, one '_' */
		if (o + 1 >= cap)
			return -1;
		out[o++] = w;
	}
	if (cap == 0)
		return -1;
	out[o] = '\0';
	return (int)o;
}

int mq_hub_id(const char *addon_slug, const char *base, char *out, size_t cap)
{
	if (addon_slug && *addon_slug) {
		int k = snprintf(out, cap, "%s", addon_slug);
		return k < 0 || (size_t)k >= cap ? -1 : k;
	}
	char s[256];
	if (mq_sanitize_id(base, s, sizeof(s)) < 0)
		return -1;
	int k = snprintf(out, cap, "astrameter_%s", s);
	return k < 0 || (size_t)k >= cap ? -1 : k;
}

static bool cased(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int mq_title_case(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	bool prev = false;
	for (const char *p = in ? in : ""; *p; p++) {
		char c = *p == '_' ? ' ' : *p;
		if (cased(c)) {
			if (prev && c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			else if (!prev && c >= 'a' && c <= 'z')
				c = (char)(c - 'a' + 'A');
		}
		prev = cased(c);
		if (o + 1 >= cap)
			return -1;
		out[o++] = c;
	}
	if (cap == 0)
		return -1;
	out[o] = '\0';
	return (int)o;
}

/* ---- building blocks ---------------------------------------------------------------------- */

static void origin(struct mqj *j, const struct mq_disc_ctx *ctx)
{
	mqj_obj(j, "origin");
	mqj_str(j, "name", "astrameter");
	mqj_str(j, "sw_version", ctx->sw_version && *ctx->sw_version ? ctx->sw_version : "unknown");
	mqj_str(j, "support_url", SUPPORT_URL);
	mqj_end(j);
}

static void avail_entry(struct mqj *j, const char *topic, const char *suffix)
{
	mqj_obj(j, NULL);
	mqj_strf(j, "topic", "%s%s", topic, suffix);
	mqj_str(j, "payload_available", "online");
	mqj_str(j, "payload_not_available", "offline");
	mqj_end(j);
}

/* "availability": [system] */
static void avail_system(struct mqj *j, const struct mq_disc_ctx *ctx)
{
	mqj_arr(j, "availability");
	avail_entry(j, ctx->base, "/status");
	mqj_end(j);
}

/* availability_mode all + [system, {state}/availability] */
static void avail_both(struct mqj *j, const struct mq_disc_ctx *ctx, const char *state)
{
	mqj_str(j, "availability_mode", "all");
	mqj_arr(j, "availability");
	avail_entry(j, ctx->base, "/status");
	avail_entry(j, state, "/availability");
	mqj_end(j);
}

/* Opens a component: platform, unique_id, name (NULL: the device's primary entity). */
static void comp(struct mqj *j, const char *key, const char *platform, const char *uid,
                 const char *name)
{
	mqj_obj(j, key);
	mqj_str(j, "platform", platform);
	mqj_strf(j, "unique_id", "%s_%s", uid, key);
	mqj_str(j, "name", name);
}

/* A power sensor (W, measurement). */
static void power(struct mqj *j, const char *key, const char *uid, const char *name,
                  const char *state, const char *tmpl)
{
	comp(j, key, "sensor", uid, name);
	mqj_str(j, "device_class", "power");
	mqj_str(j, "state_class", "measurement");
	mqj_str(j, "unit_of_measurement", "W");
	mqj_str(j, "state_topic", state);
	mqj_str(j, "value_template", tmpl);
	mqj_end(j);
}

/* A diagnostic sensor with an optional device class and unit. */
static void diag(struct mqj *j, const char *key, const char *uid, const char *name,
                 const char *state, const char *tmpl, const char *dclass, const char *unit)
{
	comp(j, key, "sensor", uid, name);
	if (dclass)
		mqj_str(j, "device_class", dclass);
	if (unit)
		mqj_str(j, "unit_of_measurement", unit);
	mqj_str(j, "state_topic", state);
	mqj_str(j, "value_template", tmpl);
	mqj_str(j, "entity_category", "diagnostic");
	mqj_end(j);
}

/* The retirement of an entity (2.3.0): a component with only its platform. */
static void retire(struct mqj *j, const char *key, const char *platform)
{
	mqj_obj(j, key);
	mqj_str(j, "platform", platform);
	mqj_end(j);
}

static int finish(struct mqj *j, const struct mq_disc_ctx *ctx, const char *node, char *topic,
                  size_t tlen)
{
	int n = mqj_finish(j);
	if (n < 0)
		return -1;
	int k = snprintf(topic, tlen, "%s/device/%s/config", ctx->prefix, node);
	if (k < 0 || (size_t)k >= tlen)
		return -1;
	return n;
}

static bool ok_ctx(const struct mq_disc_ctx *ctx)
{
	return ctx && ctx->base && ctx->prefix;
}

/* snprintf that fails on truncation (every id and topic must fit whole). */
static int bprintf(char *buf, size_t cap, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int bprintf(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	return k < 0 || (size_t)k >= cap ? -1 : k;
}

#define FMT(var, ...)                                   \
	if (bprintf(var, sizeof(var), __VA_ARGS__) < 0) \
		return -1;

#define SAN(var, in)                                    \
	char var[MQ_TOPIC_MAX / 2];                     \
	if (mq_sanitize_id((in), var, sizeof(var)) < 0) \
		return -1;

/* ---- devices ------------------------------------------------------------------------------ */

int mq_disc_hub(const struct mq_disc_ctx *ctx, char *topic, size_t tlen, char *buf, size_t len)
{
	if (!ok_ctx(ctx) || !ctx->hub_id)
		return -1;
	SAN(slug, ctx->hub_id);
	char uid[MQ_TOPIC_MAX], bridge[MQ_TOPIC_MAX], status[MQ_TOPIC_MAX];
	FMT(uid, "astrameter_addon_%s", slug);
	FMT(bridge, "%s/bridge", ctx->base);
	FMT(status, "%s/status", ctx->base);
	struct mqj j;
	mqj_init(&j, buf, len);
	mqj_obj(&j, NULL);
	mqj_obj(&j, "device");
	mqj_str(&j, "identifiers", ctx->hub_id);
	mqj_str(&j, "name", "AstraMeter");
	mqj_str(&j, "manufacturer", "astrameter");
	mqj_end(&j);
	origin(&j, ctx);
	mqj_obj(&j, "components");
	/* no availability: this sensor is the offline indicator itself */
	comp(&j, "status", "binary_sensor", uid, "Status");
	mqj_str(&j, "device_class", "connectivity");
	mqj_str(&j, "state_topic", status);
	mqj_str(&j, "payload_on", "online");
	mqj_str(&j, "payload_off", "offline");
	mqj_str(&j, "entity_category", "diagnostic");
	mqj_end(&j);
	static const char *const keys[][3] = {
	        {"version", "Version", "{{ value_json.version }}"},
	        {"consumer_count", "Consumer Count", "{{ value_json.consumer_count }}"}};
	for (size_t i = 0; i < 2; i++) {
		comp(&j, keys[i][0], "sensor", uid, keys[i][1]);
		mqj_str(&j, "state_topic", bridge);
		mqj_str(&j, "value_template", keys[i][2]);
		mqj_str(&j, "entity_category", "diagnostic");
		avail_system(&j, ctx);
		mqj_end(&j);
	}
	mqj_end(&j);
	mqj_str(&j, "state_topic", bridge);
	mqj_end(&j);
	char node[MQ_TOPIC_MAX];
	FMT(node, "astrameter_addon_%s", slug);
	return finish(&j, ctx, node, topic, tlen);
}

/* "device" of a device-level node: identifiers, name, manufacturer, via the hub. */
static void device_info(struct mqj *j, const struct mq_disc_ctx *ctx, const char *node,
                        const char *name)
{
	mqj_obj(j, "device");
	mqj_str(j, "identifiers", node);
	mqj_str(j, "name", name);
	mqj_str(j, "manufacturer", "astrameter");
	if (ctx->hub_id)
		mqj_str(j, "via_device", ctx->hub_id);
	mqj_end(j);
}

/* A sensor for a nullable number: '' while null, so HA keeps the entity's state. */
static int nullable_tmpl(char *out, size_t cap, const char *key)
{
	return bprintf(out, cap, "{{ value_json.%s if value_json.%s is not none else '' }}", key,
	               key);
}

int mq_disc_ct002_device(const struct mq_disc_ctx *ctx, const char *device_id, bool efficiency,
                         char *topic, size_t tlen, char *buf, size_t len)
{
	if (!ok_ctx(ctx) || !device_id)
		return -1;
	SAN(dev, device_id);
	char node[MQ_TOPIC_MAX], state[MQ_TOPIC_MAX], set[MQ_TOPIC_MAX], name[MQ_TOPIC_MAX];
	FMT(node, "astrameter_ct002_%s", dev);
	FMT(state, "%s/ct002/%s/status", ctx->base, device_id);
	FMT(set, "%s/ct002/%s/set", ctx->base, device_id);
	FMT(name, "AstraMeter CT002 %s", device_id);
	struct mqj j;
	mqj_init(&j, buf, len);
	mqj_obj(&j, NULL);
	device_info(&j, ctx, node, name);
	origin(&j, ctx);
	mqj_obj(&j, "components");
	power(&j, "smooth_target", node, NULL, state, "{{ value_json.smooth_target }}");
	const struct bal_field *ac = bal_field_get(BAL_F_ACTIVE_CONTROL);
	comp(&j, ac->name, "switch", node, ac->label);
	mqj_str(&j, "state_topic", state);
	mqj_str(&j, "value_template", "{{ value_json.active_control }}");
	mqj_str(&j, "command_topic", set);
	mqj_str(&j, "command_template",
	        "{\"active_control\": {{ \"true\" if value == \"ON\" else \"false\" }}}");
	mqj_str(&j, "payload_on", "ON");
	mqj_str(&j, "payload_off", "OFF");
	mqj_str(&j, "state_on", "True");
	mqj_str(&j, "state_off", "False");
	mqj_bool(&j, "retain", ac->retained);
	mqj_str(&j, "entity_category", "config");
	mqj_end(&j);
	comp(&j, "consumer_count", "sensor", node, "Consumer Count");
	mqj_str(&j, "state_topic", state);
	mqj_str(&j, "value_template", "{{ value_json.consumer_count }}");
	mqj_str(&j, "entity_category", "diagnostic");
	mqj_end(&j);
	const struct bal_field *fr = bal_field_get(BAL_F_FORCE_ROTATION);
	if (bal_field_offered(fr, NULL, efficiency)) {
		comp(&j, fr->name, "button", node, fr->label);
		mqj_str(&j, "command_topic", set);
		mqj_str(&j, "payload_press", "{\"force_rotation\": true}");
		mqj_str(&j, "entity_category", "config");
		mqj_end(&j);
	}
	/* control quality (2.3.0): five diagnostic sensors */
	comp(&j, "control_quality", "sensor", node, "Control Quality");
	mqj_str(&j, "device_class", "enum");
	mqj_arr(&j, "options");
	static const char *const verdicts[] = {"stable", "off_target", "limited", "warmup", "idle"};
	for (size_t i = 0; i < 5; i++)
		mqj_str(&j, NULL, verdicts[i]);
	mqj_end(&j);
	mqj_str(&j, "state_topic", state);
	mqj_str(&j, "value_template", "{{ value_json.control_quality }}");
	mqj_str(&j, "entity_category", "diagnostic");
	mqj_end(&j);
	static const struct {
		const char *key, *name, *dclass, *unit;
	} q[] = {
	        {"control_quality_score", "Control Quality Score", NULL, NULL},
	        {"control_quality_error_w", "Control Quality Mean Error", "power", "W"},
	        {"control_quality_in_band_pct", "Control Quality Time In Band", NULL, "%"},
	        {"control_quality_crossings_per_min", "Control Quality Zero Crossings", NULL,
	         "/min"},
	};
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		char tmpl[200];
		if (nullable_tmpl(tmpl, sizeof(tmpl), q[i].key) < 0)
			return -1;
		comp(&j, q[i].key, "sensor", node, q[i].name);
		if (q[i].dclass)
			mqj_str(&j, "device_class", q[i].dclass);
		mqj_str(&j, "state_class", "measurement");
		if (q[i].unit)
			mqj_str(&j, "unit_of_measurement", q[i].unit);
		mqj_str(&j, "state_topic", state);
		mqj_str(&j, "value_template", tmpl);
		mqj_str(&j, "entity_category", "diagnostic");
		mqj_end(&j);
	}
	mqj_end(&j);
	avail_system(&j, ctx);
	mqj_str(&j, "state_topic", state);
	mqj_end(&j);
	return finish(&j, ctx, node, topic, tlen);
}

/* A battery control entity from the table. */
static int control(struct mqj *j, const struct bal_field *f, const char *uid, const char *state)
{
	char cmd[MQ_TOPIC_MAX], tmpl[160];
	FMT(cmd, "%s/%s/set", state, f->name);
	if (f->type == BAL_FT_BOOL) {
		comp(j, f->name, "switch", uid, f->label);
		mqj_str(j, "state_topic", state);
		mqj_str(j, "command_topic", cmd);
		FMT(tmpl, "{{ value_json.%s }}", f->name);
		mqj_str(j, "value_template", tmpl);
		mqj_str(j, "payload_on", "true");
		mqj_str(j, "payload_off", "false");
		mqj_str(j, "state_on", "True");
		mqj_str(j, "state_off", "False");
		mqj_bool(j, "retain", f->retained);
		/* upstream: Active is a plain switch, the others are configuration */
		if (f->id != BAL_F_ACTIVE)
			mqj_str(j, "entity_category", "config");
		mqj_end(j);
		return 0;
	}
	comp(j, f->name, "number", uid, f->label);
	if (f->unit)
		mqj_str(j, "unit_of_measurement", f->unit);
	if (f->unit && strcmp(f->unit, "W") == 0)
		mqj_str(j, "device_class", "power");
	mqj_num(j, "min", f->min);
	mqj_num(j, "max", f->max);
	if (f->step > 0)
		mqj_num(j, "step", f->step);
	/* a wide range is typed, a short one slid */
	mqj_str(j, "mode",
	        f->id == BAL_F_MANUAL_TARGET || f->id == BAL_F_MIN_DC_OUTPUT ? "box" : "slider");
	mqj_str(j, "state_topic", state);
	switch (f->id) {
	case BAL_F_MANUAL_TARGET:
	case BAL_F_MIN_DC_OUTPUT:
		FMT(tmpl, "{{ value_json.%s | default(0) }}", f->name);
		break;
	case BAL_F_EFFICIENCY_WINDOW_WEIGHT:
		FMT(tmpl, "{{ (value_json.%s | default(1.0)) * %g }}", f->name, 1.0 / f->scale);
		break;
	default:
		FMT(tmpl, "{{ value_json.%s | default(1.0) }}", f->name);
		break;
	}
	mqj_str(j, "value_template", tmpl);
	mqj_str(j, "command_topic", cmd);
	mqj_bool(j, "retain", f->retained);
	mqj_str(j, "entity_category", "config");
	mqj_end(j);
	return 0;
}

int mq_disc_ct002_consumer(const struct mq_disc_ctx *ctx, const char *device_id,
                           const char *consumer_id, const char *device_type, bool efficiency,
                           char *topic, size_t tlen, char *buf, size_t len)
{
	if (!ok_ctx(ctx) || !device_id || !consumer_id)
		return -1;
	SAN(dev, device_id);
	SAN(cid, consumer_id);
	char uid[MQ_TOPIC_MAX], state[MQ_TOPIC_MAX], via[MQ_TOPIC_MAX], slug[MQ_TOPIC_MAX / 2];
	FMT(uid, "astrameter_ct002_%s_%s", dev, cid);
	FMT(state, "%s/ct002/%s/consumer/%s", ctx->base, device_id, consumer_id);
	FMT(via, "astrameter_ct002_%s", dev);
	size_t o = 0;
	for (const char *p = cid; *p; p++)
		if (*p != '-' && *p != '_')
			slug[o++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	slug[o] = '\0';
	bool typed = device_type && *device_type;

	struct mqj j;
	mqj_init(&j, buf, len);
	mqj_obj(&j, NULL);
	mqj_obj(&j, "device");
	mqj_arr(&j, "identifiers");
	mqj_strf(&j, NULL, "astrameter_consumer_%s", slug);
	mqj_end(&j);
	if (typed)
		mqj_strf(&j, "name", "AstraMeter Consumer %s %s", device_type, slug);
	else
		mqj_strf(&j, "name", "AstraMeter Consumer %s", slug);
	mqj_str(&j, "manufacturer", "Marstek");
	mqj_str(&j, "via_device", via);
	/* no "connections": HA would merge this device with the battery's own (#438) */
	if (typed)
		mqj_str(&j, "model_id", device_type);
	mqj_end(&j);
	origin(&j, ctx);
	mqj_obj(&j, "components");
	static const char *const pw[][3] = {
	        {"grid_power_total", NULL, "{{ value_json.grid_power.total }}"},
	        {"grid_power_l1", "Grid Power L1", "{{ value_json.grid_power.l1 }}"},
	        {"grid_power_l2", "Grid Power L2", "{{ value_json.grid_power.l2 }}"},
	        {"grid_power_l3", "Grid Power L3", "{{ value_json.grid_power.l3 }}"},
	        {"target_l1", "Target L1", "{{ value_json.target.l1 }}"},
	        {"target_l2", "Target L2", "{{ value_json.target.l2 }}"},
	        {"target_l3", "Target L3", "{{ value_json.target.l3 }}"},
	        {"reported_power", "Reported Power", "{{ value_json.reported_power }}"},
	        {"last_target", "Last Target", "{{ value_json.last_target }}"},
	};
	for (size_t i = 0; i < sizeof(pw) / sizeof(pw[0]); i++)
		power(&j, pw[i][0], uid, pw[i][1], state, pw[i][2]);
	comp(&j, "saturation", "sensor", uid, "Saturation");
	mqj_str(&j, "unit_of_measurement", "%");
	mqj_str(&j, "state_topic", state);
	mqj_str(&j, "value_template", "{{ (value_json.saturation * 100) | round(1) }}");
	mqj_end(&j);
	comp(&j, "phase", "sensor", uid, "Phase");
	mqj_str(&j, "device_class", "enum");
	mqj_arr(&j, "options");
	static const char *const phases[] = {"A", "B", "C", "D"}; /* D: 2.3.0 */
	for (size_t i = 0; i < 4; i++)
		mqj_str(&j, NULL, phases[i]);
	mqj_end(&j);
	mqj_str(&j, "state_topic", state);
	mqj_str(&j, "value_template", "{{ value_json.phase }}");
	mqj_str(&j, "entity_category", "diagnostic");
	mqj_end(&j);
	diag(&j, "device_type", uid, "Device Type", state, "{{ value_json.device_type }}", NULL,
	     NULL);
	diag(&j, "battery_ip", uid, "Battery IP", state, "{{ value_json.battery_ip }}", NULL, NULL);
	diag(&j, "ct_type", uid, "CT Type", state, "{{ value_json.ct_type }}", NULL, NULL);
	diag(&j, "ct_mac", uid, "CT MAC", state, "{{ value_json.ct_mac }}", NULL, NULL);
	retire(&j, "last_seen", "sensor"); /* 2.3.0: Last Seen retired */
	diag(&j, "poll_interval", uid, "Poll Interval", state, "{{ value_json.poll_interval }}",
	     "duration", "s");
	diag(&j, "answer_interval", uid, "Answer Interval", state,
	     "{{ value_json.answer_interval }}", "duration", "s");
	static const enum bal_field_id order[] = {BAL_F_MANUAL_TARGET,
	                                          BAL_F_AUTO_TARGET,
	                                          BAL_F_ACTIVE,
	                                          BAL_F_DISTRIBUTION_WEIGHT,
	                                          BAL_F_EFFICIENCY_WINDOW_WEIGHT,
	                                          BAL_F_MIN_DC_OUTPUT};
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		const struct bal_field *f = bal_field_get(order[i]);
		if (bal_field_offered(f, device_type, efficiency) && control(&j, f, uid, state) < 0)
			return -1;
	}
	mqj_end(&j);
	avail_both(&j, ctx, state);
	mqj_str(&j, "state_topic", state);
	mqj_end(&j);
	return finish(&j, ctx, uid, topic, tlen);
}

int mq_disc_powermeter(const struct mq_disc_ctx *ctx, const char *section, char *topic, size_t tlen,
                       char *buf, size_t len)
{
	if (!ok_ctx(ctx) || !section)
		return -1;
	SAN(pm, section);
	char node[MQ_TOPIC_MAX], state[MQ_TOPIC_MAX], title[MQ_TOPIC_MAX / 2], name[MQ_TOPIC_MAX];
	FMT(node, "astrameter_powermeter_%s", pm);
	FMT(state, "%s/powermeter/%s", ctx->base, pm);
	if (mq_title_case(section, title, sizeof(title)) < 0)
		return -1;
	FMT(name, "AstraMeter Powermeter %s", title);
	struct mqj j;
	mqj_init(&j, buf, len);
	mqj_obj(&j, NULL);
	device_info(&j, ctx, node, name);
	origin(&j, ctx);
	mqj_obj(&j, "components");
	static const char *const ph[][3] = {{"grid_power_total", NULL, "total"},
	                                    {"grid_power_l1", "Power L1", "l1"},
	                                    {"grid_power_l2", "Power L2", "l2"},
	                                    {"grid_power_l3", "Power L3", "l3"}};
	for (size_t i = 0; i < 4; i++) {
		char tmpl[200];
		snprintf(tmpl, sizeof(tmpl),
		         "{{ value_json.grid_power.%s if value_json.grid_power.%s is not none "
		         "else '' }}",
		         ph[i][2], ph[i][2]);
		power(&j, ph[i][0], node, ph[i][1], state, tmpl);
	}
	comp(&j, "online", "binary_sensor", node, "Online");
	mqj_str(&j, "device_class", "connectivity");
	mqj_str(&j, "state_topic", state);
	mqj_str(&j, "value_template", "{{ value_json.online }}");
	mqj_str(&j, "payload_on", "True");
	mqj_str(&j, "payload_off", "False");
	mqj_str(&j, "entity_category", "diagnostic");
	mqj_end(&j);
	mqj_end(&j);
	avail_system(&j, ctx);
	mqj_str(&j, "state_topic", state);
	mqj_end(&j);
	return finish(&j, ctx, node, topic, tlen);
}

int mq_disc_shelly_device(const struct mq_disc_ctx *ctx, const char *device_id, char *topic,
                          size_t tlen, char *buf, size_t len)
{
	if (!ok_ctx(ctx) || !device_id)
		return -1;
	SAN(dev, device_id);
	char node[MQ_TOPIC_MAX], state[MQ_TOPIC_MAX], name[MQ_TOPIC_MAX];
	FMT(node, "astrameter_shelly_%s", dev);
	FMT(state, "%s/shelly/%s/status", ctx->base, device_id);
	FMT(name, "AstraMeter Shelly %s", device_id);
	struct mqj j;
	mqj_init(&j, buf, len);
	mqj_obj(&j, NULL);
	device_info(&j, ctx, node, name);
	origin(&j, ctx);
	mqj_obj(&j, "components");
	comp(&j, "battery_count", "sensor", node, "Battery Count");
	mqj_str(&j, "state_topic", state);
	mqj_str(&j, "value_template", "{{ value_json.battery_count }}");
	mqj_str(&j, "entity_category", "diagnostic");
	mqj_end(&j);
	mqj_end(&j);
	avail_system(&j, ctx);
	mqj_str(&j, "state_topic", state);
	mqj_end(&j);
	return finish(&j, ctx, node, topic, tlen);
}

int mq_disc_shelly_battery(const struct mq_disc_ctx *ctx, const char *device_id,
                           const char *battery_ip, char *topic, size_t tlen, char *buf, size_t len)
{
	if (!ok_ctx(ctx) || !device_id || !battery_ip)
		return -1;
	SAN(dev, device_id);
	SAN(ip, battery_ip);
	char node[MQ_TOPIC_MAX], state[MQ_TOPIC_MAX];
	FMT(node, "astrameter_shelly_%s_%s", dev, ip);
	FMT(state, "%s/shelly/%s/battery/%s", ctx->base, device_id, ip);
	struct mqj j;
	mqj_init(&j, buf, len);
	mqj_obj(&j, NULL);
	mqj_obj(&j, "device");
	mqj_str(&j, "identifiers", node);
	/* the slug, not the address: upstream's service hands the builder the slug */
	mqj_strf(&j, "name", "AstraMeter Shelly Battery %s", ip);
	mqj_str(&j, "manufacturer", "astrameter");
	mqj_strf(&j, "via_device", "astrameter_shelly_%s", dev);
	mqj_end(&j);
	origin(&j, ctx);
	mqj_obj(&j, "components");
	static const char *const pw[][3] = {
	        {"grid_power_total", NULL, "{{ value_json.grid_power.total }}"},
	        {"grid_power_l1", "Grid Power L1", "{{ value_json.grid_power.l1 }}"},
	        {"grid_power_l2", "Grid Power L2", "{{ value_json.grid_power.l2 }}"},
	        {"grid_power_l3", "Grid Power L3", "{{ value_json.grid_power.l3 }}"},
	};
	for (size_t i = 0; i < 4; i++)
		power(&j, pw[i][0], node, pw[i][1], state, pw[i][2]);
	comp(&j, "active", "binary_sensor", node, "Active");
	mqj_str(&j, "device_class", "connectivity");
	mqj_str(&j, "state_topic", state);
	mqj_str(&j, "value_template", "{{ value_json.active }}");
	mqj_str(&j, "payload_on", "True");
	mqj_str(&j, "payload_off", "False");
	mqj_str(&j, "entity_category", "diagnostic");
	mqj_end(&j);
	retire(&j, "last_seen", "sensor"); /* 2.3.0: Last Seen retired */
	diag(&j, "poll_interval", node, "Poll Interval", state, "{{ value_json.poll_interval }}",
	     "duration", "s");
	mqj_end(&j);
	avail_both(&j, ctx, state);
	mqj_str(&j, "state_topic", state);
	mqj_end(&j);
	return finish(&j, ctx, node, topic, tlen);
}
