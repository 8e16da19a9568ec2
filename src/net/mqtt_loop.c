/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libmosquitto driven by our epoll loop (see mqtt_loop.h for the contract). States:
 *
 *   WAIT ──attempt──> LOOKUP (thread owns the client) ──eventfd──> CONNECTING
 *     ^                                        literal address ──> CONNECTING
 *     |                                                              | CONNACK 0
 *     └──── fail (backoff timer) <──── error / timeout / lost ──── CONNECTED
 *
 * The client object is touched only by the loop thread, except in LOOKUP, when only the
 * lookup thread touches it; the mutex around the hand-over orders the two.
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
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <mosquitto.h>

#include "astrameter/flow.h"
#include "astrameter/log.h"
#include "astrameter/mqtt_loop.h"

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

enum ml_state { ML_IDLE, ML_WAIT, ML_LOOKUP, ML_CONNECTING, ML_CONNECTED };

/* A lookup-and-connect run on a thread. Shared by the loop and the thread; whoever drops
 * the last reference frees it (and closes the eventfd, so a late thread never writes to a
 * reused descriptor). */
struct ml_job {
	pthread_mutex_t mu;
	int refs;
	int efd;
	struct mosquitto *mosq;
	char *host, *bind;
	int port, keepalive;
	int rc, err;
	bool done, abandoned;
};

struct mqtt_loop {
	struct ev_loop *loop;
	struct mosquitto *mosq;
	char *name, *host, *user, *pass, *ca_file;
	char *will_topic, *will_payload;
	bool will_retain, tls, literal;
	int port, keepalive;
	ev_ms backoff_min, backoff_max, connect_timeout;
	struct mqtt_loop_cbs cb;
	void *arg;

	enum ml_state state;
	int fd; /* registered socket, -1 if none */
	ev_ms attempt_at;
	ev_ms backoff; /* next retry delay */
	uint64_t misc_timer, retry_timer;
	struct ml_job *job;
	unsigned connects;
	char refused[96]; /* CONNACK reason of the current attempt */
	struct log_complain complain;
	bool lib_ref;
	struct flow flow; /* paused: output waiting, not reading */
};

static void ml_attempt(struct mqtt_loop *ml);

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
	bool was_up = ml->state == ML_CONNECTED;
	ml->state = ML_WAIT;
	flow_init(&ml->flow);
	ml_unwatch(ml);
	ev_ms delay = ml->backoff;
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
	if (ml->complain.failing)
		log_release(&ml->complain, ml->name, "connected to MQTT broker %s:%d%s", ml->host,
		            ml->port, ml->tls ? " (TLS)" : "");
	else
		log_info(ml->name, "connected to MQTT broker %s:%d%s", ml->host, ml->port,
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
	(void)fd;
	struct mqtt_loop *ml = arg;
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
	if (ml->state == ML_CONNECTING && ev_now(loop) - ml->attempt_at >= ml->connect_timeout) {
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

static void job_unref(struct ml_job *j)
{
	pthread_mutex_lock(&j->mu);
	int left = --j->refs;
	pthread_mutex_unlock(&j->mu);
	if (left > 0)
		return;
	close(j->efd);
	pthread_mutex_destroy(&j->mu);
	free(j->host);
	free(j->bind);
	free(j);
}

static void *job_run(void *arg)
{
	struct ml_job *j = arg;
	/* The blocking part: getaddrinfo inside, then a nonblocking connect. */
	int rc = mosquitto_connect_bind_async(j->mosq, j->host, j->port, j->keepalive, NULL);
	int err = errno;
	struct mosquitto *orphan = NULL;
	pthread_mutex_lock(&j->mu);
	j->rc = rc;
	j->err = err;
	j->done = true;
	if (j->abandoned) {
		orphan = j->mosq; /* the owner is gone and left the client to us */
		j->mosq = NULL;
	} else {
		uint64_t one = 1;
		(void)!write(j->efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&j->mu);
	if (orphan)
		mosquitto_destroy(orphan);
	job_unref(j);
	return NULL;
}

static void ml_connected_call(struct mqtt_loop *ml, int rc, int err)
{
	if (rc == MOSQ_ERR_SUCCESS) {
		ml->state = ML_CONNECTING;
		ml_sync(ml);
		return;
	}
	/* Count it as a failed attempt (ml_fail only acts from CONNECTING). */
	ml->state = ML_CONNECTING;
	ml_fail(ml, rc_text(rc, err));
}

static void ml_job_done(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	(void)events;
	struct mqtt_loop *ml = arg;
	uint64_t v;
	(void)!read(fd, &v, sizeof(v));
	struct ml_job *j = ml->job;
	if (!j)
		return;
	pthread_mutex_lock(&j->mu);
	bool done = j->done;
	int rc = j->rc, err = j->err;
	pthread_mutex_unlock(&j->mu);
	if (!done)
		return;
	ev_io_del(loop, fd);
	ml->job = NULL;
	job_unref(j);
	ml_connected_call(ml, rc, err);
}

static int ml_spawn_lookup(struct mqtt_loop *ml)
{
	struct ml_job *j = calloc(1, sizeof(*j));
	if (!j)
		return -1;
	j->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	j->host = strdup(ml->host);
	if (j->efd < 0 || !j->host || pthread_mutex_init(&j->mu, NULL) != 0) {
		if (j->efd >= 0)
			close(j->efd);
		free(j->host);
		free(j);
		return -1;
	}
	j->mosq = ml->mosq;
	j->port = ml->port;
	j->keepalive = ml->keepalive;
	j->refs = 2;
	if (ev_io_add(ml->loop, j->efd, EV_READ, ml_job_done, ml) != 0) {
		j->refs = 1;
		job_unref(j);
		return -1;
	}
	pthread_attr_t attr;
	pthread_t tid;
	int prc = pthread_attr_init(&attr);
	if (prc == 0) {
		(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		prc = pthread_create(&tid, &attr, job_run, j);
		pthread_attr_destroy(&attr);
	}
	if (prc != 0) {
		ev_io_del(ml->loop, j->efd);
		j->refs = 1;
		job_unref(j);
		errno = prc;
		return -1;
	}
	ml->job = j;
	return 0;
}

static void ml_attempt(struct mqtt_loop *ml)
{
	ml->attempt_at = ev_now(ml->loop);
	ml->refused[0] = '\0';
	log_debug(ml->name, "connecting to MQTT broker %s:%d", ml->host, ml->port);
	if (ml->literal) {
		int rc = mosquitto_connect_bind_async(ml->mosq, ml->host, ml->port, ml->keepalive,
		                                      NULL);
		ml_connected_call(ml, rc, errno);
		return;
	}
	ml->state = ML_LOOKUP;
	if (ml_spawn_lookup(ml) != 0) {
		int err = errno;
		ml->state = ML_CONNECTING;
		ml_fail(ml, err ? strerror(err) : "cannot start the name lookup");
	}
}

/* ---------------------------------------------------------------- public */

static bool is_literal(const char *host)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
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
	ml->literal = is_literal(ml->host);
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
	if (rc == MOSQ_ERR_SUCCESS && ml->tls) {
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
	bool handed_off = false;
	if (ml->job) {
		struct ml_job *j = ml->job;
		ev_io_del(ml->loop, j->efd);
		pthread_mutex_lock(&j->mu);
		j->abandoned = true;
		if (!j->done)
			handed_off = true; /* the thread destroys the client when it returns */
		else
			j->mosq = NULL; /* finished: the client is ours to destroy below */
		pthread_mutex_unlock(&j->mu);
		job_unref(j);
		ml->job = NULL;
	}
	if (ml->mosq && !handed_off) {
		bool up = ml->state == ML_CONNECTED;
		/* IDLE first: the library reports our own DISCONNECT through on_disconnect,
		 * which must not schedule a reconnect now. */
		ml->state = ML_IDLE;
		if (up)
			(void)mosquitto_disconnect(ml->mosq);
		mosquitto_destroy(ml->mosq);
	}
	/* The library refcount is not thread-safe: leave it held while a thread runs. */
	if (ml->lib_ref && !handed_off)
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

/* ---------------------------------------------------------------- URI */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..n) into out (cap bytes with NUL); invalid escapes stay as written
 * (Python's unquote). -1 if it does not fit. */
static int pct_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		}
		if (o + 1 >= cap)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

int mqtt_uri_parse(const char *uri, struct mqtt_uri *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	if (!uri)
		return err_set(e, "MQTT URI is empty");
	while (*uri == ' ' || *uri == '\t')
		uri++;
	size_t len = strlen(uri);
	while (len && (uri[len - 1] == ' ' || uri[len - 1] == '\t'))
		len--;
	if (len == 0)
		return err_set(e, "MQTT URI is empty");
	const char *sep = NULL;
	for (size_t i = 0; i + 2 < len; i++) {
		if (uri[i] == ':' && uri[i + 1] == '/' && uri[i + 2] == '/') {
			sep = uri + i;
			break;
		}
		if (uri[i] == '/' || uri[i] == '?' || uri[i] == '#')
			break;
	}
	if (!sep)
		return err_set(e, "MQTT URI needs a scheme: mqtt:// or mqtts://");
	size_t sl = (size_t)(sep - uri);
	if (sl == 4 && strncasecmp(uri, "mqtt", 4) == 0)
		out->tls = false;
	else if (sl == 5 && strncasecmp(uri, "mqtts", 5) == 0)
		out->tls = true;
	else
		return err_set(e, "unsupported MQTT URI scheme '%.*s'; expected 'mqtt' or 'mqtts'",
		               (int)(sl > 16 ? 16 : sl), uri);
	const char *p = sep + 3, *end = uri + len;
	const char *auth_end = p;
	while (auth_end < end && *auth_end != '/' && *auth_end != '?' && *auth_end != '#')
		auth_end++;
	if (auth_end < end) {
		if (*auth_end == '?')
			return err_set(e, "MQTT URI must not contain a query");
		if (*auth_end == '#')
			return err_set(e, "MQTT URI must not contain a fragment");
		/* a path: only "/" alone is allowed */
		const char *q = auth_end + 1;
		while (q < end && *q != '?' && *q != '#' && *q != ';')
			q++;
		if (q != auth_end + 1)
			return err_set(e, "MQTT URI must not contain a path");
		if (q < end)
			return err_set(e, "MQTT URI must not contain params, query, or fragment");
	}
	/* userinfo: up to the last '@' */
	const char *host = p;
	for (const char *q = p; q < auth_end; q++)
		if (*q == '@')
			host = q + 1;
	if (host != p) {
		const char *ui_end = host - 1;
		const char *colon = memchr(p, ':', (size_t)(ui_end - p));
		const char *uend = colon ? colon : ui_end;
		if (pct_decode(p, (size_t)(uend - p), out->username, sizeof(out->username)) != 0)
			return err_set(e, "MQTT URI user name too long");
		out->has_username = true;
		if (colon) {
			if (pct_decode(colon + 1, (size_t)(ui_end - colon - 1), out->password,
			               sizeof(out->password)) != 0)
				return err_set(e, "MQTT URI password too long");
			out->has_password = true;
		}
	}
	const char *hend = auth_end, *port = NULL;
	if (host < hend && *host == '[') {
		const char *rb = memchr(host, ']', (size_t)(hend - host));
		if (!rb)
			return err_set(e, "MQTT URI has an unclosed '[' in the host");
		if (rb + 1 < hend) {
			if (rb[1] != ':')
				return err_set(e, "MQTT URI has junk after the IPv6 address");
			port = rb + 2;
		}
		host++;
		hend = rb;
	} else {
		const char *colon = memchr(host, ':', (size_t)(hend - host));
		if (colon) {
			port = colon + 1;
			hend = colon;
		}
	}
	size_t hl = (size_t)(hend - host);
	if (hl == 0)
		return err_set(e, "MQTT URI is missing a host");
	if (hl >= sizeof(out->host))
		return err_set(e, "MQTT URI host too long");
	for (size_t i = 0; i < hl; i++) {
		char c = host[i];
		/* urlparse lower-cases the host name */
		out->host[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	out->host[hl] = '\0';
	out->port = out->tls ? 8883 : 1883;
	if (port && port < auth_end) {
		long v = 0;
		for (const char *q = port; q < auth_end; q++) {
			if (*q < '0' || *q > '9' || v > 65535)
				return err_set(e, "MQTT URI port is not a number 1-65535");
			v = v * 10 + (*q - '0');
		}
		if (v < 1 || v > 65535)
			return err_set(e, "MQTT URI port is not a number 1-65535");
		out->port = (int)v;
	}
	return 0;
}
