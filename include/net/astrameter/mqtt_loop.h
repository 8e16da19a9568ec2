/* SPDX-License-Identifier: GPL-3.0-or-later */
/* An MQTT client connection run by our event loop: libmosquitto in external-loop mode
 * (never mosquitto_loop_start, no library thread). The glue registers the client socket
 * for EV_READ, adds EV_WRITE only while mosquitto_want_write() says so, calls
 * mosquitto_loop_read/_write on readiness and mosquitto_loop_misc from a 1 s timer
 * (keepalive pings, retries). After every (re)connect the socket is a new one; the glue
 * drops the old registration and registers the new fd, even when the kernel hands out the
 * same number again.
 *
 * Connecting never blocks the loop. A host name is resolved by the loop's resolver
 * service (resolve.h) on every attempt, and the client connects to each address in turn
 * (a nonblocking connect; libmosquitto only ever gets numeric addresses, so its own
 * getaddrinfo does no lookup), each with a share of the connect timeout; only when every
 * address failed is the attempt counted as failed, with a log line naming each address.
 * TLS checks the broker's certificate against the name as configured and sends it as SNI.
 *
 * Lost connections, refused connects and connects that do not complete within the
 * timeout are retried with exponential backoff (1 s doubling up to 5 s by default, upstream
 * reconnects every 5 s). The password is never logged.
 *
 * Also used by the MQTT insights publisher: will message, publish, subscribe. */
#ifndef ASTRAMETER_MQTT_LOOP_H
#define ASTRAMETER_MQTT_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include "astrameter/err.h"
#include "astrameter/ev.h"

struct mqtt_loop;

struct mqtt_loop_opts {
	const char *name;                /* log component, e.g. the config section name */
	const char *host;                /* broker name or literal address (required) */
	int port;                        /* 0 = 1883, or 8883 with tls */
	const char *username, *password; /* NULL = none */
	bool tls;                        /* verify against the system CA store */
	const char *ca_file;             /* with tls: trust only this CA file instead */
	int keepalive_s;                 /* 0 = 60 */
	ev_ms backoff_min_ms;            /* 0 = 1000 */
	ev_ms backoff_max_ms;            /* 0 = 5000 */
	ev_ms connect_timeout_ms;        /* lookup + every address until CONNACK; 0 = 10000 */
	const char *will_topic;          /* NULL = no will */
	const char *will_payload;
	bool will_retain;
};

struct mqtt_loop_cbs {
	/* The broker accepted the connection (CONNACK 0): subscribe here. */
	void (*connected)(struct mqtt_loop *ml, void *arg);
	/* An established connection was lost (not called for failed connect attempts). */
	void (*disconnected)(struct mqtt_loop *ml, const char *why, void *arg);
	/* A message arrived. topic and payload belong to the library and live only for the
	 * call; payload is not NUL-terminated. */
	void (*message)(struct mqtt_loop *ml, const char *topic, const void *payload, size_t len,
	                void *arg);
};

/* Creates a client (copies every string in o; cbs entries may be NULL). Opens nothing.
 * Callbacks must not free the client. NULL with e set on a bad option or no memory. */
struct mqtt_loop *mqtt_loop_new(struct ev_loop *loop, const struct mqtt_loop_opts *o,
                                const struct mqtt_loop_cbs *cbs, void *arg, struct err *e);
/* Starts connecting (returns at once) and keeps the connection up until freed. 0/-1. */
int mqtt_loop_start(struct mqtt_loop *ml, struct err *e);
/* Disconnects and frees everything; a lookup still running is abandoned (never waited
 * for). Call before freeing the loop. NULL is ignored. */
void mqtt_loop_free(struct mqtt_loop *ml);

/* Whether the broker has accepted the current connection. */
bool mqtt_loop_connected(const struct mqtt_loop *ml);
/* Connections established so far (tests and health: a reconnect increments it). */
unsigned mqtt_loop_connects(const struct mqtt_loop *ml);

/* Subscribe / publish on the current connection (queued, sent by the loop). -1 when not
 * connected or the library refuses (e.g. an invalid topic). */
int mqtt_loop_subscribe(struct mqtt_loop *ml, const char *topic, int qos);
int mqtt_loop_publish(struct mqtt_loop *ml, const char *topic, const void *payload, size_t len,
                      int qos, bool retain);

/* mqtt[s]://[user[:pass]@]host[:port][/] with percent-decoded user and password, as
 * upstream's parse_mqtt_uri: scheme case-insensitive, port 1883 (8883 for mqtts), no
 * path, query or fragment; a bracketed IPv6 literal is accepted. */
struct mqtt_uri {
	char host[256];
	int port;
	char username[256], password[256];
	bool has_username, has_password;
	bool tls;
};
/* Parses uri into out. 0, or -1 with e saying why (never quoting the password). */
int mqtt_uri_parse(const char *uri, struct mqtt_uri *out, struct err *e);

#endif
