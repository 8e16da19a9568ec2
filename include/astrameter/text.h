/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Small text helpers written once: hexadecimal digits and separator-list splitting (config
 * lists, netmasks, HTTP header tokens). Pure, no allocation. */
#ifndef ASTRAMETER_TEXT_H
#define ASTRAMETER_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Lower-case hexadecimal digits, indexed by value. */
extern const char txt_hexdigits[17];

/* The value of one hexadecimal digit (either case), or -1. */
int txt_hexval(int c);

/* Decodes n hexadecimal characters into out (cap bytes). 0 with *outlen = n / 2, or -1 if
 * n is odd, the result does not fit, or a character is not a hex digit. */
int txt_unhex(const char *s, size_t n, unsigned char *out, size_t cap, size_t *outlen);

/* Writes n bytes as 2n lower-case hex characters plus a NUL (out holds 2n + 1). */
void txt_tohex(const unsigned char *in, size_t n, char *out);

/* Whether c is an ASCII blank as C's isspace() in the C locale: \t \n \v \f \r, space. */
bool txt_is_blank(int c);

/* One item of a separated list: s[0..len) with blanks trimmed; raw_len is the untrimmed
 * length; last is true for the final item (no separator after it). */
struct txt_item {
	const char *s;
	size_t len;
	size_t raw_len;
	bool last;
};

/* Splits text[0..len) on sep: "a, b,,c," yields "a", "b", "", "c", "" (every item, empty
 * ones too, so the caller decides whether an empty item is an error or skipped). An empty
 * text yields one empty item. */
struct txt_split {
	const char *p, *end;
	char sep;
	bool done;
};

void txt_split_init(struct txt_split *it, const char *text, size_t len, char sep);
/* The next item, or false when the list is exhausted. */
bool txt_split_next(struct txt_split *it, struct txt_item *item);

#endif
