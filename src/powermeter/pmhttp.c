/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Single-request HTTP meter glue (see pmhttp.h). */
#include <stdarg.h>
#include <stdio.h>

#include "powermeter/pmhttp.h"

int pmhttp_set_url(struct pmhttp *h, struct err *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(h->url, sizeof(h->url), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(h->url))
		return err_set(e, "URL too long");
	return 0;
}

int pmhttp_need(struct cfg_section *sec, const char *key, const char **out, struct err *e)
{
	if (cfg_get_str(sec, key, "", out, e) != 0)
		return -1;
	if (!**out) {
		/* keys are stored lower case; name them as users write them */
		char up[64];
		size_t i = 0;
		for (; key[i] && i + 1 < sizeof(up); i++)
			up[i] = (char)(key[i] >= 'a' && key[i] <= 'z' ? key[i] - 32 : key[i]);
		up[i] = '\0';
		return err_set(e, "[%s] %s: required", sec->name, up);
	}
	return 0;
}

int pmhttp_start(struct pm_meter *m, struct pmhttp *h, struct err *e)
{
	if (h->req)
		return 0;
	if (!m->ctx || !m->ctx->http)
		return err_set(e, "[%s] no HTTP client", m->name);
	h->req = http_req_new(m->ctx->http);
	if (!h->req)
		return err_set(e, "[%s] out of memory", m->name);
	if (h->connect_ms || h->total_ms)
		http_req_set_timeouts(h->req, h->connect_ms ? h->connect_ms : 1000,
		                      h->total_ms ? h->total_ms : 2000);
	if (http_req_set_url(h->req, h->url) != 0 ||
	    (h->user && h->user[0] &&
	     http_req_set_auth(h->req, h->user, h->pass ? h->pass : "", h->digest) != 0)) {
		http_req_free(h->req);
		h->req = NULL;
		return err_set(e, "[%s] could not set up the HTTP request", m->name);
	}
	return 0;
}

void pmhttp_stop(struct pmhttp *h)
{
	if (!h)
		return;
	http_req_free(h->req);
	h->req = NULL;
}

static void done(struct http_req *r, const struct http_result *res, void *arg)
{
	(void)r;
	struct pm_meter *m = arg;
	struct pmhttp *h = m->priv;
	if (!res->ok) {
		pm_meter_fail(m, "%s", res->error);
		return;
	}
	if (res->status < 200 || res->status > 299) {
		pm_meter_fail(m, "HTTP %ld", res->status);
		return;
	}
	struct pm_reading rd = {0};
	struct err e = {{0}};
	if (h->parse(m, res->body, res->len, &rd, &e) != 0) {
		pm_meter_fail(m, "%s", e.msg);
		return;
	}
	pm_meter_publish(m, &rd);
}

int pmhttp_poll(struct pm_meter *m, struct pmhttp *h)
{
	if (!h->req)
		return -1;
	/* A fetch the core gave up on: drop it and start afresh. */
	http_req_cancel(h->req);
	return http_req_start(h->req, done, m);
}

int pmhttp_drv_start(struct pm_meter *m, struct err *e)
{
	return pmhttp_start(m, m->priv, e);
}

void pmhttp_drv_stop(struct pm_meter *m)
{
	pmhttp_stop(m->priv);
}

int pmhttp_drv_poll(struct pm_meter *m, ev_ms now)
{
	(void)now;
	return pmhttp_poll(m, m->priv);
}
