/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Inside the app: the health endpoint as the app runs it (started from [GENERAL], pointed
 * at the running setup, kept across a reload when its port is unchanged) and the
 * `--healthcheck` command. */
#ifndef ASTRAMETER_APP_HEALTH_H
#define ASTRAMETER_APP_HEALTH_H

#include "app/app_setup.h"

/* `astrameter --healthcheck`: the daemon's /health on 127.0.0.1, port from the config
 * (a config that cannot be read falls back to the default port). Exit code 0 iff 200. */
int app_healthcheck(const struct app_opts *o);
/* Starts the health endpoint with the settings of app (NULL if disabled or on error: a
 * port in use is logged, naming the port, and is not fatal, as upstream). */
struct web_server *app_web_start(const struct app *app, ev_ms boot);
/* Points the health endpoint (NULL is ignored) at app's meters and devices. */
void app_web_attach(struct web_server *w, struct app *app);
/* The health endpoint for a new setup: the running one is kept (and pointed at fresh)
 * when its port is unchanged, so a reload does not drop its listening socket. */
struct web_server *app_web_switch(struct web_server *web, struct app *fresh, ev_ms boot);

#endif
