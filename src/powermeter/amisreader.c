/* SPDX-License-Identifier: GPL-3.0-or-later */
/* AMIS_READER powermeter: GET /rest of the AMIS reader and report its "saldo" (import
 * minus export) as an integer. */
#include <cjson/cJSON.h>

#include "astrameter/pm_parsers.h"
#include "powermeter/pmhttp.h"

int pm_amisreader_parse(const char *body, size_t len, struct pm_reading *out, struct err *e)
{
	cJSON *root = pmj_parse(body, len, e);
	if (!root)
		return -1;
	double w = 0;
	const cJSON *v = pmj_member(root, "saldo", e);
	int rc = v ? pmj_int(v, "saldo", &w, e) : -1;
	cJSON_Delete(root);
	if (rc == 0)
		*out = (struct pm_reading){.w = {w}, .n = 1};
	return rc;
}

/* ---- driver ---- */

struct amisreader_priv {
	struct pmhttp h;
};

static int amisreader_body(struct pm_meter *m, const char *body, size_t len, struct pm_reading *out,
                           struct err *e)
{
	(void)m;
	return pm_amisreader_parse(body, len, out, e);
}

static int amisreader_configure(struct pm_meter *m, struct cfg_section *sec, struct err *e)
{
	struct amisreader_priv *p = m->priv;
	const char *ip;
	if (pmhttp_need(sec, "ip", &ip, e) != 0)
		return -1;
	p->h.parse = amisreader_body;
	return pmhttp_set_url(&p->h, e, "http://%s/rest", ip);
}

const struct pm_driver pm_amisreader_driver = {
        .name = "AMIS_READER",
        .priv_size = sizeof(struct amisreader_priv),
        .configure = amisreader_configure,
        .start = pmhttp_drv_start,
        .stop = pmhttp_drv_stop,
        .poll = pmhttp_drv_poll,
        .keys = "IP",
};
