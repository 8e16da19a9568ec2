/* SPDX-License-Identifier: GPL-3.0-or-later */
/* astra-sim's JSON configuration: the reference simulator's schema (ct, http, powermeter,
 * batteries, power_update_delay_ticks, auto_mode, auto_interval, log_interval, time_scale)
 * plus a few additions of ours under "powermeter" (meter_interval, meter_latency, trace)
 * and a top-level "seed". Parsed with cJSON into a fixed struct; validated like the
 * reference (phase, SoC range, non-negative powers, 12-hex unique MACs). */
#ifndef ASTRAMETER_SIM_CONFIG_H
#define ASTRAMETER_SIM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "astrameter/err.h"
#include "sim/sim_battery.h"
#include "sim/sim_meter.h"

#define SIM_MAX_BATTERIES 16

struct sim_config {
	char ct_host[64];
	uint16_t ct_port;
	char ct_mac[13];
	char http_host[64];
	uint16_t http_port;
	struct sim_house house; /* base, noise, loads, solar, auto */
	double meter_interval;  /* s, 0 = fresh on every read */
	double meter_latency;   /* s */
	char trace_path[256];   /* "" = none */
	int trace_columns;      /* 2 (t_s,watts) or 3 (t_s,load_w,pv_w) */
	struct sim_bat_cfg bat[SIM_MAX_BATTERIES];
	size_t nbat;
	int delay_ticks;
	double log_interval;
	double time_scale;
	uint64_t seed;
};

/* The reference's defaults with no batteries. */
void sim_config_defaults(struct sim_config *c);
/* Parses JSON text into c (defaults first). 0, or -1 with e naming the problem. */
int sim_config_parse(const char *json, size_t len, struct sim_config *c, struct err *e);
/* Reads and parses a file. */
int sim_config_load(const char *path, struct sim_config *c, struct err *e);
/* Checks the rules the reference enforces. 0 or -1 with e. */
int sim_config_validate(const struct sim_config *c, struct err *e);
/* The reference's quick-start household: nbat batteries spread over nphases (1 or 3),
 * five named loads, base [300,0,0] (1 phase) or [100,100,100] (3 phases) unless base. */
void sim_config_quick(struct sim_config *c, int nbat, int nphases, const double *base, double soc);
/* Applies the same power_update_delay_ticks to every battery. */
void sim_config_set_delay(struct sim_config *c, int ticks);

#endif
