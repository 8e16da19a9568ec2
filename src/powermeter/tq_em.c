/* SPDX-License-Identifier: GPL-3.0-or-later */
/* TQ_EM powermeter (TQ Energy Manager EM 300/420): a session-cookie login on /start.php
 * (serial number as login name, optional password), then /mum-webservice/data.php with
 * OBIS-named power values. The flow is a pure state machine (tq_em_sm_*) that the driver
 * drives with real HTTP requests; tests drive it with recorded answers. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "astrameter/pm_parsers.h"

static const char *const tq_phase_keys[6] = {
        "1-0:21.4.0*255", "1-0:22.4.0*255", /* L1 import, export */
        "1-0:41.4.0*255", "1-0:42.4.0*255", /* L2 */
        "1-0:61.4.0*255", "1-0:62.4.0*255", /* L3 */
};
static const char *const tq_total_keys[2] = {"1-0:1.4.0*255", "1-0:2.4.0*255"};

static int get_or_zero(const cJSON *obj, const char *key, double *out, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	*out = 0;
	return v ? pmj_float(v, key, out, e) : 0;
}

int tq_em_parse_data(const char *body, size_t len, struct pm_reading *out, struct err *e)
{
	cJSON *root = pmj_parse(body, len, e);
	if (!root)
		return -1;
	int rc = -1;
	struct pm_reading r = {0};
	if (!cJSON_IsObject(root)) {
		err_set(e, "expected a JSON object");
		goto done;
	}
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "status");
	double status = 0;
	if (st && pmj_float(st, "status", &status, e) < 0)
		goto done;
	if (status >= 900) {
		rc = 1;
		goto done;
	}
	bool phases = false, total = false;
	for (int i = 0; i < 6; i++)
		phases = phases || cJSON_GetObjectItemCaseSensitive(root, tq_phase_keys[i]);
	for (int i = 0; i < 2; i++)
		total = total || cJSON_GetObjectItemCaseSensitive(root, tq_total_keys[i]);
	if (phases) {
		for (int i = 0; i < 3; i++) {
			double in, ex;
			if (get_or_zero(root, tq_phase_keys[2 * i], &in, e) < 0 ||
			    get_or_zero(root, tq_phase_keys[2 * i + 1], &ex, e) < 0)
				goto done;
			r.w[i] = in - ex;
		}
		r.n = 3;
	} else if (total) {
		double in, ex;
		if (get_or_zero(root, tq_total_keys[0], &in, e) < 0 ||
		    get_or_zero(root, tq_total_keys[1], &ex, e) < 0)
			goto done;
		r.w[0] = in - ex;
		r.n = 1;
	} else {
		err_set(e, "required OBIS values missing in payload");
		goto done;
	}
	*out = r;
	rc = 0;
done:
	cJSON_Delete(root);
	return rc;
}

enum tq_em_action tq_em_sm_begin(struct tq_em_sm *sm, ev_ms now)
{
	if (sm->have_session && now - sm->last_use > TQ_EM_MAX_IDLE_MS)
		sm->have_session = false; /* the device forgets idle sessions */
	sm->last_use = now;
	sm->relogged = false;
	sm->pending = sm->have_session ? TQ_EM_GET_DATA : TQ_EM_GET_START;
	return sm->pending;
}

static enum tq_em_action fail(struct tq_em_sm *sm)
{
	sm->have_session = false;
	sm->pending = TQ_EM_FAIL;
	return TQ_EM_FAIL;
}

/* Serial from "serial", else "ieq_serial" (the first truthy one, as the reference). */
static int take_serial(struct tq_em_sm *sm, const cJSON *root)
{
	static const char *const keys[2] = {"serial", "ieq_serial"};
	for (int i = 0; i < 2; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, keys[i]);
		int n = -1;
		if (cJSON_IsString(v) && v->valuestring[0])
			n = snprintf(sm->serial, sizeof(sm->serial), "%s", v->valuestring);
		else if (cJSON_IsNumber(v) && v->valuedouble != 0 && isfinite(v->valuedouble) &&
		         fabs(v->valuedouble) < 1e15)
			n = snprintf(sm->serial, sizeof(sm->serial), "%.0f", v->valuedouble);
		if (n > 0 && (size_t)n < sizeof(sm->serial))
			return 0;
	}
	return -1;
}

static enum tq_em_action expired(struct tq_em_sm *sm, struct err *e)
{
	if (sm->relogged) {
		err_set(e, "session rejected again right after login");
		return fail(sm);
	}
	sm->relogged = true;
	sm->have_session = false;
	sm->pending = TQ_EM_GET_START;
	return sm->pending;
}

enum tq_em_action tq_em_sm_step(struct tq_em_sm *sm, long status, const char *body, size_t len,
                                struct pm_reading *out, struct err *e)
{
	static const char *const what[] = {"GET /start.php", "login POST /start.php",
	                                   "GET /mum-webservice/data.php"};
	if (sm->pending > TQ_EM_GET_DATA) {
		err_set(e, "no request pending");
		return fail(sm);
	}
	if (sm->pending == TQ_EM_GET_DATA && (status == 401 || status == 403))
		return expired(sm, e);
	if (status < 200 || status > 299) {
		if (status == 0)
			err_set(e, "%s: no response", what[sm->pending]);
		else
			err_set(e, "%s: HTTP %ld", what[sm->pending], status);
		return fail(sm);
	}
	if (sm->pending == TQ_EM_GET_DATA) {
		int rc = tq_em_parse_data(body, len, out, e);
		if (rc == 1)
			return expired(sm, e);
		if (rc < 0)
			return fail(sm);
		sm->pending = TQ_EM_DONE;
		return TQ_EM_DONE;
	}
	cJSON *root = pmj_parse(body, len, e);
	if (!root)
		return fail(sm);
	bool authed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "authentication"));
	enum tq_em_action next;
	if (sm->pending == TQ_EM_GET_START) {
		if (!cJSON_IsObject(root) || take_serial(sm, root) < 0) {
			err_set(e, "serial number missing in /start.php response");
			next = fail(sm);
		} else {
			next = authed ? TQ_EM_GET_DATA : TQ_EM_POST_LOGIN;
			sm->have_session = authed;
		}
	} else if (!authed) {
		err_set(e, "authentication failed (check PASSWORD)");
		next = fail(sm);
	} else {
		sm->have_session = true;
		next = TQ_EM_GET_DATA;
	}
	cJSON_Delete(root);
	if (next != TQ_EM_FAIL)
		sm->pending = next;
	return next;
}

int tq_em_login_form(const struct tq_em_sm *sm, const char *password, char *out, size_t cap)
{
	char ser[3 * sizeof(sm->serial)], pw[3 * 256];
	if (pmj_urlencode(sm->serial, ser, sizeof(ser)) < 0)
		return -1;
	int n;
	if (password && password[0]) {
		if (pmj_urlencode(password, pw, sizeof(pw)) < 0)
			return -1;
		n = snprintf(out, cap, "login=%s&save_login=1&password=%s", ser, pw);
	} else {
		n = snprintf(out, cap, "login=%s&save_login=1", ser);
	}
	return n > 0 && (size_t)n < cap ? 0 : -1;
}
