/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Shelly Pro 3EM / EM gen3 / Pro EM50 JSON-RPC-over-UDP codec, pure: it parses a
 * battery's EM.GetStatus / EM1.GetStatus datagram and formats the reply into a caller
 * buffer. Replies must match what the reference (Python) sends byte for byte, because
 * Marstek firmware only accepts JSON numbers with a decimal point: per-phase values are
 * rounded to 0.1 W, totals to 0.001 W, and an integral value gets 0.001 added (the
 * "decimal point enforcer"); numbers print like Python's repr() (shortest round-trip) and
 * rounding is Python's round() (exact, half-to-even). No I/O, no clock, no allocation.
 *
 * The request is read by a small strict JSON scanner rather than cJSON: we need the raw
 * text of the "id" value to echo it with its original type, and we must tell the integer
 * 1 from 1.0 (upstream answers only if params.id is a Python int), both of which a
 * double-based parse tree loses; the scanner also follows Python's grammar where cJSON is
 * lax (it accepts "+1", "01", control bytes as blanks). */
#ifndef ASTRAMETER_SHELLY_H
#define ASTRAMETER_SHELLY_H

#include <stddef.h>
#include <stdint.h>
#include "astrameter/emu.h"

/* Longest datagram we look at; real requests are under 100 bytes. */
#define SHELLY_MAX_DATAGRAM 2048
/* Longest request "id" (its JSON text, compacted) we echo. */
#define SHELLY_MAX_ID 128
/* Nesting deeper than this is refused (real requests nest two levels). */
#define SHELLY_MAX_DEPTH 32
/* A reply always fits in this many bytes (id, device id and numbers are bounded). */
#define SHELLY_REPLY_MAX 1024
/* Longest device id accepted (its JSON-escaped form must fit SHELLY_MAX_DEVID_JSON). */
#define SHELLY_MAX_DEVID      96
#define SHELLY_MAX_DEVID_JSON (6 * SHELLY_MAX_DEVID + 3)
enum shelly_method {
	SHELLY_EM_GET_STATUS = 1,  /* "EM.GetStatus": a/b/c and total */
	SHELLY_EM1_GET_STATUS = 2, /* "EM1.GetStatus": total only */
};

/* Why a datagram gets no reply (or SHELLY_REQ_OK). */
enum shelly_verdict {
	SHELLY_REQ_OK = 0,
	SHELLY_REQ_TOO_LONG,       /* longer than SHELLY_MAX_DATAGRAM */
	SHELLY_REQ_NOT_UTF8,       /* not strict UTF-8 (upstream ignores these silently) */
	SHELLY_REQ_BAD_JSON,       /* not one JSON value (upstream logs "Invalid JSON") */
	SHELLY_REQ_NO_PARAMS_ID,   /* params.id missing or not an integer: not for us */
	SHELLY_REQ_NO_ID,          /* no top-level "id" to echo */
	SHELLY_REQ_ID_TOO_LONG,    /* id text longer than SHELLY_MAX_ID */
	SHELLY_REQ_UNKNOWN_METHOD, /* any method but EM.GetStatus / EM1.GetStatus */
};

struct shelly_request {
	enum shelly_method method;
	size_t id_len;
	/* The request's "id" value as JSON text (original type and spelling; whitespace
	 * outside strings removed), NUL-terminated. */
	char id[SHELLY_MAX_ID + 1];
};

/* Parses one datagram (buf need not be NUL-terminated). Accepts what Python's
 * data.decode() + json.loads() accept (strict UTF-8, RFC 8259 JSON; not NaN/Infinity,
 * not lone \\u surrogates, nesting up to SHELLY_MAX_DEPTH) and, like upstream, answers only
 * an object whose params is an object whose "id" is an integer (JSON integer literal or,
 * as Python's isinstance(True, int) has it, true/false). Duplicate keys: the last wins.
 * Fills *out only on SHELLY_REQ_OK. */
enum shelly_verdict shelly_parse_request(const void *buf, size_t len, struct shelly_request *out);

/* A short English phrase for a verdict, for logs. */
const char *shelly_verdict_str(enum shelly_verdict v);

/* Per-phase value as upstream sends it: 0.001 if |p| < 0.1, else p (+0.001 if integral)
 * rounded to one decimal. */
double shelly_phase_value(double p);

/* Total as upstream sends it: round(sum, 3), +0.001 if that is integral (also 0). */
double shelly_total_value(double sum);

/* Writes s as a JSON string literal (with quotes) like Python's json.dumps with
 * ensure_ascii: non-ASCII as \\uXXXX (surrogate pairs above U+FFFF). Returns the length,
 * or -1 if s is not valid UTF-8 or the result does not fit. */
int shelly_json_string(const char *s, char *buf, size_t len);

/* Formats the whole reply for req: {"id":..,"src":"<device id>","dst":"unknown",
 * "result":{..}}, compact. w/n are the meter's values (grid W, import positive): EM maps 1
 * value to [v,0,0], 3 values as they are, any other count to zeros; EM1 sums all n
 * values. Returns the length (no NUL counted; buf is NUL-terminated) or -1 if a value or
 * the sum is not finite (upstream raises and sends nothing), the device id is not valid
 * UTF-8, or the reply does not fit len (SHELLY_REPLY_MAX always fits). */
int shelly_format_reply(const struct shelly_request *req, const char *device_id, const double *w,
                        unsigned n, char *buf, size_t len);

/* --- The emulator (src/emulators/shelly.c), normally reached through emu_shelly_ops ---
 *
 * Device types and their UDP ports: shellypro3em 1010 and 2220 (one device id on both;
 * older B2500/Jupiter/Venus firmware polls 1010, B2500 >= 226 polls 2220),
 * shellypro3em_old 1010, shellypro3em_new 2220, shellyemg3 2222, shellyproem50 2223. */
#define SHELLY_MAX_PORTS 2
/* Batteries tracked per port for the detected / inactive / reconnected logs. */
#define SHELLY_MAX_BATTERIES 16
/* Requests parked while the meter fetches (per device), at most one per source address and
 * port (#542); more are dropped. SHELLY_SLOTS_KNOWN of them are kept for the batteries a
 * port already tracks: an address never heard before cannot take those. */
#define SHELLY_SLOTS_KNOWN (SHELLY_MAX_PORTS * SHELLY_MAX_BATTERIES)
#define SHELLY_SLOTS       (2 * SHELLY_SLOTS_KNOWN)
/* A battery unheard for this long is logged as inactive (upstream: 120 s). */
#define SHELLY_INACTIVE_MS 120000

/* The ports a device type listens on; returns how many (0 = not a Shelly type). */
size_t shelly_type_ports(const char *device_type, uint16_t ports[SHELLY_MAX_PORTS]);

/* Like emu_shelly_ops.create but with explicit ports (0 = any free port), for tests that
 * cannot bind 1010. n must be 1..SHELLY_MAX_PORTS. */
void *shelly_emu_create_ports(const struct emu_env *env, const char *device_type,
                              const char *device_id, const uint16_t *ports, size_t n,
                              struct err *e);
/* The port actually bound for the i-th listener after start() (0 if not bound). */
uint16_t shelly_emu_bound_port(const void *self, size_t i);

#endif
