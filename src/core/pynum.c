/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Python's int(), float(), round(), repr() and sum() of floats, the one copy every module
 * uses. Parsing validates the exact Python grammar first and only then hands a cleaned
 * ASCII copy (underscores removed) to strtod, so strtod's extras (hex, "0x", locale) never
 * leak in. Formatting relies on glibc's printf converting the exact binary value and
 * breaking ties to even, which is what CPython's dtoa does. */
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrameter/pynum.h"

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

bool pynum_is_blank(int ch)
{
	return ch == ' ' || (ch >= '\t' && ch <= '\r');
}

/* Trims Python's blanks from both ends of s[*i..*j). */
static void trim(const char *s, size_t *i, size_t *j)
{
	while (*i < *j && pynum_is_blank((unsigned char)s[*i]))
		(*i)++;
	while (*j > *i && pynum_is_blank((unsigned char)s[*j - 1]))
		(*j)--;
}

int pynum_int(const char *s, size_t len, long *out)
{
	size_t i = 0, j = len;
	trim(s, &i, &j);
	bool neg = false;
	if (i < j && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	if (i == j || !is_digit((unsigned char)s[i]))
		return PYNUM_SYNTAX;
	/* Scan the whole literal before judging the range: junk after many digits is a syntax
	 * error, as in Python. The magnitude accumulates as a negative number because LONG_MIN
	 * has no positive twin. */
	long acc = 0;
	bool over = false;
	for (size_t k = i; k < j; k++) {
		unsigned char c = (unsigned char)s[k];
		if (c == '_') {
			if (!is_digit((unsigned char)s[k - 1]) || k + 1 >= j ||
			    !is_digit((unsigned char)s[k + 1]))
				return PYNUM_SYNTAX;
			continue;
		}
		if (!is_digit(c))
			return PYNUM_SYNTAX;
		long d = c - '0';
		if (over || acc < (LONG_MIN + d) / 10)
			over = true;
		else
			acc = acc * 10 - d;
	}
	if (!neg) {
		if (acc == LONG_MIN)
			over = true;
		else
			acc = -acc;
	}
	if (over)
		return PYNUM_RANGE;
	if (out)
		*out = acc;
	return PYNUM_OK;
}

/* Case-insensitive match of s[0..n) against the lower-case word w. */
static bool word_is(const char *s, size_t n, const char *w)
{
	if (strlen(w) != n)
		return false;
	for (size_t k = 0; k < n; k++) {
		unsigned char c = (unsigned char)s[k];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c + ('a' - 'A'));
		if (c != (unsigned char)w[k])
			return false;
	}
	return true;
}

int pynum_float(const char *s, size_t len, double *out)
{
	size_t i = 0, j = len;
	trim(s, &i, &j);
	char buf[PYNUM_FLOAT_MAX + 1];
	size_t n = 0;
	bool neg = false;
	if (i < j && (s[i] == '+' || s[i] == '-')) {
		neg = s[i] == '-';
		buf[n++] = s[i++];
	}
	if (word_is(s + i, j - i, "inf") || word_is(s + i, j - i, "infinity")) {
		*out = neg ? -INFINITY : INFINITY;
		return PYNUM_OK;
	}
	if (word_is(s + i, j - i, "nan")) {
		*out = neg ? -NAN : NAN;
		return PYNUM_OK;
	}
	if (j - i > PYNUM_FLOAT_MAX - 1)
		return PYNUM_SYNTAX;
	size_t mant = 0;
	bool dot = false, exp = false, exp_digits = false;
	for (size_t k = i; k < j; k++) {
		unsigned char c = (unsigned char)s[k];
		if (is_digit(c)) {
			buf[n++] = (char)c;
			if (exp)
				exp_digits = true;
			else
				mant++;
		} else if (c == '_') {
			/* Only between two digits: "1_000", not "_1", "1_", "1__0", "1_.5". */
			if (k == i || !is_digit((unsigned char)s[k - 1]) || k + 1 >= j ||
			    !is_digit((unsigned char)s[k + 1]))
				return PYNUM_SYNTAX;
		} else if (c == '.' && !dot && !exp) {
			dot = true;
			buf[n++] = '.';
		} else if ((c == 'e' || c == 'E') && !exp && mant > 0) {
			exp = true;
			buf[n++] = 'e';
			if (k + 1 < j && (s[k + 1] == '+' || s[k + 1] == '-'))
				buf[n++] = s[++k];
		} else {
			return PYNUM_SYNTAX;
		}
	}
	if (mant == 0 || (exp && !exp_digits))
		return PYNUM_SYNTAX;
	buf[n] = '\0';
	char *end = NULL;
	double d = strtod(buf, &end);
	if (*end != '\0')
		return PYNUM_SYNTAX;
	*out = d; /* an overflow is +-HUGE_VAL = +-inf, as in Python */
	return PYNUM_OK;
}

int pynum_float_finite(const char *s, size_t len, double *out)
{
	double d = 0;
	if (pynum_float(s, len, &d) != PYNUM_OK || !isfinite(d))
		return -1;
	*out = d;
	return 0;
}

double pynum_round(double x)
{
	if (!isfinite(x))
		return x;
	double f = floor(x);
	double d = x - f; /* exact: x and floor(x) share the exponent range */
	if (d > 0.5)
		return f + 1.0;
	if (d < 0.5)
		return f;
	return fmod(f, 2.0) == 0.0 ? f : f + 1.0;
}

int pynum_format_round(double x, char *buf, size_t len)
{
	if (!isfinite(x) || fabs(x) >= 1e15)
		return -1;
	long long v = (long long)pynum_round(x);
	int n = snprintf(buf, len, "%lld", v);
	if (n < 0 || (size_t)n >= len)
		return -1;
	return n;
}

double pynum_round_nd(double x, int ndigits)
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

int pynum_repr(double x, char *buf, size_t len)
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

	char out[PYNUM_REPR_MAX + 8];
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

double pynum_sum(const double *v, size_t n)
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
