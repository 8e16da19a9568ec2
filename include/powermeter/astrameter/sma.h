/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SMA Speedwire energy-meter telegrams (SMA Energy Meter 1.0/2.0, Sunny Home Manager 2.0),
 * as multicast on 239.12.255.254:9522 about once a second. Pure decoding, no I/O: the
 * SMA_ENERGY_METER driver (src/powermeter/sma.c) feeds it datagrams.
 *
 * Layout (big endian): "SMA\0" at 0, bytes 5..6 = 04 02 (the tag-42 header), u16 protocol
 * at 16 (0x6069 = energy meter), u16 SUSY id at 18, u32 serial at 20, u32 ticker at 24,
 * then OBIS channels from byte 28: u32 identifier + 4 data bytes, or 8 when the type byte
 * (identifier >> 8 & 0xff) is 0x08 (energy counters); identifier 0 ends the list. Active
 * power channels hold unsigned tenths of a watt, import and export separately. */
#ifndef ASTRAMETER_SMA_H
#define ASTRAMETER_SMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "astrameter/reading.h"

#define SMA_DEFAULT_GROUP "239.12.255.254"
#define SMA_DEFAULT_PORT  9522
/* A meter sends about once a second; this long without a telegram means it is gone. */
#define SMA_STALE_MS    30000
#define SMA_HEADER_LEN  28
#define SMA_PROTOCOL_EM 0x6069u

/* OBIS active power channels (value / 10 = W). */
#define SMA_CH_TOTAL_IMPORT     0x00010400u
#define SMA_CH_TOTAL_EXPORT     0x00020400u
#define SMA_CH_L1_IMPORT        0x00150400u
#define SMA_CH_L1_EXPORT        0x00160400u
#define SMA_CH_L2_IMPORT        0x00290400u
#define SMA_CH_L2_EXPORT        0x002A0400u
#define SMA_CH_L3_IMPORT        0x003D0400u
#define SMA_CH_L3_EXPORT        0x003E0400u
#define SMA_CH_SOFTWARE_VERSION 0x90000000u
#define SMA_CH_END              0x00000000u

struct pm_sma_header {
	uint16_t susy_id;
	uint32_t serial;
	uint32_t ticker; /* the meter's millisecond counter */
};

/* Decodes the 28-byte header. 0 if buf is an energy-meter telegram ("SMA\0", tag 04 02,
 * protocol 0x6069), -1 otherwise (short, foreign, or another Speedwire protocol such as
 * inverter traffic on the same group). */
int pm_sma_parse_header(const uint8_t *buf, size_t len, struct pm_sma_header *out);

/* Data bytes that follow a channel identifier: 0 for the end marker, 8 for type 0x08
 * (counters), else 4. */
size_t pm_sma_channel_len(uint32_t id);

/* Walks the channels after the header and computes grid power, import positive:
 * three values (L1, L2, L3; import minus export) if any per-phase power channel is present
 * (a missing one counts 0), else one total if a total channel is present. The walk stops
 * at the end marker or at a channel that does not fit (the values read so far count).
 * Returns 0 with out set (out->at = 0), or -1 if the telegram holds no power channel. */
int pm_sma_parse_power(const uint8_t *buf, size_t len, struct pm_reading *out);

/* Name of a known SUSY id (270 EM 1.0, 349 EM 2.0, 372/501 Home Manager 2.0), or NULL. */
const char *pm_sma_susy_name(uint16_t susy_id);

/* Which meter to listen to: a configured serial, or (serial 0) the first meter with a
 * known SUSY id, to which the filter then locks. Zero-initialise, set want. */
struct pm_sma_filter {
	uint32_t want;   /* SERIAL_NUMBER; 0 = auto */
	uint32_t locked; /* auto-detected serial */
	bool have_lock;
};

/* true if a telegram with header h is to be used. In auto mode the first telegram from a
 * known SUSY id locks the filter to its serial (*locked_now set to true then, so the
 * caller can log it once); later telegrams from other serials are refused. */
bool pm_sma_filter_accept(struct pm_sma_filter *f, const struct pm_sma_header *h, bool *locked_now);

#endif
