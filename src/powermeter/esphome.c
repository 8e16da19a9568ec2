/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ESPHOME powermeter: GET http://ip:port/<DOMAIN>/<ID> from the ESPHome web server and
 * report its "value" as an integer. */
#include <cjson/cJSON.h>

#include "astrameter/pm_parsers.h"
#include "powermeter/pmhttp.h"

int pm_esphome_parse(const char *body, size_t len, struct pm_reading *out, struct err *e)
{
	cJSON *root = pmj_parse(body, len, e);
	if (!root)
		return -1;
	double w = 0;
	const cJSON *v = pmj_member(root, "value", e);
	int rc = v ? pmj_int(v, "value", &w, e) : -1;
	cJSON_Delete(root);
	if (rc == 0)
		*out = (struct pm_reading){.w = {w}, .n = 1};
	return rc;
}

/* ---- driver ---- */

struct esphome_priv {
	struct pmhttp h;
};

static int esphome_body(struct pm_meter *m, const char *body, size_t len, struct pm_reading *out,
                        struct err *e)
{
	(void)m;
	return pm_esphome_parse(body, len, out, e);
}

static int esphome_configure(struct pm_meter *m, struct cfg_section *sec, struct err *e)
{
	struct esphome_priv *p = m->priv;
	const char *ip, *port, *domain, *id;
	if (pmhttp_need(sec, "ip", &ip, e) != 0 || cfg_get_str(sec, "port", "", &port, e) != 0 ||
	    cfg_get_str(sec, "domain", "", &domain, e) != 0 ||
	    cfg_get_str(sec, "id", "", &id, e) != 0)
		return -1;
	p->h.parse = esphome_body;
	if (!port[0])
		return pmhttp_set_url(&p->h, e, "http://%s/%s/%s", ip, domain, id);
	return pmhttp_set_url(&p->h, e, "http://%s:%s/%s/%s", ip, port, domain, id);
}

const struct pm_driver pm_esphome_driver = {
        .name = "ESPHOME",
        .priv_size = sizeof(struct esphome_priv),
        .configure = esphome_configure,
        .start = pmhttp_drv_start,
        .stop = pmhttp_drv_stop,
        .poll = pmhttp_drv_poll,
        .keys = "IP PORT DOMAIN ID",
};
