/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Shared helpers of the HTTP meter parsers: JSON parsing with one-line errors, the
 * reference's Python int()/float() number semantics with a sanity bound, and form/query
 * escaping. Pure; no I/O. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "astrameter/pm_parsers.h"
#include "astrameter/pynum.h"

struct cJSON *pmj_parse(const char *body, size_t len, struct err *e)
{
	size_t i = 0;
	while (body && i < len && isspace((unsigned char)body[i]))
		i++;
	if (!body || i == len) {
		err_set(e, "empty body");
		return NULL;
	}
	cJSON *root = cJSON_ParseWithLength(body, len);
	if (!root)
		err_set(e, "body is not valid JSON");
	return root;
}

struct cJSON *pmj_parse_object(const char *body, size_t len, struct err *e)
{
	cJSON *root = pmj_parse(body, len, e);
	if (root && !cJSON_IsObject(root)) {
		err_set(e, "expected a JSON object");
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

const struct cJSON *pmj_member(const struct cJSON *obj, const char *key, struct err *e)
{
	if (!cJSON_IsObject(obj)) {
		err_set(e, "expected an object around '%s'", key);
		return NULL;
	}
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v)
		err_set(e, "missing field '%s'", key);
	return v;
}

static int check_range(double v, const char *what, double *out, struct err *e)
{
	if (!isfinite(v) || fabs(v) > PM_PARSE_MAX_W)
		return err_set(e, "field '%s' is out of range", what);
	*out = v;
	return 0;
}

/* Python int() of a string (one copy: core/pynum.c), then the sanity bound. */
static int int_text(const char *s, const char *what, double *out, struct err *e)
{
	long v = 0;
	int rc = pynum_int(s, strlen(s), &v);
	if (rc == PYNUM_SYNTAX)
		return err_set(e, "field '%s' is not an integer", what);
	if (rc == PYNUM_RANGE)
		return err_set(e, "field '%s' is out of range", what);
	return check_range((double)v, what, out, e);
}

int pmj_int(const struct cJSON *v, const char *what, double *out, struct err *e)
{
	if (cJSON_IsBool(v)) {
		*out = cJSON_IsTrue(v) ? 1.0 : 0.0;
		return 0;
	}
	if (cJSON_IsNumber(v)) {
		double d = 0.0;
		if (check_range(v->valuedouble, what, &d, e) < 0)
			return -1;
		*out = trunc(d);
		return 0;
	}
	if (cJSON_IsString(v) && v->valuestring)
		return int_text(v->valuestring, what, out, e);
	if (cJSON_IsNull(v))
		return err_set(e, "field '%s' is null", what);
	return err_set(e, "field '%s' is not a number", what);
}

int pmj_float_text(const char *s, size_t len, const char *what, double *out, struct err *e)
{
	double d = 0;
	if (pynum_float(s, len, &d) != PYNUM_OK)
		return err_set(e, "field '%s' is not a number", what);
	return check_range(d, what, out, e); /* inf, nan and 1e999 are out of range */
}

int pmj_float(const struct cJSON *v, const char *what, double *out, struct err *e)
{
	if (cJSON_IsBool(v)) {
		*out = cJSON_IsTrue(v) ? 1.0 : 0.0;
		return 0;
	}
	if (cJSON_IsNumber(v))
		return check_range(v->valuedouble, what, out, e);
	if (cJSON_IsString(v) && v->valuestring)
		return pmj_float_text(v->valuestring, strlen(v->valuestring), what, out, e);
	if (cJSON_IsNull(v))
		return err_set(e, "field '%s' is null", what);
	return err_set(e, "field '%s' is not a number", what);
}

int pmj_urlencode(const char *in, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	if (!cap)
		return -1;
	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		char tmp[3];
		size_t n;
		if (isalnum(*p) || *p == '_' || *p == '.' || *p == '-' || *p == '~') {
			tmp[0] = (char)*p;
			n = 1;
		} else if (*p == ' ') {
			tmp[0] = '+';
			n = 1;
		} else {
			tmp[0] = '%';
			tmp[1] = hex[*p >> 4];
			tmp[2] = hex[*p & 15];
			n = 3;
		}
		if (o + n >= cap) {
			out[o] = '\0';
			return -1;
		}
		memcpy(out + o, tmp, n);
		o += n;
	}
	out[o] = '\0';
	return 0;
}
