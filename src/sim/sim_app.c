/* SPDX-License-Identifier: GPL-3.0-or-later */
/* astra-sim runtime (see sim_app.h): batteries speaking CT002 over UDP, the JSON_HTTP
 * meter and control API, all on one event loop. The HTTP server is deliberately tiny
 * (HTTP/1.1, one request per connection, Connection: close, bodies up to 8 KiB): it is a
 * test peer for the daemon's JSON_HTTP meter and for scripts, not a general server. */
#include "sim/sim_app.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define CT_TIMEOUT_MS 2000
#define METER_TICK_MS 100

double sim_app_time(const struct sim_app *app, ev_ms now)
{
	return (double)(now - app->t0) / 1000.0 * app->cfg.time_scale;
}

static int resolve4(const char *host, uint16_t port, struct sockaddr_in *sa, struct err *e)
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

static void meter_value(struct sim_app *app, double out[3])
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
	if (resolve4(app->cfg.ct_host, app->cfg.ct_port, &sa, e) < 0)
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

/* ---- status / control ------------------------------------------------------------------ */

static double round1(double v)
{
	return round(v * 10.0) / 10.0;
}

static void add_grid(cJSON *o, const double g[3])
{
	cJSON_AddNumberToObject(o, "phase_a", round1(g[0]));
	cJSON_AddNumberToObject(o, "phase_b", round1(g[1]));
	cJSON_AddNumberToObject(o, "phase_c", round1(g[2]));
}

char *sim_app_status_json(struct sim_app *app)
{
	cJSON *root = cJSON_CreateObject();
	if (!root)
		return NULL;
	double g[3];
	meter_value(app, g);
	cJSON *grid = cJSON_AddObjectToObject(root, "grid");
	add_grid(grid, g);
	cJSON_AddNumberToObject(grid, "total", round1(g[0] + g[1] + g[2]));
	cJSON *loads = cJSON_AddArrayToObject(root, "loads");
	for (size_t i = 0; i < app->house.nloads; i++) {
		const struct sim_load *l = &app->house.loads[i];
		cJSON *o = cJSON_CreateObject();
		char ph[2] = {(char)('A' + l->phase), 0};
		cJSON_AddStringToObject(o, "name", l->name);
		cJSON_AddNumberToObject(o, "power", l->power);
		cJSON_AddStringToObject(o, "phase", ph);
		cJSON_AddBoolToObject(o, "active", l->active);
		cJSON_AddItemToArray(loads, o);
	}
	cJSON *solar = cJSON_AddObjectToObject(root, "solar");
	cJSON_AddNumberToObject(solar, "current", round1(app->house.solar));
	cJSON_AddNumberToObject(solar, "max", app->house.solar_max);
	cJSON *sp = cJSON_AddArrayToObject(solar, "phases");
	for (int p = 0; p < 3; p++) {
		char ph[2] = {(char)('A' + p), 0};
		if (app->house.solar_on[p])
			cJSON_AddItemToArray(sp, cJSON_CreateString(ph));
	}
	cJSON_AddBoolToObject(root, "auto_mode", app->house.auto_mode);
	cJSON *bats = cJSON_AddArrayToObject(root, "batteries");
	for (size_t i = 0; i < app->nbat; i++) {
		const struct sim_battery *b = &app->bat[i].b;
		cJSON *o = cJSON_CreateObject();
		char ph[2] = {b->cfg.phase, 0};
		cJSON_AddStringToObject(o, "mac", b->cfg.mac);
		cJSON_AddStringToObject(o, "phase", ph);
		cJSON_AddStringToObject(o, "meter_dev_type", b->cfg.dev_type);
		cJSON_AddNumberToObject(o, "power", (double)sim_round(b->power));
		cJSON_AddNumberToObject(o, "target", (double)sim_round(b->requested));
		cJSON_AddNumberToObject(o, "applied_target", (double)sim_round(b->target));
		cJSON_AddNumberToObject(o, "power_update_delay_ticks", b->cfg.delay_ticks);
		cJSON_AddNumberToObject(o, "soc", round(b->soc * 10000.0) / 10000.0);
		cJSON_AddNumberToObject(o, "max_charge", b->cfg.max_charge);
		cJSON_AddNumberToObject(o, "max_discharge", b->cfg.max_discharge);
		cJSON_AddNumberToObject(o, "max_dc_input", b->cfg.max_dc_input);
		cJSON_AddNumberToObject(o, "dc_input", (double)sim_round(b->dc_input));
		cJSON_AddNumberToObject(o, "timeouts", app->bat[i].timeouts);
		cJSON_AddItemToArray(bats, o);
	}
	char *s = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return s;
}

static char *json_msg(const char *key, const char *msg)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, key, msg);
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static int reply_err(char **out, int status, const char *msg)
{
	*out = json_msg("error", msg);
	return status;
}

static struct sim_bat_rt *find_battery(struct sim_app *app, const char *mac, size_t len)
{
	for (size_t i = 0; i < app->nbat; i++)
		if (strlen(app->bat[i].b.cfg.mac) == len &&
		    !strncasecmp(app->bat[i].b.cfg.mac, mac, len))
			return &app->bat[i];
	return NULL;
}

/* A JSON number, or a numeric string (the reference accepts float("0.5")). */
static int json_number(const cJSON *v, double *out)
{
	if (cJSON_IsNumber(v)) {
		*out = v->valuedouble;
		return isfinite(*out) ? 0 : -1;
	}
	if (cJSON_IsString(v)) {
		char *end;
		*out = strtod(v->valuestring, &end);
		return (end != v->valuestring && *end == '\0' && isfinite(*out)) ? 0 : -1;
	}
	return -1;
}

static int route_battery(struct sim_app *app, const char *rest, cJSON *body, char **out)
{
	const char *slash = strchr(rest, '/');
	if (!slash)
		return reply_err(out, 404, "not found");
	struct sim_bat_rt *r = find_battery(app, rest, (size_t)(slash - rest));
	if (!r)
		return reply_err(out, 404, "battery not found");
	const char *what = slash + 1;
	if (!body)
		return reply_err(out, 400, "invalid or missing JSON");
	double v;
	if (!strcmp(what, "soc")) {
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(body, "soc");
		if (!s)
			return reply_err(out, 400, "missing 'soc'");
		if (json_number(s, &v) < 0 || v < 0.0 || v > 1.0)
			return reply_err(out, 400, "invalid 'soc'");
		sim_bat_set_soc(&r->b, v);
	} else if (!strcmp(what, "max_power")) {
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(body, "charge");
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(body, "discharge");
		double cv = r->b.cfg.max_charge, dv = r->b.cfg.max_discharge;
		if ((c && json_number(c, &cv) < 0) || (d && json_number(d, &dv) < 0))
			return reply_err(out, 400, "invalid max power");
		if (cv < 0 || dv < 0 || cv > 100000 || dv > 100000)
			return reply_err(out, 400, "max power must be >= 0");
		r->b.cfg.max_charge = (int)cv;
		r->b.cfg.max_discharge = (int)dv;
	} else if (!strcmp(what, "dc")) {
		if (r->b.cfg.max_dc_input <= 0)
			return reply_err(out, 400, "battery has no DC input capability");
		const cJSON *w = cJSON_GetObjectItemCaseSensitive(body, "watts");
		if (!w)
			return reply_err(out, 400, "missing 'watts'");
		if (json_number(w, &v) < 0 || v < 0 || v > r->b.cfg.max_dc_input)
			return reply_err(out, 400, "invalid 'watts'");
		sim_bat_set_dc_input(&r->b, v);
	} else {
		return reply_err(out, 404, "not found");
	}
	*out = sim_app_status_json(app);
	return 200;
}

static ev_ms stop_loop(struct ev_loop *loop, void *arg)
{
	(void)arg;
	ev_stop(loop);
	return EV_STOP;
}

int sim_app_route(struct sim_app *app, const char *method, const char *path, const char *body,
                  size_t blen, char **out)
{
	*out = NULL;
	bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
	if (get && !strcmp(path, "/power")) {
		double g[3];
		meter_value(app, g);
		cJSON *o = cJSON_CreateObject();
		if (!o)
			return 500;
		add_grid(o, g);
		*out = cJSON_PrintUnformatted(o);
		cJSON_Delete(o);
		return 200;
	}
	if (get && !strcmp(path, "/status")) {
		*out = sim_app_status_json(app);
		return 200;
	}
	if (!post)
		return reply_err(out, get ? 404 : 405, get ? "not found" : "method not allowed");

	cJSON *j = blen ? cJSON_ParseWithLength(body, blen) : cJSON_CreateObject();
	if (j && !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		j = NULL;
	}
	int status = 200;
	int idx;
	char tail[16];
	if (sscanf(path, "/loads/%d/%15s", &idx, tail) == 2 && !strcmp(tail, "toggle")) {
		if (sim_house_toggle(&app->house, idx) < 0)
			status = reply_err(out, 400, "Load index out of range");
		else
			*out = sim_app_status_json(app);
	} else if (!strcmp(path, "/solar")) {
		const cJSON *w = j ? cJSON_GetObjectItemCaseSensitive(j, "watts") : NULL;
		double v;
		if (!j)
			status = reply_err(out, 400, "invalid or missing JSON");
		else if (!w)
			status = reply_err(out, 400, "missing 'watts'");
		else if (cJSON_IsString(w) && !strcmp(w->valuestring, "max"))
			sim_house_set_solar(&app->house, app->house.solar_max);
		else if (cJSON_IsString(w) && !strcmp(w->valuestring, "off"))
			sim_house_set_solar(&app->house, 0);
		else if (cJSON_IsNumber(w) && json_number(w, &v) == 0)
			sim_house_set_solar(&app->house, v);
		else
			status = reply_err(out, 400, "invalid watts");
		if (status == 200)
			*out = sim_app_status_json(app);
	} else if (!strncmp(path, "/batteries/", 11)) {
		status = route_battery(app, path + 11, j, out);
	} else if (!strcmp(path, "/auto")) {
		if (!j) {
			status = reply_err(out, 400, "invalid or missing JSON");
		} else {
			const cJSON *en = cJSON_GetObjectItemCaseSensitive(j, "enabled");
			app->house.auto_mode = en && (cJSON_IsTrue(en) ||
			                              (cJSON_IsNumber(en) && en->valuedouble != 0));
			*out = sim_app_status_json(app);
		}
	} else if (!strcmp(path, "/shutdown")) {
		app->shutdown = true;
		/* Stop shortly after, so this reply still goes out. */
		ev_timer_add(app->loop, 100, stop_loop, NULL);
		*out = json_msg("status", "shutting_down");
	} else {
		status = reply_err(out, 404, "not found");
	}
	cJSON_Delete(j);
	return status;
}

/* ---- HTTP server ---------------------------------------------------------------------- */

static void conn_close(struct sim_app *app, struct sim_conn *c)
{
	if (c->fd >= 0) {
		ev_io_del(app->loop, c->fd);
		(void)close(c->fd);
	}
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static void conn_flush(struct sim_app *app, struct sim_conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				(void)ev_io_mod(app->loop, c->fd, EV_READ | EV_WRITE);
				return;
			}
			conn_close(app, c);
			return;
		}
		c->outoff += (size_t)n;
	}
	free(c->out);
	c->out = NULL;
	c->outlen = c->outoff = 0;
	if (c->close_after_write) {
		conn_close(app, c);
		return;
	}
	(void)ev_io_mod(app->loop, c->fd, EV_READ);
}

static void conn_queue(struct sim_app *app, struct sim_conn *c, const char *data, size_t len)
{
	char *n = realloc(c->out, c->outlen + len);
	if (!n) {
		conn_close(app, c);
		return;
	}
	memcpy(n + c->outlen, data, len);
	c->out = n;
	c->outlen += len;
	conn_flush(app, c);
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Payload Too Large";
	default:
		return "Internal Server Error";
	}
}

static void conn_reply(struct sim_app *app, struct sim_conn *c, int status, const char *body)
{
	size_t blen = body ? strlen(body) : 0;
	char *msg = malloc(blen + 256);
	if (!msg) {
		conn_close(app, c);
		return;
	}
	int hn = snprintf(msg, 256,
	                  "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
	                  "Content-Length: %zu\r\nConnection: close\r\n\r\n",
	                  status, reason(status), blen);
	if (blen)
		memcpy(msg + hn, body, blen);
	/* One queue call: the connection closes as soon as this buffer is flushed. */
	c->close_after_write = true;
	conn_queue(app, c, msg, (size_t)hn + blen);
	free(msg);
}

static void conn_request(struct sim_app *app, struct sim_conn *c, size_t head_len, size_t body_len)
{
	char method[8], target[256];
	c->in[head_len - 1] = '\0';
	if (sscanf(c->in, "%7s %255s", method, target) != 2) {
		conn_reply(app, c, 400, "{\"error\":\"bad request\"}");
		return;
	}
	char *q = strchr(target, '?');
	if (q)
		*q = '\0';
	if (!strcmp(method, "GET") && !strcmp(target, "/events")) {
		static const char h[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
		                        "Cache-Control: no-cache\r\nConnection: keep-alive\r\n\r\n";
		c->sse = true;
		conn_queue(app, c, h, sizeof(h) - 1);
		return;
	}
	char *out = NULL;
	int status = sim_app_route(app, method, target, c->in + head_len, body_len, &out);
	conn_reply(app, c, out ? status : 500, out ? out : "{\"error\":\"out of memory\"}");
	free(out);
}

static void conn_io(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	struct sim_app *app = arg;
	struct sim_conn *c = NULL;
	(void)loop;
	for (size_t i = 0; i < SIM_MAX_CONNS; i++)
		if (app->conns[i].fd == fd)
			c = &app->conns[i];
	if (!c)
		return;
	if (events & EV_WRITE) {
		conn_flush(app, c);
		if (c->fd < 0)
			return;
	}
	if (!(events & (EV_READ | EV_ERROR)))
		return;
	if (c->sse || c->close_after_write) {
		/* Nothing more expected from the peer; EOF or error ends the stream. */
		char tmp[256];
		ssize_t n = recv(fd, tmp, sizeof(tmp), 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
			conn_close(app, c);
		return;
	}
	ssize_t n = recv(fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen, 0);
	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			conn_close(app, c);
		return;
	}
	c->inlen += (size_t)n;
	c->in[c->inlen] = '\0';
	char *eoh = strstr(c->in, "\r\n\r\n");
	if (!eoh) {
		if (c->inlen >= sizeof(c->in) - 1)
			conn_reply(app, c, 413, "{\"error\":\"request too large\"}");
		return;
	}
	size_t head_len = (size_t)(eoh - c->in) + 4;
	size_t clen = 0;
	for (char *p = c->in; p && p < eoh; p = strstr(p, "\r\n")) {
		p += (*p == '\r') ? 2 : 0;
		if (!strncasecmp(p, "Content-Length:", 15)) {
			clen = (size_t)strtoul(p + 15, NULL, 10);
			break;
		}
	}
	if (clen > sizeof(c->in) - 1 - head_len) {
		conn_reply(app, c, 413, "{\"error\":\"request too large\"}");
		return;
	}
	if (c->inlen < head_len + clen)
		return; /* body still arriving */
	conn_request(app, c, head_len, clen);
}

static void http_accept(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	struct sim_app *app = arg;
	(void)events;
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0)
			return;
		struct sim_conn *c = NULL;
		for (size_t i = 0; i < SIM_MAX_CONNS && !c; i++)
			if (app->conns[i].fd < 0)
				c = &app->conns[i];
		if (!c || ev_io_add(loop, cfd, EV_READ, conn_io, app) < 0) {
			(void)close(cfd); /* full: shed load rather than queue */
			continue;
		}
		c->fd = cfd;
	}
}

static ev_ms sse_tick(struct ev_loop *loop, void *arg)
{
	struct sim_app *app = arg;
	(void)loop;
	char *st = NULL;
	for (size_t i = 0; i < SIM_MAX_CONNS; i++) {
		struct sim_conn *c = &app->conns[i];
		if (c->fd < 0 || !c->sse)
			continue;
		if (!st && !(st = sim_app_status_json(app)))
			break;
		if (c->outlen > 65536) {
			conn_close(app, c); /* a reader that stopped reading */
			continue;
		}
		static const char pre[] = "event: status\ndata: ";
		conn_queue(app, c, pre, sizeof(pre) - 1);
		if (c->fd >= 0)
			conn_queue(app, c, st, strlen(st));
		if (c->fd >= 0)
			conn_queue(app, c, "\n\n", 2);
	}
	free(st);
	return 1000;
}

static int http_open(struct sim_app *app, struct err *e)
{
	struct sockaddr_in sa;
	if (resolve4(app->cfg.http_host, app->cfg.http_port, &sa, e) < 0)
		return -1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(e, "socket: %s", strerror(errno));
	int one = 1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
		int en = errno;
		(void)close(fd);
		return err_set(e, "HTTP %s:%u: %s", app->cfg.http_host, app->cfg.http_port,
		               strerror(en));
	}
	if (ev_io_add(app->loop, fd, EV_READ, http_accept, app) < 0) {
		(void)close(fd);
		return err_set(e, "ev_io_add: %s", strerror(errno));
	}
	app->http_fd = fd;
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
		meter_value(app, g);
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
	for (size_t i = 0; i < SIM_MAX_CONNS; i++)
		app->conns[i].fd = -1;
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
	if (http_open(app, e) < 0)
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
	    !ev_timer_add(loop, 1000, sse_tick, app) || !ev_timer_add(loop, 0, log_tick, app) ||
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
	for (size_t i = 0; i < SIM_MAX_CONNS; i++)
		if (app->conns[i].fd >= 0)
			conn_close(app, &app->conns[i]);
	if (app->http_fd >= 0) {
		ev_io_del(app->loop, app->http_fd);
		(void)close(app->http_fd);
		app->http_fd = -1;
	}
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
