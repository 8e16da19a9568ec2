/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The app's side of the health endpoint: starting it from [GENERAL], pointing it at the
 * running setup's meters and devices, keeping it across a reload, and the blocking
 * `--healthcheck` client command. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_health.h"
#include "astrameter/log.h"

#define COMP "main"

/* `astrameter --healthcheck`: the daemon's /health on 127.0.0.1, port from the config
 * (a config that cannot be read falls back to the default port). Exit code 0 iff 200. */
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
	int st = web_healthcheck("127.0.0.1", (uint16_t)port, 5000, &e);
	if (st < 0) {
		fprintf(stderr, "astrameter: health check failed: %s\n", e.msg);
		return 1;
	}
	printf("http://127.0.0.1:%ld/health: %d\n", port, st);
	return st == 200 ? 0 : 1;
}

/* Starts the health endpoint with the settings of app (NULL if disabled or on error: a
 * port in use is logged, naming the port, and is not fatal, as upstream). */
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

/* Points the health endpoint at app's meters and devices. */
void app_web_attach(struct web_server *w, struct app *app)
{
	if (!w)
		return;
	for (size_t i = 0; i < app->n_dev; i++)
		app->wdev[i] = (struct web_device){.type = app->dev[i].type,
		                                   .id = app->dev[i].id,
		                                   .ops = app->dev[i].ops,
		                                   .self = app->dev[i].self};
	web_server_set_sources(w, &app->meters, app->wdev, app->n_dev, ev_now(app->loop));
}

/* The health endpoint for a new setup: the running one is kept (and pointed at fresh)
 * when its port is unchanged, so a reload does not drop its listening socket. */
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
