/* SPDX-License-Identifier: GPL-3.0-or-later */
/* CT002/CT003 frame codec: pure functions, no I/O, no allocation. A frame is
 * SOH STX <decimal length> |f1|f2|...|fN ETX <two hex digits>, where the length counts the
 * whole frame including its own digits and the checksum is the XOR of every byte before it.
 * The decoder follows the upstream parser rule for rule (so every battery it accepted we
 * accept) and adds hard caps on size, field count, field length and reported power so a
 * hostile datagram cannot make us store or echo anything large. The Python-compatible
 * number helpers (int(), round()) live here too because the response format depends on them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrameter/ct002.h"
#include "astrameter/pynum.h"
#include "astrameter/text.h"

const char *ct002_strerror(int err)
{
	switch (err) {
	case CT002_OK:
		return "ok";
	case CT002_E_SHORT:
		return "too short";
	case CT002_E_TOO_LONG:
		return "too long";
	case CT002_E_START:
		return "missing SOH/STX";
	case CT002_E_NO_SEP:
		return "no separator after length";
	case CT002_E_LEN_FIELD:
		return "invalid length field";
	case CT002_E_LENGTH:
		return "length mismatch";
	case CT002_E_ETX:
		return "missing ETX";
	case CT002_E_CHECKSUM:
		return "checksum mismatch";
	case CT002_E_ASCII:
		return "non-ASCII body";
	case CT002_E_FIELDS:
		return "too many fields";
	case CT002_E_FIELD_LEN:
		return "field too long";
	case CT002_E_FEW_FIELDS:
		return "fewer than 4 fields";
	case CT002_E_POWER:
		return "power out of range";
	default:
		return "unknown error";
	}
}

uint8_t ct002_checksum(const uint8_t *p, size_t len)
{
	uint8_t x = 0;
	for (size_t i = 0; i < len; i++)
		x ^= p[i];
	return x;
}

/* str.strip() blanks within ASCII. */
static bool strip_blank(unsigned char ch)
{
	return ch == ' ' || (ch >= '\t' && ch <= '\r') || (ch >= 0x1c && ch <= 0x1f);
}

static unsigned char ascii_lower(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') ? (unsigned char)(ch + ('a' - 'A')) : ch;
}

static unsigned char ascii_upper(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') ? (unsigned char)(ch - ('a' - 'A')) : ch;
}

int ct002_parse_pyint(const char *s, size_t len, long limit, long *out)
{
	long v = 0;
	int rc = pynum_int(s, len, &v);
	if (rc == PYNUM_SYNTAX)
		return -1;
	if (rc == PYNUM_RANGE || v > limit || v < -limit)
		return 1;
	if (out)
		*out = v;
	return 0;
}

int ct002_decode(const uint8_t *buf, size_t len, struct ct002_frame *fr)
{
	if (len < 10)
		return CT002_E_SHORT;
	if (len > CT002_MAX_FRAME)
		return CT002_E_TOO_LONG;
	if (buf[0] != CT002_SOH || buf[1] != CT002_STX)
		return CT002_E_START;
	const uint8_t *sep = memchr(buf + 2, '|', len - 2);
	if (!sep)
		return CT002_E_NO_SEP;
	size_t sep_idx = (size_t)(sep - buf);
	long declared;
	int rc = ct002_parse_pyint((const char *)buf + 2, sep_idx - 2, CT002_MAX_FRAME, &declared);
	if (rc < 0)
		return CT002_E_LEN_FIELD;
	if (rc > 0 || declared < 0 || (size_t)declared != len)
		return CT002_E_LENGTH;
	if (buf[len - 3] != CT002_ETX)
		return CT002_E_ETX;
	uint8_t x = ct002_checksum(buf, len - 2);
	unsigned char hi = (unsigned char)txt_hexdigits[x >> 4],
	              lo = (unsigned char)txt_hexdigits[x & 0xf];
	unsigned char a0 = buf[len - 2], a1 = buf[len - 1];
	/* Some firmware writes a space instead of the high nibble; upstream accepts that for
	 * any expected high nibble, so do we. */
	if (ascii_lower(a1) != lo || (ascii_lower(a0) != hi && a0 != ' '))
		return CT002_E_CHECKSUM;
	/* ETX cannot precede the separator (the length would not have parsed), so the body
	 * buf[sep_idx .. len-3) starts with '|' and is never empty. */
	size_t end = len - 3;
	for (size_t k = sep_idx; k < end; k++)
		if (buf[k] >= 0x80)
			return CT002_E_ASCII;
	size_t n = 0;
	size_t start = sep_idx + 1;
	for (size_t k = start; k <= end; k++) {
		if (k < end && buf[k] != '|')
			continue;
		if (n == CT002_MAX_FIELDS)
			return CT002_E_FIELDS;
		if (k - start > CT002_FIELD_MAX)
			return CT002_E_FIELD_LEN;
		fr->f[n].off = (uint16_t)start;
		fr->f[n].len = (uint16_t)(k - start);
		n++;
		start = k + 1;
	}
	fr->n = n;
	return CT002_OK;
}

static unsigned ndigits(size_t v)
{
	unsigned d = 1;
	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

size_t ct002_frame_len(size_t body_len)
{
	size_t base = 2 + body_len + 1 + 2;
	for (unsigned d = 1; d <= 4; d++) {
		size_t total = base + d;
		if (ndigits(total) == d)
			return total;
	}
	return 0;
}

int ct002_encode(const struct ct002_str *fields, size_t n, uint8_t *out, size_t cap)
{
	size_t body = 0;
	for (size_t i = 0; i < n; i++) {
		if (fields[i].len > 9999)
			return -1;
		body += 1 + fields[i].len;
		if (body > 9999)
			return -1;
	}
	size_t total = ct002_frame_len(body);
	if (total == 0 || total > cap)
		return -1;
	char lenbuf[8];
	int ld = snprintf(lenbuf, sizeof(lenbuf), "%zu", total);
	if (ld <= 0)
		return -1;
	size_t k = 0;
	out[k++] = CT002_SOH;
	out[k++] = CT002_STX;
	memcpy(out + k, lenbuf, (size_t)ld);
	k += (size_t)ld;
	for (size_t i = 0; i < n; i++) {
		out[k++] = '|';
		if (fields[i].len)
			memcpy(out + k, fields[i].p, fields[i].len);
		k += fields[i].len;
	}
	out[k++] = CT002_ETX;
	uint8_t x = ct002_checksum(out, k);
	out[k++] = (uint8_t)txt_hexdigits[x >> 4];
	out[k++] = (uint8_t)txt_hexdigits[x & 0xf];
	return (int)k;
}

double ct002_round_half_even(double x)
{
	return pynum_round(x);
}

int ct002_format_round(double x, char *buf, size_t len)
{
	return pynum_format_round(x, buf, len);
}

double ct002_round1(double x)
{
	return pynum_round_nd(x, 1);
}

static void copy_field(struct ct002_request *req, size_t i, const uint8_t *buf,
                       const struct ct002_span *sp)
{
	memcpy(req->f[i], buf + sp->off, sp->len);
	req->f[i][sp->len] = '\0';
	req->len[i] = sp->len;
}

/* Trims str.strip() blanks: [*b, *e). */
static void strip_span(const char *s, size_t len, size_t *b, size_t *e)
{
	size_t i = 0, j = len;
	while (i < j && strip_blank((unsigned char)s[i]))
		i++;
	while (j > i && strip_blank((unsigned char)s[j - 1]))
		j--;
	*b = i;
	*e = j;
}

int ct002_request_parse(const uint8_t *buf, size_t len, struct ct002_request *req)
{
	struct ct002_frame fr;
	int rc = ct002_decode(buf, len, &fr);
	if (rc != CT002_OK)
		return rc;
	if (fr.n < 4)
		return CT002_E_FEW_FIELDS;
	memset(req, 0, sizeof(*req));
	req->n_fields = fr.n;
	size_t keep = fr.n < CT002_REQ_FIELDS ? fr.n : CT002_REQ_FIELDS;
	for (size_t i = 0; i < keep; i++)
		copy_field(req, i, buf, &fr.f[i]);

	/* Phase: trimmed and upper-cased; only exactly A, B, C or D is a phase, anything
	 * else (0, empty, future markers) is inspection, stored as '0'. */
	req->phase = '0';
	if (keep > 4) {
		size_t b, e;
		strip_span(req->f[4], req->len[4], &b, &e);
		if (e - b == 1) {
			unsigned char ph = ascii_upper((unsigned char)req->f[4][b]);
			if (ph == 'A' || ph == 'B' || ph == 'C' || ph == 'D')
				req->phase = (char)ph;
		}
	}

	req->power = 0;
	if (keep > 5) {
		long v;
		rc = ct002_parse_pyint(req->f[5], req->len[5], CT002_POWER_LIMIT, &v);
		if (rc > 0)
			return CT002_E_POWER;
		if (rc == 0)
			req->power = v;
	}

	/* participate: absent or blank = yes; an integer 0 = no; anything else
	 * (non-zero, junk) = yes, as upstream's parse_int(raw, 1) != 0. */
	req->participates = true;
	if (keep > 6) {
		size_t b, e;
		strip_span(req->f[6], req->len[6], &b, &e);
		long v = 1;
		if (e > b && ct002_parse_pyint(req->f[6] + b, e - b, CT002_POWER_LIMIT, &v) == 0 &&
		    v == 0)
			req->participates = false;
	}
	return CT002_OK;
}
