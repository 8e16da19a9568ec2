/* SPDX-License-Identifier: GPL-3.0-or-later */
/* EMLOG powermeter: GET /pages/getinformation.php?heute&meterindex=N and report the
 * integer "Leistung170" (import), minus "Leistung270" (export) with JSON_POWER_CALCULATE. */
#include <cjson/cJSON.h>

#include "astrameter/pm_parsers.h"
#include "powermeter/pmhttp.h"

int pm_emlog_parse(const char *body, size_t len, bool calculate, struct pm_reading *out,
                   struct err *e)
{
	cJSON *root = pmj_parse(body, len, e);
	if (!root)
		return -1;
	double in = 0, outw = 0;
	const cJSON *a = pmj_member(root, "Leistung170", e);
	int rc = a ? pmj_int(a, "Leistung170", &in, e) : -1;
	if (rc == 0 && calculate) {
		const cJSON *b = pmj_member(root, "Leistung270", e);
		rc = b ? pmj_int(b, "Leistung270", &outw, e) : -1;
	}
	cJSON_Delete(root);
	if (rc == 0)
		*out = (struct pm_reading){.w = {in - outw}, .n = 1};
	return rc;
}

/* ---- driver ---- */

struct emlog_priv {
	struct pmhttp h;
	bool calculate;
};

static int emlog_body(struct pm_meter *m, const char *body, size_t len, struct pm_reading *out,
                      struct err *e)
{
	struct emlog_priv *p = m->priv;
	return pm_emlog_parse(body, len, p->calculate, out, e);
}

static int emlog_configure(struct pm_meter *m, struct cfg_section *sec, struct err *e)
{
	struct emlog_priv *p = m->priv;
	const char *ip, *idx;
	if (pmhttp_need(sec, "ip", &ip, e) != 0 ||
	    cfg_get_str(sec, "meter_index", "", &idx, e) != 0 ||
	    cfg_get_bool(sec, "json_power_calculate", false, &p->calculate, e) != 0)
		return -1;
	p->h.parse = emlog_body;
	return pmhttp_set_url(&p->h, e, "http://%s/pages/getinformation.php?heute&meterindex=%s",
	                      ip, idx);
}

const struct pm_driver pm_emlog_driver = {
        .name = "EMLOG",
        .priv_size = sizeof(struct emlog_priv),
        .configure = emlog_configure,
        .start = pmhttp_drv_start,
        .stop = pmhttp_drv_stop,
        .poll = pmhttp_drv_poll,
        .keys = "IP METER_INDEX JSON_POWER_CALCULATE",
};
