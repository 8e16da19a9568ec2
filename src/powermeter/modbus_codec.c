/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Modbus register-read codec (see modbus_codec.h): MBAP and RTU request encoding and
 * response decoding for functions 3 and 4, and register value decoding with the
 * reference's byte and word order semantics. Frames are read byte by byte through length
 * checks; a prefix that is already inconsistent is reported at once rather than waited on,
 * so a garbage stream fails fast instead of stalling until a timeout. */
#include <ctype.h>
#include <math.h>
#include <string.h>
#include <strings.h>

#include "astrameter/crc.h"
#include "astrameter/modbus_codec.h"

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static int check_request(const struct mb_request *rq, size_t cap, size_t need, struct err *e)
{
	if (rq->func != MB_FC_READ_HOLDING && rq->func != MB_FC_READ_INPUT)
		return err_set(e, "Modbus function %u is not a register read (3 or 4)", rq->func);
	if (rq->count < 1 || rq->count > MB_MAX_READ)
		return err_set(e, "Modbus read of %u registers (must be 1..%d)", rq->count,
		               MB_MAX_READ);
	if ((uint32_t)rq->addr + rq->count > 65536u)
		return err_set(e, "Modbus read of %u registers at %u runs past address 65535",
		               rq->count, rq->addr);
	if (cap < need)
		return err_set(e, "Modbus request needs %zu bytes, buffer holds %zu", need, cap);
	return 0;
}

/* Function code, address, count: the 5-byte request PDU. */
static void put_pdu(const struct mb_request *rq, uint8_t *p)
{
	p[0] = rq->func;
	put16(p + 1, rq->addr);
	put16(p + 3, rq->count);
}

int mb_tcp_encode(const struct mb_request *rq, uint8_t *out, size_t cap, size_t *len, struct err *e)
{
	if (check_request(rq, cap, MB_TCP_REQ_LEN, e) < 0)
		return -1;
	put16(out, rq->tid);
	put16(out + 2, 0); /* protocol id: Modbus */
	put16(out + 4, 6); /* unit + PDU */
	out[6] = rq->unit;
	put_pdu(rq, out + 7);
	*len = MB_TCP_REQ_LEN;
	return 0;
}

int mb_rtu_encode(const struct mb_request *rq, uint8_t *out, size_t cap, size_t *len, struct err *e)
{
	if (rq->unit < 1 || rq->unit > 247)
		return err_set(e, "Modbus RTU unit id %u (must be 1..247)", rq->unit);
	if (check_request(rq, cap, MB_RTU_REQ_LEN, e) < 0)
		return -1;
	out[0] = rq->unit;
	put_pdu(rq, out + 1);
	uint16_t crc = crc16_modbus(out, 6);
	out[6] = (uint8_t)crc;
	out[7] = (uint8_t)(crc >> 8);
	*len = MB_RTU_REQ_LEN;
	return 0;
}

const char *mb_exception_name(uint8_t code)
{
	switch (code) {
	case MB_EX_ILLEGAL_FUNCTION:
		return "illegal function";
	case MB_EX_ILLEGAL_ADDRESS:
		return "illegal data address";
	case MB_EX_ILLEGAL_VALUE:
		return "illegal data value";
	case MB_EX_DEVICE_FAILURE:
		return "server device failure";
	case MB_EX_ACKNOWLEDGE:
		return "acknowledge";
	case MB_EX_DEVICE_BUSY:
		return "server device busy";
	case MB_EX_MEMORY_PARITY:
		return "memory parity error";
	case MB_EX_GATEWAY_PATH:
		return "gateway path unavailable";
	case MB_EX_GATEWAY_NO_TARGET:
		return "gateway target device failed to respond";
	default:
		return "unknown exception";
	}
}

static enum mb_result exception(const struct mb_request *rq, struct mb_response *rsp, uint8_t code,
                                struct err *e)
{
	rsp->exception = code;
	err_set(e, "Modbus exception 0x%02x (%s) reading %u registers at %u (function %u)", code,
	        mb_exception_name(code), rq->count, rq->addr, rq->func);
	return MB_EXCEPTION;
}

/* The PDU of an answer, pdu[0, n) with n known complete: function, then either the
 * exception code or the byte count and registers. */
static enum mb_result decode_pdu(const struct mb_request *rq, const uint8_t *pdu, size_t n,
                                 struct mb_response *rsp, struct err *e)
{
	if (pdu[0] == (rq->func | 0x80)) {
		if (n != 2) {
			err_set(e, "Modbus exception answer of %zu bytes (must be 2)", n);
			return MB_ERROR;
		}
		return exception(rq, rsp, pdu[1], e);
	}
	if (pdu[0] != rq->func) {
		err_set(e, "Modbus answer with function 0x%02x to function %u", pdu[0], rq->func);
		return MB_ERROR;
	}
	if (n < 2 || pdu[1] != n - 2) {
		err_set(e, "Modbus byte count %u does not match the frame (%zu data bytes)",
		        n < 2 ? 0u : pdu[1], n < 2 ? 0 : n - 2);
		return MB_ERROR;
	}
	if (pdu[1] != 2u * rq->count) {
		err_set(e, "Modbus answer holds %u bytes, asked for %u registers", pdu[1],
		        rq->count);
		return MB_ERROR;
	}
	rsp->nregs = rq->count;
	for (uint16_t i = 0; i < rq->count; i++)
		rsp->regs[i] = get16(pdu + 2 + 2 * i);
	return MB_REGISTERS;
}

enum mb_result mb_tcp_decode(const struct mb_request *rq, const uint8_t *buf, size_t len,
                             struct mb_response *rsp, struct err *e)
{
	memset(rsp, 0, sizeof(*rsp));
	if (len >= 4 && get16(buf + 2) != 0) {
		err_set(e, "not a Modbus TCP frame (protocol id %u)", get16(buf + 2));
		return MB_ERROR;
	}
	if (len < MB_TCP_HEADER + 1) {
		if (len >= 6) {
			uint16_t l = get16(buf + 4);
			if (l < 3 || l > 254) {
				err_set(e, "Modbus TCP length field %u (must be 3..254)", l);
				return MB_ERROR;
			}
			rsp->need = 6u + l;
		} else {
			rsp->need = MB_TCP_HEADER + 2;
		}
		return MB_NEED_MORE;
	}
	uint16_t l = get16(buf + 4);
	if (l < 3 || l > 254) {
		err_set(e, "Modbus TCP length field %u (must be 3..254)", l);
		return MB_ERROR;
	}
	rsp->tid = get16(buf);
	rsp->unit = buf[6];
	uint8_t fn = buf[7];
	if (rsp->tid == rq->tid && fn != rq->func && fn != (rq->func | 0x80)) {
		/* Known before the rest of the frame arrives. */
		err_set(e, "Modbus answer with function 0x%02x to function %u", fn, rq->func);
		return MB_ERROR;
	}
	size_t total = 6u + l;
	if (len < total) {
		rsp->need = total;
		return MB_NEED_MORE;
	}
	rsp->frame_len = total;
	if (rsp->tid != rq->tid) {
		err_set(e, "Modbus answer to transaction %u while waiting for %u", rsp->tid,
		        rq->tid);
		return MB_OTHER;
	}
	return decode_pdu(rq, buf + 7, total - 7, rsp, e);
}

enum mb_result mb_rtu_decode(const struct mb_request *rq, const uint8_t *buf, size_t len,
                             struct mb_response *rsp, struct err *e)
{
	memset(rsp, 0, sizeof(*rsp));
	if (len < 3) {
		if (len == 2 && buf[1] != rq->func && buf[1] != (rq->func | 0x80)) {
			err_set(e, "Modbus RTU answer with function 0x%02x to function %u", buf[1],
			        rq->func);
			return MB_ERROR;
		}
		rsp->need = 5;
		return MB_NEED_MORE;
	}
	rsp->unit = buf[0];
	uint8_t fn = buf[1];
	size_t total;
	if (fn == (rq->func | 0x80)) {
		total = 5;
	} else if (fn == rq->func) {
		if (buf[2] & 1 || buf[2] > 250) {
			err_set(e, "Modbus RTU byte count %u (must be even, at most 250)", buf[2]);
			return MB_ERROR;
		}
		total = 5u + buf[2];
	} else {
		err_set(e, "Modbus RTU answer with function 0x%02x to function %u", fn, rq->func);
		return MB_ERROR;
	}
	if (len < total) {
		rsp->need = total;
		return MB_NEED_MORE;
	}
	uint16_t want = (uint16_t)(buf[total - 2] | buf[total - 1] << 8);
	uint16_t got = crc16_modbus(buf, total - 2);
	if (want != got) {
		err_set(e, "Modbus RTU CRC mismatch (frame %04x, computed %04x)", want, got);
		return MB_ERROR;
	}
	rsp->frame_len = total;
	if (rsp->unit != rq->unit) {
		err_set(e, "Modbus RTU answer from unit %u while waiting for unit %u", rsp->unit,
		        rq->unit);
		return MB_OTHER;
	}
	return decode_pdu(rq, buf + 1, total - 3, rsp, e);
}

/* ---- register values ---- */

unsigned mb_type_regs(enum mb_type t)
{
	switch (t) {
	case MB_INT16:
	case MB_UINT16:
		return 1;
	case MB_INT32:
	case MB_UINT32:
	case MB_FLOAT32:
		return 2;
	default:
		return 4;
	}
}

static const char *const type_names[] = {"INT16",   "UINT16", "INT32",  "UINT32",
                                         "FLOAT32", "INT64",  "UINT64", "FLOAT64"};

const char *mb_type_name(enum mb_type t)
{
	return (unsigned)t < sizeof(type_names) / sizeof(type_names[0]) ? type_names[t] : "?";
}

/* s equals word, ignoring case and blanks around s. */
static bool word_eq(const char *s, const char *word)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return n == strlen(word) && strncasecmp(s, word, n) == 0;
}

int mb_type_parse(const char *s, enum mb_type *out, struct err *e)
{
	for (unsigned i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (word_eq(s, type_names[i])) {
			*out = (enum mb_type)i;
			return 0;
		}
	return err_set(e,
	               "unknown Modbus data type '%s' (INT16, UINT16, INT32, UINT32, FLOAT32, "
	               "INT64, UINT64, FLOAT64)",
	               s);
}

int mb_order_parse(const char *s, enum mb_order *out, struct err *e)
{
	if (word_eq(s, "BIG"))
		*out = MB_BIG;
	else if (word_eq(s, "LITTLE"))
		*out = MB_LITTLE;
	else
		return err_set(e, "unknown Modbus byte/word order '%s' (BIG or LITTLE)", s);
	return 0;
}

int mb_regtype_parse(const char *s, enum mb_regtype *out, struct err *e)
{
	if (word_eq(s, "HOLDING"))
		*out = MB_HOLDING;
	else if (word_eq(s, "INPUT"))
		*out = MB_INPUT;
	else
		return err_set(e, "unknown Modbus register type '%s' (HOLDING or INPUT)", s);
	return 0;
}

uint8_t mb_regtype_func(enum mb_regtype rt)
{
	return rt == MB_INPUT ? MB_FC_READ_INPUT : MB_FC_READ_HOLDING;
}

int mb_decode_value(const uint16_t *regs, size_t nregs, const struct mb_format *f, double *out,
                    struct err *e)
{
	unsigned n = mb_type_regs(f->type);
	if (nregs < n)
		return err_set(e, "Modbus %s needs %u registers, have %zu", mb_type_name(f->type),
		               n, nregs);
	/* Big-endian bytes of the value after the two reorderings. */
	uint64_t raw = 0;
	for (unsigned i = 0; i < n; i++) {
		uint16_t r = regs[f->word_order == MB_LITTLE ? n - 1 - i : i];
		if (f->byte_order == MB_LITTLE)
			r = (uint16_t)(r << 8 | r >> 8);
		raw = raw << 16 | r;
	}
	double v;
	switch (f->type) {
	case MB_INT16:
		v = (double)(int16_t)(uint16_t)raw;
		break;
	case MB_UINT16:
	case MB_UINT32:
	case MB_UINT64:
		v = (double)raw;
		break;
	case MB_INT32:
		v = (double)(int32_t)(uint32_t)raw;
		break;
	case MB_INT64:
		v = (double)(int64_t)raw;
		break;
	case MB_FLOAT32: {
		uint32_t u = (uint32_t)raw;
		float fl;
		memcpy(&fl, &u, sizeof(fl));
		v = (double)fl;
		break;
	}
	default: {
		double d;
		memcpy(&d, &raw, sizeof(d));
		v = d;
		break;
	}
	}
	if (!isfinite(v))
		return err_set(e, "Modbus %s value is not a number", mb_type_name(f->type));
	*out = v;
	return 0;
}

int mb_block_value(const uint16_t *regs, size_t nregs, uint16_t base, uint16_t addr,
                   const struct mb_format *f, double scale, double *out, struct err *e)
{
	unsigned n = mb_type_regs(f->type);
	if (addr < base || (size_t)(addr - base) + n > nregs)
		return err_set(e, "Modbus register %u (%s) is outside the read block %u..%zu", addr,
		               mb_type_name(f->type), base, (size_t)base + nregs - 1);
	double v;
	if (mb_decode_value(regs + (addr - base), n, f, &v, e) < 0)
		return -1;
	*out = v * scale;
	return 0;
}

int mb_cover(const uint16_t *addrs, size_t n, enum mb_type t, uint16_t *base, uint16_t *count,
             struct err *e)
{
	if (n == 0)
		return err_set(e, "no Modbus registers to read");
	uint32_t lo = addrs[0], hi = 0, w = mb_type_regs(t);
	for (size_t i = 0; i < n; i++) {
		if (addrs[i] < lo)
			lo = addrs[i];
		if (addrs[i] + w > hi)
			hi = addrs[i] + w;
	}
	if (hi > 65536u)
		return err_set(e, "Modbus register range runs past address 65535");
	if (hi - lo > MB_MAX_READ)
		return err_set(e, "Modbus registers %u..%u span more than %d registers", lo, hi - 1,
		               MB_MAX_READ);
	*base = (uint16_t)lo;
	*count = (uint16_t)(hi - lo);
	return 0;
}
