/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The driver table. A config section is a powermeter if its name starts with one of these
 * prefixes, tested in upstream's order (so [SHELLY_garage] and [MQTT2] work); MQTT* matches
 * last and never MQTT_INSIGHTS*. An entry without a driver is a kind upstream has and this
 * build does not (yet): the daemon says so instead of silently ignoring the section. */
#include <string.h>
#include <strings.h>

#include "astrameter/powermeter.h"

struct pm_kind {
	const char *prefix;
	const struct pm_driver *drv;
};

static const struct pm_kind pm_kinds[] = {
        {"SHELLY", &pm_shelly_driver},
        {"TASMOTA", &pm_tasmota_driver},
        {"SHRDZM", &pm_shrdzm_driver},
        {"EMLOG", &pm_emlog_driver},
        {"IOBROKER", &pm_iobroker_driver},
        {"HOMEASSISTANT", &pm_homeassistant_driver},
        {"VZLOGGER", &pm_vzlogger_driver},
        {"SCRIPT", &pm_script_driver},
        {"SML", NULL},
        {"ESPHOME", &pm_esphome_driver},
        {"AMIS_READER", &pm_amisreader_driver},
        {"MODBUS", NULL},
        {"TQ_EM", &pm_tq_em_driver},
        {"JSON_HTTP", &pm_json_http_driver},
        {"HOMEWIZARD", &pm_homewizard_driver},
        {"ENVOY", &pm_envoy_driver},
        {"SMA_ENERGY_METER", &pm_sma_driver},
        {"FRITZ", &pm_fritz_driver},
        {"FRONIUS", &pm_fronius_driver},
        {"TIBBER_PULSE", &pm_tibber_pulse_driver},
        {"MQTT", &pm_mqtt_driver},
};

static const struct pm_kind *kind_for(const char *section)
{
	for (size_t i = 0; i < sizeof(pm_kinds) / sizeof(pm_kinds[0]); i++) {
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
