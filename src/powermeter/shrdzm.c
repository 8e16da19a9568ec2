/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SHRDZM powermeter: GET /getLastData?user=..&password=.. and report OBIS 1.7.0 (import)
 * minus 2.7.0 (export), each read as an integer. */
#include <cjson/cJSON.h>

#include "astrameter/pm_parsers.h"

int shrdzm_parse(const char *body, size_t len, struct pm_reading *out, struct err *e)
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
