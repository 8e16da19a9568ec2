/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The in-memory config: sections in file order, each with its keys (lower case) and values,
 * and the small string helpers the reader and the getters share. Loading is config_read.c,
 * the typed getters config_get.c; the contract is astrameter/config.h. */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "astrameter/cfg_schema.h"
#include "astrameter/config.h"
#include "astrameter/log.h"
#include "astrameter/pynum.h"
#include "astrameter/text.h"

#include "config/cfg_int.h"

void cfg_upper_key(const char *key, char *buf, size_t n)
{
	size_t i = 0;
	for (; key[i] && i + 1 < n; i++)
		buf[i] = (char)toupper((unsigned char)key[i]);
	buf[i] = '\0';
}

char *cfg_dup_range(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *cfg_dup_lower(const char *s)
{
	size_t n = strlen(s);
	char *p = cfg_dup_range(s, n);
	if (p) {
		for (size_t i = 0; i < n; i++)
			p[i] = (char)tolower((unsigned char)p[i]);
	}
	return p;
}

char *cfg_dup_trimmed(const char *s)
{
	while (txt_is_blank((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && txt_is_blank((unsigned char)s[n - 1]))
		n--;
	return cfg_dup_range(s, n);
}

/* ---- sections and keys ---- */

struct cfg_kv *cfg_kv_find(const struct cfg_section *s, const char *key)
{
	if (!s || !key)
		return NULL;
	for (size_t i = 0; i < s->n; i++) {
		if (strcasecmp(s->kv[i].key, key) == 0)
			return &s->kv[i];
	}
	return NULL;
}

static void section_free(struct cfg_section *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->kv[i].key);
		free(s->kv[i].value);
	}
	free(s->kv);
	free(s->name);
}

void cfg_free(struct cfg *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n; i++)
		section_free(&cfg->sec[i]);
	free(cfg->sec);
	memset(cfg, 0, sizeof(*cfg));
}

struct cfg_section *cfg_find(const struct cfg *cfg, const char *name)
{
	if (!cfg || !name)
		return NULL;
	for (size_t i = 0; i < cfg->n; i++) {
		if (strcmp(cfg->sec[i].name, name) == 0)
			return &cfg->sec[i];
	}
	return NULL;
}

struct cfg_section *cfg_section_append(struct cfg *cfg, const char *name, size_t len, int line)
{
	if (cfg->n == cfg->cap) {
		size_t cap = cfg->cap ? cfg->cap * 2 : 8;
		struct cfg_section *p = realloc(cfg->sec, cap * sizeof(*p));
		if (!p)
			return NULL;
		cfg->sec = p;
		cfg->cap = cap;
	}
	struct cfg_section *s = &cfg->sec[cfg->n];
	memset(s, 0, sizeof(*s));
	s->name = cfg_dup_range(name, len);
	if (!s->name)
		return NULL;
	s->line = line;
	cfg->n++;
	return s;
}

struct cfg_section *cfg_add_section(struct cfg *cfg, const char *name)
{
	if (!cfg || !name)
		return NULL;
	struct cfg_section *s = cfg_find(cfg, name);
	return s ? s : cfg_section_append(cfg, name, strlen(name), 0);
}

/* Appends a key (no duplicate check). Takes ownership of key and value. */
struct cfg_kv *cfg_kv_append(struct cfg_section *s, char *key, char *value, int line)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct cfg_kv *p = realloc(s->kv, cap * sizeof(*p));
		if (!p)
			return NULL;
		s->kv = p;
		s->cap = cap;
	}
	struct cfg_kv *kv = &s->kv[s->n++];
	kv->key = key;
	kv->value = value;
	kv->line = line;
	kv->used = false;
	return kv;
}

int cfg_set(struct cfg_section *s, const char *key, const char *value)
{
	if (!s || !key || !value)
		return -1;
	char *v = cfg_dup_trimmed(value);
	if (!v)
		return -1;
	struct cfg_kv *kv = cfg_kv_find(s, key);
	if (kv) {
		free(kv->value);
		kv->value = v;
		kv->line = 0;
		return 0;
	}
	char *k = cfg_dup_lower(key);
	if (!k || !cfg_kv_append(s, k, v, 0)) {
		free(k);
		free(v);
		return -1;
	}
	return 0;
}
