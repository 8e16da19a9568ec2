/* SPDX-License-Identifier: GPL-3.0-or-later */
/* JSON_HTTP: the pure body parser against upstream's test bodies and recorded-style
 * device responses, broken bodies, HEADERS parsing, and the whole driver (config ->
 * libcurl -> parse -> pm_meter cache) against a forked loopback server. */
#include <arpa/inet.h>
#include <math.h>
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

#include "astrameter/config.h"
#include "astrameter/http.h"
#include "astrameter/jsonpath.h"
#include "astrameter/pm_json_http.h"
#include "astrameter/powermeter.h"

static char *read_fixture(const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/json_http/%s", AM_FIXTURES, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	static char buf[1 << 16];
	*len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return buf;
}

static int parse_with(const char *paths, const char *body, size_t len, struct pm_reading *r,
                      struct err *e)
{
	struct jsonpath *p[PM_MAX_VALUES];
	size_t n;
	if (jsonpath_compile_list(paths, p, PM_MAX_VALUES, &n, e) != 0)
		fail_msg("compile '%s': %s", paths, e->msg);
	int rc = pm_json_http_parse((const struct jsonpath *const *)p, n, body, len, r, e);
	for (size_t i = 0; i < n; i++)
		jsonpath_free(p[i]);
	return rc;
}

struct fixture_case {
	const char *file;
	const char *paths;
	unsigned n;
	double w[3];
};

static const struct fixture_case fixture_cases[] = {
        /* upstream json_http_test.py */
        {"single_phase.json", "$.power", 1, {100}},
        {"three_phase.json", "$.p1, $.p2, $.p3", 3, {100, 200, 300}},
        {"openhab_item.json", "$.state.`sub(/[^0-9.\\-]+$/, )`", 1, {331.74}},
        /* the documented split( , 0, -1) form survives the comma-list split */
        {"openhab_item.json", "$.state.`split( , 0, -1)`", 1, {331.74}},
        {"envoy_like.json",
         "$.consumption[?(@.measurementType=='net-consumption')].lines[0].wNow,"
         "$.consumption[?(@.measurementType=='net-consumption')].lines[1].wNow,"
         "$.consumption[?(@.measurementType=='net-consumption')].lines[2].wNow",
         3,
         {-230.5, -229.7, -230.0}},
        {"envoy_like.json", "$.consumption[1].wNow", 1, {-690.2}},
        {"nested_phases.json", "$.meter.phases[*].power", 1, {-12.5}},
        {"nested_phases.json",
         "$.meter.phases[0].power, $.meter.phases[1].power, $.meter.phases[2].power",
         3,
         {-12.5, 230, 100}},
        {"nested_phases.json", "$..value", 1, {317.5}},
        {"nested_phases.json", "total.value", 1, {317.5}},
};

static void test_fixtures(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(fixture_cases) / sizeof(fixture_cases[0]); i++) {
		const struct fixture_case *c = &fixture_cases[i];
		size_t len;
		char *body = read_fixture(c->file, &len);
		struct pm_reading r;
		struct err e = {{0}};
		if (parse_with(c->paths, body, len, &r, &e) != 0)
			fail_msg("%s / %s: %s", c->file, c->paths, e.msg);
		assert_int_equal(r.n, c->n);
		for (unsigned k = 0; k < c->n; k++)
			if (fabs(r.w[k] - c->w[k]) > 1e-9)
				fail_msg("%s / %s: value %u = %g, want %g", c->file, c->paths, k,
				         r.w[k], c->w[k]);
		assert_int_equal(r.at, 0);
	}
}

struct broken_case {
	const char *paths;
	const char *body;
	const char *msg;
};

static const struct broken_case broken_cases[] = {
        {"$.power", "", "empty body"},
        {"$.power", "  \r\n ", "empty body"},
        {"$.power", "{\"power\": 1", "not valid JSON"},
        {"$.power", "{\"power\": }", "not valid JSON"},
        {"$.power", "<html>502 Bad Gateway</html>", "not valid JSON"},
        {"$.power", "{\"power\": 1} trailing", "data after the document"},
        {"$.power", "{\"power\": 1}{\"power\": 2}", "data after the document"},
        {"$.power", "{\"other\": 1}", "no match for JSON path '$.power'"},
        {"$.p1, $.p2", "{\"p1\": 1}", "no match for JSON path '$.p2'"},
        {"$.power", "{\"power\": null}", "not a number (null)"},
        {"$.power", "{\"power\": \"n/a\"}", "not a number (\"n/a\")"},
        {"$.power", "{\"power\": {\"w\": 1}}", "not a number (an object)"},
        {"$.power", "{\"power\": [1]}", "not a number (an array)"},
        {"$.power", "{\"power\": 1e400}", "not a finite number"},
        {"$.power", "{\"power\": 5e9}", "out of range"},
        {"$.power", "{\"power\": \"NaN\"}", "not a number"},
        {"$.power", "[1, 2]", "no match"},
};

static void test_broken(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(broken_cases) / sizeof(broken_cases[0]); i++) {
		const struct broken_case *c = &broken_cases[i];
		struct pm_reading r = {.n = 99};
		struct err e = {{0}};
		if (parse_with(c->paths, c->body, strlen(c->body), &r, &e) == 0)
			fail_msg("'%s' parsed", c->body);
		if (!strstr(e.msg, c->msg))
			fail_msg("'%s': message '%s' lacks '%s'", c->body, e.msg, c->msg);
		assert_int_equal(r.n, 99); /* out untouched on failure */
	}
}

static void test_length_respected(void **state)
{
	(void)state;
	/* The body is not NUL-terminated: only len bytes count. */
	const char body[] = "{\"power\": 12}{\"garbage\"";
	struct pm_reading r;
	struct err e;
	assert_int_equal(parse_with("$.power", body, 13, &r, &e), 0);
	assert_true(r.w[0] == 12);
	/* Bool as upstream's float(True). */
	assert_int_equal(parse_with("$.on", "{\"on\": true}", 12, &r, &e), 0);
	assert_true(r.w[0] == 1);
	/* Path count bounds. */
	assert_int_equal(pm_json_http_parse(NULL, 0, "{}", 2, &r, &e), -1);
}

struct hdr_acc {
	char buf[512];
	int n;
};

static int collect(const char *name, const char *value, void *arg)
{
	struct hdr_acc *a = arg;
	size_t l = strlen(a->buf);
	snprintf(a->buf + l, sizeof(a->buf) - l, "[%s|%s]", name, value);
	a->n++;
	return 0;
}

static void test_headers(void **state)
{
	(void)state;
	struct hdr_acc a = {{0}, 0};
	struct err e;
	assert_int_equal(pm_json_http_parse_headers("Authorization: Bearer a:b:c ; X-Key:1;junk;;"
	                                            " Accept :  application/json ",
	                                            collect, &a, &e),
	                 0);
	assert_int_equal(a.n, 3);
	assert_string_equal(a.buf,
	                    "[Authorization|Bearer a:b:c][X-Key|1][Accept|application/json]");
	memset(&a, 0, sizeof(a));
	assert_int_equal(pm_json_http_parse_headers("", collect, &a, &e), 0);
	assert_int_equal(a.n, 0);
	assert_int_equal(pm_json_http_parse_headers(" : v", collect, &a, &e), -1);
	assert_non_null(strstr(e.msg, "empty header name"));
	assert_int_equal(pm_json_http_parse_headers("A: 1\nB: 2", collect, &a, &e), -1);
	assert_non_null(strstr(e.msg, "span lines"));
}

/* --- whole driver against a loopback server ---------------------------------------------- */

static void serve(int fd)
{
	char buf[8192];
	size_t len = 0;
	for (;;) {
		char *end;
		while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
			ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
			if (n <= 0)
				_exit(0);
			len += (size_t)n;
		}
		size_t hl = (size_t)(end - buf) + 4;
		buf[hl - 1] = '\0';
		char path[128] = "";
		sscanf(buf, "%*s %127s", path);
		bool auth = strstr(buf, "\r\nAuthorization: Basic dXNlcjpwYXNz\r\n") != NULL;
		bool key = strstr(buf, "\r\nX-Key: abc\r\n") != NULL;
		memmove(buf, buf + hl, len - hl);
		len -= hl;
		const char *status = "200 OK", *body = "{\"a\": {\"p\": [1.5, -2.5, 3]}}";
		if (strcmp(path, "/503") == 0) {
			status = "503 Service Unavailable";
			body = "{}";
		} else if (strcmp(path, "/bad") == 0) {
			body = "{\"a\": ";
		} else if (strcmp(path, "/auth") == 0 && !(auth && key)) {
			status = "401 Unauthorized";
			body = "{}";
		}
		char out[512];
		int n = snprintf(out, sizeof(out), "HTTP/1.1 %s\r\nContent-Length: %zu\r\n\r\n%s",
		                 status, strlen(body), body);
		if (write(fd, out, (size_t)n) != n)
			_exit(0);
	}
}

static pid_t server(int *port)
{
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
	listen(ls, 8);
	socklen_t al = sizeof(a);
	getsockname(ls, (struct sockaddr *)&a, &al);
	*port = ntohs(a.sin_port);
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		signal(SIGCHLD, SIG_IGN);
		for (;;) {
			int fd = accept(ls, NULL, NULL);
			if (fd >= 0 && fork() == 0)
				serve(fd);
			if (fd >= 0)
				close(fd);
		}
	}
	setpgid(pid, pid);
	close(ls);
	return pid;
}

struct drv_fx {
	struct ev_loop *loop;
	struct pm_ctx ctx;
	struct cfg cfg;
};

/* Builds a meter from an ini text, polls it once and runs the loop until it settles. */
static struct pm_meter *poll_once(struct drv_fx *f, const char *ini, struct err *e)
{
	memset(&f->cfg, 0, sizeof(f->cfg));
	if (cfg_load_string(&f->cfg, ini, e) != 0)
		fail_msg("ini: %s", e->msg);
	struct pm_meter *m =
	        pm_meter_new(pm_driver_for_section("JSON_HTTP"), &f->cfg.sec[0], NULL, &f->ctx, e);
	if (!m)
		return NULL;
	assert_int_equal(pm_meter_start(m, e), 0);
	ev_ms start = ev_update_now(f->loop);
	pm_meter_kick(m, start);
	while (m->in_flight && ev_now(f->loop) - start < 3000)
		ev_run_once(f->loop, 50);
	assert_false(m->in_flight);
	return m;
}

static void test_driver(void **state)
{
	(void)state;
	int port;
	pid_t pid = server(&port);
	struct drv_fx f;
	f.loop = ev_new(NULL, NULL);
	f.ctx.loop = f.loop;
	f.ctx.http = http_client_new(f.loop);
	struct err e;
	char ini[512];

	snprintf(ini, sizeof(ini),
	         "[JSON_HTTP]\nURL = http://127.0.0.1:%d/x\nJSON_PATHS = $.a.p[0], $.a.p[1], "
	         "$.a.p[2]\n",
	         port);
	struct pm_meter *m = poll_once(&f, ini, &e);
	assert_non_null(m);
	assert_false(m->failed);
	assert_int_equal(m->raw.n, 3);
	assert_true(m->raw.w[0] == 1.5 && m->raw.w[1] == -2.5 && m->raw.w[2] == 3);
	pm_meter_free(m);
	cfg_free(&f.cfg);

	snprintf(ini, sizeof(ini),
	         "[JSON_HTTP]\nURL = http://127.0.0.1:%d/auth\nJSON_PATHS = $.a.p[1]\n"
	         "USERNAME = user\nPASSWORD = pass\nHEADERS = X-Key: abc; X-Other: 1\n",
	         port);
	m = poll_once(&f, ini, &e);
	assert_false(m->failed);
	assert_true(m->raw.n == 1 && m->raw.w[0] == -2.5);
	pm_meter_free(m);
	cfg_free(&f.cfg);

	/* Without the header the server says 401: raise_for_status -> failure. */
	snprintf(ini, sizeof(ini),
	         "[JSON_HTTP]\nURL = http://127.0.0.1:%d/auth\nJSON_PATHS = $.a.p[1]\n"
	         "USERNAME = user\nPASSWORD = pass\n",
	         port);
	m = poll_once(&f, ini, &e);
	assert_true(m->failed);
	assert_string_equal(m->last_error, "HTTP 401");
	pm_meter_free(m);
	cfg_free(&f.cfg);

	snprintf(ini, sizeof(ini), "[JSON_HTTP]\nURL = http://127.0.0.1:%d/503\nJSON_PATHS = $.x\n",
	         port);
	m = poll_once(&f, ini, &e);
	assert_true(m->failed);
	assert_string_equal(m->last_error, "HTTP 503");
	pm_meter_free(m);
	cfg_free(&f.cfg);

	snprintf(ini, sizeof(ini), "[JSON_HTTP]\nURL = http://127.0.0.1:%d/bad\nJSON_PATHS = $.a\n",
	         port);
	m = poll_once(&f, ini, &e);
	assert_true(m->failed);
	assert_string_equal(m->last_error, "body is not valid JSON");
	pm_meter_free(m);
	cfg_free(&f.cfg);

	snprintf(ini, sizeof(ini), "[JSON_HTTP]\nURL = http://127.0.0.1:%d/x\nJSON_PATHS = $.a.q\n",
	         port);
	m = poll_once(&f, ini, &e);
	assert_true(m->failed);
	assert_string_equal(m->last_error, "no match for JSON path '$.a.q'");
	pm_meter_free(m);
	cfg_free(&f.cfg);

	http_client_free(f.ctx.http);
	ev_free(f.loop);
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void test_config_errors(void **state)
{
	(void)state;
	static const struct {
		const char *ini, *msg;
	} cases[] = {
	        {"[JSON_HTTP]\nJSON_PATHS = $.a\n", "[JSON_HTTP] URL: required"},
	        {"[JSON_HTTP]\nURL = http://x/\n", "[JSON_HTTP] JSON_PATHS: required"},
	        {"[JSON_HTTP]\nURL = http://x/\nJSON_PATH = $.a\n",
	         "reads JSON_PATHS, not JSON_PATH"},
	        {"[JSON_HTTP_2]\nURL = http://x/\nJSON_PATHS = $.a, $[\n",
	         "[JSON_HTTP_2] JSON_PATHS: JSON path '$['"},
	        {"[JSON_HTTP]\nURL = http://x/\nJSON_PATHS = $.a\nHEADERS = : x\n",
	         "[JSON_HTTP] HEADERS: empty header name"},
	};
	struct pm_ctx ctx = {0};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cfg cfg;
		memset(&cfg, 0, sizeof(cfg));
		struct err e = {{0}};
		assert_int_equal(cfg_load_string(&cfg, cases[i].ini, &e), 0);
		struct pm_meter *m = pm_meter_new(pm_driver_for_section("JSON_HTTP"), &cfg.sec[0],
		                                  NULL, &ctx, &e);
		if (m)
			fail_msg("case %zu configured", i);
		if (!strstr(e.msg, cases[i].msg))
			fail_msg("case %zu: '%s' lacks '%s'", i, e.msg, cases[i].msg);
		cfg_free(&cfg);
	}
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_fixtures),         cmocka_unit_test(test_broken),
	        cmocka_unit_test(test_length_respected), cmocka_unit_test(test_headers),
	        cmocka_unit_test(test_driver),           cmocka_unit_test(test_config_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
