/* SPDX-License-Identifier: GPL-3.0-or-later */
/* WebSocket client (astrameter/ws.h): the opening handshake as pure functions (RFC 6455
 * vectors, broken answers), then whole sessions over a socketpair driven through the
 * event loop with a fake clock: upgrade, messages both ways (fragmented, several per
 * read, sent with the 101), ping answered, our heartbeat ping and its timeout, the close
 * handshake, an oversized message, and ws_free() from inside a callback. A peer that
 * floods pings and never reads our pongs gets a bounded read per wakeup, is paused
 * and then dropped; our own messages are refused past the hard cap. */
#include <errno.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pm_test_util.h"
#include "astrameter/ws.h"

#define KEY    "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static void test_accept_key(void **state)
{
	(void)state;
	char out[29];
	assert_int_equal(ws_accept_for_key(KEY, out), 0);
	assert_string_equal(out, ACCEPT); /* RFC 6455 section 1.3 */
}

static void test_request(void **state)
{
	(void)state;
	char buf[512];
	int n = ws_build_request(buf, sizeof(buf), "/api/websocket", "10.0.0.2:8123", KEY);
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	assert_non_null(strstr(buf, "GET /api/websocket HTTP/1.1\r\nHost: 10.0.0.2:8123\r\n"));
	assert_non_null(strstr(buf, "Sec-WebSocket-Key: " KEY "\r\n"));
	assert_non_null(strstr(buf, "Sec-WebSocket-Version: 13\r\n"));
	assert_memory_equal(buf + n - 4, "\r\n\r\n", 4);
	assert_int_equal(ws_build_request(buf, sizeof(buf), "/x\r\nEvil: 1", "h", KEY), -1);
	assert_int_equal(ws_build_request(buf, sizeof(buf), "/x", "h\n", KEY), -1);
	assert_int_equal(ws_build_request(buf, 20, "/x", "h", KEY), -1);
}

#define OK101                                                                               \
	"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" \
	"Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n"

static void test_response(void **state)
{
	(void)state;
	static const struct {
		const char *resp;
		int rc;
		int status;
		const char *err;
	} cases[] = {
	        {OK101, 1, 101, NULL},
	        {OK101 "\x81\x02hi", 1, 101, NULL},
	        {"HTTP/1.1 101 OK\nupgrade: WebSocket\nconnection: keep-alive, Upgrade\n"
	         "sec-websocket-accept:  " ACCEPT " \n\n",
	         1, 101, NULL},
	        {"HTTP/1.1 101 Switching", 0, 0, NULL},
	        {"HTT", 0, 0, NULL},
	        {"", 0, 0, NULL},
	        {"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n", -1, 401, "HTTP 401"},
	        {"HTTP/1.1 200 OK\r\n\r\n", -1, 200, "HTTP 200"},
	        {"HTTP/1.1 101 X\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", -1, 101,
	         "lacks Sec-WebSocket-Accept"},
	        {"HTTP/1.1 101 X\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	         "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
	         -1, 101, "wrong Sec-WebSocket-Accept"},
	        {"HTTP/1.1 101 X\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " ACCEPT
	         "\r\n\r\n",
	         -1, 101, "Upgrade: websocket"},
	        {"HTTP/1.1 101 X\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: " ACCEPT "\r\n\r\n",
	         -1, 101, "Connection: Upgrade"},
	        {"HTTP/1.1 101 X\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	         "Sec-WebSocket-Accept: " ACCEPT "\r\nSec-WebSocket-Extensions: permessage-deflate"
	         "\r\n\r\n",
	         -1, 101, "extension"},
	        {"HTTP/1.1 101 X\r\nbroken line\r\n\r\n", -1, 101, "without ':'"},
	        {"\x15\x03\x03\x00\x02\x02\x28", -1, 0, "not HTTP"},
	        {"HTTP/1.1 1x1 X\r\n\r\n", -1, 0, "bad status"},
	        {"HTTP/2 101\r\n\r\n", -1, 0, "not HTTP/1.x"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t used = 99;
		int status = -1;
		struct err e = {{0}};
		const char *r = cases[i].resp;
		int rc = ws_parse_response(r, strlen(r), ACCEPT, &used, &status, &e);
		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d, want %d (%s)", i, rc, cases[i].rc, e.msg);
		assert_int_equal(status, cases[i].status);
		if (cases[i].err && !strstr(e.msg, cases[i].err))
			fail_msg("case %zu: '%s' lacks '%s'", i, e.msg, cases[i].err);
		if (rc == 1 && i == 1)
			assert_int_equal(used, strlen(OK101));
	}
	/* an endless header is refused */
	size_t n = 20000;
	char *big = malloc(n);
	assert_non_null(big);
	memcpy(big, "HTTP/1.1 101 X\r\n", 16);
	memset(big + 16, 'a', n - 16);
	size_t used;
	int status;
	struct err e;
	assert_int_equal(ws_parse_response(big, n, ACCEPT, &used, &status, &e), -1);
	assert_non_null(strstr(e.msg, "longer than"));
	free(big);
}

/* ---- sessions over a socketpair ---- */

struct sess {
	ev_ms now;
	struct ev_loop *loop;
	struct ws_conn *c;
	int srv; /* the server's end, blocking */
	int cli; /* the client's end (owned by the connection; only looked at) */
	int opened, closed;
	char texts[8][256];
	int n_texts;
	char why[256];
	const char *reply_on_open; /* sent from on_open */
	bool free_in_text;
};

static ev_ms fake_clock(void *arg)
{
	return ((struct sess *)arg)->now;
}

static void s_open(struct ws_conn *c, void *arg)
{
	struct sess *s = arg;
	s->opened++;
	if (s->reply_on_open)
		assert_int_equal(ws_send_text(c, s->reply_on_open, strlen(s->reply_on_open)), 0);
}

static void s_text(struct ws_conn *c, const char *msg, size_t len, void *arg)
{
	struct sess *s = arg;
	if (s->n_texts < 8) {
		snprintf(s->texts[s->n_texts], sizeof(s->texts[0]), "%.*s", (int)len, msg);
		s->n_texts++;
	}
	if (s->free_in_text) {
		ws_free(c);
		s->c = NULL;
	}
}

static void s_close(struct ws_conn *c, const char *why, void *arg)
{
	struct sess *s = arg;
	s->closed++;
	snprintf(s->why, sizeof(s->why), "%s", why);
	ws_free(c);
	s->c = NULL;
}

static void sess_start(struct sess *s, ev_ms ping, ev_ms pong, size_t max_msg)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	s->srv = sv[1];
	s->cli = sv[0];
	int fl = 0;
	(void)fl;
	/* the test's end blocks (with poll timeouts below) */
	struct timeval tv = {2, 0};
	assert_int_equal(setsockopt(s->srv, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	s->loop = ev_new(fake_clock, s);
	assert_non_null(s->loop);
	ev_update_now(s->loop);
	struct ws_opts o = {.host = "localhost",
	                    .path = "/api/ws",
	                    .fixed_key = KEY,
	                    .ping_ms = ping,
	                    .pong_ms = pong,
	                    .max_msg = max_msg};
	static const struct ws_handlers h = {s_open, s_text, s_close};
	struct err e;
	s->c = ws_open_fd(s->loop, sv[0], &o, &h, s, &e);
	assert_non_null(s->c);
}

static void spin(struct sess *s, int rounds)
{
	for (int i = 0; i < rounds; i++)
		ev_run_once(s->loop, 0);
}

/* Reads the upgrade request from the server end and answers it (plus extra bytes). */
static void sess_upgrade(struct sess *s, const char *extra, size_t extra_len)
{
	spin(s, 2);
	char req[2048];
	ssize_t n = recv(s->srv, req, sizeof(req) - 1, 0);
	assert_true(n > 0);
	req[n] = '\0';
	assert_non_null(strstr(req, "GET /api/ws HTTP/1.1\r\n"));
	assert_non_null(strstr(req, "Sec-WebSocket-Key: " KEY "\r\n"));
	char out[4096];
	memcpy(out, OK101, strlen(OK101));
	memcpy(out + strlen(OK101), extra, extra_len);
	assert_int_equal(send(s->srv, out, strlen(OK101) + extra_len, 0),
	                 (ssize_t)(strlen(OK101) + extra_len));
	spin(s, 3);
}

/* Reads one client frame (masked) from the server end: opcode and unmasked payload. */
static int read_frame(struct sess *s, char *payload, size_t cap, size_t *len)
{
	spin(s, 2);
	unsigned char h[2];
	if (recv(s->srv, h, 2, MSG_WAITALL) != 2)
		return -1;
	assert_true(h[1] & 0x80); /* clients mask */
	size_t n = h[1] & 0x7f;
	assert_true(n < 126 && n <= cap);
	unsigned char mask[4];
	assert_int_equal(recv(s->srv, mask, 4, MSG_WAITALL), 4);
	if (n)
		assert_int_equal(recv(s->srv, payload, n, MSG_WAITALL), (ssize_t)n);
	for (size_t i = 0; i < n; i++)
		payload[i] = (char)(payload[i] ^ mask[i % 4]);
	*len = n;
	return h[0] & 0x0f;
}

static void sess_end(struct sess *s)
{
	ws_free(s->c);
	s->c = NULL;
	close(s->srv);
	ev_free(s->loop);
}

static void test_session(void **state)
{
	(void)state;
	struct sess s = {.now = 1000, .reply_on_open = "{\"type\":\"auth\"}"};
	sess_start(&s, 0, 0, 0);
	/* two frames right behind the 101: a text and a fragmented text */
	static const char frames[] = "\x81\x05hello"
	                             "\x01\x03"
	                             "abc"
	                             "\x80\x03"
	                             "def";
	sess_upgrade(&s, frames, sizeof(frames) - 1);
	assert_int_equal(s.opened, 1);
	assert_true(ws_is_open(s.c));
	assert_int_equal(s.n_texts, 2);
	assert_string_equal(s.texts[0], "hello");
	assert_string_equal(s.texts[1], "abcdef");
	char p[256];
	size_t n;
	assert_int_equal(read_frame(&s, p, sizeof(p), &n), 1);
	assert_int_equal(n, strlen("{\"type\":\"auth\"}"));
	assert_memory_equal(p, "{\"type\":\"auth\"}", n);
	/* a ping is answered with a pong carrying its data */
	assert_int_equal(send(s.srv, "\x89\x02pp", 4, 0), 4);
	assert_int_equal(read_frame(&s, p, sizeof(p), &n), 0xA);
	assert_int_equal(n, 2);
	assert_memory_equal(p, "pp", 2);
	/* a binary message is ignored; a 16-bit length text arrives */
	char big[4 + 300];
	big[0] = (char)0x81;
	big[1] = 126;
	big[2] = 1;
	big[3] = 44; /* 300 */
	memset(big + 4, 'x', 300);
	assert_int_equal(send(s.srv, "\x82\x01z", 3, 0), 3);
	assert_int_equal(send(s.srv, big, sizeof(big), 0), (ssize_t)sizeof(big));
	spin(&s, 3);
	assert_int_equal(s.n_texts, 3);
	assert_int_equal(strlen(s.texts[2]), 255); /* truncated copy of the 300 x */
	/* the server closes: we answer with a close and report it */
	assert_int_equal(send(s.srv, "\x88\x02\x03\xe8", 4, 0), 4);
	spin(&s, 3);
	assert_int_equal(s.closed, 1);
	assert_string_equal(s.why, "closed by peer (1000)");
	assert_int_equal(read_frame(&s, p, sizeof(p), &n), 8);
	sess_end(&s);
}

static void test_heartbeat(void **state)
{
	(void)state;
	struct sess s = {.now = 1000};
	sess_start(&s, 30000, 15000, 0);
	sess_upgrade(&s, "", 0);
	assert_int_equal(s.opened, 1);
	/* traffic keeps it quiet; silence brings a ping */
	s.now += 29000;
	spin(&s, 2);
	s.now += 1500;
	spin(&s, 2);
	char p[64];
	size_t n;
	assert_int_equal(read_frame(&s, p, sizeof(p), &n), 9);
	/* a pong (any frame) keeps it open */
	assert_int_equal(send(s.srv, "\x8a\x00", 2, 0), 2);
	spin(&s, 2);
	s.now += 20000;
	spin(&s, 2);
	assert_int_equal(s.closed, 0);
	/* next ping unanswered: closed after pong_ms */
	s.now += 11000;
	spin(&s, 2);
	assert_int_equal(read_frame(&s, p, sizeof(p), &n), 9);
	s.now += 14000;
	spin(&s, 2);
	assert_int_equal(s.closed, 0);
	s.now += 1100;
	spin(&s, 2);
	assert_int_equal(s.closed, 1);
	assert_non_null(strstr(s.why, "no answer within 15000 ms"));
	sess_end(&s);
}

static void test_failures(void **state)
{
	(void)state;
	/* the server refuses the upgrade */
	struct sess s = {.now = 1000};
	sess_start(&s, 0, 0, 0);
	spin(&s, 2);
	char req[2048];
	assert_true(recv(s.srv, req, sizeof(req), 0) > 0);
	const char *r401 = "HTTP/1.1 401 Unauthorized\r\n\r\n";
	assert_int_equal(send(s.srv, r401, strlen(r401), 0), (ssize_t)strlen(r401));
	spin(&s, 3);
	assert_int_equal(s.opened, 0);
	assert_int_equal(s.closed, 1);
	assert_string_equal(s.why, "HTTP 401 instead of 101 Switching Protocols");
	sess_end(&s);

	/* no answer at all: the open deadline */
	struct sess t = {.now = 1000};
	sess_start(&t, 0, 0, 0);
	spin(&t, 2);
	t.now += 10001;
	spin(&t, 2);
	assert_int_equal(t.closed, 1);
	assert_non_null(strstr(t.why, "timeout after 10000 ms"));
	sess_end(&t);

	/* a message larger than max_msg closes the connection */
	struct sess u = {.now = 1000};
	sess_start(&u, 0, 0, 16);
	sess_upgrade(&u,
	             "\x81\x20"
	             "0123456789abcdef0123456789abcdef",
	             34);
	assert_int_equal(u.n_texts, 0);
	spin(&u, 3);
	assert_int_equal(u.closed, 1);
	char p[64];
	size_t n;
	assert_int_equal(read_frame(&u, p, sizeof(p), &n), 8);
	assert_true(n >= 2);
	assert_int_equal(((unsigned char)p[0] << 8) | (unsigned char)p[1], 1009);
	sess_end(&u);

	/* the peer just goes away */
	struct sess v = {.now = 1000};
	sess_start(&v, 0, 0, 0);
	sess_upgrade(&v, "", 0);
	close(v.srv);
	v.srv = -1;
	spin(&v, 3);
	assert_int_equal(v.closed, 1);
	assert_string_equal(v.why, "connection closed by peer");
	sess_end(&v);

	/* ws_free from inside on_text: deferred, no further callback */
	struct sess w = {.now = 1000, .free_in_text = true};
	sess_start(&w, 0, 0, 0);
	sess_upgrade(&w,
	             "\x81\x01"
	             "a\x81\x01"
	             "b",
	             6);
	assert_int_equal(w.n_texts, 1);
	assert_null(w.c);
	assert_int_equal(w.closed, 0);
	sess_end(&w);
}

/* Bytes the client has not read yet. */
static int unread(const struct sess *s)
{
	int n = 0;
	assert_int_equal(ioctl(s->cli, FIONREAD, &n), 0);
	return n;
}

/* Pushes empty pings from the server end until its socket is full. */
static void flood_pings(struct sess *s)
{
	static char pings[4096];
	for (size_t i = 0; i < sizeof(pings); i += 2) {
		pings[i] = (char)0x89;
		pings[i + 1] = 0;
	}
	for (;;) {
		ssize_t n = send(s->srv, pings, sizeof(pings), MSG_DONTWAIT);
		if (n < 0) {
			assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
			return;
		}
		/* a partial send ends on a frame boundary (even length from an even offset) */
		assert_true(n % 2 == 0);
	}
}

static void test_ping_flood(void **state)
{
	(void)state;
	struct sess s = {.now = 1000};
	sess_start(&s, 0, 0, 0);
	sess_upgrade(&s, "", 0);
	assert_int_equal(s.opened, 1);
	/* One wakeup takes a bounded bite (wslay's 4 KiB buffer and the 64-message budget),
	 * not everything the socket holds. */
	flood_pings(&s);
	int before = unread(&s);
	assert_true(before > 64 * 1024);
	ev_run_once(s.loop, 0);
	int took = before - unread(&s);
	assert_true(took > 0);
	assert_true(took <= 8 * 1024);
	/* The pongs fill our side (the server never reads), queue up, and reading stops. */
	int still = 0, last = -1;
	for (int i = 0; i < 2000 && still < 5; i++) {
		flood_pings(&s);
		ev_run_once(s.loop, 0);
		int u = unread(&s);
		still = u == last ? still + 1 : 0;
		last = u;
		assert_int_equal(s.closed, 0);
	}
	assert_int_equal(still, 5);
	/* Paused for the stall time: dropped, saying why. */
	s.now += 4900;
	spin(&s, 2);
	assert_int_equal(s.closed, 0);
	s.now += 200;
	spin(&s, 2);
	assert_int_equal(s.closed, 1);
	assert_non_null(strstr(s.why, "peer is not reading"));
	assert_non_null(strstr(s.why, "unsent for 5"));
	sess_end(&s);
}

static void test_send_queue_cap(void **state)
{
	(void)state;
	struct sess s = {.now = 1000};
	sess_start(&s, 0, 0, 0);
	sess_upgrade(&s, "", 0);
	static char big[100 * 1024];
	memset(big, 'x', sizeof(big));
	/* Queued without a loop round: the hard cap (4 MiB) refuses the 41st. */
	int ok = 0;
	while (ok < 100 && ws_send_text(s.c, big, sizeof(big)) == 0)
		ok++;
	assert_int_equal(ok, 40);
	assert_int_equal(s.closed, 0); /* never from inside ws_send_text */
	assert_int_equal(ws_send_text(s.c, "x", 1), -1);
	spin(&s, 2);
	assert_int_equal(s.closed, 1);
	assert_non_null(strstr(s.why, "send queue over the limit"));
	sess_end(&s);
}

static void test_open_errors(void **state)
{
	(void)state;
	struct ev_loop *loop = ev_new(NULL, NULL);
	static const struct ws_handlers h = {NULL, NULL, NULL};
	struct err e;
	struct ws_opts o = {.host = NULL, .port = 1};
	assert_null(ws_open(loop, &o, &h, NULL, &e));
	o.host = "";
	assert_null(ws_open(loop, &o, &h, NULL, &e));
	o.host = "127.0.0.1";
	o.tls = true;
	o.verify = true;
	o.ca_file = "/nonexistent/ca.pem";
	assert_null(ws_open(loop, &o, &h, NULL, &e));
	assert_non_null(strstr(e.msg, "cannot load CA certificates"));
	ws_free(NULL);
	assert_false(ws_is_open(NULL));
	assert_int_equal(ws_send_text(NULL, "x", 1), -1);
	ev_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_accept_key),     cmocka_unit_test(test_request),
	        cmocka_unit_test(test_response),       cmocka_unit_test(test_session),
	        cmocka_unit_test(test_heartbeat),      cmocka_unit_test(test_failures),
	        cmocka_unit_test(test_open_errors),    cmocka_unit_test(test_ping_flood),
	        cmocka_unit_test(test_send_queue_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
