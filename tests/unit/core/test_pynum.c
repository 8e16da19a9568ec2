/* SPDX-License-Identifier: GPL-3.0-or-later */
/* core/pynum: Python int()/float()/round()/repr()/sum(). The parser tables were generated
 * by running CPython 3.11 on each string (int(s) / float(s); PYNUM_RANGE marks an int that
 * Python accepts but that does not fit a long). Non-ASCII digits, which Python also takes,
 * are out of scope: configs and meter payloads are read as bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "astrameter/pynum.h"

struct int_case {
	const char *s;
	int rc;
	long v;
};

static const struct int_case int_cases[] = {
        {"1", PYNUM_OK, 1},
        {"0", PYNUM_OK, 0},
        {" 5 ", PYNUM_OK, 5},
        {"+5", PYNUM_OK, 5},
        {"-5", PYNUM_OK, -5},
        {"-0", PYNUM_OK, 0},
        {"1_000", PYNUM_OK, 1000},
        {"_1", PYNUM_SYNTAX, 0},
        {"1_", PYNUM_SYNTAX, 0},
        {"1__0", PYNUM_SYNTAX, 0},
        {"-_1", PYNUM_SYNTAX, 0},
        {"1_000_000", PYNUM_OK, 1000000},
        {"0x10", PYNUM_SYNTAX, 0},
        {"010", PYNUM_OK, 10},
        {"\t7\n", PYNUM_OK, 7},
        {"\v5\f", PYNUM_OK, 5},
        {"\x1c"
         "5",
         PYNUM_SYNTAX, 0}, /* str.strip() would take it, int() does not */
        {"5\x1c", PYNUM_SYNTAX, 0},
        {"", PYNUM_SYNTAX, 0},
        {"  ", PYNUM_SYNTAX, 0},
        {"+", PYNUM_SYNTAX, 0},
        {"-", PYNUM_SYNTAX, 0},
        {"--1", PYNUM_SYNTAX, 0},
        {"+-1", PYNUM_SYNTAX, 0},
        {"5.", PYNUM_SYNTAX, 0},
        {"1.5", PYNUM_SYNTAX, 0},
        {"1e3", PYNUM_SYNTAX, 0},
        {"12 W", PYNUM_SYNTAX, 0},
        {"1 000", PYNUM_SYNTAX, 0},
        {"inf", PYNUM_SYNTAX, 0},
        {"9223372036854775807", PYNUM_OK, LONG_MAX},
        {"9223372036854775808", PYNUM_RANGE, 0},
        {"-9223372036854775808", PYNUM_OK, LONG_MIN},
        {"-9223372036854775809", PYNUM_RANGE, 0},
        {"99999999999999999999", PYNUM_RANGE, 0},
        {"99999999999999999999x", PYNUM_SYNTAX, 0}, /* junk wins over size */
};

static void test_int(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(int_cases) / sizeof(int_cases[0]); i++) {
		const struct int_case *c = &int_cases[i];
		long v = 12345;
		int rc = pynum_int(c->s, strlen(c->s), &v);
		if (rc != c->rc)
			fail_msg("int('%s'): rc %d want %d", c->s, rc, c->rc);
		if (rc == PYNUM_OK && v != c->v)
			fail_msg("int('%s'): %ld want %ld", c->s, v, c->v);
		if (rc != PYNUM_OK && v != 12345)
			fail_msg("int('%s'): output written on failure", c->s);
		assert_int_equal(pynum_int(c->s, strlen(c->s), NULL), c->rc);
	}
	/* Length-bounded: the byte after len is not read as part of the number. */
	assert_int_equal(pynum_int("12x", 2, NULL), PYNUM_OK);
	assert_int_equal(pynum_int("1_", 1, NULL), PYNUM_OK);
}

struct float_case {
	const char *s;
	int rc;
	double v;
};

static const struct float_case float_cases[] = {
        {"1", PYNUM_OK, 1.0},
        {" 2.5 ", PYNUM_OK, 2.5},
        {" 5 ", PYNUM_OK, 5.0},
        {"-3", PYNUM_OK, -3.0},
        {"+4", PYNUM_OK, 4.0},
        {".5", PYNUM_OK, 0.5},
        {"5.", PYNUM_OK, 5.0},
        {"+.5", PYNUM_OK, 0.5},
        {"-.5e1", PYNUM_OK, -5.0},
        {"1e3", PYNUM_OK, 1000.0},
        {"1E-2", PYNUM_OK, 0.01},
        {"1e+2", PYNUM_OK, 100.0},
        {"1_000", PYNUM_OK, 1000.0},
        {"1_000.5", PYNUM_OK, 1000.5},
        {"1_000e1_0", PYNUM_OK, 10000000000000.0},
        {"\t7\n", PYNUM_OK, 7.0},
        {"0.1", PYNUM_OK, 0.1},
        {"1e-400", PYNUM_OK, 0.0},
        {"00012", PYNUM_OK, 12.0},
        {"inf", PYNUM_OK, INFINITY},
        {"-inf", PYNUM_OK, -INFINITY},
        {"+Infinity", PYNUM_OK, INFINITY},
        {"iNF", PYNUM_OK, INFINITY},
        {"1e999", PYNUM_OK, INFINITY},
        {"-1e999", PYNUM_OK, -INFINITY},
        {"", PYNUM_SYNTAX, 0},
        {" ", PYNUM_SYNTAX, 0},
        {"abc", PYNUM_SYNTAX, 0},
        {"1.2.3", PYNUM_SYNTAX, 0},
        {"infin", PYNUM_SYNTAX, 0},
        {"_1", PYNUM_SYNTAX, 0},
        {"1_", PYNUM_SYNTAX, 0},
        {"1__0", PYNUM_SYNTAX, 0},
        {"1_.5", PYNUM_SYNTAX, 0},
        {"1._5", PYNUM_SYNTAX, 0},
        {"1e_5", PYNUM_SYNTAX, 0},
        {"1_e5", PYNUM_SYNTAX, 0},
        {"0x10", PYNUM_SYNTAX, 0},
        {"0X1p3", PYNUM_SYNTAX, 0},
        {"1e", PYNUM_SYNTAX, 0},
        {"1e+", PYNUM_SYNTAX, 0},
        {"-", PYNUM_SYNTAX, 0},
        {"--1", PYNUM_SYNTAX, 0},
        {"12 W", PYNUM_SYNTAX, 0},
        {"1 000", PYNUM_SYNTAX, 0},
        {".", PYNUM_SYNTAX, 0},
        {"e5", PYNUM_SYNTAX, 0},
        {".e5", PYNUM_SYNTAX, 0},
        {"5e5.5", PYNUM_SYNTAX, 0},
        {"\x1c"
         "5",
         PYNUM_SYNTAX, 0},
};

static void test_float(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(float_cases) / sizeof(float_cases[0]); i++) {
		const struct float_case *c = &float_cases[i];
		double v = 12345;
		int rc = pynum_float(c->s, strlen(c->s), &v);
		if (rc != c->rc)
			fail_msg("float('%s'): rc %d want %d", c->s, rc, c->rc);
		if (rc == PYNUM_OK && v != c->v)
			fail_msg("float('%s'): %g want %g", c->s, v, c->v);
		/* The finite variant agrees except that inf/nan/overflow are refused. */
		double f = 12345;
		int want = (rc == PYNUM_OK && isfinite(c->v)) ? 0 : -1;
		if (pynum_float_finite(c->s, strlen(c->s), &f) != want)
			fail_msg("float_finite('%s') want %d", c->s, want);
		if (want < 0 && f != 12345)
			fail_msg("float_finite('%s'): output written on failure", c->s);
	}
	double v = 0;
	assert_int_equal(pynum_float("nan", 3, &v), PYNUM_OK);
	assert_true(isnan(v));
	assert_int_equal(pynum_float("-NaN", 4, &v), PYNUM_OK);
	assert_true(isnan(v));
	assert_int_equal(pynum_float_finite("nan", 3, &v), -1);
	assert_int_equal(pynum_float("2.5x", 3, &v), PYNUM_OK);
	assert_true(v == 2.5);
	/* Longer than PYNUM_FLOAT_MAX: refused rather than truncated. */
	char big[PYNUM_FLOAT_MAX + 10];
	memset(big, '1', sizeof(big));
	assert_int_equal(pynum_float(big, sizeof(big), &v), PYNUM_SYNTAX);
}

static void test_round(void **state)
{
	(void)state;
	/* round(): half to even. */
	assert_true(pynum_round(0.5) == 0.0);
	assert_true(pynum_round(1.5) == 2.0);
	assert_true(pynum_round(2.5) == 2.0);
	assert_true(pynum_round(-0.5) == 0.0);
	assert_true(pynum_round(-1.5) == -2.0);
	assert_true(pynum_round(2.4999999) == 2.0);
	/* round(x, 1) of the exact binary value: 0.15 is 0.1499999..., 0.25 ties to 0.2. */
	assert_true(pynum_round_nd(0.15, 1) == 0.1);
	assert_true(pynum_round_nd(0.25, 1) == 0.2);
	assert_true(pynum_round_nd(0.35, 1) == 0.3);
	assert_true(pynum_round_nd(2.675, 2) == 2.67);
	char buf[PYNUM_REPR_MAX];
	assert_int_equal(pynum_format_round(2.5, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "2");
	assert_int_equal(pynum_format_round(-3.5, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "-4");
	assert_int_equal(pynum_format_round(1e15, buf, sizeof(buf)), -1);
	assert_int_equal(pynum_format_round(NAN, buf, sizeof(buf)), -1);
}

static void test_repr(void **state)
{
	(void)state;
	static const struct {
		double x;
		const char *s;
	} cases[] = {
	        {0.0, "0.0"},
	        {-0.0, "-0.0"},
	        {100.0, "100.0"},
	        {0.1, "0.1"},
	        {0.1 + 0.2, "0.30000000000000004"},
	        {1e16, "1e+16"},
	        {1e-5, "1e-05"},
	        {1e-4, "0.0001"},
	        {123.456, "123.456"},
	        {-2.5, "-2.5"},
	        {1e22, "1e+22"},
	        {9999999999999998.0, "9999999999999998.0"},
	        {5e-324, "5e-324"},
	        {1.7976931348623157e308, "1.7976931348623157e+308"},
	};
	char buf[PYNUM_REPR_MAX];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = pynum_repr(cases[i].x, buf, sizeof(buf));
		if (n < 0 || strcmp(buf, cases[i].s) != 0)
			fail_msg("repr(%.17g) = '%s' want '%s'", cases[i].x, n < 0 ? "-1" : buf,
			         cases[i].s);
	}
	assert_int_equal(pynum_repr(INFINITY, buf, sizeof(buf)), -1);
	assert_int_equal(pynum_repr(100.0, buf, 5), -1); /* "100.0" needs 6 bytes */
}

static void test_sum(void **state)
{
	(void)state;
	/* Python 3.12: sum([0.1] * 10) == 1.0, sum([1e100, 1.0, -1e100]) == 1.0. */
	double tenth[10];
	for (size_t i = 0; i < 10; i++)
		tenth[i] = 0.1;
	assert_true(pynum_sum(tenth, 10) == 1.0);
	double big[] = {1e100, 1.0, -1e100};
	assert_true(pynum_sum(big, 3) == 1.0);
	assert_true(pynum_sum(NULL, 0) == 0.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_int),   cmocka_unit_test(test_float),
	        cmocka_unit_test(test_round), cmocka_unit_test(test_repr),
	        cmocka_unit_test(test_sum),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
