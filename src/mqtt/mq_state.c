/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The state payload writers (astrameter/mq_state.h). Key order follows upstream's dicts
 * (service.py), so a diff against a recorded payload reads the same. */
#include "astrameter/mq_state.h"
#include "mqtt/mq_json.h"

static void grid_obj(struct mqj *j, const double g[3])
{
	mqj_obj(j, "grid_power");
	mqj_num(j, "l1", g[0]);
	mqj_num(j, "l2", g[1]);
	mqj_num(j, "l3", g[2]);
	mqj_num(j, "total", g[0] + g[1] + g[2]);
	mqj_end(j);
}

static const char *str(const char *s)
{
	return s ? s : "";
}

int mq_consumer_state_json(const struct mq_consumer_state *s, char *buf, size_t len)
{
	struct mqj j;
	mqj_init(&j, buf, len);
	mqj_obj(&j, NULL);
	grid_obj(&j, s->grid);
	mqj_obj(&j, "target");
	mqj_num(&j, "l1", s->target[0]);
	mqj_num(&j, "l2", s->target[1]);
	mqj_num(&j, "l3", s->target[2]);
	mqj_end(&j);
	char ph[2] = {s->phase, '\0'};
	mqj_str(&j, "phase", ph);
	mqj_num(&j, "reported_power", (double)s->reported_power);
	mqj_str(&j, "device_type", str(s->device_type));
	mqj_str(&j, "battery_ip", str(s->battery_ip));
	mqj_str(&j, "ct_type", str(s->ct_type));
	mqj_str(&j, "ct_mac", str(s->ct_mac));
	mqj_num(&j, "saturation", s->saturation);
	mqj_opt(&j, "last_target", s->has_last_target, s->last_target);
	mqj_bool(&j, "active", s->active);
	mqj_opt(&j, "poll_interval", s->has_poll_interval, s->poll_interval);
	mqj_opt(&j, "answer_interval", s->has_answer_interval, s->answer_interval);
	mqj_str(&j, "last_seen", str(s->last_seen));
	mqj_opt(&j, "manual_target", s->has_manual_target, s->manual_target);
	mqj_bool(&j, "auto_target", s->auto_target);
	mqj_num(&j, "distribution_weight", s->distribution_weight);
	mqj_num(&j, "efficiency_window_weight", s->efficiency_window_weight);
	mqj_opt(&j, "min_dc_output", s->has_min_dc_output, s->min_dc_output);
	mqj_end(&j);
	return mqj_finish(&j);
}

int mq_ct002_status_json(const struct mq_ct002_status *s, char *buf, size_t len)
{
	struct mqj j;
	mqj_init(&j, buf, len);
	mqj_obj(&j, NULL);
	mqj_num(&j, "smooth_target", s->smooth_target);
	mqj_bool(&j, "active_control", s->active_control);
	mqj_num(&j, "consumer_count", s->consumer_count);
	const struct mq_quality *q = s->quality;
	if (q) {
		mqj_str(&j, "control_quality", q->verdict ? q->verdict : "idle");
		mqj_opt(&j, "control_quality_score", q->has_score, q->score);
		mqj_opt(&j, "control_quality_error_w", q->has_error_w, q->error_w);
		mqj_opt(&j, "control_quality_in_band_pct", q->has_in_band_pct, q->in_band_pct);
		mqj_opt(&j, "control_quality_crossings_per_min", q->has_crossings_per_min,
		        q->crossings_per_min);
		mqj_num(&j, "control_quality_band_w", q->band_w);
	}
	mqj_end(&j);
	return mqj_finish(&j);
}

int mq_shelly_battery_state_json(const struct mq_shelly_battery_state *s, char *buf, size_t len)
{
	struct mqj j;
	mqj_init(&j, buf, len);
	mqj_obj(&j, NULL);
	grid_obj(&j, s->grid);
	mqj_bool(&j, "active", s->active);
	mqj_opt(&j, "poll_interval", s->has_poll_interval, s->poll_interval);
	mqj_str(&j, "last_seen", str(s->last_seen));
	mqj_end(&j);
	return mqj_finish(&j);
}

int mq_shelly_status_json(int battery_count, char *buf, size_t len)
{
	struct mqj j;
	mqj_init(&j, buf, len);
	mqj_obj(&j, NULL);
	mqj_num(&j, "battery_count", battery_count);
	mqj_end(&j);
	return mqj_finish(&j);
}

int mq_powermeter_health_json(bool online, const double *values, size_t n, char *buf, size_t len)
{
	struct mqj j;
	mqj_init(&j, buf, len);
	if (n > 3)
		n = 3;
	mqj_obj(&j, NULL);
	mqj_bool(&j, "online", online);
	mqj_obj(&j, "grid_power");
	static const char *const keys[] = {"l1", "l2", "l3"};
	double total = 0;
	for (size_t i = 0; i < 3; i++) {
		mqj_opt(&j, keys[i], i < n, i < n ? values[i] : 0);
		if (i < n)
			total += values[i];
	}
	mqj_opt(&j, "total", n > 0, total);
	mqj_end(&j);
	mqj_end(&j);
	return mqj_finish(&j);
}

int mq_bridge_json(const char *version, int consumer_count, char *buf, size_t len)
{
	struct mqj j;
	mqj_init(&j, buf, len);
	mqj_obj(&j, NULL);
	mqj_str(&j, "version", version ? version : "unknown");
	mqj_num(&j, "consumer_count", consumer_count);
	mqj_end(&j);
	return mqj_finish(&j);
}
