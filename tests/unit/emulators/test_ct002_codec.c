/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests of the CT002/CT003 frame codec (ct002_codec.c): the reference's golden vectors,
 * decoder edge cases whose accept/reject verdicts were recorded from the reference parser,
 * our own caps (size, field count, field length, power), encoder round trips, the length
 * field that counts its own digits, Python int() and round() compatibility. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "astrameter/ct002.h"
#include "ct002_golden.h"

static void field_eq(const uint8_t *buf, const struct ct002_span *sp, const char *want)
{
	if (sp->len != strlen(want) || memcmp(buf + sp->off, want, sp->len) != 0)
		fail_msg("field '%.*s' != '%s'", (int)sp->len, (const char *)buf + sp->off, want);
}

static void test_golden_decode(void **state)
{
	(void)state;
	for (size_t g = 0; g < sizeof(golden) / sizeof(golden[0]); g++) {
		uint8_t buf[CT002_MAX_FRAME];
		size_t len = unhex(golden[g].hex, buf, sizeof(buf));
		struct ct002_frame fr;
		int rc = ct002_decode(buf, len, &fr);
		if (rc != CT002_OK)
			fail_msg("%s: %s", golden[g].name, ct002_strerror(rc));
		assert_int_equal(fr.n, golden[g].n);
		for (size_t i = 0; i < fr.n; i++)
			field_eq(buf, &fr.f[i], golden[g].fields[i]);
	}
}

static void test_golden_encode(void **state)
{
	(void)state;
	for (size_t g = 0; g < sizeof(golden) / sizeof(golden[0]); g++) {
		struct ct002_str s[24];
		for (size_t i = 0; i < golden[g].n; i++) {
			s[i].p = golden[g].fields[i];
			s[i].len = strlen(golden[g].fields[i]);
		}
		uint8_t want[CT002_MAX_FRAME], out[CT002_MAX_FRAME];
		size_t wlen = unhex(golden[g].hex, want, sizeof(want));
		int n = ct002_encode(s, golden[g].n, out, sizeof(out));
		assert_int_equal(n, (int)wlen);
		assert_memory_equal(out, want, wlen);
	}
}

/* The space-for-high-nibble mutation of the last golden vector decodes; we never emit it. */
static void test_golden_space_mutation(void **state)
{
	(void)state;
	size_t g = sizeof(golden) / sizeof(golden[0]) - 1;
	uint8_t buf[CT002_MAX_FRAME];
	size_t len = unhex(golden[g].hex, buf, sizeof(buf));
	assert_int_not_equal(buf[len - 2], ' ');
	buf[len - 2] = ' ';
	struct ct002_frame fr;
	assert_int_equal(ct002_decode(buf, len, &fr), CT002_OK);
	assert_int_equal(fr.n, 6);
	field_eq(buf, &fr.f[0], "HMG-50");
}

/* ---- edge cases: verdicts recorded from the reference parser (parse_request) ------------- */

static const struct {
	const char *name;
	const char *hex;
	int ok;
	int nfields;
} edge[] = {
        {"good",
         "010235307c484d472d35307c4141424243434444454546467c484d452d347c3131323233333434353536367c4"
         "17c37033430",
         1, 6},
        {"upper_cs",
         "010235307c484d472d35307c4141424243434444454546467c484d452d347c3131323233333434353536367c4"
         "17c38033446",
         1, 6},
        {"lower_cs",
         "010235307c484d472d35307c4141424243434444454546467c484d452d347c3131323233333434353536367c4"
         "17c38033466",
         1, 6},
        {"bad_cs",
         "010235307c484d472d35307c4141424243434444454546467c484d452d347c3131323233333434353536367c4"
         "17c37033431",
         0, -1},
        {"short9", "010235307c484d472d", 0, -1},
        {"ten_bytes", "010231307c616203", 0, -1},
        {"min_frame", "0102397c6162033436", 0, -1},
        {"min_empty", "0102377c033462", 0, -1},
        {"no_soh",
         "000235307c484d472d35307c4141424243434444454546467c484d452d347c3131323233333434353536367c4"
         "17c37033430",
         0, -1},
        {"no_stx",
         "010035307c484d472d35307c4141424243434444454546467c484d452d347c3131323233333434353536367c4"
         "17c37033430",
         0, -1},
        {"no_sep", "01023132616263646566033030", 0, -1},
        {"len_wrong", "010233307c484d472d35307c417c427c43033239", 0, -1},
        {"len_junk", "010233787c484d472d35307c417c427c43033631", 0, -1},
        {"len_empty", "01027c484d472d35307c417c427c43033261", 0, -1},
        {"len_nonascii", "0102d9a57c484d472d35307c417c427c43033536", 0, -1},
        {"no_etx", "010232307c484d472d35307c417c427c43043266", 0, -1},
        {"nonascii_body", "010232317c484d472d35307c417cc3a97c43033031", 0, -1},
        {"ctrl_body", "010231387c484d00477c417c017c7f033734", 1, 4},
        {"trailing_empty",
         "010234397c484d472d35307c4141424243434444454546467c484d452d347c3131323233333434353536367c4"
         "17c033766",
         1, 6},
        {"all_empty", "010231317c7c7c7c033030", 1, 4},
        {"three_fields", "010231337c617c627c63033165", 1, 3},
        {"cs_nonhex",
         "010235307c484d472d35307c4141424243434444454546467c484d452d347c3131323233333434353536367c4"
         "17c37037a7a",
         0, -1},
        {"cs_high_byte",
         "010235307c484d472d35307c4141424243434444454546467c484d452d347c3131323233333434353536367c4"
         "17c3703ffff",
         0, -1},
        {"etx_in_body", "010231377c6103627c637c647c65033634", 1, 4},
        {"soh_in_body", "010231387c610102627c637c647c65033662", 1, 4},
        {"pipe_in_len", "01027c317c327c3303", 0, -1},
        {"len_space", "01022032317c484d472d35307c417c427c43033039", 1, 4},
        {"len_space_after", "01023231207c484d472d35307c417c427c43033039", 1, 4},
        {"len_plus", "01022b32317c484d472d35307c417c427c43033032", 1, 4},
        {"len_zero_pad", "01023032317c484d472d35307c417c427c43033139", 1, 4},
        {"len_underscore", "0102325f317c484d472d35307c417c427c43033736", 1, 4},
        {"len_neg", "01022d32317c484d472d35307c417c427c43033034", 0, -1},
        {"len_tab", "01020932317c484d472d35307c417c427c43033230", 1, 4},
        {"len_fs", "01021c32317c484d472d35307c417c427c43033335", 0, -1},
        {"space_cs_hi0",
         "010235327c484d472d353061217c4141424243434444454546467c484d452d347c31313232333334343535363"
         "67c417c31032034",
         1, 6},
        {"space_hi_upper_lo",
         "010235327c484d472d353041487c4141424243434444454546467c484d452d347c31313232333334343535363"
         "67c417c31032044",
         1, 6},
        {"upper_lo",
         "010235327c484d472d353041487c4141424243434444454546467c484d452d347c31313232333334343535363"
         "67c417c31033444",
         1, 6},
        {"space_lo",
         "010235327c484d472d353041487c4141424243434444454546467c484d452d347c31313232333334343535363"
         "67c417c31033420",
         0, -1},
        {"space_both",
         "010235327c484d472d353041487c4141424243434444454546467c484d452d347c31313232333334343535363"
         "67c417c31032020",
         0, -1},
        {"tab_hi",
         "010235327c484d472d353041487c4141424243434444454546467c484d452d347c31313232333334343535363"
         "67c417c31030964",
         0, -1},
        {"wrong_hi",
         "010235327c484d472d353041487c4141424243434444454546467c484d452d347c31313232333334343535363"
         "67c417c31033164",
         0, -1},
};

static void test_edge_cases_match_reference(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
		uint8_t buf[CT002_MAX_FRAME];
		size_t len = unhex(edge[i].hex, buf, sizeof(buf));
		struct ct002_frame fr;
		int rc = ct002_decode(buf, len, &fr);
		if ((rc == CT002_OK) != (edge[i].ok == 1))
			fail_msg("%s: got %s, reference %s", edge[i].name, ct002_strerror(rc),
			         edge[i].ok ? "accepts" : "rejects");
		if (rc == CT002_OK && (int)fr.n != edge[i].nfields)
			fail_msg("%s: %zu fields, reference %d", edge[i].name, fr.n,
			         edge[i].nfields);
	}
}

static void test_specific_errors(void **state)
{
	(void)state;
	static const struct {
		const char *hex;
		int err;
	} t[] = {
	        {"010235307c484d472d", CT002_E_SHORT},
	        {"000235307c484d472d35307c4141424243434444454546467c484d452d347c3131323233333434353"
	         "536367c417c37033430",
	         CT002_E_START},
	        {"01023132616263646566033030", CT002_E_NO_SEP},
	        {"010233787c484d472d35307c417c427c43033631", CT002_E_LEN_FIELD},
	        {"010233307c484d472d35307c417c427c43033239", CT002_E_LENGTH},
	        {"010232307c484d472d35307c417c427c43043266", CT002_E_ETX},
	        {"010235307c484d472d35307c4141424243434444454546467c484d452d347c3131323233333434353"
	         "536367c417c37033431",
	         CT002_E_CHECKSUM},
	        {"010232317c484d472d35307c417cc3a97c43033031", CT002_E_ASCII},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint8_t buf[256];
		size_t len = unhex(t[i].hex, buf, sizeof(buf));
		struct ct002_frame fr;
		assert_int_equal(ct002_decode(buf, len, &fr), t[i].err);
	}
	for (int e = 0; e >= -14; e--)
		assert_non_null(ct002_strerror(e));
}

/* Uppercase checksum letters are accepted; the encoder writes lower case. */
static void test_checksum_case(void **state)
{
	(void)state;
	for (int p = 0; p < 400; p++) {
		char pw[8];
		snprintf(pw, sizeof(pw), "%d", p - 200);
		struct ct002_str s[6] = {{"HMG-50", 6}, {"AABBCCDDEEFF", 12},
		                         {"HME-4", 5},  {"112233445566", 12},
		                         {"A", 1},      {pw, strlen(pw)}};
		uint8_t buf[128];
		int n = ct002_encode(s, 6, buf, sizeof(buf));
		assert_true(n > 0);
		for (int k = n - 2; k < n; k++)
			assert_false(buf[k] >= 'A' && buf[k] <= 'F');
		struct ct002_frame fr;
		assert_int_equal(ct002_decode(buf, (size_t)n, &fr), CT002_OK);
		for (int k = n - 2; k < n; k++)
			if (buf[k] >= 'a' && buf[k] <= 'f')
				buf[k] = (uint8_t)(buf[k] - 32);
		assert_int_equal(ct002_decode(buf, (size_t)n, &fr), CT002_OK);
		/* A space for the high nibble is fine, for the low one it is not. */
		uint8_t hi = buf[n - 2], lo = buf[n - 1];
		buf[n - 2] = ' ';
		assert_int_equal(ct002_decode(buf, (size_t)n, &fr), CT002_OK);
		buf[n - 2] = hi;
		buf[n - 1] = ' ';
		assert_int_equal(ct002_decode(buf, (size_t)n, &fr), CT002_E_CHECKSUM);
		buf[n - 1] = lo;
		/* Any single flipped body bit breaks the checksum (or the frame). */
		buf[n - 5] ^= 0x01;
		assert_int_not_equal(ct002_decode(buf, (size_t)n, &fr), CT002_OK);
	}
	const uint8_t b[] = {CT002_SOH, CT002_STX, '0', '0', CT002_ETX};
	assert_int_equal(ct002_checksum(b, sizeof(b)), 0x01 ^ 0x02 ^ 0x30 ^ 0x30 ^ 0x03);
	assert_int_equal(ct002_checksum(b, 0), 0);
}

/* ---- caps ------------------------------------------------------------------------------- */

static int encode_fields(const char *const *f, size_t n, uint8_t *out, size_t cap)
{
	struct ct002_str s[CT002_MAX_FIELDS + 4];
	for (size_t i = 0; i < n; i++) {
		s[i].p = f[i];
		s[i].len = strlen(f[i]);
	}
	return ct002_encode(s, n, out, cap);
}

static void test_garbage_64k(void **state)
{
	(void)state;
	size_t len = 65536;
	uint8_t *buf = malloc(len);
	assert_non_null(buf);
	uint32_t x = 12345;
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (uint8_t)(x >> 16);
	}
	buf[0] = CT002_SOH;
	buf[1] = CT002_STX;
	struct ct002_frame fr;
	assert_int_equal(ct002_decode(buf, len, &fr), CT002_E_TOO_LONG);
	/* Garbage of every short length is rejected without reading past the end. */
	for (size_t n = 0; n < 2000; n++) {
		uint8_t *exact = malloc(n ? n : 1);
		assert_non_null(exact);
		memcpy(exact, buf, n);
		assert_int_not_equal(ct002_decode(exact, n, &fr), CT002_OK);
		free(exact);
	}
	free(buf);
}

static void test_frame_size_cap(void **state)
{
	(void)state;
	/* 16 fields of 60 bytes plus one of L: total = 986 + L bytes. At the cap (L = 38) the
	 * frame decodes; one byte more is refused before anything else is looked at. */
	static char fld[17][61];
	const char *f[17];
	for (int i = 0; i < 17; i++) {
		memset(fld[i], 'a' + i, 60);
		fld[i][60] = '\0';
		f[i] = fld[i];
	}
	uint8_t out[2 * CT002_MAX_FRAME];
	struct ct002_frame fr;
	fld[16][38] = '\0';
	int n = encode_fields(f, 17, out, sizeof(out));
	assert_int_equal(n, CT002_MAX_FRAME);
	assert_int_equal(ct002_decode(out, (size_t)n, &fr), CT002_OK);
	assert_int_equal(fr.n, 17);
	fld[16][38] = 'q';
	fld[16][39] = '\0';
	n = encode_fields(f, 17, out, sizeof(out));
	assert_int_equal(n, CT002_MAX_FRAME + 1);
	assert_int_equal(ct002_decode(out, (size_t)n, &fr), CT002_E_TOO_LONG);
}

static void test_field_caps(void **state)
{
	(void)state;
	uint8_t out[4 * CT002_MAX_FRAME];
	struct ct002_frame fr;
	static char longf[CT002_FIELD_MAX + 2];
	memset(longf, 'm', CT002_FIELD_MAX);
	longf[CT002_FIELD_MAX] = '\0';
	const char *f[] = {"HMG-50", longf, "HME-4", "112233445566", "A", "1"};
	int n = encode_fields(f, 6, out, sizeof(out));
	assert_int_equal(ct002_decode(out, (size_t)n, &fr), CT002_OK);
	assert_int_equal(fr.f[1].len, CT002_FIELD_MAX);
	longf[CT002_FIELD_MAX] = 'm';
	longf[CT002_FIELD_MAX + 1] = '\0';
	n = encode_fields(f, 6, out, sizeof(out));
	assert_int_equal(ct002_decode(out, (size_t)n, &fr), CT002_E_FIELD_LEN);

	const char *many[CT002_MAX_FIELDS + 1];
	for (size_t i = 0; i < CT002_MAX_FIELDS + 1; i++)
		many[i] = "1";
	n = encode_fields(many, CT002_MAX_FIELDS, out, sizeof(out));
	assert_int_equal(ct002_decode(out, (size_t)n, &fr), CT002_OK);
	assert_int_equal(fr.n, CT002_MAX_FIELDS);
	n = encode_fields(many, CT002_MAX_FIELDS + 1, out, sizeof(out));
	assert_int_equal(ct002_decode(out, (size_t)n, &fr), CT002_E_FIELDS);
}

static void test_request_parse(void **state)
{
	(void)state;
	uint8_t out[CT002_MAX_FRAME];
	struct ct002_request req;
	static const struct {
		const char *power;
		int rc;
		long want;
	} t[] = {
	        {"1000000", CT002_OK, 1000000},
	        {"-1000000", CT002_OK, -1000000},
	        {"1000001", CT002_E_POWER, 0},
	        {"-1000001", CT002_E_POWER, 0},
	        {"10000000000000000000000000000000000000000000000000000000000000", CT002_E_POWER,
	         0},
	        {"1000000000000000000000000000000000000000000000000000000000000x", CT002_OK, 0},
	        {"0000000000000000000000000000000000000000000000000000000000042", CT002_OK, 42},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *f[] = {"HMG-50", "AABBCCDDEEFF", "HME-4", "112233445566",
		                   "A",      t[i].power};
		int n = encode_fields(f, 6, out, sizeof(out));
		memset(&req, 0x55, sizeof(req));
		int rc = ct002_request_parse(out, (size_t)n, &req);
		assert_int_equal(rc, t[i].rc);
		if (rc == CT002_OK)
			assert_int_equal(req.power, t[i].want);
	}
	/* Fewer than 4 fields: dropped. */
	const char *f3[] = {"HMG-50", "AABBCCDDEEFF", "HME-4"};
	int n = encode_fields(f3, 3, out, sizeof(out));
	assert_int_equal(ct002_request_parse(out, (size_t)n, &req), CT002_E_FEW_FIELDS);
	/* 8 fields: the first 7 are kept, the count is remembered. */
	const char *f8[] = {"HMJ-2", "AABBCCDDEEFF", "HME-4", "112233445566", "C", "-5", "0", "z"};
	n = encode_fields(f8, 8, out, sizeof(out));
	assert_int_equal(ct002_request_parse(out, (size_t)n, &req), CT002_OK);
	assert_int_equal(req.n_fields, 8);
	assert_string_equal(req.f[0], "HMJ-2");
	assert_string_equal(req.f[6], "0");
	assert_int_equal(req.phase, 'C');
	assert_int_equal(req.power, -5);
	assert_false(req.participates);
	/* A bad frame is reported as such. */
	out[0] = 0;
	assert_int_equal(ct002_request_parse(out, (size_t)n, &req), CT002_E_START);
}

/* ---- encoder ---------------------------------------------------------------------------- */

static void test_frame_len(void **state)
{
	(void)state;
	/* (body length, total) pairs from the reference's compute_length. */
	static const size_t t[][2] = {
	        {0, 6},      {1, 7},       {2, 8},       {3, 9},      {4, 11},     {5, 12},
	        {6, 13},     {90, 97},     {91, 98},     {92, 99},    {93, 101},   {94, 102},
	        {95, 103},   {990, 998},   {991, 999},   {992, 1001}, {993, 1002}, {994, 1003},
	        {995, 1004}, {9989, 9998}, {9990, 9999}, {9991, 0},   {9992, 0},   {9993, 0}};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(ct002_frame_len(t[i][0]), t[i][1]);
}

static void test_encode_limits(void **state)
{
	(void)state;
	uint8_t out[64];
	struct ct002_str s[1] = {{"abc", 3}};
	assert_int_equal(ct002_encode(s, 1, out, 11), 11);
	assert_int_equal(ct002_encode(s, 1, out, 10), -1);
	assert_int_equal(ct002_encode(NULL, 0, out, sizeof(out)), 6);
	static char huge[10000];
	memset(huge, 'h', sizeof(huge));
	struct ct002_str h[1] = {{huge, 9990}};
	static uint8_t bigout[12000];
	assert_int_equal(ct002_encode(h, 1, bigout, sizeof(bigout)), -1); /* 9991 body bytes */
	h[0].len = 9989;
	assert_int_equal(ct002_encode(h, 1, bigout, sizeof(bigout)), 9999);
}

/* Random fields (printable ASCII without '|', fixed seed) survive encode/decode. */
static void test_round_trip(void **state)
{
	(void)state;
	uint32_t x = 42;
	for (int iter = 0; iter < 2000; iter++) {
		char buf[CT002_MAX_FIELDS][CT002_FIELD_MAX + 1];
		struct ct002_str s[CT002_MAX_FIELDS];
		x = x * 1664525u + 1013904223u;
		size_t n = 1 + (x >> 8) % 12;
		for (size_t i = 0; i < n; i++) {
			x = x * 1664525u + 1013904223u;
			size_t len = (x >> 8) % 20;
			for (size_t k = 0; k < len; k++) {
				x = x * 1664525u + 1013904223u;
				char ch = (char)(0x20 + (x >> 12) % 0x5f);
				buf[i][k] = ch == '|' ? '/' : ch;
			}
			s[i].p = buf[i];
			s[i].len = len;
		}
		uint8_t out[CT002_MAX_FRAME];
		int len = ct002_encode(s, n, out, sizeof(out));
		assert_true(len > 0);
		if (len < 10)
			continue;
		struct ct002_frame fr;
		assert_int_equal(ct002_decode(out, (size_t)len, &fr), CT002_OK);
		assert_int_equal(fr.n, n);
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(fr.f[i].len, s[i].len);
			assert_memory_equal(out + fr.f[i].off, s[i].p, s[i].len);
		}
	}
}

/* ---- Python number semantics ------------------------------------------------------------ */

static void test_pyint(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		int rc;
		long v;
	} t[] = {
	        {"0", 0, 0},
	        {"42", 0, 42},
	        {"-42", 0, -42},
	        {"+42", 0, 42},
	        {" 42 ", 0, 42},
	        {"\t42\n", 0, 42},
	        {"\v\f\r42", 0, 42},
	        {"0042", 0, 42},
	        {"4_2", 0, 42},
	        {"1_00", 0, 100},
	        {"-0", 0, 0},
	        {"", -1, 0},
	        {" ", -1, 0},
	        {"+", -1, 0},
	        {"-", -1, 0},
	        {"_42", -1, 0},
	        {"42_", -1, 0},
	        {"4__2", -1, 0},
	        {"+ 42", -1, 0},
	        {"4 2", -1, 0},
	        {"12.5", -1, 0},
	        {"0x10", -1, 0},
	        {"\x1c"
	         "42",
	         -1, 0},
	        {"42\x1f", -1, 0},
	        {"++1", -1, 0},
	        {"1e3", -1, 0},
	        {"abc", -1, 0},
	        {"100", 0, 100},
	        {"101", 1, 0},
	        {"-101", 1, 0},
	        {"99999999999999999999999999999999", 1, 0},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		long v = 12345;
		int rc = ct002_parse_pyint(t[i].s, strlen(t[i].s), 100, &v);
		if (rc != t[i].rc)
			fail_msg("'%s': rc %d, want %d", t[i].s, rc, t[i].rc);
		if (rc == 0 && v != t[i].v)
			fail_msg("'%s': %ld, want %ld", t[i].s, v, t[i].v);
	}
	assert_int_equal(ct002_parse_pyint(NULL, 0, 100, NULL), -1);
}

static void test_round_half_even(void **state)
{
	(void)state;
	/* (x, Python round(x)) */
	static const struct {
		double x;
		const char *want;
	} t[] = {
	        {0.5, "0"},
	        {1.5, "2"},
	        {2.5, "2"},
	        {-0.5, "0"},
	        {-1.5, "-2"},
	        {-2.5, "-2"},
	        {0.49999999999999994, "0"},
	        {2.675, "3"},
	        {999999999999999.5, "1000000000000000"},
	        {-0.0, "0"},
	        {249.5, "250"},
	        {250.5, "250"},
	        {-250.5, "-250"},
	        {0.51, "1"},
	        {-0.51, "-1"},
	        {123456.5, "123456"},
	        {7.5, "8"},
	        {8.5, "8"},
	        {-49.999, "-50"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char buf[32];
		assert_true(ct002_format_round(t[i].x, buf, sizeof(buf)) > 0);
		if (strcmp(buf, t[i].want) != 0)
			fail_msg("round(%.17g) = %s, want %s", t[i].x, buf, t[i].want);
	}
	assert_true(ct002_round_half_even(4503599627370495.5) == 4503599627370496.0);
	char buf[32];
	assert_int_equal(ct002_format_round(1e15, buf, sizeof(buf)), -1);
	assert_int_equal(ct002_format_round(-1e300, buf, sizeof(buf)), -1);
	assert_int_equal(ct002_format_round(0.0 / 0.0, buf, sizeof(buf)), -1);
	assert_int_equal(ct002_format_round(1.0 / 0.0, buf, sizeof(buf)), -1);
	assert_int_equal(ct002_format_round(12345.0, buf, 3), -1);
}

static void test_round1(void **state)
{
	(void)state;
	/* (x, Python round(x, 1)) */
	static const double t[][2] = {{0.05, 0.1},
	                              {0.15, 0.1},
	                              {0.25, 0.2},
	                              {0.35, 0.3},
	                              {1.25, 1.2},
	                              {1.45, 1.4},
	                              {2.675, 2.7},
	                              {10.0, 10.0},
	                              {0.95, 0.9},
	                              {3.05, 3.0},
	                              {1.0499999999999998, 1.0},
	                              {12.3456, 12.3},
	                              {-0.05, -0.1},
	                              {-1.25, -1.2}};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (ct002_round1(t[i][0]) != t[i][1])
			fail_msg("round(%.17g, 1) = %.17g, want %.17g", t[i][0],
			         ct002_round1(t[i][0]), t[i][1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_golden_decode),
	        cmocka_unit_test(test_golden_encode),
	        cmocka_unit_test(test_golden_space_mutation),
	        cmocka_unit_test(test_edge_cases_match_reference),
	        cmocka_unit_test(test_specific_errors),
	        cmocka_unit_test(test_checksum_case),
	        cmocka_unit_test(test_garbage_64k),
	        cmocka_unit_test(test_frame_size_cap),
	        cmocka_unit_test(test_field_caps),
	        cmocka_unit_test(test_request_parse),
	        cmocka_unit_test(test_frame_len),
	        cmocka_unit_test(test_encode_limits),
	        cmocka_unit_test(test_round_trip),
	        cmocka_unit_test(test_pyint),
	        cmocka_unit_test(test_round_half_even),
	        cmocka_unit_test(test_round1),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
