/* SPDX-License-Identifier: GPL-3.0-or-later */
/* IOBROKER powermeter: GET http://ip:port/getBulk/<alias>[,<alias2>] of the ioBroker
 * simple-api adapter; the answer is a list of {"id","val"} and the value is the "val" of
 * the configured alias, or input minus output with POWER_CALCULATE. */
#include <string.h>
#include <cjson/cJSON.h>

#include "astrameter/pm_parsers.h"

int iobroker_parse(const char *body, size_t len, const struct iobroker_cfg *cfg,
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
