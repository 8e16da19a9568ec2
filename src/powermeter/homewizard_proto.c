/* SPDX-License-Identifier: GPL-3.0-or-later */
/* HomeWizard P1 WebSocket messages, pure part (contract in astrameter/pm_homewizard.h).
 * Unit-tested with the reference's measurement messages and fuzzed (fuzz_homewizard). */
#include <stdio.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "astrameter/pm_homewizard.h"
#include "astrameter/pm_parsers.h"

/* A field that is present must be a number (bool and numeric strings as Python float()
 * would take them); the reference would crash later on anything else. */
static int field(const cJSON *data, const char *key, double *out, int *present, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, key);
	*present = v != NULL;
	if (!v) {
		*out = 0.0;
		return 0;
	}
	return pmj_float(v, key, out, e);
}

static int measurement(const cJSON *data, struct pm_reading *out, int *have, struct err *e)
{
	if (!cJSON_IsObject(data))
		return err_set(e, "measurement data is not an object");
	struct pm_reading r;
	memset(&r, 0, sizeof(r));
	int p1, p2, p3, pt;
	if (field(data, "power_l1_w", &r.w[0], &p1, e) != 0)
		return -1;
	if (p1) {
		if (field(data, "power_l2_w", &r.w[1], &p2, e) != 0 ||
		    field(data, "power_l3_w", &r.w[2], &p3, e) != 0)
			return -1;
		r.n = 3;
	} else {
		if (field(data, "power_w", &r.w[0], &pt, e) != 0)
			return -1;
		if (!pt)
			return err_set(e, "measurement without power_w or power_l1_w");
		r.n = 1;
	}
	*out = r;
	*have = 1;
	return 0;
}

enum pm_hw_msg_type pm_hw_handle_message(const char *msg, size_t len, struct pm_reading *out,
                                         int *have, struct err *e)
{
	*have = 0;
	cJSON *root = cJSON_ParseWithLength(msg, len);
	if (!root) {
		err_set(e, "message is not valid JSON");
		return HW_MSG_BAD;
	}
	enum pm_hw_msg_type t = HW_MSG_OTHER;
	if (!cJSON_IsObject(root)) {
		err_set(e, "message is not a JSON object");
		t = HW_MSG_BAD;
		goto out;
	}
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
	const char *ts = cJSON_IsString(type) && type->valuestring ? type->valuestring : "";
	if (strcmp(ts, "authorization_requested") == 0) {
		t = HW_MSG_AUTH_REQ;
	} else if (strcmp(ts, "authorized") == 0) {
		t = HW_MSG_AUTHORIZED;
	} else if (strcmp(ts, "measurement") == 0) {
		t = HW_MSG_MEASUREMENT;
		(void)measurement(data, out, have, e);
	} else if (strcmp(ts, "error") == 0) {
		t = HW_MSG_ERROR;
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(data, "message");
		if (cJSON_IsString(m) && m->valuestring)
			err_set(e, "%.200s", m->valuestring);
		else
			err_set(e, "error without a message");
	}
out:
	cJSON_Delete(root);
	return t;
}

static char *two(const char *type, const char *data)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	char *s = NULL;
	if (cJSON_AddStringToObject(o, "type", type) &&
	    cJSON_AddStringToObject(o, "data", data ? data : ""))
		s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

char *pm_hw_msg_auth(const char *token)
{
	return two("authorization", token);
}

char *pm_hw_msg_subscribe(void)
{
	return two("subscribe", "measurement");
}
