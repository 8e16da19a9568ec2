/* SPDX-License-Identifier: GPL-3.0-or-later */
/* MQTT insights state payloads (REFERENCE §6.2 with 2.3.0's changes, REFERENCE-2.3 §4.1):
 * pure writers from plain structs into a caller's buffer, no allocation, so publishing on
 * every poll costs a few microseconds. Each returns the payload length (NUL-terminated) or
 * -1 if it does not fit. Optional numbers are JSON null when unset, as upstream's None. */
#ifndef ASTRAMETER_MQ_STATE_H
#define ASTRAMETER_MQ_STATE_H

#include <stdbool.h>
#include <stddef.h>

#define MQ_STATE_MAX 2048 /* every state payload fits a buffer of this size */

/* {base}/ct002/{did}/consumer/{cid} */
struct mq_consumer_state {
	double grid[3];   /* meter after the filter chain, before balancing; zeros on failure */
	double target[3]; /* the values sent */
	char phase;       /* 'A' 'B' 'C' 'D' ("" if 0) */
	long reported_power;
	const char *device_type, *battery_ip, *ct_type, *ct_mac; /* NULL -> "" */
	double saturation;                                       /* 0..1 */
	bool has_last_target;
	double last_target;
	bool active;
	bool has_poll_interval; /* s, EMA of every poll (2.3.0) */
	double poll_interval;
	bool has_answer_interval; /* s, EMA of the replies (2.3.0) */
	double answer_interval;
	const char *last_seen; /* ISO 8601 UTC (kept in the payload, no entity since 2.3.0) */
	bool has_manual_target;
	double manual_target;
	bool auto_target;
	double distribution_weight;
	double efficiency_window_weight; /* fraction, as upstream's state payload */
	bool has_min_dc_output;
	double min_dc_output;
};
int mq_consumer_state_json(const struct mq_consumer_state *s, char *buf, size_t len);

/* The control-quality verdict (2.3.0). verdict: "stable", "off_target", "limited",
 * "warmup" or "idle" (never NULL in the payload: NULL writes "idle"). */
struct mq_quality {
	const char *verdict;
	bool has_score; /* 0..100, none while idle or warming up */
	double score;
	bool has_error_w; /* mean |error| W, none until a sample exists */
	double error_w;
	bool has_in_band_pct;
	double in_band_pct;
	bool has_crossings_per_min;
	double crossings_per_min;
	double band_w; /* BALANCE_DEADBAND floored at 25 W, never null */
};

/* {base}/ct002/{did}/status */
struct mq_ct002_status {
	double smooth_target;
	bool active_control;
	int consumer_count;
	const struct mq_quality *quality; /* NULL: the 2.2.3 payload without the quality keys */
};
int mq_ct002_status_json(const struct mq_ct002_status *s, char *buf, size_t len);

/* {base}/shelly/{did}/battery/{ip_slug} */
struct mq_shelly_battery_state {
	double grid[3];
	bool active;
	bool has_poll_interval;
	double poll_interval;
	const char *last_seen;
};
int mq_shelly_battery_state_json(const struct mq_shelly_battery_state *s, char *buf, size_t len);
/* {base}/shelly/{did}/status */
int mq_shelly_status_json(int battery_count, char *buf, size_t len);

/* {base}/powermeter/{section_slug}: n values (0..3) of a meter, n = 0 when it has none;
 * missing phases and the total of no values are null. */
int mq_powermeter_health_json(bool online, const double *values, size_t n, char *buf, size_t len);

/* {base}/bridge */
int mq_bridge_json(const char *version, int consumer_count, char *buf, size_t len);

#endif
