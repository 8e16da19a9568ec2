/* SPDX-License-Identifier: GPL-3.0-or-later */
/* WebSocket connect path (ws_open) over real loopback sockets, with the loop's resolver
 * given a fake lookup: a name whose first address (::1) refuses is reached at its second
 * (127.0.0.1); when every address refuses, the complaint names each; a lookup that never
 * returns ends in the open timeout without the loop ever waiting on it. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pm_test_util.h"
#include "astrameter/resolve.h"
#include "astrameter/ws.h"

#define KEY    "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define OK101                                                                               \
	"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" \
	"Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n"

static pthread_mutex_t stuck_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stuck_cv = PTHREAD_COND_INITIALIZER;
static bool stuck_release;

/* "dual.test": ::1 then 127.0.0.1. "stuck.test": blocks until released (a DNS server that
 * never answers). */
static int fake_lookup(const char *host, const char *port, const struct addrinfo *hints,
                       struct rsv_result **out, void *arg)
{
	(void)hints;
	(void)arg;
	if (strcmp(host, "stuck.test") == 0) {
		pthread_mutex_lock(&stuck_mu);
		while (!stuck_release)
			pthread_cond_wait(&stuck_cv, &stuck_mu);
		pthread_mutex_unlock(&stuck_mu);
		return EAI_AGAIN;
	}
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
	r->n = 2;
	*out = r;
	return 0;
}

struct peer {
	struct ws_conn *c;
	int opened, closed;
	char why[512];
};

static void p_open(struct ws_conn *c, void *arg)
{
	(void)c;
	((struct peer *)arg)->opened++;
}

static void p_close(struct ws_conn *c, const char *why, void *arg)
{
	struct peer *p = arg;
	p->closed++;
	snprintf(p->why, sizeof(p->why), "%s", why);
	ws_free(c);
	p->c = NULL;
}

static const struct ws_handlers handlers = {p_open, NULL, p_close};

/* A listener on 127.0.0.1 only; returns its port. */
static int listen_v4(int *lfd)
{
	*lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_true(*lfd >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(*lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(*lfd, 4), 0);
	socklen_t sl = sizeof(sa);
	assert_int_equal(getsockname(*lfd, (struct sockaddr *)&sa, &sl), 0);
	return ntohs(sa.sin_port);
}

static ev_ms mono_ms(void)
{
	return ev_clock_monotonic(NULL);
}

static struct ev_loop *loop_with_fake_dns(void)
{
	struct ev_loop *loop = ev_new(NULL, NULL);
	assert_non_null(loop);
	struct rsv_opts ro = {.lookup = fake_lookup};
	assert_int_equal(rsv_attach(loop, &ro), 0);
	return loop;
}

static void test_second_address_reached(void **state)
{
	(void)state;
	struct ev_loop *loop = loop_with_fake_dns();
	int lfd;
	int port = listen_v4(&lfd);
	struct ws_opts o = {.host = "dual.test", .port = (uint16_t)port, .fixed_key = KEY};
	struct peer p = {0};
	struct err e;
	p.c = ws_open(loop, &o, &handlers, &p, &e);
	assert_non_null(p.c);
	/* Wait for the client on the IPv4 listener, answer the upgrade. */
	int cfd = -1;
	ev_ms end = mono_ms() + 3000;
	while (cfd < 0 && mono_ms() < end) {
		(void)ev_run_once(loop, 20);
		cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
	}
	assert_true(cfd >= 0);
	char req[2048];
	ssize_t n = -1;
	while (n <= 0 && mono_ms() < end) {
		(void)ev_run_once(loop, 20);
		n = recv(cfd, req, sizeof(req), 0);
	}
	assert_true(n > 0);
	assert_int_equal(send(cfd, OK101, strlen(OK101), 0), (ssize_t)strlen(OK101));
	while (p.opened == 0 && p.closed == 0 && mono_ms() < end)
		(void)ev_run_once(loop, 20);
	assert_int_equal(p.opened, 1);
	assert_int_equal(p.closed, 0);
	ws_free(p.c);
	close(cfd);
	close(lfd);
	ev_free(loop);
}

static void test_every_address_named(void **state)
{
	(void)state;
	struct ev_loop *loop = loop_with_fake_dns();
	int lfd;
	int port = listen_v4(&lfd);
	close(lfd); /* nobody listens on either address now */
	struct ws_opts o = {.host = "dual.test", .port = (uint16_t)port, .fixed_key = KEY};
	struct peer p = {0};
	struct err e;
	p.c = ws_open(loop, &o, &handlers, &p, &e);
	assert_non_null(p.c);
	ev_ms end = mono_ms() + 3000;
	while (p.closed == 0 && mono_ms() < end)
		(void)ev_run_once(loop, 20);
	assert_int_equal(p.closed, 1);
	char v6[64], v4[64];
	snprintf(v6, sizeof(v6), "[::1]:%d: Connection refused", port);
	snprintf(v4, sizeof(v4), "127.0.0.1:%d: Connection refused", port);
	assert_non_null(strstr(p.why, "every address"));
	assert_non_null(strstr(p.why, v6));
	assert_non_null(strstr(p.why, v4));
	ev_free(loop);
}

/* The lookup never returns: the open times out on time, and no loop round takes long
 * (the old getaddrinfo_a code waited 2 s in gai_suspend when giving up). */
static void test_stuck_lookup_never_waits(void **state)
{
	(void)state;
	struct ev_loop *loop = loop_with_fake_dns();
	struct ws_opts o = {.host = "stuck.test", .port = 80, .open_timeout_ms = 200};
	struct peer p = {0};
	struct err e;
	p.c = ws_open(loop, &o, &handlers, &p, &e);
	assert_non_null(p.c);
	ev_ms start = mono_ms(), worst = 0;
	while (p.closed == 0 && mono_ms() - start < 3000) {
		ev_ms t0 = mono_ms();
		(void)ev_run_once(loop, 20);
		if (mono_ms() - t0 > worst)
			worst = mono_ms() - t0;
	}
	assert_int_equal(p.closed, 1);
	assert_non_null(strstr(p.why, "timeout"));
	assert_true(worst < 100);
	assert_true(mono_ms() - start < 1000);
	ev_free(loop); /* frees the resolver with the lookup still stuck */
	pthread_mutex_lock(&stuck_mu);
	stuck_release = true;
	pthread_cond_broadcast(&stuck_cv);
	pthread_mutex_unlock(&stuck_mu);
	usleep(100 * 1000); /* let the abandoned thread free its request before LSan looks */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_second_address_reached),
	        cmocka_unit_test(test_every_address_named),
	        cmocka_unit_test(test_stuck_lookup_never_waits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
