/* SPDX-License-Identifier: GPL-3.0-or-later */
/* JSON_HTTP powermeter: GET URL (optional basic auth and extra headers), parse the body as
 * JSON and evaluate one JSONPath per value (JSON_PATHS, comma list: 1 path for one phase,
 * 3 for three). Paths are compiled at configure time, so a typo is a config error and not
 * a failure on every poll. One http_req is reused, keeping the connection alive. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "astrameter/http.h"
#include "astrameter/jsonpath.h"
#include "astrameter/pm_json_http.h"
#include "astrameter/pm_parsers.h"
#include "astrameter/powermeter.h"

struct jh {
	const char *url; /* owned by the config, which outlives the meter */
	const char *user, *pass;
	const char *headers;
	struct jsonpath *paths[PM_MAX_VALUES];
	size_t n;
	struct http_req *req;
};

int pm_json_http_parse(const struct jsonpath *const *paths, size_t n, const char *body, size_t len,
                       struct pm_reading *out, struct err *e)
{
	if (n == 0 || n > PM_MAX_VALUES)
		return err_set(e, "need 1 to %d JSON paths", PM_MAX_VALUES);
	size_t i = 0;
	while (i < len && isspace((unsigned char)body[i]))
		i++;
	if (i == len)
		return err_set(e, "empty body");
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
	if (!root)
		return err_set(e, "body is not valid JSON");
	/* json.loads rejects trailing data; so do we (a NUL ends the text, as C sees it). */
	for (const char *p = end; p && p < body + len && *p; p++) {
		if (!isspace((unsigned char)*p)) {
			cJSON_Delete(root);
			return err_set(e, "body is not valid JSON (data after the document)");
		}
	}
	struct pm_reading r;
	memset(&r, 0, sizeof(r));
	for (size_t k = 0; k < n; k++) {
		double v;
		if (jsonpath_eval_number(paths[k], root, &v, e) != 0) {
			cJSON_Delete(root);
			return -1;
		}
		if (fabs(v) > PM_PARSE_MAX_W) {
			cJSON_Delete(root);
			return err_set(e, "JSON path '%s': value %g is out of range",
			               jsonpath_text(paths[k]), v);
		}
		r.w[k] = v;
	}
	r.n = (unsigned)n;
	cJSON_Delete(root);
	*out = r;
	return 0;
}

static void trim(const char **s, size_t *n)
{
	while (*n && isspace((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

int pm_json_http_parse_headers(const char *spec, pm_json_http_header_fn *fn, void *arg,
                               struct err *e)
{
	const char *s = spec;
	while (*s) {
		size_t il = strcspn(s, ";");
		const char *colon = memchr(s, ':', il);
		if (colon) {
			const char *k = s, *v = colon + 1;
			size_t kl = (size_t)(colon - s), vl = il - kl - 1;
			trim(&k, &kl);
			trim(&v, &vl);
			if (kl == 0)
				return err_set(e, "HEADERS: empty header name");
			if (memchr(k, '\n', kl) || memchr(k, '\r', kl) || memchr(v, '\n', vl) ||
			    memchr(v, '\r', vl))
				return err_set(e, "HEADERS: a header may not span lines");
			char name[256], value[1024];
			if (kl >= sizeof(name) || vl >= sizeof(value))
				return err_set(e, "HEADERS: header too long");
			memcpy(name, k, kl);
			name[kl] = '\0';
			memcpy(value, v, vl);
			value[vl] = '\0';
			if (fn(name, value, arg) != 0)
				return err_set(e, "HEADERS: out of memory");
		}
		s += il;
		if (*s == ';')
			s++;
	}
	return 0;
}

static void jh_free_paths(struct jh *j)
{
	for (size_t i = 0; i < j->n; i++)
		jsonpath_free(j->paths[i]);
	j->n = 0;
}

/* Counts headers at configure time (validation only). */
static int count_header(const char *name, const char *value, void *arg)
{
	(void)name;
	(void)value;
	(*(size_t *)arg)++;
	return 0;
}

static int jh_configure(struct pm_meter *m, struct cfg_section *sec, struct err *e)
{
	struct jh *j = m->priv;
	struct err pe;
	const char *paths;
	if (cfg_get_str(sec, "url", NULL, &j->url, e) != 0 ||
	    cfg_get_str(sec, "json_paths", NULL, &paths, e) != 0 ||
	    cfg_get_str(sec, "username", NULL, &j->user, e) != 0 ||
	    cfg_get_str(sec, "password", NULL, &j->pass, e) != 0 ||
	    cfg_get_str(sec, "headers", NULL, &j->headers, e) != 0)
		return -1;
	if (!j->url || !*j->url)
		return err_set(e, "[%s] URL: required", sec->name);
	if (!paths || !*paths)
		return err_set(
		        e, "[%s] JSON_PATHS: required (comma list, e.g. $.power)%s", sec->name,
		        cfg_has(sec, "json_path") ? "; JSON_HTTP reads JSON_PATHS, not JSON_PATH"
		                                  : "");
	if (jsonpath_compile_list(paths, j->paths, PM_MAX_VALUES, &j->n, &pe) != 0)
		return err_set(e, "[%s] JSON_PATHS: %s", sec->name, pe.msg);
	size_t nh = 0;
	if (j->headers && pm_json_http_parse_headers(j->headers, count_header, &nh, &pe) != 0) {
		jh_free_paths(j);
		return err_set(e, "[%s] %s", sec->name, pe.msg);
	}
	return 0;
}

static int add_header(const char *name, const char *value, void *arg)
{
	char line[1300];
	snprintf(line, sizeof(line), "%s: %s", name, value);
	return http_req_add_header(arg, line);
}

static int jh_start(struct pm_meter *m, struct err *e)
{
	struct jh *j = m->priv;
	if (j->req)
		return 0;
	if (!m->ctx || !m->ctx->http)
		return err_set(e, "[%s] no HTTP client", m->name);
	j->req = http_req_new(m->ctx->http);
	if (!j->req)
		return err_set(e, "[%s] out of memory", m->name);
	struct err pe;
	bool auth = (j->user && *j->user) || (j->pass && *j->pass);
	if (http_req_set_url(j->req, j->url) != 0 ||
	    (auth && http_req_set_auth(j->req, j->user ? j->user : "", j->pass ? j->pass : "",
	                               false) != 0) ||
	    (j->headers && pm_json_http_parse_headers(j->headers, add_header, j->req, &pe) != 0)) {
		http_req_free(j->req);
		j->req = NULL;
		return err_set(e, "[%s] could not set up the HTTP request", m->name);
	}
	return 0;
}

static void jh_stop(struct pm_meter *m)
{
	struct jh *j = m->priv;
	if (!j)
		return;
	http_req_free(j->req);
	j->req = NULL;
	jh_free_paths(j);
}

static void jh_done(struct http_req *r, const struct http_result *res, void *arg)
{
	(void)r;
	struct pm_meter *m = arg;
	struct jh *j = m->priv;
	if (!res->ok) {
		pm_meter_fail(m, "%s", res->error);
		return;
	}
	/* raise_for_status upstream */
	if (res->status >= 400) {
		pm_meter_fail(m, "HTTP %ld", res->status);
		return;
	}
	struct pm_reading rd;
	struct err e;
	if (pm_json_http_parse((const struct jsonpath *const *)j->paths, j->n, res->body, res->len,
	                       &rd, &e) != 0) {
		pm_meter_fail(m, "%s", e.msg);
		return;
	}
	pm_meter_publish(m, &rd);
}

static int jh_poll(struct pm_meter *m, ev_ms now)
{
	(void)now;
	struct jh *j = m->priv;
	if (!j->req)
		return -1;
	/* A fetch the core gave up on: drop it and start afresh. */
	http_req_cancel(j->req);
	return http_req_start(j->req, jh_done, m);
}

const struct pm_driver pm_json_http_driver = {
        .name = "JSON_HTTP",
        .priv_size = sizeof(struct jh),
        .push = false,
        .configure = jh_configure,
        .start = jh_start,
        .stop = jh_stop,
        .poll = jh_poll,
        .keys = "URL JSON_PATHS USERNAME PASSWORD HEADERS",
};
