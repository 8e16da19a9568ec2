/* SPDX-License-Identifier: GPL-3.0-or-later */
/* CRC-16 variants of the meter protocols (see crc.h). All three are the reflected form of
 * one shift register; only the polynomial, the start value and the final xor differ. */
#include "astrameter/crc.h"

static uint16_t crc16_reflected(uint16_t crc, uint16_t poly, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ poly) : (uint16_t)(crc >> 1);
	}
	return crc;
}

uint16_t crc16_x25(const uint8_t *p, size_t n)
{
	return (uint16_t)(crc16_reflected(0xffff, 0x8408, p, n) ^ 0xffff);
}

uint16_t crc16_modbus(const uint8_t *p, size_t n)
{
	return crc16_reflected(0xffff, 0xa001, p, n);
}

uint16_t crc16_arc(const uint8_t *p, size_t n)
{
	return crc16_reflected(0, 0xa001, p, n);
}
