/* SPDX-License-Identifier: GPL-3.0-or-later */
/* net/http_get: the blocking libcurl client of --healthcheck and astra-sim's commands,
 * against a canned one-shot server on loopback (a thread). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "astrameter/http_get.h"

struct canned {
	int lfd;
	uint16_t port;
	const char *reply; /* NULL: accept, read, never answer */
	char request[2048];
	pthread_t th;
};

static void *serve(void *arg)
{
	struct canned *c = arg;
	int fd = accept(c->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	size_t n = 0;
	/* Read until the blank line and the body the request announced (small requests). */
	for (;;) {
		ssize_t k = recv(fd, c->request + n, sizeof(c->request) - 1 - n, 0);
		if (k <= 0)
			break;
		n += (size_t)k;
		c->request[n] = '\0';
		char *eoh = strstr(c->request, "\r\n\r\n");
		if (!eoh)
			continue;
		const char *cl = strcasestr(c->request, "Content-Length:");
		size_t want = cl ? (size_t)atoi(cl + 15) : 0;
		if (n >= (size_t)(eoh + 4 - c->request) + want)
			break;
	}
	if (c->reply)
		(void)send(fd, c->reply, strlen(c->reply), MSG_NOSIGNAL);
	else
		usleep(600 * 1000);
	close(fd);
	return NULL;
}

static void start(struct canned *c, const char *reply)
{
	memset(c, 0, sizeof(*c));
	c->reply = reply;
	c->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(c->lfd >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(c->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(c->lfd, 1), 0);
	socklen_t l = sizeof(sa);
	assert_int_equal(getsockname(c->lfd, (struct sockaddr *)&sa, &l), 0);
	c->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&c->th, NULL, serve, c), 0);
}

static void finish(struct canned *c)
{
	pthread_join(c->th, NULL);
	close(c->lfd);
}

static void get_with_body(void **state)
{
	(void)state;
	struct canned c;
	start(&c,
	      "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"ok\":true}");
	char *out = NULL;
	struct err e = {{0}};
	assert_int_equal(http_blocking("127.0.0.1", c.port, "GET", "/status", NULL, 2000, &out, &e),
	                 200);
	finish(&c);
	assert_string_equal(out, "{\"ok\":true}");
	free(out);
	assert_non_null(strstr(c.request, "GET /status HTTP/1.1\r\n"));
}

static void post_sends_json_body(void **state)
{
	(void)state;
	struct canned c;
	start(&c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\n{}");
	char *out = NULL;
	struct err e = {{0}};
	assert_int_equal(http_blocking("127.0.0.1", c.port, "POST", "/solar", "{\"watts\":1}", 2000,
	                               &out, &e),
	                 400);
	finish(&c);
	free(out);
	assert_non_null(strstr(c.request, "POST /solar HTTP/1.1\r\n"));
	assert_non_null(strstr(c.request, "Content-Type: application/json\r\n"));
	assert_non_null(strstr(c.request, "\r\n\r\n{\"watts\":1}"));
	/* No body: Content-Length: 0 for a POST. */
	start(&c, "HTTP/1.0 503 Service Unavailable\r\n\r\n");
	assert_int_equal(http_blocking("127.0.0.1", c.port, "POST", "/x", NULL, 2000, NULL, &e),
	                 503);
	finish(&c);
	assert_non_null(strcasestr(c.request, "Content-Length: 0\r\n"));
}

static void failures_name_host_and_port(void **state)
{
	(void)state;
	struct canned c;
	struct err e = {{0}};
	char want[64];
	/* Nobody listens: connect error. */
	start(&c, "x");
	uint16_t port = c.port;
	close(c.lfd);
	pthread_cancel(c.th);
	pthread_join(c.th, NULL);
	assert_int_equal(http_blocking("127.0.0.1", port, "GET", "/health", NULL, 2000, NULL, &e),
	                 -1);
	snprintf(want, sizeof(want), "connect 127.0.0.1:%u: ", port);
	assert_non_null(strstr(e.msg, want));
	/* Garbage instead of HTTP. */
	start(&c, "hello there\r\n\r\n");
	assert_int_equal(http_blocking("127.0.0.1", c.port, "GET", "/health", NULL, 2000, NULL, &e),
	                 -1);
	finish(&c);
	snprintf(want, sizeof(want), "not an HTTP answer from 127.0.0.1:%u", c.port);
	assert_string_equal(e.msg, want);
	/* Accepts, never answers: the total timeout. */
	start(&c, NULL);
	assert_int_equal(http_blocking("127.0.0.1", c.port, "GET", "/health", NULL, 300, NULL, &e),
	                 -1);
	finish(&c);
	snprintf(want, sizeof(want), "no answer from 127.0.0.1:%u within 300 ms", c.port);
	assert_string_equal(e.msg, want);
}

int main(void)
{
	/* A proxy in the environment must not be used for these loopback calls. */
	setenv("http_proxy", "http://127.0.0.1:9/", 1);
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(get_with_body),
	        cmocka_unit_test(post_sends_json_body),
	        cmocka_unit_test(failures_name_host_and_port),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
