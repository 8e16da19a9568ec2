/* SPDX-License-Identifier: GPL-3.0-or-later */
/* DSMR / P1 telegram framer and power parser (see dsmr.h). The framer is a single pass
 * from the first "/": a second "/" before "!" means the telegram was cut (the meter
 * restarted it, or bytes were lost) and the new one is kept; a CRC mismatch drops only
 * the bad telegram. Numbers are parsed by hand, digit by digit, because the buffer is not
 * NUL-terminated and strtod would also accept forms no meter sends (hex, exponents). */
#include <string.h>

#include "astrameter/crc.h"
#include "astrameter/dsmr.h"

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int dsmr_frame_scan(const uint8_t *buf, size_t len, struct dsmr_frame *f, struct err *e)
{
	memset(f, 0, sizeof(*f));
	const uint8_t *slash = memchr(buf, '/', len);
	if (!slash) {
		f->skip = len;
		return 0;
	}
	size_t s = (size_t)(slash - buf), b = s + 1;
	for (; b < len && buf[b] != '!'; b++) {
		if (buf[b] == '/') {
			f->start = s;
			f->end = f->skip = b;
			return err_set(e, "DSMR telegram cut off after %zu bytes by a new one",
			               b - s);
		}
		if (b - s >= DSMR_MAX_TELEGRAM)
			break;
	}
	if (b - s >= DSMR_MAX_TELEGRAM) {
		f->start = s;
		f->end = f->skip = s + 1;
		return err_set(e, "DSMR telegram without end within %d bytes", DSMR_MAX_TELEGRAM);
	}
	if (b + 1 >= len) { /* no "!" yet, or nothing after it to tell the version */
		f->skip = s;
		return 0;
	}
	f->start = s;
	uint8_t c = buf[b + 1];
	if (c == '\r' || c == '\n') {
		/* DSMR 2.2/3.0: no CRC */
		f->end = f->skip = b + 1;
		return 1;
	}
	if (hexval(c) < 0) {
		f->end = f->skip = b + 1;
		return err_set(e, "DSMR telegram end '!' followed by byte 0x%02x", c);
	}
	if (len < b + 5) {
		f->skip = s;
		return 0;
	}
	unsigned want = 0;
	for (size_t i = b + 1; i < b + 5; i++) {
		int h = hexval(buf[i]);
		if (h < 0) {
			f->end = f->skip = b + 1;
			return err_set(e, "DSMR telegram CRC is not four hex digits");
		}
		want = want << 4 | (unsigned)h;
	}
	f->end = f->skip = b + 5;
	f->has_crc = true;
	uint16_t got = crc16_arc(buf + s, b + 1 - s);
	if (got != want)
		return err_set(e, "DSMR CRC mismatch (telegram %04X, computed %04X)", want, got);
	return 1;
}

/* Parses [-]digits[.digits] at p[0, n): *used bytes. -1 if no digit or too many. */
static int parse_number(const char *p, size_t n, double *out, size_t *used)
{
	size_t i = 0;
	int neg = 0, digits = 0;
	double v = 0, scale = 1;
	if (i < n && p[i] == '-') {
		neg = 1;
		i++;
	}
	for (; i < n && p[i] >= '0' && p[i] <= '9'; i++, digits++)
		v = v * 10 + (p[i] - '0');
	if (i < n && p[i] == '.') {
		for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++, digits++) {
			scale /= 10;
			v += (p[i] - '0') * scale;
		}
	}
	if (digits == 0 || digits > 15)
		return -1;
	*out = neg ? -v : v;
	*used = i;
	return 0;
}

int dsmr_obis_value(const char *tg, size_t len, const char *obis, double *value, char *unit,
                    size_t unit_cap, struct err *e)
{
	size_t on = strlen(obis);
	for (size_t p = 0; p < len;) {
		const char *nl = memchr(tg + p, '\n', len - p);
		size_t eol = nl ? (size_t)(nl - tg) : len;
		if (eol - p > on && memcmp(tg + p, obis, on) == 0 && tg[p + on] == '(') {
			const char *v = tg + p + on + 1;
			size_t vn = eol - (p + on + 1), used;
			if (parse_number(v, vn, value, &used) < 0)
				return err_set(e, "DSMR line %s: no number in '%.*s'", obis,
				               (int)(vn > 40 ? 40 : vn), v);
			size_t u = 0;
			if (used < vn && v[used] == '*') {
				for (used++; used < vn && v[used] != ')'; used++) {
					if (u + 1 >= unit_cap)
						return err_set(e, "DSMR line %s: unit too long",
						               obis);
					unit[u++] = v[used];
				}
			}
			if (used >= vn || v[used] != ')')
				return err_set(e, "DSMR line %s: value not closed by ')'", obis);
			if (unit_cap)
				unit[u] = '\0';
			return 1;
		}
		p = eol + 1;
	}
	return 0;
}

/* A power line in W: 1 found, 0 absent, -1 malformed or not a power unit. */
static int power_line(const char *tg, size_t len, const char *obis, double *w, struct err *e)
{
	char unit[8];
	double v;
	int rc = dsmr_obis_value(tg, len, obis, &v, unit, sizeof(unit), e);
	if (rc <= 0)
		return rc;
	if (strcmp(unit, "kW") == 0)
		*w = v * 1000.0;
	else if (strcmp(unit, "W") == 0)
		*w = v;
	else
		return err_set(e, "DSMR line %s: unit '%s' is not kW or W", obis, unit);
	return 1;
}

static const char *const phase_obis[3][2] = {
        {"1-0:21.7.0", "1-0:22.7.0"},
        {"1-0:41.7.0", "1-0:42.7.0"},
        {"1-0:61.7.0", "1-0:62.7.0"},
};

int dsmr_parse_powers(const char *tg, size_t len, struct pm_reading *out, struct err *e)
{
	double imp, exp_w = 0, total = 0, ph[3];
	int have_total, have_phases = 1;
	memset(out, 0, sizeof(*out));
	have_total = power_line(tg, len, "1-0:1.7.0", &imp, e);
	if (have_total < 0)
		return -1;
	if (have_total) {
		int rc = power_line(tg, len, "1-0:2.7.0", &exp_w, e);
		if (rc < 0)
			return -1;
		total = imp - (rc ? exp_w : 0);
	}
	for (int i = 0; i < 3; i++) {
		double pi, pe = 0;
		int rc = power_line(tg, len, phase_obis[i][0], &pi, e);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			have_phases = 0;
			continue;
		}
		rc = power_line(tg, len, phase_obis[i][1], &pe, e);
		if (rc < 0)
			return -1;
		ph[i] = pi - (rc ? pe : 0);
	}
	if (have_phases && !(have_total && total != 0 && ph[0] == 0 && ph[1] == 0 && ph[2] == 0)) {
		for (int i = 0; i < 3; i++)
			out->w[i] = ph[i];
		out->n = 3;
		return 0;
	}
	if (!have_total)
		return err_set(e, "DSMR telegram has no power line (1-0:1.7.0 or 1-0:21.7.0, "
		                  "41.7.0, 61.7.0)");
	out->w[0] = total;
	out->n = 1;
	return 0;
}
