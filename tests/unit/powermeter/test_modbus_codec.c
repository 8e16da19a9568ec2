/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Modbus codec: request frames against well-known wire examples, MBAP and RTU answers
 * (registers, exceptions, partial frames with the length still needed, other transactions
 * and units, garbage), every prefix of a good frame, and register values of every type
 * in every byte/word order against the reference's pymodbus semantics. */
#include <float.h>
#include <math.h>

#include "pm_test_util.h"
#include "astrameter/crc.h"
#include "astrameter/modbus_codec.h"

static void test_crc_check_values(void **state)
{
	(void)state;
	const uint8_t *s = (const uint8_t *)"123456789";
	assert_int_equal(crc16_modbus(s, 9), 0x4b37);
	assert_int_equal(crc16_x25(s, 9), 0x906e);
	assert_int_equal(crc16_arc(s, 9), 0xbb3d);
	assert_int_equal(crc16_modbus(NULL, 0), 0xffff);
}

static void test_encode(void **state)
{
	(void)state;
	uint8_t b[16];
	size_t n;
	struct err e;
	/* Classic RTU examples: unit 1, 10 holding registers at 0; 1 input register at 0. */
	struct mb_request rq = {.unit = 1, .func = 3, .addr = 0, .count = 10};
	assert_int_equal(mb_rtu_encode(&rq, b, sizeof(b), &n, &e), 0);
	assert_int_equal(n, 8);
	assert_memory_equal(b, "\x01\x03\x00\x00\x00\x0a\xc5\xcd", 8);
	rq = (struct mb_request){.unit = 1, .func = 4, .addr = 0, .count = 1};
	assert_int_equal(mb_rtu_encode(&rq, b, sizeof(b), &n, &e), 0);
	assert_memory_equal(b, "\x01\x04\x00\x00\x00\x01\x31\xca", 8);
	/* MBAP: transaction 0x1234, unit 0xff, input registers 0x2012 x 8 */
	rq = (struct mb_request){
	        .tid = 0x1234, .unit = 0xff, .func = 4, .addr = 0x2012, .count = 8};
	assert_int_equal(mb_tcp_encode(&rq, b, sizeof(b), &n, &e), 0);
	assert_int_equal(n, 12);
	assert_memory_equal(b, "\x12\x34\x00\x00\x00\x06\xff\x04\x20\x12\x00\x08", 12);

	static const struct {
		struct mb_request rq;
		size_t cap;
		const char *msg;
	} bad[] = {
	        {{.unit = 1, .func = 6, .count = 1}, 16, "function 6"},
	        {{.unit = 1, .func = 3, .count = 0}, 16, "0 registers"},
	        {{.unit = 1, .func = 3, .count = 126}, 16, "126 registers"},
	        {{.unit = 1, .func = 3, .addr = 65500, .count = 40}, 16, "past address 65535"},
	        {{.unit = 1, .func = 3, .count = 1}, 7, "buffer holds 7"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e.msg[0] = 0;
		assert_int_equal(mb_tcp_encode(&bad[i].rq, b, bad[i].cap, &n, &e), -1);
		assert_non_null(strstr(e.msg, bad[i].msg));
		assert_int_equal(mb_rtu_encode(&bad[i].rq, b, bad[i].cap, &n, &e), -1);
	}
	/* the last register: address 65535, count 1 is fine */
	rq = (struct mb_request){.unit = 1, .func = 3, .addr = 65535, .count = 1};
	assert_int_equal(mb_tcp_encode(&rq, b, sizeof(b), &n, &e), 0);
	/* RTU needs a real slave address */
	rq.unit = 0;
	assert_int_equal(mb_rtu_encode(&rq, b, sizeof(b), &n, &e), -1);
	assert_non_null(strstr(e.msg, "unit id 0"));
	rq.unit = 248;
	assert_int_equal(mb_rtu_encode(&rq, b, sizeof(b), &n, &e), -1);
}

/* An answer as the wire carries it, with what the decoder must say about it. */
struct dec_vec {
	const char *name;
	const char *frame;
	size_t len;
	enum mb_result rc;
	size_t need_or_len; /* NEED_MORE: need; else frame_len (0: not checked) */
	const char *msg;    /* a piece of e.msg, or NULL */
};

#define F(s) s, sizeof(s) - 1

static void run_vectors(const struct dec_vec *v, size_t n, const struct mb_request *rq, bool rtu)
{
	for (size_t i = 0; i < n; i++) {
		struct mb_response rsp;
		struct err e = {{0}};
		enum mb_result rc =
		        rtu ? mb_rtu_decode(rq, (const uint8_t *)v[i].frame, v[i].len, &rsp, &e)
		            : mb_tcp_decode(rq, (const uint8_t *)v[i].frame, v[i].len, &rsp, &e);
		if (rc != v[i].rc)
			fail_msg("%s: rc %d, want %d ('%s')", v[i].name, rc, v[i].rc, e.msg);
		if (rc == MB_NEED_MORE)
			assert_int_equal(rsp.need, v[i].need_or_len);
		else if (v[i].need_or_len)
			assert_int_equal(rsp.frame_len, v[i].need_or_len);
		if (v[i].msg && !strstr(e.msg, v[i].msg))
			fail_msg("%s: message '%s' lacks '%s'", v[i].name, e.msg, v[i].msg);
	}
}

static void test_tcp_decode(void **state)
{
	(void)state;
	const struct mb_request rq = {.tid = 0x0102, .unit = 1, .func = 3, .addr = 0, .count = 2};
	static const struct dec_vec v[] = {
	        {"ok", F("\x01\x02\x00\x00\x00\x07\x01\x03\x04\x01\xf4\xff\x9c"), MB_REGISTERS, 13,
	         NULL},
	        {"ok, unit 255", F("\x01\x02\x00\x00\x00\x07\xff\x03\x04\x01\xf4\xff\x9c"),
	         MB_REGISTERS, 13, NULL},
	        {"ok, trailing bytes of the next frame",
	         F("\x01\x02\x00\x00\x00\x07\x01\x03\x04\x01\xf4\xff\x9c\x01\x03"), MB_REGISTERS,
	         13, NULL},
	        {"exception 2", F("\x01\x02\x00\x00\x00\x03\x01\x83\x02"), MB_EXCEPTION, 9,
	         "illegal data address"},
	        {"exception 0x0b", F("\x01\x02\x00\x00\x00\x03\x01\x83\x0b"), MB_EXCEPTION, 9,
	         "gateway target"},
	        {"empty", "", 0, MB_NEED_MORE, 9, NULL},
	        {"header only", F("\x01\x02\x00\x00\x00\x07\x01"), MB_NEED_MORE, 13, NULL},
	        {"half", F("\x01\x02\x00\x00\x00\x07\x01\x03\x04\x01"), MB_NEED_MORE, 13, NULL},
	        {"late answer", F("\x01\x01\x00\x00\x00\x07\x01\x03\x04\x00\x00\x00\x00"), MB_OTHER,
	         13, "transaction 257"},
	        {"late answer, still arriving", F("\x01\x01\x00\x00\x00\x07\x01\x03"), MB_NEED_MORE,
	         13, NULL},
	        {"protocol id", F("\x01\x02\x00\x01"), MB_ERROR, 0, "protocol id 1"},
	        {"http", F("HTTP/1.1 400"), MB_ERROR, 0, "protocol id"},
	        {"length 2", F("\x01\x02\x00\x00\x00\x02"), MB_ERROR, 0, "length field 2"},
	        {"length 255", F("\x01\x02\x00\x00\x00\xff\x01"), MB_ERROR, 0, "length field 255"},
	        {"function 4 to 3", F("\x01\x02\x00\x00\x00\x07\x01\x04"), MB_ERROR, 0,
	         "function 0x04"},
	        {"exception of another function", F("\x01\x02\x00\x00\x00\x03\x01\x84\x02"),
	         MB_ERROR, 0, "function 0x84"},
	        {"exception too long", F("\x01\x02\x00\x00\x00\x04\x01\x83\x02\x00"), MB_ERROR, 0,
	         "exception answer of 3"},
	        {"byte count vs length", F("\x01\x02\x00\x00\x00\x07\x01\x03\x06\x01\xf4\xff\x9c"),
	         MB_ERROR, 0, "byte count 6"},
	        {"fewer registers", F("\x01\x02\x00\x00\x00\x05\x01\x03\x02\x01\xf4"), MB_ERROR, 0,
	         "asked for 2"},
	        {"no byte count", F("\x01\x02\x00\x00\x00\x03\x01\x03\x00"), MB_ERROR, 0,
	         "asked for 2"},
	};
	run_vectors(v, sizeof(v) / sizeof(v[0]), &rq, false);
	struct mb_response rsp;
	struct err e;
	assert_int_equal(mb_tcp_decode(&rq, (const uint8_t *)v[0].frame, v[0].len, &rsp, &e),
	                 MB_REGISTERS);
	assert_int_equal(rsp.nregs, 2);
	assert_int_equal(rsp.regs[0], 500);
	assert_int_equal(rsp.regs[1], 0xff9c);
	assert_int_equal(rsp.tid, 0x0102);
	/* every proper prefix of a good answer needs more, and says how much */
	for (size_t n = 0; n < v[0].len; n++) {
		assert_int_equal(mb_tcp_decode(&rq, (const uint8_t *)v[0].frame, n, &rsp, &e),
		                 MB_NEED_MORE);
		assert_true(rsp.need > n && rsp.need <= 13);
	}
}

static void test_rtu_decode(void **state)
{
	(void)state;
	const struct mb_request rq = {.unit = 1, .func = 4, .addr = 12, .count = 2};
	/* CRCs computed by tests/fixtures/modbus/gen_modbus.py's crc16_modbus. */
	static const struct dec_vec v[] = {
	        {"ok", F("\x01\x04\x04\x43\x66\x80\x00\x6f\xdf"), MB_REGISTERS, 9, NULL},
	        {"exception 2", F("\x01\x84\x02\xc2\xc1"), MB_EXCEPTION, 5, "illegal data address"},
	        {"exception bad crc", F("\x01\x84\x02\xc2\xc2"), MB_ERROR, 0, "CRC mismatch"},
	        {"bad crc", F("\x01\x04\x04\x43\x66\x80\x00\x6f\xde"), MB_ERROR, 0, "CRC"},
	        {"other unit", F("\x02\x04\x04\x43\x66\x80\x00\x5c\xdf"), MB_OTHER, 9, "unit 2"},
	        {"one byte", F("\x01"), MB_NEED_MORE, 5, NULL},
	        {"exception prefix", F("\x01\x84\x02"), MB_NEED_MORE, 5, NULL},
	        {"partial", F("\x01\x04\x04\x43\x66"), MB_NEED_MORE, 9, NULL},
	        {"wrong function early", F("\x01\x03"), MB_ERROR, 0, "function 0x03"},
	        {"odd byte count", F("\x01\x04\x03"), MB_ERROR, 0, "byte count 3"},
	        {"byte count 252", F("\x01\x04\xfc"), MB_ERROR, 0, "byte count 252"},
	        {"noise", F("\x00\xff\xff\xff\xff"), MB_ERROR, 0, "function 0xff"},
	        {"count mismatch", F("\x01\x04\x02\x43\x66\x08\x2a"), MB_ERROR, 0, "asked for 2"},
	};
	run_vectors(v, sizeof(v) / sizeof(v[0]), &rq, true);
	struct mb_response rsp;
	struct err e;
	assert_int_equal(mb_rtu_decode(&rq, (const uint8_t *)v[0].frame, v[0].len, &rsp, &e),
	                 MB_REGISTERS);
	assert_int_equal(rsp.regs[0], 0x4366);
	assert_int_equal(rsp.regs[1], 0x8000);
	assert_int_equal(mb_rtu_decode(&rq, (const uint8_t *)"\x01\x84\x02\xc2\xc1", 5, &rsp, &e),
	                 MB_EXCEPTION);
	assert_int_equal(rsp.exception, 2);
	for (size_t n = 0; n < v[0].len; n++)
		assert_int_equal(mb_rtu_decode(&rq, (const uint8_t *)v[0].frame, n, &rsp, &e),
		                 MB_NEED_MORE);
}

/* Recorded-looking fixtures decode whole; the exceptions name their code. */
static void test_fixture_frames(void **state)
{
	(void)state;
	size_t len;
	struct mb_response rsp;
	struct err e;
	char *b = pmt_load("modbus/sdm630_rtu.bin", &len);
	struct mb_request rq = {.unit = 1, .func = 4, .addr = 12, .count = 42};
	assert_int_equal(mb_rtu_decode(&rq, (uint8_t *)b, len, &rsp, &e), MB_REGISTERS);
	assert_int_equal(rsp.nregs, 42);
	assert_int_equal(rsp.frame_len, len);
	free(b);
	b = pmt_load("modbus/ksem_tcp.bin", &len);
	rq = (struct mb_request){.tid = 7, .unit = 1, .func = 3, .addr = 0, .count = 124};
	assert_int_equal(mb_tcp_decode(&rq, (uint8_t *)b, len, &rsp, &e), MB_REGISTERS);
	assert_int_equal(rsp.nregs, 124);
	free(b);
	b = pmt_load("modbus/exception_tcp.bin", &len);
	rq = (struct mb_request){.tid = 0x0102, .unit = 1, .func = 3, .addr = 9, .count = 2};
	assert_int_equal(mb_tcp_decode(&rq, (uint8_t *)b, len, &rsp, &e), MB_EXCEPTION);
	assert_non_null(strstr(e.msg, "0x02 (illegal data address) reading 2 registers at 9"));
	free(b);
	b = pmt_load("modbus/exception_rtu.bin", &len);
	rq = (struct mb_request){.unit = 1, .func = 4, .addr = 9, .count = 2};
	assert_int_equal(mb_rtu_decode(&rq, (uint8_t *)b, len, &rsp, &e), MB_EXCEPTION);
	free(b);
	assert_string_equal(mb_exception_name(0x42), "unknown exception");
}

/* Registers of one value and what each type/order combination reads from them. */
struct val_vec {
	uint16_t regs[4];
	enum mb_type type;
	enum mb_order bo, wo;
	double want;
};

static void test_values(void **state)
{
	(void)state;
	static const struct val_vec v[] = {
	        /* pymodbus: registers packed big endian; byte LITTLE swaps within each
	         * register, word LITTLE reverses the registers; then read big endian. */
	        {{500}, MB_UINT16, MB_BIG, MB_BIG, 500},
	        {{500}, MB_INT16, MB_BIG, MB_BIG, 500},
	        {{0xff9c}, MB_INT16, MB_BIG, MB_BIG, -100},
	        {{0xff9c}, MB_UINT16, MB_BIG, MB_BIG, 65436},
	        {{0x9cff}, MB_INT16, MB_LITTLE, MB_BIG, -100},
	        {{0x9cff}, MB_INT16, MB_LITTLE, MB_LITTLE, -100}, /* word order: no effect */
	        {{0x8000}, MB_INT16, MB_BIG, MB_BIG, -32768},
	        {{0x0001, 0x0002}, MB_UINT32, MB_BIG, MB_BIG, 65538},
	        {{0x0002, 0x0001}, MB_UINT32, MB_BIG, MB_LITTLE, 65538},
	        {{0x0100, 0x0200}, MB_UINT32, MB_LITTLE, MB_BIG, 65538},
	        {{0x0200, 0x0100}, MB_UINT32, MB_LITTLE, MB_LITTLE, 65538},
	        {{0xffff, 0xfe0c}, MB_INT32, MB_BIG, MB_BIG, -500},
	        {{0xfe0c, 0xffff}, MB_INT32, MB_BIG, MB_LITTLE, -500},
	        {{0xffff, 0x0cfe}, MB_INT32, MB_LITTLE, MB_BIG, -500},
	        {{0x0cfe, 0xffff}, MB_INT32, MB_LITTLE, MB_LITTLE, -500},
	        {{0xffff, 0xfe0c}, MB_UINT32, MB_BIG, MB_BIG, 4294966796.0},
	        {{0x4120, 0x0000}, MB_FLOAT32, MB_BIG, MB_BIG, 10.0}, /* the reference's test */
	        {{0x0000, 0x4120}, MB_FLOAT32, MB_BIG, MB_LITTLE, 10.0},
	        {{0x2041, 0x0000}, MB_FLOAT32, MB_LITTLE, MB_BIG, 10.0},
	        {{0x0000, 0x2041}, MB_FLOAT32, MB_LITTLE, MB_LITTLE, 10.0},
	        {{0xc2f6, 0xe979}, MB_FLOAT32, MB_BIG, MB_BIG, -123.456001281738},
	        {{0x0000, 0x0000, 0x0001, 0x0000}, MB_UINT64, MB_BIG, MB_BIG, 65536},
	        {{0x0000, 0x0001, 0x0000, 0x0000}, MB_UINT64, MB_BIG, MB_LITTLE, 65536},
	        {{0xffff, 0xffff, 0xffff, 0xfc18}, MB_INT64, MB_BIG, MB_BIG, -1000},
	        {{0x18fc, 0xffff, 0xffff, 0xffff}, MB_INT64, MB_LITTLE, MB_LITTLE, -1000},
	        {{0x4093, 0x4a00, 0x0000, 0x0000}, MB_FLOAT64, MB_BIG, MB_BIG, 1234.5},
	        {{0x0000, 0x0000, 0x4a00, 0x4093}, MB_FLOAT64, MB_BIG, MB_LITTLE, 1234.5},
	        {{0x0000, 0x0000, 0x004a, 0x9340}, MB_FLOAT64, MB_LITTLE, MB_LITTLE, 1234.5},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct mb_format f = {v[i].type, v[i].bo, v[i].wo};
		double got = 0;
		struct err e = {{0}};
		if (mb_decode_value(v[i].regs, 4, &f, &got, &e) != 0)
			fail_msg("vector %zu: %s", i, e.msg);
		if (fabs(got - v[i].want) > 1e-6)
			fail_msg("vector %zu (%s): got %.9g want %.9g", i, mb_type_name(v[i].type),
			         got, v[i].want);
	}
	/* too few registers, not a number */
	struct mb_format f = {MB_FLOAT32, MB_BIG, MB_BIG};
	static const uint16_t nan_regs[2] = {0x7fc0, 0x0000}, inf_regs[2] = {0xff80, 0};
	double d;
	struct err e;
	assert_int_equal(mb_decode_value(nan_regs, 1, &f, &d, &e), -1);
	assert_non_null(strstr(e.msg, "needs 2 registers"));
	assert_int_equal(mb_decode_value(nan_regs, 2, &f, &d, &e), -1);
	assert_non_null(strstr(e.msg, "not a number"));
	assert_int_equal(mb_decode_value(inf_regs, 2, &f, &d, &e), -1);
	f.type = MB_FLOAT64;
	static const uint16_t nan64[4] = {0x7ff8, 0, 0, 0};
	assert_int_equal(mb_decode_value(nan64, 4, &f, &d, &e), -1);
}

static void test_parse_words(void **state)
{
	(void)state;
	enum mb_type t;
	enum mb_order o;
	enum mb_regtype r;
	struct err e;
	assert_int_equal(mb_type_parse(" float32 ", &t, &e), 0);
	assert_int_equal(t, MB_FLOAT32);
	assert_int_equal(mb_type_parse("UINT64", &t, &e), 0);
	assert_int_equal(t, MB_UINT64);
	assert_int_equal(mb_type_parse("FLOAT", &t, &e), -1);
	assert_non_null(strstr(e.msg, "'FLOAT'"));
	assert_int_equal(mb_type_parse("", &t, &e), -1);
	assert_int_equal(mb_order_parse("little", &o, &e), 0);
	assert_int_equal(o, MB_LITTLE);
	assert_int_equal(mb_order_parse("BIG", &o, &e), 0);
	assert_int_equal(o, MB_BIG);
	assert_int_equal(mb_order_parse("MIDDLE", &o, &e), -1);
	assert_int_equal(mb_regtype_parse("Input", &r, &e), 0);
	assert_int_equal(mb_regtype_func(r), 4);
	assert_int_equal(mb_regtype_parse("HOLDING", &r, &e), 0);
	assert_int_equal(mb_regtype_func(r), 3);
	assert_int_equal(mb_regtype_parse("COIL", &r, &e), -1);
	assert_int_equal(mb_type_regs(MB_INT16), 1);
	assert_int_equal(mb_type_regs(MB_FLOAT32), 2);
	assert_int_equal(mb_type_regs(MB_FLOAT64), 4);
}

static void test_block_and_cover(void **state)
{
	(void)state;
	/* three phases as FLOAT32 at 12, 14, 16 of a block read from 10 */
	uint16_t regs[8] = {0, 0, 0x4366, 0x8000, 0xc2f0, 0x0000, 0x44bb, 0x8000};
	struct mb_format f = {MB_FLOAT32, MB_BIG, MB_BIG};
	double w;
	struct err e;
	assert_int_equal(mb_block_value(regs, 8, 10, 12, &f, 1.0, &w, &e), 0);
	assert_float_equal(w, 230.5, 1e-9);
	assert_int_equal(mb_block_value(regs, 8, 10, 14, &f, 10.0, &w, &e), 0);
	assert_float_equal(w, -1200.0, 1e-9);
	assert_int_equal(mb_block_value(regs, 8, 10, 16, &f, -1.0, &w, &e), 0);
	assert_float_equal(w, -1500.0, 1e-9);
	assert_int_equal(mb_block_value(regs, 8, 10, 17, &f, 1.0, &w, &e), -1);
	assert_non_null(strstr(e.msg, "outside the read block 10..17"));
	assert_int_equal(mb_block_value(regs, 8, 10, 9, &f, 1.0, &w, &e), -1);

	uint16_t base, count;
	static const uint16_t ph[3] = {16, 12, 14};
	assert_int_equal(mb_cover(ph, 3, MB_FLOAT32, &base, &count, &e), 0);
	assert_int_equal(base, 12);
	assert_int_equal(count, 6);
	static const uint16_t far[2] = {0, 124};
	assert_int_equal(mb_cover(far, 2, MB_INT16, &base, &count, &e), 0);
	assert_int_equal(count, 125);
	assert_int_equal(mb_cover(far, 2, MB_FLOAT32, &base, &count, &e), -1);
	assert_non_null(strstr(e.msg, "more than 125"));
	static const uint16_t top[1] = {65535};
	assert_int_equal(mb_cover(top, 1, MB_FLOAT32, &base, &count, &e), -1);
	assert_int_equal(mb_cover(top, 0, MB_INT16, &base, &count, &e), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_crc_check_values), cmocka_unit_test(test_encode),
	        cmocka_unit_test(test_tcp_decode),       cmocka_unit_test(test_rtu_decode),
	        cmocka_unit_test(test_fixture_frames),   cmocka_unit_test(test_values),
	        cmocka_unit_test(test_parse_words),      cmocka_unit_test(test_block_and_cover),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
