/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The three CRC-16 variants the meter protocols use, in one place (bitwise, no tables:
 * the frames are short and arrive at most a few times a second):
 *  - CRC-16/X-25 (reflected poly 0x1021, init 0xffff, xorout 0xffff): SML transport files;
 *  - CRC-16/MODBUS (reflected poly 0x8005, init 0xffff, xorout 0): Modbus RTU frames;
 *  - CRC-16/ARC (reflected poly 0x8005, init 0, xorout 0): DSMR 4+/P1 telegrams.
 * Check values over the ASCII string "123456789": 0x906e, 0x4b37, 0xbb3d. Pure. */
#ifndef ASTRAMETER_CRC_H
#define ASTRAMETER_CRC_H

#include <stddef.h>
#include <stdint.h>

/* CRC-16/X-25 of p[0, n); SML carries it low byte first. */
uint16_t crc16_x25(const uint8_t *p, size_t n);

/* CRC-16/MODBUS of p[0, n); an RTU frame carries it low byte first. */
uint16_t crc16_modbus(const uint8_t *p, size_t n);

/* CRC-16/ARC of p[0, n); a DSMR telegram carries it as four hex digits after '!'. */
uint16_t crc16_arc(const uint8_t *p, size_t n);

#endif
