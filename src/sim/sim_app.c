/* SPDX-License-Identifier: GPL-3.0-or-later */
/* astra-sim runtime (see sim_app.h): batteries speaking CT002 over UDP, the true grid and
 * its meter, auto mode and the periodic log line, all on one event loop. The control API
 * is sim_control.c, its HTTP server sim_http.c. */
#include "sim/sim_app.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CT_TIMEOUT_MS 2000
#define METER_TICK_MS 100

double sim_app_time(const struct sim_app *app, ev_ms now)
{
	return (double)(now - app->t0) / 1000.0 * app->cfg.time_scale;
}

int sim_app_resolve4(const char *host, uint16_t port, struct sockaddr_in *sa, struct err *e)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	if (!strcmp(host, "localhost"))
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return err_set(e, "'%s' is not an IPv4 address", host);
	return 0;
}

/* ---- grid ---------------------------------------------------------------------------- */

static void battery_sums(const struct sim_app *app, double out[3])
{
	out[0] = out[1] = out[2] = 0;
	for (size_t i = 0; i < app->nbat; i++)
		out[app->bat[i].b.cfg.phase - 'A'] += app->bat[i].b.power;
}

/* A fresh true-grid sample (new noise draw), as a live meter would measure it now. */
static void sample_grid(struct sim_app *app, ev_ms now, double grid[3], double cons[3])
{
	double bat[3];
	sim_house_contribution(&app->house, &app->rng, sim_app_time(app, now), cons);
	battery_sums(app, bat);
	sim_grid(cons, bat, grid);
}

void sim_app_meter_value(struct sim_app *app, double out[3])
{
	ev_ms now = ev_now(app->loop);
	if (app->cfg.meter_interval <= 0 && app->cfg.meter_latency <= 0) {
		double cons[3];
		sample_grid(app, now, out, cons);
		return;
	}
	sim_meter_read(&app->meter, sim_app_time(app, now), out);
}

static ev_ms meter_tick(struct ev_loop *loop, void *arg)
{
	struct sim_app *app = arg;
	ev_ms now = ev_now(loop);
	double t = sim_app_time(app, now);
	if (app->tick)
		app->tick(app, t, false, app->tick_arg);
	sample_grid(app, now, app->grid, app->consumption);
	sim_meter_record(&app->meter, t, app->grid);
	if (app->tick)
		app->tick(app, t, true, app->tick_arg);
	if (now >= app->hist_next) {
		for (int p = 0; p < 3; p++)
			app->hist[p][app->hist_n % SIM_HIST_LEN] = app->grid[p];
		app->hist_n++;
		app->hist_next = now + 1000;
	}
	return app->meter_tick_ms > 0 ? app->meter_tick_ms : METER_TICK_MS;
}

/* ---- batteries ----------------------------------------------------------------------- */

static ev_ms next_poll_delay(struct sim_bat_rt *r)
{
	struct sim_app *app = r->app;
	double jitter = app->poll_jitter > 0
	                        ? sim_rng_uniform(&app->rng, -app->poll_jitter, app->poll_jitter)
	                        : 0.0;
	double s = (r->b.cfg.poll_interval + jitter) / app->cfg.time_scale;
	if (s < 0.05)
		s = 0.05;
	return (ev_ms)(s * 1000.0);
}

static ev_ms bat_poll(struct ev_loop *loop, void *arg);

static ev_ms bat_timeout(struct ev_loop *loop, void *arg)
{
	struct sim_bat_rt *r = arg;
	(void)loop;
	r->timeout_timer = 0;
	if (r->waiting) {
		r->waiting = false;
		r->timeouts++;
		r->poll_timer = ev_timer_add(r->app->loop, next_poll_delay(r), bat_poll, r);
	}
	return EV_STOP;
}

static ev_ms bat_poll(struct ev_loop *loop, void *arg)
{
	struct sim_bat_rt *r = arg;
	struct sim_app *app = r->app;
	ev_ms now = ev_now(loop);
	r->poll_timer = 0;
	double dt = (double)(now - r->last_tick) / 1000.0 * app->cfg.time_scale;
	r->last_tick = now;
	sim_bat_tick(&r->b, dt);

	char buf[SIM_CT_MAX_FRAME];
	int n = sim_bat_request(&r->b, buf, sizeof(buf), &r->inspection);
	if (n > 0 && send(r->fd, buf, (size_t)n, 0) == n) {
		r->waiting = true;
		r->timeout_timer = ev_timer_add(loop, CT_TIMEOUT_MS, bat_timeout, r);
		return EV_STOP;
	}
	/* Send failed (e.g. ECONNREFUSED from an earlier ICMP): try again next period. */
	r->timeouts++;
	return next_poll_delay(r);
}

static void bat_readable(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	struct sim_bat_rt *r = arg;
	(void)events;
	unsigned char buf[SIM_CT_MAX_FRAME + 1];
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0)
			return; /* EAGAIN, or a queued ICMP error: the timeout handles it */
		if (!r->waiting)
			continue; /* a late reply to a request we gave up on */
		struct sim_ct_fields f;
		if (sim_ct_decode(buf, (size_t)n, &f) < 0)
			continue;
		r->waiting = false;
		ev_timer_del(loop, r->timeout_timer);
		r->timeout_timer = 0;
		sim_bat_response(&r->b, &f, r->inspection);
		r->poll_timer = ev_timer_add(loop, next_poll_delay(r), bat_poll, r);
	}
}

static int bat_open(struct sim_app *app, struct sim_bat_rt *r, struct err *e)
{
	struct sockaddr_in sa;
	if (sim_app_resolve4(app->cfg.ct_host, app->cfg.ct_port, &sa, e) < 0)
		return -1;
	r->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->fd < 0)
		return err_set(e, "socket: %s", strerror(errno));
	/* Connected: the kernel drops datagrams from anyone but the CT. */
	if (connect(r->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return err_set(e, "connect %s:%u: %s", app->cfg.ct_host, app->cfg.ct_port,
		               strerror(errno));
	if (ev_io_add(app->loop, r->fd, EV_READ, bat_readable, r) < 0)
		return err_set(e, "ev_io_add: %s", strerror(errno));
	return 0;
}

/* ---- periodic ------------------------------------------------------------------------- */

static ev_ms auto_tick(struct ev_loop *loop, void *arg)
{
	struct sim_app *app = arg;
	(void)loop;
	if (app->house.auto_mode)
		sim_house_auto_step(&app->house, &app->rng);
	double s = sim_rng_uniform(&app->rng, app->house.auto_lo, app->house.auto_hi) /
	           app->cfg.time_scale;
	return (ev_ms)(s * 1000.0);
}

static ev_ms log_tick(struct ev_loop *loop, void *arg)
{
	struct sim_app *app = arg;
	double g[3];
	if (app->headless && app->log) {
		sim_app_meter_value(app, g);
		fprintf(app->log, "t=%.1fs grid=[%.0f, %.0f, %.0f] total=%.0f",
		        sim_app_time(app, ev_now(loop)), g[0], g[1], g[2], g[0] + g[1] + g[2]);
		for (size_t i = 0; i < app->nbat; i++) {
			const struct sim_battery *b = &app->bat[i].b;
			fprintf(app->log, " | %s:%c/%.0fW/%.0f%%", b->cfg.mac + 8, b->cfg.phase,
			        b->power, b->soc * 100.0);
		}
		fputc('\n', app->log);
		(void)fflush(app->log);
	}
	double s = app->cfg.log_interval / app->cfg.time_scale;
	return (ev_ms)((s < 0.1 ? 0.1 : s) * 1000.0);
}

int sim_app_start(struct sim_app *app, const struct sim_config *cfg, struct ev_loop *loop,
                  struct err *e)
{
	memset(app, 0, sizeof(*app));
	app->cfg = *cfg;
	app->loop = loop;
	app->http_fd = -1;
	app->log = stdout;
	app->poll_jitter = 0.5;
	app->meter_tick_ms = METER_TICK_MS;
	for (size_t i = 0; i < SIM_MAX_BATTERIES; i++)
		app->bat[i].fd = -1;
	sim_rng_seed(&app->rng, cfg->seed);
	app->house = cfg->house;
	sim_meter_init(&app->meter, cfg->meter_interval, cfg->meter_latency);
	if (cfg->trace_path[0]) {
		if (sim_trace_load(cfg->trace_path, cfg->trace_columns == 3, &app->trace, e) < 0)
			return -1;
		app->house.trace = &app->trace;
	}
	app->t0 = ev_update_now(loop);
	if (sim_http_open(app, e) < 0)
		goto fail;
	app->nbat = cfg->nbat;
	for (size_t i = 0; i < cfg->nbat; i++) {
		struct sim_bat_rt *r = &app->bat[i];
		struct sim_bat_cfg bc = cfg->bat[i];
		snprintf(bc.ct_mac, sizeof(bc.ct_mac), "%s", cfg->ct_mac);
		sim_bat_init(&r->b, &bc);
		r->app = app;
		r->last_tick = app->t0;
		if (bat_open(app, r, e) < 0)
			goto fail;
		r->poll_timer = ev_timer_add(loop, 0, bat_poll, r);
	}
	meter_tick(loop, app);
	if (!ev_timer_add(loop, METER_TICK_MS, meter_tick, app) ||
	    !ev_timer_add(loop, 1000, sim_http_sse_tick, app) ||
	    !ev_timer_add(loop, 0, log_tick, app) ||
	    !ev_timer_add(loop, auto_tick(loop, app), auto_tick, app)) {
		err_set(e, "out of memory");
		goto fail;
	}
	return 0;
fail:
	sim_app_stop(app);
	return -1;
}

void sim_app_stop(struct sim_app *app)
{
	sim_http_close(app);
	for (size_t i = 0; i < SIM_MAX_BATTERIES; i++) {
		struct sim_bat_rt *r = &app->bat[i];
		if (r->fd >= 0) {
			ev_io_del(app->loop, r->fd);
			(void)close(r->fd);
			r->fd = -1;
		}
		ev_timer_del(app->loop, r->poll_timer);
		ev_timer_del(app->loop, r->timeout_timer);
		r->poll_timer = r->timeout_timer = 0;
	}
	sim_trace_free(&app->trace);
	app->house.trace = NULL;
}
