/* SPDX-License-Identifier: GPL-3.0-or-later */
/* TIBBER_PULSE powermeter: the Pulse Bridge's local web server returns the raw SML
 * telegram of the meter at GET /data.json?node_id=N (basic auth, user admin, password =
 * the code printed on the bridge); the SML decoder turns it into watts. */
#include "astrameter/pm_parsers.h"
#include "powermeter/pmhttp.h"
#include "astrameter/sml.h"

int pm_tibber_pulse_decode(struct pm_tibber_pulse_cache *c, const unsigned char *body, size_t len,
                           const struct pm_sml_obis_cfg *obis, ev_ms now, struct pm_reading *out,
                           struct err *e)
{
	struct pm_reading r = {0};
	struct err why = {{0}};
	int rc = body ? pm_sml_decode_powers(body, len, obis, &r, &why) : -1;
	if (!body)
		err_set(&why, "empty body");
	if (rc == 0) {
		/* A valid frame without the power registers: the reference reports 0 W. */
		r.n = 1;
		r.w[0] = 0;
		rc = 1;
	}
	if (rc == 1) {
		r.at = now;
		c->last = r;
		c->last_good = now;
		c->have = true;
		*out = r;
		return 0;
	}
	if (c->have && now - c->last_good <= PM_TIBBER_PULSE_STALE_MS) {
		*out = c->last;
		return 0;
	}
	return err_set(e, "could not decode SML telegram: %s", why.msg);
}

/* ---- driver ---- */

struct tibber_priv {
	struct pmhttp h;
	struct pm_sml_obis_cfg obis;
	struct pm_tibber_pulse_cache cache;
};

static int tibber_body(struct pm_meter *m, const char *body, size_t len, struct pm_reading *out,
                       struct err *e)
{
	struct tibber_priv *p = m->priv;
	return pm_tibber_pulse_decode(&p->cache, (const unsigned char *)body, len, &p->obis,
	                              ev_now(m->ctx->loop), out, e);
}

/* OBIS_POWER_* overrides shared with the serial SML source. */
static int obis_key(struct cfg_section *sec, const char *key, const char *name, uint8_t out[6],
                    struct err *e)
{
	const char *v;
	struct err pe;
	if (cfg_get_str(sec, key, "", &v, e) != 0)
		return -1;
	if (!v[0])
		return 0;
	if (pm_sml_obis_parse_hex(v, out, &pe) != 0)
		return err_set(e, "[%s] %s %s", sec->name, name, pe.msg);
	return 0;
}

static int tibber_configure(struct pm_meter *m, struct cfg_section *sec, struct err *e)
{
	struct tibber_priv *p = m->priv;
	const char *ip, *node;
	pm_sml_obis_cfg_default(&p->obis);
	if (pmhttp_need(sec, "ip", &ip, e) != 0 ||
	    cfg_get_str(sec, "password", "", &p->h.pass, e) != 0 ||
	    cfg_get_str(sec, "node_id", "1", &node, e) != 0 ||
	    cfg_get_str(sec, "user", "admin", &p->h.user, e) != 0 ||
	    obis_key(sec, "obis_power_current", "OBIS_POWER_CURRENT", p->obis.current, e) != 0 ||
	    obis_key(sec, "obis_power_l1", "OBIS_POWER_L1", p->obis.l1, e) != 0 ||
	    obis_key(sec, "obis_power_l2", "OBIS_POWER_L2", p->obis.l2, e) != 0 ||
	    obis_key(sec, "obis_power_l3", "OBIS_POWER_L3", p->obis.l3, e) != 0)
		return -1;
	p->h.parse = tibber_body;
	return pmhttp_set_url(&p->h, e, "http://%s/data.json?node_id=%s", ip, node);
}

const struct pm_driver pm_tibber_pulse_driver = {
        .name = "TIBBER_PULSE",
        .priv_size = sizeof(struct tibber_priv),
        .configure = tibber_configure,
        .start = pmhttp_drv_start,
        .stop = pmhttp_drv_stop,
        .poll = pmhttp_drv_poll,
        .keys = "IP PASSWORD NODE_ID USER OBIS_POWER_CURRENT OBIS_POWER_L1 OBIS_POWER_L2 "
                "OBIS_POWER_L3",
};
