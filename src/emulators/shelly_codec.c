/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Shelly JSON-RPC codec: request scanning and reply formatting, pure. The request side is
 * a bounded, non-allocating JSON scanner that follows Python's json module (the reference
 * parses with json.loads), remembers where values start and end, and never recurses deeper
 * than SHELLY_MAX_DEPTH. The reply side reproduces Python's round(), sum() and float repr
 * so that our bytes equal the reference's for every meter value. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrameter/pynum.h"
#include "astrameter/shelly.h"
#include "astrameter/text.h"

/* A piece of the request text: [off, off + len). */
struct span {
	size_t off, len;
};

struct scan {
	const unsigned char *s;
	size_t n;
	size_t pos;
};

/* Strict UTF-8 as Python's bytes.decode() checks it: no overlong forms, no encoded
 * surrogates, nothing above U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		size_t need;
		unsigned lo = 0x80, hi = 0xBF;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xC2 && c <= 0xDF) {
			need = 1;
		} else if (c >= 0xE0 && c <= 0xEF) {
			need = 2;
			if (c == 0xE0)
				lo = 0xA0; /* overlong */
			else if (c == 0xED)
				hi = 0x9F; /* surrogates */
		} else if (c >= 0xF0 && c <= 0xF4) {
			need = 3;
			if (c == 0xF0)
				lo = 0x90; /* overlong */
			else if (c == 0xF4)
				hi = 0x8F; /* above U+10FFFF */
		} else {
			return false;
		}
		if (n - i <= need)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= need; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xBF)
				return false;
		i += need + 1;
	}
	return true;
}

/* Python's json whitespace is exactly these four. */
static void skip_ws(struct scan *sc)
{
	while (sc->pos < sc->n) {
		unsigned char c = sc->s[sc->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		sc->pos++;
	}
}

static bool is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* A string literal; control characters inside are an error (json.loads strict mode).
 * Lone \\u surrogates are accepted, as Python does. */
static int scan_string(struct scan *sc)
{
	if (sc->pos >= sc->n || sc->s[sc->pos] != '"')
		return -1;
	sc->pos++;
	while (sc->pos < sc->n) {
		unsigned char c = sc->s[sc->pos++];
		if (c == '"')
			return 0;
		if (c < 0x20)
			return -1;
		if (c != '\\')
			continue;
		if (sc->pos >= sc->n)
			return -1;
		c = sc->s[sc->pos++];
		if (c == 'u') {
			if (sc->n - sc->pos < 4)
				return -1;
			for (size_t k = 0; k < 4; k++)
				if (!is_hex(sc->s[sc->pos + k]))
					return -1;
			sc->pos += 4;
		} else if (!strchr("\"\\/bfnrt", c) || c == '\0') {
			return -1;
		}
	}
	return -1;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int scan_number(struct scan *sc)
{
	if (sc->pos < sc->n && sc->s[sc->pos] == '-')
		sc->pos++;
	if (sc->pos >= sc->n || !is_digit(sc->s[sc->pos]))
		return -1;
	if (sc->s[sc->pos] == '0') {
		sc->pos++;
	} else {
		while (sc->pos < sc->n && is_digit(sc->s[sc->pos]))
			sc->pos++;
	}
	if (sc->pos < sc->n && sc->s[sc->pos] == '.') {
		/* Python: "1." is "1" followed by garbage, which fails later anyway. */
		if (sc->pos + 1 >= sc->n || !is_digit(sc->s[sc->pos + 1]))
			return -1;
		sc->pos++;
		while (sc->pos < sc->n && is_digit(sc->s[sc->pos]))
			sc->pos++;
	}
	if (sc->pos < sc->n && (sc->s[sc->pos] == 'e' || sc->s[sc->pos] == 'E')) {
		size_t p = sc->pos + 1;
		if (p < sc->n && (sc->s[p] == '+' || sc->s[p] == '-'))
			p++;
		if (p >= sc->n || !is_digit(sc->s[p]))
			return -1;
		while (p < sc->n && is_digit(sc->s[p]))
			p++;
		sc->pos = p;
	}
	return 0;
}

static int scan_literal(struct scan *sc, const char *word)
{
	size_t l = strlen(word);
	if (sc->n - sc->pos < l || memcmp(sc->s + sc->pos, word, l) != 0)
		return -1;
	sc->pos += l;
	return 0;
}

/* One value starting at sc->pos (no leading blanks); leaves pos just after it. */
static int scan_value(struct scan *sc, unsigned depth)
{
	if (sc->pos >= sc->n)
		return -1;
	unsigned char c = sc->s[sc->pos];
	if (c == '"')
		return scan_string(sc);
	if (c == '-' || is_digit(c))
		return scan_number(sc);
	if (c == 't')
		return scan_literal(sc, "true");
	if (c == 'f')
		return scan_literal(sc, "false");
	if (c == 'n')
		return scan_literal(sc, "null");
	if (c != '{' && c != '[')
		return -1; /* includes NaN / Infinity, which cJSON would refuse too */
	if (depth >= SHELLY_MAX_DEPTH)
		return -1;
	unsigned char close = c == '{' ? '}' : ']';
	sc->pos++;
	skip_ws(sc);
	if (sc->pos < sc->n && sc->s[sc->pos] == close) {
		sc->pos++;
		return 0;
	}
	for (;;) {
		if (c == '{') {
			if (scan_string(sc) != 0)
				return -1;
			skip_ws(sc);
			if (sc->pos >= sc->n || sc->s[sc->pos] != ':')
				return -1;
			sc->pos++;
			skip_ws(sc);
		}
		if (scan_value(sc, depth + 1) != 0)
			return -1;
		skip_ws(sc);
		if (sc->pos >= sc->n)
			return -1;
		if (sc->s[sc->pos] == close) {
			sc->pos++;
			return 0;
		}
		if (sc->s[sc->pos] != ',')
			return -1;
		sc->pos++;
		skip_ws(sc);
	}
}

/* Iterates the members of an already validated object. */
struct obj_iter {
	struct scan sc;
	bool done;
};

static void obj_iter_init(struct obj_iter *it, const unsigned char *s, size_t n, struct span obj)
{
	it->sc.s = s;
	it->sc.n = obj.off + obj.len;
	it->sc.pos = obj.off + 1; /* after '{' */
	it->done = obj.len < 2 || obj.off + obj.len > n || s[obj.off] != '{';
}

/* 1 = a member (key span includes quotes), 0 = end of object, -1 = malformed. */
static int obj_iter_next(struct obj_iter *it, struct span *key, struct span *val)
{
	if (it->done)
		return 0;
	struct scan *sc = &it->sc;
	skip_ws(sc);
	if (sc->pos < sc->n && (sc->s[sc->pos] == ',' || sc->s[sc->pos] == '}')) {
		if (sc->s[sc->pos] == '}') {
			it->done = true;
			return 0;
		}
		sc->pos++;
		skip_ws(sc);
	}
	key->off = sc->pos;
	if (scan_string(sc) != 0)
		return -1;
	key->len = sc->pos - key->off;
	skip_ws(sc);
	if (sc->pos >= sc->n || sc->s[sc->pos] != ':')
		return -1;
	sc->pos++;
	skip_ws(sc);
	val->off = sc->pos;
	if (scan_value(sc, 0) != 0)
		return -1;
	val->len = sc->pos - val->off;
	return 1;
}

/* Whether the validated string literal at sp decodes to exactly the ASCII text want
 * (escapes such as \\u0069 decode; an embedded \\u0000 does not end the string). */
static bool str_equals(const unsigned char *s, struct span sp, const char *want)
{
	size_t i = sp.off + 1, end = sp.off + sp.len - 1;
	size_t w = 0, wl = strlen(want);
	while (i < end) {
		unsigned cp = s[i++];
		if (cp == '\\') {
			unsigned char e = s[i++];
			switch (e) {
			case 'b':
				cp = '\b';
				break;
			case 'f':
				cp = '\f';
				break;
			case 'n':
				cp = '\n';
				break;
			case 'r':
				cp = '\r';
				break;
			case 't':
				cp = '\t';
				break;
			case 'u':
				cp = (unsigned)txt_hexval(s[i]) << 12 |
				     (unsigned)txt_hexval(s[i + 1]) << 8 |
				     (unsigned)txt_hexval(s[i + 2]) << 4 |
				     (unsigned)txt_hexval(s[i + 3]);
				i += 4;
				break;
			default: /* " \ / */
				cp = e;
				break;
			}
		}
		if (w >= wl || cp != (unsigned char)want[w])
			return false;
		w++;
	}
	return w == wl;
}

/* The last member named key (json.loads keeps the last duplicate). */
static bool obj_find(const unsigned char *s, size_t n, struct span obj, const char *key,
                     struct span *val)
{
	struct obj_iter it;
	struct span k, v;
	bool found = false;
	obj_iter_init(&it, s, n, obj);
	while (obj_iter_next(&it, &k, &v) == 1) {
		if (str_equals(s, k, key)) {
			*val = v;
			found = true;
		}
	}
	return found;
}

/* Python's isinstance(value, int): an integer literal, or a bool. */
static bool is_python_int(const unsigned char *s, struct span v)
{
	if (v.len == 4 && memcmp(s + v.off, "true", 4) == 0)
		return true;
	if (v.len == 5 && memcmp(s + v.off, "false", 5) == 0)
		return true;
	if (v.len == 0 || (s[v.off] != '-' && !is_digit(s[v.off])))
		return false;
	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = s[v.off + i];
		if (c == '.' || c == 'e' || c == 'E')
			return false;
	}
	return true;
}

/* Copies the value's text without blanks outside strings. -1 if it does not fit. */
static int compact_copy(const unsigned char *s, struct span v, char *out, size_t cap,
                        size_t *outlen)
{
	size_t o = 0;
	bool in_str = false, esc = false;
	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = s[v.off + i];
		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			continue;
		}
		if (o + 1 >= cap)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	*outlen = o;
	return 0;
}

enum shelly_verdict shelly_parse_request(const void *buf, size_t len, struct shelly_request *out)
{
	const unsigned char *s = buf;
	if (len > SHELLY_MAX_DATAGRAM)
		return SHELLY_REQ_TOO_LONG;
	if (!utf8_valid(s, len))
		return SHELLY_REQ_NOT_UTF8;

	struct scan sc = {.s = s, .n = len, .pos = 0};
	skip_ws(&sc);
	struct span root = {.off = sc.pos};
	if (scan_value(&sc, 0) != 0)
		return SHELLY_REQ_BAD_JSON;
	root.len = sc.pos - root.off;
	skip_ws(&sc);
	if (sc.pos != len)
		return SHELLY_REQ_BAD_JSON; /* "Extra data" */

	/* Upstream: request.get("params", {}).get("id") must be an int; anything else
	 * (not an object, no params, params not an object) is not answered. */
	struct span params, pid, method, id;
	if (s[root.off] != '{')
		return SHELLY_REQ_NO_PARAMS_ID;
	if (!obj_find(s, len, root, "params", &params) || s[params.off] != '{')
		return SHELLY_REQ_NO_PARAMS_ID;
	if (!obj_find(s, len, params, "id", &pid) || !is_python_int(s, pid))
		return SHELLY_REQ_NO_PARAMS_ID;

	enum shelly_method m;
	if (!obj_find(s, len, root, "method", &method) || s[method.off] != '"')
		return SHELLY_REQ_UNKNOWN_METHOD;
	if (str_equals(s, method, "EM.GetStatus"))
		m = SHELLY_EM_GET_STATUS;
	else if (str_equals(s, method, "EM1.GetStatus"))
		m = SHELLY_EM1_GET_STATUS;
	else
		return SHELLY_REQ_UNKNOWN_METHOD;

	if (!obj_find(s, len, root, "id", &id))
		return SHELLY_REQ_NO_ID; /* upstream: KeyError, no reply */
	size_t idlen;
	if (compact_copy(s, id, out->id, sizeof(out->id), &idlen) != 0)
		return SHELLY_REQ_ID_TOO_LONG;
	out->id_len = idlen;
	out->method = m;
	return SHELLY_REQ_OK;
}

const char *shelly_verdict_str(enum shelly_verdict v)
{
	switch (v) {
	case SHELLY_REQ_OK:
		return "ok";
	case SHELLY_REQ_TOO_LONG:
		return "datagram too long";
	case SHELLY_REQ_NOT_UTF8:
		return "not UTF-8";
	case SHELLY_REQ_BAD_JSON:
		return "invalid JSON";
	case SHELLY_REQ_NO_PARAMS_ID:
		return "no integer params.id";
	case SHELLY_REQ_NO_ID:
		return "no request id";
	case SHELLY_REQ_ID_TOO_LONG:
		return "request id too long";
	case SHELLY_REQ_UNKNOWN_METHOD:
		return "unsupported method";
	}
	return "?";
}

double shelly_phase_value(double p)
{
	if (fabs(p) < 0.1)
		return 0.001;
	/* Upstream: power == round(power), i.e. integral. */
	return pynum_round_nd(p == nearbyint(p) ? p + 0.001 : p, 1);
}

double shelly_total_value(double sum)
{
	double t = pynum_round_nd(sum, 3);
	return t == nearbyint(t) ? t + 0.001 : t;
}

int shelly_json_string(const char *s, char *buf, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), o = 0;
	if (!utf8_valid(u, n))
		return -1;
	char tmp[16];
	if (len < 1)
		return -1;
#define PUT(str)                          \
	do {                              \
		size_t l_ = strlen(str);  \
		if (o + l_ + 1 > len)     \
			return -1;        \
		memcpy(buf + o, str, l_); \
		o += l_;                  \
	} while (0)
	PUT("\"");
	for (size_t i = 0; i < n;) {
		unsigned c = u[i];
		unsigned cp;
		if (c < 0x80) {
			cp = c;
			i++;
		} else if (c < 0xE0) {
			cp = (c & 0x1Fu) << 6 | (u[i + 1] & 0x3Fu);
			i += 2;
		} else if (c < 0xF0) {
			cp = (c & 0x0Fu) << 12 | (u[i + 1] & 0x3Fu) << 6 | (u[i + 2] & 0x3Fu);
			i += 3;
		} else {
			cp = (c & 0x07u) << 18 | (u[i + 1] & 0x3Fu) << 12 |
			     (u[i + 2] & 0x3Fu) << 6 | (u[i + 3] & 0x3Fu);
			i += 4;
		}
		if (cp == '"') {
			PUT("\\\"");
		} else if (cp == '\\') {
			PUT("\\\\");
		} else if (cp == '\n') {
			PUT("\\n");
		} else if (cp == '\r') {
			PUT("\\r");
		} else if (cp == '\t') {
			PUT("\\t");
		} else if (cp == '\b') {
			PUT("\\b");
		} else if (cp == '\f') {
			PUT("\\f");
		} else if (cp >= 0x20 && cp < 0x7F) {
			tmp[0] = (char)cp;
			tmp[1] = '\0';
			PUT(tmp);
		} else if (cp < 0x10000) {
			snprintf(tmp, sizeof(tmp), "\\u%04x", cp);
			PUT(tmp);
		} else {
			unsigned v = cp - 0x10000;
			snprintf(tmp, sizeof(tmp), "\\u%04x\\u%04x", 0xD800 + (v >> 10),
			         0xDC00 + (v & 0x3FF));
			PUT(tmp);
		}
	}
	PUT("\"");
#undef PUT
	buf[o] = '\0';
	return (int)o;
}

int shelly_format_reply(const struct shelly_request *req, const char *device_id, const double *w,
                        unsigned n, char *buf, size_t len)
{
	char src[SHELLY_MAX_DEVID_JSON];
	char num[4][PYNUM_REPR_MAX];
	if (strlen(device_id) > SHELLY_MAX_DEVID ||
	    shelly_json_string(device_id, src, sizeof(src)) < 0)
		return -1;
	if (req->id_len == 0 || req->id_len > SHELLY_MAX_ID)
		return -1;
	for (unsigned i = 0; i < n; i++)
		if (!isfinite(w[i]))
			return -1;

	int r;
	if (req->method == SHELLY_EM_GET_STATUS) {
		double p[3] = {0.0, 0.0, 0.0};
		if (n == 1) {
			p[0] = w[0];
		} else if (n == 3) {
			p[0] = w[0];
			p[1] = w[1];
			p[2] = w[2];
		}
		double sum = pynum_sum(p, 3);
		if (!isfinite(sum))
			return -1; /* upstream: round(inf) raises, nothing is sent */
		for (int i = 0; i < 3; i++)
			if (pynum_repr(shelly_phase_value(p[i]), num[i], sizeof(num[i])) < 0)
				return -1;
		if (pynum_repr(shelly_total_value(sum), num[3], sizeof(num[3])) < 0)
			return -1;
		r = snprintf(buf, len,
		             "{\"id\":%s,\"src\":%s,\"dst\":\"unknown\",\"result\":{"
		             "\"a_act_power\":%s,\"b_act_power\":%s,\"c_act_power\":%s,"
		             "\"total_act_power\":%s}}",
		             req->id, src, num[0], num[1], num[2], num[3]);
	} else if (req->method == SHELLY_EM1_GET_STATUS) {
		/* Upstream sums the meter's values as they are, without the 1/3 mapping. */
		double sum = pynum_sum(w, n);
		if (!isfinite(sum))
			return -1;
		if (pynum_repr(shelly_total_value(sum), num[3], sizeof(num[3])) < 0)
			return -1;
		r = snprintf(buf, len,
		             "{\"id\":%s,\"src\":%s,\"dst\":\"unknown\",\"result\":{"
		             "\"act_power\":%s}}",
		             req->id, src, num[3]);
	} else {
		return -1;
	}
	if (r < 0 || (size_t)r >= len)
		return -1;
	return r;
}
