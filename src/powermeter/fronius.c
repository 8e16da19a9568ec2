/* SPDX-License-Identifier: GPL-3.0-or-later */
/* FRONIUS powermeter: the inverter's Solar API GetMeterRealtimeData.cgi for one Smart
 * Meter; the signed PowerReal_P_Sum (import positive), or the three phase values with
 * PER_PHASE. A non-zero Head.Status.Code is an API error carrying its reason. */
#include <cjson/cJSON.h>

#include "astrameter/pm_parsers.h"
#include "powermeter/pmhttp.h"

static const cJSON *opt(const cJSON *obj, const char *key)
{
	return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

int pm_fronius_parse(const char *body, size_t len, bool per_phase, struct pm_reading *out,
                     struct err *e)
{
	cJSON *root = pmj_parse_object(body, len, e);
	if (!root)
		return -1;
	int rc = -1;
	struct pm_reading r = {0};
	const cJSON *status = opt(opt(root, "Head"), "Status");
	const cJSON *code = opt(status, "Code");
	double c = 0;
	if (code && pmj_float(code, "Head.Status.Code", &c, e) < 0)
		goto done;
	if (c != 0) {
		const cJSON *why = opt(status, "Reason");
		if (!cJSON_IsString(why) || !why->valuestring[0])
			why = opt(status, "UserMessage");
		err_set(e, "Fronius API returned status %g: %s", c,
		        cJSON_IsString(why) && why->valuestring[0] ? why->valuestring
		                                                   : "unknown error");
		goto done;
	}
	const cJSON *bd = pmj_member(root, "Body", e);
	const cJSON *data = bd ? pmj_member(bd, "Data", e) : NULL;
	if (!data)
		goto done;
	if (!cJSON_IsObject(data)) {
		err_set(e, "field 'Data' is not an object");
		goto done;
	}
	if (per_phase) {
		static const char *const ph[3] = {"PowerReal_P_Phase_1", "PowerReal_P_Phase_2",
		                                  "PowerReal_P_Phase_3"};
		for (int i = 0; i < 3; i++) {
			const cJSON *v = opt(data, ph[i]);
			if (v && pmj_float(v, ph[i], &r.w[i], e) < 0)
				goto done;
		}
		r.n = 3;
	} else {
		const cJSON *v = pmj_member(data, "PowerReal_P_Sum", e);
		if (!v || pmj_float(v, "PowerReal_P_Sum", &r.w[0], e) < 0)
			goto done;
		r.n = 1;
	}
	*out = r;
	rc = 0;
done:
	cJSON_Delete(root);
	return rc;
}

/* ---- driver ---- */

struct fronius_priv {
	struct pmhttp h;
	bool per_phase;
};

static int fronius_body(struct pm_meter *m, const char *body, size_t len, struct pm_reading *out,
                        struct err *e)
{
	struct fronius_priv *p = m->priv;
	return pm_fronius_parse(body, len, p->per_phase, out, e);
}

static int fronius_configure(struct pm_meter *m, struct cfg_section *sec, struct err *e)
{
	struct fronius_priv *p = m->priv;
	const char *ip, *dev;
	if (pmhttp_need(sec, "ip", &ip, e) != 0 ||
	    cfg_get_str(sec, "device_id", "0", &dev, e) != 0 ||
	    cfg_get_bool(sec, "per_phase", false, &p->per_phase, e) != 0)
		return -1;
	p->h.parse = fronius_body;
	return pmhttp_set_url(
	        &p->h, e,
	        "http://%s/solar_api/v1/GetMeterRealtimeData.cgi?Scope=Device&DeviceId=%s", ip,
	        dev);
}

const struct pm_driver pm_fronius_driver = {
        .name = "FRONIUS",
        .priv_size = sizeof(struct fronius_priv),
        .configure = fronius_configure,
        .start = pmhttp_drv_start,
        .stop = pmhttp_drv_stop,
        .poll = pmhttp_drv_poll,
        .keys = "IP DEVICE_ID PER_PHASE",
};
