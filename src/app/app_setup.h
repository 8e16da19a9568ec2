/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Inside the app: one setup (struct app) is everything a config.ini describes: the parsed
 * file, the HTTP client, the powermeters in file order and the emulated devices. At
 * startup there is one; a reload builds a second beside it and frees the loser. */
#ifndef ASTRAMETER_APP_SETUP_H
#define ASTRAMETER_APP_SETUP_H

#include <stdbool.h>
#include <stdio.h>
#include "astrameter/app.h"
#include "astrameter/config.h"
#include "astrameter/emu.h"
#include "astrameter/ev.h"
#include "astrameter/http.h"
#include "astrameter/net.h"
#include "astrameter/powermeter.h"
#include "astrameter/web.h"

struct app_device {
	const struct emu_ops *ops;
	void *self;
	char type[32];
	char id[64];
	char port_key[32]; /* where its UDP port is configured, e.g. "[CT002] UDP_PORT" */
};

struct app {
	struct ev_loop *loop;
	struct net_ports *ports; /* owned by app_main: outlives every setup */
	struct cfg cfg;
	struct cfg_section *general;
	struct http_client *http;
	struct pm_ctx pmctx;
	struct pm_set meters;
	struct app_device dev[APP_MAX_DEVICES];
	size_t n_dev;
	/* The health endpoint's snapshot of this setup (app_health.c fills it per request). */
	struct web_meter_info *wmeters; /* one per meter */
	struct web_device_info wdevs[APP_MAX_DEVICES];
	ev_ms started;    /* when this setup was attached to the health endpoint */
	bool web_enabled; /* [GENERAL] ENABLE_WEB_SERVER */
	long web_port;    /* [GENERAL] WEB_SERVER_PORT */
	ev_ms health_max; /* [GENERAL] HEALTH_MAX_AGE (ours), ms; 0 = off */
	bool skip_test;
	int sigfd;
	enum { RUN_GO, RUN_EXIT, RUN_RELOAD } next;
};

/* A setup on loop whose devices claim their UDP ports through ports (both borrowed).
 * NULL on ENOMEM. */
struct app *app_new(struct ev_loop *loop, struct net_ports *ports);
/* Stops and frees everything the setup built (devices, meters, HTTP client, config);
 * NULL is ignored. The signal fd is the caller's. */
void app_free(struct app *app);
/* Reads and validates the whole configuration (command line first) and builds meters and
 * devices; opens no socket. 0, or -1 with e naming section, key and value. */
int app_configure(struct app *app, const struct app_opts *o, struct err *e);
/* Starts the meters (their timers and connections). 0/-1 with e. */
int app_start(struct app *app, struct err *e);
/* Starts the devices, their ports claimed through app->ports between begin and commit or
 * abort. At startup (strict false), as upstream, a device that cannot start is logged and
 * does not stop the others; -1 only if none started. On a reload (strict true) any device
 * that cannot start fails the whole new setup (-1 with e): the running one is kept. */
int app_start_devices(struct app *app, bool strict, struct err *e);
/* What --check-config prints: the devices and meters as configured. */
void app_print_summary(const struct app *app, FILE *f);

#endif
