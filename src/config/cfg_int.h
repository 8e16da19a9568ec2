/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Internals shared by the config reader (config_read.c), the section store (config.c) and
 * the typed getters (config_get.c). Not a contract: astrameter/config.h is. */
#ifndef ASTRAMETER_CONFIG_CFG_INT_H
#define ASTRAMETER_CONFIG_CFG_INT_H

#include <stddef.h>

#include "astrameter/config.h"

/* key in upper case into buf (truncated to n - 1 bytes), as messages show keys. */
void cfg_upper_key(const char *key, char *buf, size_t n);
/* malloc'ed copies (NULL when out of memory): s[0..n); lower-cased; blanks trimmed. */
char *cfg_dup_range(const char *s, size_t n);
char *cfg_dup_lower(const char *s);
char *cfg_dup_trimmed(const char *s);
/* The entry for key (case-insensitive) in s, or NULL. */
struct cfg_kv *cfg_kv_find(const struct cfg_section *s, const char *key);
/* Append a section / a key (key and value belong to the section once this succeeded);
 * NULL when out of memory. */
struct cfg_section *cfg_section_append(struct cfg *cfg, const char *name, size_t len, int line);
struct cfg_kv *cfg_kv_append(struct cfg_section *s, char *key, char *value, int line);

#endif
