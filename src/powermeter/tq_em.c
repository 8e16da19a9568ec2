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
#include "powermeter/pmhttp.h"
#include <curl/curl.h>

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

int pm_tq_em_parse_data(const char *body, size_t len, struct pm_reading *out, struct err *e)
{
	cJSON *root = pmj_parse_object(body, len, e);
	if (!root)
		return -1;
	int rc = -1;
	struct pm_reading r = {0};
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

enum pm_tq_em_action pm_tq_em_sm_begin(struct pm_tq_em_sm *sm, ev_ms now)
{
	if (sm->have_session && now - sm->last_use > PM_TQ_EM_MAX_IDLE_MS)
		sm->have_session = false; /* the device forgets idle sessions */
	sm->last_use = now;
	sm->relogged = false;
	sm->pending = sm->have_session ? PM_TQ_EM_GET_DATA : PM_TQ_EM_GET_START;
	return sm->pending;
}

static enum pm_tq_em_action fail(struct pm_tq_em_sm *sm)
{
	sm->have_session = false;
	sm->pending = PM_TQ_EM_FAIL;
	return PM_TQ_EM_FAIL;
}

/* Serial from "serial", else "ieq_serial" (the first truthy one, as the reference). */
static int take_serial(struct pm_tq_em_sm *sm, const cJSON *root)
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

static enum pm_tq_em_action expired(struct pm_tq_em_sm *sm, struct err *e)
{
	if (sm->relogged) {
		err_set(e, "session rejected again right after login");
		return fail(sm);
	}
	sm->relogged = true;
	sm->have_session = false;
	sm->pending = PM_TQ_EM_GET_START;
	return sm->pending;
}

enum pm_tq_em_action pm_tq_em_sm_step(struct pm_tq_em_sm *sm, long status, const char *body,
                                      size_t len, struct pm_reading *out, struct err *e)
{
	static const char *const what[] = {"GET /start.php", "login POST /start.php",
	                                   "GET /mum-webservice/data.php"};
	if (sm->pending > PM_TQ_EM_GET_DATA) {
		err_set(e, "no request pending");
		return fail(sm);
	}
	if (sm->pending == PM_TQ_EM_GET_DATA && (status == 401 || status == 403))
		return expired(sm, e);
	if (status < 200 || status > 299) {
		if (status == 0)
			err_set(e, "%s: no response", what[sm->pending]);
		else
			err_set(e, "%s: HTTP %ld", what[sm->pending], status);
		return fail(sm);
	}
	if (sm->pending == PM_TQ_EM_GET_DATA) {
		int rc = pm_tq_em_parse_data(body, len, out, e);
		if (rc == 1)
			return expired(sm, e);
		if (rc < 0)
			return fail(sm);
		sm->pending = PM_TQ_EM_DONE;
		return PM_TQ_EM_DONE;
	}
	cJSON *root = pmj_parse(body, len, e);
	if (!root)
		return fail(sm);
	bool authed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "authentication"));
	enum pm_tq_em_action next;
	if (sm->pending == PM_TQ_EM_GET_START) {
		if (!cJSON_IsObject(root) || take_serial(sm, root) < 0) {
			err_set(e, "serial number missing in /start.php response");
			next = fail(sm);
		} else {
			next = authed ? PM_TQ_EM_GET_DATA : PM_TQ_EM_POST_LOGIN;
			sm->have_session = authed;
		}
	} else if (!authed) {
		err_set(e, "authentication failed (check PASSWORD)");
		next = fail(sm);
	} else {
		sm->have_session = true;
		next = PM_TQ_EM_GET_DATA;
	}
	cJSON_Delete(root);
	if (next != PM_TQ_EM_FAIL)
		sm->pending = next;
	return next;
}

int pm_tq_em_login_form(const struct pm_tq_em_sm *sm, const char *password, char *out, size_t cap)
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

/* ---- driver ---- */

struct tq_priv {
	struct http_req *req;
	char base[300];
	const char *password;
	long timeout_ms;
	struct pm_tq_em_sm sm;
};

static void tq_done(struct http_req *r, const struct http_result *res, void *arg);

/* Issues the request the state machine asks for. 0/-1. */
static int tq_issue(struct pm_meter *m, struct tq_priv *p, enum pm_tq_em_action a)
{
	char url[400], form[1024];
	const char *path = a == PM_TQ_EM_GET_DATA ? "/mum-webservice/data.php" : "/start.php";
	snprintf(url, sizeof(url), "%s%s", p->base, path);
	if (http_req_set_url(p->req, url) != 0)
		return -1;
	if (a == PM_TQ_EM_POST_LOGIN) {
		if (pm_tq_em_login_form(&p->sm, p->password, form, sizeof(form)) != 0 ||
		    http_req_set_post(p->req, form, strlen(form),
		                      "application/x-www-form-urlencoded") != 0)
			return -1;
	} else if (http_req_set_post(p->req, NULL, 0, NULL) != 0) {
		return -1;
	}
	return http_req_start(p->req, tq_done, m);
}

static void tq_done(struct http_req *r, const struct http_result *res, void *arg)
{
	(void)r;
	struct pm_meter *m = arg;
	struct tq_priv *p = m->priv;
	if (!res->ok) {
		p->sm.have_session = false;
		pm_meter_fail(m, "%s", res->error);
		return;
	}
	struct pm_reading rd = {0};
	struct err e = {{0}};
	enum pm_tq_em_action a =
	        pm_tq_em_sm_step(&p->sm, res->status, res->body, res->len, &rd, &e);
	if (a == PM_TQ_EM_DONE) {
		pm_meter_publish(m, &rd);
		return;
	}
	if (a == PM_TQ_EM_FAIL) {
		pm_meter_fail(m, "%s", e.msg);
		return;
	}
	if (tq_issue(m, p, a) != 0)
		pm_meter_fail(m, "could not start the next request");
}

static int tq_configure(struct pm_meter *m, struct cfg_section *sec, struct err *e)
{
	struct tq_priv *p = m->priv;
	const char *ip;
	double timeout;
	if (pmhttp_need(sec, "ip", &ip, e) != 0 ||
	    cfg_get_str(sec, "password", "", &p->password, e) != 0 ||
	    cfg_get_double(sec, "timeout", 5.0, 0.1, 600, &timeout, e) != 0)
		return -1;
	size_t n = strlen(ip);
	while (n && ip[n - 1] == '/')
		n--;
	if (n + 8 >= sizeof(p->base))
		return err_set(e, "[%s] IP: too long", sec->name);
	snprintf(p->base, sizeof(p->base), "http://%.*s", (int)n, ip);
	p->timeout_ms = (long)(timeout * 1000);
	return 0;
}

static int tq_start(struct pm_meter *m, struct err *e)
{
	struct tq_priv *p = m->priv;
	if (p->req)
		return 0;
	if (!m->ctx || !m->ctx->http || !(p->req = http_req_new(m->ctx->http)))
		return err_set(e, "[%s] could not set up the HTTP request", m->name);
	/* The reference sets only a total timeout (TIMEOUT, 5 s). */
	http_req_set_timeouts(p->req, p->timeout_ms, p->timeout_ms);
	/* The session lives in a cookie: enable curl's in-memory cookie engine. */
	CURL *easy = http_req_easy(p->req);
	if (!easy || curl_easy_setopt(easy, CURLOPT_COOKIEFILE, "") != CURLE_OK) {
		http_req_free(p->req);
		p->req = NULL;
		return err_set(e, "[%s] could not enable cookies", m->name);
	}
	return 0;
}

static void tq_stop(struct pm_meter *m)
{
	struct tq_priv *p = m->priv;
	if (!p)
		return;
	http_req_free(p->req);
	p->req = NULL;
	p->sm.have_session = false;
}

static int tq_poll(struct pm_meter *m, ev_ms now)
{
	struct tq_priv *p = m->priv;
	if (!p->req)
		return -1;
	http_req_cancel(p->req);
	return tq_issue(m, p, pm_tq_em_sm_begin(&p->sm, now));
}

const struct pm_driver pm_tq_em_driver = {
        .name = "TQ_EM",
        .priv_size = sizeof(struct tq_priv),
        .configure = tq_configure,
        .start = tq_start,
        .stop = tq_stop,
        .poll = tq_poll,
        .keys = "IP PASSWORD TIMEOUT",
};
