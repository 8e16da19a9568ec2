/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SMA Speedwire energy-meter telegram decoder (see sma.h for the layout). Every read goes
 * through be16/be32 with an explicit bounds check; a datagram is never cast to a struct.
 * The arithmetic mirrors upstream's so both produce the same values for the same bytes,
 * including for telegrams that stop in the middle of a channel. */
#include <string.h>

#include "astrameter/sma.h"

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int pm_sma_parse_header(const uint8_t *buf, size_t len, struct pm_sma_header *out)
{
	if (!buf || len < SMA_HEADER_LEN)
		return -1;
	if (memcmp(buf, "SMA\0", 4) != 0)
		return -1;
	if (buf[5] != 0x04 || buf[6] != 0x02)
		return -1;
	if (be16(buf + 16) != SMA_PROTOCOL_EM)
		return -1;
	out->susy_id = be16(buf + 18);
	out->serial = be32(buf + 20);
	out->ticker = be32(buf + 24);
	return 0;
}

size_t pm_sma_channel_len(uint32_t id)
{
	if (id == SMA_CH_END)
		return 0;
	/* The software-version channel (0x90000000) has type byte 0 and 4 data bytes, as
	 * does every other identifier that is not a counter. */
	return ((id >> 8) & 0xffu) == 0x08u ? 8 : 4;
}

/* Index of a power channel in the raw table, or -1. Even = import, odd = export;
 * 0/1 total, 2..7 L1..L3. */
static int power_slot(uint32_t id)
{
	static const uint32_t ids[8] = {SMA_CH_TOTAL_IMPORT, SMA_CH_TOTAL_EXPORT, SMA_CH_L1_IMPORT,
	                                SMA_CH_L1_EXPORT,    SMA_CH_L2_IMPORT,    SMA_CH_L2_EXPORT,
	                                SMA_CH_L3_IMPORT,    SMA_CH_L3_EXPORT};
	for (int i = 0; i < 8; i++)
		if (ids[i] == id)
			return i;
	return -1;
}

int pm_sma_parse_power(const uint8_t *buf, size_t len, struct pm_reading *out)
{
	double raw[8] = {0};
	bool seen[8] = {false};
	bool phases = false;
	if (!buf || len < SMA_HEADER_LEN)
		return -1;
	size_t pos = SMA_HEADER_LEN;
	while (len - pos >= 4) {
		uint32_t id = be32(buf + pos);
		if (id == SMA_CH_END)
			break;
		size_t clen = pm_sma_channel_len(id);
		if (len - pos - 4 < clen)
			break;
		int slot = power_slot(id);
		if (slot >= 0) {
			raw[slot] = (double)be32(buf + pos + 4) / 10.0;
			seen[slot] = true;
			if (slot >= 2)
				phases = true;
		}
		pos += 4 + clen;
	}
	struct pm_reading r;
	memset(&r, 0, sizeof(r));
	if (phases) {
		for (unsigned i = 0; i < 3; i++)
			r.w[i] = raw[2 + 2 * i] - raw[3 + 2 * i];
		r.n = 3;
	} else if (seen[0] || seen[1]) {
		r.w[0] = raw[0] - raw[1];
		r.n = 1;
	} else {
		return -1;
	}
	*out = r;
	return 0;
}

const char *pm_sma_susy_name(uint16_t susy_id)
{
	switch (susy_id) {
	case 270:
		return "SMA Energy Meter 1.0";
	case 349:
		return "SMA Energy Meter 2.0";
	case 372:
	case 501:
		return "Sunny Home Manager 2.0";
	default:
		return NULL;
	}
}

bool pm_sma_filter_accept(struct pm_sma_filter *f, const struct pm_sma_header *h, bool *locked_now)
{
	if (locked_now)
		*locked_now = false;
	if (f->want != 0)
		return h->serial == f->want;
	if (f->have_lock)
		return h->serial == f->locked;
	if (!pm_sma_susy_name(h->susy_id))
		return false;
	f->locked = h->serial;
	f->have_lock = true;
	if (locked_now)
		*locked_now = true;
	return true;
}
