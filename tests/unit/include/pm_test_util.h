/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Test helpers for the HTTP meter parser tests: fixture loading (AM_FIXTURES) and a
 * table of broken bodies every JSON parser must refuse. */
#ifndef PM_TEST_UTIL_H
#define PM_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* Reads tests/fixtures/<rel> into a malloc'd, NUL-terminated buffer; fails the test if
 * missing. */
static inline char *pmt_load(const char *rel, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", AM_FIXTURES, rel);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("missing fixture %s", path);
	char *buf = malloc(1 << 16);
	assert_non_null(buf);
	size_t n = fread(buf, 1, (1 << 16) - 1, f);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Bodies no parser may accept: empty, blank, truncated, not JSON. */
static const char *const pmt_garbage[] = {
        "", "   \n", "{", "{\"power\": 12", "[", "not json", "<html>oops</html>", "null", "42",
};
#define PMT_N_GARBAGE (sizeof(pmt_garbage) / sizeof(pmt_garbage[0]))

#define PMT_BODY(s) (s), strlen(s)

#include "astrameter/err.h"
#include "astrameter/reading.h"

/* A body a parser must refuse, and a piece of the error message it must give. */
struct pmt_bad {
	const char *body, *msg;
};

/* A parser with the common signature (tests wrap ones that take configuration). */
typedef int pmt_parse_fn(const char *body, size_t len, struct pm_reading *r, struct err *e);

/* Every bad[i] must fail (-1) with a message containing bad[i].msg, and every body of
 * pmt_garbage must fail with some message. */
static inline void pmt_check_broken(pmt_parse_fn *parse, const struct pmt_bad *bad, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct pm_reading r;
		struct err e = {{0}};
		int rc = parse(PMT_BODY(bad[i].body), &r, &e);
		if (rc != -1 || !strstr(e.msg, bad[i].msg))
			fail_msg("case %zu (%s): rc %d '%s'", i, bad[i].body, rc, e.msg);
	}
	for (size_t i = 0; i < PMT_N_GARBAGE; i++) {
		struct pm_reading r;
		struct err e = {{0}};
		assert_int_equal(parse(PMT_BODY(pmt_garbage[i]), &r, &e), -1);
		assert_true(e.msg[0] != '\0');
	}
}

#endif
