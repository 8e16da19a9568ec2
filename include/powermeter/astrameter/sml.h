/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SML (Smart Message Language, German eHZ meters) decoder: transport framing
 * (1b1b1b1b 01010101 ... 1b1b1b1b 1a <pad> <crc16>, with 1b1b1b1b inside the data doubled
 * as escape), the CRC-16/X-25 check, the list entries (OBIS code, unit, scaler, value) and
 * the reference's power selection: the three phase registers if all are present, else
 * the aggregate register, unit must be W, value x 10^scaler. Pure: no I/O, no clock; used
 * by TIBBER_PULSE (whole telegrams over HTTP) and the serial SML source (a stream). */
#ifndef ASTRAMETER_SML_H
#define ASTRAMETER_SML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "astrameter/err.h"
#include "astrameter/reading.h"

#define SML_UNIT_W    27 /* DLMS unit code of watt */
#define SML_MAX_FRAME 4096

/* OBIS codes (6 bytes, e.g. 01 00 10 07 00 ff = 1-0:16.7.0*255) selecting the power
 * registers. Defaults: 0100100700ff (aggregate), 0100240700ff / 0100380700ff /
 * 01004c0700ff (L1..L3). */
struct pm_sml_obis_cfg {
	uint8_t current[6], l1[6], l2[6], l3[6];
};

void pm_sml_obis_cfg_default(struct pm_sml_obis_cfg *cfg);
/* Parses an OBIS override: exactly 12 hex digits after trimming blanks, any case. 0/-1. */
int pm_sml_obis_parse_hex(const char *s, uint8_t out[6], struct err *e);

/* CRC-16/X-25 (reflected 0x1021, init/xorout 0xffff) as a number; on the wire the frame
 * carries it low byte first. */
uint16_t pm_sml_crc16(const uint8_t *p, size_t n);

/* Finds the first complete transport frame in buf[0, len).
 *  1: a frame with a good CRC spans buf[*start, *end); its unescaped payload (padding
 *     removed) is in payload[0, *plen) (payload_cap >= SML_MAX_FRAME is always enough);
 *  0: no complete frame yet; bytes before *start can be dropped (*start = len if no start
 *     sequence was seen);
 * -1: a complete frame at buf[*start, *end) is bad (CRC, escape, size): drop through *end
 *     and scan again; e says why. */
int pm_sml_frame_scan(const uint8_t *buf, size_t len, size_t *start, size_t *end, uint8_t *payload,
                      size_t payload_cap, size_t *plen, struct err *e);

/* One list entry of a GetList response. */
struct pm_sml_entry {
	uint8_t obis[6];
	bool has_unit, has_value;
	uint8_t unit;
	int8_t scaler; /* 0 when absent */
	double value;  /* raw integer value, not yet scaled */
};

/* Calls fn for every list entry (a 7-element list starting with a 6-byte OBIS octet
 * string) found in an unescaped payload. Malformed candidates are skipped. Returns the
 * number of entries. */
typedef void pm_sml_entry_fn(const struct pm_sml_entry *ent, void *arg);
size_t pm_sml_payload_entries(const uint8_t *payload, size_t len, pm_sml_entry_fn *fn, void *arg);

/* Power from an unescaped payload: 1 = out holds [L1, L2, L3] or [aggregate] in W;
 * 0 = the frame has none of the configured registers (the reference then reports [0]);
 * -1 = a selected register has a unit other than W or a non-integer value (e says which). */
int pm_sml_payload_powers(const uint8_t *payload, size_t len, const struct pm_sml_obis_cfg *cfg,
                          struct pm_reading *out, struct err *e);

/* Whole-telegram convenience (Tibber Pulse): the first complete frame in buf, then
 * pm_sml_payload_powers. -1 if no valid frame is found (e says why). */
int pm_sml_decode_powers(const uint8_t *buf, size_t len, const struct pm_sml_obis_cfg *cfg,
                         struct pm_reading *out, struct err *e);

#endif
