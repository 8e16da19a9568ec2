/* SPDX-License-Identifier: GPL-3.0-or-later */
/* VZLOGGER powermeter: one GET http://ip:port/<uuid> per configured UUID, all in
 * parallel; each answer gives data[0].tuples[0][1] as an integer, one value per UUID. */
#include <stdio.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "astrameter/pm_parsers.h"
#include "powermeter/pmhttp.h"

static const cJSON *first(const cJSON *arr, const char *what, struct err *e)
{
	if (!cJSON_IsArray(arr)) {
		err_set(e, "field '%s' is not a list", what);
		return NULL;
	}
	const cJSON *v = cJSON_GetArrayItem(arr, 0);
	if (!v)
		err_set(e, "field '%s' is empty", what);
	return v;
}

int pm_vzlogger_parse(const char *body, size_t len, double *w, struct err *e)
{
	cJSON *root = pmj_parse(body, len, e);
	if (!root)
		return -1;
	int rc = -1;
	const cJSON *data = pmj_member(root, "data", e);
	const cJSON *d0 = data ? first(data, "data", e) : NULL;
	const cJSON *tuples = d0 ? pmj_member(d0, "tuples", e) : NULL;
	const cJSON *t0 = tuples ? first(tuples, "tuples", e) : NULL;
	if (t0) {
		const cJSON *v = cJSON_IsArray(t0) ? cJSON_GetArrayItem(t0, 1) : NULL;
		if (!v)
			err_set(e, "tuple has no value");
		else
			rc = pmj_int(v, "tuples[0][1]", w, e);
	}
	cJSON_Delete(root);
	return rc;
}

/* ---- driver: one request per UUID, all in flight at once ---- */

struct vz_channel {
	struct http_req *req;
	char url[512];
	struct pm_meter *m;
	unsigned idx;
};

struct vzlogger_priv {
	struct vz_channel ch[PM_MAX_VALUES];
	unsigned n, pending;
	bool failed;
	struct pm_reading r;
	char error[160];
};

static void vz_finish(struct pm_meter *m, struct vzlogger_priv *p)
{
	if (p->failed) {
		pm_meter_fail(m, "%s", p->error);
		return;
	}
	p->r.n = p->n;
	pm_meter_publish(m, &p->r);
}

static void vz_done(struct http_req *r, const struct http_result *res, void *arg)
{
	(void)r;
	struct vz_channel *c = arg;
	struct pm_meter *m = c->m;
	struct vzlogger_priv *p = m->priv;
	struct err e = {{0}};
	if (!p->failed) {
		/* the first failure names the channel; the rest are dropped */
		if (!res->ok)
			snprintf(e.msg, sizeof(e.msg), "%s", res->error);
		else if (res->status < 200 || res->status > 299)
			snprintf(e.msg, sizeof(e.msg), "HTTP %ld", res->status);
		else
			(void)pm_vzlogger_parse(res->body, res->len, &p->r.w[c->idx], &e);
		if (e.msg[0]) {
			p->failed = true;
			snprintf(p->error, sizeof(p->error), "UUID #%u: %.140s", c->idx + 1, e.msg);
		}
	}
	if (--p->pending == 0)
		vz_finish(m, p);
}

static int vzlogger_configure(struct pm_meter *m, struct cfg_section *sec, struct err *e)
{
	struct vzlogger_priv *p = m->priv;
	const char *ip, *port, *uuids;
	if (pmhttp_need(sec, "ip", &ip, e) != 0 || cfg_get_str(sec, "port", "", &port, e) != 0 ||
	    pmhttp_need(sec, "uuid", &uuids, e) != 0)
		return -1;
	const char *s = uuids;
	while (*s) {
		size_t n = strcspn(s, ",");
		const char *a = s, *b = s + n;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (b > a) {
			if (p->n == PM_MAX_VALUES)
				return err_set(e, "[%s] UUID: at most %d UUIDs", sec->name,
				               PM_MAX_VALUES);
			struct vz_channel *c = &p->ch[p->n];
			int w = snprintf(c->url, sizeof(c->url), "http://%s%s%s/%.*s", ip,
			                 port[0] ? ":" : "", port, (int)(b - a), a);
			if (w < 0 || (size_t)w >= sizeof(c->url))
				return err_set(e, "[%s] UUID: URL too long", sec->name);
			c->m = m;
			c->idx = p->n++;
		}
		s += n;
		if (*s == ',')
			s++;
	}
	if (!p->n)
		return err_set(e, "[%s] UUID: required", sec->name);
	return 0;
}

static void vzlogger_stop(struct pm_meter *m)
{
	struct vzlogger_priv *p = m->priv;
	for (unsigned i = 0; p && i < p->n; i++) {
		http_req_free(p->ch[i].req);
		p->ch[i].req = NULL;
	}
}

static int vzlogger_start(struct pm_meter *m, struct err *e)
{
	struct vzlogger_priv *p = m->priv;
	if (!m->ctx || !m->ctx->http)
		return err_set(e, "[%s] no HTTP client", m->name);
	for (unsigned i = 0; i < p->n; i++) {
		if (p->ch[i].req)
			continue;
		p->ch[i].req = http_req_new(m->ctx->http);
		if (!p->ch[i].req || http_req_set_url(p->ch[i].req, p->ch[i].url) != 0) {
			vzlogger_stop(m);
			return err_set(e, "[%s] could not set up the HTTP requests", m->name);
		}
	}
	return 0;
}

static int vzlogger_poll(struct pm_meter *m, ev_ms now)
{
	(void)now;
	struct vzlogger_priv *p = m->priv;
	for (unsigned i = 0; i < p->n; i++)
		http_req_cancel(p->ch[i].req);
	p->pending = 0;
	p->failed = false;
	memset(&p->r, 0, sizeof(p->r));
	for (unsigned i = 0; i < p->n; i++) {
		if (http_req_start(p->ch[i].req, vz_done, &p->ch[i]) != 0) {
			for (unsigned k = 0; k < i; k++)
				http_req_cancel(p->ch[k].req);
			p->pending = 0;
			return -1;
		}
		p->pending++;
	}
	return 0;
}

const struct pm_driver pm_vzlogger_driver = {
        .name = "VZLOGGER",
        .priv_size = sizeof(struct vzlogger_priv),
        .configure = vzlogger_configure,
        .start = vzlogger_start,
        .stop = vzlogger_stop,
        .poll = vzlogger_poll,
        .keys = "IP PORT UUID",
};
