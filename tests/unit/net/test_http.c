/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The curl-multi <-> ev glue against a real HTTP server on loopback: a forked child that
 * serves each connection in its own process with blocking I/O and numbers connections,
 * so keep-alive reuse is visible in the replies. Covers GET, headers, basic and digest
 * auth, POST, HTTP error statuses, timeouts, refused connections, the body cap,
 * restarting from the done callback, cancel and freeing the client mid-request. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "astrameter/ev.h"
#include "astrameter/http.h"

/* --- the server (child process) --------------------------------------------------------- */

static void get_header(const char *hdrs, const char *name, char *out, size_t cap)
{
	out[0] = '\0';
	size_t nl = strlen(name);
	for (const char *l = hdrs; l && *l; l = strstr(l, "\r\n") ? strstr(l, "\r\n") + 2 : NULL) {
		if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
			const char *v = l + nl + 1;
			while (*v == ' ')
				v++;
			size_t n = strcspn(v, "\r\n");
			if (n >= cap)
				n = cap - 1;
			memcpy(out, v, n);
			out[n] = '\0';
			return;
		}
	}
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			_exit(0);
		p += w;
		n -= (size_t)w;
	}
}

static void reply(int fd, int status, const char *extra, const char *body)
{
	char head[512];
	int n = snprintf(head, sizeof(head),
	                 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n%sContent-Length: "
	                 "%zu\r\n\r\n",
	                 status, extra, strlen(body));
	write_all(fd, head, (size_t)n);
	write_all(fd, body, strlen(body));
}

static void serve_conn(int fd, int connno)
{
	static char buf[1 << 16];
	size_t len = 0;
	for (;;) {
		char *end;
		while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
			ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
			if (n <= 0)
				_exit(0);
			len += (size_t)n;
		}
		size_t hlen = (size_t)(end - buf) + 4;
		*end = '\0';
		char method[16] = "", path[256] = "";
		sscanf(buf, "%15s %255s", method, path);
		char auth[256], xtest[64], clen[32];
		get_header(buf, "Authorization", auth, sizeof(auth));
		get_header(buf, "X-Test", xtest, sizeof(xtest));
		get_header(buf, "Content-Length", clen, sizeof(clen));
		for (char *q = auth; *q; q++)
			if (*q == '"')
				*q = '\''; /* keep the echo valid JSON */
		size_t blen = (size_t)atol(clen);
		while (len < hlen + blen) {
			ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
			if (n <= 0)
				_exit(0);
			len += (size_t)n;
		}
		char body[512];
		snprintf(body, sizeof(body), "%.*s", (int)blen, buf + hlen);
		memmove(buf, buf + hlen + blen, len - hlen - blen);
		len -= hlen + blen;

		char out[2048];
		snprintf(out, sizeof(out),
		         "{\"conn\":%d,\"method\":\"%s\",\"path\":\"%s\",\"auth\":\"%s\",\"x\":"
		         "\"%s\",\"body\":\"%s\"}",
		         connno, method, path, auth, xtest, body);
		if (strcmp(path, "/hang") == 0) {
			for (;;)
				pause();
		} else if (strcmp(path, "/status/503") == 0) {
			reply(fd, 503, "", "{\"error\":\"busy\"}");
		} else if (strcmp(path, "/big") == 0 || strcmp(path, "/bigcl") == 0) {
			/* 2 MiB; /big without Content-Length (close-delimited) so only the
			 * write-callback cap can stop it. */
			if (path[4] == 'c')
				write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2097152\r\n\r\n",
				          44);
			else
				write_all(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", 38);
			static char chunk[65536];
			memset(chunk, 'x', sizeof(chunk));
			for (int i = 0; i < 32; i++)
				write_all(fd, chunk, sizeof(chunk));
			_exit(0);
		} else if (strcmp(path, "/digest") == 0 && strncmp(auth, "Digest ", 7) != 0) {
			reply(fd, 401,
			      "WWW-Authenticate: Digest realm=\"t\", nonce=\"abc\", "
			      "qop=\"auth\"\r\n",
			      "{}");
		} else {
			reply(fd, 200, "", out);
		}
	}
}

struct server {
	pid_t pid;
	int port;
};

static struct server server_start(void)
{
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(ls >= 0);
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(ls, 16), 0);
	socklen_t al = sizeof(a);
	getsockname(ls, (struct sockaddr *)&a, &al);
	struct server s = {.port = ntohs(a.sin_port)};
	s.pid = fork();
	assert_true(s.pid >= 0);
	if (s.pid == 0) {
		setpgid(0, 0);
		signal(SIGPIPE, SIG_IGN);
		signal(SIGCHLD, SIG_IGN); /* auto-reap connection handlers */
		for (int n = 1;; n++) {
			int fd = accept(ls, NULL, NULL);
			if (fd < 0)
				continue;
			if (fork() == 0) {
				close(ls);
				serve_conn(fd, n);
				_exit(0);
			}
			close(fd);
		}
	}
	setpgid(s.pid, s.pid);
	close(ls);
	return s;
}

static void server_stop(struct server *s)
{
	kill(-s->pid, SIGKILL);
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
}

/* --- client side ------------------------------------------------------------------------ */

struct done {
	int count;
	bool ok;
	long status;
	char body[4096];
	size_t len;
	char error[160];
	/* restart test */
	int restarts;
};

static void on_done(struct http_req *r, const struct http_result *res, void *arg)
{
	(void)r;
	struct done *d = arg;
	d->count++;
	d->ok = res->ok;
	d->status = res->status;
	d->len = res->len;
	snprintf(d->body, sizeof(d->body), "%s", res->body);
	snprintf(d->error, sizeof(d->error), "%s", res->error);
}

struct fx {
	struct server srv;
	struct ev_loop *loop;
	struct http_client *c;
	char url[128];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->srv = server_start();
	f->loop = ev_new(NULL, NULL);
	f->c = http_client_new(f->loop);
	assert_non_null(f->c);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	if (f->c)
		http_client_free(f->c);
	ev_free(f->loop);
	server_stop(&f->srv);
	free(f);
	return 0;
}

static const char *url(struct fx *f, const char *path)
{
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d%s", f->srv.port, path);
	return f->url;
}

/* Runs the loop until d->count reaches want or max_ms pass; returns elapsed ms. */
static ev_ms run_until(struct ev_loop *l, struct done *d, int want, ev_ms max_ms)
{
	ev_ms start = ev_update_now(l);
	while (d->count < want && ev_now(l) - start < max_ms)
		ev_run_once(l, 50);
	return ev_now(l) - start;
}

static int json_int(const char *body, const char *key)
{
	cJSON *j = cJSON_Parse(body);
	assert_non_null(j);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
	int r = cJSON_IsNumber(v) ? v->valueint : -1;
	cJSON_Delete(j);
	return r;
}

static void json_str(const char *body, const char *key, char *out, size_t cap)
{
	cJSON *j = cJSON_Parse(body);
	assert_non_null(j);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
	assert_true(cJSON_IsString(v));
	snprintf(out, cap, "%s", v->valuestring);
	cJSON_Delete(j);
}

static void test_get_headers_keepalive(void **state)
{
	struct fx *f = *state;
	struct http_req *r = http_req_new(f->c);
	assert_non_null(r);
	assert_int_equal(http_req_set_url(r, url(f, "/json")), 0);
	assert_int_equal(http_req_add_header(r, "X-Test: 1"), 0);
	struct done d = {0};
	assert_int_equal(http_req_start(r, on_done, &d), 0);
	assert_true(http_req_running(r));
	/* A second start while running is refused. */
	assert_int_equal(http_req_start(r, on_done, &d), -1);
	run_until(f->loop, &d, 1, 3000);
	assert_int_equal(d.count, 1);
	assert_true(d.ok);
	assert_int_equal(d.status, 200);
	assert_false(http_req_running(r));
	char s[128];
	json_str(d.body, "method", s, sizeof(s));
	assert_string_equal(s, "GET");
	json_str(d.body, "x", s, sizeof(s));
	assert_string_equal(s, "1");
	json_str(d.body, "auth", s, sizeof(s));
	assert_string_equal(s, "");
	int conn = json_int(d.body, "conn");

	/* The same request again rides the same TCP connection. */
	http_req_clear_headers(r);
	assert_int_equal(http_req_start(r, on_done, &d), 0);
	run_until(f->loop, &d, 2, 3000);
	assert_int_equal(d.count, 2);
	assert_int_equal(json_int(d.body, "conn"), conn);
	json_str(d.body, "x", s, sizeof(s));
	assert_string_equal(s, "");
	http_req_free(r);
}

static void test_basic_auth_and_post(void **state)
{
	struct fx *f = *state;
	struct http_req *r = http_req_new(f->c);
	http_req_set_url(r, url(f, "/json"));
	assert_int_equal(http_req_set_auth(r, "user", "pass", false), 0);
	assert_int_equal(http_req_set_post(r, "a=1&b=2", 7, "application/x-www-form-urlencoded"),
	                 0);
	struct done d = {0};
	http_req_start(r, on_done, &d);
	run_until(f->loop, &d, 1, 3000);
	assert_true(d.ok);
	char s[256];
	json_str(d.body, "auth", s, sizeof(s));
	assert_string_equal(s, "Basic dXNlcjpwYXNz");
	json_str(d.body, "method", s, sizeof(s));
	assert_string_equal(s, "POST");
	json_str(d.body, "body", s, sizeof(s));
	assert_string_equal(s, "a=1&b=2");

	/* Back to GET without auth. */
	http_req_set_post(r, NULL, 0, NULL);
	http_req_set_auth(r, NULL, NULL, false);
	http_req_start(r, on_done, &d);
	run_until(f->loop, &d, 2, 3000);
	json_str(d.body, "method", s, sizeof(s));
	assert_string_equal(s, "GET");
	json_str(d.body, "auth", s, sizeof(s));
	assert_string_equal(s, "");
	http_req_free(r);
}

static void test_digest_auth(void **state)
{
	struct fx *f = *state;
	struct http_req *r = http_req_new(f->c);
	http_req_set_url(r, url(f, "/digest"));
	http_req_set_auth(r, "admin", "secret", true);
	struct done d = {0};
	http_req_start(r, on_done, &d);
	run_until(f->loop, &d, 1, 3000);
	assert_true(d.ok);
	assert_int_equal(d.status, 200);
	char s[256];
	json_str(d.body, "auth", s, sizeof(s));
	assert_non_null(strstr(s, "Digest username='admin'"));
	assert_null(strstr(s, "secret"));
	http_req_free(r);
}

static void test_http_status(void **state)
{
	struct fx *f = *state;
	struct http_req *r = http_req_new(f->c);
	http_req_set_url(r, url(f, "/status/503"));
	struct done d = {0};
	http_req_start(r, on_done, &d);
	run_until(f->loop, &d, 1, 3000);
	/* The transfer worked; the status is for the caller to judge. */
	assert_true(d.ok);
	assert_int_equal(d.status, 503);
	assert_string_equal(d.body, "{\"error\":\"busy\"}");
	http_req_free(r);
}

static void test_timeout(void **state)
{
	struct fx *f = *state;
	struct http_req *r = http_req_new(f->c);
	http_req_set_url(r, url(f, "/hang"));
	struct done d = {0};
	http_req_start(r, on_done, &d);
	ev_ms took = run_until(f->loop, &d, 1, 5000);
	assert_int_equal(d.count, 1);
	assert_false(d.ok);
	assert_string_equal(d.error, "timeout after 2000 ms");
	assert_true(took >= 1900 && took <= 2600);

	http_req_set_timeouts(r, 500, 300);
	http_req_start(r, on_done, &d);
	took = run_until(f->loop, &d, 2, 5000);
	assert_int_equal(d.count, 2);
	assert_string_equal(d.error, "timeout after 300 ms");
	assert_true(took >= 250 && took <= 800);
	http_req_free(r);
}

static void test_refused(void **state)
{
	struct fx *f = *state;
	/* A port nobody listens on: bind, read the number, close. */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bind(s, (struct sockaddr *)&a, sizeof(a));
	socklen_t al = sizeof(a);
	getsockname(s, (struct sockaddr *)&a, &al);
	close(s);
	char u[64];
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/", ntohs(a.sin_port));
	struct http_req *r = http_req_new(f->c);
	http_req_set_url(r, u);
	struct done d = {0};
	http_req_start(r, on_done, &d);
	run_until(f->loop, &d, 1, 3000);
	assert_false(d.ok);
	assert_string_equal(d.error, "connection refused");
	assert_int_equal(d.status, 0);

	http_req_set_url(r, "ftp://127.0.0.1/");
	http_req_start(r, on_done, &d);
	run_until(f->loop, &d, 2, 3000);
	assert_int_equal(d.count, 2);
	assert_string_equal(d.error, "bad URL");

	http_req_set_url(r, "http://no-such-host.invalid/");
	http_req_start(r, on_done, &d);
	run_until(f->loop, &d, 3, 3000);
	assert_int_equal(d.count, 3);
	assert_string_equal(d.error, "could not resolve host");
	http_req_free(r);
}

static void test_body_cap(void **state)
{
	struct fx *f = *state;
	struct http_req *r = http_req_new(f->c);
	struct done d = {0};
	http_req_set_url(r, url(f, "/big"));
	http_req_start(r, on_done, &d);
	run_until(f->loop, &d, 1, 3000);
	assert_false(d.ok);
	assert_string_equal(d.error, "body too large (over 1048576 bytes)");

	http_req_set_url(r, url(f, "/bigcl"));
	http_req_start(r, on_done, &d);
	run_until(f->loop, &d, 2, 3000);
	assert_int_equal(d.count, 2);
	assert_string_equal(d.error, "body too large (over 1048576 bytes)");

	/* The same request recovers for a normal body. */
	http_req_set_url(r, url(f, "/json"));
	http_req_start(r, on_done, &d);
	run_until(f->loop, &d, 3, 3000);
	assert_true(d.ok);
	assert_int_equal(json_int(d.body, "conn") > 0, 1);
	http_req_free(r);
}

struct chain {
	struct done d;
	struct http_req *r;
	int conns[3];
};

static void on_chain(struct http_req *r, const struct http_result *res, void *arg)
{
	struct chain *c = arg;
	assert_true(res->ok);
	c->conns[c->d.count] = json_int(res->body, "conn");
	c->d.count++;
	/* The handle was removed before we were called: restarting must work. */
	if (c->d.count < 3)
		assert_int_equal(http_req_start(r, on_chain, c), 0);
}

static void test_restart_from_callback(void **state)
{
	struct fx *f = *state;
	struct chain c = {0};
	c.r = http_req_new(f->c);
	http_req_set_url(c.r, url(f, "/json"));
	http_req_start(c.r, on_chain, &c);
	run_until(f->loop, &c.d, 3, 5000);
	assert_int_equal(c.d.count, 3);
	assert_int_equal(c.conns[0], c.conns[1]);
	assert_int_equal(c.conns[1], c.conns[2]);
	http_req_free(c.r);
}

static void on_free_self(struct http_req *r, const struct http_result *res, void *arg)
{
	(void)res;
	(*(int *)arg)++;
	http_req_free(r);
}

static void test_cancel_and_free(void **state)
{
	struct fx *f = *state;
	struct http_req *r = http_req_new(f->c);
	http_req_set_url(r, url(f, "/hang"));
	struct done d = {0};
	http_req_start(r, on_done, &d);
	for (int i = 0; i < 5; i++)
		ev_run_once(f->loop, 20);
	http_req_cancel(r);
	assert_false(http_req_running(r));
	run_until(f->loop, &d, 1, 300);
	assert_int_equal(d.count, 0);

	/* Freed from its own callback. */
	int n = 0;
	struct http_req *r2 = http_req_new(f->c);
	http_req_set_url(r2, url(f, "/json"));
	http_req_start(r2, on_free_self, &n);
	ev_ms start = ev_update_now(f->loop);
	while (n == 0 && ev_now(f->loop) - start < 3000)
		ev_run_once(f->loop, 50);
	assert_int_equal(n, 1);

	/* Freeing the client cancels a running request without calling back; the request
	 * shell is still freed by its owner. */
	http_req_start(r, on_done, &d);
	ev_run_once(f->loop, 20);
	http_client_free(f->c);
	f->c = NULL;
	assert_false(http_req_running(r));
	assert_int_equal(http_req_start(r, on_done, &d), -1);
	http_req_free(r);
	assert_int_equal(d.count, 0);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_get_headers_keepalive, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_basic_auth_and_post, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_digest_auth, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_http_status, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_body_cap, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_restart_from_callback, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_cancel_and_free, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
