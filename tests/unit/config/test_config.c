/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Unit tests of the config module (src/config/config.c, schema.c): configparser semantics on
 * real files (upstream's example, several powermeters, a 4 KB token, comments, ';' in
 * values, CRLF, BOM, continuation lines, duplicates), every getter's error text, number and
 * boolean spellings, secret redaction, and the schema classification and its warnings.
 * Expected values were checked against Python's configparser (interpolation=None). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>
#include <float.h>
#include <limits.h>

#include "astrameter/cfg_schema.h"
#include "astrameter/config.h"
#include "astrameter/powermeter.h"
#include "astrameter/log.h"

/* ---- helpers ---- */

static struct cfg load_ok(const char *text)
{
	struct cfg c = {0};
	struct err e = {{0}};
	int rc = cfg_load_string(&c, text, &e);
	if (rc != 0)
		fail_msg("load failed: %s", e.msg);
	return c;
}

static void load_fails(const char *text, const char *want)
{
	struct cfg c = {0};
	struct err e = {{0}};
	assert_int_equal(cfg_load_string(&c, text, &e), -1);
	assert_string_equal(e.msg, want);
	assert_null(c.sec);
	assert_int_equal(c.n, 0);
}

static struct cfg load_fixture(const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/config/%s", AM_FIXTURES, name);
	struct cfg c = {0};
	struct err e = {{0}};
	if (cfg_load_file(&c, path, &e) != 0)
		fail_msg("%s: %s", name, e.msg);
	return c;
}

static const char *val(const struct cfg *c, const char *sec, const char *key)
{
	struct cfg_section *s = cfg_find(c, sec);
	return s ? cfg_get(s, key) : NULL;
}

/* Captures what the log writes to stderr between capture_begin() and capture_end(). */
struct capture {
	int saved;
	FILE *tmp;
	char buf[8192];
};

static void capture_begin(struct capture *cap)
{
	fflush(stderr);
	cap->tmp = tmpfile();
	assert_non_null(cap->tmp);
	cap->saved = dup(2);
	assert_true(cap->saved >= 0);
	assert_true(dup2(fileno(cap->tmp), 2) >= 0);
}

static const char *capture_end(struct capture *cap)
{
	fflush(stderr);
	assert_true(dup2(cap->saved, 2) >= 0);
	close(cap->saved);
	rewind(cap->tmp);
	size_t n = fread(cap->buf, 1, sizeof(cap->buf) - 1, cap->tmp);
	cap->buf[n] = '\0';
	fclose(cap->tmp);
	return cap->buf;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* ---- loading real files ---- */

static void test_upstream_example(void **state)
{
	(void)state;
	struct cfg c = load_fixture("upstream_example.ini");
	/* Everything but [GENERAL] is commented out in upstream's example. */
	assert_int_equal(c.n, 1);
	assert_string_equal(c.sec[0].name, "GENERAL");
	assert_int_equal(c.sec[0].n, 3);
	assert_string_equal(val(&c, "GENERAL", "DEVICE_TYPE"), "shellypro3em");
	assert_string_equal(val(&c, "GENERAL", "skip_powermeter_test"), "False");
	assert_string_equal(val(&c, "GENERAL", "THROTTLE_INTERVAL"), "0");
	assert_int_equal(c.sec[0].kv[0].line, 4);
	bool skip = true;
	struct err e;
	assert_int_equal(
	        cfg_get_bool(cfg_find(&c, "GENERAL"), "SKIP_POWERMETER_TEST", true, &skip, &e), 0);
	assert_false(skip);
	cfg_free(&c);
	assert_null(c.sec);
}

static void test_multi_powermeter(void **state)
{
	(void)state;
	struct cfg c = load_fixture("multi_powermeter.ini");
	static const char *const order[] = {"GENERAL",       "CT002",       "CT003",
	                                    "JSON_HTTP_1",   "JSON_HTTP_2", "SCRIPT_fallback",
	                                    "SHELLY_garage", "MQTT2",       "MQTT_INSIGHTS"};
	assert_int_equal(c.n, 9);
	for (size_t i = 0; i < 9; i++)
		assert_string_equal(c.sec[i].name, order[i]);
	assert_string_equal(val(&c, "JSON_HTTP_2", "netmask"), "192.168.1.51/32,192.168.1.52/32");
	assert_string_equal(val(&c, "JSON_HTTP_1", "JSON_PATHS"), "$.a, $.b, $.c");
	assert_string_equal(val(&c, "SCRIPT_fallback", "COMMAND"),
	                    "/usr/local/bin/read-meter --all");
	double th = 0;
	struct err e;
	assert_int_equal(
	        cfg_get_double(cfg_find(&c, "GENERAL"), "THROTTLE_INTERVAL", 0, 0, 3600, &th, &e),
	        0);
	assert_true(th == 1.5);
	long port = 0;
	assert_int_equal(cfg_get_int(cfg_find(&c, "CT003"), "UDP_PORT", 12345, 1, 65535, &port, &e),
	                 0);
	assert_int_equal(port, 12346);
	assert_int_equal(cfg_find(&c, "CT003")->line, 9);
	cfg_free(&c);
}

static void test_long_token(void **state)
{
	(void)state;
	struct cfg c = load_fixture("long_token.ini");
	const char *tok = val(&c, "HOMEASSISTANT", "ACCESSTOKEN");
	assert_non_null(tok);
	assert_int_equal(strlen(tok), 4096);
	assert_memory_equal(tok, "eyJ", 3);
	/* The line after the long one is still its own key. */
	assert_string_equal(val(&c, "HOMEASSISTANT", "PORT"), "8123");
	cfg_free(&c);

	/* 200 KB works too; a line over the 1 MiB limit is refused with its line number. */
	size_t big = 200 * 1024;
	char *text = malloc(big + 64);
	assert_non_null(text);
	int n = sprintf(text, "[S]\nK = ");
	memset(text + n, 'x', big);
	strcpy(text + n + big, "\nL = 1\n");
	c = load_ok(text);
	assert_int_equal(strlen(val(&c, "S", "K")), big);
	assert_string_equal(val(&c, "S", "L"), "1");
	cfg_free(&c);
	free(text);

	size_t huge = 1 << 20;
	text = malloc(huge + 64);
	assert_non_null(text);
	n = sprintf(text, "[S]\nA = 1\nK = ");
	memset(text + n, 'x', huge);
	strcpy(text + n + huge, "\n");
	load_fails(text, "line 3: line longer than 1048573 bytes");
	free(text);
}

static void test_comments_and_inline_data(void **state)
{
	(void)state;
	struct cfg c = load_fixture("comments.ini");
	assert_int_equal(c.n, 2);
	assert_string_equal(val(&c, "GENERAL", "DEVICE_TYPE"),
	                    "ct002 # not a comment: configparser keeps this");
	assert_string_equal(val(&c, "GENERAL", "SKIP_POWERMETER_TEST"), "true ; also kept");
	assert_string_equal(val(&c, "SHELLY", "TYPE"), "1PM #PLUS1PM #EM #3EM #3EMPRO");
	/* "true ; also kept" is not a boolean: the error shows the whole value. */
	bool b;
	struct err e;
	assert_int_equal(
	        cfg_get_bool(cfg_find(&c, "GENERAL"), "skip_powermeter_test", false, &b, &e), -1);
	assert_string_equal(e.msg, "[GENERAL] SKIP_POWERMETER_TEST: invalid boolean (use "
	                           "true/false, yes/no, on/off, 1/0) 'true ; also kept'");
	cfg_free(&c);
}

static void test_semicolons_and_percent(void **state)
{
	(void)state;
	struct cfg c = load_fixture("semicolon_values.ini");
	assert_string_equal(val(&c, "JSON_HTTP", "URL"), "http://meter.local/api?a=1;b=2");
	assert_string_equal(val(&c, "JSON_HTTP", "HEADERS"),
	                    "Authorization: Bearer abc;X-Api-Key: k;");
	/* No interpolation: '%' is literal. */
	assert_string_equal(val(&c, "JSON_HTTP", "PASSWORD"), "p;a#s%s%(x)s");
	cfg_free(&c);
}

static void test_crlf(void **state)
{
	(void)state;
	struct cfg c = load_fixture("crlf.ini");
	assert_string_equal(val(&c, "GENERAL", "DEVICE_TYPE"), "ct002");
	assert_string_equal(val(&c, "GENERAL", "DEVICE_IDS"), "a,\nb");
	assert_string_equal(val(&c, "JSON_HTTP", "URL"), "http://127.0.0.1:8080/power");
	assert_string_equal(val(&c, "JSON_HTTP", "JSON_PATHS"), "$.phase_a");
	cfg_free(&c);
}

static void test_bom(void **state)
{
	(void)state;
	struct cfg c = load_fixture("bom.ini");
	assert_int_equal(c.n, 1);
	assert_string_equal(c.sec[0].name, "GENERAL");
	assert_string_equal(val(&c, "GENERAL", "DEVICE_TYPE"), "ct003");
	cfg_free(&c);
	/* A BOM anywhere but the start is data, and here it makes a bad line. */
	load_fails("[A]\n\xef\xbb\xbf[B]\n",
	           "line 2: expected '[SECTION]', 'KEY = value' or a comment");
}

static void test_continuation(void **state)
{
	(void)state;
	struct cfg c = load_fixture("continuation.ini");
	assert_string_equal(val(&c, "SCRIPT", "COMMAND"), "first\nsecond\nthird\n\nfourth\nfifth");
	/* configparser gives "\nonly"; values are kept trimmed here. */
	assert_string_equal(val(&c, "SCRIPT", "EMPTY_FIRST"), "only");
	assert_string_equal(val(&c, "SCRIPT", "NEXT"), "plain");
	assert_int_equal(cfg_find(&c, "SCRIPT")->n, 3);
	cfg_free(&c);

	/* configparser continues a value only with lines indented deeper than its key, so
	 * equally indented keys stay keys (inih alone would glue them into one value). */
	static const struct {
		const char *text, *sec, *key, *want;
	} cases[] = {
	        {"[A]\n  K = 1\n  L = 2\n", "A", "K", "1"},
	        {"[A]\n  K = 1\n  L = 2\n", "A", "L", "2"},
	        {"[A]\n  K = 1\n    more\n  L = 2\n", "A", "K", "1\nmore"},
	        {"[A]\n  K = 1\n    more\n  L = 2\n", "A", "L", "2"},
	        {"[A]\nK = 1\n  [B]\nL=2\n", "A", "K", "1\n[B]"},
	        {"[A]\nK = 1\n  [B]\nL=2\n", "A", "L", "2"},
	        {"[A]\n  K = 1\n  [B]\nL=2\n", "A", "K", "1"},
	        {"[A]\n  K = 1\n  [B]\nL=2\n", "B", "L", "2"},
	        {"[A]\nK=\n\n  x\n", "A", "K", "x"}, /* configparser: "\n\nx" */
	        {"[A]\nK=1\n\n\n", "A", "K", "1"},
	        {"[A]\nK = 1\n[B]\n  L = 2\n", "B", "L", "2"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = load_ok(cases[i].text);
		const char *got = val(&c, cases[i].sec, cases[i].key);
		if (!got || strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu: got '%s'", i, got ? got : "(null)");
		cfg_free(&c);
	}
	load_fails("[A]\n  K = 1\n  words\n",
	           "line 3: expected '[SECTION]', 'KEY = value' or a comment");
}

static void test_duplicate_key_last_wins(void **state)
{
	(void)state;
	struct capture cap;
	log_set_level(LOG_LVL_WARN);
	capture_begin(&cap);
	struct cfg c = load_fixture("duplicate_keys.ini");
	const char *out = capture_end(&cap);
	assert_non_null(strstr(out, "duplicate_keys.ini:4: [GENERAL] DEVICE_TYPE: duplicate "
	                            "key (first set on line 2), the last value wins"));
	assert_int_equal(count_lines(out), 1);
	assert_int_equal(cfg_find(&c, "GENERAL")->n, 2);
	assert_string_equal(val(&c, "GENERAL", "device_type"), "ct002");
	assert_int_equal(cfg_find(&c, "GENERAL")->kv[0].line, 4);
	cfg_free(&c);

	/* A continuation after the duplicate extends the new value. */
	capture_begin(&cap);
	c = load_ok("[A]\nK = 1\nK = 2\n  3\n");
	capture_end(&cap);
	assert_string_equal(val(&c, "A", "K"), "2\n3");
	cfg_free(&c);
}

static void test_syntax_errors(void **state)
{
	(void)state;
	load_fails("[GENERAL]\nDEVICE_TYPE = ct002\n\n[GENERAL]\nX = 1\n",
	           "line 4: section [GENERAL] already defined on line 1 (merge the two sections "
	           "into one)");
	load_fails("KEY = 1\n[A]\n", "line 1: key before the first [SECTION] header");
	load_fails("# c\n[A]\njust words\n",
	           "line 3: expected '[SECTION]', 'KEY = value' or a comment");
	load_fails("[A\nK = 1\n", "line 1: section header without closing ']'");
	load_fails("[A]\n[]\n", "line 2: empty section name");
	load_fails("[A]\n = v\n", "line 2: key name missing before '='");
	load_fails("[A]\n: v\n", "line 2: key name missing before ':'");

	char path[512];
	snprintf(path, sizeof(path), "%s/config/does-not-exist.ini", AM_FIXTURES);
	struct cfg c = {0};
	struct err e;
	assert_int_equal(cfg_load_file(&c, path, &e), -1);
	assert_non_null(strstr(e.msg, "does-not-exist.ini: No such file or directory"));

	/* A file error names the file and line. */
	char tmpl[] = "/tmp/am-cfg-XXXXXX";
	int fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	const char bad[] = "[A]\nK = 1\nnope\n";
	assert_int_equal(write(fd, bad, sizeof(bad) - 1), (ssize_t)(sizeof(bad) - 1));
	close(fd);
	assert_int_equal(cfg_load_file(&c, tmpl, &e), -1);
	char want[600];
	snprintf(want, sizeof(want), "%s:3: expected '[SECTION]', 'KEY = value' or a comment",
	         tmpl);
	assert_string_equal(e.msg, want);

	/* NUL bytes mean a binary file. */
	fd = open(tmpl, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "[A]\nK = 1\n\0x\n", 13), 13);
	close(fd);
	assert_int_equal(cfg_load_file(&c, tmpl, &e), -1);
	snprintf(want, sizeof(want), "%s:3: NUL byte (is this a text file?)", tmpl);
	assert_string_equal(e.msg, want);
	unlink(tmpl);
}

static void test_names_and_values(void **state)
{
	(void)state;
	struct cfg c =
	        load_ok("[General]\n[GENERAL]\nDevice_Type: ct002\nEMPTY =\nE2=\n"
	                "URL = http://x/?a=b:c\n[ SPACED ]\n"
	                "[HOMEASSISTANT_this_is_a_very_long_section_name_beyond_fifty_chars]\n"
	                "K = v\n");
	assert_int_equal(c.n, 4);
	/* Section names are case-sensitive and kept as written, blanks included. */
	assert_non_null(cfg_find(&c, "General"));
	assert_int_equal(cfg_find(&c, "General")->n, 0);
	assert_null(cfg_find(&c, "general"));
	assert_non_null(cfg_find(&c, " SPACED "));
	assert_non_null(
	        cfg_find(&c, "HOMEASSISTANT_this_is_a_very_long_section_name_beyond_fifty_chars"));
	struct cfg_section *g = cfg_find(&c, "GENERAL");
	/* Keys are stored lower case and looked up in any case. */
	assert_string_equal(g->kv[0].key, "device_type");
	assert_string_equal(cfg_get(g, "DEVICE_TYPE"), "ct002");
	assert_string_equal(cfg_get(g, "empty"), "");
	assert_string_equal(cfg_get(g, "E2"), "");
	assert_string_equal(cfg_get(g, "url"), "http://x/?a=b:c");
	assert_null(cfg_get(g, "nope"));
	assert_null(cfg_get(NULL, "nope"));
	cfg_free(&c);

	c = load_ok("");
	assert_int_equal(c.n, 0);
	cfg_free(&c);
	c = load_ok("# only a comment\n\n");
	assert_int_equal(c.n, 0);
	cfg_free(&c);
	c = load_ok("[A]\nK = 1"); /* no final newline */
	assert_string_equal(val(&c, "A", "K"), "1");
	cfg_free(&c);
}

static void test_used_marks_and_warn_unused(void **state)
{
	(void)state;
	struct cfg c = load_ok("[CT002]\nUDP_PORT = 1\nFAIR_DISTRIBUTION = true\nTYPO = 1\n");
	struct cfg_section *s = cfg_find(&c, "CT002");
	assert_true(cfg_has(s, "typo"));
	assert_false(s->kv[2].used); /* cfg_has does not mark */
	assert_non_null(cfg_get(s, "udp_port"));
	assert_true(s->kv[0].used);
	static const char *const later[] = {"fair_distribution", NULL};
	struct capture cap;
	log_set_level(LOG_LVL_WARN);
	capture_begin(&cap);
	cfg_warn_unused(s, later);
	const char *out = capture_end(&cap);
	assert_int_equal(count_lines(out), 2);
	assert_non_null(
	        strstr(out, "WARNING config: [CT002] FAIR_DISTRIBUTION: not supported yet\n"));
	assert_non_null(strstr(out, "WARNING config: [CT002] TYPO: unknown key, ignored\n"));
	capture_begin(&cap);
	cfg_warn_unused(s, NULL);
	out = capture_end(&cap);
	assert_non_null(strstr(out, "[CT002] FAIR_DISTRIBUTION: unknown key, ignored\n"));
	cfg_warn_unused(NULL, NULL);
	cfg_free(&c);
}

static void test_set_and_add_section(void **state)
{
	(void)state;
	struct cfg c = load_ok("[GENERAL]\nTHROTTLE_INTERVAL = 0\n");
	struct cfg_section *g = cfg_add_section(&c, "GENERAL");
	assert_ptr_equal(g, cfg_find(&c, "GENERAL"));
	assert_int_equal(cfg_set(g, "Throttle_Interval", "  2.5 "), 0);
	assert_int_equal(g->n, 1);
	assert_string_equal(cfg_get(g, "THROTTLE_INTERVAL"), "2.5");
	assert_int_equal(cfg_set(g, "DEVICE_TYPE", "ct002"), 0);
	assert_string_equal(g->kv[1].key, "device_type");
	struct cfg_section *n = cfg_add_section(&c, "CT002");
	assert_non_null(n);
	assert_int_equal(c.n, 2);
	assert_int_equal(cfg_set(n, "UDP_PORT", "12345"), 0);
	assert_string_equal(val(&c, "CT002", "udp_port"), "12345");
	assert_int_equal(cfg_set(NULL, "a", "b"), -1);
	cfg_free(&c);

	/* Into an empty cfg (no file). */
	struct cfg z = {0};
	assert_non_null(cfg_add_section(&z, "GENERAL"));
	assert_int_equal(z.n, 1);
	cfg_free(&z);
}

/* ---- typed getters ---- */

static void test_bool_spellings(void **state)
{
	(void)state;
	static const struct {
		const char *v;
		bool want;
	} ok[] = {{"1", true},      {"yes", true}, {"true", true},   {"on", true},
	          {"TRUE", true},   {"Yes", true}, {"oN", true},     {"  true ", true},
	          {"0", false},     {"no", false}, {"false", false}, {"off", false},
	          {"False", false}, {"NO", false}, {"OFF", false},   {"fAlSe", false}};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct cfg c = {0};
		struct cfg_section *s = cfg_add_section(&c, "S");
		assert_int_equal(cfg_set(s, "k", "x"), 0);
		free(s->kv[0].value);
		s->kv[0].value = strdup(ok[i].v); /* keep the blanks cfg_set would trim */
		bool b = !ok[i].want;
		struct err e;
		assert_int_equal(cfg_get_bool(s, "K", !ok[i].want, &b, &e), 0);
		assert_int_equal(b, ok[i].want);
		cfg_free(&c);
	}
	static const char *const bad[] = {"2", "", "y", "truee", "enabled", "-1", "t"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cfg c = {0};
		struct cfg_section *s = cfg_add_section(&c, "CT002");
		assert_int_equal(cfg_set(s, "debug_status", bad[i]), 0);
		bool b = true;
		struct err e;
		assert_int_equal(cfg_get_bool(s, "DEBUG_STATUS", false, &b, &e), -1);
		char want[200];
		snprintf(want, sizeof(want),
		         "[CT002] DEBUG_STATUS: invalid boolean (use true/false, yes/no, on/off, "
		         "1/0) '%s'",
		         bad[i]);
		assert_string_equal(e.msg, want);
		cfg_free(&c);
	}
	/* Absent key or section: the default. */
	bool b = false;
	struct err e;
	assert_int_equal(cfg_get_bool(NULL, "x", true, &b, &e), 0);
	assert_true(b);
}

static struct cfg one(const char *sec, const char *key, const char *value)
{
	struct cfg c = {0};
	struct cfg_section *s = cfg_add_section(&c, sec);
	assert_non_null(s);
	assert_int_equal(cfg_set(s, key, "x"), 0);
	free(s->kv[0].value);
	s->kv[0].value = strdup(value);
	return c;
}

static void test_int_parse(void **state)
{
	(void)state;
	static const struct {
		const char *v;
		long want;
	} ok[] = {{"12", 12},
	          {"+5", 5},
	          {" 12 ", 12},
	          {"\t-7\n", -7},
	          {"-0", 0},
	          {"010", 10},
	          {"1_000", 1000},
	          {"9223372036854775807", LONG_MAX},
	          {"-9223372036854775808", LONG_MIN}};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct cfg c = one("S", "k", ok[i].v);
		long x = 42;
		struct err e = {{0}};
		if (cfg_get_int(&c.sec[0], "K", 0, LONG_MIN, LONG_MAX, &x, &e) != 0)
			fail_msg("'%s': %s", ok[i].v, e.msg);
		assert_int_equal(x, ok[i].want);
		cfg_free(&c);
	}
	static const char *const bad[] = {"12.5", "",    "abc", "1__0", "_1", "1_",  "0x10", "+ 5",
	                                  "5 5",  "1e3", "--1", " ",    "+",  "12a", "٣"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cfg c = one("CT002", "udp_port", bad[i]);
		long x = 42;
		struct err e;
		assert_int_equal(cfg_get_int(&c.sec[0], "udp_port", 0, LONG_MIN, LONG_MAX, &x, &e),
		                 -1);
		char want[200];
		snprintf(want, sizeof(want), "[CT002] UDP_PORT: invalid integer '%s'", bad[i]);
		assert_string_equal(e.msg, want);
		assert_int_equal(x, 42);
		cfg_free(&c);
	}
	struct err e;
	long x = 0;
	struct cfg c = one("CT002", "udp_port", "70000");
	assert_int_equal(cfg_get_int(&c.sec[0], "udp_port", 0, 1, 65535, &x, &e), -1);
	assert_string_equal(e.msg, "[CT002] UDP_PORT: must be between 1 and 65535, got '70000'");
	assert_int_equal(cfg_get_int(&c.sec[0], "udp_port", 0, LONG_MIN, 100, &x, &e), -1);
	assert_string_equal(e.msg, "[CT002] UDP_PORT: must be at most 100, got '70000'");
	cfg_free(&c);
	c = one("CT002", "consumer_ttl", "-1");
	assert_int_equal(cfg_get_int(&c.sec[0], "consumer_ttl", 0, 0, LONG_MAX, &x, &e), -1);
	assert_string_equal(e.msg, "[CT002] CONSUMER_TTL: must be at least 0, got '-1'");
	cfg_free(&c);
	c = one("S", "k", "99999999999999999999");
	assert_int_equal(cfg_get_int(&c.sec[0], "k", 0, LONG_MIN, LONG_MAX, &x, &e), -1);
	assert_string_equal(e.msg, "[S] K: integer out of range '99999999999999999999'");
	cfg_free(&c);
	c = one("S", "k", "9223372036854775808");
	assert_int_equal(cfg_get_int(&c.sec[0], "k", 0, LONG_MIN, LONG_MAX, &x, &e), -1);
	assert_string_equal(e.msg, "[S] K: integer out of range '9223372036854775808'");
	cfg_free(&c);
	c = one("S", "k", "-9223372036854775809");
	assert_int_equal(cfg_get_int(&c.sec[0], "k", 0, LONG_MIN, LONG_MAX, &x, &e), -1);
	assert_string_equal(e.msg, "[S] K: integer out of range '-9223372036854775809'");
	cfg_free(&c);
	/* Overflow followed by junk is a syntax error, not a range error. */
	c = one("S", "k", "99999999999999999999x");
	assert_int_equal(cfg_get_int(&c.sec[0], "k", 0, LONG_MIN, LONG_MAX, &x, &e), -1);
	assert_string_equal(e.msg, "[S] K: invalid integer '99999999999999999999x'");
	cfg_free(&c);
	/* Default when absent; the range does not apply to the default. */
	assert_int_equal(cfg_get_int(NULL, "k", -50, 0, 10, &x, &e), 0);
	assert_int_equal(x, -50);
}

static void test_double_parse(void **state)
{
	(void)state;
	static const struct {
		const char *v;
		double want;
	} ok[] = {{"1.5", 1.5},    {" -2e3 ", -2000}, {".5", 0.5},     {"5.", 5},
	          {"1_0.5", 10.5}, {"+1E-3", 0.001},  {"0", 0},        {"-0.0", -0.0},
	          {"1.e2", 100},   {"12", 12},        {"1e1_0", 1e10}, {"007.5", 7.5}};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct cfg c = one("S", "k", ok[i].v);
		double d = 42;
		struct err e = {{0}};
		if (cfg_get_double(&c.sec[0], "K", 0, -DBL_MAX, DBL_MAX, &d, &e) != 0)
			fail_msg("'%s': %s", ok[i].v, e.msg);
		assert_true(d == ok[i].want);
		cfg_free(&c);
	}
	static const char *const bad[] = {
	        "nan", "inf", "-Infinity", "1e999",    "0x10", "",      "1.2.3",
	        "e5",  "1e",  "abc",       "1,5",      "1_",   "_1",    "1__0",
	        ".",   "-",   "1e+",       "infinity", "NaN",  "0x1p3", "1 2"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cfg c = one("GENERAL", "throttle_interval", bad[i]);
		double d = 42;
		struct err e;
		assert_int_equal(cfg_get_double(&c.sec[0], "throttle_interval", 0, -DBL_MAX,
		                                DBL_MAX, &d, &e),
		                 -1);
		char want[200];
		snprintf(want, sizeof(want), "[GENERAL] THROTTLE_INTERVAL: invalid number '%s'",
		         bad[i]);
		assert_string_equal(e.msg, want);
		assert_true(d == 42);
		cfg_free(&c);
	}
	struct err e;
	double d = 0;
	struct cfg c = one("JSON_HTTP", "smooth_target_alpha", "1.5");
	assert_int_equal(cfg_get_double(&c.sec[0], "SMOOTH_TARGET_ALPHA", 0, 0, 1, &d, &e), -1);
	assert_string_equal(e.msg,
	                    "[JSON_HTTP] SMOOTH_TARGET_ALPHA: must be between 0 and 1, got '1.5'");
	assert_int_equal(cfg_get_double(&c.sec[0], "SMOOTH_TARGET_ALPHA", 0, 0.01, 0.5, &d, &e),
	                 -1);
	assert_string_equal(
	        e.msg, "[JSON_HTTP] SMOOTH_TARGET_ALPHA: must be between 0.01 and 0.5, got '1.5'");
	assert_int_equal(cfg_get_double(&c.sec[0], "SMOOTH_TARGET_ALPHA", 0, 2, DBL_MAX, &d, &e),
	                 -1);
	assert_string_equal(e.msg,
	                    "[JSON_HTTP] SMOOTH_TARGET_ALPHA: must be at least 2, got '1.5'");
	assert_int_equal(cfg_get_double(&c.sec[0], "SMOOTH_TARGET_ALPHA", 0, -DBL_MAX, 1, &d, &e),
	                 -1);
	assert_string_equal(e.msg, "[JSON_HTTP] SMOOTH_TARGET_ALPHA: must be at most 1, got '1.5'");
	cfg_free(&c);
	assert_int_equal(cfg_get_double(NULL, "k", 3.0, 0, 1, &d, &e), 0);
	assert_true(d == 3.0);
}

static void test_double_list(void **state)
{
	(void)state;
	double v[3];
	size_t n;
	struct err e = {{0}};
	struct cfg c = one("S", "power_offset", "1,2,3");
	n = 3;
	assert_int_equal(cfg_get_double_list(&c.sec[0], "POWER_OFFSET", v, &n, &e), 0);
	assert_int_equal(n, 3);
	assert_true(v[0] == 1 && v[1] == 2 && v[2] == 3);
	cfg_free(&c);

	c = one("S", "power_multiplier", " 1.05 , -2.5e0 ");
	n = 3;
	assert_int_equal(cfg_get_double_list(&c.sec[0], "power_multiplier", v, &n, &e), 0);
	assert_int_equal(n, 2);
	assert_true(v[0] == 1.05 && v[1] == -2.5);
	cfg_free(&c);

	static const struct {
		const char *v;
		const char *msg;
	} bad[] = {
	        {"", "[S] POWER_MULTIPLIER: empty list ''"},
	        {"  ", "[S] POWER_MULTIPLIER: empty list '  '"},
	        {"1,,2", "[S] POWER_MULTIPLIER: empty item in list '1,,2'"},
	        {"1,2,", "[S] POWER_MULTIPLIER: empty item in list '1,2,'"},
	        {",1", "[S] POWER_MULTIPLIER: empty item in list ',1'"},
	        {"1,x", "[S] POWER_MULTIPLIER: invalid number 'x' in list '1,x'"},
	        {"1, nan", "[S] POWER_MULTIPLIER: invalid number 'nan' in list '1, nan'"},
	        {"1,2,3,4", "[S] POWER_MULTIPLIER: more than 3 values in list '1,2,3,4'"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = one("S", "power_multiplier", bad[i].v);
		n = 3;
		assert_int_equal(cfg_get_double_list(&c.sec[0], "power_multiplier", v, &n, &e), -1);
		assert_string_equal(e.msg, bad[i].msg);
		assert_int_equal(n, 0);
		cfg_free(&c);
	}
	n = 3;
	assert_int_equal(cfg_get_double_list(NULL, "power_offset", v, &n, &e), 0);
	assert_int_equal(n, 0);
}

static void test_pick_fallback(void **state)
{
	(void)state;
	struct cfg c = load_ok("[GENERAL]\nTHROTTLE_INTERVAL = 2\nDEADBAND = 5\n"
	                       "[JSON_HTTP]\nTHROTTLE_INTERVAL = 0.5\n");
	struct cfg_section *g = cfg_find(&c, "GENERAL"), *s = cfg_find(&c, "JSON_HTTP");
	assert_ptr_equal(cfg_pick(s, g, "THROTTLE_INTERVAL"), s);
	assert_ptr_equal(cfg_pick(s, g, "deadband"), g);
	assert_ptr_equal(cfg_pick(s, g, "pid_kp"), g);
	assert_ptr_equal(cfg_pick(NULL, g, "deadband"), g);
	assert_null(cfg_pick(s, NULL, "deadband"));
	double d = 0;
	struct err e;
	assert_int_equal(cfg_get_double(cfg_pick(s, g, "deadband"), "deadband", 0, 0, 1e6, &d, &e),
	                 0);
	assert_true(d == 5);
	/* Reading through the pick marks the key where it was found. */
	assert_true(g->kv[1].used);
	assert_int_equal(
	        cfg_get_double(cfg_pick(s, NULL, "pid_kp"), "pid_kp", 0.25, 0, 1e6, &d, &e), 0);
	assert_true(d == 0.25);
	cfg_free(&c);
}

static void test_secret_redaction(void **state)
{
	(void)state;
	static const struct {
		const char *key, *value, *msg;
	} cases[] = {
	        {"password", "hunter2", "[S] PASSWORD: invalid integer '<redacted>'"},
	        {"pass", "hunter2", "[S] PASS: invalid integer '<redacted>'"},
	        {"token", "abc", "[S] TOKEN: invalid integer '<redacted>'"},
	        {"accesstoken", "abc", "[S] ACCESSTOKEN: invalid integer '<redacted>'"},
	        {"secret", "abc", "[S] SECRET: invalid integer '<redacted>'"},
	        {"api_key", "abc", "[S] API_KEY: invalid integer '<redacted>'"},
	        {"headers", "Authorization: Bearer abc",
	         "[S] HEADERS: invalid integer '<redacted>'"},
	        {"mqtt_password", "abc", "[S] MQTT_PASSWORD: invalid integer '<redacted>'"},
	        {"url", "mqtt://user:pw@host:1883/x",
	         "[S] URL: invalid integer 'mqtt://<redacted>@host:1883/x'"},
	        {"url", "http://host/a@b", "[S] URL: invalid integer 'http://host/a@b'"},
	        {"user", "bob", "[S] USER: invalid integer 'bob'"},
	        {"k", "1\n2", "[S] K: invalid integer '1\\n2'"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cfg c = one("S", cases[i].key, cases[i].value);
		long x;
		struct err e;
		assert_int_equal(cfg_get_int(&c.sec[0], cases[i].key, 0, 0, 10, &x, &e), -1);
		assert_string_equal(e.msg, cases[i].msg);
		cfg_free(&c);
	}
	/* Range errors and list items of secret keys are redacted too. */
	struct cfg c = one("S", "token", "12");
	long x;
	struct err e;
	assert_int_equal(cfg_get_int(&c.sec[0], "token", 0, 0, 10, &x, &e), -1);
	assert_string_equal(e.msg, "[S] TOKEN: must be between 0 and 10, got '<redacted>'");
	double v[2];
	size_t n = 2;
	cfg_free(&c);
	c = one("S", "secret", "1,abc");
	assert_int_equal(cfg_get_double_list(&c.sec[0], "secret", v, &n, &e), -1);
	assert_string_equal(e.msg, "[S] SECRET: invalid number '<redacted>' in list '<redacted>'");
	cfg_free(&c);
	/* Long values are cut so the message keeps its shape. */
	char longv[200];
	memset(longv, 'a', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	c = one("S", "k", longv);
	assert_int_equal(cfg_get_int(&c.sec[0], "k", 0, 0, 10, &x, &e), -1);
	char want[200];
	snprintf(want, sizeof(want), "[S] K: invalid integer '%.60s...'", longv);
	assert_string_equal(e.msg, want);
	cfg_free(&c);
}

/* ---- schema ---- */

static void test_schema_kind_of(void **state)
{
	(void)state;
	static const struct {
		const char *section, *kind;
	} cases[] = {
	        {"GENERAL", "GENERAL"},
	        {"CT002", "CT002"},
	        {"CT003", "CT003"},
	        {"MARSTEK", "MARSTEK"},
	        {"DEFAULT", "DEFAULT"},
	        {"SHELLY", "SHELLY"},
	        {"SHELLY_garage", "SHELLY"},
	        {"SHELLY1", "SHELLY"},
	        {"MQTT", "MQTT"},
	        {"MQTT2", "MQTT"},
	        {"MQTT_grid", "MQTT"},
	        {"MQTT_INSIGHTS", "MQTT_INSIGHTS"},
	        {"MQTT_INSIGHTS_2", "MQTT_INSIGHTS"},
	        {"JSON_HTTP_2", "JSON_HTTP"},
	        {"SCRIPT_fallback", "SCRIPT"},
	        {"SML", "SML"},
	        {"SMA_ENERGY_METER", "SMA_ENERGY_METER"},
	        {"TQ_EM", "TQ_EM"},
	        {"TIBBER_PULSE", "TIBBER_PULSE"},
	        {"HOMEASSISTANT_1", "HOMEASSISTANT"},
	        {"HOMEWIZARD", "HOMEWIZARD"},
	        {"FRITZ", "FRITZ"},
	        {"FRONIUS", "FRONIUS"},
	        {"AMIS_READER", "AMIS_READER"},
	        {"ENVOY", "ENVOY"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct cfg_schema_kind *k = cfg_schema_kind_of(cases[i].section);
		if (!k)
			fail_msg("%s: no kind", cases[i].section);
		assert_string_equal(k->name, cases[i].kind);
	}
	static const char *const none[] = {"general",  "GENERAL2", "CT002_x", "shelly", "",
	                                   " GENERAL", "MQ",       "Mqtt",    "CT00",   "sim"};
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
		assert_null(cfg_schema_kind_of(none[i]));
	assert_null(cfg_schema_kind_of(NULL));

	size_t n = 0;
	const struct cfg_schema_kind *all = cfg_schema_kinds(&n);
	/* 5 exact kinds, MQTT_INSIGHTS and the 21 powermeter prefixes. */
	assert_int_equal(n, 27);
	size_t pm = 0;
	for (size_t i = 0; i < n; i++)
		pm += all[i].cls == CFG_KIND_POWERMETER;
	assert_int_equal(pm, 21);
	assert_int_equal(cfg_schema_kind_of("MQTT_INSIGHTS")->cls, CFG_KIND_INSIGHTS);
	assert_true(cfg_schema_kind_of("JSON_HTTP")->here);
	assert_true(cfg_schema_kind_of("SCRIPT")->here);
	assert_true(cfg_schema_kind_of("MQTT")->here);
	assert_false(cfg_schema_kind_of("SML")->here);
	assert_false(cfg_schema_kind_of("MARSTEK")->here);
}

static void test_schema_key_status(void **state)
{
	(void)state;
	const struct cfg_schema_kind *g = cfg_schema_kind_of("GENERAL");
	const struct cfg_schema_kind *ct = cfg_schema_kind_of("CT002");
	const struct cfg_schema_kind *js = cfg_schema_kind_of("JSON_HTTP");
	const struct cfg_schema_kind *sc = cfg_schema_kind_of("SCRIPT");
	const struct cfg_schema_kind *mq = cfg_schema_kind_of("SML");
	assert_int_equal(cfg_schema_key_status(g, "device_type"), CFG_KEY_SUPPORTED);
	assert_int_equal(cfg_schema_key_status(g, "WEB_CONFIG_ENABLED"), CFG_KEY_UPSTREAM_ONLY);
	assert_int_equal(cfg_schema_key_status(g, "WEB_SERVER_PORT"), CFG_KEY_SUPPORTED);
	assert_int_equal(cfg_schema_key_status(g, "disable_sum_phases"), CFG_KEY_OBSOLETE_UPSTREAM);
	assert_int_equal(cfg_schema_key_status(g, "NETMASK"), CFG_KEY_UNKNOWN);
	assert_int_equal(cfg_schema_key_status(g, "POWER_OFFSET"), CFG_KEY_UNKNOWN);
	assert_int_equal(cfg_schema_key_status(ct, "ACTIVE_CONTROL"), CFG_KEY_SUPPORTED);
	assert_int_equal(cfg_schema_key_status(ct, "balance_gain"), CFG_KEY_SUPPORTED);
	assert_int_equal(cfg_schema_key_status(ct, "STATE_FILE"), CFG_KEY_SUPPORTED);
	assert_int_equal(cfg_schema_key_status(ct, "cloud_reporting"), CFG_KEY_UPSTREAM_ONLY);
	assert_int_equal(cfg_schema_key_status(ct, "THROTTLE_INTERVAL"), CFG_KEY_UNKNOWN);
	assert_int_equal(cfg_schema_key_status(js, "headers"), CFG_KEY_SUPPORTED);
	assert_int_equal(cfg_schema_key_status(js, "netmask"), CFG_KEY_SUPPORTED);
	assert_int_equal(cfg_schema_key_status(js, "PID_MODE"), CFG_KEY_SUPPORTED);
	assert_int_equal(cfg_schema_key_status(js, "TOPIC"), CFG_KEY_UNKNOWN);
	assert_int_equal(cfg_schema_key_status(sc, "TIMEOUT"), CFG_KEY_SUPPORTED);
	assert_int_equal(cfg_schema_key_status(mq, "SERIAL"), CFG_KEY_UPSTREAM_ONLY);
	assert_int_equal(cfg_schema_key_status(mq, "NETMASK"), CFG_KEY_UPSTREAM_ONLY);
	assert_int_equal(cfg_schema_key_status(NULL, "x"), CFG_KEY_UNKNOWN);
	assert_int_equal(cfg_schema_key_status(cfg_schema_kind_of("SHELLY_1"), "type"),
	                 CFG_KEY_SUPPORTED);
	assert_int_equal(cfg_schema_key_status(cfg_schema_kind_of("TIBBER_PULSE"), "OBIS_POWER_L3"),
	                 CFG_KEY_SUPPORTED);
	assert_int_equal(cfg_schema_key_status(cfg_schema_kind_of("HOMEWIZARD"), "TOKEN"),
	                 CFG_KEY_SUPPORTED);
	assert_int_equal(cfg_schema_key_status(cfg_schema_kind_of("MODBUS_1"), "UNIT_ID"),
	                 CFG_KEY_UPSTREAM_ONLY);

	assert_true(cfg_schema_key_known_upstream("SCRIPT_1", "command"));
	assert_false(cfg_schema_key_known_upstream("SCRIPT_1", "timeout")); /* ours only */
	assert_true(cfg_schema_key_known_upstream("TQ_EM", "timeout"));
	assert_true(cfg_schema_key_known_upstream("MQTT_INSIGHTS", "POWERMETER_HEALTH_INTERVAL"));
	assert_false(cfg_schema_key_known_upstream("MQTT_INSIGHTS", "TOPIC"));
	assert_true(cfg_schema_key_known_upstream("MQTT7", "topics"));
	assert_true(cfg_schema_key_known_upstream("HOMEASSISTANT", "accesstoken"));
	assert_true(cfg_schema_key_known_upstream("SHELLY_2", "power_multiplier"));
	assert_false(cfg_schema_key_known_upstream("nope", "ip"));

	assert_true(cfg_key_is_secret("PASSWORD"));
	assert_true(cfg_key_is_secret("accesstoken"));
	assert_true(cfg_key_is_secret("Api_Key"));
	assert_true(cfg_key_is_secret("HA_TOKEN"));
	assert_false(cfg_key_is_secret("token_count_x"));
	assert_false(cfg_key_is_secret("user"));
	assert_false(cfg_key_is_secret("_token"));
	assert_false(cfg_key_is_secret(NULL));
}

static bool built_json_only(const struct cfg_schema_kind *kind, const char *section, void *arg)
{
	(*(int *)arg)++;
	if (kind->cls == CFG_KIND_POWERMETER)
		return strncmp(section, "JSON_HTTP", 9) == 0;
	return kind->here;
}

static void test_schema_check(void **state)
{
	(void)state;
	struct cfg c = load_ok("[GENERAL]\n"
	                       "DEVICE_TYPE = ct002\n"
	                       "WEB_CONFIG_ENABLED = 1\n"
	                       "DISABLE_SUM_PHASES = true\n"
	                       "DEVICE_TPYE = typo\n"
	                       "SKIP_POWERMETER_TEST = true\n"
	                       "[general]\n"
	                       "[CT003]\n"
	                       "UDP_PORT = 1\n"
	                       "BALANCE_GAIN = 0.3\n"
	                       "[MARSTEK]\n"
	                       "ENABLE = true\n"
	                       "PASSWORD = hunter2\n"
	                       "[MQTT_INSIGHTS]\n"
	                       "[HOMEASSISTANT]\n"
	                       "ACCESSTOKEN = abc\n"
	                       "[JSON_HTTP]\n"
	                       "URL = http://127.0.0.1:8080/power\n"
	                       "JSON_PATH = $.x\n"
	                       "[SCRIPT]\n"
	                       "COMMAND = true\n"
	                       "[my_notes]\n"
	                       "anything = goes\n");
	const char *s;
	struct err e;
	bool b;
	struct cfg_section *g = cfg_find(&c, "GENERAL");
	assert_int_equal(cfg_get_str(g, "device_type", "", &s, &e), 0);
	assert_int_equal(cfg_get_bool(g, "skip_powermeter_test", false, &b, &e), 0);
	assert_non_null(cfg_get(cfg_find(&c, "JSON_HTTP"), "url"));

	struct capture cap;
	log_set_level(LOG_LVL_DEBUG);
	capture_begin(&cap);
	int calls = 0;
	unsigned w = cfg_schema_check(&c, built_json_only, &calls);
	const char *out = capture_end(&cap);
	log_set_level(LOG_LVL_WARN);
	static const char *const want[] = {
	        "WARNING config: [GENERAL] WEB_CONFIG_ENABLED: not supported yet\n",
	        "WARNING config: [GENERAL] DISABLE_SUM_PHASES: obsolete upstream since 2.0, "
	        "ignored\n",
	        "WARNING config: [GENERAL] DEVICE_TPYE: unknown key, ignored\n",
	        "WARNING config: [general]: unknown section, ignored (section names are "
	        "case-sensitive: did you mean [GENERAL]?)\n",
	        "DEBUG config: [CT003] UDP_PORT: not used\n",
	        "DEBUG config: [CT003] BALANCE_GAIN: not used\n",
	        "WARNING config: [MARSTEK]: not supported yet, section ignored\n",
	        "WARNING config: [MQTT_INSIGHTS]: not supported yet, section ignored\n",
	        "WARNING config: [HOMEASSISTANT]: not supported yet, section ignored\n",
	        "WARNING config: [JSON_HTTP] JSON_PATH: unknown key, ignored\n",
	        "WARNING config: [SCRIPT]: not supported yet, section ignored\n",
	        "DEBUG config: [my_notes]: not a section astrameter reads, ignored\n",
	};
	const char *at = out;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *hit = strstr(at, want[i]);
		if (!hit)
			fail_msg("missing (in order) %s\n--- got:\n%s", want[i], out);
		at = hit + strlen(want[i]);
	}
	assert_int_equal(count_lines(out), sizeof(want) / sizeof(want[0]));
	assert_int_equal(w, 9);
	assert_null(strstr(out, "hunter2"));
	assert_null(strstr(out, "DEVICE_TYPE"));
	assert_int_equal(calls, 7); /* every section of a known kind */

	/* Without a callback each kind's own flag decides: SCRIPT is built here. */
	capture_begin(&cap);
	w = cfg_schema_check(&c, NULL, NULL);
	out = capture_end(&cap);
	assert_null(strstr(out, "[SCRIPT]"));
	assert_null(strstr(out, "[HOMEASSISTANT]: not supported")); /* built here too now */
	assert_int_equal(w, 7);
	assert_int_equal(cfg_schema_check(NULL, NULL, NULL), 0);
	cfg_free(&c);

	/* A near miss with blanks or a prefix kind in the wrong case. */
	c = load_ok("[ GENERAL ]\n[json_http_2]\n");
	capture_begin(&cap);
	w = cfg_schema_check(&c, NULL, NULL);
	out = capture_end(&cap);
	assert_int_equal(w, 2);
	assert_non_null(strstr(out, "[ GENERAL ]: unknown section, ignored (section names are "
	                            "case-sensitive: did you mean [GENERAL]?)"));
	assert_non_null(strstr(out, "[json_http_2]: unknown section, ignored (section names are "
	                            "case-sensitive: did you mean [JSON_HTTP...]?)"));
	cfg_free(&c);
}

/* The meter kinds come from the driver table: every kind built here declares its keys,
 * takes the common keys, and a typo in any meter section is named (section and key); the
 * CFG_KEY_SECRET flag agrees with cfg_key_is_secret() for every key of every kind. */
static void test_meter_kinds_from_driver_table(void **state)
{
	(void)state;
	size_t n = 0;
	const struct cfg_schema_kind *all = cfg_schema_kinds(&n);
	size_t meters = 0;
	for (size_t i = 0; i < n; i++) {
		const struct cfg_schema_kind *k = &all[i];
		for (const struct cfg_schema_key *key = k->keys; key && key->name; key++)
			if (!!(key->flags & CFG_KEY_SECRET) != cfg_key_is_secret(key->name))
				fail_msg("[%s] %s: secret flag disagrees with the name", k->name,
				         key->name);
		if (k->cls != CFG_KIND_POWERMETER)
			continue;
		meters++;
		assert_non_null(k->keys);
		assert_non_null(k->common);
		const struct pm_driver *drv = pm_driver_for_section(k->name);
		assert_true(k->here == (drv != NULL));
		/* Every key the driver declares is supported in its sections. */
		for (const char *p = drv ? drv->keys : ""; *p;) {
			char key[64];
			size_t len = strcspn(p, " ");
			assert_true(len > 0 && len < sizeof(key));
			memcpy(key, p, len);
			key[len] = '\0';
			if (key[len - 1] == '+')
				key[len - 1] = '\0';
			if (cfg_schema_key_status(k, key) != CFG_KEY_SUPPORTED)
				fail_msg("[%s] %s: declared by the driver, not supported", k->name,
				         key);
			p += len;
			p += *p == ' ';
		}
		char ini[128];
		snprintf(ini, sizeof(ini), "[%s_x]\nTPYO_KEY = 1\nNETMASK = 10.0.0.0/8\n", k->name);
		struct cfg c = load_ok(ini);
		struct capture cap;
		capture_begin(&cap);
		unsigned w = cfg_schema_check(&c, NULL, NULL);
		const char *out = capture_end(&cap);
		char want[128];
		if (k->here)
			snprintf(want, sizeof(want), "[%s_x] TPYO_KEY: unknown key, ignored\n",
			         k->name);
		else
			snprintf(want, sizeof(want), "[%s_x]: not supported yet, section ignored\n",
			         k->name);
		if (w != 1 || !strstr(out, want))
			fail_msg("%s: %u warnings, want '%s', got:\n%s", k->name, w, want, out);
		cfg_free(&c);
	}
	assert_int_equal(meters, 21);
}

/* Every key config.example.ini documents (commented out or not) is one this daemon
 * supports, in a section kind it builds: uncomment everything and ask the schema. */
static void test_example_keys_supported(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s/../../config.example.ini", AM_FIXTURES);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	static char text[65536];
	size_t n = 0;
	char line[1024];
	unsigned uncommented = 0;
	while (fgets(line, sizeof(line), f)) {
		const char *p = line;
		/* "# KEY = value" and "# [SECTION]" are settings; "## ..." is prose. */
		if (p[0] == '#' && p[1] == ' ') {
			size_t k = strspn(p + 2, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
			if (p[2] == '[' || (k > 0 && strncmp(p + 2 + k, " =", 2) == 0)) {
				p += 2;
				uncommented++;
			}
		}
		size_t len = strlen(p);
		assert_true(n + len < sizeof(text));
		memcpy(text + n, p, len);
		n += len;
	}
	fclose(f);
	text[n] = '\0';
	assert_true(uncommented > 40);
	struct cfg c = load_ok(text);
	assert_non_null(cfg_find(&c, "GENERAL"));
	assert_non_null(cfg_find(&c, "CT002"));
	assert_non_null(cfg_find(&c, "SCRIPT"));
	for (size_t i = 0; i < c.n; i++) {
		const struct cfg_schema_kind *k = cfg_schema_kind_of(c.sec[i].name);
		if (!k || !k->here)
			fail_msg("[%s] is not a section kind built here", c.sec[i].name);
		for (size_t j = 0; j < c.sec[i].n; j++) {
			if (cfg_schema_key_status(k, c.sec[i].kv[j].key) != CFG_KEY_SUPPORTED)
				fail_msg("[%s] %s is not supported", c.sec[i].name,
				         c.sec[i].kv[j].key);
		}
	}
	cfg_free(&c);
}

int main(void)
{
	/* The powermeter kinds come from the driver table, as the daemon registers them. */
	size_t n_pm = 0;
	const struct cfg_schema_kind *pm = pm_schema_kinds(&n_pm);
	cfg_schema_set_meter_kinds(pm, n_pm);
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_upstream_example),
	        cmocka_unit_test(test_meter_kinds_from_driver_table),
	        cmocka_unit_test(test_multi_powermeter),
	        cmocka_unit_test(test_long_token),
	        cmocka_unit_test(test_comments_and_inline_data),
	        cmocka_unit_test(test_semicolons_and_percent),
	        cmocka_unit_test(test_crlf),
	        cmocka_unit_test(test_bom),
	        cmocka_unit_test(test_continuation),
	        cmocka_unit_test(test_duplicate_key_last_wins),
	        cmocka_unit_test(test_syntax_errors),
	        cmocka_unit_test(test_names_and_values),
	        cmocka_unit_test(test_used_marks_and_warn_unused),
	        cmocka_unit_test(test_set_and_add_section),
	        cmocka_unit_test(test_bool_spellings),
	        cmocka_unit_test(test_int_parse),
	        cmocka_unit_test(test_double_parse),
	        cmocka_unit_test(test_double_list),
	        cmocka_unit_test(test_pick_fallback),
	        cmocka_unit_test(test_secret_redaction),
	        cmocka_unit_test(test_schema_kind_of),
	        cmocka_unit_test(test_schema_key_status),
	        cmocka_unit_test(test_schema_check),
	        cmocka_unit_test(test_example_keys_supported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
