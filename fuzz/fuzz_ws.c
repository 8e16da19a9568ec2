/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target for the WebSocket client's receive side: the input is everything a
 * server sends, from the HTTP upgrade answer on. First the pure answer parser sees it (at
 * every length, as it would arrive in pieces); then a real client connection (ws_open_fd
 * over a socketpair, with the fixed test key, so inputs that start with the right 101
 * reach the framing) reads it through the event loop until it closes. Frames, lengths,
 * fragmentation, control frames and close codes all come from the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "astrameter/ws.h"

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct st {
	int closed;
	size_t texts;
	struct ws_conn *c;
};

static void on_text(struct ws_conn *c, const char *msg, size_t len, void *arg)
{
	struct st *s = arg;
	if (len > 4096)
		abort(); /* max_msg */
	if (++s->texts == 3) {
		/* answer now and then, so the send path runs too */
		(void)ws_send_text(c, msg, len);
	}
}

static void on_close(struct ws_conn *c, const char *why, void *arg)
{
	struct st *s = arg;
	(void)why;
	s->closed++;
	ws_free(c);
	s->c = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 100000)
		return 0;
	char accept[29];
	if (ws_accept_for_key(KEY, accept) != 0)
		abort();
	/* the parser at every prefix length must agree with itself */
	int final = 0;
	for (size_t n = 0; n <= size && n <= 20000; n += (n < 64 ? 1 : 97)) {
		size_t used;
		int status;
		struct err e;
		int r = ws_parse_response((const char *)data, n, accept, &used, &status, &e);
		if (r == 1 && (used == 0 || used > n))
			abort();
		if (final != 0 && r == 0)
			abort(); /* once decided, more bytes cannot make it undecided */
		final = r;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0)
		return 0;
	struct ev_loop *loop = ev_new(NULL, NULL);
	if (!loop) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	struct st s = {0, 0, NULL};
	struct ws_opts o = {.host = "localhost", .path = "/", .fixed_key = KEY, .max_msg = 4096};
	static const struct ws_handlers h = {NULL, on_text, on_close};
	struct err e;
	s.c = ws_open_fd(loop, sv[0], &o, &h, &s, &e);
	/* the socketpair buffer holds far more than 100 kB of input */
	size_t off = 0;
	while (off < size) {
		ssize_t w = send(sv[1], data + off, size - off, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	shutdown(sv[1], SHUT_WR);
	for (int i = 0; i < 50 && s.c; i++) {
		char drain[4096];
		while (recv(sv[1], drain, sizeof(drain), MSG_DONTWAIT) > 0)
			;
		ev_run_once(loop, 0);
	}
	if (s.c && s.closed)
		abort();
	ws_free(s.c);
	close(sv[1]);
	ev_free(loop);
	return 0;
}
