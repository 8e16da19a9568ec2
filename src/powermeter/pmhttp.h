/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Glue shared by the single-request HTTP meters (Shelly, Tasmota, SHRDZM, EMLOG, ioBroker,
 * ESPHome, AMIS reader, Fronius): one reused request per meter, GET, status check, then
 * the driver's pure parser; success publishes, every failure fails the poll with one line
 * (transport error, "HTTP <status>", or the parser's message). A driver's priv struct
 * begins with struct pmhttp. */
#ifndef ASTRAMETER_PMHTTP_H
#define ASTRAMETER_PMHTTP_H

#include "astrameter/http.h"
#include "astrameter/powermeter.h"

typedef int pmhttp_parse_fn(struct pm_meter *m, const char *body, size_t len,
                            struct pm_reading *out, struct err *e);

struct pmhttp {
	struct http_req *req;
	char url[1024]; /* may hold credentials: never logged */
	const char *user, *pass;
	bool digest;
	long connect_ms, total_ms; /* 0 = client defaults (1 s / 2 s) */
	pmhttp_parse_fn *parse;
};

/* Formats the URL into h->url; -1 with e if it does not fit. */
int pmhttp_set_url(struct pmhttp *h, struct err *e, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Creates the request (auth, timeouts). 0/-1. */
int pmhttp_start(struct pm_meter *m, struct pmhttp *h, struct err *e);
void pmhttp_stop(struct pmhttp *h);
/* Starts a GET; the result goes through h->parse to publish/fail. */
int pmhttp_poll(struct pm_meter *m, struct pmhttp *h);
/* Driver entry points for privs that begin with struct pmhttp. */
int pmhttp_drv_start(struct pm_meter *m, struct err *e);
void pmhttp_drv_stop(struct pm_meter *m);
int pmhttp_drv_poll(struct pm_meter *m, ev_ms now);
/* A required non-empty string key (error names section and key). */
int pmhttp_need(struct cfg_section *sec, const char *key, const char **out, struct err *e);

#endif
