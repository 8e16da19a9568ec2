/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SML transport framer for a serial byte stream (an IR read head on an eHZ meter): finds
 * SML files, 1b1b1b1b 01010101 <escaped data> 1b1b1b1b 1a <pad> <crc lo> <crc hi>, where
 * 1b1b1b1b inside the data is sent doubled, pad (0..3) counts the zero bytes that fill the
 * data to a multiple of four, and the CRC-16/X-25 covers the file from the start sequence
 * through the pad byte. Returns the unescaped payload, ready for pm_sml_payload_powers().
 * Scanning resumes where the caller drops bytes (f->skip), so a cut-off or corrupt file
 * costs only itself: the file that follows is never lost. Pure: no I/O, no clock.
 *
 * (src/core/sml.c has pm_sml_frame_scan with the same framing for whole HTTP bodies; this one
 * adds the stream contract and uses the shared crc16_x25. They are cross-checked by
 * fuzz_sml_frame; sml.c can switch to this file once the module split lands.) */
#ifndef ASTRAMETER_SML_FRAME_H
#define ASTRAMETER_SML_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include "astrameter/err.h"

#define SML_FRAME_MAX_PAYLOAD 4096 /* larger files are refused (eHZ files are ~300-600) */

struct sml_frame {
	size_t start, end; /* the file: buf[start, end), start through CRC */
	size_t skip;       /* bytes the caller may drop from the front of buf now */
	size_t plen;       /* unescaped payload length, padding removed */
};

/* Finds the first SML file in buf[0, len); payload[0, cap) receives the unescaped data
 * (cap >= SML_FRAME_MAX_PAYLOAD is always enough).
 *  1: a good file at buf[f->start, f->end), payload[0, f->plen); skip = end;
 *  0: none complete yet; keep buf[skip, len) (garbage before a possible start dropped,
 *     at most 7 trailing bytes kept when no start sequence is seen) and read more;
 * -1: a bad file (CRC, unknown escape, padding, too large, cut off by a new start): drop
 *     buf[0, skip) and scan again; e says why. skip > 0 always. */
int sml_frame_next(const uint8_t *buf, size_t len, uint8_t *payload, size_t cap,
                   struct sml_frame *f, struct err *e);

#endif
