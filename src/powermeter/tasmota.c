/* SPDX-License-Identifier: GPL-3.0-or-later */
/* TASMOTA powermeter: GET /cm?cmnd=status 10 (credentials as query parameters) and read
 * one integer per configured label under resp[JSON_STATUS][JSON_PAYLOAD_MQTT_PREFIX], or
 * input minus output per label pair with JSON_POWER_CALCULATE. */
#include <cjson/cJSON.h>

#include "astrameter/pm_parsers.h"

static int label_int(const cJSON *obj, const char *label, double *w, struct err *e)
{
	const cJSON *v = pmj_member(obj, label, e);
	return v ? pmj_int(v, label, w, e) : -1;
}

int tasmota_parse(const char *body, size_t len, const struct tasmota_cfg *cfg,
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
			double in, outw;
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
