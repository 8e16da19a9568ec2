/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The config schema: every section kind and key upstream AstraMeter v2.2.3 reads (from its
 * config_loader.py, main.py and the MQTT insights/Marstek readers), flagged with what this
 * daemon implements, and the post-load check that reports keys nothing read. Contract in
 * astrameter/cfg_schema.h. When a module starts reading a key, flag it CFG_KEY_HERE here
 * (a key a getter read is never reported anyway; the flag matters for sections that exist
 * but are not in use, e.g. [CT003] while only ct002 runs). Powermeter keys are not here:
 * each driver declares its own (struct pm_driver.keys) and the powermeter registry hands
 * the resulting kinds over with cfg_schema_set_meter_kinds(). */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "astrameter/cfg_schema.h"
#include "astrameter/log.h"

#define H CFG_KEY_HERE
#define U CFG_KEY_UPSTREAM
#define S CFG_KEY_SECRET
#define END             \
	{               \
		NULL, 0 \
	}

static const struct cfg_schema_key k_general[] = {
        {"DEVICE_TYPE", H},
        {"DEVICE_IDS", H},
        {"SKIP_POWERMETER_TEST", H},
        {"ENABLE_WEB_SERVER", H},
        {"WEB_CONFIG_ENABLED", U},
        {"WEB_SERVER_PORT", H},
        {"HEALTH_MAX_AGE", H | CFG_KEY_LOCAL},
        {"THROTTLE_INTERVAL", H},
        {"WAIT_FOR_NEXT_MESSAGE", H},
        {"DEDUPE_TIME_WINDOW", H},
        {"SMOOTH_TARGET_ALPHA", H},
        {"MAX_SMOOTH_STEP", H},
        {"DEADBAND", H},
        {"HAMPEL_WINDOW", H},
        {"HAMPEL_N_SIGMA", H},
        {"HAMPEL_MIN_THRESHOLD", H},
        {"PID_KP", H},
        {"PID_KI", H},
        {"PID_KD", H},
        {"PID_OUTPUT_MAX", H},
        {"PID_MODE", H},
        {"DISABLE_SUM_PHASES", CFG_KEY_OBSOLETE},
        {"DISABLE_ABSOLUTE_VALUES", CFG_KEY_OBSOLETE},
        {"POLL_INTERVAL", CFG_KEY_OBSOLETE},
        END,
};

static const struct cfg_schema_key k_ct[] = {
        {"CT_MAC", H},
        {"UDP_PORT", H},
        {"WIFI_RSSI", H},
        {"DEDUPE_TIME_WINDOW", H},
        {"CONSUMER_TTL", H},
        {"DEBUG_STATUS", H},
        {"ACTIVE_CONTROL", H},
        {"FAIR_DISTRIBUTION", H},
        {"BALANCE_GAIN", H},
        {"BALANCE_DEADBAND", H},
        {"MAX_CORRECTION_PER_STEP", H},
        {"ERROR_BOOST_THRESHOLD", H},
        {"ERROR_BOOST_MAX", H},
        {"ERROR_REDUCE_THRESHOLD", H},
        {"MAX_TARGET_STEP", H},
        {"PACE_BASE_STEP", H},
        {"PACE_MAX_STEP", H},
        {"OSC_DAMP_MAX", H},
        {"OSC_DAMP_ALPHA", H},
        {"OSC_DAMP_DECAY", H},
        {"OSC_DAMP_THRESHOLD", H},
        {"GRID_PREDICT_TRUST", H},
        {"GRID_PREDICTOR", H | CFG_KEY_LOCAL},
        {"INFLIGHT_COMPENSATION", H | CFG_KEY_LOCAL},
        {"MAX_CONSUMERS_PER_ADDRESS", H | CFG_KEY_LOCAL},
        {"CONCENTRATE_DEADBAND", H},
        {"IMPORT_TRIM_W", H},
        {"MIN_DC_OUTPUT", H},
        {"SATURATION_DETECTION", H},
        {"SATURATION_ALPHA", H},
        {"MIN_TARGET_FOR_SATURATION", H},
        {"SATURATION_GRACE_SECONDS", H},
        {"SATURATION_STALL_TIMEOUT_SECONDS", H},
        {"SATURATION_DECAY_FACTOR", H},
        {"MIN_EFFICIENT_POWER", H},
        {"PROBE_MIN_POWER", H},
        {"EFFICIENCY_ROTATION_INTERVAL", H},
        {"EFFICIENCY_FADE_ALPHA", H},
        {"EFFICIENCY_SATURATION_THRESHOLD", H},
        {"EFFICIENCY_DEMAND_ALPHA", H},
        {"STATE_FILE", H | CFG_KEY_LOCAL},
        {"CLOUD_REPORTING", U},
        {"CLOUD_REPORTING_HOST", U},
        {"CLOUD_REPORTING_INTERVAL", U},
        END,
};

static const struct cfg_schema_key k_marstek[] = {
        {"ENABLE", U},       {"BASE_URL", U}, {"MAILBOX", U | S},
        {"PASSWORD", U | S}, {"TIMEZONE", U}, END,
};

static const struct cfg_schema_key k_insights[] = {
        {"URI", U},
        {"BROKER", U},
        {"PORT", U},
        {"USERNAME", U},
        {"PASSWORD", U | S},
        {"TLS", U},
        {"BASE_TOPIC", U},
        {"HA_DISCOVERY", U},
        {"HA_DISCOVERY_PREFIX", U},
        {"ADDON_SLUG", U},
        {"MARSTEK_MQTT_ENABLED", U},
        {"MARSTEK_MQTT_INTERVAL", U},
        {"POWERMETER_HEALTH_INTERVAL", U},
        END,
};

/* Keys every powermeter section takes (REFERENCE §2.6). */

#define EXACT(n, c, here, k)               \
	{                                  \
		n, c, false, here, NULL, k \
	}

/* The kinds this module knows itself, in upstream's order: exact names, then
 * MQTT_INSIGHTS (which must be tested before the powermeters' MQTT prefix). The
 * powermeter kinds come from the powermeter registry (cfg_schema_set_meter_kinds), one
 * per driver, with the keys each driver declares. */
static const struct cfg_schema_kind builtin[] = {
        EXACT("GENERAL", CFG_KIND_GENERAL, true, k_general),
        EXACT("CT002", CFG_KIND_CT, true, k_ct),
        EXACT("CT003", CFG_KIND_CT, true, k_ct),
        EXACT("MARSTEK", CFG_KIND_MARSTEK, false, k_marstek),
        EXACT("DEFAULT", CFG_KIND_DEFAULT, false, NULL),
        {"MQTT_INSIGHTS", CFG_KIND_INSIGHTS, true, false, NULL, k_insights},
};

#define N_BUILTIN (sizeof(builtin) / sizeof(builtin[0]))
#define MAX_KINDS (N_BUILTIN + CFG_SCHEMA_MAX_METER_KINDS)

/* builtin followed by the registered meter kinds (copied: the array is the table). */
static struct cfg_schema_kind kinds[MAX_KINDS];
static size_t n_kinds;

static void init_kinds(void)
{
	if (n_kinds == 0) {
		memcpy(kinds, builtin, sizeof(builtin));
		n_kinds = N_BUILTIN;
	}
}

void cfg_schema_set_meter_kinds(const struct cfg_schema_kind *meters, size_t n)
{
	memcpy(kinds, builtin, sizeof(builtin));
	if (n > CFG_SCHEMA_MAX_METER_KINDS)
		n = CFG_SCHEMA_MAX_METER_KINDS;
	if (n)
		memcpy(kinds + N_BUILTIN, meters, n * sizeof(*meters));
	n_kinds = N_BUILTIN + n;
}

const struct cfg_schema_kind *cfg_schema_kinds(size_t *n)
{
	init_kinds();
	if (n)
		*n = n_kinds;
	return kinds;
}

const struct cfg_schema_kind *cfg_schema_kind_of(const char *section)
{
	if (!section)
		return NULL;
	init_kinds();
	for (size_t i = 0; i < n_kinds; i++) {
		const struct cfg_schema_kind *k = &kinds[i];
		if (k->prefix ? strncmp(section, k->name, strlen(k->name)) == 0
		              : strcmp(section, k->name) == 0)
			return k;
	}
	return NULL;
}

static const struct cfg_schema_key *key_in(const struct cfg_schema_key *list, const char *key)
{
	for (size_t i = 0; list && list[i].name; i++) {
		if (strcasecmp(list[i].name, key) == 0)
			return &list[i];
	}
	return NULL;
}

static const struct cfg_schema_key *key_lookup(const struct cfg_schema_kind *kind, const char *key)
{
	if (!kind || !key)
		return NULL;
	const struct cfg_schema_key *k = key_in(kind->keys, key);
	if (!k && kind->common)
		k = key_in(kind->common, key);
	return k;
}

static enum cfg_key_status key_status(const struct cfg_schema_kind *kind, const char *key,
                                      bool built)
{
	const struct cfg_schema_key *k = key_lookup(kind, key);
	if (!k)
		return CFG_KEY_UNKNOWN;
	if (k->flags & CFG_KEY_OBSOLETE)
		return CFG_KEY_OBSOLETE_UPSTREAM;
	if ((k->flags & CFG_KEY_HERE) && built)
		return CFG_KEY_SUPPORTED;
	return CFG_KEY_UPSTREAM_ONLY;
}

enum cfg_key_status cfg_schema_key_status(const struct cfg_schema_kind *kind, const char *key)
{
	return key_status(kind, key, kind && kind->here);
}

bool cfg_schema_key_known_upstream(const char *section, const char *key)
{
	const struct cfg_schema_key *k = key_lookup(cfg_schema_kind_of(section), key);
	return k && !(k->flags & CFG_KEY_LOCAL);
}

bool cfg_key_is_secret(const char *key)
{
	static const char *const exact[] = {"password",    "pass",   "passwd",  "token",
	                                    "accesstoken", "secret", "api_key", "apikey",
	                                    "headers",     "mailbox"};
	static const char *const suffix[] = {"_password", "_pass", "_token", "_secret"};
	if (!key)
		return false;
	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++) {
		if (strcasecmp(key, exact[i]) == 0)
			return true;
	}
	size_t n = strlen(key);
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		size_t m = strlen(suffix[i]);
		if (n > m && strcasecmp(key + n - m, suffix[i]) == 0)
			return true;
	}
	return false;
}

/* A name that would have matched a kind but for case or surrounding blanks. */
static const struct cfg_schema_kind *near_miss(const char *section)
{
	while (isspace((unsigned char)*section))
		section++;
	size_t n = strlen(section);
	while (n > 0 && isspace((unsigned char)section[n - 1]))
		n--;
	init_kinds();
	for (size_t i = 0; i < n_kinds; i++) {
		const struct cfg_schema_kind *k = &kinds[i];
		size_t m = strlen(k->name);
		if (k->prefix ? n >= m && strncasecmp(section, k->name, m) == 0
		              : n == m && strncasecmp(section, k->name, m) == 0)
			return k;
	}
	return NULL;
}

static void upper(const char *key, char *buf, size_t n)
{
	size_t i = 0;
	for (; key[i] && i + 1 < n; i++)
		buf[i] = (char)toupper((unsigned char)key[i]);
	buf[i] = '\0';
}

unsigned cfg_schema_check(const struct cfg *cfg, cfg_schema_built_fn *built, void *arg)
{
	unsigned warnings = 0;
	if (!cfg)
		return 0;
	for (size_t i = 0; i < cfg->n; i++) {
		const struct cfg_section *s = &cfg->sec[i];
		const struct cfg_schema_kind *kind = cfg_schema_kind_of(s->name);
		if (!kind) {
			const struct cfg_schema_kind *near = near_miss(s->name);
			if (near) {
				log_warnx("config",
				          "[%s]: unknown section, ignored (section names are "
				          "case-sensitive: did you mean [%s%s]?)",
				          s->name, near->name, near->prefix ? "..." : "");
				warnings++;
			} else {
				log_debug("config", "[%s]: not a section astrameter reads, ignored",
				          s->name);
			}
			continue;
		}
		bool is_built = built ? built(kind, s->name, arg) : kind->here;
		if (!is_built) {
			log_warnx("config", "[%s]: not supported yet, section ignored", s->name);
			warnings++;
			continue;
		}
		for (size_t j = 0; j < s->n; j++) {
			const struct cfg_kv *kv = &s->kv[j];
			if (kv->used)
				continue;
			char ukey[128];
			upper(kv->key, ukey, sizeof(ukey));
			switch (key_status(kind, kv->key, true)) {
			case CFG_KEY_SUPPORTED:
				log_debug("config", "[%s] %s: not used", s->name, ukey);
				break;
			case CFG_KEY_UPSTREAM_ONLY:
				log_warnx("config", "[%s] %s: not supported yet", s->name, ukey);
				warnings++;
				break;
			case CFG_KEY_OBSOLETE_UPSTREAM:
				log_warnx("config", "[%s] %s: obsolete upstream since 2.0, ignored",
				          s->name, ukey);
				warnings++;
				break;
			case CFG_KEY_UNKNOWN:
				log_warnx("config", "[%s] %s: unknown key, ignored", s->name, ukey);
				warnings++;
				break;
			}
		}
	}
	return warnings;
}
