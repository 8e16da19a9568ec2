/* SPDX-License-Identifier: GPL-3.0-or-later */
/* mqtt_loop against a tiny in-process fake broker served by the same event loop: connect,
 * subscribe from the connected callback, receive a publish, then the broker drops the
 * connection and the client reconnects on a new socket (re-registered in epoll) and
 * resubscribes. Run once with a literal address, once with "localhost" (lookup on the
 * resolver's thread) and once with a name whose first address (::1) refuses: the client
 * must go on to the second (127.0.0.1), where the broker listens. Also: freeing the client
 * while its lookup may still run, and a broker that floods QoS 1 messages without reading
 * our PUBACKs: the client stops reading and drops it after 10 s. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pm_test_util.h"
#include "astrameter/ev.h"
#include "astrameter/mqtt_loop.h"
#include "astrameter/resolve.h"

struct broker {
	struct ev_loop *loop;
	int lfd, cfd;
	uint8_t buf[4096];
	size_t n;
	unsigned accepts, subscribes;
};

struct client {
	struct broker *b;
	unsigned connected, messages, disconnected;
	char last[64];
};

static void send_all(int fd, const void *p, size_t n)
{
	assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void drop_conn(struct broker *b)
{
	if (b->cfd >= 0) {
		ev_io_del(b->loop, b->cfd);
		close(b->cfd);
		b->cfd = -1;
	}
	b->n = 0;
}

static void conn_io(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	(void)loop;
	(void)events;
	struct broker *b = arg;
	ssize_t r = recv(fd, b->buf + b->n, sizeof(b->buf) - b->n, 0);
	if (r <= 0) {
		drop_conn(b);
		return;
	}
	b->n += (size_t)r;
	for (;;) {
		if (b->n < 2)
			return;
		size_t len = 0, i = 1;
		unsigned shift = 0;
		do {
			if (i >= b->n)
				return;
			len |= (size_t)(b->buf[i] & 0x7f) << shift;
			shift += 7;
		} while (b->buf[i++] & 0x80);
		if (b->n < i + len)
			return;
		unsigned type = b->buf[0] >> 4;
		const uint8_t *body = b->buf + i;
		if (type == 1) { /* CONNECT */
			static const uint8_t connack[] = {0x20, 2, 0, 0};
			send_all(fd, connack, sizeof(connack));
		} else if (type == 8) { /* SUBSCRIBE: SUBACK, then a retained-style publish */
			b->subscribes++;
			uint8_t suback[] = {0x90, 3, body[0], body[1], 0};
			send_all(fd, suback, sizeof(suback));
			static const uint8_t pub[] = {0x30, 8, 0, 3, 'a', '/', 'b', '1', '2', '3'};
			send_all(fd, pub, sizeof(pub));
		} else if (type == 12) { /* PINGREQ */
			static const uint8_t pong[] = {0xd0, 0};
			send_all(fd, pong, sizeof(pong));
		} else if (type == 14) { /* DISCONNECT */
			drop_conn(b);
			return;
		}
		memmove(b->buf, b->buf + i + len, b->n - i - len);
		b->n -= i + len;
	}
}

static void listen_io(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	(void)events;
	struct broker *b = arg;
	int c = accept(fd, NULL, NULL);
	if (c < 0)
		return;
	drop_conn(b);
	b->cfd = c;
	b->accepts++;
	assert_int_equal(ev_io_add(loop, c, EV_READ, conn_io, b), 0);
}

static int broker_open(struct broker *b, struct ev_loop *loop)
{
	memset(b, 0, sizeof(*b));
	b->loop = loop;
	b->cfd = -1;
	b->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(b->lfd >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(b->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(b->lfd, 4), 0);
	socklen_t sl = sizeof(sa);
	assert_int_equal(getsockname(b->lfd, (struct sockaddr *)&sa, &sl), 0);
	assert_int_equal(ev_io_add(loop, b->lfd, EV_READ, listen_io, b), 0);
	return ntohs(sa.sin_port);
}

static void broker_close(struct broker *b)
{
	drop_conn(b);
	ev_io_del(b->loop, b->lfd);
	close(b->lfd);
}

static void on_connected(struct mqtt_loop *ml, void *arg)
{
	struct client *c = arg;
	c->connected++;
	assert_true(mqtt_loop_connected(ml));
	assert_int_equal(mqtt_loop_subscribe(ml, "a/b", 0), 0);
}

static void on_disconnected(struct mqtt_loop *ml, const char *why, void *arg)
{
	(void)why;
	struct client *c = arg;
	c->disconnected++;
	assert_false(mqtt_loop_connected(ml));
}

static void on_message(struct mqtt_loop *ml, const char *topic, const void *payload, size_t len,
                       void *arg)
{
	struct client *c = arg;
	assert_string_equal(topic, "a/b");
	snprintf(c->last, sizeof(c->last), "%.*s", (int)len, (const char *)payload);
	c->messages++;
	if (c->messages == 1) {
		/* the broker goes away: the client must come back on a new socket */
		drop_conn(c->b);
	} else {
		assert_int_equal(mqtt_loop_publish(ml, "x/y", "1", 1, 0, false), 0);
	}
}

/* "dual.test": ::1 first, then 127.0.0.1 (as a standard Debian /etc/hosts answers for
 * localhost, or a broker name with an IPv6 and an IPv4 address). */
static int dual_lookup(const char *host, const char *port, const struct addrinfo *hints,
                       struct rsv_result **out, void *arg)
{
	(void)hints;
	(void)arg;
	if (strcmp(host, "dual.test") != 0)
		return EAI_NONAME;
	struct rsv_result *r = calloc(1, sizeof(*r) + 2 * sizeof(r->addr[0]));
	if (!r)
		return EAI_MEMORY;
	uint16_t p = htons((uint16_t)atoi(port));
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&r->addr[0].ss;
	in6->sin6_family = AF_INET6;
	in6->sin6_port = p;
	in6->sin6_addr = in6addr_loopback;
	r->addr[0].len = sizeof(*in6);
	r->addr[0].family = AF_INET6;
	struct sockaddr_in *in = (struct sockaddr_in *)&r->addr[1].ss;
	in->sin_family = AF_INET;
	in->sin_port = p;
	in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r->addr[1].len = sizeof(*in);
	r->addr[1].family = AF_INET;
	for (int i = 0; i < 2; i++)
		r->addr[i].socktype = SOCK_STREAM;
	r->n = 2;
	*out = r;
	return 0;
}

static void run_reconnect(const char *host)
{
	struct ev_loop *loop = ev_new(NULL, NULL);
	assert_non_null(loop);
	if (strcmp(host, "dual.test") == 0) {
		struct rsv_opts ro = {.lookup = dual_lookup};
		assert_int_equal(rsv_attach(loop, &ro), 0);
	}
	struct broker b;
	int port = broker_open(&b, loop);
	struct client c = {.b = &b};
	struct mqtt_loop_opts o = {.name = "test",
	                           .host = host,
	                           .port = port,
	                           .backoff_min_ms = 20,
	                           .backoff_max_ms = 40,
	                           .username = "u",
	                           .password = "p"};
	struct mqtt_loop_cbs cbs = {on_connected, on_disconnected, on_message};
	struct err e = {{0}};
	struct mqtt_loop *ml = mqtt_loop_new(loop, &o, &cbs, &c, &e);
	assert_non_null(ml);
	assert_false(mqtt_loop_connected(ml));
	assert_int_equal(mqtt_loop_publish(ml, "x", "1", 1, 0, false), -1);
	assert_int_equal(mqtt_loop_start(ml, &e), 0);
	ev_ms end = ev_update_now(loop) + 5000;
	while (c.messages < 2 && ev_update_now(loop) < end)
		assert_true(ev_run_once(loop, 50) >= 0);
	assert_int_equal(c.messages, 2);
	assert_string_equal(c.last, "123");
	assert_int_equal(c.connected, 2);
	assert_int_equal(c.disconnected, 1);
	assert_int_equal(mqtt_loop_connects(ml), 2);
	assert_int_equal(b.accepts, 2);
	assert_int_equal(b.subscribes, 2);
	mqtt_loop_free(ml);
	broker_close(&b);
	ev_free(loop);
}

static void test_reconnect_literal(void **state)
{
	(void)state;
	run_reconnect("127.0.0.1");
}

static void test_reconnect_by_name(void **state)
{
	(void)state;
	run_reconnect("localhost");
}

static void test_reconnect_every_address(void **state)
{
	(void)state;
	run_reconnect("dual.test");
}

static void test_free_during_lookup(void **state)
{
	(void)state;
	struct ev_loop *loop = ev_new(NULL, NULL);
	struct mqtt_loop_opts o = {.name = "test", .host = "localhost", .port = 1};
	struct err e = {{0}};
	for (int i = 0; i < 20; i++) {
		struct mqtt_loop *ml = mqtt_loop_new(loop, &o, NULL, NULL, &e);
		assert_non_null(ml);
		assert_int_equal(mqtt_loop_start(ml, &e), 0);
		if (i % 2)
			(void)ev_run_once(loop, 1);
		mqtt_loop_free(ml); /* the thread, if still running, cleans up */
	}
	usleep(200000);
	ev_free(loop);
}

/* ---- a broker that floods QoS 1 messages and never reads our PUBACKs ---- */

struct flood {
	ev_ms now;
	unsigned connected, disconnected, messages;
	char why[128];
};

static ev_ms flood_clock(void *arg)
{
	return ((struct flood *)arg)->now;
}

static void fl_connected(struct mqtt_loop *ml, void *arg)
{
	struct flood *f = arg;
	f->connected++;
	assert_int_equal(mqtt_loop_subscribe(ml, "a/b", 0), 0);
}

static void fl_disconnected(struct mqtt_loop *ml, const char *why, void *arg)
{
	(void)ml;
	struct flood *f = arg;
	f->disconnected++;
	snprintf(f->why, sizeof(f->why), "%s", why);
}

static void fl_message(struct mqtt_loop *ml, const char *topic, const void *payload, size_t len,
                       void *arg)
{
	(void)ml;
	(void)topic;
	(void)payload;
	(void)len;
	((struct flood *)arg)->messages++;
}

/* Runs loop rounds until fd has something to read. */
static void fl_spin_until_readable(struct ev_loop *loop, int fd)
{
	for (int i = 0; i < 400; i++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 0) > 0)
			return;
		(void)ev_run_once(loop, 5);
	}
	fail_msg("the client sent nothing");
}

/* Reads one packet (type in the high nibble of the first byte) from a blocking socket. */
static unsigned fl_read_packet(int fd, uint8_t *body, size_t cap)
{
	uint8_t h;
	assert_int_equal(recv(fd, &h, 1, MSG_WAITALL), 1);
	size_t len = 0;
	unsigned shift = 0;
	uint8_t b;
	do {
		assert_int_equal(recv(fd, &b, 1, MSG_WAITALL), 1);
		len |= (size_t)(b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	assert_true(len <= cap);
	if (len)
		assert_int_equal(recv(fd, body, len, MSG_WAITALL), (ssize_t)len);
	return h >> 4;
}

/* Our client's end of the broker connection, found in this process by address, so its send
 * buffer can be made small: then a few KB of PUBACKs fill it, as a big buffer would be
 * filled by a longer flood. */
static int fl_client_fd(int cfd)
{
	struct sockaddr_in peer;
	socklen_t l = sizeof(peer);
	assert_int_equal(getpeername(cfd, (struct sockaddr *)&peer, &l), 0);
	for (int fd = 3; fd < 4096; fd++) {
		struct sockaddr_in a;
		l = sizeof(a);
		if (fd != cfd && getsockname(fd, (struct sockaddr *)&a, &l) == 0 &&
		    a.sin_family == AF_INET && a.sin_port == peer.sin_port &&
		    a.sin_addr.s_addr == peer.sin_addr.s_addr)
			return fd;
	}
	return -1;
}

static void test_qos1_flood_backpressure(void **state)
{
	(void)state;
	struct flood f = {.now = 1000};
	struct ev_loop *loop = ev_new(flood_clock, &f);
	assert_non_null(loop);
	ev_update_now(loop);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(lfd >= 0);
	int small = 4096; /* the broker's receive window, inherited by the accepted socket */
	assert_int_equal(setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	socklen_t sl = sizeof(sa);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);

	struct mqtt_loop_opts o = {.name = "test", .host = "127.0.0.1", .port = ntohs(sa.sin_port)};
	struct mqtt_loop_cbs cbs = {fl_connected, fl_disconnected, fl_message};
	struct err e = {{0}};
	struct mqtt_loop *ml = mqtt_loop_new(loop, &o, &cbs, &f, &e);
	assert_non_null(ml);
	assert_int_equal(mqtt_loop_start(ml, &e), 0);
	fl_spin_until_readable(loop, lfd);
	int cfd = accept(lfd, NULL, NULL);
	assert_true(cfd >= 0);
	struct timeval tv = {2, 0};
	assert_int_equal(setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	uint8_t body[512];
	fl_spin_until_readable(loop, cfd);
	assert_int_equal(fl_read_packet(cfd, body, sizeof(body)), 1); /* CONNECT */
	static const uint8_t connack[] = {0x20, 2, 0, 0};
	send_all(cfd, connack, sizeof(connack));
	fl_spin_until_readable(loop, cfd);
	assert_int_equal(f.connected, 1);
	assert_int_equal(fl_read_packet(cfd, body, sizeof(body)), 8); /* SUBSCRIBE */
	uint8_t suback[] = {0x90, 3, body[0], body[1], 0};
	send_all(cfd, suback, sizeof(suback));
	int cli = fl_client_fd(cfd);
	assert_true(cli >= 0);
	assert_int_equal(setsockopt(cli, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);

	/* QoS 1 publishes as fast as they go in; the broker never reads again. */
	uint8_t pub[10] = {0x32, 8, 0, 3, 'a', '/', 'b', 0, 0, '1'};
	size_t off = 0;
	uint16_t pid = 1;
	unsigned quiet = 0, last = 0;
	int rounds = 0;
	for (; rounds < 200000 && quiet < 50; rounds++) {
		for (;;) {
			pub[7] = (uint8_t)(pid >> 8);
			pub[8] = (uint8_t)pid;
			ssize_t n = send(cfd, pub + off, sizeof(pub) - off,
			                 MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0) {
				assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
				break;
			}
			off += (size_t)n;
			if (off == sizeof(pub)) {
				off = 0;
				pid = (uint16_t)(pid == 65535 ? 1 : pid + 1);
			}
		}
		(void)ev_run_once(loop, 1);
		quiet = f.messages == last ? quiet + 1 : 0;
		last = f.messages;
		assert_int_equal(f.disconnected, 0);
	}
	/* Our PUBACKs wait for the broker: the client stopped reading. */
	assert_int_equal(quiet, 50);
	assert_true(f.messages > 100);
	/* Still waiting after 10 s: dropped, saying why. */
	for (int i = 0; i < 9; i++) {
		f.now += 1000;
		(void)ev_run_once(loop, 0);
	}
	assert_int_equal(f.disconnected, 0);
	for (int i = 0; i < 2; i++) {
		f.now += 1000;
		(void)ev_run_once(loop, 0);
	}
	assert_int_equal(f.disconnected, 1);
	assert_non_null(strstr(f.why, "broker is not reading"));
	mqtt_loop_free(ml);
	close(cfd);
	close(lfd);
	ev_free(loop);
}

static void test_bad_options(void **state)
{
	(void)state;
	struct ev_loop *loop = ev_new(NULL, NULL);
	struct err e = {{0}};
	struct mqtt_loop_opts o = {.host = ""};
	assert_null(mqtt_loop_new(loop, &o, NULL, NULL, &e));
	o.host = "h";
	o.port = 70000;
	assert_null(mqtt_loop_new(loop, &o, NULL, NULL, &e));
	mqtt_loop_free(NULL);
	ev_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_reconnect_literal),
	        cmocka_unit_test(test_reconnect_by_name),
	        cmocka_unit_test(test_reconnect_every_address),
	        cmocka_unit_test(test_free_during_lookup),
	        cmocka_unit_test(test_bad_options),
	        cmocka_unit_test(test_qos1_flood_backpressure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
