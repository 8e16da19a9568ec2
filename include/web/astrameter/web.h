/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The health endpoint: a small HTTP server (libmicrohttpd in external-loop epoll mode,
 * driven by our event loop) answering GET/HEAD /health and /api with the daemon's state,
 * plus the client side of `astrameter --healthcheck`.
 *
 * /health is 503 when no powermeter has produced a reading for longer than max_age: the
 * daemon is alive but useless, and Docker or the Home Assistant watchdog should restart
 * it. The JSON rendering and the verdict are pure functions of a snapshot (struct
 * web_health) and "now", unit-tested without sockets. */
#ifndef ASTRAMETER_WEB_H
#define ASTRAMETER_WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "astrameter/err.h"
#include "astrameter/ev.h"

#define WEB_DEFAULT_PORT       52500
#define WEB_DEFAULT_MAX_AGE_MS 120000
/* Limits that keep bad clients cheap: connections in total and per client address,
 * bytes per connection (request line + headers must fit: else 431), and seconds of
 * inactivity before a connection is dropped. A health check needs one connection at a
 * time, so a client address gets few: it takes WEB_MAX_CONNECTIONS / WEB_MAX_PER_IP = 16
 * hosts holding idle connections to lock the others out, and an idle or dribbling one
 * (slowloris) is dropped after WEB_CONN_TIMEOUT_S without a complete request. */
#define WEB_MAX_CONNECTIONS 64
#define WEB_MAX_PER_IP      4
#define WEB_CONN_MEMORY     8192
#define WEB_CONN_TIMEOUT_S  5

/* --- pure part ------------------------------------------------------------------- */

struct web_meter_info {
	const char *name; /* section name */
	const char *kind; /* driver name */
	bool have;        /* a reading is cached */
	bool failed;      /* the last fetch failed */
	ev_ms last_success;
	const char *error; /* last error text, "" if none */
	uint64_t fetches, failures;
};

struct web_device_info {
	const char *type, *id;
	long consumers; /* -1 if the device cannot tell */
};

struct web_health {
	const char *version;
	const char *git_commit; /* NULL if unknown */
	ev_ms boot;             /* process start (uptime) */
	ev_ms started;          /* current setup started: readings are awaited from here */
	ev_ms max_age_ms;       /* 0 = never report unhealthy */
	const struct web_meter_info *meters;
	size_t n_meters;
	const struct web_device_info *devices;
	size_t n_devices;
};

/* Whether a meter counts as working at now: it has a reading, its last fetch did not fail,
 * and (max_age_ms > 0) the reading is at most max_age_ms old. */
bool web_meter_ok(const struct web_meter_info *m, ev_ms max_age_ms, ev_ms now);
/* The verdict: false when max_age_ms > 0 and neither the newest reading of any meter nor
 * the start of the setup (a grace period) is within max_age_ms of now. */
bool web_health_ok(const struct web_health *h, ev_ms now);
/* The /health body (compact JSON, NUL-terminated, malloc'd; the caller frees it), or
 * NULL on allocation failure. *healthy receives web_health_ok(). */
char *web_health_json(const struct web_health *h, ev_ms now, bool *healthy);

/* --- the server ------------------------------------------------------------------ */

/* Fills the live part of the snapshot for a request at now: meters, n_meters, devices,
 * n_devices and started (when the running setup started: readings are awaited from then;
 * it comes preset to opts.boot). The rest of *h is preset from web_opts (max_age_ms
 * included). The arrays stay the callee's and must stay valid until the next call or
 * web_server_set_source(). Called on every GET/HEAD of /health or /api, before the
 * answer is rendered: the owner may also start work here (the app kicks idle meters). */
typedef void web_snapshot_fn(void *arg, ev_ms now, struct web_health *h);

struct web_opts {
	const char *addr; /* NULL = 0.0.0.0, as upstream */
	uint16_t port;
	ev_ms max_age_ms;
	const char *version;
	const char *git_commit; /* NULL if unknown; kept by pointer */
	ev_ms boot;
};

struct web_server;

/* Binds the listening socket (or takes an inherited one, see net_tcp_listen) and
 * registers the server in loop. Returns NULL with e set (e.g. port in use). */
struct web_server *web_server_new(struct ev_loop *loop, const struct web_opts *o, struct err *e);
/* Who fills the snapshot (fn(arg, ...) per request; NULL: no meters, no devices, grace
 * from boot). Replaces the previous source, e.g. on a reload. */
void web_server_set_source(struct web_server *w, web_snapshot_fn *fn, void *arg);
/* Changes max_age (o->max_age_ms of web_server_new), e.g. on a reload. */
void web_server_set_max_age(struct web_server *w, ev_ms max_age_ms);
/* The bound port (useful when o->port was 0). */
uint16_t web_server_port(const struct web_server *w);
/* Closes every connection and the socket; NULL is ignored. */
void web_server_free(struct web_server *w);

#endif
