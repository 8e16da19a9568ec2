/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ENVOY powermeter (Enphase IQ Gateway): GET https://host/production.json?details=1 with
 * a bearer JWT, reading the "net-consumption" CT (per line when present). The JWT is
 * either configured (TOKEN) or fetched from the Enphase cloud with USERNAME/PASSWORD/
 * SERIAL (Enlighten login -> session_id -> entrez token) and refreshed once on a 401. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "astrameter/pm_parsers.h"

int envoy_parse(const char *body, size_t len, struct pm_reading *out, struct err *e)
{
	cJSON *root = pmj_parse(body, len, e);
	if (!root)
		return -1;
	int rc = -1;
	struct pm_reading r = {0};
	const cJSON *cons =
	        cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "consumption") : NULL;
	if (!cJSON_IsArray(cons)) {
		err_set(e, "production.json missing 'consumption' array; consumption CTs are "
		           "required");
		goto done;
	}
	const cJSON *entry = NULL, *it;
	cJSON_ArrayForEach(it, cons)
	{
		const cJSON *mt = cJSON_IsObject(it)
		                          ? cJSON_GetObjectItemCaseSensitive(it, "measurementType")
		                          : NULL;
		if (cJSON_IsString(mt) && strcmp(mt->valuestring, "net-consumption") == 0) {
			entry = it;
			break;
		}
	}
	if (!entry) {
		err_set(e, "response does not expose 'net-consumption'; consumption CTs are "
		           "required");
		goto done;
	}
	const cJSON *lines = cJSON_GetObjectItemCaseSensitive(entry, "lines");
	if (cJSON_IsArray(lines) && cJSON_GetArraySize(lines) > 0) {
		unsigned i = 0;
		cJSON_ArrayForEach(it, lines)
		{
			if (i == 3)
				break;
			const cJSON *w = cJSON_IsObject(it)
			                         ? cJSON_GetObjectItemCaseSensitive(it, "wNow")
			                         : NULL;
			if (!w) {
				err_set(e, "malformed net-consumption line entry at index %u", i);
				goto done;
			}
			if (cJSON_IsNull(w) || pmj_float(w, "wNow", &r.w[i], e) < 0) {
				err_set(e, "non-numeric 'wNow' in net-consumption line at index %u",
				        i);
				goto done;
			}
			i++;
		}
		r.n = i;
	} else {
		const cJSON *w = cJSON_GetObjectItemCaseSensitive(entry, "wNow");
		if (!w) {
			err_set(e, "net-consumption entry missing 'wNow'");
			goto done;
		}
		if (pmj_float(w, "wNow", &r.w[0], e) < 0) {
			err_set(e, "non-numeric 'wNow' in net-consumption");
			goto done;
		}
		r.n = 1;
	}
	*out = r;
	rc = 0;
done:
	cJSON_Delete(root);
	return rc;
}

int envoy_parse_login(const char *body, size_t len, char *session_id, size_t cap, struct err *e)
{
	cJSON *root = pmj_parse(body, len, e);
	if (!root)
		return -1;
	int rc = -1;
	const cJSON *sid =
	        cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "session_id") : NULL;
	if (cJSON_IsString(sid) && sid->valuestring[0]) {
		int n = snprintf(session_id, cap, "%s", sid->valuestring);
		if (n > 0 && (size_t)n < cap)
			rc = 0;
		else
			err_set(e, "Enlighten session_id too long");
	} else {
		const cJSON *msg = cJSON_IsObject(root)
		                           ? cJSON_GetObjectItemCaseSensitive(root, "message")
		                           : NULL;
		err_set(e, "Enlighten login response missing session_id (message: %.80s)",
		        cJSON_IsString(msg) ? msg->valuestring : "unknown");
	}
	cJSON_Delete(root);
	return rc;
}

int envoy_check_jwt(const char *body, size_t len, char *token, size_t cap, struct err *e)
{
	if (!body)
		len = 0;
	while (len && isspace((unsigned char)*body)) {
		body++;
		len--;
	}
	while (len && isspace((unsigned char)body[len - 1]))
		len--;
	size_t dots = 0;
	bool printable = true;
	for (size_t i = 0; i < len; i++) {
		dots += body[i] == '.';
		printable = printable && isgraph((unsigned char)body[i]);
	}
	/* Never echo the body: it may be a token-shaped secret. */
	if (len < 3 || memcmp(body, "eyJ", 3) != 0 || dots != 2 || !printable)
		return err_set(e, "entrez token endpoint did not return a JWT (%zu bytes)", len);
	if (len >= cap)
		return err_set(e, "JWT too long (%zu bytes)", len);
	memcpy(token, body, len);
	token[len] = '\0';
	return 0;
}
