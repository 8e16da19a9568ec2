/* SPDX-License-Identifier: GPL-3.0-or-later */
/* WebSocket client (RFC 6455) inside our event loop, for the Home Assistant and HomeWizard
 * meters. Debian 12's libcurl has no ws:// support, so the pieces are: name resolution by
 * the loop's resolver service (resolve.h; never blocks the loop, every address tried in
 * turn), our own nonblocking TCP socket, OpenSSL for TLS
 * (with a caller-chosen CA file and a verification name that may differ from the host, as
 * HomeWizard's "appliance/p1dongle/<serial>" needs), the HTTP/1.1 upgrade written and
 * checked here (pure functions below, unit-tested and fuzzed), and wslay for the framing
 * (masking, fragmentation, ping/pong, close handshake). One connection is one object; it
 * never reconnects by itself: the owner decides when to try again.
 *
 * Callbacks run from the loop. After on_close no callback runs again; the owner frees the
 * connection with ws_free(), which is safe from inside any callback. */
#ifndef ASTRAMETER_WS_H
#define ASTRAMETER_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "astrameter/err.h"
#include "astrameter/ev.h"

struct ws_conn;

struct ws_opts {
	const char *host; /* name or IP literal to connect to */
	uint16_t port;
	const char *path; /* request target, e.g. "/api/websocket" */
	bool tls;
	bool verify;           /* verify the server certificate (tls only) */
	const char *ca_file;   /* trust anchors; NULL = the system store */
	const char *tls_name;  /* SNI and name checked in the certificate; NULL = host */
	const char *host_hdr;  /* Host header; NULL = host, with ":port" if not default */
	ev_ms open_timeout_ms; /* resolve + connect + TLS + upgrade; 0 = 10000 */
	ev_ms ping_ms;         /* send a ping after this long without traffic; 0 = never */
	ev_ms pong_ms;         /* close if nothing arrives this long after a ping; 0 = 15000 */
	size_t max_msg;        /* largest message accepted; 0 = 1 MiB */
	const char *fixed_key; /* Sec-WebSocket-Key for tests and fuzzing; NULL = random */
};

struct ws_handlers {
	/* The upgrade succeeded; messages may be sent. */
	void (*on_open)(struct ws_conn *c, void *arg);
	/* One complete text message (not NUL-terminated; valid during the call). Binary
	 * messages are ignored. */
	void (*on_text)(struct ws_conn *c, const char *msg, size_t len, void *arg);
	/* The connection failed or closed (why says how: "connection refused", "closed by
	 * peer (1000)", "no pong within 15000 ms", "certificate verify failed: ..."). Runs
	 * exactly once, also when opening failed. */
	void (*on_close)(struct ws_conn *c, const char *why, void *arg);
};

/* Starts connecting (returns at once). Strings in o are copied. NULL with e set if the
 * options are unusable (no host, TLS context could not be set up, out of memory). */
struct ws_conn *ws_open(struct ev_loop *loop, const struct ws_opts *o, const struct ws_handlers *h,
                        void *arg, struct err *e);
/* Like ws_open over an already connected stream socket (no resolve, no TLS; the
 * connection takes ownership of fd). For tests and the fuzz target. */
struct ws_conn *ws_open_fd(struct ev_loop *loop, int fd, const struct ws_opts *o,
                           const struct ws_handlers *h, void *arg, struct err *e);
/* Queues a text message. 0, or -1 if the connection is not open or out of memory. */
int ws_send_text(struct ws_conn *c, const char *msg, size_t len);
/* Whether on_open ran and on_close has not. */
bool ws_is_open(const struct ws_conn *c);
/* Closes without any further callback and frees (NULL is ignored). */
void ws_free(struct ws_conn *c);

/* ---- the opening handshake, pure ---- */

/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + RFC 6455 GUID)). out gets 28 chars
 * and a NUL. 0/-1. */
int ws_accept_for_key(const char *key, char out[29]);
/* Writes the upgrade request. Returns its length, or -1 if cap is too small or a field
 * holds CR/LF. */
int ws_build_request(char *buf, size_t cap, const char *path, const char *host_hdr,
                     const char *key);
/* Checks the server's answer to the upgrade in buf[0..len). Returns 1 when the header is
 * complete and valid (*consumed = header length; bytes after it are frames), 0 when more
 * bytes are needed, -1 when it is invalid (e says why, e.g. "HTTP 401 instead of 101";
 * *status holds the HTTP status if one was read, else 0). */
int ws_parse_response(const char *buf, size_t len, const char *accept, size_t *consumed,
                      int *status, struct err *e);

#endif
