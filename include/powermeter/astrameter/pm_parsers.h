/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Pure response parsers and protocol helpers of the HTTP-polled powermeters (Shelly,
 * Tasmota, SHRDZM, EMLOG, ioBroker, vzlogger, ESPHome, AMIS reader, TQ EM, Fronius,
 * FRITZ!Box, Envoy). Each takes a response body with its length (not NUL-terminated),
 * never does I/O and never reads a clock, so it is unit-tested against recorded device
 * responses and fuzzed. On failure it returns -1 and leaves one line in e saying what was
 * wrong with the body ("missing field 'power'", "body is not valid JSON", ...).
 *
 * Numbers follow the reference: sources that read with Python's int() truncate fractional
 * watts and accept integer strings ("200") but not "12.5"; float() sources accept numeric
 * strings too. Magnitudes above PM_PARSE_MAX_W are rejected as garbage. */
#ifndef ASTRAMETER_PM_PARSERS_H
#define ASTRAMETER_PM_PARSERS_H

#include <stdbool.h>
#include <stddef.h>
#include "astrameter/err.h"
#include "astrameter/ev.h"
#include "astrameter/reading.h"

struct cJSON;

/* No household meter reads a gigawatt: larger values are parse errors. */
#define PM_PARSE_MAX_W 1e9

/* ---- shared JSON helpers (pmj_) ---- */

/* Parses body as JSON. NULL with e = "empty body" / "body is not valid JSON". The caller
 * frees the result with cJSON_Delete. */
struct cJSON *pmj_parse(const char *body, size_t len, struct err *e);
/* pmj_parse, and the top level must be an object ("expected a JSON object"). */
struct cJSON *pmj_parse_object(const char *body, size_t len, struct err *e);
/* Object member by exact key; NULL with e = "missing field 'key'" (also when obj is not an
 * object: "expected an object around 'key'"). */
const struct cJSON *pmj_member(const struct cJSON *obj, const char *key, struct err *e);
/* Python int(): number truncated toward zero, bool as 0/1, integer string. what names the
 * field in the error. Rejects null, non-finite and |v| > PM_PARSE_MAX_W. */
int pmj_int(const struct cJSON *v, const char *what, double *out, struct err *e);
/* Python float(): number, bool, or numeric string; finite and |v| <= PM_PARSE_MAX_W. */
int pmj_float(const struct cJSON *v, const char *what, double *out, struct err *e);
/* Python float() of a text (surrounding blanks allowed), same limits. */
int pmj_float_text(const char *s, size_t len, const char *what, double *out, struct err *e);
/* application/x-www-form-urlencoded escaping of in (as Python's quote_plus: letters,
 * digits and "_.-~" kept, space as '+', the rest %XX). Returns 0, or -1 if cap is too
 * small (out then holds a truncated, terminated prefix). */
int pmj_urlencode(const char *in, char *out, size_t cap);

/* ---- SHELLY ---- */

enum pm_shelly_type {
	PM_SHELLY_1PM,     /* /meter/<i> or /status meters[] */
	PM_SHELLY_PLUS1PM, /* /rpc/Switch.GetStatus?id=0 apower */
	PM_SHELLY_EM,      /* EM and 3EM: /emeter/<i> or /status emeters[] */
	PM_SHELLY_3EMPRO,  /* /rpc/EM.GetStatus?id=0 */
};

/* Maps the TYPE key ("1PM", "PLUS1PM", "EM", "3EM", "3EMPro"; exact case as upstream).
 * 0/-1. */
int pm_shelly_type_parse(const char *s, enum pm_shelly_type *out);
/* Parses a Shelly response. indexed: METER_INDEX was set (body is one meter object).
 * Gen1 lists give one value per meter; 3EMPro gives a/b/c_act_power when all three are
 * present (beyond the reference, which returns only the total), else total_act_power. */
int pm_shelly_parse(const char *body, size_t len, enum pm_shelly_type type, bool indexed,
                    struct pm_reading *out, struct err *e);

/* ---- TASMOTA ---- */

struct pm_tasmota_cfg {
	const char *status;        /* JSON_STATUS, e.g. "StatusSNS" */
	const char *prefix;        /* JSON_PAYLOAD_MQTT_PREFIX, e.g. "ENERGY" */
	bool calculate;            /* JSON_POWER_CALCULATE: values are in - out per pair */
	const char *const *labels; /* JSON_POWER_MQTT_LABEL list (calculate = false) */
	size_t n_labels;
	const char *const *in, *const *out; /* pairs (calculate = true) */
	size_t n_pairs;
};

int pm_tasmota_parse(const char *body, size_t len, const struct pm_tasmota_cfg *cfg,
                     struct pm_reading *out, struct err *e);

/* ---- SHRDZM, EMLOG, ESPHOME, AMIS_READER ---- */

/* "1.7.0" - "2.7.0". */
int pm_shrdzm_parse(const char *body, size_t len, struct pm_reading *out, struct err *e);
/* "Leistung170", minus "Leistung270" when calculate. */
int pm_emlog_parse(const char *body, size_t len, bool calculate, struct pm_reading *out,
                   struct err *e);
/* "value". */
int pm_esphome_parse(const char *body, size_t len, struct pm_reading *out, struct err *e);
/* "saldo". */
int pm_amisreader_parse(const char *body, size_t len, struct pm_reading *out, struct err *e);

/* ---- IOBROKER ---- */

struct pm_iobroker_cfg {
	const char *current_alias; /* CURRENT_POWER_ALIAS */
	bool calculate;            /* POWER_CALCULATE */
	const char *input_alias, *output_alias;
};

/* getBulk answer: a list of {"id","val"}. Without calculate the current alias must be
 * present; with calculate a missing alias counts as 0 (as the reference). */
int pm_iobroker_parse(const char *body, size_t len, const struct pm_iobroker_cfg *cfg,
                      struct pm_reading *out, struct err *e);

/* ---- VZLOGGER ---- */

/* One channel body: data[0].tuples[0][1] as int. */
int pm_vzlogger_parse(const char *body, size_t len, double *w, struct err *e);

/* ---- FRONIUS ---- */

/* Head.Status.Code must be 0 (absent = 0); Body.Data.PowerReal_P_Sum, or with per_phase
 * PowerReal_P_Phase_1..3 (absent phase = 0). */
int pm_fronius_parse(const char *body, size_t len, bool per_phase, struct pm_reading *out,
                     struct err *e);

/* ---- TQ_EM (TQ Energy Manager) ---- */

/* The login/read flow as a pure state machine: the driver asks what to send, sends it,
 * and feeds the answer back. A session is (re)established when none exists, after 30 min
 * without use, and once when data.php answers 401/403 or status >= 900. */
#define PM_TQ_EM_MAX_IDLE_MS (30 * 60 * 1000)

enum pm_tq_em_action {
	PM_TQ_EM_GET_START,  /* GET /start.php */
	PM_TQ_EM_POST_LOGIN, /* POST /start.php, form body from pm_tq_em_login_form() */
	PM_TQ_EM_GET_DATA,   /* GET /mum-webservice/data.php */
	PM_TQ_EM_DONE,       /* *out holds the reading */
	PM_TQ_EM_FAIL,       /* e says why; the session is dropped */
};

struct pm_tq_em_sm {
	enum pm_tq_em_action pending; /* request in flight */
	bool have_session;
	bool relogged; /* this poll already re-logged in once */
	char serial[64];
	ev_ms last_use;
};

/* Starts a poll at now; returns the first request to make. */
enum pm_tq_em_action pm_tq_em_sm_begin(struct pm_tq_em_sm *sm, ev_ms now);
/* Feeds the answer to the pending request (status 0 = transport failure, then body may
 * be NULL). Returns the next request, PM_TQ_EM_DONE (out filled) or PM_TQ_EM_FAIL (e set). */
enum pm_tq_em_action pm_tq_em_sm_step(struct pm_tq_em_sm *sm, long status, const char *body,
                                      size_t len, struct pm_reading *out, struct err *e);
/* Form body of the login POST: login=<serial>&save_login=1[&password=<pw>]. 0/-1. */
int pm_tq_em_login_form(const struct pm_tq_em_sm *sm, const char *password, char *out, size_t cap);
/* data.php payload: per phase 21/41/61.4.0 minus 22/42/62.4.0 if any phase key is
 * present, else 1.4.0 minus 2.4.0; absent keys count 0. Returns 0, 1 if the session has
 * expired (status >= 900), -1 on error. */
int pm_tq_em_parse_data(const char *body, size_t len, struct pm_reading *out, struct err *e);

/* ---- FRITZ (FRITZ!Box AHA interface) ---- */

#define PM_FRITZ_INVALID_SID "0000000000000000"

/* Removes every blank from ain and appends "-1" unless it ends in "-<digits>". -1 if the
 * result is empty or does not fit. */
int pm_fritz_normalize_ain(const char *ain, char *out, size_t cap, struct err *e);
/* Challenge response for login_sid.lua: "2$it1$salt1$it2$salt2" -> PBKDF2-SHA256 twice,
 * "<salt2>$<hex>"; anything else -> legacy "<chal>-<md5(utf16le(chal-password))>". */
int pm_fritz_login_response(const char *challenge, const char *password, char *out, size_t cap,
                            struct err *e);
/* SessionInfo XML: SID (absent = invalid SID), Challenge (may be empty), BlockTime. */
int pm_fritz_parse_session(const char *body, size_t len, char *sid, size_t sid_cap, char *challenge,
                           size_t chal_cap, long *block_time, struct err *e);
/* getdevicelistinfos XML: the device whose identifier (blanks removed) equals ain (already
 * normalised); its powermeter/power in mW, returned in W. */
int pm_fritz_parse_devicelist(const char *body, size_t len, const char *ain, double *w,
                              struct err *e);

/* ---- ENVOY (Enphase IQ Gateway) ---- */

/* production.json: the consumption[] entry with measurementType "net-consumption";
 * lines[:3].wNow when lines is a non-empty list, else wNow. */
int pm_envoy_parse(const char *body, size_t len, struct pm_reading *out, struct err *e);
/* Enlighten login answer: the session_id string. */
int pm_envoy_parse_login(const char *body, size_t len, char *session_id, size_t cap, struct err *e);
/* entrez answer: the trimmed text must look like a JWT (starts "eyJ", exactly two dots). */
int pm_envoy_check_jwt(const char *body, size_t len, char *token, size_t cap, struct err *e);

/* ---- TIBBER_PULSE ---- */

struct pm_sml_obis_cfg;

/* A Pulse Bridge mirrors a push source, so a poll sometimes catches an incomplete or
 * CRC-bad telegram; the last good reading is reused for up to this long (#518). */
#define PM_TIBBER_PULSE_STALE_MS 15000

struct pm_tibber_pulse_cache {
	struct pm_reading last;
	ev_ms last_good;
	bool have;
};

/* Decodes a /data.json body (raw SML bytes) at now. A frame without the power registers
 * gives [0] as the reference does. An undecodable body reuses the cached reading while it
 * is at most PM_TIBBER_PULSE_STALE_MS old, else -1 with e set. 0 = out filled. */
int pm_tibber_pulse_decode(struct pm_tibber_pulse_cache *c, const unsigned char *body, size_t len,
                           const struct pm_sml_obis_cfg *obis, ev_ms now, struct pm_reading *out,
                           struct err *e);

#endif
