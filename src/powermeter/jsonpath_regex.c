/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The regex dialect of the `sub` extension: jsonpath-ng hands patterns to Python's re; we
 * translate the common subset to POSIX ERE for regcomp and refuse the rest at compile
 * time. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrameter/jsonpath.h"
#include "astrameter/pynum.h"
#include "powermeter/jsonpath_int.h"

/* --- regex translation: Python re (as jsonpath-ng uses) -> POSIX ERE ------------------ */

static size_t rx_bracket(const char *re, size_t i, size_t len, struct jp_sbuf *out, bool *ok)
{
	char body[512];
	struct jp_sbuf b = {body, 0, sizeof(body), false};
	bool neg = false, close = false, dash = false, caret = false;
	body[0] = '\0';
	if (i < len && re[i] == '^') {
		neg = true;
		i++;
	}
	bool first = true;
	while (i < len && (re[i] != ']' || first)) {
		char c = re[i];
		if (c == ']') {
			close = true;
		} else if (c == '\\' && i + 1 < len) {
			char d = re[++i];
			switch (d) {
			case 'd':
				jp_sb_puts(&b, "0-9");
				break;
			case 's':
				jp_sb_puts(&b, "[:space:]");
				break;
			case 'w':
				jp_sb_puts(&b, "[:alnum:]_");
				break;
			case 'n':
				jp_sb_putc(&b, '\n');
				break;
			case 't':
				jp_sb_putc(&b, '\t');
				break;
			case ']':
				close = true;
				break;
			case '-':
				dash = true;
				break;
			case '^':
				caret = true;
				break;
			case 'D':
			case 'S':
			case 'W':
				*ok = false; /* negated classes inside a set: no POSIX form */
				break;
			default:
				jp_sb_putc(&b, d);
			}
		} else if (c == '-' && (i + 1 >= len || re[i + 1] == ']')) {
			dash = true;
		} else if (c == '^' && b.n == 0) {
			caret = true;
		} else if (c == '[' && i + 1 < len && re[i + 1] == ':') {
			const char *endc = strstr(re + i, ":]");
			if (!endc || (size_t)(endc - re) >= len) {
				*ok = false;
				return len;
			}
			jp_sb_putn(&b, re + i, (size_t)(endc - (re + i)) + 2);
			i = (size_t)(endc - re) + 1;
		} else {
			jp_sb_putc(&b, c);
		}
		first = false;
		i++;
	}
	if (i >= len || b.over) {
		*ok = false;
		return len;
	}
	jp_sb_putc(out, '[');
	if (neg)
		jp_sb_putc(out, '^');
	if (close)
		jp_sb_putc(out, ']');
	jp_sb_puts(out, body);
	if (caret)
		jp_sb_putc(out, '^');
	if (dash)
		jp_sb_putc(out, '-');
	if (!close && !caret && !dash && b.n == 0)
		*ok = false; /* empty set */
	jp_sb_putc(out, ']');
	return i + 1;
}

bool jp_rx_translate(const char *re, size_t len, char *out, size_t cap)
{
	struct jp_sbuf o = {out, 0, cap, false};
	bool ok = true;
	out[0] = '\0';
	for (size_t i = 0; i < len && ok;) {
		char c = re[i];
		if (c == '[') {
			i = rx_bracket(re, i + 1, len, &o, &ok);
			continue;
		}
		if (c == '(' && i + 2 < len && re[i + 1] == '?') {
			if (re[i + 2] != ':')
				return false; /* lookarounds, flags, named groups */
			jp_sb_putc(&o, '(');
			i += 3;
			continue;
		}
		if ((c == '*' || c == '+' || c == '?' || c == '}') && i + 1 < len &&
		    re[i + 1] == '?')
			return false; /* lazy quantifiers */
		if (c == '\\' && i + 1 < len) {
			char d = re[i + 1];
			i += 2;
			switch (d) {
			case 'd':
				jp_sb_puts(&o, "[0-9]");
				break;
			case 'D':
				jp_sb_puts(&o, "[^0-9]");
				break;
			case 's':
				jp_sb_puts(&o, "[[:space:]]");
				break;
			case 'S':
				jp_sb_puts(&o, "[^[:space:]]");
				break;
			case 'w':
				jp_sb_puts(&o, "[[:alnum:]_]");
				break;
			case 'W':
				jp_sb_puts(&o, "[^[:alnum:]_]");
				break;
			case 'n':
				jp_sb_putc(&o, '\n');
				break;
			case 't':
				jp_sb_putc(&o, '\t');
				break;
			default:
				if (isalnum((unsigned char)d))
					return false; /* \b, \A, back-references... */
				jp_sb_putc(&o, '\\');
				jp_sb_putc(&o, d);
			}
			continue;
		}
		jp_sb_putc(&o, c);
		i++;
	}
	return ok && !o.over;
}
