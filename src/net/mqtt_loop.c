/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libmosquitto driven by our epoll loop (see mqtt_loop.h for the contract). States:
 *
 *   WAIT ──attempt──> LOOKUP (resolve.h) ──addresses──> CONNECTING (address i)
 *     ^                                                  |   |  fails, another address:
 *     |                                                  |   └──> NEXT ──timer──┘ (i + 1)
 *     |                                                  | CONNACK 0
 *     └──── fail (backoff timer) <──── last address failed / lost ──── CONNECTED
 *
 * The library only ever sees numeric addresses (its getaddrinfo on those does no DNS), so
 * it is called from the loop thread alone. Moving to the next address goes through a
 * zero-delay timer: a failure is often reported from inside mosquitto_loop_read, where
 * starting a new connect would pull the socket from under the library.
 *
 * Backpressure once CONNECTED (flow.h): every message read may queue an answer (a PUBACK
 * for QoS 1, a PUBREC for QoS 2) that libmosquitto keeps until the broker takes it, and
 * its queue cannot be counted, only asked about (mosquitto_want_write). So while anything
 * waits to go out we stop reading (EV_WRITE only) until the write side drains, and a
 * broker that leaves it waiting ML_LIMITS.stall_ms is dropped (reconnect and back-off
 * follow). Each wakeup makes one mosquitto_loop_read call, which reads one packet (more
 * only while QoS>0 messages of ours are in flight). Not while CONNECTING: the TLS
 * handshake and the CONNECT packet are driven by loop_read while want_write holds. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <mosquitto.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "astrameter/flow.h"
#include "astrameter/log.h"
#include "astrameter/mqtt_loop.h"
#include "astrameter/resolve.h"

#define MISC_MS 1000

/* The "anything queued" mode of flow.h: 1 message while want_write, soft cap 0. The
 * budget fields are unused (one loop_read call per wakeup). */
static const struct flow_limits ML_LIMITS = {
        .read_bytes = SIZE_MAX,
        .read_msgs = SIZE_MAX,
        .soft_bytes = SIZE_MAX,
        .soft_msgs = 0,
        .hard_bytes = SIZE_MAX,
        .hard_msgs = SIZE_MAX,
        .stall_ms = 10000,
};

enum ml_state { ML_IDLE, ML_WAIT, ML_LOOKUP, ML_NEXT, ML_CONNECTING, ML_CONNECTED };

struct mqtt_loop {
	struct ev_loop *loop;
	struct mosquitto *mosq;
	char *name, *host, *user, *pass, *ca_file;
	char *will_topic, *will_payload;
	bool will_retain, tls;
	int port, keepalive;
	ev_ms backoff_min, backoff_max, connect_timeout;
	struct mqtt_loop_cbs cb;
	void *arg;

	enum ml_state state;
	int fd; /* registered socket, -1 if none */
	ev_ms attempt_at;
	ev_ms backoff; /* next retry delay */
	uint64_t misc_timer, retry_timer;
	struct rsv_req *lookup;   /* in LOOKUP */
	struct rsv_result *addrs; /* of the current attempt */
	size_t ai;                /* the address being tried */
	ev_ms addr_deadline;      /* give up on this address (CONNECTING) */
	char tried[320];          /* "addr: why; ..." of the addresses that failed */
	char last_why[128];       /* why the last one failed */
	unsigned connects;
	char refused[96]; /* CONNACK reason of the current attempt */
	struct log_complain complain;
	bool lib_ref;
	struct flow flow; /* paused: output waiting, not reading */
};

static void ml_attempt(struct mqtt_loop *ml);
static bool ml_next_address(struct mqtt_loop *ml, const char *why);

static char *dup_or_null(const char *s, bool *oom)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

/* ---------------------------------------------------------------- socket registration */

static void ml_unwatch(struct mqtt_loop *ml)
{
	if (ml->fd >= 0)
		ev_io_del(ml->loop, ml->fd);
	ml->fd = -1;
}

static void ml_io(struct ev_loop *loop, int fd, unsigned events, void *arg);

/* Brings the epoll registration in line with the client: the current socket, EV_WRITE
 * only while the library has something to send. Called after every library call. */
static void ml_sync(struct mqtt_loop *ml)
{
	if (ml->state != ML_CONNECTING && ml->state != ML_CONNECTED) {
		ml_unwatch(ml);
		return;
	}
	int fd = mosquitto_socket(ml->mosq);
	if (fd != ml->fd)
		ml_unwatch(ml);
	if (fd < 0)
		return;
	bool out = mosquitto_want_write(ml->mosq);
	if (ml->state == ML_CONNECTED)
		(void)flow_update(&ml->flow, &ML_LIMITS, 0, out ? 1 : 0, ev_now(ml->loop));
	else
		flow_init(&ml->flow);
	unsigned want = (ml->flow.paused ? 0u : EV_READ) | (out ? EV_WRITE : 0u);
	if (ml->fd < 0) {
		if (ev_io_add(ml->loop, fd, want, ml_io, ml) != 0) {
			log_warnx(ml->name, "cannot watch the MQTT socket: %s", strerror(errno));
			return;
		}
		ml->fd = fd;
	} else {
		(void)ev_io_mod(ml->loop, fd, want);
	}
}

/* ---------------------------------------------------------------- failure and retry */

static ev_ms ml_retry_cb(struct ev_loop *loop, void *arg)
{
	(void)loop;
	struct mqtt_loop *ml = arg;
	ml->retry_timer = 0;
	if (ml->state == ML_WAIT)
		ml_attempt(ml);
	return EV_STOP;
}

/* The current attempt or connection is over: forget the socket (the next connect call
 * closes it inside the library), tell the owner if it was up, retry after the backoff. */
static void ml_fail(struct mqtt_loop *ml, const char *why)
{
	if (ml->state != ML_CONNECTING && ml->state != ML_CONNECTED)
		return;
	if (ml->state == ML_CONNECTING && ml_next_address(ml, why))
		return;
	bool was_up = ml->state == ML_CONNECTED;
	ml->state = ML_WAIT;
	flow_init(&ml->flow);
	ml_unwatch(ml);
	ev_ms delay = ml->backoff;
	char every[400];
	if (!was_up && ml->addrs && ml->addrs->n > 1) {
		/* Name every address and why each failed, not only the last. */
		snprintf(every, sizeof(every), "every address failed: %s", ml->tried);
		why = every;
	}
	if (was_up) {
		delay = ml->backoff_min;
		log_warnx(ml->name, "connection to MQTT broker %s:%d lost (%s); reconnecting",
		          ml->host, ml->port, why);
	} else {
		log_complain(&ml->complain, ev_now(ml->loop), ml->name,
		             "cannot connect to MQTT broker %s:%d: %s; retrying in %lld ms",
		             ml->host, ml->port, why, (long long)delay);
	}
	ml->backoff = delay * 2 > ml->backoff_max ? ml->backoff_max : delay * 2;
	ml->retry_timer = ev_timer_add(ml->loop, delay, ml_retry_cb, ml);
	if (was_up && ml->cb.disconnected)
		ml->cb.disconnected(ml, why, ml->arg);
}

static const char *rc_text(int rc, int err)
{
	if (rc == MOSQ_ERR_ERRNO)
		return strerror(err);
	return mosquitto_strerror(rc);
}

/* ---------------------------------------------------------------- library callbacks */

static void on_connect(struct mosquitto *mosq, void *arg, int rc)
{
	(void)mosq;
	struct mqtt_loop *ml = arg;
	if (rc != 0) {
		/* The library closes the socket and reports it through on_disconnect. */
		snprintf(ml->refused, sizeof(ml->refused), "%s", mosquitto_connack_string(rc));
		return;
	}
	ml->state = ML_CONNECTED;
	ml->backoff = ml->backoff_min;
	ml->connects++;
	ml->refused[0] = '\0';
	char at[80] = "", addr[64];
	if (ml->addrs && ml->ai < ml->addrs->n && !rsv_is_literal(ml->host))
		snprintf(at, sizeof(at), " at %s",
		         rsv_addr_str(&ml->addrs->addr[ml->ai], addr, sizeof(addr)));
	if (!log_release(&ml->complain, ml->name, "connected to MQTT broker %s:%d%s%s", ml->host,
	                 ml->port, at, ml->tls ? " (TLS)" : ""))
		log_info(ml->name, "connected to MQTT broker %s:%d%s%s", ml->host, ml->port, at,
		         ml->tls ? " (TLS)" : "");
	if (ml->cb.connected)
		ml->cb.connected(ml, ml->arg);
}

static void on_disconnect(struct mosquitto *mosq, void *arg, int rc)
{
	(void)mosq;
	struct mqtt_loop *ml = arg;
	char why[128];
	if (ml->refused[0])
		snprintf(why, sizeof(why), "refused: %s", ml->refused);
	else
		snprintf(why, sizeof(why), "%s",
		         rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
	ml_fail(ml, why);
}

static void on_message(struct mosquitto *mosq, void *arg, const struct mosquitto_message *msg)
{
	(void)mosq;
	struct mqtt_loop *ml = arg;
	if (ml->cb.message && msg && msg->topic)
		ml->cb.message(ml, msg->topic, msg->payload ? msg->payload : "",
		               msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0, ml->arg);
}

/* ---------------------------------------------------------------- loop callbacks */

/* A broker that has not taken our output for ML_LIMITS.stall_ms (we stopped reading
 * meanwhile) is dropped; ml_sync keeps the pause state current. */
static void ml_check_stall(struct mqtt_loop *ml)
{
	if (ml->state != ML_CONNECTED || !ml->flow.paused)
		return;
	ev_ms now = ev_now(ml->loop);
	if (flow_stall_in(&ml->flow, &ML_LIMITS, now) != 0)
		return;
	char why[96];
	snprintf(why, sizeof(why), "broker is not reading: output waiting for %lld ms",
	         (long long)(now - ml->flow.paused_since));
	ml_fail(ml, why);
}

static void ml_io(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	(void)loop;
	struct mqtt_loop *ml = arg;
	if (ml->state == ML_CONNECTING && ml->tls && (events & EV_ERROR)) {
		/* A refused connect. Over TLS the library takes it for "try again" (its
		 * SSL_connect already consumed the error) and would leave us spinning on the
		 * hangup until the timeout: a socket that never got connected has failed. */
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		struct sockaddr_storage peer;
		socklen_t pl = sizeof(peer);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
			soerr = errno;
		if (soerr != 0 || getpeername(fd, (struct sockaddr *)&peer, &pl) != 0) {
			ml_fail(ml, soerr ? strerror(soerr) : "connection failed");
			ml_sync(ml);
			return;
		}
	}
	int rc = MOSQ_ERR_SUCCESS;
	/* Paused, only an error gets a read (to learn what happened). */
	if ((events & EV_ERROR) || ((events & EV_READ) && !ml->flow.paused))
		rc = mosquitto_loop_read(ml->mosq, 1);
	int err = errno;
	/* on_disconnect may have run inside loop_read: then the state is WAIT already. */
	if (rc == MOSQ_ERR_SUCCESS && (events & EV_WRITE) &&
	    (ml->state == ML_CONNECTING || ml->state == ML_CONNECTED)) {
		rc = mosquitto_loop_write(ml->mosq, 1);
		err = errno;
	}
	if (rc != MOSQ_ERR_SUCCESS)
		ml_fail(ml, rc_text(rc, err)); /* no-op if on_disconnect handled it */
	ml_sync(ml);
	ml_check_stall(ml);
}

static ev_ms ml_misc_cb(struct ev_loop *loop, void *arg)
{
	struct mqtt_loop *ml = arg;
	if (ml->state == ML_LOOKUP && ev_now(loop) - ml->attempt_at >= ml->connect_timeout) {
		rsv_cancel(ml->lookup); /* never waits: the lookup thread is abandoned */
		ml->lookup = NULL;
		ml->state = ML_CONNECTING; /* count it as a failed attempt */
		ml_fail(ml, "name lookup timed out");
	} else if (ml->state == ML_CONNECTING && ev_now(loop) >= ml->addr_deadline) {
		ml_fail(ml, "no answer from the broker in time");
	} else if (ml->state == ML_CONNECTING || ml->state == ML_CONNECTED) {
		int rc = mosquitto_loop_misc(ml->mosq);
		if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN)
			ml_fail(ml, mosquitto_strerror(rc));
		else if (mosquitto_socket(ml->mosq) < 0)
			ml_fail(ml, "keepalive timeout");
	}
	ml_sync(ml);
	ml_check_stall(ml);
	return MISC_MS;
}

/* ---------------------------------------------------------------- connecting */

static void ml_note_failure(struct mqtt_loop *ml, const char *why)
{
	char addr[64];
	snprintf(ml->last_why, sizeof(ml->last_why), "%s", why);
	size_t used = strlen(ml->tried);
	if (!ml->addrs || ml->ai >= ml->addrs->n || used + 1 >= sizeof(ml->tried))
		return;
	snprintf(ml->tried + used, sizeof(ml->tried) - used, "%s%s: %s", used ? "; " : "",
	         rsv_addr_str(&ml->addrs->addr[ml->ai], addr, sizeof(addr)), why);
}

/* Starts a nonblocking connect to address ml->ai, then the following ones while the call
 * itself fails. 0 once one is under way (CONNECTING), -1 when every address failed. */
static int ml_connect_from(struct mqtt_loop *ml)
{
	for (; ml->ai < ml->addrs->n; ml->ai++) {
		const struct rsv_addr *a = &ml->addrs->addr[ml->ai];
		char ip[INET6_ADDRSTRLEN];
		const void *raw =
		        a->family == AF_INET6
		                ? (const void *)&((const struct sockaddr_in6 *)&a->ss)->sin6_addr
		                : (const void *)&((const struct sockaddr_in *)&a->ss)->sin_addr;
		if (!inet_ntop(a->family, raw, ip, sizeof(ip)))
			continue;
		/* The remaining time is shared among the remaining addresses, so one that
		 * swallows packets does not use up the attempt (at least a second each). */
		ev_ms now = ev_now(ml->loop);
		ev_ms left = ml->attempt_at + ml->connect_timeout - now;
		ev_ms share = left / (ev_ms)(ml->addrs->n - ml->ai);
		ml->addr_deadline = now + (share > 1000 ? share : 1000);
		log_debug(ml->name, "connecting to MQTT broker %s:%d at %s", ml->host, ml->port,
		          ip);
		ml->refused[0] = '\0';
		int rc = mosquitto_connect_bind_async(ml->mosq, ip, ml->port, ml->keepalive, NULL);
		if (rc == MOSQ_ERR_SUCCESS) {
			ml->state = ML_CONNECTING;
			ml_sync(ml);
			return 0;
		}
		ml_note_failure(ml, rc_text(rc, errno));
	}
	return -1;
}

static ev_ms ml_next_cb(struct ev_loop *loop, void *arg)
{
	(void)loop;
	struct mqtt_loop *ml = arg;
	ml->retry_timer = 0;
	if (ml->state != ML_NEXT)
		return EV_STOP;
	if (ml_connect_from(ml) != 0) {
		ml->state = ML_CONNECTING; /* the last address failed: one failed attempt */
		ml->ai = ml->addrs->n;
		ml_fail(ml, ml->last_why);
	}
	return EV_STOP;
}

/* The connect to the current address failed (why): note it and, if another address is
 * left, move on to it from a fresh loop round. false when none is left. */
static bool ml_next_address(struct mqtt_loop *ml, const char *why)
{
	if (!ml->addrs || ml->ai >= ml->addrs->n)
		return false;
	ml_note_failure(ml, why);
	if (ml->ai + 1 >= ml->addrs->n)
		return false;
	ml->ai++;
	ml->state = ML_NEXT;
	ml_unwatch(ml);
	ml->retry_timer = ev_timer_add(ml->loop, 0, ml_next_cb, ml);
	if (!ml->retry_timer) {
		ml->state = ML_CONNECTING;
		ml->ai = ml->addrs->n;
		return false;
	}
	return true;
}

static void ml_resolved(struct rsv_result *res, int err, void *arg)
{
	struct mqtt_loop *ml = arg;
	ml->lookup = NULL;
	if (ml->state != ML_LOOKUP) {
		free(res);
		return;
	}
	if (!res) {
		ml->state = ML_CONNECTING; /* count it as a failed attempt */
		char why[160];
		snprintf(why, sizeof(why), "cannot resolve %s: %s", ml->host, rsv_strerror(err));
		ml_fail(ml, why);
		return;
	}
	free(ml->addrs);
	ml->addrs = res;
	ml->ai = 0;
	if (ml_connect_from(ml) != 0) {
		ml->state = ML_CONNECTING;
		ml_fail(ml, ml->addrs->n > 1 ? "no address left" : ml->last_why);
	}
}

static void ml_attempt(struct mqtt_loop *ml)
{
	ml->attempt_at = ev_now(ml->loop);
	ml->refused[0] = '\0';
	ml->tried[0] = '\0';
	free(ml->addrs);
	ml->addrs = NULL;
	ml->ai = 0;
	log_debug(ml->name, "connecting to MQTT broker %s:%d", ml->host, ml->port);
	/* A name is looked up again on every attempt (the broker may have moved); a literal
	 * address comes back from the resolver on the next round without a thread. */
	char port[8];
	snprintf(port, sizeof(port), "%d", ml->port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct rsv *svc = rsv_of(ml->loop);
	ml->state = ML_LOOKUP;
	ml->lookup = svc ? rsv_resolve(svc, ml->host, port, &hints, ml_resolved, ml) : NULL;
	if (!ml->lookup) {
		int err = errno;
		ml->state = ML_CONNECTING;
		ml_fail(ml, err ? strerror(err) : "cannot start the name lookup");
	}
}

/* ---------------------------------------------------------------- public */

/* TLS to a broker given by name. The library is handed numeric addresses, so its own
 * checks would look at the address: SNI would carry it and the certificate would be
 * matched against it. Our context restores both: OpenSSL matches the certificate against
 * the configured name, and the info callback puts the name into SNI just before the
 * ClientHello is built (after the library set the address there). */
static void ml_tls_info(const SSL *ssl, int where, int ret)
{
	(void)ret;
	if (!(where & SSL_CB_HANDSHAKE_START))
		return;
	const char *name = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	if (name)
		(void)SSL_set_tlsext_host_name((SSL *)ssl, name);
}

static int ml_tls_by_name(struct mqtt_loop *ml, struct err *e)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return err_set(e, "cannot create a TLS context");
	int ok = SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1;
	if (ok && ml->ca_file)
		ok = SSL_CTX_load_verify_locations(ctx, ml->ca_file, NULL);
	else if (ok)
		ok = SSL_CTX_set_default_verify_paths(ctx);
	if (!ok) {
		SSL_CTX_free(ctx);
		return err_set(e, "cannot load the CA certificates%s%s",
		               ml->ca_file ? " from " : "", ml->ca_file ? ml->ca_file : "");
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (X509_VERIFY_PARAM_set1_host(param, ml->host, 0) != 1) {
		SSL_CTX_free(ctx);
		return err_set(e, "bad TLS host name %s", ml->host);
	}
	(void)SSL_CTX_set_app_data(ctx, ml->host);
	SSL_CTX_set_info_callback(ctx, ml_tls_info);
	/* Ours as it is: without this the library insists on its own CA settings. */
	int rc = mosquitto_int_option(ml->mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
	if (rc == MOSQ_ERR_SUCCESS) /* takes a reference */
		rc = mosquitto_void_option(ml->mosq, MOSQ_OPT_SSL_CTX, ctx);
	SSL_CTX_free(ctx);
	if (rc != MOSQ_ERR_SUCCESS)
		return err_set(e, "MQTT TLS setup failed: %s", mosquitto_strerror(rc));
	return 0;
}

struct mqtt_loop *mqtt_loop_new(struct ev_loop *loop, const struct mqtt_loop_opts *o,
                                const struct mqtt_loop_cbs *cbs, void *arg, struct err *e)
{
	if (!o->host || !*o->host) {
		err_set(e, "no MQTT broker given");
		return NULL;
	}
	if (o->port < 0 || o->port > 65535) {
		err_set(e, "MQTT port %d out of range", o->port);
		return NULL;
	}
	struct mqtt_loop *ml = calloc(1, sizeof(*ml));
	if (!ml) {
		err_set(e, "out of memory");
		return NULL;
	}
	bool oom = false;
	ml->loop = loop;
	ml->fd = -1;
	ml->name = dup_or_null(o->name ? o->name : "mqtt", &oom);
	ml->host = dup_or_null(o->host, &oom);
	ml->user = dup_or_null(o->username, &oom);
	ml->pass = dup_or_null(o->password, &oom);
	ml->ca_file = dup_or_null(o->ca_file, &oom);
	ml->will_topic = dup_or_null(o->will_topic, &oom);
	ml->will_payload = dup_or_null(o->will_payload, &oom);
	ml->will_retain = o->will_retain;
	ml->tls = o->tls;
	ml->port = o->port ? o->port : (o->tls ? 8883 : 1883);
	ml->keepalive = o->keepalive_s > 0 ? o->keepalive_s : 60;
	ml->backoff_min = o->backoff_min_ms > 0 ? o->backoff_min_ms : 1000;
	ml->backoff_max = o->backoff_max_ms > 0 ? o->backoff_max_ms : 5000;
	if (ml->backoff_max < ml->backoff_min)
		ml->backoff_max = ml->backoff_min;
	ml->backoff = ml->backoff_min;
	ml->connect_timeout = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 10000;
	if (cbs)
		ml->cb = *cbs;
	ml->arg = arg;
	if (oom) {
		err_set(e, "out of memory");
		goto fail;
	}
	mosquitto_lib_init();
	ml->lib_ref = true;
	ml->mosq = mosquitto_new(NULL, true, ml);
	if (!ml->mosq) {
		err_set(e, "cannot create an MQTT client: %s", strerror(errno));
		goto fail;
	}
	int rc = MOSQ_ERR_SUCCESS;
	if (ml->user || ml->pass)
		rc = mosquitto_username_pw_set(ml->mosq, ml->user ? ml->user : "", ml->pass);
	if (rc == MOSQ_ERR_SUCCESS && ml->tls && !rsv_is_literal(ml->host)) {
		if (ml_tls_by_name(ml, e) != 0)
			goto fail;
	} else if (rc == MOSQ_ERR_SUCCESS && ml->tls) {
		if (ml->ca_file)
			rc = mosquitto_tls_set(ml->mosq, ml->ca_file, NULL, NULL, NULL, NULL);
		else
			rc = mosquitto_int_option(ml->mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
	}
	if (rc == MOSQ_ERR_SUCCESS && ml->will_topic)
		rc = mosquitto_will_set(ml->mosq, ml->will_topic,
		                        ml->will_payload ? (int)strlen(ml->will_payload) : 0,
		                        ml->will_payload, 1, ml->will_retain);
	if (rc != MOSQ_ERR_SUCCESS) {
		err_set(e, "MQTT client setup failed: %s", mosquitto_strerror(rc));
		goto fail;
	}
	mosquitto_connect_callback_set(ml->mosq, on_connect);
	mosquitto_disconnect_callback_set(ml->mosq, on_disconnect);
	mosquitto_message_callback_set(ml->mosq, on_message);
	return ml;
fail:
	mqtt_loop_free(ml);
	return NULL;
}

int mqtt_loop_start(struct mqtt_loop *ml, struct err *e)
{
	if (ml->state != ML_IDLE)
		return 0;
	ml->misc_timer = ev_timer_add(ml->loop, MISC_MS, ml_misc_cb, ml);
	if (!ml->misc_timer)
		return err_set(e, "out of memory");
	ml->state = ML_WAIT;
	ml_attempt(ml);
	return 0;
}

void mqtt_loop_free(struct mqtt_loop *ml)
{
	if (!ml)
		return;
	ml_unwatch(ml);
	ev_timer_del(ml->loop, ml->misc_timer);
	ev_timer_del(ml->loop, ml->retry_timer);
	rsv_cancel(ml->lookup); /* never waits */
	ml->lookup = NULL;
	free(ml->addrs);
	if (ml->mosq) {
		bool up = ml->state == ML_CONNECTED;
		/* IDLE first: the library reports our own DISCONNECT through on_disconnect,
		 * which must not schedule a reconnect now. */
		ml->state = ML_IDLE;
		if (up)
			(void)mosquitto_disconnect(ml->mosq);
		mosquitto_destroy(ml->mosq);
	}
	if (ml->lib_ref)
		mosquitto_lib_cleanup();
	free(ml->name);
	free(ml->host);
	free(ml->user);
	if (ml->pass) {
		memset(ml->pass, 0, strlen(ml->pass));
		free(ml->pass);
	}
	free(ml->ca_file);
	free(ml->will_topic);
	free(ml->will_payload);
	free(ml);
}

bool mqtt_loop_connected(const struct mqtt_loop *ml)
{
	return ml && ml->state == ML_CONNECTED;
}

unsigned mqtt_loop_connects(const struct mqtt_loop *ml)
{
	return ml ? ml->connects : 0;
}

int mqtt_loop_subscribe(struct mqtt_loop *ml, const char *topic, int qos)
{
	if (!mqtt_loop_connected(ml))
		return -1;
	int rc = mosquitto_subscribe(ml->mosq, NULL, topic, qos);
	ml_sync(ml);
	return rc == MOSQ_ERR_SUCCESS ? 0 : -1;
}

int mqtt_loop_publish(struct mqtt_loop *ml, const char *topic, const void *payload, size_t len,
                      int qos, bool retain)
{
	if (!mqtt_loop_connected(ml) || len > INT32_MAX)
		return -1;
	int rc = mosquitto_publish(ml->mosq, NULL, topic, (int)len, payload, qos, retain);
	ml_sync(ml);
	return rc == MOSQ_ERR_SUCCESS ? 0 : -1;
}
