/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Modbus client codec for reading registers: request encoding and response decoding for
 * function 3 (read holding registers) and 4 (read input registers) in the two framings a
 * meter speaks, MBAP (Modbus TCP, and Modbus UDP, which carries the same frame in one
 * datagram) and RTU (serial: unit, PDU, CRC-16/MODBUS low byte first), and the decoding of
 * register values as the reference's [MODBUS] section defines them (pymodbus 3.6
 * BinaryPayloadDecoder.fromRegisters): BYTE_ORDER LITTLE swaps the two bytes of every
 * register, WORD_ORDER LITTLE reverses the order of the registers of one value, and the
 * result is read big endian. Pure: no I/O, no clock; every read goes through a length
 * check, nothing is cast onto a buffer. The MODBUS driver owns sockets, the tty, timeouts
 * and transaction ids.
 *
 * Addresses are protocol (PDU) addresses, 0-based: register "30013" of a manual that counts
 * input registers from 30001 is address 12. */
#ifndef ASTRAMETER_MODBUS_CODEC_H
#define ASTRAMETER_MODBUS_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "astrameter/err.h"

#define MB_FC_READ_HOLDING 3
#define MB_FC_READ_INPUT   4
#define MB_MAX_READ        125 /* registers per read (the PDU limit of 253 bytes) */
#define MB_TCP_HEADER      7   /* MBAP: transaction, protocol, length, unit */
#define MB_TCP_REQ_LEN     12
#define MB_TCP_MAX_FRAME   260 /* MBAP header + 253-byte PDU */
#define MB_RTU_REQ_LEN     8
#define MB_RTU_MAX_FRAME   256

/* Exception codes of the Modbus application protocol. */
#define MB_EX_ILLEGAL_FUNCTION  0x01
#define MB_EX_ILLEGAL_ADDRESS   0x02
#define MB_EX_ILLEGAL_VALUE     0x03
#define MB_EX_DEVICE_FAILURE    0x04
#define MB_EX_ACKNOWLEDGE       0x05
#define MB_EX_DEVICE_BUSY       0x06
#define MB_EX_MEMORY_PARITY     0x08
#define MB_EX_GATEWAY_PATH      0x0a
#define MB_EX_GATEWAY_NO_TARGET 0x0b

/* One read request. func is MB_FC_READ_HOLDING or MB_FC_READ_INPUT; count 1..125; the
 * transaction id is used by MBAP only, the unit id by both framings (RTU: slave address
 * 1..247). */
struct mb_request {
	uint16_t tid;
	uint8_t unit;
	uint8_t func;
	uint16_t addr;
	uint16_t count;
};

/* Encodes rq as an MBAP frame (12 bytes) into out[0, cap). 0, or -1 (e says why: bad
 * function, count 0 or over 125, address range past 65535, cap too small). */
int mb_tcp_encode(const struct mb_request *rq, uint8_t *out, size_t cap, size_t *len,
                  struct err *e);

/* Encodes rq as an RTU frame (8 bytes, CRC appended) into out[0, cap). 0 or -1 as above;
 * unit 0 (broadcast) and 248..255 are refused: a read needs an answer. */
int mb_rtu_encode(const struct mb_request *rq, uint8_t *out, size_t cap, size_t *len,
                  struct err *e);

/* What a decode found in the bytes received so far. */
enum mb_result {
	MB_ERROR = -1,    /* garbage or a wrong answer; e says why. MBAP: the stream cannot be
	                     resynchronised, close the connection (UDP: drop the datagram). RTU:
	                     discard the input (the line resynchronises on silence). */
	MB_NEED_MORE = 0, /* a consistent prefix: the frame needs rsp->need bytes in total */
	MB_REGISTERS = 1, /* the answer: rsp->regs[0, rsp->nregs) (nregs == rq->count) */
	MB_EXCEPTION = 2, /* the device refused: rsp->exception; e names the code */
	MB_OTHER = 3,     /* a well-formed frame that answers something else (MBAP: another
	                     transaction id, e.g. a late answer to a request that timed out;
	                     RTU: another unit): drop rsp->frame_len bytes and decode again */
};

struct mb_response {
	uint16_t regs[MB_MAX_READ];
	uint16_t nregs;
	uint8_t unit;      /* as the device sent it */
	uint8_t exception; /* MB_EXCEPTION only */
	uint16_t tid;      /* MBAP only */
	size_t frame_len;  /* bytes of the frame (REGISTERS, EXCEPTION, OTHER) */
	size_t need;       /* NEED_MORE: total bytes the frame needs (> len) */
};

/* Decodes the MBAP frame at buf[0, len) as the answer to rq. The protocol id must be 0,
 * the length field 3..254, the function rq->func (or rq->func | 0x80 with a one-byte
 * exception code), the byte count 2 * rq->count and consistent with the length field.
 * The unit id is not required to match: gateways and some meters answer with 0 or 255
 * (rsp->unit tells). Bytes past the frame are left alone (rsp->frame_len). */
enum mb_result mb_tcp_decode(const struct mb_request *rq, const uint8_t *buf, size_t len,
                             struct mb_response *rsp, struct err *e);

/* Decodes the RTU frame at buf[0, len) as the answer to rq: unit, function (or the
 * exception form: unit, func | 0x80, code, CRC = 5 bytes), byte count (must be even and
 * at most 250; a normal answer is 5 + byte count bytes), CRC-16/MODBUS low byte first;
 * then the byte count must be 2 * rq->count and the unit rq->unit (else MB_OTHER). */
enum mb_result mb_rtu_decode(const struct mb_request *rq, const uint8_t *buf, size_t len,
                             struct mb_response *rsp, struct err *e);

/* Text name of an exception code ("illegal data address"), or "unknown exception". */
const char *mb_exception_name(uint8_t code);

/* ---- register values ---- */

enum mb_type {
	MB_INT16,
	MB_UINT16,
	MB_INT32,
	MB_UINT32,
	MB_FLOAT32,
	MB_INT64,
	MB_UINT64,
	MB_FLOAT64,
};

enum mb_order { MB_BIG, MB_LITTLE };

enum mb_regtype { MB_HOLDING, MB_INPUT };

/* Registers one value of type t occupies: 1, 2 or 4. */
unsigned mb_type_regs(enum mb_type t);

/* Config words, case-insensitive, blanks around allowed: DATA_TYPE "INT16" .. "FLOAT64",
 * BYTE_ORDER / WORD_ORDER "BIG" / "LITTLE", REGISTER_TYPE "HOLDING" / "INPUT". 0, or -1
 * with e listing the accepted words. (The reference silently takes BIG for an unknown
 * order; the driver should reject or warn, not guess.) */
int mb_type_parse(const char *s, enum mb_type *out, struct err *e);
int mb_order_parse(const char *s, enum mb_order *out, struct err *e);
int mb_regtype_parse(const char *s, enum mb_regtype *out, struct err *e);
const char *mb_type_name(enum mb_type t);

/* Function code reading registers of type rt (3 or 4). */
uint8_t mb_regtype_func(enum mb_regtype rt);

/* Layout of one value: its type and the two orders. */
struct mb_format {
	enum mb_type type;
	enum mb_order byte_order, word_order;
};

/* Decodes one value from regs[0, mb_type_regs(f->type)) (nregs must be at least that).
 * 64-bit integers beyond 2^53 lose precision in the double. -1 (e says why) if too few
 * registers or a float is not finite (NaN is how SunSpec and some meters say "no value"). */
int mb_decode_value(const uint16_t *regs, size_t nregs, const struct mb_format *f, double *out,
                    struct err *e);

/* The value at register address addr of a block read starting at base with nregs
 * registers, times scale. -1 if the value does not lie wholly inside the block. */
int mb_block_value(const uint16_t *regs, size_t nregs, uint16_t base, uint16_t addr,
                   const struct mb_format *f, double scale, double *out, struct err *e);

/* The one read covering the n values at addrs[] (each mb_type_regs(t) long): *base is the
 * lowest address, *count the span. -1 if n is 0, or the span exceeds 125 registers or the
 * address space (the driver then reads the values one by one). */
int mb_cover(const uint16_t *addrs, size_t n, enum mb_type t, uint16_t *base, uint16_t *count,
             struct err *e);

#endif
