/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target: the MQTT command parser (mq_command_parse). Input: the topic up to the
 * first '\n', the payload after it. Whatever it accepts must be within the field's bounds,
 * format back to a payload that parses to the same value (the retained mirror), and apply
 * to a balancer and read back (a consumer id the balancer refuses aside). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "astrameter/bal_fields.h"
#include "astrameter/mq_command.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char topic[256];
	const uint8_t *nl = memchr(data, '\n', size);
	size_t tl = nl ? (size_t)(nl - data) : size;
	if (tl >= sizeof(topic))
		return 0;
	memcpy(topic, data, tl);
	topic[tl] = '\0';
	const uint8_t *p = nl ? nl + 1 : data + size;
	size_t pl = size - (size_t)(p - data);
	struct mq_command c;
	struct err e;
	int rc = mq_command_parse("astrameter", topic, p, pl, &c, &e);
	if (rc != 0 || c.kind != MQ_CMD_BATTERY || c.clear)
		return 0;
	const struct bal_field *f = c.field;
	if (!f || bal_field_check(f, &c.value, &e) != 0)
		abort();
	char buf[64];
	int n = bal_field_format(f, &c.value, buf, sizeof(buf));
	if (n < 0)
		abort();
	struct bal_value again;
	if (bal_field_parse(f, buf, (size_t)n, &again, &e) != 0)
		abort();
	if (f->type == BAL_FT_BOOL ? again.b != c.value.b : again.num != c.value.num)
		abort();
	struct bal_config cfg;
	bal_config_defaults(&cfg);
	struct balancer *b = bal_create(&cfg, 1000);
	if (!b)
		return 0;
	struct bal_field_ctx x = {.b = b, .id = c.consumer, .now = 2000};
	if (bal_field_apply_wire(f, &x, &c.value, &e) == 0) {
		struct bal_value r;
		if (bal_field_read_wire(f, b, c.consumer, &r) != 0)
			abort();
		if (f->type == BAL_FT_BOOL ? r.b != c.value.b
		                           : fabs(r.num - c.value.num) > 1e-9 * (1 + fabs(r.num)))
			abort();
	}
	bal_destroy(b);
	return 0;
}
