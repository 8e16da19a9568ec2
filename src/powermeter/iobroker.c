/* SPDX-License-Identifier: GPL-3.0-or-later */
/* IOBROKER powermeter: GET http://ip:port/getBulk/<alias>[,<alias2>] of the ioBroker
 * simple-api adapter; the answer is a list of {"id","val"} and the value is the "val" of
 * the configured alias, or input minus output with POWER_CALCULATE. */
#include <stdio.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "astrameter/pm_parsers.h"
#include "powermeter/pmhttp.h"

int pm_iobroker_parse(const char *body, size_t len, const struct pm_iobroker_cfg *cfg,
                      struct pm_reading *out, struct err *e)
{
	cJSON *root = pmj_parse(body, len, e);
	if (!root)
		return -1;
	int rc = -1;
	if (!cJSON_IsArray(root)) {
		err_set(e, "expected a list of {id, val}");
		goto done;
	}
	double in = 0, outw = 0, cur = 0;
	bool found = false;
	const cJSON *it;
	cJSON_ArrayForEach(it, root)
	{
		const cJSON *id = pmj_member(it, "id", e);
		if (!id)
			goto done;
		if (!cJSON_IsString(id) || !id->valuestring)
			continue;
		/* The reference converts only the items it uses, so junk in other items
		 * does not matter. */
		if (!cfg->calculate) {
			if (strcmp(id->valuestring, cfg->current_alias) != 0)
				continue;
			const cJSON *v = pmj_member(it, "val", e);
			if (!v || pmj_int(v, "val", &cur, e) < 0)
				goto done;
			found = true;
			break;
		}
		if (strcmp(id->valuestring, cfg->input_alias) == 0) {
			const cJSON *v = pmj_member(it, "val", e);
			if (!v || pmj_int(v, "val", &in, e) < 0)
				goto done;
		}
		if (strcmp(id->valuestring, cfg->output_alias) == 0) {
			const cJSON *v = pmj_member(it, "val", e);
			if (!v || pmj_int(v, "val", &outw, e) < 0)
				goto done;
		}
	}
	if (!cfg->calculate && !found) {
		err_set(e, "alias '%s' not found in response", cfg->current_alias);
		goto done;
	}
	*out = (struct pm_reading){.w = {cfg->calculate ? in - outw : cur}, .n = 1};
	rc = 0;
done:
	cJSON_Delete(root);
	return rc;
}

/* ---- driver ---- */

struct iobroker_priv {
	struct pmhttp h;
	struct pm_iobroker_cfg cfg;
};

static int iobroker_body(struct pm_meter *m, const char *body, size_t len, struct pm_reading *out,
                         struct err *e)
{
	struct iobroker_priv *p = m->priv;
	return pm_iobroker_parse(body, len, &p->cfg, out, e);
}

static int iobroker_configure(struct pm_meter *m, struct cfg_section *sec, struct err *e)
{
	struct iobroker_priv *p = m->priv;
	const char *ip, *port;
	if (pmhttp_need(sec, "ip", &ip, e) != 0 || cfg_get_str(sec, "port", "", &port, e) != 0 ||
	    cfg_get_str(sec, "current_power_alias", "", &p->cfg.current_alias, e) != 0 ||
	    cfg_get_bool(sec, "power_calculate", false, &p->cfg.calculate, e) != 0 ||
	    cfg_get_str(sec, "power_input_alias", "", &p->cfg.input_alias, e) != 0 ||
	    cfg_get_str(sec, "power_output_alias", "", &p->cfg.output_alias, e) != 0)
		return -1;
	p->h.parse = iobroker_body;
	char host[300];
	snprintf(host, sizeof(host), "%s%s%s", ip, port[0] ? ":" : "", port);
	if (p->cfg.calculate)
		return pmhttp_set_url(&p->h, e, "http://%s/getBulk/%s,%s", host, p->cfg.input_alias,
		                      p->cfg.output_alias);
	if (!p->cfg.current_alias[0])
		return err_set(e, "[%s] CURRENT_POWER_ALIAS: required", sec->name);
	return pmhttp_set_url(&p->h, e, "http://%s/getBulk/%s", host, p->cfg.current_alias);
}

const struct pm_driver pm_iobroker_driver = {
        .name = "IOBROKER",
        .priv_size = sizeof(struct iobroker_priv),
        .configure = iobroker_configure,
        .start = pmhttp_drv_start,
        .stop = pmhttp_drv_stop,
        .poll = pmhttp_drv_poll,
        .keys = "IP PORT CURRENT_POWER_ALIAS POWER_CALCULATE POWER_INPUT_ALIAS POWER_OUTPUT_ALIAS",
};
