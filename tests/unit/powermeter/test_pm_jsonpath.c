/* SPDX-License-Identifier: GPL-3.0-or-later */
/* JSONPath dialect: every supported syntax against a fixed document, the jsonpath-ng
 * extensions upstream documents (sub, split), first-match order, number conversion and
 * compile errors. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "astrameter/jsonpath.h"

static const char doc[] =
        "{\"power\": 100, \"a\": {\"b\": {\"c\": 3.5}}, \"phases\": [{\"power\": 11},"
        " {\"power\": 22}, {\"power\": 33}], \"key with space\": 7, \"dotted.key\": 8,"
        " \"q'uote\": 9, \"state\": \"331.74 W\", \"numstr\": \" 123.4 \","
        " \"nested\": {\"deep\": {\"total\": 42}}, \"total\": 41, \"flag\": true,"
        " \"off\": false, \"nothing\": null, \"text\": \"abc\", \"arr\": [1, 2, 3, 4, 5],"
        " \"list\": [{\"x\": 1}, {\"y\": 2}, {\"y\": 3}],"
        " \"consumption\": [{\"measurementType\": \"total-consumption\", \"wNow\": 500},"
        " {\"measurementType\": \"net-consumption\", \"wNow\": -120.5}],"
        " \"under\": \"1_000\", \"exp\": \"1e3\", \"csv\": \"10,20,30\","
        " \"sml\": {\"Power\": 250, \"Power_L1\": 80}, \"ümlaut\": 5, \"a-b\": 6,"
        " \"big\": 1e308, \"neg\": \"-0.5\"}";

struct ok_case {
	const char *path;
	double want;
};

static const struct ok_case ok_cases[] = {
        {"$.power", 100},
        {"power", 100},
        {"$.a.b.c", 3.5},
        {"a.b.c", 3.5},
        {"$['a']['b']['c']", 3.5},
        {"$[\"a\"][\"b\"].c", 3.5},
        {"$.phases[0].power", 11},
        {"$.phases[2].power", 33},
        {"$.phases[-1].power", 33},
        {"$.phases[ 1 ].power", 22},
        {"$['key with space']", 7},
        {"$.'key with space'", 7},
        {"$['dotted.key']", 8},
        {"$['q\\'uote']", 9},
        {"$..c", 3.5},
        /* $..total: the root's own field comes before descendants (jsonpath-ng order). */
        {"$..total", 41},
        {"$.nested..total", 42},
        {"$.phases[*].power", 11},
        {"$.phases.*.power", 11},
        {"$.list[*].y", 2},
        {"$..y", 2},
        {"$.arr[1:3]", 2},
        {"$.arr[-2:]", 4},
        {"$.arr[:]", 1},
        {"$['missing','power']", 100},
        {"$.numstr", 123.4},
        {"$.flag", 1},
        {"$.off", 0},
        {"$.under", 1000},
        {"$.exp", 1000},
        {"$.neg", -0.5},
        {"$.big", 1e308},
        {"$.sml.Power_L1", 80},
        {"$.ümlaut", 5},
        {"$.a-b", 6},
        {"$.power.`this`", 100},
        {"@.power", 100},
        {"  $.power  ", 100},
        /* upstream test_strips_unit_suffix_via_jsonpath_ext and the documented split form */
        {"$.state.`sub(/[^0-9.\\-]+$/, )`", 331.74},
        {"$.state.`split( , 0, -1)`", 331.74},
        {"$.csv.`split(,, 1, -1)`", 20},
        {"$.csv.`split(,, -1, -1)`", 30},
        {"$.csv.`split(,, 1, 1)`.`split(,, 1, -1)`", 30},
        {"$.state.`sub(/\\s*W$/, )`", 331.74},
        {"$.state.`sub(/([0-9]+)\\.([0-9]+).*/, \\2)`", 74},
        {"$.text.`sub(/abc/, 5)`", 5},
        {"$.power.`str()`", 100},
        {"$.power.`str()`.`sub(/0$/, 1)`", 101},
        {"$.consumption[?(@.measurementType == 'net-consumption')].wNow", -120.5},
        {"$.consumption[?measurementType = \"net-consumption\"].wNow", -120.5},
        {"$.consumption[?(@.wNow > 0)].wNow", 500},
        {"$.consumption[?(@.wNow < 0 & @.measurementType != 'x')].wNow", -120.5},
        {"$.list[?(@.y)].y", 2},
        {"$.list[?(@.y >= 3)].y", 3},
};

static void test_ok_table(void **state)
{
	(void)state;
	cJSON *root = cJSON_Parse(doc);
	assert_non_null(root);
	for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		struct err e = {{0}};
		struct jsonpath *p = jsonpath_compile(ok_cases[i].path, &e);
		if (!p)
			fail_msg("compile '%s': %s", ok_cases[i].path, e.msg);
		double v = NAN;
		if (jsonpath_eval_number(p, root, &v, &e) != 0)
			fail_msg("eval '%s': %s", ok_cases[i].path, e.msg);
		if (fabs(v - ok_cases[i].want) > 1e-9 * fmax(1.0, fabs(ok_cases[i].want)))
			fail_msg("'%s' = %g, want %g", ok_cases[i].path, v, ok_cases[i].want);
		jsonpath_free(p);
	}
	cJSON_Delete(root);
}

struct eval_err_case {
	const char *path;
	const char *msg_part;
};

static const struct eval_err_case eval_err_cases[] = {
        {"$.missing", "no match for JSON path '$.missing'"},
        {"$.a.missing.c", "no match"},
        {"$.phases[3].power", "no match"},
        {"$.phases[-4].power", "no match"},
        {"$.power[0]", "no match"},
        {"$.phases.power", "no match"}, /* a field on an array does not map over it */
        {"$.text", "not a number (\"abc\")"},
        {"$.nothing", "not a number (null)"},
        {"$.a", "not a number (an object)"},
        {"$.arr", "not a number (an array)"},
        {"$.state", "not a number"},
        {"$.csv.`split(,, 5, -1)`", "no match"},
        {"$.power.`sub(/x/, y)`", "no match"}, /* sub needs a string */
        {"$.consumption[?(@.measurementType == 'nope')].wNow", "no match"},
        {"$.text.`sub(/b/, x)`", "not a number (\"axc\")"},
};

static void test_eval_errors(void **state)
{
	(void)state;
	cJSON *root = cJSON_Parse(doc);
	assert_non_null(root);
	for (size_t i = 0; i < sizeof(eval_err_cases) / sizeof(eval_err_cases[0]); i++) {
		struct err e = {{0}};
		struct jsonpath *p = jsonpath_compile(eval_err_cases[i].path, &e);
		if (!p)
			fail_msg("compile '%s': %s", eval_err_cases[i].path, e.msg);
		double v = 0;
		if (jsonpath_eval_number(p, root, &v, &e) == 0)
			fail_msg("'%s' unexpectedly gave %g", eval_err_cases[i].path, v);
		if (!strstr(e.msg, eval_err_cases[i].msg_part))
			fail_msg("'%s': message '%s' lacks '%s'", eval_err_cases[i].path, e.msg,
			         eval_err_cases[i].msg_part);
		jsonpath_free(p);
	}
	cJSON_Delete(root);
}

static const char *const bad_paths[] = {
        "",
        "   ",
        "$.",
        "$..",
        "$[",
        "$[0",
        "$['a'",
        "$['a]",
        "$[abc]",
        "$.a[1:2:3]",
        "$.a b",
        "$.a.`len`",
        "$.a.`sub(/x/)`",
        "$.a.`split(x)`",
        "$.a.`split(,, a, 1)`",
        "$.a.`split(,, 0, -2)`",
        "$.a.`sub(/(?=x)/, y)`",
        "$.a.`sub(/x+?/, y)`",
        "$.a.`sub(/\\bx/, y)`",
        "$.a.`str()`.b",
        "$.a.`sub(/x/, y)`[0]",
        "$.a.`unterminated",
        "$..`str()`",
        "$.a[?(@.b == )]",
        "$.a[?(@.b == 'x']",
        "$.a[?()]",
        "$.a)",
        "$$",
        "$[99999999999999999999999]",
};

static void test_compile_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
		struct err e = {{0}};
		struct jsonpath *p = jsonpath_compile(bad_paths[i], &e);
		if (p)
			fail_msg("'%s' compiled", bad_paths[i]);
		/* The message names the path so a config error points at the right key. */
		if (bad_paths[i][0] && !strstr(e.msg, bad_paths[i]))
			fail_msg("'%s': message '%s' does not name it", bad_paths[i], e.msg);
	}
	char longp[JSONPATH_MAX_LEN + 10];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	struct err e = {{0}};
	assert_null(jsonpath_compile(longp, &e));
	assert_non_null(strstr(e.msg, "too long"));
}

static void test_find_and_text(void **state)
{
	(void)state;
	cJSON *root = cJSON_Parse(doc);
	struct err e;
	struct jsonpath *p = jsonpath_compile("$.a.b", &e);
	assert_non_null(p);
	assert_string_equal(jsonpath_text(p), "$.a.b");
	const cJSON *n = jsonpath_find(p, root);
	assert_non_null(n);
	assert_true(cJSON_IsObject(n));
	assert_null(jsonpath_find(p, NULL));
	jsonpath_free(p);
	p = jsonpath_compile("$", &e);
	assert_ptr_equal(jsonpath_find(p, root), root);
	jsonpath_free(p);
	jsonpath_free(NULL);
	cJSON_Delete(root);
}

static void test_scalar_root(void **state)
{
	(void)state;
	cJSON *root = cJSON_Parse("  -17.25 ");
	struct err e;
	struct jsonpath *p = jsonpath_compile("$", &e);
	double v = 0;
	assert_int_equal(jsonpath_eval_number(p, root, &v, &e), 0);
	assert_true(v == -17.25);
	jsonpath_free(p);
	cJSON_Delete(root);
}

static void test_compile_list(void **state)
{
	(void)state;
	struct jsonpath *ps[4];
	size_t n = 99;
	struct err e;
	assert_int_equal(jsonpath_compile_list(" $.p1, $.p2 ,,$.p3 ", ps, 4, &n, &e), 0);
	assert_int_equal(n, 3);
	assert_string_equal(jsonpath_text(ps[1]), "$.p2");
	for (size_t i = 0; i < n; i++)
		jsonpath_free(ps[i]);

	/* Commas inside backticks, quotes and brackets do not split (upstream's naive split
	 * on ',' broke its own documented split( , 0, -1) example). */
	assert_int_equal(jsonpath_compile_list("$.state.`split( , 0, -1)`, $['a,b'], $.x[?(@.k "
	                                       "== 'u,v')].w",
	                                       ps, 4, &n, &e),
	                 0);
	assert_int_equal(n, 3);
	assert_string_equal(jsonpath_text(ps[0]), "$.state.`split( , 0, -1)`");
	assert_string_equal(jsonpath_text(ps[1]), "$['a,b']");
	for (size_t i = 0; i < n; i++)
		jsonpath_free(ps[i]);

	assert_int_equal(jsonpath_compile_list("$.a,$.b,$.c,$.d,$.e", ps, 4, &n, &e), -1);
	assert_int_equal(n, 0);
	assert_non_null(strstr(e.msg, "too many"));
	assert_int_equal(jsonpath_compile_list(" , ", ps, 4, &n, &e), -1);
	assert_non_null(strstr(e.msg, "no JSON path"));
	assert_int_equal(jsonpath_compile_list("$.a, $[", ps, 4, &n, &e), -1);
	assert_int_equal(n, 0);
	assert_non_null(strstr(e.msg, "'$['"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_ok_table),       cmocka_unit_test(test_eval_errors),
	        cmocka_unit_test(test_compile_errors), cmocka_unit_test(test_find_and_text),
	        cmocka_unit_test(test_scalar_root),    cmocka_unit_test(test_compile_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
