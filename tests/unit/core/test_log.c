/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Log level names, the complain/release back-off and the sanitiser every log line goes
 * through (peer-supplied text: no control bytes, valid UTF-8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "astrameter/log.h"

static void level_names(void **state)
{
	(void)state;
	enum log_level l = LOG_LVL_ERROR;
	assert_int_equal(log_level_parse("DEBUG", &l), 0);
	assert_int_equal(l, LOG_LVL_DEBUG);
	assert_int_equal(log_level_parse("warn", &l), 0);
	assert_int_equal(l, LOG_LVL_WARN);
	assert_int_equal(log_level_parse("Warning", &l), 0);
	assert_int_equal(log_level_parse("critical", &l), 0);
	assert_int_equal(l, LOG_LVL_CRIT);
	assert_int_equal(log_level_parse("verbose", &l), -1);
	assert_int_equal(l, LOG_LVL_CRIT); /* untouched */
	assert_int_equal(log_level_parse(NULL, &l), -1);
}

static void complain_backs_off_and_releases_once(void **state)
{
	(void)state;
	log_set_level(LOG_LVL_CRIT); /* keep the test output quiet */
	struct log_complain c = {0};
	log_complain(&c, 1000, "t", "fail %d", 1);
	assert_true(c.failing);
	assert_int_equal(c.next, 1000 + 30000);
	log_complain(&c, 2000, "t", "fail");
	log_complain(&c, 3000, "t", "fail");
	assert_int_equal(c.missed, 2);
	log_complain(&c, 31000, "t", "fail");
	assert_int_equal(c.missed, 0);
	assert_int_equal(c.interval, 60000);
	for (int i = 0; i < 20; i++)
		log_complain(&c, c.next, "t", "fail");
	assert_int_equal(c.interval, 3600000); /* capped at 1 h */
	assert_true(log_release(&c, "t", "ok again"));
	assert_false(c.failing);
	assert_false(log_release(&c, "t", "ok again")); /* no second recovery line */
	assert_false(c.failing);
	log_set_level(LOG_LVL_WARN);
}

/* A source that fails every other poll (a flaky meter, a battery answered with hold on
 * each failed read) must not log a complaint and a recovery per poll: after the first
 * pair, failures that come back soon stay under the back-off and recover silently, until
 * the back-off allows the next line, which counts what it left out. A source quiet for a
 * whole back-off period starts afresh. */
static void complain_damps_flapping(void **state)
{
	(void)state;
	log_set_level(LOG_LVL_CRIT);
	struct log_complain c = {0};
	ev_ms t = 1000;
	log_complain(&c, t, "t", "fail");
	assert_true(c.announced);
	assert_true(log_release(&c, "t", "ok"));
	unsigned lines = 2;
	for (int i = 0; i < 58; i++) { /* 29 s of fail/ok every 0.5 s */
		t += 500;
		log_complain(&c, t, "t", "fail");
		lines += c.announced;
		lines += log_release(&c, "t", "ok");
	}
	assert_int_equal(lines, 2);
	assert_int_equal(c.missed, 58);
	t = 31000; /* the back-off allows the next line: it reports the 58 left out */
	log_complain(&c, t, "t", "fail");
	assert_true(c.announced);
	assert_int_equal(c.missed, 0);
	assert_int_equal(c.interval, 60000);
	assert_true(log_release(&c, "t", "ok"));
	/* Quiet for longer than next + interval: a new episode logs at once, 30 s back-off. */
	t = c.next + c.interval + 1;
	log_complain(&c, t, "t", "fail");
	assert_true(c.announced);
	assert_int_equal(c.interval, 30000);
	assert_int_equal(c.next, t + 30000);
	log_set_level(LOG_LVL_WARN);
}

static const char *clean(const char *src, size_t len, size_t cap)
{
	static char buf[256];
	size_t n = log_sanitize(buf, cap, src, len);
	assert_true(n < cap);
	assert_int_equal(strlen(buf), n);
	return buf;
}

static void sanitize_control_bytes_and_bad_utf8(void **state)
{
	(void)state;
	/* Plain text and valid UTF-8 pass unchanged. */
	assert_string_equal(clean("HMG-50 aabbcc", 13, 256), "HMG-50 aabbcc");
	assert_string_equal(clean("Z\xc3\xa4hler \xe2\x82\xac \xf0\x9f\x94\x8b", 16, 256),
	                    "Z\xc3\xa4hler \xe2\x82\xac \xf0\x9f\x94\x8b");
	/* CR/LF become a space; every other control byte and DEL is escaped (an ANSI
	 * escape sequence cannot recolour or clear the reader's terminal). */
	assert_string_equal(clean("a\r\nb", 4, 256), "a  b");
	assert_string_equal(clean("\x1b[2J\x07\x7f\x01\t", 8, 256), "\\x1b[2J\\x07\\x7f\\x01\\x09");
	/* An embedded NUL is escaped too, and the text after it kept. */
	assert_string_equal(clean("ab\0cd", 5, 256), "ab\\x00cd");
	/* Invalid UTF-8: lone continuation, truncated sequence, overlong '/', surrogate,
	 * beyond U+10FFFF, 0xff. */
	assert_string_equal(clean("\x80", 1, 256), "\\x80");
	assert_string_equal(clean("\xc3", 1, 256), "\\xc3");
	assert_string_equal(clean("\xc0\xaf", 2, 256), "\\xc0\\xaf");
	assert_string_equal(clean("\xed\xa0\x80", 3, 256), "\\xed\\xa0\\x80");
	assert_string_equal(clean("\xf4\x90\x80\x80", 4, 256), "\\xf4\\x90\\x80\\x80");
	assert_string_equal(clean("\xffok", 3, 256), "\\xffok");
	/* Truncation never splits an escape or a multi-byte character. */
	assert_string_equal(clean("ab\x01", 3, 5), "ab");
	assert_string_equal(clean("ab\xc3\xa4", 4, 4), "ab");
	assert_string_equal(clean("abc", 3, 1), "");
	char one = 'x';
	assert_int_equal(log_sanitize(&one, 0, "abc", 3), 0);
	assert_int_equal(one, 'x'); /* cap 0: nothing written */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(level_names),
	        cmocka_unit_test(complain_backs_off_and_releases_once),
	        cmocka_unit_test(complain_damps_flapping),
	        cmocka_unit_test(sanitize_control_bytes_and_bad_utf8),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
