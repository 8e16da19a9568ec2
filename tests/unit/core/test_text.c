/* SPDX-License-Identifier: GPL-3.0-or-later */
/* core/text: hex digits and separator-list splitting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "astrameter/text.h"

static void test_hex(void **state)
{
	(void)state;
	static const struct {
		int c, v;
	} cases[] = {
	        {'0', 0},  {'9', 9},  {'a', 10}, {'f', 15}, {'A', 10},
	        {'F', 15}, {'g', -1}, {'G', -1}, {' ', -1}, {'/', -1},
	        {':', -1}, {'@', -1}, {'`', -1}, {0, -1},   {0xff, -1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (txt_hexval(cases[i].c) != cases[i].v)
			fail_msg("hexval(0x%02x) = %d want %d", cases[i].c, txt_hexval(cases[i].c),
			         cases[i].v);
	unsigned char out[4];
	size_t n = 99;
	assert_int_equal(txt_unhex("00fFa5", 6, out, sizeof(out), &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "\x00\xff\xa5", 3);
	assert_int_equal(txt_unhex("abc", 3, out, sizeof(out), &n), -1); /* odd */
	assert_int_equal(txt_unhex("0011223344", 10, out, 4, &n), -1);   /* too long */
	assert_int_equal(txt_unhex("0g", 2, out, sizeof(out), &n), -1);  /* not hex */
	assert_int_equal(txt_unhex("", 0, out, sizeof(out), &n), 0);
	assert_int_equal(n, 0);
	char hex[7];
	txt_tohex((const unsigned char *)"\x00\xff\xa5", 3, hex);
	assert_string_equal(hex, "00ffa5");
}

struct split_case {
	const char *in;
	const char *items[6]; /* NULL-terminated, each trimmed */
};

static const struct split_case split_cases[] = {
        {"a", {"a", NULL}},
        {"", {"", NULL}},
        {" ", {"", NULL}},
        {"a,b", {"a", "b", NULL}},
        {" a , b ", {"a", "b", NULL}},
        {"a,", {"a", "", NULL}},
        {",a", {"", "a", NULL}},
        {"a,,b", {"a", "", "b", NULL}},
        {"\t1.5,\v2\f, 3\n", {"1.5", "2", "3", NULL}},
        {"a b, c", {"a b", "c", NULL}},
};

static void test_split(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++) {
		const struct split_case *c = &split_cases[i];
		struct txt_split it;
		struct txt_item item;
		size_t k = 0;
		txt_split_init(&it, c->in, strlen(c->in), ',');
		while (txt_split_next(&it, &item)) {
			if (!c->items[k])
				fail_msg("'%s': extra item %zu", c->in, k);
			if (item.len != strlen(c->items[k]) ||
			    memcmp(item.s, c->items[k], item.len) != 0)
				fail_msg("'%s': item %zu is '%.*s' want '%s'", c->in, k,
				         (int)item.len, item.s, c->items[k]);
			if (item.last != (c->items[k + 1] == NULL))
				fail_msg("'%s': item %zu last flag wrong", c->in, k);
			k++;
		}
		if (c->items[k])
			fail_msg("'%s': only %zu items", c->in, k);
		assert_false(txt_split_next(&it, &item)); /* stays exhausted */
	}
	/* Raw length keeps the blanks; the text length bounds the scan. */
	struct txt_split it;
	struct txt_item item;
	txt_split_init(&it, " a ,b;c", 5, ';');
	assert_true(txt_split_next(&it, &item));
	assert_int_equal(item.raw_len, 5);
	assert_int_equal(item.len, 4); /* "a ,b": the separator is ; */
	assert_true(item.last);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_hex),
	        cmocka_unit_test(test_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
