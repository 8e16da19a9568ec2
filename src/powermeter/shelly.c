/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SHELLY powermeter: Gen1 devices (1PM, EM, 3EM) over their REST API with optional basic
 * auth, Gen2 devices (Plus 1PM, Pro 3EM) over the RPC API with digest auth. The pure
 * parser maps one response body to watts (Python int() truncation, as the reference). */
#include <string.h>
#include <cjson/cJSON.h>

#include "astrameter/pm_parsers.h"

int shelly_type_parse(const char *s, enum shelly_type *out)
{
	static const struct {
		const char *name;
		enum shelly_type type;
	} map[] = {
	        {"1PM", SHELLY_1PM}, {"PLUS1PM", SHELLY_PLUS1PM}, {"EM", SHELLY_EM},
	        {"3EM", SHELLY_EM},  {"3EMPro", SHELLY_3EMPRO},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcmp(s, map[i].name) == 0) {
			*out = map[i].type;
			return 0;
		}
	}
	return -1;
}

static int one_int(const cJSON *obj, const char *key, double *w, struct err *e)
{
	const cJSON *v = pmj_member(obj, key, e);
	return v ? pmj_int(v, key, w, e) : -1;
}

/* /status: every element of list[] contributes its "power". */
static int status_list(const cJSON *root, const char *list, struct pm_reading *out, struct err *e)
{
	const cJSON *arr = pmj_member(root, list, e);
	if (!arr)
		return -1;
	if (!cJSON_IsArray(arr))
		return err_set(e, "field '%s' is not a list", list);
	int n = cJSON_GetArraySize(arr);
	if (n <= 0)
		return err_set(e, "field '%s' is empty", list);
	if (n > PM_MAX_VALUES)
		return err_set(e, "field '%s' has %d entries, at most %d supported", list, n,
		               PM_MAX_VALUES);
	unsigned i = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, arr)
	{
		if (one_int(it, "power", &out->w[i], e) < 0)
			return -1;
		i++;
	}
	out->n = i;
	return 0;
}

int shelly_parse(const char *body, size_t len, enum shelly_type type, bool indexed,
                 struct pm_reading *out, struct err *e)
{
	cJSON *root = pmj_parse(body, len, e);
	if (!root)
		return -1;
	int rc = -1;
	struct pm_reading r = {0};
	switch (type) {
	case SHELLY_1PM:
	case SHELLY_EM:
		if (indexed) {
			rc = one_int(root, "power", &r.w[0], e);
			r.n = 1;
		} else {
			rc = status_list(root, type == SHELLY_1PM ? "meters" : "emeters", &r, e);
		}
		break;
	case SHELLY_PLUS1PM:
		rc = one_int(root, "apower", &r.w[0], e);
		r.n = 1;
		break;
	case SHELLY_3EMPRO: {
		/* The Pro 3EM reports each phase; use them when all three are there so phase
		 * balancing sees real phases, else the total as the reference does. */
		const char *ph[3] = {"a_act_power", "b_act_power", "c_act_power"};
		bool all = cJSON_IsObject(root);
		for (int i = 0; all && i < 3; i++)
			all = cJSON_GetObjectItemCaseSensitive(root, ph[i]) != NULL;
		if (all) {
			rc = 0;
			for (int i = 0; rc == 0 && i < 3; i++)
				rc = one_int(root, ph[i], &r.w[i], e);
			r.n = 3;
		} else {
			rc = one_int(root, "total_act_power", &r.w[0], e);
			r.n = 1;
		}
		break;
	}
	}
	cJSON_Delete(root);
	if (rc == 0)
		*out = r;
	return rc;
}
