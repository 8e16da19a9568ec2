/* SPDX-License-Identifier: GPL-3.0-or-later */
/* config.ini in memory, with Python configparser semantics that real files rely on:
 * case-sensitive section names kept in file order, case-insensitive keys (stored lower
 * case), full-line comments with '#' or ';', no inline comments (';' in a value is data),
 * long lines (tokens of several KB), continuation lines joined with '\n', no interpolation.
 * A duplicate key in one section: the last value wins (configparser would refuse the file;
 * we warn instead).
 *
 * Typed getters never guess: a bad value is an error whose message names the section, the
 * key and the value. Every getter marks the key as used; cfg_warn_unused() then reports
 * keys nobody asked for. */
#ifndef ASTRAMETER_CONFIG_H
#define ASTRAMETER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include "astrameter/err.h"

struct cfg_kv {
	char *key;   /* lower case */
	char *value; /* trimmed */
	int line;
	bool used;
};

struct cfg_section {
	char *name; /* as written */
	int line;
	struct cfg_kv *kv;
	size_t n, cap;
};

struct cfg {
	struct cfg_section *sec;
	size_t n, cap;
};

/* Parses a file / a string into cfg (which must be zeroed). On error cfg is freed and e
 * says which line was wrong. 0/-1. */
int cfg_load_file(struct cfg *cfg, const char *path, struct err *e);
int cfg_load_string(struct cfg *cfg, const char *text, struct err *e);
void cfg_free(struct cfg *cfg);

/* Finds a section by exact name; NULL if absent. */
struct cfg_section *cfg_find(const struct cfg *cfg, const char *name);
/* Adds (or finds) a section; NULL on allocation failure. Used for CLI overrides. */
struct cfg_section *cfg_add_section(struct cfg *cfg, const char *name);
/* Sets key=value in a section (replacing). 0/-1. */
int cfg_set(struct cfg_section *s, const char *key, const char *value);

/* Raw value or NULL if the key is absent (s may be NULL). Marks the key used. */
const char *cfg_get(struct cfg_section *s, const char *key);
bool cfg_has(struct cfg_section *s, const char *key);

/* Typed getters: if the key is absent (or s is NULL) *out = def and 0 is returned.
 * Otherwise the value is parsed; on failure -1 with e = "[SEC] KEY: <why> 'value'". */
int cfg_get_str(struct cfg_section *s, const char *key, const char *def, const char **out,
                struct err *e);
/* true/yes/on/1 and false/no/off/0, case-insensitive. */
int cfg_get_bool(struct cfg_section *s, const char *key, bool def, bool *out, struct err *e);
/* Integer in [min, max] (Python int(): optional sign and surrounding blanks). */
int cfg_get_int(struct cfg_section *s, const char *key, long def, long min, long max, long *out,
                struct err *e);
/* Finite float in [min, max]. */
int cfg_get_double(struct cfg_section *s, const char *key, double def, double min, double max,
                   double *out, struct err *e);
/* Comma-separated float list (blank items rejected). n in/out: capacity, then count. If
 * absent, *n = 0 and 0 is returned. */
int cfg_get_double_list(struct cfg_section *s, const char *key, double *out, size_t *n,
                        struct err *e);

/* Per-powermeter keys fall back to [GENERAL]: returns sec if it has key, else general. */
struct cfg_section *cfg_pick(struct cfg_section *sec, struct cfg_section *general, const char *key);

/* Warns (log, component "config") about every key in s that no getter asked for. Keys in
 * later_keys (NULL-terminated, lower case) are reported as "not supported yet" instead. */
void cfg_warn_unused(const struct cfg_section *s, const char *const *later_keys);

#endif
