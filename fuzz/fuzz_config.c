/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Fuzz target for the config loader: arbitrary bytes as config.ini text (up to the first
 * NUL, as cfg_load_string sees a C string), then every typed getter on every key, the
 * unused-key report and the schema check. Checks the loader's invariants: section names
 * unique and non-empty, keys non-empty and lower case, values without surrounding blanks. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "astrameter/cfg_schema.h"
#include "astrameter/config.h"
#include "astrameter/log.h"
#include "astrameter/powermeter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

static void check_invariants(const struct cfg *c)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct cfg_section *s = &c->sec[i];
		if (!s->name[0])
			abort();
		for (size_t j = i + 1; j < c->n; j++) {
			if (strcmp(s->name, c->sec[j].name) == 0)
				abort();
		}
		for (size_t k = 0; k < s->n; k++) {
			const struct cfg_kv *kv = &s->kv[k];
			if (!kv->key[0])
				abort();
			for (const char *p = kv->key; *p; p++) {
				if (isupper((unsigned char)*p))
					abort();
			}
			size_t n = strlen(kv->value);
			if (n && (blank(kv->value[0]) || blank(kv->value[n - 1])))
				abort();
			for (size_t m = k + 1; m < s->n; m++) {
				if (strcmp(kv->key, s->kv[m].key) == 0)
					abort();
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Keep the log quiet: the harness is about memory safety and invariants. */
	log_set_level(LOG_LVL_CRIT);
	size_t n_pm = 0;
	const struct cfg_schema_kind *pm = pm_schema_kinds(&n_pm);
	cfg_schema_set_meter_kinds(pm, n_pm); /* as the daemon does */
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	struct cfg c = {0};
	struct err e;
	if (cfg_load_string(&c, text, &e) != 0) {
		if (c.sec || c.n)
			abort(); /* a failed load leaves nothing behind */
		free(text);
		return 0;
	}
	check_invariants(&c);

	struct cfg_section *general = cfg_find(&c, "GENERAL");
	for (size_t i = 0; i < c.n; i++) {
		struct cfg_section *s = &c.sec[i];
		for (size_t k = 0; k < s->n; k++) {
			const char *key = s->kv[k].key;
			const char *str;
			bool b;
			long l;
			double d, list[8];
			size_t n = 8;
			(void)cfg_get_str(s, key, "", &str, &e);
			(void)cfg_get_bool(s, key, false, &b, &e);
			(void)cfg_get_int(s, key, 0, -1000, 1000, &l, &e);
			(void)cfg_get_int(s, key, 0, 0, 0x7fffffffL, &l, &e);
			(void)cfg_get_double(s, key, 0, -1e6, 1e6, &d, &e);
			(void)cfg_get_double_list(s, key, list, &n, &e);
			if (n > 8)
				abort();
			(void)cfg_pick(s, general, key);
			(void)cfg_has(s, key);
			if (strlen(e.msg) >= sizeof(e.msg))
				abort();
		}
		cfg_warn_unused(s, NULL);
		(void)cfg_schema_kind_of(s->name);
	}
	(void)cfg_schema_check(&c, NULL, NULL);
	cfg_free(&c);
	free(text);
	return 0;
}
