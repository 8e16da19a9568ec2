/* SPDX-License-Identifier: GPL-3.0-or-later */
/* HOMEWIZARD powermeter: a push source on the HomeWizard P1 dongle's WebSocket API (v2).
 *
 * wss://IP/api/ws with TLS verified against HomeWizard's own CA (shipped as
 * share/astrameter/homewizard_ca.pem) and the device name appliance/p1dongle/<SERIAL>
 * (the certificate is issued to that name, not to the address). On
 * authorization_requested we send TOKEN, on authorized we subscribe to "measurement", and
 * every measurement publishes power_l1..l3_w (three values) or power_w (one).
 *
 * Two timers guard against a dongle that goes quiet (seen in the field: it keeps the TCP
 * connection and answers pings but stops measuring): a reading older than 30 s fails the
 * meter (hold answer), and 45 s without a measurement drop the connection and reconnect
 * 5 s later. A disconnect alone does not invalidate the value (as the reference): the
 * 30 s staleness bound does. The WebSocket pings after 30 s of silence. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "astrameter/pm_homewizard.h"
#include "astrameter/powermeter.h"
#include "astrameter/ws.h"

#ifndef AM_DATADIR
#define AM_DATADIR "/usr/local/share/astrameter"
#endif

#define HW_RECONNECT_MS 5000
#define HW_HEARTBEAT_MS 30000

struct hw {
	struct pm_meter *m;
	char host[256];
	uint16_t port;
	char host_hdr[300];
	char tls_name[300];
	const char *token, *ca_file;
	bool verify;

	struct ws_conn *ws;
	uint64_t retry_timer, watchdog_timer, stale_timer;
	bool stopped;
};

static void free_secret(char *s)
{
	if (!s)
		return;
	volatile char *p = s;
	while (*p)
		*p++ = '\0';
	free(s);
}

/* IP may carry a port ("192.168.1.5:8443", "[fe80::1]:443"), as the reference's URL
 * f"wss://{ip}/api/ws" allows. */
static int split_host(const char *ip, char *host, size_t cap, uint16_t *port)
{
	*port = 443;
	const char *colon = NULL;
	size_t hl;
	if (ip[0] == '[') {
		const char *rb = strchr(ip, ']');
		if (!rb)
			return -1;
		hl = (size_t)(rb - ip - 1);
		if (hl >= cap)
			return -1;
		memcpy(host, ip + 1, hl);
		host[hl] = '\0';
		if (rb[1] == ':')
			colon = rb + 1;
		else if (rb[1])
			return -1;
	} else {
		colon = strchr(ip, ':');
		if (colon && strchr(colon + 1, ':')) {
			colon = NULL; /* a bare IPv6 address */
			hl = strlen(ip);
		} else {
			hl = colon ? (size_t)(colon - ip) : strlen(ip);
		}
		if (hl == 0 || hl >= cap)
			return -1;
		memcpy(host, ip, hl);
		host[hl] = '\0';
	}
	if (colon) {
		char *end;
		unsigned long p = strtoul(colon + 1, &end, 10);
		if (!colon[1] || *end || p == 0 || p > 65535)
			return -1;
		*port = (uint16_t)p;
	}
	return 0;
}

static int hw_configure(struct pm_meter *m, struct cfg_section *sec, struct err *e)
{
	struct hw *h = m->priv;
	h->m = m;
	const char *ip, *serial;
	if (cfg_get_str(sec, "ip", NULL, &ip, e) != 0 ||
	    cfg_get_str(sec, "token", NULL, &h->token, e) != 0 ||
	    cfg_get_str(sec, "serial", NULL, &serial, e) != 0 ||
	    cfg_get_bool(sec, "verify_ssl", true, &h->verify, e) != 0 ||
	    cfg_get_str(sec, "ca_file", AM_DATADIR "/homewizard_ca.pem", &h->ca_file, e) != 0)
		return -1;
	if (!ip || !*ip)
		return err_set(e, "[%s] IP: required", sec->name);
	if (split_host(ip, h->host, sizeof(h->host), &h->port) != 0)
		return err_set(e, "[%s] IP: bad address '%s'", sec->name, ip);
	snprintf(h->host_hdr, sizeof(h->host_hdr), "%s", ip);
	if (!h->token || !*h->token)
		return err_set(e, "[%s] TOKEN: required (create one with POST /api/user)",
		               sec->name);
	if (h->verify && (!serial || !*serial))
		return err_set(e,
		               "[%s] SERIAL: required to verify the device certificate (or "
		               "VERIFY_SSL = False)",
		               sec->name);
	snprintf(h->tls_name, sizeof(h->tls_name), "appliance/p1dongle/%s", serial ? serial : "");
	if (!h->verify)
		log_warnx(m->name, "TLS certificate verification is disabled (VERIFY_SSL = False); "
		                   "use only on a trusted LAN");
	else if (access(h->ca_file, R_OK) != 0)
		log_warnx(m->name, "HomeWizard CA file %s is not readable (set CA_FILE)",
		          h->ca_file);
	return 0;
}

static void hw_connect(struct hw *h);

static ev_ms retry_cb(struct ev_loop *loop, void *arg)
{
	(void)loop;
	struct hw *h = arg;
	h->retry_timer = 0;
	hw_connect(h);
	return EV_STOP;
}

static void drop_connection(struct hw *h)
{
	ws_free(h->ws);
	h->ws = NULL;
	if (h->watchdog_timer)
		ev_timer_del(h->m->ctx->loop, h->watchdog_timer);
	h->watchdog_timer = 0;
	if (!h->stopped && !h->retry_timer)
		h->retry_timer = ev_timer_add(h->m->ctx->loop, HW_RECONNECT_MS, retry_cb, h);
}

static ev_ms watchdog_cb(struct ev_loop *loop, void *arg)
{
	(void)loop;
	struct hw *h = arg;
	h->watchdog_timer = 0;
	log_warnx(h->m->name, "no measurement for %d s, closing the WebSocket to reconnect",
	          HW_WATCHDOG_MS / 1000);
	drop_connection(h);
	return EV_STOP;
}

static ev_ms stale_cb(struct ev_loop *loop, void *arg)
{
	(void)loop;
	struct hw *h = arg;
	h->stale_timer = 0;
	pm_meter_fail(h->m, "HomeWizard measurement is stale (no new one for %d s)",
	              HW_MAX_AGE_MS / 1000);
	return EV_STOP;
}

static void arm(struct hw *h, uint64_t *id, ev_ms delay, ev_timer_fn *fn)
{
	if (*id && ev_timer_reset(h->m->ctx->loop, *id, delay) == 0)
		return;
	*id = ev_timer_add(h->m->ctx->loop, delay, fn, h);
}

static void send_json(struct hw *h, char *msg)
{
	if (!msg) {
		log_error(h->m->name, "out of memory building a message");
		return;
	}
	if (ws_send_text(h->ws, msg, strlen(msg)) != 0)
		log_warnx(h->m->name, "could not queue a WebSocket message");
	free_secret(msg);
}

static void on_open(struct ws_conn *c, void *arg)
{
	(void)c;
	struct hw *h = arg;
	log_info(h->m->name, "HomeWizard WebSocket connected to %s", h->host_hdr);
	arm(h, &h->watchdog_timer, HW_WATCHDOG_MS, watchdog_cb);
}

static void on_text(struct ws_conn *c, const char *msg, size_t len, void *arg)
{
	(void)c;
	struct hw *h = arg;
	struct pm_reading r;
	int have;
	struct err e;
	switch (pm_hw_handle_message(msg, len, &r, &have, &e)) {
	case HW_MSG_AUTH_REQ:
		send_json(h, pm_hw_msg_auth(h->token));
		break;
	case HW_MSG_AUTHORIZED:
		log_info(h->m->name, "HomeWizard: authorized, subscribing to measurements");
		send_json(h, pm_hw_msg_subscribe());
		break;
	case HW_MSG_MEASUREMENT:
		if (!have) {
			log_debug(h->m->name, "measurement ignored: %s", e.msg);
			break;
		}
		arm(h, &h->watchdog_timer, HW_WATCHDOG_MS, watchdog_cb);
		arm(h, &h->stale_timer, HW_MAX_AGE_MS, stale_cb);
		pm_meter_publish(h->m, &r);
		break;
	case HW_MSG_ERROR:
		log_error(h->m->name, "HomeWizard error: %s", e.msg);
		break;
	case HW_MSG_BAD:
		log_warnx(h->m->name, "cannot decode a message: %s", e.msg);
		break;
	case HW_MSG_OTHER:
		break;
	}
}

static void on_close(struct ws_conn *c, const char *why, void *arg)
{
	(void)c;
	struct hw *h = arg;
	log_info(h->m->name, "HomeWizard WebSocket closed: %s", why);
	/* Not a failure of the reading (the staleness timer decides that), but it should be
	 * visible in the log without flooding it while the dongle is away. */
	log_complain(&h->m->complain, ev_now(h->m->ctx->loop), h->m->name,
	             "HomeWizard connection: %s", why);
	drop_connection(h);
}

static void hw_connect(struct hw *h)
{
	if (h->stopped || h->ws)
		return;
	struct ws_opts o = {
	        .host = h->host,
	        .port = h->port,
	        .path = "/api/ws",
	        .tls = true,
	        .verify = h->verify,
	        .ca_file = h->ca_file,
	        .tls_name = h->tls_name,
	        .host_hdr = h->host_hdr,
	        .ping_ms = HW_HEARTBEAT_MS,
	        .pong_ms = HW_HEARTBEAT_MS / 2,
	};
	static const struct ws_handlers hd = {on_open, on_text, on_close};
	struct err e;
	h->ws = ws_open(h->m->ctx->loop, &o, &hd, h, &e);
	if (!h->ws) {
		pm_meter_fail(h->m, "%s", e.msg);
		if (!h->retry_timer)
			h->retry_timer =
			        ev_timer_add(h->m->ctx->loop, HW_RECONNECT_MS, retry_cb, h);
	}
}

static int hw_start(struct pm_meter *m, struct err *e)
{
	struct hw *h = m->priv;
	if (!m->ctx || !m->ctx->loop)
		return err_set(e, "[%s] no event loop", m->name);
	h->stopped = false;
	hw_connect(h);
	return 0;
}

static void hw_stop(struct pm_meter *m)
{
	struct hw *h = m->priv;
	if (!h)
		return;
	h->stopped = true;
	ws_free(h->ws);
	h->ws = NULL;
	if (m->ctx && m->ctx->loop) {
		ev_timer_del(m->ctx->loop, h->retry_timer);
		ev_timer_del(m->ctx->loop, h->watchdog_timer);
		ev_timer_del(m->ctx->loop, h->stale_timer);
	}
	h->retry_timer = h->watchdog_timer = h->stale_timer = 0;
}

const struct pm_driver pm_homewizard_driver = {
        .name = "HOMEWIZARD",
        .priv_size = sizeof(struct hw),
        .push = true,
        .configure = hw_configure,
        .start = hw_start,
        .stop = hw_stop,
        .poll = NULL,
        .keys = "IP TOKEN SERIAL VERIFY_SSL CA_FILE+",
};
