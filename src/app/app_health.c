/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The app's side of the health endpoint: starting it from [GENERAL], pointing it at the
 * running setup's meters and devices, keeping it across a reload, and the blocking
 * `--healthcheck` client command. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_health.h"
#include "astrameter/http_get.h"
#include "astrameter/log.h"

#define COMP "main"

int app_healthcheck(const struct app_opts *o)
{
	struct cfg cfg;
	struct err e = {{0}};
	long port = WEB_DEFAULT_PORT;
	bool enabled = true;
	memset(&cfg, 0, sizeof(cfg));
	if (cfg_load_file(&cfg, o->config_path, &e) != 0) {
		fprintf(stderr, "astrameter: %s (trying port %ld)\n", e.msg, port);
	} else {
		struct cfg_section *g = cfg_find(&cfg, "GENERAL");
		if (cfg_get_bool(g, "enable_web_server", true, &enabled, &e) != 0 ||
		    cfg_get_int(g, "web_server_port", WEB_DEFAULT_PORT, 1, 65535, &port, &e) != 0) {
			fprintf(stderr, "astrameter: %s\n", e.msg);
			cfg_free(&cfg);
			return 1;
		}
	}
	cfg_free(&cfg);
	if (!enabled) {
		fprintf(stderr, "astrameter: ENABLE_WEB_SERVER is off: no /health to ask\n");
		return 1;
	}
	int st = http_blocking("127.0.0.1", (uint16_t)port, "GET", "/health", NULL, 5000, NULL, &e);
	if (st < 0) {
		fprintf(stderr, "astrameter: health check failed: %s\n", e.msg);
		return 1;
	}
	printf("http://127.0.0.1:%ld/health: %d\n", port, st);
	return st == 200 ? 0 : 1;
}

struct web_server *app_web_start(const struct app *app, ev_ms boot)
{
	if (!app->web_enabled)
		return NULL;
	struct web_opts wo = {.port = (uint16_t)app->web_port,
	                      .max_age_ms = app->health_max,
	                      .version = AM_VERSION,
	                      .git_commit = getenv("GIT_COMMIT_SHA"),
	                      .boot = boot};
	struct err e = {{0}};
	struct web_server *w = web_server_new(app->loop, &wo, &e);
	if (!w)
		log_error(COMP, "health endpoint not available: %s", e.msg);
	else
		log_info(COMP, "health endpoint on http://0.0.0.0:%u/health",
		         (unsigned)web_server_port(w));
	return w;
}

/* Starts a fetch on pull meters nobody asked for in a while: a /health request does that
 * for a meter whose last attempt is older than half of max_age, so a quiet night without
 * battery requests does not look like a dead meter. */
static void kick_idle(struct app *app, ev_ms max_age_ms, ev_ms now)
{
	if (max_age_ms <= 0)
		return;
	for (size_t i = 0; i < app->meters.n; i++) {
		struct pm_meter *m = app->meters.m[i];
		if (m->drv->push || !m->drv->poll || m->in_flight)
			continue;
		if (m->fetches == 0 || now - m->last_attempt >= max_age_ms / 2)
			pm_meter_kick(m, now);
	}
}

/* The health endpoint's snapshot callback (web_snapshot_fn): the live state of the
 * running setup's meters and devices. */
static void snapshot(void *arg, ev_ms now, struct web_health *h)
{
	struct app *app = arg;
	kick_idle(app, h->max_age_ms, now);
	for (size_t i = 0; i < app->meters.n; i++) {
		const struct pm_meter *m = app->meters.m[i];
		app->wmeters[i] = (struct web_meter_info){.name = m->name,
		                                          .kind = m->drv->name,
		                                          .have = m->have,
		                                          .failed = m->failed,
		                                          .last_success = m->last_success,
		                                          .error = m->last_error,
		                                          .fetches = m->fetches,
		                                          .failures = m->failures};
	}
	for (size_t i = 0; i < app->n_dev; i++) {
		const struct app_device *d = &app->dev[i];
		app->wdevs[i] =
		        (struct web_device_info){.type = d->type, .id = d->id, .consumers = -1};
		if (d->ops && d->ops->status && d->self) {
			struct emu_status st = {0};
			d->ops->status(d->self, &st);
			app->wdevs[i].consumers = (long)st.consumers;
		}
	}
	h->meters = app->wmeters;
	h->n_meters = app->meters.n;
	h->devices = app->wdevs;
	h->n_devices = app->n_dev;
	h->started = app->started;
}

void app_web_attach(struct web_server *w, struct app *app)
{
	if (!w)
		return;
	app->started = ev_now(app->loop);
	web_server_set_source(w, snapshot, app);
}

struct web_server *app_web_switch(struct web_server *web, struct app *fresh, ev_ms boot)
{
	if (web && fresh->web_enabled && web_server_port(web) == (uint16_t)fresh->web_port) {
		web_server_set_max_age(web, fresh->health_max);
		app_web_attach(web, fresh);
		return web;
	}
	web_server_free(web);
	web = app_web_start(fresh, boot);
	app_web_attach(web, fresh);
	return web;
}
