/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SHELLY powermeter: Gen1 devices (1PM, EM, 3EM) over their REST API with optional basic
 * auth, Gen2 devices (Plus 1PM, Pro 3EM) over the RPC API with digest auth. The pure
 * parser maps one response body to watts (Python int() truncation, as the reference). */
#include <string.h>
#include <cjson/cJSON.h>

#include "astrameter/pm_parsers.h"
#include "powermeter/pmhttp.h"

int pm_shelly_type_parse(const char *s, enum pm_shelly_type *out)
{
	static const struct {
		const char *name;
		enum pm_shelly_type type;
	} map[] = {
	        {"1PM", PM_SHELLY_1PM}, {"PLUS1PM", PM_SHELLY_PLUS1PM}, {"EM", PM_SHELLY_EM},
	        {"3EM", PM_SHELLY_EM},  {"3EMPro", PM_SHELLY_3EMPRO},
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

int pm_shelly_parse(const char *body, size_t len, enum pm_shelly_type type, bool indexed,
                    struct pm_reading *out, struct err *e)
{
	cJSON *root = pmj_parse(body, len, e);
	if (!root)
		return -1;
	int rc = -1;
	struct pm_reading r = {0};
	switch (type) {
	case PM_SHELLY_1PM:
	case PM_SHELLY_EM:
		if (indexed) {
			rc = one_int(root, "power", &r.w[0], e);
			r.n = 1;
		} else {
			rc = status_list(root, type == PM_SHELLY_1PM ? "meters" : "emeters", &r, e);
		}
		break;
	case PM_SHELLY_PLUS1PM:
		rc = one_int(root, "apower", &r.w[0], e);
		r.n = 1;
		break;
	case PM_SHELLY_3EMPRO: {
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

/* ---- driver ---- */

struct shelly_priv {
	struct pmhttp h;
	enum pm_shelly_type type;
	bool indexed;
};

static int shelly_body(struct pm_meter *m, const char *body, size_t len, struct pm_reading *out,
                       struct err *e)
{
	struct shelly_priv *p = m->priv;
	return pm_shelly_parse(body, len, p->type, p->indexed, out, e);
}

static int shelly_configure(struct pm_meter *m, struct cfg_section *sec, struct err *e)
{
	struct shelly_priv *p = m->priv;
	const char *type, *ip, *idx;
	if (cfg_get_str(sec, "type", "", &type, e) != 0 || pmhttp_need(sec, "ip", &ip, e) != 0 ||
	    cfg_get_str(sec, "user", "", &p->h.user, e) != 0 ||
	    cfg_get_str(sec, "pass", "", &p->h.pass, e) != 0 ||
	    cfg_get_str(sec, "meter_index", "", &idx, e) != 0)
		return -1;
	if (pm_shelly_type_parse(type, &p->type) != 0)
		return err_set(e,
		               "[%s] TYPE: unknown Shelly type '%s' (1PM, PLUS1PM, EM, 3EM, "
		               "3EMPro)",
		               sec->name, type);
	p->indexed = idx[0] != '\0';
	p->h.parse = shelly_body;
	/* Gen2 RPC devices want digest auth, Gen1 basic. */
	p->h.digest = p->type == PM_SHELLY_PLUS1PM || p->type == PM_SHELLY_3EMPRO;
	switch (p->type) {
	case PM_SHELLY_PLUS1PM:
		return pmhttp_set_url(&p->h, e, "http://%s/rpc/Switch.GetStatus?id=0", ip);
	case PM_SHELLY_3EMPRO:
		return pmhttp_set_url(&p->h, e, "http://%s/rpc/EM.GetStatus?id=0", ip);
	case PM_SHELLY_1PM:
		return p->indexed ? pmhttp_set_url(&p->h, e, "http://%s/meter/%s", ip, idx)
		                  : pmhttp_set_url(&p->h, e, "http://%s/status", ip);
	case PM_SHELLY_EM:
		return p->indexed ? pmhttp_set_url(&p->h, e, "http://%s/emeter/%s", ip, idx)
		                  : pmhttp_set_url(&p->h, e, "http://%s/status", ip);
	}
	return -1;
}

const struct pm_driver pm_shelly_driver = {
        .name = "SHELLY",
        .priv_size = sizeof(struct shelly_priv),
        .configure = shelly_configure,
        .start = pmhttp_drv_start,
        .stop = pmhttp_drv_stop,
        .poll = pmhttp_drv_poll,
        .keys = "TYPE IP USER PASS METER_INDEX",
};
