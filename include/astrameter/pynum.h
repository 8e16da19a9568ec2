/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Python-compatible number parsing and formatting, written once: the reference reads every
 * number with Python's int()/float() and writes them with round(), repr() and sum(), so the
 * config reader, the meter parsers, JSONPath, the CT002 and Shelly emulators all share these.
 * Pure functions: no I/O, no allocation, no locale (digits and '.' only). */
#ifndef ASTRAMETER_PYNUM_H
#define ASTRAMETER_PYNUM_H

#include <stdbool.h>
#include <stddef.h>

/* Return codes of the parsers. */
#define PYNUM_OK     0
#define PYNUM_SYNTAX (-1) /* Python would raise ValueError */
#define PYNUM_RANGE  1    /* valid, but the integer does not fit a long */

/* The characters Python's int()/float() strip around a number: \t \n \v \f \r and space
 * (not \x1c..\x1f, which str.strip() also takes). */
bool pynum_is_blank(int ch);

/* Python int(s) for s[0..len): blanks around, optional sign, decimal digits with single
 * underscores between digits ("1_000"; not "_1", "1_", "1__0"), no point, no base prefix.
 * PYNUM_OK with *out set, PYNUM_SYNTAX, or PYNUM_RANGE if it does not fit a long. out may
 * be NULL (syntax check only). */
int pynum_int(const char *s, size_t len, long *out);

/* Python float(s) for s[0..len): blanks around, optional sign, a decimal mantissa ("5",
 * "5.", ".5") with optional exponent, single underscores between digits, or
 * inf/infinity/nan (any case). Hexadecimal is refused. PYNUM_OK with *out set (which may be
 * +-inf or nan: "inf", "nan", "1e999" are valid Python; callers wanting finite numbers check
 * isfinite()), or PYNUM_SYNTAX. Literals longer than PYNUM_FLOAT_MAX are refused. */
#define PYNUM_FLOAT_MAX 400
int pynum_float(const char *s, size_t len, double *out);

/* The same, but only finite results count: 0, or -1 for a syntax error or a non-finite
 * value. */
int pynum_float_finite(const char *s, size_t len, double *out);

/* Python round(x) for a float: round half to even (x returned unchanged if not finite). */
double pynum_round(double x);

/* Python round(x, ndigits) for finite x and 0 <= ndigits <= 17: the exact binary value
 * rounded half-to-even to ndigits decimals, then read back. Other x or ndigits: x. */
double pynum_round_nd(double x, int ndigits);

/* Buffer size that holds any number pynum_repr() prints (long fixed-point forms of values
 * up to 1e16, or d.ddddddddddddddddde+308). */
#define PYNUM_REPR_MAX 32

/* Python's repr(float) / json.dumps of a float: shortest digits that read back to x, fixed
 * notation with at least one decimal ("100.0") when 1e-4 <= |x| < 1e16, else "1e+16"
 * style. Returns the length written, or -1 if it does not fit (len >= PYNUM_REPR_MAX always
 * fits) or x is not finite. */
int pynum_repr(double x, char *buf, size_t len);

/* str(round(x)) into buf: the half-to-even integer. Returns the length, or -1 if x is not
 * finite or |x| >= 1e15 (where the reference would raise or print what we cannot). */
int pynum_format_round(double x, char *buf, size_t len);

/* Python 3.12+'s sum() of floats (Neumaier-compensated). */
double pynum_sum(const double *v, size_t n);

#endif
