/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The driver table: one row per meter kind, the only list of them. A config section is a
 * powermeter if its name starts with one of these prefixes, tested in upstream's order (so
 * [SHELLY_garage] and [MQTT2] work); MQTT* matches last and never MQTT_INSIGHTS*. A row
 * without a driver is a kind upstream has and this build does not (yet): the daemon says so
 * instead of silently ignoring the section, and its upstream keys are listed here.
 *
 * The config schema's powermeter kinds are built from this table (pm_schema_kinds()): each
 * driver declares the keys it reads (struct pm_driver.keys), so a new meter is its file
 * plus one row below, and key-typo warnings cover it without further edits. */
#include <string.h>
#include <strings.h>

#include "astrameter/powermeter.h"

/* DRIVER(prefix, driver variable defined in src/powermeter/<file>.c),
 * ABSENT(prefix, upstream keys) for a kind this build lacks. Upstream's test order. */
#define PM_KINDS(DRIVER, ABSENT)                         \
	DRIVER("SHELLY", pm_shelly_driver)               \
	DRIVER("TASMOTA", pm_tasmota_driver)             \
	DRIVER("SHRDZM", pm_shrdzm_driver)               \
	DRIVER("EMLOG", pm_emlog_driver)                 \
	DRIVER("IOBROKER", pm_iobroker_driver)           \
	DRIVER("HOMEASSISTANT", pm_homeassistant_driver) \
	DRIVER("VZLOGGER", pm_vzlogger_driver)           \
	DRIVER("SCRIPT", pm_script_driver)               \
	ABSENT("SML", sml_keys)                          \
	DRIVER("ESPHOME", pm_esphome_driver)             \
	DRIVER("AMIS_READER", pm_amisreader_driver)      \
	ABSENT("MODBUS", modbus_keys)                    \
	DRIVER("TQ_EM", pm_tq_em_driver)                 \
	DRIVER("JSON_HTTP", pm_json_http_driver)         \
	DRIVER("HOMEWIZARD", pm_homewizard_driver)       \
	DRIVER("ENVOY", pm_envoy_driver)                 \
	DRIVER("SMA_ENERGY_METER", pm_sma_driver)        \
	DRIVER("FRITZ", pm_fritz_driver)                 \
	DRIVER("FRONIUS", pm_fronius_driver)             \
	DRIVER("TIBBER_PULSE", pm_tibber_pulse_driver)   \
	DRIVER("MQTT", pm_mqtt_driver)

/* Keys every powermeter section takes (REFERENCE §2.6): read by pm.c and the filters. */
static const char pm_common_keys[] =
        "NETMASK POWER_OFFSET POWER_MULTIPLIER THROTTLE_INTERVAL WAIT_FOR_NEXT_MESSAGE "
        "HAMPEL_WINDOW HAMPEL_N_SIGMA HAMPEL_MIN_THRESHOLD SMOOTH_TARGET_ALPHA MAX_SMOOTH_STEP "
        "DEADBAND PID_KP PID_KI PID_KD PID_OUTPUT_MAX PID_MODE";
/* Upstream keys of the kinds not built here. */
static const char sml_keys[] =
        "SERIAL OBIS_POWER_CURRENT OBIS_POWER_L1 OBIS_POWER_L2 OBIS_POWER_L3";
static const char modbus_keys[] = "HOST PORT UNIT_ID ADDRESS COUNT DATA_TYPE BYTE_ORDER "
                                  "WORD_ORDER REGISTER_TYPE TRANSPORT";

#define DECLARE(prefix, drv) extern const struct pm_driver drv;
#define NO_DECL(prefix, keys)
PM_KINDS(DECLARE, NO_DECL)

struct pm_kind {
	const char *prefix;
	const struct pm_driver *drv;
	const char *absent_keys; /* upstream keys of a kind not built here */
};

#define ROW(prefix, drv)     {prefix, &drv, NULL},
#define ABSENT(prefix, keys) {prefix, NULL, keys},
static const struct pm_kind pm_kinds[] = {PM_KINDS(ROW, ABSENT)};
#define N_PM_KINDS (sizeof(pm_kinds) / sizeof(pm_kinds[0]))

static const struct pm_kind *kind_for(const char *section)
{
	for (size_t i = 0; i < N_PM_KINDS; i++) {
		const char *p = pm_kinds[i].prefix;
		if (strncmp(section, p, strlen(p)) != 0)
			continue;
		if (strcmp(p, "MQTT") == 0 && strncmp(section, "MQTT_INSIGHTS", 13) == 0)
			return NULL;
		return &pm_kinds[i];
	}
	return NULL;
}

const struct pm_driver *pm_driver_for_section(const char *section)
{
	const struct pm_kind *k = kind_for(section);
	return k ? k->drv : NULL;
}

bool pm_section_is_known_unsupported(const char *section, const char **kind)
{
	const struct pm_kind *k = kind_for(section);
	if (!k || k->drv)
		return false;
	if (kind)
		*kind = k->prefix;
	return true;
}

/* The schema's key tables, built once from the key strings. */
#define MAX_KEYS     512
#define MAX_KEY_TEXT 8192
static struct cfg_schema_key key_pool[MAX_KEYS];
static char key_text[MAX_KEY_TEXT];
static size_t n_pool, n_text;

/* spec ("A B+ C") -> a NULL-terminated key table in the pool. here: the keys are read by
 * this build; "+" marks a key upstream does not know. */
static const struct cfg_schema_key *key_table(const char *spec, bool here)
{
	const struct cfg_schema_key *t = &key_pool[n_pool];
	for (const char *p = spec; *p;) {
		size_t len = strcspn(p, " ");
		bool local = len && p[len - 1] == '+';
		size_t nl = local ? len - 1 : len;
		if (nl && n_pool + 2 <= MAX_KEYS && n_text + nl + 1 <= MAX_KEY_TEXT) {
			char *name = memcpy(key_text + n_text, p, nl);
			name[nl] = '\0';
			n_text += nl + 1;
			key_pool[n_pool++] = (struct cfg_schema_key){
			        .name = name,
			        .flags = (here ? CFG_KEY_HERE : CFG_KEY_UPSTREAM) |
			                 (local ? CFG_KEY_LOCAL : 0u) |
			                 (cfg_key_is_secret(name) ? CFG_KEY_SECRET : 0u),
			};
		}
		p += len;
		p += *p == ' ';
	}
	key_pool[n_pool++] = (struct cfg_schema_key){NULL, 0};
	return t;
}

const struct cfg_schema_kind *pm_schema_kinds(size_t *n)
{
	static struct cfg_schema_kind kinds[N_PM_KINDS];
	static bool built;
	if (!built) {
		const struct cfg_schema_key *common = key_table(pm_common_keys, true);
		for (size_t i = 0; i < N_PM_KINDS; i++) {
			const struct pm_kind *k = &pm_kinds[i];
			kinds[i] = (struct cfg_schema_kind){
			        .name = k->prefix,
			        .cls = CFG_KIND_POWERMETER,
			        .prefix = true,
			        .here = k->drv != NULL,
			        .common = common,
			        .keys = key_table(k->drv ? k->drv->keys : k->absent_keys,
			                          k->drv != NULL),
			};
		}
		built = true;
	}
	*n = N_PM_KINDS;
	return kinds;
}
