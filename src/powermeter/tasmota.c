/* SPDX-License-Identifier: GPL-3.0-or-later */
/* TASMOTA powermeter: GET /cm?cmnd=status 10 (credentials as query parameters) and read
 * one integer per configured label under resp[JSON_STATUS][JSON_PAYLOAD_MQTT_PREFIX], or
 * input minus output per label pair with JSON_POWER_CALCULATE. */
#include <stdio.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "astrameter/pm_parsers.h"
#include "powermeter/pmhttp.h"

static int label_int(const cJSON *obj, const char *label, double *w, struct err *e)
{
	const cJSON *v = pmj_member(obj, label, e);
	return v ? pmj_int(v, label, w, e) : -1;
}

int pm_tasmota_parse(const char *body, size_t len, const struct pm_tasmota_cfg *cfg,
                     struct pm_reading *out, struct err *e)
{
	size_t n = cfg->calculate ? cfg->n_pairs : cfg->n_labels;
	if (n == 0 || n > PM_MAX_VALUES)
		return err_set(e, "need 1..%d power labels", PM_MAX_VALUES);
	cJSON *root = pmj_parse(body, len, e);
	if (!root)
		return -1;
	int rc = -1;
	struct pm_reading r = {0};
	const cJSON *st = pmj_member(root, cfg->status, e);
	const cJSON *obj = st ? pmj_member(st, cfg->prefix, e) : NULL;
	if (obj) {
		rc = 0;
		for (size_t i = 0; rc == 0 && i < n; i++) {
			if (!cfg->calculate) {
				rc = label_int(obj, cfg->labels[i], &r.w[i], e);
				continue;
			}
			double in = 0.0, outw = 0.0;
			rc = label_int(obj, cfg->in[i], &in, e);
			if (rc == 0)
				rc = label_int(obj, cfg->out[i], &outw, e);
			r.w[i] = in - outw;
		}
		r.n = (unsigned)n;
	}
	cJSON_Delete(root);
	if (rc == 0)
		*out = r;
	return rc;
}

/* ---- driver ---- */

struct tasmota_priv {
	struct pmhttp h;
	struct pm_tasmota_cfg cfg;
	char buf[3][512]; /* label lists, split in place */
	const char *lists[3][PM_MAX_VALUES];
};

static int tasmota_body(struct pm_meter *m, const char *body, size_t len, struct pm_reading *out,
                        struct err *e)
{
	struct tasmota_priv *p = m->priv;
	return pm_tasmota_parse(body, len, &p->cfg, out, e);
}

/* Comma list, blanks trimmed, empty items dropped (as the reference's _split_labels). */
static int split(const char *src, char *buf, size_t cap, const char **out, size_t *n)
{
	if (snprintf(buf, cap, "%s", src) >= (int)cap)
		return -1;
	*n = 0;
	for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
		while (*tok == ' ' || *tok == '\t')
			tok++;
		char *end = tok + strlen(tok);
		while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (!*tok)
			continue;
		if (*n == PM_MAX_VALUES)
			return -1;
		out[(*n)++] = tok;
	}
	return 0;
}

static int tasmota_configure(struct pm_meter *m, struct cfg_section *sec, struct err *e)
{
	struct tasmota_priv *p = m->priv;
	static const char *const keys[3] = {"json_power_mqtt_label", "json_power_input_mqtt_label",
	                                    "json_power_output_mqtt_label"};
	static const char *const names[3] = {"JSON_POWER_MQTT_LABEL", "JSON_POWER_INPUT_MQTT_LABEL",
	                                     "JSON_POWER_OUTPUT_MQTT_LABEL"};
	const char *ip;
	size_t n[3];
	if (pmhttp_need(sec, "ip", &ip, e) != 0 ||
	    cfg_get_str(sec, "user", "", &p->h.user, e) != 0 ||
	    cfg_get_str(sec, "pass", "", &p->h.pass, e) != 0 ||
	    cfg_get_str(sec, "json_status", "", &p->cfg.status, e) != 0 ||
	    cfg_get_str(sec, "json_payload_mqtt_prefix", "", &p->cfg.prefix, e) != 0 ||
	    cfg_get_bool(sec, "json_power_calculate", false, &p->cfg.calculate, e) != 0)
		return -1;
	for (int i = 0; i < 3; i++) {
		const char *v;
		if (cfg_get_str(sec, keys[i], "", &v, e) != 0)
			return -1;
		if (split(v, p->buf[i], sizeof(p->buf[i]), p->lists[i], &n[i]) != 0)
			return err_set(e, "[%s] %s: too long or more than %d labels", sec->name,
			               names[i], PM_MAX_VALUES);
	}
	if (p->cfg.calculate) {
		if (n[1] != n[2])
			return err_set(e,
			               "[%s] JSON_POWER_INPUT_MQTT_LABEL and "
			               "JSON_POWER_OUTPUT_MQTT_LABEL must have the same number "
			               "of entries",
			               sec->name);
		if (n[1] == 0)
			return err_set(e,
			               "[%s] JSON_POWER_INPUT_MQTT_LABEL and "
			               "JSON_POWER_OUTPUT_MQTT_LABEL entries cannot be empty "
			               "when JSON_POWER_CALCULATE is enabled",
			               sec->name);
	} else if (n[0] == 0) {
		return err_set(e, "[%s] JSON_POWER_MQTT_LABEL: required", sec->name);
	}
	p->cfg.labels = p->lists[0];
	p->cfg.n_labels = n[0];
	p->cfg.in = p->lists[1];
	p->cfg.out = p->lists[2];
	p->cfg.n_pairs = n[1];
	p->h.parse = tasmota_body;
	if (!p->h.user[0])
		return pmhttp_set_url(&p->h, e, "http://%s/cm?cmnd=status%%2010", ip);
	/* Tasmota takes credentials as query parameters, not as HTTP auth. */
	char u[256], pw[256];
	if (pmj_urlencode(p->h.user, u, sizeof(u)) != 0 ||
	    pmj_urlencode(p->h.pass, pw, sizeof(pw)) != 0)
		return err_set(e, "[%s] USER/PASS too long", sec->name);
	int rc = pmhttp_set_url(&p->h, e, "http://%s/cm?user=%s&password=%s&cmnd=status+10", ip, u,
	                        pw);
	p->h.user = NULL; /* not HTTP auth */
	return rc;
}

const struct pm_driver pm_tasmota_driver = {
        .name = "TASMOTA",
        .priv_size = sizeof(struct tasmota_priv),
        .configure = tasmota_configure,
        .start = pmhttp_drv_start,
        .stop = pmhttp_drv_stop,
        .poll = pmhttp_drv_poll,
        .keys = "IP USER PASS JSON_STATUS JSON_PAYLOAD_MQTT_PREFIX JSON_POWER_MQTT_LABEL "
                "JSON_POWER_INPUT_MQTT_LABEL JSON_POWER_OUTPUT_MQTT_LABEL JSON_POWER_CALCULATE",
};
