/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Fuzz target for the MQTT meter's payload handling and the mqtt[s]:// URI parser. Input:
 * the first line is a JSON path (empty = plain-number payloads) and is also fed to the URI
 * parser; the rest is a payload applied to a one-topic meter with that path and to a
 * plain one. Checks that accepted values are finite and in range. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "astrameter/mqtt_loop.h"
#include "astrameter/pm_mqtt.h"
#include "astrameter/pm_parsers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct pm_mqtt_subs *s, const char *payload, size_t len)
{
	struct pm_mqtt_values v;
	struct pm_reading r;
	struct err e;
	unsigned errors = 0;
	memset(&v, 0, sizeof(v));
	(void)pm_mqtt_apply(s, &v, 1, "t", payload, len, &errors, &e);
	if (pm_mqtt_reading(s, &v, &r, &e) == 0)
		for (unsigned i = 0; i < r.n; i++)
			if (!isfinite(r.w[i]) || fabs(r.w[i]) > PM_PARSE_MAX_W)
				abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	size_t llen = nl ? (size_t)(nl - (const char *)data) : size;
	char *line = malloc(llen + 1);
	if (!line)
		return 0;
	memcpy(line, data, llen);
	line[llen] = '\0';
	const char *payload = nl ? nl + 1 : "";
	size_t plen = nl ? size - llen - 1 : 0;

	struct mqtt_uri u;
	struct err e;
	if (mqtt_uri_parse(line, &u, &e) == 0 && (u.port < 1 || u.port > 65535 || !u.host[0]))
		abort();

	struct pm_mqtt_subs s;
	if (pm_mqtt_subs_build(NULL, "t", line, NULL, &s, &e) == 0) {
		check(&s, payload, plen);
		pm_mqtt_subs_free(&s);
	}
	if (pm_mqtt_subs_build(NULL, "t", NULL, NULL, &s, &e) == 0) {
		check(&s, payload, plen);
		pm_mqtt_subs_free(&s);
	}
	free(line);
	return 0;
}
