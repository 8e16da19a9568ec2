/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Inside the mqtt module: a JSON writer into a caller's fixed buffer (no allocation), for
 * the state and discovery payloads. Commas are placed by the writer; an overflow is sticky
 * and reported once by mqj_finish. Nesting is limited to MQJ_DEPTH. */
#ifndef ASTRAMETER_MQ_JSON_H
#define ASTRAMETER_MQ_JSON_H

#include <stdbool.h>
#include <stddef.h>

#define MQJ_DEPTH 8

struct mqj {
	char *buf;
	size_t cap, len;
	bool err;
	int depth;
	bool first[MQJ_DEPTH];
	char close[MQJ_DEPTH]; /* what mqj_end writes at each level */
};

void mqj_init(struct mqj *j, char *buf, size_t cap);
/* key is NULL inside an array, and for the top-level value. */
void mqj_obj(struct mqj *j, const char *key);
void mqj_arr(struct mqj *j, const char *key);
void mqj_end(struct mqj *j); /* closes the innermost object or array */
void mqj_str(struct mqj *j, const char *key, const char *s); /* s NULL -> null */
/* A string built with printf (escaped like mqj_str; at most 255 bytes). */
void mqj_strf(struct mqj *j, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void mqj_num(struct mqj *j, const char *key, double d);           /* non-finite -> null */
void mqj_opt(struct mqj *j, const char *key, bool set, double d); /* !set -> null */
void mqj_bool(struct mqj *j, const char *key, bool b);
void mqj_null(struct mqj *j, const char *key);
/* The length written (NUL-terminated), or -1 on overflow or unbalanced nesting. */
int mqj_finish(struct mqj *j);

#endif
