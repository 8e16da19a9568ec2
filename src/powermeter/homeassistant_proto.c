/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Home Assistant WebSocket API, pure part (contract in astrameter/pm_ha.h): entity lists
 * from the config, the decoder of server messages including subscribe_entities'
 * compressed events, the REST seed and the messages we send. Unit-tested against the
 * event streams of the reference's tests and fuzzed (fuzz_ha). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "astrameter/pm_ha.h"
#include "astrameter/pm_parsers.h"

/* Splits a comma list into trimmed items. -1 on a blank item or one too long. */
static int split_list(const char *s, char items[][HA_MAX_ID], size_t cap, size_t *n,
                      const char *key, struct err *e)
{
	*n = 0;
	if (!s)
		return 0;
	const char *p = s;
	for (;;) {
		size_t il = strcspn(p, ",");
		const char *a = p, *b = p + il;
		while (a < b && isspace((unsigned char)*a))
			a++;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		if (a == b) {
			if (*n == 0 && !p[il] && p == s)
				return 0; /* the whole value is blank: no list */
			return err_set(e, "%s: blank entity in '%s'", key, s);
		}
		if ((size_t)(b - a) >= HA_MAX_ID)
			return err_set(e, "%s: entity id too long", key);
		if (*n >= cap)
			return err_set(e, "%s: at most %zu entities", key, cap);
		memcpy(items[*n], a, (size_t)(b - a));
		items[*n][b - a] = '\0';
		(*n)++;
		if (!p[il])
			break;
		p += il + 1;
	}
	return 0;
}

/* Adds eid to the sorted unique id table (indices of later ids shift, so the caller maps
 * names to indices only after every insertion). */
static void add_id(struct pm_ha_model *m, const char *eid)
{
	size_t i = 0;
	while (i < m->n_ids && strcmp(m->id[i], eid) < 0)
		i++;
	if (i < m->n_ids && strcmp(m->id[i], eid) == 0)
		return;
	memmove(m->id[i + 1], m->id[i], (m->n_ids - i) * sizeof(m->id[0]));
	snprintf(m->id[i], HA_MAX_ID, "%s", eid);
	m->n_ids++;
}

int pm_ha_model_find(const struct pm_ha_model *m, const char *eid, size_t len)
{
	for (size_t i = 0; i < m->n_ids; i++)
		if (strlen(m->id[i]) == len && memcmp(m->id[i], eid, len) == 0)
			return (int)i;
	return -1;
}

int pm_ha_model_init(struct pm_ha_model *m, const char *current, bool calculate, const char *in,
                     const char *out, struct err *e)
{
	memset(m, 0, sizeof(*m));
	m->calculate = calculate;
	/* The lists are small; keep them off the stack frame of callers anyway. */
	char(*a)[HA_MAX_ID] = calloc(PM_MAX_VALUES + 1, HA_MAX_ID);
	char(*b)[HA_MAX_ID] = calloc(PM_MAX_VALUES + 1, HA_MAX_ID);
	size_t na = 0, nb = 0;
	int rc = -1;
	if (!a || !b) {
		err_set(e, "out of memory");
		goto out;
	}
	if (!calculate) {
		if (split_list(current, a, PM_MAX_VALUES + 1, &na, "CURRENT_POWER_ENTITY", e) != 0)
			goto out;
		if (na == 0) {
			err_set(e, "CURRENT_POWER_ENTITY: required (or POWER_CALCULATE = True "
			           "with POWER_INPUT_ALIAS and POWER_OUTPUT_ALIAS)");
			goto out;
		}
	} else {
		if (split_list(in, a, PM_MAX_VALUES + 1, &na, "POWER_INPUT_ALIAS", e) != 0 ||
		    split_list(out, b, PM_MAX_VALUES + 1, &nb, "POWER_OUTPUT_ALIAS", e) != 0)
			goto out;
		if (na == 0 || nb == 0) {
			err_set(e,
			        "POWER_CALCULATE: needs POWER_INPUT_ALIAS and POWER_OUTPUT_ALIAS");
			goto out;
		}
		if (na != nb) {
			err_set(e,
			        "POWER_INPUT_ALIAS and POWER_OUTPUT_ALIAS lengths differ "
			        "(%zu and %zu)",
			        na, nb);
			goto out;
		}
	}
	if (na > PM_MAX_VALUES) {
		err_set(e, "at most %d values", PM_MAX_VALUES);
		goto out;
	}
	for (size_t k = 0; k < na; k++)
		add_id(m, a[k]);
	for (size_t k = 0; k < nb; k++)
		add_id(m, b[k]);
	m->n = na;
	for (size_t k = 0; k < na; k++) {
		m->a[k] = (size_t)pm_ha_model_find(m, a[k], strlen(a[k]));
		if (calculate)
			m->b[k] = (size_t)pm_ha_model_find(m, b[k], strlen(b[k]));
	}
	rc = 0;
out:
	free(a);
	free(b);
	return rc;
}

void pm_ha_model_invalidate(struct pm_ha_model *m)
{
	for (size_t i = 0; i < m->n_ids; i++) {
		m->valid[i] = false;
		m->val[i] = 0;
	}
}

int pm_ha_model_values(const struct pm_ha_model *m, struct pm_reading *out, const char **missing)
{
	struct pm_reading r;
	memset(&r, 0, sizeof(r));
	for (size_t k = 0; k < m->n; k++) {
		if (!m->valid[m->a[k]]) {
			*missing = m->id[m->a[k]];
			return -1;
		}
		if (m->calculate && !m->valid[m->b[k]]) {
			*missing = m->id[m->b[k]];
			return -1;
		}
		r.w[k] = m->val[m->a[k]] - (m->calculate ? m->val[m->b[k]] : 0.0);
	}
	r.n = (unsigned)m->n;
	*out = r;
	return 0;
}

/* Sets entity i from a state value (Python float() semantics); a missing, null or
 * non-numeric state makes it unusable. Returns true if it now has a value. */
static bool set_state(struct pm_ha_model *m, size_t i, const cJSON *st, char *why, size_t cap)
{
	double v;
	struct err e;
	if (st && pmj_float(st, "state", &v, &e) == 0) {
		m->val[i] = v;
		m->valid[i] = true;
		return true;
	}
	m->valid[i] = false;
	if (why) {
		/* The message is only a log line: a truncated one is fine. */
		int n;
		if (cJSON_IsString(st) && st->valuestring)
			n = snprintf(why, cap, "%.100s state '%.40s' is not numeric", m->id[i],
			             st->valuestring);
		else
			n = snprintf(why, cap, "%.100s has no numeric state", m->id[i]);
		if (n < 0 && cap)
			why[0] = '\0';
	}
	return false;
}

static void apply_event(struct pm_ha_model *m, const cJSON *ev, struct pm_ha_msg_info *info)
{
	const cJSON *add = cJSON_GetObjectItemCaseSensitive(ev, "a");
	if (cJSON_IsObject(add)) {
		for (const cJSON *it = add->child; it; it = it->next) {
			if (!it->string || !cJSON_IsObject(it))
				continue;
			int i = pm_ha_model_find(m, it->string, strlen(it->string));
			const cJSON *s = cJSON_GetObjectItemCaseSensitive(it, "s");
			if (i < 0 || !s)
				continue;
			info->updates++;
			if (set_state(m, (size_t)i, s, info->why, sizeof(info->why)))
				info->fresh = true;
			else
				info->invalidated = true;
		}
	}
	const cJSON *chg = cJSON_GetObjectItemCaseSensitive(ev, "c");
	if (cJSON_IsObject(chg)) {
		for (const cJSON *it = chg->child; it; it = it->next) {
			if (!it->string || !cJSON_IsObject(it))
				continue;
			int i = pm_ha_model_find(m, it->string, strlen(it->string));
			if (i < 0)
				continue;
			const cJSON *plus = cJSON_GetObjectItemCaseSensitive(it, "+");
			if (!cJSON_IsObject(plus))
				continue;
			const cJSON *s = cJSON_GetObjectItemCaseSensitive(plus, "s");
			if (s) {
				info->updates++;
				if (set_state(m, (size_t)i, s, info->why, sizeof(info->why)))
					info->fresh = true;
				else
					info->invalidated = true;
			} else if ((cJSON_GetObjectItemCaseSensitive(plus, "lu") ||
			            cJSON_GetObjectItemCaseSensitive(plus, "lc")) &&
			           m->valid[i]) {
				/* Re-reported with the same value: the sensor is alive. */
				info->updates++;
				info->fresh = true;
			}
		}
	}
	const cJSON *rem = cJSON_GetObjectItemCaseSensitive(ev, "r");
	if (cJSON_IsArray(rem)) {
		for (const cJSON *it = rem->child; it; it = it->next) {
			if (!cJSON_IsString(it) || !it->valuestring)
				continue;
			int i = pm_ha_model_find(m, it->valuestring, strlen(it->valuestring));
			if (i < 0)
				continue;
			info->updates++;
			m->valid[i] = false;
			info->invalidated = true;
			snprintf(info->why, sizeof(info->why), "%.100s was removed", m->id[i]);
		}
	}
}

static void copy_str(char *dst, size_t cap, const cJSON *v)
{
	if (cJSON_IsString(v) && v->valuestring)
		snprintf(dst, cap, "%s", v->valuestring);
}

enum pm_ha_msg_type pm_ha_handle_message(struct pm_ha_model *m, const char *msg, size_t len,
                                         struct pm_ha_msg_info *info)
{
	memset(info, 0, sizeof(*info));
	info->id = -1;
	cJSON *root = cJSON_ParseWithLength(msg, len);
	if (!root)
		return HA_MSG_BAD;
	enum pm_ha_msg_type t = HA_MSG_OTHER;
	if (!cJSON_IsObject(root)) {
		t = HA_MSG_BAD;
		goto out;
	}
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
	if (cJSON_IsNumber(id) && id->valuedouble >= 0 && id->valuedouble < 2e9)
		info->id = (long)id->valuedouble;
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
	if (!cJSON_IsString(type) || !type->valuestring)
		goto out;
	const char *ts = type->valuestring;
	if (strcmp(ts, "auth_required") == 0) {
		t = HA_MSG_AUTH_REQUIRED;
	} else if (strcmp(ts, "auth_ok") == 0) {
		t = HA_MSG_AUTH_OK;
	} else if (strcmp(ts, "auth_invalid") == 0) {
		t = HA_MSG_AUTH_INVALID;
		copy_str(info->message, sizeof(info->message),
		         cJSON_GetObjectItemCaseSensitive(root, "message"));
	} else if (strcmp(ts, "result") == 0) {
		t = HA_MSG_RESULT;
		info->success = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "success"));
		const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
		copy_str(info->message, sizeof(info->message),
		         cJSON_GetObjectItemCaseSensitive(err, "message"));
	} else if (strcmp(ts, "event") == 0) {
		t = HA_MSG_EVENT;
		const cJSON *ev = cJSON_GetObjectItemCaseSensitive(root, "event");
		if (cJSON_IsObject(ev))
			apply_event(m, ev, info);
	}
out:
	cJSON_Delete(root);
	return t;
}

int pm_ha_apply_seed(struct pm_ha_model *m, size_t i, const char *body, size_t len, struct err *e)
{
	if (i >= m->n_ids)
		return err_set(e, "no such entity");
	cJSON *root = pmj_parse(body, len, e);
	if (!root)
		return -1;
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return err_set(e, "state body is not an object");
	}
	int rc = 0;
	if (!m->valid[i]) {
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "state");
		rc = set_state(m, i, st, NULL, 0) ? 1 : 0;
	}
	cJSON_Delete(root);
	return rc;
}

char *pm_ha_msg_auth(const char *token)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	char *s = NULL;
	if (cJSON_AddStringToObject(o, "type", "auth") &&
	    cJSON_AddStringToObject(o, "access_token", token ? token : ""))
		s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

char *pm_ha_msg_subscribe(const struct pm_ha_model *m, long id)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	char *s = NULL;
	cJSON *ids = NULL;
	if (!cJSON_AddNumberToObject(o, "id", (double)id) ||
	    !cJSON_AddStringToObject(o, "type", "subscribe_entities"))
		goto out;
	ids = cJSON_AddArrayToObject(o, "entity_ids");
	if (!ids)
		goto out;
	for (size_t i = 0; i < m->n_ids; i++) {
		cJSON *it = cJSON_CreateString(m->id[i]);
		if (!it || !cJSON_AddItemToArray(ids, it)) {
			cJSON_Delete(it);
			goto out;
		}
	}
	s = cJSON_PrintUnformatted(o);
out:
	cJSON_Delete(o);
	return s;
}
