/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Private helpers shared by the filter stages: reading a key the way upstream's
 * config_loader does (the [GENERAL] value is parsed first as the default, then the powermeter
 * section may override it) and naming where a value came from in log and error lines. */
#ifndef ASTRAMETER_FLT_UTIL_H
#define ASTRAMETER_FLT_UTIL_H

#include <stdbool.h>
#include "astrameter/config.h"
#include "astrameter/err.h"

/* Parses key from general (def if absent there), then from sec (the general result if
 * absent there). Any finite number is accepted; range checks are the caller's. Either
 * section may be NULL. 0/-1 with e naming section, key and value. */
int flt_cfg_double(struct cfg_section *sec, struct cfg_section *general, const char *key,
                   double def, double *out, struct err *e);
/* The same for an integer (Python int() syntax). */
int flt_cfg_long(struct cfg_section *sec, struct cfg_section *general, const char *key, long def,
                 long *out, struct err *e);
/* Raw text of the value in effect (section first, then general) or NULL if neither has it. */
const char *flt_cfg_raw(struct cfg_section *sec, struct cfg_section *general, const char *key);
/* Name of the section the value in effect came from, for error messages ("?" if none). */
const char *flt_cfg_where(struct cfg_section *sec, struct cfg_section *general, const char *key);
/* "section-specific" or "global", as upstream's log lines say. */
const char *flt_cfg_origin(struct cfg_section *sec, const char *key);
/* Marks key in sec as read without parsing it: upstream ignores the dependent keys of a
 * disabled stage, and they must not be reported as unknown either. */
void flt_cfg_touch(struct cfg_section *sec, const char *key);
/* Section name for log lines ("?" for NULL). */
const char *flt_sec_name(const struct cfg_section *sec);

#endif
