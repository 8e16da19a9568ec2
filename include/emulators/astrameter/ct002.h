/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The CT002/CT003 smart-meter emulator, in three layers:
 *  - a pure frame codec (SOH STX <length> |f1|f2... ETX <xor checksum>), with every rule a real
 *    battery's frames need and hard caps on frame size, field count and field length;
 *  - pure CT logic over a fixed consumer table: one call updates the requesting battery's
 *    record, another builds the 24-field response from the meter values (or a hold), with
 *    time passed in, so both are unit-tested without sockets;
 *  - the emulator glue (emu_ct002_ops in emu.h): UDP socket, dedupe, meter routing, parked
 *    requests, the 5 s eviction timer.
 * With ACTIVE_CONTROL the core asks the balancer (balancer.h) for every request's values;
 * without it it relays the meter. See docs/ct002-protocol.md for the wire format and
 * docs/ct002.md for active control. */
#ifndef ASTRAMETER_CT002_H
#define ASTRAMETER_CT002_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "astrameter/balancer.h"
#include "astrameter/config.h"
#include "astrameter/err.h"
#include "astrameter/ev.h"
#include "astrameter/reading.h"

/* ---- codec ------------------------------------------------------------------------------ */

#define CT002_SOH 0x01
#define CT002_STX 0x02
#define CT002_ETX 0x03

/* Longest datagram we decode. Real frames are 50..130 bytes; upstream would take up to the
 * 9999 its length field allows, we stop far earlier so garbage costs nothing. */
#define CT002_MAX_FRAME 1024
/* Most fields in a frame (requests have 6 or 7, responses 24, a real CT003 28). */
#define CT002_MAX_FIELDS 32
/* Longest field content in bytes (a MAC is 12, a device type <= 10). */
#define CT002_FIELD_MAX 64
/* Fields in our response. */
#define CT002_RESP_FIELDS 24
/* |reported power| above this (W) rejects the datagram (upstream keeps any big integer). */
#define CT002_POWER_LIMIT 1000000L

enum ct002_err {
	CT002_OK = 0,
	CT002_E_SHORT = -1,       /* fewer than 10 bytes */
	CT002_E_TOO_LONG = -2,    /* more than CT002_MAX_FRAME bytes */
	CT002_E_START = -3,       /* no SOH STX */
	CT002_E_NO_SEP = -4,      /* no '|' after the start bytes */
	CT002_E_LEN_FIELD = -5,   /* length is not an integer */
	CT002_E_LENGTH = -6,      /* length != datagram size */
	CT002_E_ETX = -7,         /* no ETX before the checksum */
	CT002_E_CHECKSUM = -8,    /* checksum mismatch */
	CT002_E_ASCII = -9,       /* a body byte >= 0x80 */
	CT002_E_FIELDS = -10,     /* more than CT002_MAX_FIELDS fields */
	CT002_E_FIELD_LEN = -11,  /* a field longer than CT002_FIELD_MAX */
	CT002_E_FEW_FIELDS = -12, /* a request with fewer than 4 fields */
	CT002_E_POWER = -13,      /* power is an integer beyond CT002_POWER_LIMIT */
};

/* A field inside the decoded datagram: bytes data[off .. off+len). */
struct ct002_span {
	uint16_t off, len;
};

/* A decoded frame; spans point into the caller's datagram buffer (no copy). */
struct ct002_frame {
	size_t n;
	struct ct002_span f[CT002_MAX_FIELDS];
};

/* A string with a length (fields may legally contain any ASCII byte, NUL included). */
struct ct002_str {
	const char *p;
	size_t len;
};

/* Short name of a ct002_err, for debug logs. */
const char *ct002_strerror(int err);

/* XOR of len bytes. */
uint8_t ct002_checksum(const uint8_t *p, size_t len);

/* Decodes one datagram into fields. Applies upstream's parser rules (length counts its own
 * digits and is read like Python int(), ASCII body, checksum compared case-insensitively
 * with a space accepted for the high nibble, trailing empty field kept) plus our caps.
 * Returns CT002_OK or a negative enum ct002_err; fr is valid only on CT002_OK. */
int ct002_decode(const uint8_t *buf, size_t len, struct ct002_frame *fr);

/* Total frame length for a body of body_len bytes ('|'-prefixed fields): the length field
 * counts its own digits. Returns 0 if the frame would exceed 9999 bytes. */
size_t ct002_frame_len(size_t body_len);

/* Encodes n fields into out (lower-case checksum). Returns the frame length, or -1 if it does
 * not fit in cap or would exceed 9999 bytes. Fields are written as given (no escaping). */
int ct002_encode(const struct ct002_str *fields, size_t n, uint8_t *out, size_t cap);

/* Python's int() on an ASCII string: blanks (\t\n\v\f\r and space) around, optional sign,
 * digits with single '_' between digits. Returns 0 and *out if valid and |value| <= limit,
 * 1 if valid but beyond limit, -1 if not an integer. */
int ct002_parse_pyint(const char *s, size_t len, long limit, long *out);

/* Python round(x) for a float: round half to even. */
double ct002_round_half_even(double x);
/* str(round(x)) into buf. -1 if x is not finite or |x| >= 1e15 (upstream would raise and
 * not answer at all), else the string length. */
int ct002_format_round(double x, char *buf, size_t len);
/* Python round(x, 1) (correctly rounded to one decimal, ties to even). */
double ct002_round1(double x);

/* The part of a request the CT logic needs, copied out of the datagram so a request can be
 * parked while the meter is read. */
#define CT002_REQ_FIELDS 7
struct ct002_request {
	size_t n_fields; /* fields in the frame (>= 4) */
	size_t len[CT002_REQ_FIELDS];
	char f[CT002_REQ_FIELDS][CT002_FIELD_MAX + 1]; /* NUL-terminated copies */
	char phase;        /* 'A' 'B' 'C', 'D' (combined) or '0' (inspection / unassigned) */
	long power;        /* field 5 as int, 0 if absent or not an integer (upstream) */
	bool participates; /* field 6 absent, blank, non-integer or non-zero */
};

/* Decodes a battery request: ct002_decode, at least 4 fields, then phase, power and
 * participate parsed like upstream. Returns CT002_OK or a negative enum ct002_err. */
int ct002_request_parse(const uint8_t *buf, size_t len, struct ct002_request *req);

/* ---- CT logic ---------------------------------------------------------------------------- */

/* Consumers we track (the real CT has 9 slots; upstream is unbounded). */
#define CT002_MAX_CONSUMERS 32
/* Consumer id: lower-cased battery MAC, or "a.b.c.d:port" when the MAC is empty. */
#define CT002_ID_MAX         CT002_FIELD_MAX
#define CT002_CLEANUP_MS     5000
#define CT002_TTL_MIN_S      5.0
#define CT002_TTL_FALLBACK_S 30.0
#define CT002_TTL_POLL_MULT  2.0
#define CT002_POLL_EMA_ALPHA 0.3
/* Consumers that have polled only once, beyond which they count as a flood of made-up ids:
 * then none of them is counted in another battery's reply or given a share by the
 * balancer until it polls a second time. */
#define CT002_NEWCOMERS_MAX 8
/* Slots one source address may hold by default ([CT002] MAX_CONSUMERS_PER_ADDRESS): each
 * real battery polls from its own IP, so an address with more is inventing ids. */
#define CT002_PER_ADDR_DEFAULT 4

enum ct002_bucket_idx { CT002_BX = 0, CT002_BA, CT002_BB, CT002_BC, CT002_BABC, CT002_NBUCKETS };

struct ct002_bucket {
	long long chrg;  /* sum of negative powers (<= 0) */
	long long dchrg; /* sum of positive powers (>= 0) */
	unsigned count;  /* participating, live consumers in the bucket */
	bool active;     /* any non-zero power */
};

struct ct002_consumer {
	bool used;
	char id[CT002_ID_MAX + 1];
	char dev_type[CT002_FIELD_MAX + 1];
	char phase; /* 'A' 'B' 'C' 'D' '0' */
	long power; /* last reported, + = discharge */
	bool participates;
	double ts;            /* seconds (now_ms / 1000) of the last accepted request */
	double poll_interval; /* EMA in s, rounded to 0.1 */
	bool have_poll;
	double values[3]; /* last meter values served (for "no meter matches") */
	bool have_values;
	double last_instructed; /* reported + delta sent (diagnostic in relay mode) */
	uint32_t ip;            /* host byte order */
	uint16_t port;
	uint64_t seq; /* creation order: the balancer sees consumers first-seen first */
	/* It took the slot of a once-seen consumer of its own address, which was at its
	 * cap: that address invents ids, and its once-seen consumers do not count. */
	bool churn;
};

struct ct002_core_cfg {
	char ct_type[8];                  /* "HME-4" (ct002) or "HME-3" (ct003) */
	char ct_mac[CT002_FIELD_MAX + 1]; /* empty = answer any CT MAC and echo it */
	long wifi_rssi;
	long consumer_ttl;     /* seconds; < 0 = adaptive */
	unsigned per_addr_max; /* slots one source address may hold; 0 = CT002_PER_ADDR_DEFAULT */
};

struct ct002_core {
	struct ct002_core_cfg cfg;
	/* Active control: the balancer that decides every non-hold answer while
	 * bal_active_control() is on (not owned). NULL = relay only. */
	struct balancer *bal;
	struct ct002_consumer c[CT002_MAX_CONSUMERS];
	unsigned info_idx; /* 0..255 */
	uint64_t next_seq;
};

/* Where the response values come from. */
enum ct002_src {
	CT002_SRC_METER,    /* a reading (r != NULL): serve and remember it */
	CT002_SRC_NO_METER, /* no meter routes to this battery: last served values, or zeros */
	CT002_SRC_HOLD,     /* the meter failed: zeros, so the battery holds (issue #403) */
};

/* What ct002_core_update() noticed, for the caller to log. */
enum ct002_update_ev {
	CT002_UPD_NONE = 0,
	CT002_UPD_PHASE_DETECTED, /* first A/B/C/D phase of this consumer */
	CT002_UPD_PHASE_CHANGED,  /* old_phase -> new phase */
	CT002_UPD_NEW,            /* a new consumer (no phase yet) */
};

/* How a new consumer got its slot, or why it got none. */
enum ct002_admit {
	CT002_ADMIT_KNOWN = 0, /* already in the table */
	CT002_ADMIT_FREE,      /* a free slot */
	CT002_ADMIT_EXPIRED,   /* the slot of a consumer past its TTL */
	CT002_ADMIT_OWN_ONCE,  /* its address was at its cap: its own oldest once-seen one */
	CT002_ADMIT_ONCE,      /* the table was full: the oldest once-seen consumer */
	CT002_REFUSED_ADDR,    /* its address holds its cap of established batteries */
	CT002_REFUSED_FULL,    /* every slot holds a live established battery */
};

struct ct002_update {
	enum ct002_update_ev ev;
	char old_phase;
	bool refused;             /* no slot for this newcomer: not recorded (still answered) */
	enum ct002_admit admit;   /* how it got its slot, or why not */
	struct ct002_consumer *c; /* NULL when refused */
};

/* Values actually sent, and what the balancer asked for, for the caller. */
struct ct002_resp_info {
	double meter[3]; /* values before control (zeros on hold) */
	double sent[3];  /* values in fields 4..6 */
	unsigned info_idx;
	bool steered;       /* the balancer decided sent[] */
	bool reset_filters; /* a probe handoff ended: reset the powermeter filter chains */
	unsigned events;    /* enum bal_event bits of this step */
	bool alone;         /* id not in the table: answered as if it were alone */
};

/* Initialises an empty core (relay until ct002_core_set_balancer). */
void ct002_core_init(struct ct002_core *core, const struct ct002_core_cfg *cfg);

/* Attaches the balancer (not owned; NULL detaches). Whether it steers follows its live
 * ACTIVE_CONTROL switch (bal_active_control). */
void ct002_core_set_balancer(struct ct002_core *core, struct balancer *bal);
/* Active control is on: a balancer is attached and its switch is on. */
bool ct002_core_active(const struct ct002_core *core);

/* Every known consumer (expired but not yet removed ones included, like upstream; during a
 * newcomer flood without the newcomers other than self_id) as
 * balancer reports, in first-seen order, into out (CT002_MAX_CONSUMERS entries). The
 * reports point into the core's table. If self_id is known, *self gets its index.
 * Returns the count. */
size_t ct002_core_reports(const struct ct002_core *core, struct bal_report *out,
                          const char *self_id, size_t *self);

/* CT_MAC policy: empty = accept any; else request field 3 must equal it ignoring ASCII case
 * (an empty field 3 never matches; the 000000000000 wildcard is not special). */
bool ct002_core_mac_ok(const struct ct002_core *core, const struct ct002_request *req);

/* Consumer id of a request into out (CT002_ID_MAX + 1 bytes): lower-cased field 1, or
 * "a.b.c.d:port" (ip in host order) when field 1 is empty. Returns its length. */
size_t ct002_consumer_id(const struct ct002_request *req, uint32_t ip, uint16_t port, char *out,
                         size_t cap);

/* Finds a consumer by id (NULL if unknown). */
struct ct002_consumer *ct002_core_find(struct ct002_core *core, const char *id);

/* Records an accepted request at now: phase, power, device type, participate, address and
 * the poll-interval EMA. A new consumer is admitted like this (upd->admit says which):
 *  - its source address already holds per_addr_max consumers: the address's own expired
 *    one, else its own oldest once-seen one (polled once only), else it is refused;
 *  - else a free slot, else the expired one silent longest, else the oldest once-seen one
 *    of any address, else it is refused.
 * An established battery (polled more than once) that is live is never evicted. A refused
 * newcomer is not recorded (upd->refused); ct002_core_respond answers it as if it were
 * alone. Fills *upd (may be NULL). */
void ct002_core_update(struct ct002_core *core, const struct ct002_request *req, const char *id,
                       uint32_t ip, uint16_t port, ev_ms now, struct ct002_update *upd);

/* Slots one source address may hold: cfg.per_addr_max, or CT002_PER_ADDR_DEFAULT if 0. */
unsigned ct002_core_per_addr_max(const struct ct002_core *core);

/* Seconds of silence after which c counts as gone (CONSUMER_TTL or adaptive). */
double ct002_consumer_ttl(const struct ct002_core *core, const struct ct002_consumer *c);
bool ct002_consumer_expired(const struct ct002_core *core, const struct ct002_consumer *c,
                            ev_ms now);

/* Whether c counts for the other batteries (buckets, balancer reports): it has polled more
 * than once, or there is no newcomer flood (more than CT002_NEWCOMERS_MAX consumers that
 * have polled once) and its address does not invent ids (no once-seen consumer of it got
 * its slot by pushing out a sibling at the per-address cap). */
bool ct002_consumer_counts(const struct ct002_core *core, const struct ct002_consumer *c);

/* Per-bucket sums over participating, live consumers (x, A, B, C, ABC); during a newcomer
 * flood without the newcomers (a reply's own battery is always counted). */
void ct002_core_buckets(const struct ct002_core *core, ev_ms now,
                        struct ct002_bucket out[CT002_NBUCKETS]);

/* Builds the response to req from consumer id into out: resolves the values (src/r); in
 * active mode runs bal_step with every consumer's report (meter_ok = src != HOLD), whose
 * values replace them (steered targets, raw values for inspection, zeros on a hold);
 * records last_instructed, builds the 24 fields, encodes them and advances info_idx. An id
 * not in the table (a refused newcomer, or one whose slot went while it waited) is answered
 * as if it were alone, touching nothing else: relay values (zeros for NO_METER/HOLD), the
 * hold answer in active mode, counts and buckets of its own report only. Returns the
 * frame length, or -1 if a value cannot be formatted or the frame does not fit (nothing is sent
 * then, info_idx unchanged). info may be NULL. */
int ct002_core_respond(struct ct002_core *core, const struct ct002_request *req, const char *id,
                       enum ct002_src src, const struct pm_reading *r, ev_ms now, uint8_t *out,
                       size_t cap, struct ct002_resp_info *info);

/* The 24 response fields for values[3] (already the values to send), without encoding and
 * without advancing info_idx; num holds the numeric fields' text. -1 if a value cannot be
 * formatted. Exposed for tests. */
struct ct002_fields {
	struct ct002_str f[CT002_RESP_FIELDS];
	char num[CT002_RESP_FIELDS][24];
};
int ct002_core_fields(const struct ct002_core *core, const struct ct002_request *req,
                      const double values[3], ev_ms now, struct ct002_fields *out);

/* Removes consumers past their TTL (and their balancer state; their user controls stay).
 * Returns how many were removed. */
unsigned ct002_core_expire(struct ct002_core *core, ev_ms now);

/* Whole request handling without sockets or dedupe: decode, CT_MAC, update, respond (a
 * refused newcomer is answered as if alone). Returns the response length, 0 if the request
 * is dropped (bad frame, CT MAC mismatch), or -1 if no response could be built. For tests
 * and fuzzing. */
int ct002_core_handle(struct ct002_core *core, const uint8_t *buf, size_t len, uint32_t ip,
                      uint16_t port, enum ct002_src src, const struct pm_reading *r, ev_ms now,
                      uint8_t *out, size_t cap);

/* ---- per-battery controls (the internal API the MQTT commands call) ---------------------- */

enum ct002_ctl {
	CT002_CTL_ACTIVE,         /* value != 0: steered; 0: paused (steered to 0 W) */
	CT002_CTL_AUTO_TARGET,    /* value != 0: auto; 0: manual target */
	CT002_CTL_MANUAL_TARGET,  /* W, + = discharge; does not switch to manual */
	CT002_CTL_WEIGHT,         /* distribution weight, [0,10] */
	CT002_CTL_EFF_WEIGHT,     /* efficiency-window weight, [0,1] */
	CT002_CTL_MIN_DC_OUTPUT,  /* W >= 0 (any device type) */
	CT002_CTL_FORCE_ROTATION, /* rotate the efficiency priority now; id and value unused */
	CT002_CTL_ACTIVE_CONTROL, /* device-level live switch, value != 0 = on; id unused */
};

/* Name of a control ("active", "auto_target", ...), for logs. */
const char *ct002_ctl_name(enum ct002_ctl what);

/* Applies one control to the attached balancer at now (consumer_id: lower-case MAC or
 * "ip:port", as in the consumer table; it need not be known yet). 0, or -1 with e set
 * (no balancer, bad or non-finite value, bad id, control table full). */
int ct002_core_control(struct ct002_core *core, const char *consumer_id, enum ct002_ctl what,
                       double value, ev_ms now, struct err *e);

/* ---- emulator ---------------------------------------------------------------------------- */

/* A running CT002/CT003 device: the handle emu_ct002_ops.create() returned. */
struct ct002_emu;

/* ct002_core_control() on the device at the loop's now; if it changed anything that is
 * persisted, the state file is rewritten atomically on the next loop round (a deferred
 * timer, never inside the caller; a write failure is logged, the control still applies;
 * a pending write is done at the latest when the device is destroyed). For the MQTT
 * command handler. 0/-1 with e set. */
int ct002_emu_control(struct ct002_emu *emu, const char *consumer_id, enum ct002_ctl what,
                      double value, struct err *e);
/* The device's balancer (always present; read-only use for insights) and core. */
const struct balancer *ct002_emu_balancer(const struct ct002_emu *emu);
const struct ct002_core *ct002_emu_core(const struct ct002_emu *emu);
/* The state file path ("" = no persistence). */
const char *ct002_emu_state_file(const struct ct002_emu *emu);

/* Reads every active-control key of a [CT002]/[CT003] section (s may be NULL: all
 * defaults) into c, for bal_create(). Integer keys (BALANCE_DEADBAND, PACE_BASE_STEP,
 * ...) refuse "12.5" like upstream's getint. Errors name section, key and value. 0/-1. */
int ct002_bal_config_load(struct bal_config *c, struct cfg_section *s, struct err *e);

/* Upstream [CT002]/[CT003] keys we accept but do not implement yet (cloud reporting),
 * lower case, NULL-terminated; for cfg_warn_unused(). */
extern const char *const ct002_later_keys[];

#endif
