/* SPDX-License-Identifier: GPL-3.0-or-later */
/* CT002 frame codec for the simulated batteries (see sim_ct.h). Decoding reads through
 * explicit bounds checks; nothing is cast onto the packet. */
#include "sim/sim_ct.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrameter/text.h"

#define SOH 0x01
#define STX 0x02
#define ETX 0x03

int sim_ct_encode(const char *const *fields, size_t nfields, char *buf, size_t cap)
{
	size_t body = 0;
	for (size_t i = 0; i < nfields; i++) {
		const char *s = fields[i] ? fields[i] : "";
		for (const char *p = s; *p; p++) {
			unsigned char ch = (unsigned char)*p;
			if (ch < 0x20 || ch > 0x7e || ch == '|')
				return -1;
		}
		body += 1 + strlen(s);
	}
	/* SOH STX + body + ETX + 2 checksum chars, plus the length's own digits. */
	size_t base = 2 + body + 1 + 2, total = 0;
	for (size_t digits = 1; digits <= 4; digits++) {
		size_t t = base + digits;
		char tmp[8];
		int n = snprintf(tmp, sizeof(tmp), "%zu", t);
		if (n > 0 && (size_t)n == digits) {
			total = t;
			break;
		}
	}
	if (total == 0 || total > cap)
		return -1;
	size_t pos = 0;
	buf[pos++] = SOH;
	buf[pos++] = STX;
	pos += (size_t)snprintf(buf + pos, cap - pos, "%zu", total);
	for (size_t i = 0; i < nfields; i++) {
		const char *s = fields[i] ? fields[i] : "";
		size_t l = strlen(s);
		buf[pos++] = '|';
		memcpy(buf + pos, s, l);
		pos += l;
	}
	buf[pos++] = ETX;
	unsigned x = 0;
	for (size_t i = 0; i < pos; i++)
		x ^= (unsigned char)buf[i];
	buf[pos++] = txt_hexdigits[(x >> 4) & 0xf];
	buf[pos++] = txt_hexdigits[x & 0xf];
	return (int)pos;
}

int sim_ct_decode(const unsigned char *d, size_t len, struct sim_ct_fields *out)
{
	out->n = 0;
	if (len < 10 || len > SIM_CT_MAX_FRAME)
		return -1;
	if (d[0] != SOH || d[1] != STX)
		return -1;
	size_t sep = 2;
	while (sep < len && d[sep] != '|')
		sep++;
	if (sep >= len || sep == 2 || sep - 2 > 4)
		return -1;
	size_t length = 0;
	for (size_t i = 2; i < sep; i++) {
		if (d[i] < '0' || d[i] > '9')
			return -1;
		length = length * 10 + (size_t)(d[i] - '0');
	}
	if (length != len || d[len - 3] != ETX)
		return -1;
	unsigned x = 0;
	for (size_t i = 0; i < len - 2; i++)
		x ^= d[i];
	int lo = txt_hexval(d[len - 1]);
	int hi = d[len - 2] == ' ' ? (int)((x >> 4) & 0xf) : txt_hexval(d[len - 2]);
	if (lo < 0 || hi < 0 || (unsigned)((hi << 4) | lo) != x)
		return -1;
	/* Body: from the first '|' to just before ETX. */
	size_t blen = len - 3 - sep;
	if (blen >= sizeof(out->store))
		return -1;
	for (size_t i = 0; i < blen; i++)
		if (d[sep + i] > 0x7f)
			return -1;
	memcpy(out->store, d + sep, blen);
	out->store[blen] = '\0';
	/* store[0] is the leading '|'; every '|' starts a field. */
	for (size_t i = 0; i < blen; i++) {
		if (out->store[i] != '|')
			continue;
		if (out->n >= SIM_CT_MAX_FIELDS)
			return -1;
		out->store[i] = '\0';
		out->f[out->n++] = &out->store[i + 1];
	}
	return 0;
}

long sim_ct_field_int(const struct sim_ct_fields *f, size_t i)
{
	if (i >= f->n || f->f[i][0] == '\0')
		return 0;
	char *end;
	errno = 0;
	long v = strtol(f->f[i], &end, 10);
	if (errno != 0 || *end != '\0')
		return 0;
	return v;
}
