/* SPDX-License-Identifier: GPL-3.0-or-later */
/* EMLOG powermeter: GET /pages/getinformation.php?heute&meterindex=N and report the
 * integer "Leistung170" (import), minus "Leistung270" (export) with JSON_POWER_CALCULATE. */
#include <cjson/cJSON.h>

#include "astrameter/pm_parsers.h"

int emlog_parse(const char *body, size_t len, bool calculate, struct pm_reading *out, struct err *e)
{
	cJSON *root = pmj_parse(body, len, e);
	if (!root)
		return -1;
	double in = 0, outw = 0;
	const cJSON *a = pmj_member(root, "Leistung170", e);
	int rc = a ? pmj_int(a, "Leistung170", &in, e) : -1;
	if (rc == 0 && calculate) {
		const cJSON *b = pmj_member(root, "Leistung270", e);
		rc = b ? pmj_int(b, "Leistung270", &outw, e) : -1;
	}
	cJSON_Delete(root);
	if (rc == 0)
		*out = (struct pm_reading){.w = {in - outw}, .n = 1};
	return rc;
}
