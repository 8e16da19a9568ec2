/* SPDX-License-Identifier: GPL-3.0-or-later */
/* JSON configuration for astra-sim (see sim_config.h). */
#include "sim/sim_config.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sim_config_defaults(struct sim_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->ct_host, sizeof(c->ct_host), "127.0.0.1");
	c->ct_port = 12345;
	snprintf(c->ct_mac, sizeof(c->ct_mac), "112233445566");
	snprintf(c->http_host, sizeof(c->http_host), "127.0.0.1");
	c->http_port = 8080;
	sim_house_defaults(&c->house);
	c->trace_columns = 2;
	c->log_interval = 5.0;
	c->time_scale = 1.0;
	c->seed = 1;
}

static int get_num(const cJSON *o, const char *key, double *out, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v)
		return 0;
	if (!cJSON_IsNumber(v))
		return err_set(e, "%s must be a number", key);
	*out = v->valuedouble;
	return 0;
}

static int get_int(const cJSON *o, const char *key, int *out, struct err *e)
{
	double d = *out;
	if (get_num(o, key, &d, e) < 0)
		return -1;
	if (d < -2147483648.0 || d > 2147483647.0)
		return err_set(e, "%s out of range", key);
	*out = (int)d;
	return 0;
}

static int get_str(const cJSON *o, const char *key, char *out, size_t cap, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v)
		return 0;
	if (!cJSON_IsString(v))
		return err_set(e, "%s must be a string", key);
	if (strlen(v->valuestring) >= cap)
		return err_set(e, "%s too long", key);
	snprintf(out, cap, "%s", v->valuestring);
	return 0;
}

static int get_bool(const cJSON *o, const char *key, bool *out, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v)
		return 0;
	if (cJSON_IsBool(v))
		*out = cJSON_IsTrue(v);
	else if (cJSON_IsNumber(v))
		*out = v->valuedouble != 0;
	else
		return err_set(e, "%s must be a boolean", key);
	return 0;
}

static int get_port(const cJSON *o, const char *key, uint16_t *out, struct err *e)
{
	int p = *out;
	if (get_int(o, key, &p, e) < 0)
		return -1;
	if (p < 0 || p > 65535)
		return err_set(e, "%s must be a port number", key);
	*out = (uint16_t)p;
	return 0;
}

static int phase_index(const char *s)
{
	if (s && (s[0] == 'A' || s[0] == 'B' || s[0] == 'C') && s[1] == '\0')
		return s[0] - 'A';
	return -1;
}

static int parse_battery(const cJSON *bd, struct sim_config *c, struct sim_bat_cfg *b,
                         struct err *e)
{
	char phase[4] = "";
	sim_bat_cfg_defaults(b);
	snprintf(b->ct_mac, sizeof(b->ct_mac), "%s", c->ct_mac);
	b->delay_ticks = c->delay_ticks;
	if (!cJSON_IsObject(bd))
		return err_set(e, "batteries[] entries must be objects");
	if (!cJSON_GetObjectItemCaseSensitive(bd, "mac") ||
	    !cJSON_GetObjectItemCaseSensitive(bd, "phase"))
		return err_set(e, "battery needs mac and phase");
	if (get_str(bd, "mac", b->mac, sizeof(b->mac), e) < 0 ||
	    get_str(bd, "phase", phase, sizeof(phase), e) < 0 ||
	    get_str(bd, "meter_dev_type", b->dev_type, sizeof(b->dev_type), e) < 0 ||
	    get_int(bd, "max_charge_power", &b->max_charge, e) < 0 ||
	    get_int(bd, "max_discharge_power", &b->max_discharge, e) < 0 ||
	    get_num(bd, "capacity_wh", &b->capacity_wh, e) < 0 ||
	    get_num(bd, "initial_soc", &b->initial_soc, e) < 0 ||
	    get_num(bd, "ramp_rate", &b->ramp_rate, e) < 0 ||
	    get_num(bd, "poll_interval", &b->poll_interval, e) < 0 ||
	    get_int(bd, "power_update_delay_ticks", &b->delay_ticks, e) < 0 ||
	    get_int(bd, "max_dc_input", &b->max_dc_input, e) < 0 ||
	    get_num(bd, "dc_input_power", &b->dc_input, e) < 0 ||
	    get_bool(bd, "participates", &b->participates, e) < 0 ||
	    get_num(bd, "initial_power", &b->initial_power, e) < 0)
		return -1;
	for (char *p = b->mac; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	b->phase = phase[0];
	if (phase_index(phase) < 0)
		return err_set(e, "battery %s: invalid phase '%s'", b->mac, phase);
	return 0;
}

int sim_config_parse(const char *json, size_t len, struct sim_config *c, struct err *e)
{
	sim_config_defaults(c);
	cJSON *root = cJSON_ParseWithLength(json, len);
	if (!root)
		return err_set(e, "invalid JSON");
	int rc = -1;
	if (!cJSON_IsObject(root)) {
		err_set(e, "config must be a JSON object");
		goto out;
	}
	const cJSON *ct = cJSON_GetObjectItemCaseSensitive(root, "ct");
	const cJSON *http = cJSON_GetObjectItemCaseSensitive(root, "http");
	const cJSON *pm = cJSON_GetObjectItemCaseSensitive(root, "powermeter");
	if (ct && (get_str(ct, "mac", c->ct_mac, sizeof(c->ct_mac), e) < 0 ||
	           get_str(ct, "host", c->ct_host, sizeof(c->ct_host), e) < 0 ||
	           get_port(ct, "port", &c->ct_port, e) < 0))
		goto out;
	if (http && (get_str(http, "host", c->http_host, sizeof(c->http_host), e) < 0 ||
	             get_port(http, "port", &c->http_port, e) < 0))
		goto out;
	double seed = 1;
	if (get_int(root, "power_update_delay_ticks", &c->delay_ticks, e) < 0 ||
	    get_bool(root, "auto_mode", &c->house.auto_mode, e) < 0 ||
	    get_num(root, "log_interval", &c->log_interval, e) < 0 ||
	    get_num(root, "time_scale", &c->time_scale, e) < 0 ||
	    get_num(root, "seed", &seed, e) < 0)
		goto out;
	c->seed = (uint64_t)(seed < 0 ? -seed : seed);
	const cJSON *ai = cJSON_GetObjectItemCaseSensitive(root, "auto_interval");
	if (ai) {
		if (!cJSON_IsArray(ai) || cJSON_GetArraySize(ai) != 2 ||
		    !cJSON_IsNumber(cJSON_GetArrayItem(ai, 0)) ||
		    !cJSON_IsNumber(cJSON_GetArrayItem(ai, 1))) {
			err_set(e, "auto_interval must be [lo, hi]");
			goto out;
		}
		c->house.auto_lo = cJSON_GetArrayItem(ai, 0)->valuedouble;
		c->house.auto_hi = cJSON_GetArrayItem(ai, 1)->valuedouble;
	}
	if (pm) {
		const cJSON *bl = cJSON_GetObjectItemCaseSensitive(pm, "base_load");
		if (bl) {
			if (!cJSON_IsArray(bl) || cJSON_GetArraySize(bl) > 3) {
				err_set(e,
				        "powermeter.base_load must be a list of up to 3 numbers");
				goto out;
			}
			c->house.base[0] = c->house.base[1] = c->house.base[2] = 0;
			int i = 0;
			const cJSON *v;
			cJSON_ArrayForEach(v, bl)
			{
				if (!cJSON_IsNumber(v)) {
					err_set(e, "powermeter.base_load must hold numbers");
					goto out;
				}
				c->house.base[i++] = v->valuedouble;
			}
		}
		double scale = 1.0;
		if (get_num(pm, "base_noise", &c->house.noise, e) < 0 ||
		    get_num(pm, "solar_max", &c->house.solar_max, e) < 0 ||
		    get_num(pm, "meter_interval", &c->meter_interval, e) < 0 ||
		    get_num(pm, "meter_latency", &c->meter_latency, e) < 0)
			goto out;
		const cJSON *sp = cJSON_GetObjectItemCaseSensitive(pm, "solar_phases");
		if (sp) {
			if (!cJSON_IsArray(sp)) {
				err_set(e, "powermeter.solar_phases must be a list");
				goto out;
			}
			memset(c->house.solar_on, 0, sizeof(c->house.solar_on));
			const cJSON *v;
			cJSON_ArrayForEach(v, sp)
			{
				int pi = cJSON_IsString(v) ? phase_index(v->valuestring) : -1;
				if (pi < 0) {
					err_set(e, "invalid solar phase");
					goto out;
				}
				c->house.solar_on[pi] = true;
			}
		}
		const cJSON *loads = cJSON_GetObjectItemCaseSensitive(pm, "loads");
		if (loads) {
			const cJSON *ld;
			if (!cJSON_IsArray(loads)) {
				err_set(e, "powermeter.loads must be a list");
				goto out;
			}
			cJSON_ArrayForEach(ld, loads)
			{
				if (c->house.nloads == SIM_MAX_LOADS) {
					err_set(e, "at most %d loads", SIM_MAX_LOADS);
					goto out;
				}
				struct sim_load *l = &c->house.loads[c->house.nloads];
				char ph[4] = "";
				if (!cJSON_IsObject(ld) ||
				    get_str(ld, "name", l->name, sizeof(l->name), e) < 0 ||
				    get_num(ld, "power", &l->power, e) < 0 ||
				    get_str(ld, "phase", ph, sizeof(ph), e) < 0 ||
				    get_bool(ld, "active", &l->active, e) < 0) {
					if (!cJSON_IsObject(ld))
						err_set(e, "loads[] entries must be objects");
					goto out;
				}
				l->phase = phase_index(ph);
				if (l->phase < 0) {
					err_set(e, "load '%s': invalid phase '%s'", l->name, ph);
					goto out;
				}
				c->house.nloads++;
			}
		}
		const cJSON *tr = cJSON_GetObjectItemCaseSensitive(pm, "trace");
		if (tr) {
			char ph[4] = "A";
			if (!cJSON_IsObject(tr) ||
			    get_str(tr, "path", c->trace_path, sizeof(c->trace_path), e) < 0 ||
			    get_int(tr, "columns", &c->trace_columns, e) < 0 ||
			    get_num(tr, "scale", &scale, e) < 0 ||
			    get_str(tr, "phase", ph, sizeof(ph), e) < 0) {
				if (!cJSON_IsObject(tr))
					err_set(e, "powermeter.trace must be an object");
				goto out;
			}
			c->house.trace_phase = phase_index(ph);
			c->house.trace_scale = scale;
			if (c->house.trace_phase < 0 ||
			    (c->trace_columns != 2 && c->trace_columns != 3)) {
				err_set(e, "powermeter.trace: phase A/B/C and columns 2 or 3");
				goto out;
			}
		}
	}
	const cJSON *bats = cJSON_GetObjectItemCaseSensitive(root, "batteries");
	if (bats) {
		const cJSON *bd;
		if (!cJSON_IsArray(bats)) {
			err_set(e, "batteries must be a list");
			goto out;
		}
		cJSON_ArrayForEach(bd, bats)
		{
			if (c->nbat == SIM_MAX_BATTERIES) {
				err_set(e, "at most %d batteries", SIM_MAX_BATTERIES);
				goto out;
			}
			if (parse_battery(bd, c, &c->bat[c->nbat], e) < 0)
				goto out;
			c->nbat++;
		}
	}
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

int sim_config_load(const char *path, struct sim_config *c, struct err *e)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return err_set(e, "%s: %s", path, strerror(errno));
	char *buf = malloc(1 << 20);
	if (!buf) {
		(void)fclose(f);
		return err_set(e, "out of memory");
	}
	size_t n = fread(buf, 1, (1 << 20) - 1, f);
	int bad = ferror(f) || !feof(f);
	(void)fclose(f);
	if (bad) {
		free(buf);
		return err_set(e, "%s: read error or larger than 1 MiB", path);
	}
	struct err pe;
	int rc = sim_config_parse(buf, n, c, &pe);
	free(buf);
	if (rc < 0)
		return err_set(e, "%s: %s", path, pe.msg);
	return 0;
}

int sim_config_validate(const struct sim_config *c, struct err *e)
{
	for (size_t i = 0; i < c->nbat; i++) {
		const struct sim_bat_cfg *b = &c->bat[i];
		if (strlen(b->mac) != 12 || strspn(b->mac, "0123456789ABCDEF") != 12)
			return err_set(e, "Battery MAC must be 12 hex chars, got '%s'", b->mac);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(c->bat[j].mac, b->mac))
				return err_set(e, "Duplicate battery MAC: %s", b->mac);
		if (!(b->initial_soc >= 0.0 && b->initial_soc <= 1.0))
			return err_set(e, "Battery %s: initial_soc must be 0.0-1.0", b->mac);
		if (b->max_charge < 0 || b->max_discharge < 0)
			return err_set(e, "Battery %s: power values must be >= 0", b->mac);
		if (b->delay_ticks < 0)
			return err_set(e, "Battery %s: power_update_delay_ticks must be >= 0",
			               b->mac);
		if (b->max_dc_input < 0)
			return err_set(e, "Battery %s: max_dc_input must be >= 0", b->mac);
		if (!(b->dc_input >= 0 && b->dc_input <= b->max_dc_input))
			return err_set(e, "Battery %s: dc_input_power must be within [0, %d]",
			               b->mac, b->max_dc_input);
		if (!(b->poll_interval > 0))
			return err_set(e, "Battery %s: poll_interval must be positive", b->mac);
	}
	if (!(c->time_scale > 0))
		return err_set(e, "time_scale must be positive");
	if (!(c->house.auto_lo > 0 && c->house.auto_hi >= c->house.auto_lo))
		return err_set(e, "auto_interval must be 0 < lo <= hi");
	if (c->meter_interval < 0 || c->meter_latency < 0)
		return err_set(e, "meter_interval/meter_latency must be >= 0");
	return 0;
}

void sim_config_set_delay(struct sim_config *c, int ticks)
{
	c->delay_ticks = ticks;
	for (size_t i = 0; i < c->nbat; i++)
		c->bat[i].delay_ticks = ticks;
}

void sim_config_quick(struct sim_config *c, int nbat, int nphases, const double *base, double soc)
{
	static const struct {
		const char *name;
		double power;
		int phase3; /* phase with 3 phases; phase A with 1 */
	} loads[] = {
	        {"LED lights", 30, 0}, {"TV + entertainment", 80, 1}, {"Router + NAS", 40, 0},
	        {"Microwave", 800, 0}, {"Washing machine", 400, 1},
	};
	if (nphases != 3)
		nphases = 1;
	if (nbat < 0)
		nbat = 0;
	if (nbat > SIM_MAX_BATTERIES)
		nbat = SIM_MAX_BATTERIES;
	c->nbat = (size_t)nbat;
	for (int i = 0; i < nbat; i++) {
		struct sim_bat_cfg *b = &c->bat[i];
		sim_bat_cfg_defaults(b);
		snprintf(b->mac, sizeof(b->mac), "02B250%06X", (unsigned)(i + 1) & 0xFFFFFFu);
		snprintf(b->ct_mac, sizeof(b->ct_mac), "%s", c->ct_mac);
		b->phase = (char)('A' + i % nphases);
		b->initial_soc = soc;
		b->delay_ticks = c->delay_ticks;
	}
	c->house.nloads = 5;
	for (size_t i = 0; i < 5; i++) {
		struct sim_load *l = &c->house.loads[i];
		memset(l, 0, sizeof(*l));
		snprintf(l->name, sizeof(l->name), "%s", loads[i].name);
		l->power = loads[i].power;
		l->phase = nphases >= 2 ? loads[i].phase3 : 0;
	}
	if (base) {
		memcpy(c->house.base, base, sizeof(c->house.base));
	} else if (nphases == 1) {
		c->house.base[0] = 300;
		c->house.base[1] = c->house.base[2] = 0;
	} else {
		c->house.base[0] = c->house.base[1] = c->house.base[2] = 100;
	}
	memset(c->house.solar_on, 0, sizeof(c->house.solar_on));
	for (int p = 0; p < nphases; p++)
		c->house.solar_on[p] = true;
}
