/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Fuzz target for the Modbus codec: the first 5 bytes choose the request (transaction id,
 * unit, function, register count), the rest is what came off the wire, decoded as MBAP
 * and as RTU. Checks the result contract (a frame never longer than the input, "need
 * more" always asks for more than there is and at most a maximal frame, registers exactly
 * as asked), then decodes the registers in every type and order and through every preset. */
#include <stdint.h>
#include <stdlib.h>

#include "astrameter/modbus_codec.h"
#include "astrameter/modbus_presets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct mb_request *rq, enum mb_result rc, const struct mb_response *rsp,
                  size_t len, size_t max)
{
	switch (rc) {
	case MB_NEED_MORE:
		if (rsp->need <= len || rsp->need > max)
			abort();
		break;
	case MB_REGISTERS:
		if (rsp->nregs != rq->count)
			abort();
		/* fallthrough */
	case MB_EXCEPTION:
	case MB_OTHER:
		if (rsp->frame_len == 0 || rsp->frame_len > len || rsp->frame_len > max)
			abort();
		break;
	case MB_ERROR:
		break;
	default:
		abort();
	}
}

static void values(const struct mb_response *rsp, uint16_t base)
{
	for (int t = MB_INT16; t <= MB_FLOAT64; t++)
		for (int o = 0; o < 4; o++) {
			struct mb_format f = {(enum mb_type)t, (enum mb_order)(o & 1),
			                      (enum mb_order)(o >> 1)};
			double v;
			if (mb_decode_value(rsp->regs, rsp->nregs, &f, &v, NULL) == 0 && v != v)
				abort();
			(void)mb_block_value(rsp->regs, rsp->nregs, base, (uint16_t)(base + 1), &f,
			                     0.1, &v, NULL);
		}
	for (size_t i = 0; mb_preset_at(i); i++) {
		struct pm_reading r;
		if (mb_preset_decode(mb_preset_at(i), rsp->regs, rsp->nregs, base, &r, NULL) == 0 &&
		    r.n != 1 && r.n != 3)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 5)
		return 0;
	struct mb_request rq = {
	        .tid = (uint16_t)(data[0] << 8 | data[1]),
	        .unit = data[2],
	        .func = (data[3] & 1) ? MB_FC_READ_INPUT : MB_FC_READ_HOLDING,
	        .addr = 0,
	        .count = (uint16_t)(data[4] % MB_MAX_READ + 1),
	};
	const uint8_t *wire = data + 5;
	size_t len = size - 5;
	struct mb_response rsp;
	enum mb_result rc = mb_tcp_decode(&rq, wire, len, &rsp, NULL);
	check(&rq, rc, &rsp, len, MB_TCP_MAX_FRAME);
	if (rc == MB_REGISTERS)
		values(&rsp, 0);
	rc = mb_rtu_decode(&rq, wire, len, &rsp, NULL);
	check(&rq, rc, &rsp, len, MB_RTU_MAX_FRAME);
	if (rc == MB_REGISTERS)
		values(&rsp, 40069);
	uint8_t out[MB_TCP_REQ_LEN];
	size_t n;
	rq.addr = (uint16_t)(data[0] << 8 | data[2]);
	if (mb_tcp_encode(&rq, out, sizeof(out), &n, NULL) == 0 && n != MB_TCP_REQ_LEN)
		abort();
	return 0;
}
