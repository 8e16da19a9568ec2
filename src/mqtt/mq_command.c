/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The command-topic parser (astrameter/mq_command.h): splits the topic the way upstream's
 * _listen_commands does (device before "/consumer/", field after the last '/'), with every
 * id one topic level (the subscriptions are {base}/ct002/+/consumer/+/+/set and
 * {base}/ct002/+/set, so a '/' inside an id cannot arrive anyway), and reads the payload
 * through the control-field table. Fuzzed by fuzz/fuzz_mq_command.c. */
#include <cjson/cJSON.h>
#include <string.h>

#include "astrameter/mq_command.h"

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' && s[i] != '\v' &&
		    s[i] != '\f')
			return false;
	return true;
}

/* One topic level into out: non-empty, no wildcard, no NUL, fits. */
static int level(const char *s, size_t n, char *out, const char *what, struct err *e)
{
	if (n == 0)
		return err_set(e, "empty %s in the topic", what);
	if (n >= MQ_ID_MAX)
		return err_set(e, "%s in the topic is longer than %d bytes", what, MQ_ID_MAX - 1);
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == '+' || s[i] == '#' || s[i] == '\0')
			return err_set(e, "%s in the topic contains '/', '+', '#' or NUL", what);
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

static const char *find(const char *s, size_t n, const char *pat)
{
	size_t m = strlen(pat);
	for (size_t i = 0; i + m <= n; i++)
		if (memcmp(s + i, pat, m) == 0)
			return s + i;
	return NULL;
}

static int parse_device(const char *p, size_t len, struct mq_command *out, struct err *e)
{
	if (blank(p, len))
		return 0; /* a cleared retained command */
	cJSON *j = cJSON_ParseWithLength(p, len);
	if (!j)
		return err_set(e, "device command is not valid JSON");
	int rc = 0;
	if (!cJSON_IsObject(j)) {
		rc = err_set(e, "device command is not a JSON object");
		goto out;
	}
	const cJSON *fr = cJSON_GetObjectItemCaseSensitive(j, "force_rotation");
	out->force_rotation = cJSON_IsTrue(fr);
	const cJSON *ac = cJSON_GetObjectItemCaseSensitive(j, "active_control");
	if (ac) {
		if (!cJSON_IsBool(ac)) {
			rc = err_set(e, "active_control must be true or false");
			out->force_rotation = false;
			goto out;
		}
		out->has_active_control = true;
		out->active_control = cJSON_IsTrue(ac);
	}
out:
	cJSON_Delete(j);
	return rc;
}

int mq_command_parse(const char *base, const char *topic, const void *payload, size_t len,
                     struct mq_command *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	if (!base || !topic)
		return 1;
	size_t bl = strlen(base), tl = strlen(topic);
	static const char mid[] = "/ct002/", suf[] = "/set";
	if (tl < bl + strlen(mid) + strlen(suf) || memcmp(topic, base, bl) != 0 ||
	    memcmp(topic + bl, mid, strlen(mid)) != 0 ||
	    memcmp(topic + tl - strlen(suf), suf, strlen(suf)) != 0)
		return 1;
	const char *m = topic + bl + strlen(mid);
	size_t ml = tl - bl - strlen(mid) - strlen(suf);
	if (len > MQ_CMD_PAYLOAD_MAX)
		return err_set(e, "command payload of %zu bytes (max %d)", len, MQ_CMD_PAYLOAD_MAX);
	if (len > 0 && !payload)
		return err_set(e, "no payload");
	const char *p = payload ? payload : "";
	const char *c = find(m, ml, "/consumer/");
	if (!c) {
		out->kind = MQ_CMD_DEVICE;
		if (level(m, ml, out->device, "device id", e) < 0)
			return -1;
		return parse_device(p, len, out, e);
	}
	out->kind = MQ_CMD_BATTERY;
	if (level(m, (size_t)(c - m), out->device, "device id", e) < 0)
		return -1;
	const char *rest = c + strlen("/consumer/");
	size_t rl = ml - (size_t)(rest - m);
	const char *slash = NULL;
	for (size_t i = rl; i-- > 0;)
		if (rest[i] == '/') {
			slash = rest + i;
			break;
		}
	if (!slash)
		return err_set(e, "consumer command topic without a field");
	if (level(rest, (size_t)(slash - rest), out->consumer, "consumer id", e) < 0)
		return -1;
	const char *fname = slash + 1;
	size_t fl = rl - (size_t)(fname - rest);
	out->field = bal_field_find(BAL_FS_BATTERY, fname, fl);
	if (!out->field)
		return err_set(e, "unknown consumer field '%.*s'", (int)(fl > 40 ? 40 : fl), fname);
	if (blank(p, len)) {
		out->clear = true;
		return 0;
	}
	return bal_field_parse(out->field, p, len, &out->value, e);
}
