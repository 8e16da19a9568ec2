/* SPDX-License-Identifier: GPL-3.0-or-later */
/* MQTT powermeter (push): subscribes to TOPIC/TOPICS on a broker through mqtt_loop and
 * publishes a reading to the core whenever a message updates a value and every value has
 * been seen at least once (until then a read fails, as upstream). Payloads are plain
 * numbers or JSON with a compiled JSONPath per value. Values are kept across reconnects,
 * but when no usable message arrived for MAX_AGE (default 60 s; upstream: never) the
 * meter fails, so a dead broker or publisher turns into the hold answer instead of the
 * last power forever; with WAIT_FOR_NEXT_MESSAGE a parked request gets the next message,
 * or the last values after 2 s. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "astrameter/jsonpath.h"
#include "astrameter/mqtt_loop.h"
#include "astrameter/pm_mqtt.h"
#include "astrameter/pm_parsers.h"
#include "astrameter/powermeter.h"
#include "astrameter/pynum.h"

/* ---------------------------------------------------------------- pure parts */

static bool blank(const char *s)
{
	if (!s)
		return true;
	while (*s && isspace((unsigned char)*s))
		s++;
	return *s == '\0';
}

static char *dup_trim(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

void pm_mqtt_subs_free(struct pm_mqtt_subs *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->s[i].topic);
		/* Replicated paths share one program: free each once. */
		bool dup = false;
		for (size_t k = 0; k < i; k++)
			if (s->s[k].path == s->s[i].path)
				dup = true;
		if (!dup)
			jsonpath_free(s->s[i].path);
	}
	memset(s, 0, sizeof(*s));
}

int pm_mqtt_subs_build(const char *topics, const char *topic, const char *paths, const char *path,
                       struct pm_mqtt_subs *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	char *t[PM_MAX_VALUES];
	size_t nt = 0;
	struct jsonpath *p[PM_MAX_VALUES];
	size_t np = 0;
	struct err pe;

	if (!blank(topics)) {
		const char *s = topics;
		for (;;) {
			size_t l = strcspn(s, ",");
			char *item = dup_trim(s, l);
			if (!item)
				goto oom;
			if (*item) {
				if (nt == PM_MAX_VALUES) {
					free(item);
					err_set(e, "TOPICS: more than %d topics", PM_MAX_VALUES);
					goto fail;
				}
				t[nt++] = item;
			} else {
				free(item);
			}
			if (!s[l])
				break;
			s += l + 1;
		}
	} else if (topic && *topic) {
		t[0] = dup_trim(topic, strlen(topic));
		if (!t[0])
			goto oom;
		nt = 1;
		if (!*t[0]) {
			free(t[0]);
			nt = 0;
		}
	}
	if (nt == 0) {
		err_set(e, "TOPIC or TOPICS: at least one MQTT topic is required");
		goto fail;
	}

	if (!blank(paths)) {
		if (jsonpath_compile_list(paths, p, PM_MAX_VALUES, &np, &pe) != 0) {
			err_set(e, "JSON_PATHS: %s", pe.msg);
			goto fail;
		}
	} else if (!blank(path)) {
		p[0] = jsonpath_compile(path, &pe);
		if (!p[0]) {
			err_set(e, "JSON_PATH: %s", pe.msg);
			goto fail;
		}
		np = 1;
	}

	size_t n = nt;
	if (nt == 1 && np > 1)
		n = np;
	else if (np > 1 && nt != np) {
		err_set(e,
		        "topic count (%zu) and JSON path count (%zu) must match, or one of "
		        "them must be a single value",
		        nt, np);
		for (size_t i = 0; i < np; i++)
			jsonpath_free(p[i]);
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		out->s[i].topic = strdup(t[nt == 1 ? 0 : i]);
		out->s[i].path = np == 0 ? NULL : p[np == 1 ? 0 : i];
		out->n = i + 1;
		if (!out->s[i].topic) {
			/* paths are owned by out from here on; free the rest below */
			for (size_t k = n; k-- > i + 1;)
				if (np > 1)
					jsonpath_free(p[k]);
			pm_mqtt_subs_free(out);
			goto oom;
		}
	}
	for (size_t i = 0; i < nt; i++)
		free(t[i]);
	return 0;
oom:
	err_set(e, "out of memory");
fail:
	for (size_t i = 0; i < nt; i++)
		free(t[i]);
	memset(out, 0, sizeof(*out));
	return -1;
}

static int check_range(double v, struct err *e)
{
	if (!isfinite(v) || fabs(v) > PM_PARSE_MAX_W)
		return err_set(e, "value %g is out of range", v);
	return 0;
}

/* One JSON document with nothing but blanks after it, as json.loads. NULL if invalid. */
static cJSON *parse_json(const char *payload, size_t len, struct err *e)
{
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(payload, len, &end, 0);
	if (!root) {
		err_set(e, "payload is not valid JSON");
		return NULL;
	}
	for (const char *q = end; q && q < payload + len; q++) {
		if (!isspace((unsigned char)*q)) {
			cJSON_Delete(root);
			err_set(e, "payload is not valid JSON (data after the document)");
			return NULL;
		}
	}
	return root;
}

static int eval(const struct jsonpath *path, const cJSON *root, double *out, struct err *e)
{
	double v;
	if (jsonpath_eval_number(path, root, &v, e) != 0 || check_range(v, e) != 0)
		return -1;
	*out = v;
	return 0;
}

int pm_mqtt_parse_value(const struct jsonpath *path, const char *payload, size_t len, double *out,
                        struct err *e)
{
	if (!path) {
		double v;
		if (memchr(payload, '\0', len) || pynum_float_finite(payload, len, &v) != 0) {
			return err_set(e, "payload '%.*s' is not a number",
			               (int)(len > 40 ? 40 : len), payload);
		}
		if (check_range(v, e) != 0)
			return -1;
		*out = v;
		return 0;
	}
	cJSON *root = parse_json(payload, len, e);
	if (!root)
		return -1;
	int rc = eval(path, root, out, e);
	cJSON_Delete(root);
	return rc;
}

int pm_mqtt_apply(const struct pm_mqtt_subs *s, struct pm_mqtt_values *v, ev_ms now,
                  const char *topic, const char *payload, size_t len, unsigned *errors,
                  struct err *e)
{
	int updated = 0;
	cJSON *root = NULL;
	bool json_tried = false;
	struct err je = {{0}};
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->s[i].topic, topic) != 0)
			continue;
		double x;
		struct err pe;
		int rc;
		if (!s->s[i].path) {
			rc = pm_mqtt_parse_value(NULL, payload, len, &x, &pe);
		} else {
			/* Parse the document once for every path on this topic. */
			if (!json_tried) {
				json_tried = true;
				root = parse_json(payload, len, &je);
			}
			if (!root) {
				pe = je;
				rc = -1;
			} else {
				rc = eval(s->s[i].path, root, &x, &pe);
			}
		}
		if (rc != 0) {
			if (errors && (*errors)++ == 0 && e)
				*e = pe;
			continue;
		}
		v->v[i] = x;
		v->seen[i] = true;
		updated++;
	}
	cJSON_Delete(root);
	if (updated)
		v->last = now;
	return updated;
}

ev_ms pm_mqtt_stale_in(const struct pm_mqtt_values *v, ev_ms now, ev_ms max_age_ms)
{
	if (max_age_ms <= 0 || v->last == 0)
		return EV_STOP;
	ev_ms left = v->last + max_age_ms - now;
	return left > 0 ? left : 0;
}

int pm_mqtt_reading(const struct pm_mqtt_subs *s, const struct pm_mqtt_values *v,
                    struct pm_reading *out, struct err *e)
{
	if (s->n == 0 || s->n > PM_MAX_VALUES)
		return err_set(e, "no topics");
	for (size_t i = 0; i < s->n; i++)
		if (!v->seen[i])
			return err_set(e, "no value received yet on topic '%s'", s->s[i].topic);
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < s->n; i++)
		out->w[i] = v->v[i];
	out->n = (unsigned)s->n;
	return 0;
}

/* ---------------------------------------------------------------- the driver */

struct pmq {
	struct pm_mqtt_subs subs;
	struct pm_mqtt_values vals;
	struct mqtt_uri uri;
	struct mqtt_loop_opts opts;
	struct mqtt_loop *ml;
	struct log_complain parse_complain;
	ev_ms max_age_ms; /* MAX_AGE; 0 = values never go stale */
	uint64_t stale_timer;
};

/* Fails the meter once the values went stale; re-checks while they are fresh (a message
 * meanwhile moved the deadline). */
static ev_ms pmq_stale_cb(struct ev_loop *loop, void *arg)
{
	struct pm_meter *m = arg;
	struct pmq *q = m->priv;
	ev_ms now = ev_now(loop);
	ev_ms left = pm_mqtt_stale_in(&q->vals, now, q->max_age_ms);
	if (left > 0)
		return left;
	q->stale_timer = 0;
	if (left == 0)
		pm_meter_fail(m,
		              "no message for %lld s (MAX_AGE = %lld s): the values are stale, "
		              "batteries get the hold answer",
		              (long long)((now - q->vals.last) / 1000),
		              (long long)(q->max_age_ms / 1000));
	return EV_STOP;
}

static void pmq_connected(struct mqtt_loop *ml, void *arg)
{
	struct pm_meter *m = arg;
	struct pmq *q = m->priv;
	for (size_t i = 0; i < q->subs.n; i++) {
		bool again = false;
		for (size_t k = 0; k < i; k++)
			if (strcmp(q->subs.s[k].topic, q->subs.s[i].topic) == 0)
				again = true;
		if (again)
			continue;
		if (mqtt_loop_subscribe(ml, q->subs.s[i].topic, 0) != 0)
			log_warnx(m->name, "cannot subscribe to '%s'", q->subs.s[i].topic);
		else
			log_debug(m->name, "subscribed to '%s'", q->subs.s[i].topic);
	}
}

static void pmq_message(struct mqtt_loop *ml, const char *topic, const void *payload, size_t len,
                        void *arg)
{
	(void)ml;
	struct pm_meter *m = arg;
	struct pmq *q = m->priv;
	unsigned errors = 0;
	struct err e = {{0}};
	ev_ms now = ev_now(m->ctx->loop);
	int n = pm_mqtt_apply(&q->subs, &q->vals, now, topic, payload, len, &errors, &e);
	if (errors)
		log_complain(&q->parse_complain, ev_now(m->ctx->loop), m->name,
		             "cannot use the payload on '%s': %s", topic, e.msg);
	else if (n > 0)
		log_release(&q->parse_complain, m->name, "payloads parse again");
	if (n <= 0)
		return;
	if (!q->stale_timer && q->max_age_ms > 0)
		q->stale_timer = ev_timer_add(m->ctx->loop, q->max_age_ms, pmq_stale_cb, m);
	struct pm_reading r;
	if (pm_mqtt_reading(&q->subs, &q->vals, &r, &e) != 0) {
		log_debug(m->name, "%s", e.msg);
		return;
	}
	pm_meter_publish(m, &r);
}

static int pmq_configure(struct pm_meter *m, struct cfg_section *sec, struct err *e)
{
	struct pmq *q = m->priv;
	const char *topics, *topic, *paths, *path, *uri, *broker, *user, *pass;
	long port;
	bool tls;
	double max_age;
	struct err pe;
	/* Read every key (URI makes the others unused upstream, but they are still ours). */
	if (cfg_get_str(sec, "topics", NULL, &topics, e) != 0 ||
	    cfg_get_str(sec, "topic", NULL, &topic, e) != 0 ||
	    cfg_get_str(sec, "json_paths", NULL, &paths, e) != 0 ||
	    cfg_get_str(sec, "json_path", NULL, &path, e) != 0 ||
	    cfg_get_str(sec, "uri", NULL, &uri, e) != 0 ||
	    cfg_get_str(sec, "broker", "", &broker, e) != 0 ||
	    cfg_get_int(sec, "port", 1883, 1, 65535, &port, e) != 0 ||
	    cfg_get_str(sec, "username", NULL, &user, e) != 0 ||
	    cfg_get_str(sec, "password", NULL, &pass, e) != 0 ||
	    cfg_get_bool(sec, "tls", false, &tls, e) != 0 ||
	    cfg_get_double(sec, "max_age", PM_MQTT_DEFAULT_MAX_AGE_MS / 1000.0, 0, 86400, &max_age,
	                   e) != 0)
		return -1;
	q->max_age_ms = (ev_ms)(max_age * 1000.0);
	memset(&q->opts, 0, sizeof(q->opts));
	q->opts.name = m->name;
	q->opts.keepalive_s = 60;
	if (!blank(uri)) {
		if (mqtt_uri_parse(uri, &q->uri, &pe) != 0)
			return err_set(e, "[%s] URI: %s", sec->name, pe.msg);
		q->opts.host = q->uri.host;
		q->opts.port = q->uri.port;
		q->opts.username = q->uri.has_username ? q->uri.username : NULL;
		q->opts.password = q->uri.has_password ? q->uri.password : NULL;
		q->opts.tls = q->uri.tls;
	} else {
		if (blank(broker))
			return err_set(e, "[%s] BROKER: required (or URI = mqtt://host:port)",
			               sec->name);
		q->opts.host = broker;
		q->opts.port = (int)port;
		q->opts.username = user;
		q->opts.password = pass;
		q->opts.tls = tls;
	}
	if (pm_mqtt_subs_build(topics, topic, paths, path, &q->subs, &pe) != 0)
		return err_set(e, "[%s] %s", sec->name, pe.msg);
	return 0;
}

static int pmq_start(struct pm_meter *m, struct err *e)
{
	struct pmq *q = m->priv;
	if (q->ml)
		return 0;
	static const struct mqtt_loop_cbs cbs = {
	        .connected = pmq_connected,
	        .message = pmq_message,
	};
	struct err le;
	q->ml = mqtt_loop_new(m->ctx->loop, &q->opts, &cbs, m, &le);
	if (!q->ml)
		return err_set(e, "[%s] %s", m->name, le.msg);
	if (mqtt_loop_start(q->ml, &le) != 0) {
		mqtt_loop_free(q->ml);
		q->ml = NULL;
		return err_set(e, "[%s] %s", m->name, le.msg);
	}
	log_info(m->name, "MQTT meter: %zu value(s) from broker %s:%d, stale after %s", q->subs.n,
	         q->opts.host, q->opts.port ? q->opts.port : (q->opts.tls ? 8883 : 1883),
	         q->max_age_ms > 0 ? "MAX_AGE" : "never (MAX_AGE = 0)");
	return 0;
}

static void pmq_stop(struct pm_meter *m)
{
	struct pmq *q = m->priv;
	if (!q)
		return;
	mqtt_loop_free(q->ml);
	q->ml = NULL;
	if (q->stale_timer)
		ev_timer_del(m->ctx->loop, q->stale_timer);
	q->stale_timer = 0;
	pm_mqtt_subs_free(&q->subs);
	memset(q->uri.password, 0, sizeof(q->uri.password));
}

const struct pm_driver pm_mqtt_driver = {
        .name = "MQTT",
        .priv_size = sizeof(struct pmq),
        .push = true,
        .configure = pmq_configure,
        .start = pmq_start,
        .stop = pmq_stop,
        .poll = NULL,
        .keys = "BROKER PORT USERNAME PASSWORD TLS URI TOPIC TOPICS JSON_PATH JSON_PATHS MAX_AGE+",
};
