/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The running simulator: one event loop (ev.h) owning every battery's UDP socket, the
 * HTTP meter/control server, and timers for battery polls, meter sampling, auto mode,
 * the periodic log line and the SSE status stream. Control requests (HTTP routes, or the
 * in-process TUI) go through one router, sim_app_route, so both see the same behaviour. */
#ifndef ASTRAMETER_SIM_APP_H
#define ASTRAMETER_SIM_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <netinet/in.h>

#include "astrameter/err.h"
#include "astrameter/ev.h"
#include "astrameter/httpd.h"
#include "sim/sim_battery.h"
#include "sim/sim_config.h"
#include "sim/sim_meter.h"

#define SIM_MAX_CONNS 32  /* HTTP connections at once (SSE streams included) */
#define SIM_HIST_LEN  120 /* grid history samples kept for the TUI (one per second) */

struct sim_bat_rt {
	struct sim_battery b;
	int fd;
	bool waiting, inspection;
	ev_ms last_tick;
	uint64_t poll_timer, timeout_timer;
	unsigned timeouts;
	struct sim_app *app;
};

/* One /events (SSE) stream: status events queued until MHD sends them. */
struct sim_sse {
	struct MHD_Connection *conn; /* NULL = free slot */
	char *buf;
	size_t len, off;
	bool suspended; /* nothing to send: MHD does not poll it until resumed */
	bool drop;      /* the reader fell too far behind: end the stream */
};

struct sim_app;
/* Called on every meter tick with the simulation time: before the true grid is sampled
 * (after = false; apply scheduled world changes here so the sample sees them) and after
 * (after = true; app->grid and app->consumption hold the new sample). */
typedef void sim_app_tick_fn(struct sim_app *app, double t, bool after, void *arg);

struct sim_app {
	struct sim_config cfg;
	struct ev_loop *loop;
	struct sim_rng rng;
	struct sim_house house;
	struct sim_meter meter;
	struct sim_trace trace;
	struct sim_bat_rt bat[SIM_MAX_BATTERIES];
	size_t nbat;
	int http_fd;         /* listening socket (owned by httpd), for getsockname */
	struct httpd *httpd; /* the HTTP API (sim_http.c) */
	struct sim_sse sse[SIM_MAX_CONNS];
	ev_ms t0;
	double grid[3];        /* true grid at the last sample */
	double consumption[3]; /* house contribution at the last sample */
	double hist[3][SIM_HIST_LEN];
	size_t hist_n; /* samples written so far (ring index = hist_n % LEN) */
	ev_ms hist_next;
	bool headless; /* print the periodic log line */
	FILE *log;     /* where that line goes (stdout) */
	bool shutdown;
	/* Hooks for the evaluation runner; sim_app_start sets the defaults, callers may
	 * change them before the loop runs. */
	double poll_jitter;    /* s, uniform +- on every poll interval (default 0.5) */
	ev_ms meter_tick_ms;   /* wall ms between true-grid samples (default 100) */
	sim_app_tick_fn *tick; /* NULL = none */
	void *tick_arg;
};

/* Sets up sockets and timers on loop (owned by the caller). cfg is copied and must be
 * valid. 0, or -1 with e (e.g. HTTP port in use). */
int sim_app_start(struct sim_app *app, const struct sim_config *cfg, struct ev_loop *loop,
                  struct err *e);
/* Closes every socket and cancels timers; idempotent. */
void sim_app_stop(struct sim_app *app);

/* Handles one control/status request. Returns the HTTP status; *body receives a
 * malloc'ed JSON body (caller frees), or NULL on allocation failure. */
int sim_app_route(struct sim_app *app, const char *method, const char *path, const char *body,
                  size_t blen, char **out);
/* The /status JSON (malloc'ed, caller frees). */
char *sim_app_status_json(struct sim_app *app);
/* Simulation time in seconds at loop time now. */
double sim_app_time(const struct sim_app *app, ev_ms now);
/* The grid as the simulated meter reports it now (interval/latency applied). */
void sim_app_meter_value(struct sim_app *app, double out[3]);
/* host ("localhost" or an IPv4 literal) and port as an address; -1 with e otherwise. */
int sim_app_resolve4(const char *host, uint16_t port, struct sockaddr_in *sa, struct err *e);

/* The HTTP API (sim_http.c, libmicrohttpd in the loop): opens cfg.http_host:http_port,
 * routes requests through sim_app_route, and streams /events. */
int sim_http_open(struct sim_app *app, struct err *e);
/* Ends every stream and closes the server; idempotent. */
void sim_http_close(struct sim_app *app);
/* Timer callback (every second): queues a status event on every /events stream. */
ev_ms sim_http_sse_tick(struct ev_loop *loop, void *arg);

#endif
