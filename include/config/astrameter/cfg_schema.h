/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What upstream AstraMeter v2.2.3 accepts in config.ini, as a const table: every section
 * kind (GENERAL, CT002/CT003, MARSTEK, MQTT_INSIGHTS*, DEFAULT, and the 21 powermeter
 * prefixes the powermeter registry registers) with its keys, and which of them this daemon
 * implements. It lets the daemon
 * tell a user's typo ("unknown key") from a real upstream option we do not have yet ("not
 * supported yet"), so a config written for upstream never fails silently here.
 *
 * Section names are matched like upstream: case-sensitive; GENERAL, CT002, CT003, MARSTEK
 * and DEFAULT exactly; powermeters and MQTT_INSIGHTS by prefix ([SHELLY_garage],
 * [MQTT2]), in upstream's prefix order, with MQTT* never matching MQTT_INSIGHTS*. Keys are
 * matched case-insensitively. */
#ifndef ASTRAMETER_CFG_SCHEMA_H
#define ASTRAMETER_CFG_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include "astrameter/config.h"

enum cfg_kind_class {
	CFG_KIND_GENERAL,
	CFG_KIND_CT, /* [CT002] / [CT003] */
	CFG_KIND_MARSTEK,
	CFG_KIND_INSIGHTS,   /* [MQTT_INSIGHTS*] */
	CFG_KIND_DEFAULT,    /* configparser's [DEFAULT] */
	CFG_KIND_POWERMETER, /* any powermeter prefix */
};

/* Key flags. */
#define CFG_KEY_HERE     0x1u /* implemented by this daemon */
#define CFG_KEY_OBSOLETE 0x2u /* removed upstream in 2.0; both ignore it */
#define CFG_KEY_LOCAL    0x4u /* ours only, upstream does not know it */
#define CFG_KEY_SECRET   0x8u /* its value is a credential (cfg_key_is_secret() agrees) */
#define CFG_KEY_UPSTREAM 0x0u /* upstream has it, this daemon does not (no HERE) */

struct cfg_schema_key {
	const char *name; /* upper case, as users write it */
	unsigned flags;
};

struct cfg_schema_kind {
	const char *name; /* section name, or prefix when prefix is true */
	enum cfg_kind_class cls;
	bool prefix;
	bool here; /* this daemon reads sections of this kind */
	/* Keys every section of the kind also takes (the common powermeter keys NETMASK,
	 * POWER_OFFSET...), or NULL; terminated by a NULL name. */
	const struct cfg_schema_key *common;
	const struct cfg_schema_key *keys; /* terminated by a NULL name */
};

enum cfg_key_status {
	CFG_KEY_UNKNOWN,           /* neither upstream nor we know it (typo?) */
	CFG_KEY_UPSTREAM_ONLY,     /* a real upstream key this daemon does not implement */
	CFG_KEY_SUPPORTED,         /* implemented here */
	CFG_KEY_OBSOLETE_UPSTREAM, /* removed upstream; ignored */
};

/* Most powermeter kinds cfg_schema_set_meter_kinds() takes. */
#define CFG_SCHEMA_MAX_METER_KINDS 32

/* Registers the powermeter section kinds (the powermeter registry builds them from its
 * driver table: pm_schema_kinds()). They are matched after the kinds this module knows
 * (GENERAL, CT002, CT003, MARSTEK, DEFAULT, MQTT_INSIGHTS), in array order; the array is
 * copied. Until this is called, powermeter sections are unknown sections. */
void cfg_schema_set_meter_kinds(const struct cfg_schema_kind *kinds, size_t n);

/* The whole table in upstream's matching order; *n receives its length. */
const struct cfg_schema_kind *cfg_schema_kinds(size_t *n);

/* The kind a section name belongs to, by upstream's rules; NULL for a section upstream
 * ignores (unknown sections are not an error there). */
const struct cfg_schema_kind *cfg_schema_kind_of(const char *section);

/* Status of key (any case) in a section of the given kind. kind may be NULL (then
 * CFG_KEY_UNKNOWN). */
enum cfg_key_status cfg_schema_key_status(const struct cfg_schema_kind *kind, const char *key);

/* Whether upstream knows key (any case) in the section named section. */
bool cfg_schema_key_known_upstream(const char *section, const char *key);

/* Whether a key's value must never appear in a message or log: password, pass, passwd,
 * token, accesstoken, secret, api_key, apikey, headers (they carry Authorization),
 * mailbox, and any key ending in _password, _pass, _token or _secret. Any case. */
bool cfg_key_is_secret(const char *key);

/* Decides whether this build handles a section (of a kind in the table). The daemon
 * passes one that asks the powermeter registry, e.g. for powermeters
 * `return pm_driver_for_section(section) != NULL;` and kind->here for the rest. */
typedef bool cfg_schema_built_fn(const struct cfg_schema_kind *kind, const char *section,
                                 void *arg);

/* Run after every module has read its keys (getters mark keys used). Logs, component
 * "config", in file order:
 *  - a section of a kind not built here: one warning "[SEC]: not supported yet, section
 *    ignored";
 *  - in the other known sections, each key no getter asked for: "[SEC] KEY: unknown key,
 *    ignored" (warning), "[SEC] KEY: not supported yet" (warning, an upstream key we lack),
 *    "[SEC] KEY: obsolete upstream since 2.0, ignored" (warning), or, for a key we
 *    support that nothing read (e.g. [CT003] while only ct002 runs), a debug line;
 *  - an unknown section: a debug line, or a warning when it differs from a known name
 *    only by case or blanks ([general], [ GENERAL ]), since section names are
 *    case-sensitive.
 * built may be NULL: then each kind's here flag decides. Returns the number of warnings. */
unsigned cfg_schema_check(const struct cfg *cfg, cfg_schema_built_fn *built, void *arg);

#endif
