/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ESPHOME powermeter: GET http://ip:port/<DOMAIN>/<ID> from the ESPHome web server and
 * report its "value" as an integer. */
#include <cjson/cJSON.h>

#include "astrameter/pm_parsers.h"

int esphome_parse(const char *body, size_t len, struct pm_reading *out, struct err *e)
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
