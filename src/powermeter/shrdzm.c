/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SHRDZM powermeter: GET /getLastData?user=..&password=.. and report OBIS 1.7.0 (import)
 * minus 2.7.0 (export), each read as an integer. */
#include <cjson/cJSON.h>

#include "astrameter/pm_parsers.h"
#include "powermeter/pmhttp.h"

int pm_shrdzm_parse(const char *body, size_t len, struct pm_reading *out, struct err *e)
{
	cJSON *root = pmj_parse(body, len, e);
	if (!root)
		return -1;
	double in = 0, outw = 0;
	const cJSON *a = pmj_member(root, "1.7.0", e);
	int rc = a ? pmj_int(a, "1.7.0", &in, e) : -1;
	if (rc == 0) {
		const cJSON *b = pmj_member(root, "2.7.0", e);
		rc = b ? pmj_int(b, "2.7.0", &outw, e) : -1;
	}
	cJSON_Delete(root);
	if (rc == 0)
		*out = (struct pm_reading){.w = {in - outw}, .n = 1};
	return rc;
}

/* ---- driver ---- */

struct shrdzm_priv {
	struct pmhttp h;
};

static int shrdzm_body(struct pm_meter *m, const char *body, size_t len, struct pm_reading *out,
                       struct err *e)
{
	(void)m;
	return pm_shrdzm_parse(body, len, out, e);
}

static int shrdzm_configure(struct pm_meter *m, struct cfg_section *sec, struct err *e)
{
	struct shrdzm_priv *p = m->priv;
	const char *ip, *user, *pass;
	char u[256], pw[256];
	if (pmhttp_need(sec, "ip", &ip, e) != 0 || cfg_get_str(sec, "user", "", &user, e) != 0 ||
	    cfg_get_str(sec, "pass", "", &pass, e) != 0)
		return -1;
	if (pmj_urlencode(user, u, sizeof(u)) != 0 || pmj_urlencode(pass, pw, sizeof(pw)) != 0)
		return err_set(e, "[%s] USER/PASS too long", sec->name);
	p->h.parse = shrdzm_body;
	return pmhttp_set_url(&p->h, e, "http://%s/getLastData?user=%s&password=%s", ip, u, pw);
}

const struct pm_driver pm_shrdzm_driver = {
        .name = "SHRDZM",
        .priv_size = sizeof(struct shrdzm_priv),
        .configure = shrdzm_configure,
        .start = pmhttp_drv_start,
        .stop = pmhttp_drv_stop,
        .poll = pmhttp_drv_poll,
        .keys = "IP USER PASS",
};
