/* SPDX-License-Identifier: GPL-3.0-or-later */
/* HOMEASSISTANT powermeter: a push source on Home Assistant's WebSocket API.
 *
 * ws(s)://IP:PORT{API_PATH_PREFIX}/api/websocket: on auth_required we send the token; on
 * auth_ok we subscribe_entities to the tracked ids (sorted) and seed each entity that has
 * no value yet with a REST GET /api/states/<eid> (Bearer token), because HA sends no
 * initial snapshot for an entity that is not loaded yet. Every event that leaves all
 * needed entities usable publishes a reading (also a lu/lc-only re-report of an unchanged
 * value, so a parked battery request is answered by a constant sensor too); a
 * non-numeric state or a removal fails the meter (hold answer) until a number comes.
 * The connection pings after 30 s of silence and is dropped if nothing answers; after a
 * disconnect every value is forgotten (a reading from before the gap must not be served
 * as current) and we reconnect 5 s later. With IP = supervisor (the add-on) the token is
 * SUPERVISOR_TOKEN, read again on every connect because the Supervisor rotates it. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrameter/http.h"
#include "astrameter/pm_ha.h"
#include "astrameter/powermeter.h"
#include "astrameter/ws.h"

#define HA_RECONNECT_MS 5000
#define HA_HEARTBEAT_MS 30000

struct ha {
	struct pm_meter *m;
	struct pm_ha_model model;
	char host[256];
	uint16_t port; /* 0 = the scheme's default */
	bool https, supervisor;
	char prefix[256];
	const char *token; /* ACCESSTOKEN (owned by the config) */

	struct ws_conn *ws;
	uint64_t retry_timer;
	long msg_id, sub_id;
	bool stopped;

	struct http_req *req; /* REST seed, one entity at a time */
	size_t seed_next;
};

static const char *ha_token(const struct ha *h)
{
	if (h->supervisor) {
		const char *t = getenv("SUPERVISOR_TOKEN");
		return t ? t : "";
	}
	return h->token ? h->token : "";
}

/* Frees a message that may hold the token, wiping it first. */
static void free_secret(char *s)
{
	if (!s)
		return;
	volatile char *p = s;
	while (*p)
		*p++ = '\0';
	free(s);
}

/* "" counts as absent, as the reference's docs promise ("if empty False is Fallback"). */
static const char *value_or_null(struct cfg_section *sec, const char *key)
{
	const char *v = cfg_get(sec, key);
	return v && *v ? v : NULL;
}

static int ha_configure(struct pm_meter *m, struct cfg_section *sec, struct err *e)
{
	struct ha *h = m->priv;
	h->m = m;
	const char *ip = value_or_null(sec, "ip");
	if (!ip)
		return err_set(e, "[%s] IP: required (host name, address, or 'supervisor')",
		               sec->name);
	if (strlen(ip) >= sizeof(h->host))
		return err_set(e, "[%s] IP: too long", sec->name);
	snprintf(h->host, sizeof(h->host), "%s", ip);
	h->supervisor = strcmp(ip, "supervisor") == 0;
	if (value_or_null(sec, "https") && cfg_get_bool(sec, "https", false, &h->https, e) != 0)
		return -1;
	long port = 0;
	if (value_or_null(sec, "port") && cfg_get_int(sec, "port", 0, 1, 65535, &port, e) != 0)
		return -1;
	if (port == 0 && h->supervisor)
		port = 80; /* what the add-on's run.sh writes */
	h->port = (uint16_t)port;
	const char *prefix = cfg_get(sec, "api_path_prefix");
	if (!prefix && h->supervisor)
		prefix = "/core";
	if (prefix && *prefix) {
		/* Normalise to "/x" without a trailing slash. */
		size_t n = strlen(prefix);
		while (n && prefix[n - 1] == '/')
			n--;
		if (n + 2 >= sizeof(h->prefix))
			return err_set(e, "[%s] API_PATH_PREFIX: too long", sec->name);
		snprintf(h->prefix, sizeof(h->prefix), "%s%.*s", prefix[0] == '/' ? "" : "/",
		         (int)n, prefix);
		for (const char *p = h->prefix; *p; p++)
			if (isspace((unsigned char)*p) || *p == '?' || *p == '#')
				return err_set(e, "[%s] API_PATH_PREFIX: bad path '%s'", sec->name,
				               prefix);
	}
	if (cfg_get_str(sec, "accesstoken", NULL, &h->token, e) != 0)
		return -1;
	if (!h->supervisor && (!h->token || !*h->token))
		return err_set(e, "[%s] ACCESSTOKEN: required (a long-lived access token)",
		               sec->name);
	bool calc = false;
	if (value_or_null(sec, "power_calculate") &&
	    cfg_get_bool(sec, "power_calculate", false, &calc, e) != 0)
		return -1;
	struct err me;
	if (pm_ha_model_init(&h->model, cfg_get(sec, "current_power_entity"), calc,
	                     cfg_get(sec, "power_input_alias"), cfg_get(sec, "power_output_alias"),
	                     &me) != 0)
		return err_set(e, "[%s] %s", sec->name, me.msg);
	return 0;
}

static void ha_connect(struct ha *h);

static ev_ms retry_cb(struct ev_loop *loop, void *arg)
{
	(void)loop;
	struct ha *h = arg;
	h->retry_timer = 0;
	ha_connect(h);
	return EV_STOP;
}

static void schedule_reconnect(struct ha *h)
{
	if (h->stopped || h->retry_timer)
		return;
	h->retry_timer = ev_timer_add(h->m->ctx->loop, HA_RECONNECT_MS, retry_cb, h);
}

/* Connection lost or refused: forget values (they are from before the gap), cancel the
 * seed, fail waiting requests, try again later. */
static void ha_disconnected(struct ha *h, const char *why)
{
	ws_free(h->ws);
	h->ws = NULL;
	h->sub_id = -1;
	h->msg_id = 0;
	if (h->req)
		http_req_cancel(h->req);
	pm_ha_model_invalidate(&h->model);
	pm_meter_fail(h->m, "Home Assistant connection: %s", why);
	schedule_reconnect(h);
}

static void send_json(struct ha *h, char *msg, bool secret)
{
	if (!msg) {
		log_error(h->m->name, "out of memory building a message");
		return;
	}
	if (ws_send_text(h->ws, msg, strlen(msg)) != 0)
		log_warnx(h->m->name, "could not queue a WebSocket message");
	if (secret)
		free_secret(msg);
	else
		free(msg);
}

/* Publishes if every entity has a value; fails on an explicit invalidation. */
static void evaluate(struct ha *h, bool fresh, bool invalidated, const char *why)
{
	struct pm_reading r;
	const char *missing;
	if (pm_ha_model_values(&h->model, &r, &missing) == 0) {
		if (fresh || invalidated)
			pm_meter_publish(h->m, &r);
		return;
	}
	if (invalidated)
		pm_meter_fail(h->m, "%s", why && *why ? why : "an entity has no state");
	else if (fresh)
		log_debug(h->m->name, "waiting for a state of %s", missing);
}

/* ---- REST seed ---- */

static void seed_next(struct ha *h);

static void seed_done(struct http_req *r, const struct http_result *res, void *arg)
{
	(void)r;
	struct ha *h = arg;
	size_t i = h->seed_next;
	if (i >= h->model.n_ids)
		return;
	const char *eid = h->model.id[i];
	h->seed_next++;
	if (!res->ok) {
		log_debug(h->m->name, "REST state of %s: %s", eid, res->error);
	} else if (res->status != 200) {
		log_debug(h->m->name, "REST state of %s: HTTP %ld", eid, res->status);
	} else {
		struct err e;
		int rc = pm_ha_apply_seed(&h->model, i, res->body, res->len, &e);
		if (rc < 0)
			log_debug(h->m->name, "REST state of %s: %s", eid, e.msg);
		else if (rc == 1)
			evaluate(h, true, false, NULL);
		else if (!h->model.valid[i])
			log_warnx(h->m->name, "sensor %s has no numeric state", eid);
	}
	seed_next(h);
}

static void seed_next(struct ha *h)
{
	while (h->seed_next < h->model.n_ids && h->model.valid[h->seed_next])
		h->seed_next++;
	if (h->seed_next >= h->model.n_ids || !h->req)
		return;
	const char *eid = h->model.id[h->seed_next];
	char url[2048], esc[3 * HA_MAX_ID + 1];
	size_t o = 0;
	/* Entity ids are [a-z0-9_.]; escape anything else rather than trust the config. */
	for (const unsigned char *p = (const unsigned char *)eid; *p && o + 4 < sizeof(esc); p++) {
		if (isalnum(*p) || *p == '_' || *p == '.' || *p == '-')
			esc[o++] = (char)*p;
		else
			o += (size_t)snprintf(esc + o, sizeof(esc) - o, "%%%02X", *p);
	}
	esc[o] = '\0';
	bool v6 = strchr(h->host, ':') != NULL;
	char port[8] = "";
	if (h->port)
		snprintf(port, sizeof(port), ":%u", h->port);
	snprintf(url, sizeof(url), "%s://%s%s%s%s%s/api/states/%s", h->https ? "https" : "http",
	         v6 ? "[" : "", h->host, v6 ? "]" : "", port, h->prefix, esc);
	char auth[2048];
	int n = snprintf(auth, sizeof(auth), "Authorization: Bearer %s", ha_token(h));
	http_req_cancel(h->req);
	http_req_clear_headers(h->req);
	bool ok = n > 0 && (size_t)n < sizeof(auth) && http_req_set_url(h->req, url) == 0 &&
	          http_req_add_header(h->req, auth) == 0 &&
	          http_req_start(h->req, seed_done, h) == 0;
	memset(auth, 0, sizeof(auth));
	if (!ok)
		log_debug(h->m->name, "could not start the REST state read of %s", eid);
}

/* ---- WebSocket ---- */

static void on_open(struct ws_conn *c, void *arg)
{
	(void)c;
	struct ha *h = arg;
	log_info(h->m->name, "Home Assistant WebSocket connected to %s", h->host);
}

static void on_text(struct ws_conn *c, const char *msg, size_t len, void *arg)
{
	(void)c;
	struct ha *h = arg;
	struct pm_ha_msg_info info;
	switch (pm_ha_handle_message(&h->model, msg, len, &info)) {
	case HA_MSG_AUTH_REQUIRED:
		log_debug(h->m->name, "auth required, sending token");
		send_json(h, pm_ha_msg_auth(ha_token(h)), true);
		break;
	case HA_MSG_AUTH_OK:
		log_info(h->m->name, "Home Assistant: authenticated");
		h->sub_id = ++h->msg_id;
		send_json(h, pm_ha_msg_subscribe(&h->model, h->sub_id), false);
		h->seed_next = 0;
		seed_next(h);
		break;
	case HA_MSG_AUTH_INVALID:
		pm_meter_fail(h->m, "Home Assistant auth failed: %s",
		              info.message[0] ? info.message : "token refused");
		break;
	case HA_MSG_RESULT:
		if (info.id == h->sub_id && !info.success)
			pm_meter_fail(h->m, "subscribe_entities failed: %s",
			              info.message[0] ? info.message : "no reason given");
		break;
	case HA_MSG_EVENT:
		if (info.updates)
			evaluate(h, info.fresh, info.invalidated, info.why);
		break;
	case HA_MSG_BAD:
		log_warnx(h->m->name, "cannot decode a message (%zu bytes)", len);
		break;
	case HA_MSG_OTHER:
		break;
	}
}

static void on_close(struct ws_conn *c, const char *why, void *arg)
{
	(void)c;
	struct ha *h = arg;
	log_info(h->m->name, "Home Assistant WebSocket closed: %s", why);
	ha_disconnected(h, why);
}

static void ha_connect(struct ha *h)
{
	if (h->stopped || h->ws)
		return;
	char path[300];
	snprintf(path, sizeof(path), "%s/api/websocket", h->prefix);
	struct ws_opts o = {
	        .host = h->host,
	        .port = h->port ? h->port : (h->https ? 443 : 80),
	        .path = path,
	        .tls = h->https,
	        .verify = true,
	        .ping_ms = HA_HEARTBEAT_MS,
	        .pong_ms = HA_HEARTBEAT_MS / 2,
	};
	static const struct ws_handlers hd = {on_open, on_text, on_close};
	struct err e;
	h->sub_id = -1;
	h->msg_id = 0;
	h->ws = ws_open(h->m->ctx->loop, &o, &hd, h, &e);
	if (!h->ws) {
		pm_meter_fail(h->m, "%s", e.msg);
		schedule_reconnect(h);
	}
}

static int ha_start(struct pm_meter *m, struct err *e)
{
	struct ha *h = m->priv;
	h->stopped = false;
	if (!m->ctx || !m->ctx->loop)
		return err_set(e, "[%s] no event loop", m->name);
	if (!h->req && m->ctx->http) {
		h->req = http_req_new(m->ctx->http);
		if (!h->req)
			return err_set(e, "[%s] out of memory", m->name);
	}
	ha_connect(h);
	return 0;
}

static void ha_stop(struct pm_meter *m)
{
	struct ha *h = m->priv;
	if (!h)
		return;
	h->stopped = true;
	ws_free(h->ws);
	h->ws = NULL;
	if (h->retry_timer && m->ctx && m->ctx->loop)
		ev_timer_del(m->ctx->loop, h->retry_timer);
	h->retry_timer = 0;
	http_req_free(h->req);
	h->req = NULL;
}

const struct pm_driver pm_homeassistant_driver = {
        .name = "HOMEASSISTANT",
        .priv_size = sizeof(struct ha),
        .push = true,
        .configure = ha_configure,
        .start = ha_start,
        .stop = ha_stop,
        .poll = NULL,
        .keys = "IP PORT HTTPS ACCESSTOKEN CURRENT_POWER_ENTITY POWER_CALCULATE POWER_INPUT_ALIAS "
                "POWER_OUTPUT_ALIAS API_PATH_PREFIX",
};
