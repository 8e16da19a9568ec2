/* SPDX-License-Identifier: GPL-3.0-or-later */
/* AMIS_READER powermeter: GET /rest of the AMIS reader and report its "saldo" (import
 * minus export) as an integer. */
#include <cjson/cJSON.h>

#include "astrameter/pm_parsers.h"

int amisreader_parse(const char *body, size_t len, struct pm_reading *out, struct err *e)
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
