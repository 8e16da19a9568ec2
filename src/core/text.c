/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Hexadecimal digits and list splitting: the one copy of what meters (Fritz!Box salts, SML
 * OBIS codes), the MQTT URI decoder, the CT and Shelly codecs, the config reader and the
 * HTTP header parser each used to write for themselves. */
#include <string.h>

#include "astrameter/text.h"

const char txt_hexdigits[17] = "0123456789abcdef";

int txt_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int txt_unhex(const char *s, size_t n, unsigned char *out, size_t cap, size_t *outlen)
{
	if (n % 2 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		int hi = txt_hexval((unsigned char)s[i]), lo = txt_hexval((unsigned char)s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	*outlen = n / 2;
	return 0;
}

void txt_tohex(const unsigned char *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = txt_hexdigits[in[i] >> 4];
		out[2 * i + 1] = txt_hexdigits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

bool txt_is_blank(int c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

void txt_split_init(struct txt_split *it, const char *text, size_t len, char sep)
{
	it->p = text;
	it->end = text + len;
	it->sep = sep;
	it->done = false;
}

bool txt_split_next(struct txt_split *it, struct txt_item *item)
{
	if (it->done)
		return false;
	const char *q = memchr(it->p, it->sep, (size_t)(it->end - it->p));
	const char *stop = q ? q : it->end;
	const char *a = it->p, *b = stop;
	item->raw_len = (size_t)(stop - it->p);
	while (a < b && txt_is_blank((unsigned char)*a))
		a++;
	while (b > a && txt_is_blank((unsigned char)b[-1]))
		b--;
	item->s = a;
	item->len = (size_t)(b - a);
	item->last = q == NULL;
	if (q)
		it->p = q + 1;
	else
		it->done = true;
	return true;
}
