/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The health endpoint (contract in astrameter/web.h). HTTP is libmicrohttpd's job, run in
 * our loop by net/httpd.c (external-loop epoll mode: MHD never blocks and never starts a
 * thread); a slow or hostile
 * client address costs at most WEB_MAX_PER_IP connection slots and WEB_CONN_MEMORY bytes
 * each until their inactivity timeout, so a couple of hosts cannot lock out the health
 * check, and can never delay a battery's UDP reply by more than one MHD_run() pass.
 *
 * The JSON body and the healthy/unhealthy verdict are pure functions of a snapshot; the
 * owner (the app) fills the snapshot from its live meters and devices on each request,
 * through a callback, so this module knows neither meters nor emulators. (`astrameter
 * --healthcheck` asks it with net/http_get.c.) */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "astrameter/httpd.h"
#include "astrameter/log.h"
#include "astrameter/web.h"

#define COMP "web"

/* --- pure part ------------------------------------------------------------------- */

bool web_meter_ok(const struct web_meter_info *m, ev_ms max_age_ms, ev_ms now)
{
	if (!m->have || m->failed)
		return false;
	return max_age_ms <= 0 || now - m->last_success <= max_age_ms;
}

bool web_health_ok(const struct web_health *h, ev_ms now)
{
	if (h->max_age_ms <= 0)
		return true;
	ev_ms newest = h->started;
	for (size_t i = 0; i < h->n_meters; i++)
		if (h->meters[i].have && h->meters[i].last_success > newest)
			newest = h->meters[i].last_success;
	return now - newest <= h->max_age_ms;
}

/* Seconds with one decimal, so the JSON does not carry clock noise. */
static double secs(ev_ms ms)
{
	return (double)(ms / 100) / 10.0;
}

char *web_health_json(const struct web_health *h, ev_ms now, bool *healthy)
{
	bool ok = web_health_ok(h, now);
	if (healthy)
		*healthy = ok;
	cJSON *root = cJSON_CreateObject();
	if (!root)
		return NULL;
	cJSON *pms = NULL, *devs = NULL;
	bool good = cJSON_AddStringToObject(root, "status", ok ? "healthy" : "unhealthy") &&
	            cJSON_AddStringToObject(root, "service", "astrameter") &&
	            cJSON_AddStringToObject(root, "version", h->version ? h->version : "");
	if (good && h->git_commit)
		good = cJSON_AddStringToObject(root, "git_commit", h->git_commit) != NULL;
	good = good &&
	       cJSON_AddNumberToObject(root, "uptime_s", (double)((now - h->boot) / 1000)) &&
	       cJSON_AddNumberToObject(root, "max_age_s", secs(h->max_age_ms)) &&
	       (pms = cJSON_AddArrayToObject(root, "powermeters")) != NULL;
	for (size_t i = 0; good && i < h->n_meters; i++) {
		const struct web_meter_info *m = &h->meters[i];
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(pms, o)) {
			cJSON_Delete(o);
			good = false;
			break;
		}
		good = cJSON_AddStringToObject(o, "name", m->name) &&
		       cJSON_AddStringToObject(o, "type", m->kind) &&
		       cJSON_AddBoolToObject(o, "ok", web_meter_ok(m, h->max_age_ms, now)) &&
		       (m->have ? cJSON_AddNumberToObject(o, "last_success_age_s",
		                                          secs(now - m->last_success)) != NULL
		                : cJSON_AddNullToObject(o, "last_success_age_s") != NULL) &&
		       cJSON_AddNumberToObject(o, "fetches", (double)m->fetches) &&
		       cJSON_AddNumberToObject(o, "failures", (double)m->failures) &&
		       (m->failed && m->error && *m->error
		                ? cJSON_AddStringToObject(o, "error", m->error) != NULL
		                : cJSON_AddNullToObject(o, "error") != NULL);
	}
	good = good && (devs = cJSON_AddArrayToObject(root, "devices")) != NULL;
	for (size_t i = 0; good && i < h->n_devices; i++) {
		const struct web_device_info *d = &h->devices[i];
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(devs, o)) {
			cJSON_Delete(o);
			good = false;
			break;
		}
		good = cJSON_AddStringToObject(o, "type", d->type) &&
		       cJSON_AddStringToObject(o, "id", d->id) &&
		       (d->consumers >= 0 ? cJSON_AddNumberToObject(o, "consumers",
		                                                    (double)d->consumers) != NULL
		                          : cJSON_AddNullToObject(o, "consumers") != NULL);
	}
	char *out = good ? cJSON_PrintUnformatted(root) : NULL;
	cJSON_Delete(root);
	return out;
}

/* --- the server ------------------------------------------------------------------ */

struct web_server {
	struct ev_loop *loop;
	struct httpd *httpd;
	struct web_opts o;
	uint16_t port;
	web_snapshot_fn *snapshot;
	void *snapshot_arg;
};

static char *render(struct web_server *w, ev_ms now, bool *healthy)
{
	struct web_health h = {.version = w->o.version,
	                       .git_commit = w->o.git_commit,
	                       .boot = w->o.boot,
	                       .started = w->o.boot,
	                       .max_age_ms = w->o.max_age_ms};
	if (w->snapshot)
		w->snapshot(w->snapshot_arg, now, &h);
	return web_health_json(&h, now, healthy);
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *body,
                               const char *allow)
{
	struct MHD_Response *r =
	        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	enum MHD_Result ok = MHD_YES;
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json") !=
	            MHD_YES ||
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache") != MHD_YES ||
	    (allow && MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow) != MHD_YES))
		ok = MHD_NO;
	if (ok == MHD_YES)
		ok = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ok;
}

static bool is_health_path(const char *url)
{
	return !strcmp(url, "/health") || !strcmp(url, "/health/") || !strcmp(url, "/api") ||
	       !strcmp(url, "/api/");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	(void)version;
	(void)upload_data;
	struct web_server *w = cls;
	/* A body (POST/PUT) is never wanted: discard what arrives, answer on the first call. */
	if (*con_cls) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	*con_cls = w;
	if (!is_health_path(url))
		return respond(c, MHD_HTTP_NOT_FOUND, "{\"error\":\"Not Found\"}", NULL);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return respond(c, MHD_HTTP_METHOD_NOT_ALLOWED, "{\"error\":\"Method Not Allowed\"}",
		               "GET, HEAD");
	ev_ms now = ev_now(w->loop);
	bool healthy = true;
	char *body = render(w, now, &healthy);
	if (!body)
		return respond(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "{\"error\":\"out of memory\"}",
		               NULL);
	enum MHD_Result r =
	        respond(c, healthy ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, body, NULL);
	free(body);
	return r;
}

struct web_server *web_server_new(struct ev_loop *loop, const struct web_opts *o, struct err *e)
{
	struct web_server *w = calloc(1, sizeof(*w));
	if (!w) {
		err_set(e, "out of memory");
		return NULL;
	}
	w->loop = loop;
	w->o = *o;
	struct httpd_opts ho = {.addr = o->addr,
	                        .port = o->port,
	                        .max_conns = WEB_MAX_CONNECTIONS,
	                        .per_ip = WEB_MAX_PER_IP,
	                        .conn_memory = WEB_CONN_MEMORY,
	                        .conn_timeout_s = WEB_CONN_TIMEOUT_S,
	                        .handler = on_request,
	                        .cls = w,
	                        .log_comp = COMP};
	w->httpd = httpd_new(loop, &ho, e);
	if (!w->httpd)
		goto fail;
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	if (getsockname(httpd_listen_fd(w->httpd), (struct sockaddr *)&sa, &sl) == 0)
		w->port = ntohs(sa.sin_port);
	return w;
fail:
	web_server_free(w);
	return NULL;
}

void web_server_set_source(struct web_server *w, web_snapshot_fn *fn, void *arg)
{
	w->snapshot = fn;
	w->snapshot_arg = arg;
}

void web_server_set_max_age(struct web_server *w, ev_ms max_age_ms)
{
	w->o.max_age_ms = max_age_ms;
}

uint16_t web_server_port(const struct web_server *w)
{
	return w->port;
}

void web_server_free(struct web_server *w)
{
	if (!w)
		return;
	httpd_free(w->httpd);
	free(w);
}
