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

#include "astrameter/shelly.h"

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

static unsigned hex_val(unsigned char c)
{
	if (c <= '9')
		return (unsigned)(c - '0');
	return (unsigned)((c | 0x20) - 'a' + 10);
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
				cp = hex_val(s[i]) << 12 | hex_val(s[i + 1]) << 8 |
				     hex_val(s[i + 2]) << 4 | hex_val(s[i + 3]);
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

double shelly_py_round(double x, int ndigits)
{
	/* glibc's printf converts the exact binary value and breaks exact ties to even in
	 * the default rounding mode, which is what CPython's dtoa-based round() does. The
	 * longest %.17f of a finite double is 309 + 1 + 17 digits plus a sign. */
	char tmp[400];
	if (!isfinite(x) || ndigits < 0 || ndigits > 17)
		return x;
	snprintf(tmp, sizeof(tmp), "%.*f", ndigits, x);
	return strtod(tmp, NULL);
}

/* Splits "d.ddde+XX" (from %e of a positive number) into digits and exponent. */
static int split_e(const char *t, char *digits, size_t cap, size_t *nd, int *exp10)
{
	size_t n = 0;
	for (; *t && *t != 'e'; t++)
		if (is_digit((unsigned char)*t) && n + 1 < cap)
			digits[n++] = *t;
	if (*t != 'e' || n == 0)
		return -1;
	digits[n] = '\0';
	*nd = n;
	*exp10 = atoi(t + 1);
	return 0;
}

/* Reads digits (0.DIGITS read as D.IGITS * 10^exp10) back as a double. */
static double digits_value(const char *digits, size_t nd, int exp10)
{
	char t[48];
	snprintf(t, sizeof(t), "%c.%.*se%d", digits[0], (int)(nd - 1), digits + 1, exp10);
	return strtod(t, NULL);
}

/* The shortest decimal digits that read back to ax > 0, like CPython's repr (dtoa mode
 * 0). For each length the correctly rounded %.Ne candidate is tried; when it falls just
 * below ax's rounding interval (only possible at a power of two, where the interval is
 * twice as wide above as below) the next decimal up can still be inside and is the one
 * dtoa picks. 17 significant digits always round-trip. */
static int shortest_digits(double ax, char *digits, size_t cap, size_t *nd, int *exp10)
{
	char tmp[40];
	for (int prec = 0; prec <= 16; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec, ax);
		if (split_e(tmp, digits, cap, nd, exp10) != 0)
			return -1;
		double back = strtod(tmp, NULL);
		if (back == ax || prec == 16)
			return 0;
		if (back > ax)
			continue;
		/* Add one unit in the last place, with carry. */
		char up[20];
		memcpy(up, digits, *nd + 1);
		size_t k = *nd;
		int e = *exp10;
		while (k > 0 && up[k - 1] == '9')
			up[--k] = '0';
		if (k == 0) {
			up[0] = '1';
			e++;
		} else {
			up[k - 1]++;
		}
		if (digits_value(up, *nd, e) == ax) {
			memcpy(digits, up, *nd + 1);
			*exp10 = e;
			return 0;
		}
	}
	return -1;
}

int shelly_py_repr(double x, char *buf, size_t len)
{
	if (!isfinite(x))
		return -1;
	bool neg = signbit(x) != 0;
	char digits[20];
	size_t nd = 1;
	int exp10 = 0;
	if (x == 0) {
		digits[0] = '0';
		digits[1] = '\0';
	} else if (shortest_digits(fabs(x), digits, sizeof(digits), &nd, &exp10) != 0) {
		return -1;
	}
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	int decpt = exp10 + 1; /* x = 0.DIGITS * 10^decpt */

	char out[SHELLY_NUM_MAX + 8];
	size_t o = 0;
	if (neg)
		out[o++] = '-';
	if (decpt > -4 && decpt <= 16) {
		if (decpt <= 0) {
			out[o++] = '0';
			out[o++] = '.';
			for (int k = 0; k < -decpt; k++)
				out[o++] = '0';
			memcpy(out + o, digits, nd);
			o += nd;
		} else if ((size_t)decpt >= nd) {
			memcpy(out + o, digits, nd);
			o += nd;
			for (size_t k = nd; k < (size_t)decpt; k++)
				out[o++] = '0';
			out[o++] = '.';
			out[o++] = '0';
		} else {
			memcpy(out + o, digits, (size_t)decpt);
			o += (size_t)decpt;
			out[o++] = '.';
			memcpy(out + o, digits + decpt, nd - (size_t)decpt);
			o += nd - (size_t)decpt;
		}
		out[o] = '\0';
	} else {
		out[o++] = digits[0];
		if (nd > 1) {
			out[o++] = '.';
			memcpy(out + o, digits + 1, nd - 1);
			o += nd - 1;
		}
		int e = decpt - 1;
		snprintf(out + o, sizeof(out) - o, "e%c%02d", e < 0 ? '-' : '+', abs(e));
		o = strlen(out);
	}
	if (o + 1 > len)
		return -1;
	memcpy(buf, out, o + 1);
	return (int)o;
}

double shelly_py_sum(const double *v, size_t n)
{
	/* CPython 3.12 builtin sum(): start 0 + first item, then Neumaier compensation over
	 * the rest, compensation added at the end if it is non-zero and finite. */
	if (n == 0)
		return 0.0;
	double f = 0.0 + v[0], c = 0.0;
	for (size_t i = 1; i < n; i++) {
		double x = v[i];
		double t = f + x;
		if (fabs(f) >= fabs(x))
			c += (f - t) + x;
		else
			c += (x - t) + f;
		f = t;
	}
	if (c != 0.0 && isfinite(c))
		f += c;
	return f;
}

double shelly_phase_value(double p)
{
	if (fabs(p) < 0.1)
		return 0.001;
	/* Upstream: power == round(power), i.e. integral. */
	return shelly_py_round(p == nearbyint(p) ? p + 0.001 : p, 1);
}

double shelly_total_value(double sum)
{
	double t = shelly_py_round(sum, 3);
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
	char num[4][SHELLY_NUM_MAX];
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
		double sum = shelly_py_sum(p, 3);
		if (!isfinite(sum))
			return -1; /* upstream: round(inf) raises, nothing is sent */
		for (int i = 0; i < 3; i++)
			if (shelly_py_repr(shelly_phase_value(p[i]), num[i], sizeof(num[i])) < 0)
				return -1;
		if (shelly_py_repr(shelly_total_value(sum), num[3], sizeof(num[3])) < 0)
			return -1;
		r = snprintf(buf, len,
		             "{\"id\":%s,\"src\":%s,\"dst\":\"unknown\",\"result\":{"
		             "\"a_act_power\":%s,\"b_act_power\":%s,\"c_act_power\":%s,"
		             "\"total_act_power\":%s}}",
		             req->id, src, num[0], num[1], num[2], num[3]);
	} else if (req->method == SHELLY_EM1_GET_STATUS) {
		/* Upstream sums the meter's values as they are, without the 1/3 mapping. */
		double sum = shelly_py_sum(w, n);
		if (!isfinite(sum))
			return -1;
		if (shelly_py_repr(shelly_total_value(sum), num[3], sizeof(num[3])) < 0)
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
