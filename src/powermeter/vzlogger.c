/* SPDX-License-Identifier: GPL-3.0-or-later */
/* VZLOGGER powermeter: one GET http://ip:port/<uuid> per configured UUID, all in
 * parallel; each answer gives data[0].tuples[0][1] as an integer, one value per UUID. */
#include <cjson/cJSON.h>

#include "astrameter/pm_parsers.h"

static const cJSON *first(const cJSON *arr, const char *what, struct err *e)
{
	if (!cJSON_IsArray(arr)) {
		err_set(e, "field '%s' is not a list", what);
		return NULL;
	}
	const cJSON *v = cJSON_GetArrayItem(arr, 0);
	if (!v)
		err_set(e, "field '%s' is empty", what);
	return v;
}

int vzlogger_parse(const char *body, size_t len, double *w, struct err *e)
{
	cJSON *root = pmj_parse(body, len, e);
	if (!root)
		return -1;
	int rc = -1;
	const cJSON *data = pmj_member(root, "data", e);
	const cJSON *d0 = data ? first(data, "data", e) : NULL;
	const cJSON *tuples = d0 ? pmj_member(d0, "tuples", e) : NULL;
	const cJSON *t0 = tuples ? first(tuples, "tuples", e) : NULL;
	if (t0) {
		const cJSON *v = cJSON_IsArray(t0) ? cJSON_GetArrayItem(t0, 1) : NULL;
		if (!v)
			err_set(e, "tuple has no value");
		else
			rc = pmj_int(v, "tuples[0][1]", w, e);
	}
	cJSON_Delete(root);
	return rc;
}
