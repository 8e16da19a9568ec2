/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The health endpoint: the pure verdict and JSON (table-driven, fake times), and the real
 * server inside our event loop with a nonblocking client driven by the same loop (no
 * threads): /health, HEAD, 404, 405, 503 after max_age, garbage and oversized requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "astrameter/web.h"

/* --- pure ------------------------------------------------------------------------ */

static void meter_ok_table(void **state)
{
	(void)state;
	static const struct {
		bool have, failed;
		ev_ms last, max_age, now;
		bool ok;
	} t[] = {
	        {false, false, 0, 1000, 10, false}, /* never read */
	        {true, true, 5, 1000, 10, false},   /* last fetch failed */
	        {true, false, 5, 1000, 10, true},
	        {true, false, 0, 1000, 1000, true}, /* exactly max_age old */
	        {true, false, 0, 1000, 1001, false},
	        {true, false, 0, 0, 1000000, true}, /* max_age off */
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct web_meter_info m = {.name = "M",
		                           .kind = "K",
		                           .have = t[i].have,
		                           .failed = t[i].failed,
		                           .last_success = t[i].last};
		assert_int_equal(web_meter_ok(&m, t[i].max_age, t[i].now), t[i].ok);
	}
}

static void health_verdict(void **state)
{
	(void)state;
	struct web_meter_info m[2] = {
	        {.name = "A", .kind = "JSON_HTTP", .have = true, .last_success = 5000},
	        {.name = "B", .kind = "SCRIPT", .have = false, .last_success = 0},
	};
	struct web_health h = {.version = "x",
	                       .boot = 0,
	                       .started = 1000,
	                       .max_age_ms = 10000,
	                       .meters = m,
	                       .n_meters = 2};
	assert_true(web_health_ok(&h, 15000));  /* A read 10 s ago */
	assert_false(web_health_ok(&h, 15001)); /* too old */
	/* Grace: before any reading, the start of the setup counts. */
	m[0].have = false;
	assert_true(web_health_ok(&h, 11000));
	assert_false(web_health_ok(&h, 11001));
	/* One good meter is enough, a failed-but-recent one keeps the daemon healthy too
	 * (the bound is about readings, not about the last attempt). */
	m[1].have = true;
	m[1].failed = true;
	m[1].last_success = 20000;
	assert_true(web_health_ok(&h, 29000));
	/* No meters at all: only the grace period. */
	h.n_meters = 0;
	assert_false(web_health_ok(&h, 29000));
	h.max_age_ms = 0;
	assert_true(web_health_ok(&h, 29000));
}

static void health_json_fields(void **state)
{
	(void)state;
	struct web_meter_info m[2] = {
	        {.name = "JSON_HTTP",
	         .kind = "JSON_HTTP",
	         .have = true,
	         .last_success = 61234,
	         .error = "",
	         .fetches = 7,
	         .failures = 1},
	        {.name = "SCRIPT_2",
	         .kind = "SCRIPT",
	         .have = false,
	         .failed = true,
	         .error = "exit status 3",
	         .fetches = 2,
	         .failures = 2},
	};
	struct web_device_info d[2] = {{.type = "ct002", .id = "device-1", .consumers = 2},
	                               {.type = "shellyemg3", .id = "s-1", .consumers = -1}};
	struct web_health h = {.version = "1.2.3",
	                       .git_commit = "abc",
	                       .boot = 1000,
	                       .started = 2000,
	                       .max_age_ms = 120000,
	                       .meters = m,
	                       .n_meters = 2,
	                       .devices = d,
	                       .n_devices = 2};
	bool healthy = false;
	char *s = web_health_json(&h, 63999, &healthy);
	assert_non_null(s);
	assert_true(healthy);
	cJSON *j = cJSON_Parse(s);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "status")->valuestring, "healthy");
	assert_string_equal(cJSON_GetObjectItem(j, "service")->valuestring, "astrameter");
	assert_string_equal(cJSON_GetObjectItem(j, "version")->valuestring, "1.2.3");
	assert_string_equal(cJSON_GetObjectItem(j, "git_commit")->valuestring, "abc");
	assert_int_equal(cJSON_GetObjectItem(j, "uptime_s")->valuedouble, 62);
	cJSON *pm = cJSON_GetObjectItem(j, "powermeters");
	assert_int_equal(cJSON_GetArraySize(pm), 2);
	cJSON *a = cJSON_GetArrayItem(pm, 0), *b = cJSON_GetArrayItem(pm, 1);
	assert_string_equal(cJSON_GetObjectItem(a, "name")->valuestring, "JSON_HTTP");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(a, "ok")));
	assert_true(cJSON_GetObjectItem(a, "last_success_age_s")->valuedouble == 2.7);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(a, "error")));
	assert_int_equal(cJSON_GetObjectItem(a, "fetches")->valuedouble, 7);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(b, "ok")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(b, "last_success_age_s")));
	assert_string_equal(cJSON_GetObjectItem(b, "error")->valuestring, "exit status 3");
	assert_string_equal(cJSON_GetObjectItem(b, "type")->valuestring, "SCRIPT");
	cJSON *dv = cJSON_GetObjectItem(j, "devices");
	assert_int_equal(cJSON_GetArraySize(dv), 2);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(dv, 0), "consumers")->valuedouble,
	                 2);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(dv, 1), "consumers")));
	cJSON_Delete(j);
	free(s);

	/* 2 minutes without a reading: unhealthy, said in the body too; no git commit. */
	h.git_commit = NULL;
	s = web_health_json(&h, 61234 + 120001, &healthy);
	assert_non_null(s);
	assert_false(healthy);
	j = cJSON_Parse(s);
	assert_string_equal(cJSON_GetObjectItem(j, "status")->valuestring, "unhealthy");
	assert_null(cJSON_GetObjectItem(j, "git_commit"));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(
	        cJSON_GetArrayItem(cJSON_GetObjectItem(j, "powermeters"), 0), "ok")));
	cJSON_Delete(j);
	free(s);
}

/* --- the server in the loop ------------------------------------------------------ */

/* A fake clock the tests move, so max_age can pass instantly. */
static ev_ms fake_clock(void *arg)
{
	return *(ev_ms *)arg;
}

struct fixture {
	ev_ms now;
	struct ev_loop *loop;
	struct web_server *w;
	ev_ms started; /* what the snapshot says: when the running setup started */
	uint16_t port;
};

/* The owner's side: no meters, no devices, a setup started at f->started. */
static void snapshot(void *arg, ev_ms now, struct web_health *h)
{
	(void)now;
	const struct fixture *f = arg;
	h->started = f->started;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->now = 100000;
	f->loop = ev_new(fake_clock, &f->now);
	struct web_opts o = {.addr = "127.0.0.1",
	                     .port = 0,
	                     .max_age_ms = 60000,
	                     .version = "t",
	                     .boot = f->now};
	struct err e = {{0}};
	f->w = web_server_new(f->loop, &o, &e);
	if (!f->w) {
		fprintf(stderr, "web_server_new: %s\n", e.msg);
		return -1;
	}
	f->port = web_server_port(f->w);
	f->started = f->now;
	web_server_set_source(f->w, snapshot, f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	web_server_free(f->w);
	ev_free(f->loop);
	free(f);
	return 0;
}

/* Sends req (len bytes) and collects the answer until the server closes, driving the
 * loop between reads. Returns the bytes received (NUL-terminated in buf). */
static size_t exchange(struct fixture *f, const char *req, size_t len, char *buf, size_t cap)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(f->port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	assert_true(r == 0 || errno == EINPROGRESS);
	size_t sent = 0, got = 0;
	for (int round = 0; round < 400; round++) {
		(void)ev_run_once(f->loop, 5);
		if (sent < len) {
			ssize_t k = send(fd, req + sent, len - sent, MSG_NOSIGNAL);
			if (k > 0)
				sent += (size_t)k;
			else if (k < 0 && errno != EAGAIN)
				sent = len; /* the server closed on us: read what it said */
		}
		ssize_t k = recv(fd, buf + got, cap - 1 - got, 0);
		if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
			break;
		if (k > 0)
			got += (size_t)k;
	}
	close(fd);
	buf[got] = '\0';
	return got;
}

static int status_of(const char *resp)
{
	int st = -1;
	if (sscanf(resp, "HTTP/1.1 %d", &st) != 1)
		return -1;
	return st;
}

static const char *body_of(const char *resp)
{
	const char *b = strstr(resp, "\r\n\r\n");
	return b ? b + 4 : "";
}

#define REQ(s) s, sizeof(s) - 1

static void server_health_head_404_405(void **state)
{
	struct fixture *f = *state;
	char buf[8192];
	exchange(f, REQ("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), buf,
	         sizeof(buf));
	assert_int_equal(status_of(buf), 200);
	assert_non_null(strstr(buf, "Content-Type: application/json"));
	assert_non_null(strstr(buf, "Cache-Control: no-cache"));
	cJSON *j = cJSON_Parse(body_of(buf));
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "status")->valuestring, "healthy");
	cJSON_Delete(j);

	exchange(f, REQ("HEAD /api/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), buf,
	         sizeof(buf));
	assert_int_equal(status_of(buf), 200);
	assert_string_equal(body_of(buf), ""); /* HEAD: headers only */
	assert_non_null(strstr(buf, "Content-Length: "));

	exchange(f, REQ("GET /config HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), buf,
	         sizeof(buf));
	assert_int_equal(status_of(buf), 404);
	assert_string_equal(body_of(buf), "{\"error\":\"Not Found\"}");

	exchange(f,
	         REQ("POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: "
	             "close\r\n\r\nabc"),
	         buf, sizeof(buf));
	assert_int_equal(status_of(buf), 405);
	assert_non_null(strstr(buf, "Allow: GET, HEAD"));
}

static void server_503_after_max_age(void **state)
{
	struct fixture *f = *state;
	char buf[8192];
	f->now += 60000; /* exactly max_age after the start: still in grace */
	exchange(f, REQ("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"), buf, sizeof(buf));
	assert_int_equal(status_of(buf), 200);
	f->now += 1;
	exchange(f, REQ("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), buf,
	         sizeof(buf));
	assert_int_equal(status_of(buf), 503);
	assert_non_null(strstr(body_of(buf), "\"unhealthy\""));
	/* A reload (new setup) starts a new grace period. */
	f->started = f->now;
	exchange(f, REQ("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), buf,
	         sizeof(buf));
	assert_int_equal(status_of(buf), 200);
}

static void server_garbage_and_huge_headers(void **state)
{
	struct fixture *f = *state;
	char buf[8192];
	size_t n = exchange(f, REQ("\x01\x02garbage\r\n\r\n"), buf, sizeof(buf));
	/* Answered 400 or closed: never a 200, never a hang. */
	assert_true(n == 0 || status_of(buf) == 400);

	size_t big = 64 * 1024;
	char *req = malloc(big + 64);
	int k = snprintf(req, 64, "GET /health HTTP/1.1\r\nX-Big: ");
	memset(req + k, 'a', big);
	memcpy(req + k + big, "\r\n\r\n", 4);
	n = exchange(f, req, (size_t)k + big + 4, buf, sizeof(buf));
	free(req);
	assert_true(n == 0 || (status_of(buf) >= 400 && status_of(buf) < 500));

	/* The server still works afterwards. */
	exchange(f, REQ("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), buf,
	         sizeof(buf));
	assert_int_equal(status_of(buf), 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(meter_ok_table),
	        cmocka_unit_test(health_verdict),
	        cmocka_unit_test(health_json_fields),
	        cmocka_unit_test_setup_teardown(server_health_head_404_405, setup, teardown),
	        cmocka_unit_test_setup_teardown(server_503_after_max_age, setup, teardown),
	        cmocka_unit_test_setup_teardown(server_garbage_and_huge_headers, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
