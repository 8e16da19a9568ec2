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
#include "powermeter/pmhttp.h"

int pm_envoy_parse(const char *body, size_t len, struct pm_reading *out, struct err *e)
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

int pm_envoy_parse_login(const char *body, size_t len, char *session_id, size_t cap, struct err *e)
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

int pm_envoy_check_jwt(const char *body, size_t len, char *token, size_t cap, struct err *e)
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

/* ---- driver ---- */

#define ENVOY_LOGIN_URL  "https://enlighten.enphaseenergy.com/login/login.json"
#define ENVOY_TOKENS_URL "https://entrez.enphaseenergy.com/tokens"
#define ENVOY_TIMEOUT_MS 10000L

enum envoy_step { ENVOY_LOGIN, ENVOY_TOKENS, ENVOY_PROD };

struct envoy_priv {
	struct http_req *local, *cloud;
	char url[400];
	const char *user, *password, *serial;
	bool has_credentials, verify, refreshed;
	enum envoy_step step;
	char session_id[256];
	char token[4096];
};

static void envoy_done(struct http_req *r, const struct http_result *res, void *arg);

static int envoy_prod(struct pm_meter *m, struct envoy_priv *p)
{
	char hdr[4200];
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", p->token);
	http_req_clear_headers(p->local);
	if (http_req_add_header(p->local, hdr) != 0)
		return -1;
	p->step = ENVOY_PROD;
	return http_req_start(p->local, envoy_done, m);
}

static int envoy_login(struct pm_meter *m, struct envoy_priv *p)
{
	char u[400], pw[400], form[900];
	if (pmj_urlencode(p->user, u, sizeof(u)) != 0 ||
	    pmj_urlencode(p->password, pw, sizeof(pw)) != 0)
		return -1;
	snprintf(form, sizeof(form), "user%%5Bemail%%5D=%s&user%%5Bpassword%%5D=%s", u, pw);
	if (http_req_set_url(p->cloud, ENVOY_LOGIN_URL) != 0 ||
	    http_req_set_post(p->cloud, form, strlen(form), "application/x-www-form-urlencoded") !=
	            0)
		return -1;
	p->step = ENVOY_LOGIN;
	return http_req_start(p->cloud, envoy_done, m);
}

static int envoy_tokens(struct pm_meter *m, struct envoy_priv *p)
{
	cJSON *o = cJSON_CreateObject();
	char *body = NULL;
	int rc = -1;
	if (o && cJSON_AddStringToObject(o, "session_id", p->session_id) &&
	    cJSON_AddStringToObject(o, "serial_num", p->serial) &&
	    cJSON_AddStringToObject(o, "username", p->user))
		body = cJSON_PrintUnformatted(o);
	if (body && http_req_set_url(p->cloud, ENVOY_TOKENS_URL) == 0 &&
	    http_req_set_post(p->cloud, body, strlen(body), "application/json") == 0) {
		p->step = ENVOY_TOKENS;
		rc = http_req_start(p->cloud, envoy_done, m);
	}
	cJSON_free(body);
	cJSON_Delete(o);
	return rc;
}

/* 0 when the next request runs or the poll ended; -1 if the next request failed to start. */
static int envoy_step(struct pm_meter *m, struct envoy_priv *p, const struct http_result *res)
{
	struct err e = {{0}};
	static const char *const what[] = {"Enlighten login", "entrez token", "production.json"};
	if (p->step == ENVOY_PROD && res->status == 401 && p->has_credentials && !p->refreshed) {
		log_info(m->name, "token rejected (401), refreshing");
		p->refreshed = true;
		p->token[0] = '\0';
		return envoy_login(m, p);
	}
	if (res->status < 200 || res->status > 299) {
		pm_meter_fail(m, "%s: HTTP %ld", what[p->step], res->status);
		return 0;
	}
	switch (p->step) {
	case ENVOY_LOGIN:
		if (pm_envoy_parse_login(res->body, res->len, p->session_id, sizeof(p->session_id),
		                         &e) != 0) {
			pm_meter_fail(m, "%s", e.msg);
			return 0;
		}
		return envoy_tokens(m, p);
	case ENVOY_TOKENS:
		if (pm_envoy_check_jwt(res->body, res->len, p->token, sizeof(p->token), &e) != 0) {
			pm_meter_fail(m, "%s", e.msg);
			return 0;
		}
		log_info(m->name, "obtained a new JWT token from the Enlighten cloud");
		return envoy_prod(m, p);
	case ENVOY_PROD: {
		struct pm_reading rd = {0};
		if (pm_envoy_parse(res->body, res->len, &rd, &e) != 0) {
			pm_meter_fail(m, "%s", e.msg);
			return 0;
		}
		pm_meter_publish(m, &rd);
		return 0;
	}
	}
	return -1;
}

static void envoy_done(struct http_req *r, const struct http_result *res, void *arg)
{
	(void)r;
	struct pm_meter *m = arg;
	struct envoy_priv *p = m->priv;
	if (!res->ok) {
		pm_meter_fail(m, "%s", res->error);
		return;
	}
	if (envoy_step(m, p, res) != 0)
		pm_meter_fail(m, "could not start the next request");
}

static int envoy_configure(struct pm_meter *m, struct cfg_section *sec, struct err *e)
{
	struct envoy_priv *p = m->priv;
	const char *host, *token;
	if (cfg_get_str(sec, "host", "", &host, e) != 0 ||
	    cfg_get_str(sec, "token", "", &token, e) != 0 ||
	    cfg_get_str(sec, "username", "", &p->user, e) != 0 ||
	    cfg_get_str(sec, "password", "", &p->password, e) != 0 ||
	    cfg_get_str(sec, "serial", "", &p->serial, e) != 0 ||
	    cfg_get_bool(sec, "verify_ssl", false, &p->verify, e) != 0)
		return -1;
	if (!host[0])
		return err_set(e, "[%s] HOST: required", sec->name);
	p->has_credentials = p->user[0] && p->password[0] && p->serial[0];
	if (!token[0] && !p->has_credentials)
		return err_set(e, "[%s] provide either TOKEN or USERNAME/PASSWORD/SERIAL",
		               sec->name);
	if (snprintf(p->token, sizeof(p->token), "%s", token) >= (int)sizeof(p->token))
		return err_set(e, "[%s] TOKEN: too long", sec->name);
	int n = snprintf(p->url, sizeof(p->url), "https://%s/production.json?details=1", host);
	if (n < 0 || (size_t)n >= sizeof(p->url))
		return err_set(e, "[%s] HOST: too long", sec->name);
	if (!p->verify)
		log_warnx(m->name, "TLS certificate verification is disabled for the local "
		                   "Envoy (VERIFY_SSL=False); use only on a trusted LAN. Enphase "
		                   "Enlighten cloud requests always verify.");
	return 0;
}

static void envoy_stop(struct pm_meter *m)
{
	struct envoy_priv *p = m->priv;
	if (!p)
		return;
	http_req_free(p->local);
	http_req_free(p->cloud);
	p->local = p->cloud = NULL;
}

static int envoy_start(struct pm_meter *m, struct err *e)
{
	struct envoy_priv *p = m->priv;
	if (p->local)
		return 0;
	if (!m->ctx || !m->ctx->http || !(p->local = http_req_new(m->ctx->http)) ||
	    !(p->cloud = http_req_new(m->ctx->http)) || http_req_set_url(p->local, p->url) != 0) {
		envoy_stop(m);
		return err_set(e, "[%s] could not set up the HTTP requests", m->name);
	}
	http_req_set_timeouts(p->local, ENVOY_TIMEOUT_MS, ENVOY_TIMEOUT_MS);
	http_req_set_timeouts(p->cloud, ENVOY_TIMEOUT_MS, ENVOY_TIMEOUT_MS);
	/* Only the local gateway may skip verification (self-signed certificate). */
	http_req_set_verify_tls(p->local, p->verify);
	http_req_set_verify_tls(p->cloud, true);
	return 0;
}

static int envoy_poll(struct pm_meter *m, ev_ms now)
{
	(void)now;
	struct envoy_priv *p = m->priv;
	if (!p->local)
		return -1;
	http_req_cancel(p->local);
	http_req_cancel(p->cloud);
	p->refreshed = false;
	if (!p->token[0]) {
		p->refreshed = true; /* a fresh token is not refreshed again on 401 */
		return envoy_login(m, p);
	}
	return envoy_prod(m, p);
}

const struct pm_driver pm_envoy_driver = {
        .name = "ENVOY",
        .priv_size = sizeof(struct envoy_priv),
        .configure = envoy_configure,
        .start = envoy_start,
        .stop = envoy_stop,
        .poll = envoy_poll,
        .keys = "HOST TOKEN USERNAME PASSWORD SERIAL VERIFY_SSL",
};
