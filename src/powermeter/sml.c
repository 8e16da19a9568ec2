/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SML decoder: transport framing with escape handling and CRC check, a bounded TL-field
 * reader for list entries, and power register selection (see sml.h). Every read goes
 * through a length check; nothing is cast onto the buffer. */
#include <ctype.h>
#include <math.h>
#include <string.h>

#include "astrameter/sml.h"
#include "astrameter/text.h"

static const uint8_t esc4[4] = {0x1b, 0x1b, 0x1b, 0x1b};
static const uint8_t begin8[8] = {0x1b, 0x1b, 0x1b, 0x1b, 0x01, 0x01, 0x01, 0x01};

void pm_sml_obis_cfg_default(struct pm_sml_obis_cfg *cfg)
{
	static const struct pm_sml_obis_cfg def = {
	        .current = {0x01, 0x00, 0x10, 0x07, 0x00, 0xff},
	        .l1 = {0x01, 0x00, 0x24, 0x07, 0x00, 0xff},
	        .l2 = {0x01, 0x00, 0x38, 0x07, 0x00, 0xff},
	        .l3 = {0x01, 0x00, 0x4c, 0x07, 0x00, 0xff},
	};
	*cfg = def;
}

int pm_sml_obis_parse_hex(const char *s, uint8_t out[6], struct err *e)
{
	const char *p = s;
	while (isspace((unsigned char)*p))
		p++;
	size_t n = strlen(p);
	while (n && isspace((unsigned char)p[n - 1]))
		n--;
	if (n != 12)
		return err_set(e, "must be exactly 12 hexadecimal digits (SML OBIS form), got '%s'",
		               s);
	uint8_t tmp[6];
	for (size_t i = 0; i < 6; i++) {
		int hi = txt_hexval((unsigned char)p[2 * i]);
		int lo = txt_hexval((unsigned char)p[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return err_set(
			        e,
			        "must be exactly 12 hexadecimal digits (SML OBIS form), got '%s'",
			        s);
		tmp[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(out, tmp, 6);
	return 0;
}

uint16_t pm_sml_crc16(const uint8_t *p, size_t n)
{
	uint16_t crc = 0xffff;
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0x8408) : (uint16_t)(crc >> 1);
	}
	return (uint16_t)(crc ^ 0xffff);
}

static const uint8_t *memfind(const uint8_t *h, size_t hn, const uint8_t *n, size_t nn)
{
	for (size_t i = 0; i + nn <= hn; i++)
		if (memcmp(h + i, n, nn) == 0)
			return h + i;
	return NULL;
}

int pm_sml_frame_scan(const uint8_t *buf, size_t len, size_t *start, size_t *end, uint8_t *payload,
                      size_t payload_cap, size_t *plen, struct err *e)
{
	const uint8_t *b = memfind(buf, len, begin8, sizeof(begin8));
	if (!b) {
		/* Keep the tail: it may hold the first bytes of a start sequence. */
		*start = len > 7 ? len - 7 : 0;
		return 0;
	}
	*start = (size_t)(b - buf);
	size_t i = *start + 8, o = 0;
	while (i < len) {
		if (len - i >= 4 && memcmp(buf + i, esc4, 4) == 0) {
			if (len - i < 8)
				return 0;
			const uint8_t *x = buf + i + 4;
			if (memcmp(x, esc4, 4) == 0) {
				/* escaped literal 1b1b1b1b */
				if (o + 4 > payload_cap || o + 4 > SML_MAX_FRAME)
					goto too_big;
				memcpy(payload + o, esc4, 4);
				o += 4;
				i += 8;
				continue;
			}
			if (memcmp(x, begin8 + 4, 4) == 0) {
				/* a new start: the previous frame was cut off */
				*end = i;
				return err_set(e, "SML frame interrupted by a new start sequence");
			}
			if (x[0] != 0x1a) {
				*end = i + 8;
				return err_set(e, "invalid SML escape sequence");
			}
			*end = i + 8;
			unsigned pad = x[1];
			uint16_t want = (uint16_t)(x[2] | x[3] << 8);
			uint16_t got = pm_sml_crc16(buf + *start, i + 6 - *start);
			if (want != got)
				return err_set(e, "SML CRC mismatch (frame %04x, computed %04x)",
				               want, got);
			if (pad > 3 || pad > o)
				return err_set(e, "invalid SML padding %u", pad);
			*plen = o - pad;
			return 1;
		}
		if (o + 1 > payload_cap || o + 1 > SML_MAX_FRAME)
			goto too_big;
		payload[o++] = buf[i++];
	}
	return 0;
too_big:
	*end = i;
	return err_set(e, "SML frame larger than %d bytes", SML_MAX_FRAME);
}

/* ---- TL fields ---- */

enum tl_kind { TL_OCTETS, TL_BOOL, TL_INT, TL_UINT, TL_LIST, TL_NONE, TL_EOM };

struct tl {
	enum tl_kind kind;
	size_t n; /* data length, or element count for lists */
	const uint8_t *data;
};

/* Reads one TL header (and for scalars its data) at *pos. -1 if malformed/out of bounds. */
static int tl_read(const uint8_t *p, size_t len, size_t *pos, struct tl *t)
{
	size_t at = *pos;
	if (at >= len)
		return -1;
	uint8_t v = p[at];
	if (v == 0x00) {
		t->kind = TL_EOM;
		*pos = at + 1;
		return 0;
	}
	if (v == 0x01) {
		t->kind = TL_NONE;
		*pos = at + 1;
		return 0;
	}
	unsigned type = v & 0x70;
	size_t size = v & 0x0f, tl_len = 1;
	while (v & 0x80) {
		if (at + tl_len >= len || tl_len > 4)
			return -1;
		v = p[at + tl_len];
		if (v & 0x70)
			return -1;
		size = size << 4 | (v & 0x0f);
		tl_len++;
	}
	if (type == 0x70) {
		t->kind = TL_LIST;
		t->n = size;
		*pos = at + tl_len;
		return 0;
	}
	if (size < tl_len || size > len - at)
		return -1;
	t->n = size - tl_len;
	t->data = p + at + tl_len;
	*pos = at + size;
	switch (type) {
	case 0x00:
		t->kind = TL_OCTETS;
		return 0;
	case 0x40:
		t->kind = TL_BOOL;
		return t->n == 1 ? 0 : -1;
	case 0x50:
		t->kind = TL_INT;
		return t->n >= 1 && t->n <= 8 ? 0 : -1;
	case 0x60:
		t->kind = TL_UINT;
		return t->n >= 1 && t->n <= 8 ? 0 : -1;
	default:
		return -1;
	}
}

/* Skips one complete value (recursing into lists, bounded depth). */
static int tl_skip(const uint8_t *p, size_t len, size_t *pos, int depth)
{
	struct tl t;
	if (depth > 16 || tl_read(p, len, pos, &t) < 0)
		return -1;
	if (t.kind == TL_LIST)
		for (size_t i = 0; i < t.n; i++)
			if (tl_skip(p, len, pos, depth + 1) < 0)
				return -1;
	return 0;
}

static double tl_number(const struct tl *t)
{
	uint64_t u = 0;
	for (size_t i = 0; i < t->n; i++)
		u = u << 8 | t->data[i];
	if (t->kind == TL_UINT)
		return (double)u;
	/* sign-extend from n bytes */
	unsigned bits = (unsigned)(8 * t->n);
	if (bits < 64 && (u >> (bits - 1)) & 1)
		u |= ~(uint64_t)0 << bits;
	return (double)(int64_t)u;
}

/* List entry at pos (the 0x77 byte): objName, status, valTime, unit, scaler, value,
 * signature. */
static int entry_at(const uint8_t *p, size_t len, size_t pos, struct pm_sml_entry *ent)
{
	struct tl t;
	if (tl_read(p, len, &pos, &t) < 0 || t.kind != TL_LIST || t.n != 7)
		return -1;
	if (tl_read(p, len, &pos, &t) < 0 || t.kind != TL_OCTETS || t.n != 6)
		return -1;
	memset(ent, 0, sizeof(*ent));
	memcpy(ent->obis, t.data, 6);
	if (tl_skip(p, len, &pos, 0) < 0 || tl_skip(p, len, &pos, 0) < 0) /* status, valTime */
		return -1;
	if (tl_read(p, len, &pos, &t) < 0)
		return -1;
	if (t.kind == TL_UINT && t.n == 1) {
		ent->has_unit = true;
		ent->unit = t.data[0];
	} else if (t.kind != TL_NONE) {
		return -1;
	}
	if (tl_read(p, len, &pos, &t) < 0)
		return -1;
	if (t.kind == TL_INT && t.n == 1)
		ent->scaler = (int8_t)t.data[0];
	else if (t.kind != TL_NONE)
		return -1;
	size_t vpos = pos;
	if (tl_read(p, len, &pos, &t) < 0)
		return -1;
	if (t.kind == TL_INT || t.kind == TL_UINT) {
		ent->has_value = true;
		ent->value = tl_number(&t);
	} else {
		pos = vpos;
		if (tl_skip(p, len, &pos, 0) < 0) /* e.g. an octet-string value */
			return -1;
	}
	return tl_skip(p, len, &pos, 0); /* signature */
}

size_t pm_sml_payload_entries(const uint8_t *payload, size_t len, pm_sml_entry_fn *fn, void *arg)
{
	size_t count = 0;
	/* Like smllib, look for entries wherever "list of 7, 6-byte octet string" starts
	 * instead of walking every message type: unknown message bodies cannot derail it. */
	for (size_t i = 0; i + 2 <= len; i++) {
		if (payload[i] != 0x77 || payload[i + 1] != 0x07)
			continue;
		struct pm_sml_entry ent;
		if (entry_at(payload, len, i, &ent) == 0) {
			fn(&ent, arg);
			count++;
		}
	}
	return count;
}

struct pick {
	const struct pm_sml_obis_cfg *cfg;
	struct pm_sml_entry found[4]; /* current, l1, l2, l3 */
	bool have[4];
};

static void pick_fn(const struct pm_sml_entry *ent, void *arg)
{
	struct pick *pk = arg;
	const uint8_t *codes[4] = {pk->cfg->current, pk->cfg->l1, pk->cfg->l2, pk->cfg->l3};
	for (int i = 0; i < 4; i++) {
		/* Later duplicates win, as a dict built from the entry list would. */
		if (memcmp(ent->obis, codes[i], 6) == 0) {
			pk->found[i] = *ent;
			pk->have[i] = true;
		}
	}
}

static int watts(const struct pm_sml_entry *ent, const char *label, double *out, struct err *e)
{
	if (!ent->has_unit || ent->unit != SML_UNIT_W) {
		if (ent->has_unit)
			return err_set(e,
			               "unexpected unit for %s: expected W, got unit code %u "
			               "(value %.0f)",
			               label, ent->unit, ent->has_value ? ent->value : 0.0);
		return err_set(e, "unexpected unit for %s: expected W, got none", label);
	}
	if (!ent->has_value)
		return err_set(e, "non-integer value for %s", label);
	double v = ent->value;
	if (ent->scaler)
		v *= pow(10.0, ent->scaler);
	if (!isfinite(v) || fabs(v) > 1e9)
		return err_set(e, "%s out of range", label);
	*out = v;
	return 0;
}

int pm_sml_payload_powers(const uint8_t *payload, size_t len, const struct pm_sml_obis_cfg *cfg,
                          struct pm_reading *out, struct err *e)
{
	static const char *const labels[4] = {"aggregate power", "phase L1 power", "phase L2 power",
	                                      "phase L3 power"};
	struct pick pk = {.cfg = cfg};
	pm_sml_payload_entries(payload, len, pick_fn, &pk);
	struct pm_reading r = {0};
	/* The reference checks the phase registers first (a wrong unit there is an error
	 * even when the aggregate is fine). */
	for (int i = 1; i < 4; i++)
		if (pk.have[i] && watts(&pk.found[i], labels[i], &r.w[i - 1], e) < 0)
			return -1;
	if (pk.have[1] && pk.have[2] && pk.have[3]) {
		r.n = 3;
		*out = r;
		return 1;
	}
	if (pk.have[0]) {
		if (watts(&pk.found[0], labels[0], &r.w[0], e) < 0)
			return -1;
		r.n = 1;
		*out = r;
		return 1;
	}
	return 0;
}

int pm_sml_decode_powers(const uint8_t *buf, size_t len, const struct pm_sml_obis_cfg *cfg,
                         struct pm_reading *out, struct err *e)
{
	uint8_t payload[SML_MAX_FRAME];
	size_t start, end, plen;
	int rc = pm_sml_frame_scan(buf, len, &start, &end, payload, sizeof(payload), &plen, e);
	if (rc == 0)
		return err_set(e, "no complete SML frame");
	if (rc < 0)
		return -1;
	return pm_sml_payload_powers(payload, plen, cfg, out, e);
}
