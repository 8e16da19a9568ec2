/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The simulator's own small CT002 wire codec (battery side): build a framed request from
 * fields and parse a framed response into fields. Frame: SOH STX, decimal total length
 * (counting its own digits), '|'-prefixed ASCII fields, ETX, two lowercase hex chars of the
 * XOR of every byte from SOH through ETX. Kept separate from the daemon's codec on purpose:
 * the simulator is a test peer, so a shared bug must not cancel out. */
#ifndef ASTRAMETER_SIM_CT_H
#define ASTRAMETER_SIM_CT_H

#include <stddef.h>

#define SIM_CT_MAX_FIELDS 32
#define SIM_CT_MAX_FRAME  1024

/* Encodes nfields strings into buf (cap bytes). Returns the frame length, or -1 if a
 * field holds a non-ASCII byte, '|' or a control byte, or the frame does not fit. */
int sim_ct_encode(const char *const *fields, size_t nfields, char *buf, size_t cap);

struct sim_ct_fields {
	char store[SIM_CT_MAX_FRAME];
	const char *f[SIM_CT_MAX_FIELDS];
	size_t n;
};

/* Parses and validates a frame (length, ETX, checksum incl. the space-for-high-nibble
 * variant, ASCII). Fields point into out->store. 0 on success, -1 if malformed. */
int sim_ct_decode(const unsigned char *data, size_t len, struct sim_ct_fields *out);

/* Field i as an integer (0 if absent or not an integer, like the reference battery). */
long sim_ct_field_int(const struct sim_ct_fields *f, size_t i);

#endif
