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

#endif
