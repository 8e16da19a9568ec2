/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SML transport framer (see sml_frame.h). One pass from the start sequence; each escape
 * is decided on its eight bytes, so a partial escape at the end of the buffer waits for
 * more rather than being misread. */
#include <string.h>

#include "astrameter/crc.h"
#include "astrameter/sml_frame.h"

static const uint8_t esc[4] = {0x1b, 0x1b, 0x1b, 0x1b};
static const uint8_t ver1[4] = {0x01, 0x01, 0x01, 0x01};

/* Offset of the first start sequence in buf[from, len), or len if none complete. */
static size_t find_start(const uint8_t *buf, size_t len, size_t from)
{
	for (size_t i = from; i + 8 <= len; i++)
		if (buf[i] == 0x1b && memcmp(buf + i, esc, 4) == 0 &&
		    memcmp(buf + i + 4, ver1, 4) == 0)
			return i;
	return len;
}

int sml_frame_next(const uint8_t *buf, size_t len, uint8_t *payload, size_t cap,
                   struct sml_frame *f, struct err *e)
{
	memset(f, 0, sizeof(*f));
	size_t s = find_start(buf, len, 0);
	if (s == len) {
		/* Keep a tail that may be the first 7 bytes of a start sequence. */
		f->skip = len > 7 ? len - 7 : 0;
		return 0;
	}
	f->start = s;
	if (cap > SML_FRAME_MAX_PAYLOAD)
		cap = SML_FRAME_MAX_PAYLOAD;
	size_t i = s + 8, o = 0;
	while (i < len) {
		if (buf[i] != 0x1b || len - i < 4 || memcmp(buf + i, esc, 4) != 0) {
			if (len - i < 4 && buf[i] == 0x1b && memcmp(buf + i, esc, len - i) == 0) {
				f->skip = s; /* maybe the first bytes of an escape */
				return 0;
			}
			if (o >= cap)
				goto too_big;
			payload[o++] = buf[i++];
			continue;
		}
		if (len - i < 8) {
			f->skip = s;
			return 0;
		}
		const uint8_t *x = buf + i + 4;
		if (memcmp(x, esc, 4) == 0) { /* doubled: a literal 1b1b1b1b */
			if (o + 4 > cap)
				goto too_big;
			memcpy(payload + o, esc, 4);
			o += 4;
			i += 8;
			continue;
		}
		if (memcmp(x, ver1, 4) == 0) {
			f->end = f->skip = i;
			return err_set(e, "SML file cut off after %zu bytes by a new start", i - s);
		}
		if (x[0] != 0x1a) {
			f->end = i + 8;
			f->skip = i + 4;
			return err_set(e, "unknown SML escape 1b1b1b1b %02x", x[0]);
		}
		f->end = f->skip = i + 8;
		uint16_t want = (uint16_t)(x[2] | x[3] << 8);
		uint16_t got = crc16_x25(buf + s, i + 6 - s);
		if (want != got)
			return err_set(e, "SML CRC mismatch (file %04x, computed %04x)", want, got);
		unsigned pad = x[1];
		if (pad > 3 || pad > o)
			return err_set(e, "SML padding count %u invalid", pad);
		for (size_t k = o - pad; k < o; k++)
			if (payload[k] != 0)
				return err_set(e, "SML padding byte is not zero");
		f->plen = o - pad;
		return 1;
	}
	f->skip = s;
	return 0;
too_big:
	f->end = f->skip = i;
	return err_set(e, "SML file larger than %zu bytes", cap);
}
