/* SPDX-License-Identifier: GPL-3.0-or-later */
/* DSMR / P1 telegrams (Dutch DSMR 2.2 .. 5.0.2 meters, Belgian e-MUCS/Fluvius, Luxembourg
 * Smarty without encryption): a framer that finds "/" ... "!XXXX" telegrams in a serial
 * byte stream and checks their CRC-16/ARC (computed from "/" through "!", sent as four hex
 * digits; DSMR 2.2 and 3.0 telegrams end at "!" with no CRC and are accepted as such),
 * and a parser that takes grid power from the OBIS lines: per phase 1-0:21.7.0 - 22.7.0,
 * 41.7.0 - 42.7.0, 61.7.0 - 62.7.0, else the total 1-0:1.7.0 - 1-0:2.7.0, in kW or W,
 * import positive. Pure: no I/O, no clock; the buffer is never assumed NUL-terminated. */
#ifndef ASTRAMETER_DSMR_H
#define ASTRAMETER_DSMR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "astrameter/err.h"
#include "astrameter/reading.h"

/* Longest telegram accepted (DSMR 5 with a full 1024-character text message and four
 * M-Bus channels stays well under it); a "/" not followed by "!" within it is dropped. */
#define DSMR_MAX_TELEGRAM 8192

struct dsmr_frame {
	size_t start, end; /* the telegram: buf[start, end), "/" through the CRC digits */
	size_t skip;       /* bytes the caller may drop from the front of buf now */
	bool has_crc;      /* false: DSMR 2.2/3.0 style, nothing after "!" to check */
};

/* Finds the first telegram in buf[0, len).
 *  1: a telegram with a good CRC (or none) at buf[f->start, f->end); skip = end;
 *  0: none complete yet; skip = bytes before the first possible start (garbage), so the
 *     caller keeps buf[skip, len) and reads more;
 * -1: a bad telegram (CRC mismatch, bad trailer, a new "/" before "!", longer than
 *     DSMR_MAX_TELEGRAM): drop buf[0, skip) and scan again; e says why. The next telegram
 *     is never lost: skip stops at a "/" that follows. */
int dsmr_frame_scan(const uint8_t *buf, size_t len, struct dsmr_frame *f, struct err *e);

/* The value of the first line starting with obis (e.g. "1-0:1.7.0") in tg[0, len), of
 * the form obis(value*unit): *value and the unit copied into unit[0, unit_cap) (NUL
 * terminated, "" if none). 1 found, 0 absent, -1 present but malformed (e says why). */
int dsmr_obis_value(const char *tg, size_t len, const char *obis, double *value, char *unit,
                    size_t unit_cap, struct err *e);

/* Grid power from a telegram (the text from the framer): [L1, L2, L3] when all three
 * phase import lines are present (a missing export line counts 0) unless they all read 0
 * while the total does not (meters that leave the phase lines at zero), else [total].
 * Units kW (x 1000) and W; any other unit is an error. -1 if neither phases nor total
 * are present or a line is malformed (e says which). out->at is left 0. */
int dsmr_parse_powers(const char *tg, size_t len, struct pm_reading *out, struct err *e);

#endif
