/* SPDX-License-Identifier: GPL-3.0-or-later */
/* FRITZ powermeter: an AVM FRITZ!Smart Energy 250 read head paired with a FRITZ!Box,
 * read through the box's AHA-HTTP interface. Login is the login_sid.lua challenge-response
 * (PBKDF2 "2$..." challenge on FRITZ!OS >= 7.24, else legacy MD5 over UTF-16LE), then
 * getdevicelistinfos returns XML with the power of every device in mW; a 403 means the
 * SID expired and triggers one re-login. The XML is scanned with a small bounded matcher,
 * enough for the box's fixed, flat format. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "astrameter/pm_parsers.h"
#include "astrameter/text.h"
#include "powermeter/pmhttp.h"

int pm_fritz_normalize_ain(const char *ain, char *out, size_t cap, struct err *e)
{
	size_t o = 0;
	for (const char *p = ain; *p; p++) {
		if (isspace((unsigned char)*p))
			continue;
		if (o + 1 >= cap)
			return err_set(e, "AIN too long");
		out[o++] = *p;
	}
	out[o] = '\0';
	if (!o)
		return err_set(e, "FRITZ!Smart Energy requires an AIN");
	/* Ends in "-<digits>"? Otherwise read the grid-import unit "-1", which carries the
	 * signed net power. */
	size_t d = o;
	while (d > 0 && isdigit((unsigned char)out[d - 1]))
		d--;
	if (d < o && d > 0 && out[d - 1] == '-')
		return 0;
	if (o + 3 > cap)
		return err_set(e, "AIN too long");
	memcpy(out + o, "-1", 3);
	return 0;
}

static int pbkdf2_response(const char *chal, const char *password, char *out, size_t cap,
                           struct err *e)
{
	/* 2$<iter1>$<salt1>$<iter2>$<salt2> */
	const char *f[5];
	size_t flen[5];
	const char *p = chal;
	for (int i = 0; i < 5; i++) {
		const char *q = strchr(p, '$');
		if ((q == NULL) != (i == 4))
			return err_set(e, "malformed PBKDF2 challenge");
		f[i] = p;
		flen[i] = q ? (size_t)(q - p) : strlen(p);
		p = q ? q + 1 : p;
	}
	long it[2];
	unsigned char salt[2][64];
	size_t slen[2];
	for (int k = 0; k < 2; k++) {
		char num[16];
		size_t n = flen[1 + 2 * k];
		if (!n || n >= sizeof(num))
			return err_set(e, "malformed PBKDF2 challenge");
		memcpy(num, f[1 + 2 * k], n);
		num[n] = '\0';
		char *end;
		it[k] = strtol(num, &end, 10);
		if (*end || it[k] < 1 || it[k] > 10000000)
			return err_set(e, "malformed PBKDF2 challenge");
		if (txt_unhex(f[2 + 2 * k], flen[2 + 2 * k], salt[k], sizeof(salt[k]), &slen[k]) <
		    0)
			return err_set(e, "malformed PBKDF2 challenge");
	}
	unsigned char h1[32], h2[32];
	if (!PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt[0], (int)slen[0], (int)it[0],
	                       EVP_sha256(), sizeof(h1), h1) ||
	    !PKCS5_PBKDF2_HMAC((const char *)h1, sizeof(h1), salt[1], (int)slen[1], (int)it[1],
	                       EVP_sha256(), sizeof(h2), h2))
		return err_set(e, "PBKDF2 failed");
	char hex[65];
	txt_tohex(h2, sizeof(h2), hex);
	int n = snprintf(out, cap, "%.*s$%s", (int)flen[4], f[4], hex);
	if (n < 0 || (size_t)n >= cap)
		return err_set(e, "login response too long");
	return 0;
}

/* UTF-8 -> UTF-16LE (with surrogate pairs). Returns bytes written or -1. */
static long utf16le(const char *s, unsigned char *out, size_t cap)
{
	size_t o = 0;
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned long cp;
		int extra;
		if (*p < 0x80) {
			cp = *p;
			extra = 0;
		} else if ((*p & 0xe0) == 0xc0) {
			cp = *p & 0x1f;
			extra = 1;
		} else if ((*p & 0xf0) == 0xe0) {
			cp = *p & 0x0f;
			extra = 2;
		} else if ((*p & 0xf8) == 0xf0) {
			cp = *p & 0x07;
			extra = 3;
		} else {
			return -1;
		}
		p++;
		for (int i = 0; i < extra; i++, p++) {
			if ((*p & 0xc0) != 0x80)
				return -1;
			cp = cp << 6 | (*p & 0x3f);
		}
		if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		unsigned long units[2];
		int nu = 1;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			units[0] = 0xd800 | (cp >> 10);
			units[1] = 0xdc00 | (cp & 0x3ff);
			nu = 2;
		} else {
			units[0] = cp;
		}
		for (int i = 0; i < nu; i++) {
			if (o + 2 > cap)
				return -1;
			out[o++] = (unsigned char)(units[i] & 0xff);
			out[o++] = (unsigned char)(units[i] >> 8);
		}
	}
	return (long)o;
}

static int md5_response(const char *chal, const char *password, char *out, size_t cap,
                        struct err *e)
{
	char text[600];
	unsigned char u16[1200], md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	int n = snprintf(text, sizeof(text), "%s-%s", chal, password);
	if (n < 0 || (size_t)n >= sizeof(text))
		return err_set(e, "challenge or password too long");
	long ulen = utf16le(text, u16, sizeof(u16));
	if (ulen < 0)
		return err_set(e, "password is not valid UTF-8");
	if (!EVP_Digest(u16, (size_t)ulen, md, &mdlen, EVP_md5(), NULL) || mdlen != 16)
		return err_set(e, "MD5 failed");
	char hex[33];
	txt_tohex(md, 16, hex);
	n = snprintf(out, cap, "%s-%s", chal, hex);
	if (n < 0 || (size_t)n >= cap)
		return err_set(e, "login response too long");
	return 0;
}

int pm_fritz_login_response(const char *challenge, const char *password, char *out, size_t cap,
                            struct err *e)
{
	if (strncmp(challenge, "2$", 2) == 0)
		return pbkdf2_response(challenge, password, out, cap, e);
	return md5_response(challenge, password, out, cap, e);
}

/* ---- minimal XML scanning over [p, end) ---- */

static const char *find(const char *p, const char *end, const char *needle)
{
	size_t n = strlen(needle);
	for (; p && (size_t)(end - p) >= n; p++)
		if (memcmp(p, needle, n) == 0)
			return p;
	return NULL;
}

/* Copies text with the five predefined entities decoded. -1 if it does not fit. */
static int copy_text(const char *p, const char *end, char *out, size_t cap)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = {
	        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
	size_t o = 0;
	while (p < end) {
		char c = *p++;
		if (c == '&') {
			for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
				size_t n = strlen(ents[i].ent) - 1;
				if ((size_t)(end - p) >= n && memcmp(p, ents[i].ent + 1, n) == 0) {
					c = ents[i].c;
					p += n;
					break;
				}
			}
		}
		if (o + 1 >= cap)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

/* Text of the first <tag>...</tag> within [p, end). 1 found, 0 absent, -1 too long or
 * unterminated. */
static int tag_text(const char *p, const char *end, const char *tag, char *out, size_t cap)
{
	char open[40], close[40];
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	const char *a = find(p, end, open);
	if (!a) {
		snprintf(open, sizeof(open), "<%s/>", tag);
		if (find(p, end, open)) {
			out[0] = '\0';
			return 1;
		}
		return 0;
	}
	a += strlen(open);
	const char *b = find(a, end, close);
	if (!b || find(a, b, "<"))
		return -1;
	return copy_text(a, b, out, cap) < 0 ? -1 : 1;
}

/* The document must be markup and end with the given closing tag (a truncated answer
 * fails here rather than being half-read). */
static int check_doc(const char *body, size_t len, const char *close, struct err *e)
{
	const char *end = body + len;
	while (end > body && isspace((unsigned char)end[-1]))
		end--;
	const char *p = body;
	while (p < end && isspace((unsigned char)*p))
		p++;
	size_t n = strlen(close);
	if (p == end)
		return err_set(e, "empty body");
	if (*p != '<' || (size_t)(end - p) < n || memcmp(end - n, close, n) != 0)
		return err_set(e, "body is not a complete %.*s document", (int)(n - 3), close + 2);
	return 0;
}

int pm_fritz_parse_session(const char *body, size_t len, char *sid, size_t sid_cap, char *challenge,
                           size_t chal_cap, long *block_time, struct err *e)
{
	if (!body || check_doc(body, len, "</SessionInfo>", e) < 0)
		return body ? -1 : err_set(e, "empty body");
	const char *end = body + len;
	int r = tag_text(body, end, "SID", sid, sid_cap);
	if (r < 0)
		return err_set(e, "malformed SID");
	if (r == 0 || !sid[0])
		snprintf(sid, sid_cap, "%s", PM_FRITZ_INVALID_SID);
	r = tag_text(body, end, "Challenge", challenge, chal_cap);
	if (r < 0)
		return err_set(e, "malformed Challenge");
	if (r == 0)
		challenge[0] = '\0';
	char bt[24];
	*block_time = 0;
	r = tag_text(body, end, "BlockTime", bt, sizeof(bt));
	if (r > 0) {
		char *ep;
		long v = strtol(bt, &ep, 10);
		if (ep != bt && *ep == '\0')
			*block_time = v;
	}
	return 0;
}

/* Value of attribute name inside a start tag [p, gt). 1 found, 0 absent. */
static int attr(const char *p, const char *gt, const char *name, char *out, size_t cap)
{
	size_t n = strlen(name);
	for (const char *q = p; q && q + n + 2 < gt; q++) {
		if (!isspace((unsigned char)q[0]) || memcmp(q + 1, name, n) != 0)
			continue;
		const char *v = q + 1 + n;
		while (v < gt && isspace((unsigned char)*v))
			v++;
		if (v >= gt || *v != '=')
			continue;
		v++;
		while (v < gt && isspace((unsigned char)*v))
			v++;
		if (v >= gt || (*v != '"' && *v != '\''))
			continue;
		char quote = *v++;
		const char *ve = memchr(v, quote, (size_t)(gt - v));
		if (!ve)
			return 0;
		return copy_text(v, ve, out, cap) < 0 ? 0 : 1;
	}
	return 0;
}

int pm_fritz_parse_devicelist(const char *body, size_t len, const char *ain, double *w,
                              struct err *e)
{
	if (!body || check_doc(body, len, "</devicelist>", e) < 0)
		return body ? -1 : err_set(e, "empty body");
	const char *end = body + len;
	const char *p = body;
	while ((p = find(p, end, "<device")) != NULL) {
		const char *tag = p;
		p += 7;
		if (p >= end || !(isspace((unsigned char)*p) || *p == '>' || *p == '/'))
			continue; /* <devicelist> and friends */
		const char *gt = memchr(p, '>', (size_t)(end - p));
		if (!gt)
			break;
		char id[96], norm[96];
		size_t o = 0;
		if (attr(tag + 7 - 1, gt, "identifier", id, sizeof(id)) <= 0)
			continue;
		for (const char *c = id; *c; c++)
			if (!isspace((unsigned char)*c))
				norm[o++] = *c;
		norm[o] = '\0';
		if (strcmp(norm, ain) != 0)
			continue;
		/* This device's content runs to its </device> (devices do not nest). */
		const char *cend = gt[-1] == '/' ? gt : find(gt, end, "</device>");
		if (!cend)
			return err_set(e, "unterminated device element");
		const char *pm = find(gt, cend, "<powermeter>");
		const char *pme = pm ? find(pm, cend, "</powermeter>") : NULL;
		char txt[48];
		int r = pme ? tag_text(pm, pme, "power", txt, sizeof(txt)) : 0;
		if (r <= 0)
			return err_set(e, "FRITZ device '%s' has no powermeter/power value", ain);
		double mw;
		if (pmj_float_text(txt, strlen(txt), "powermeter/power", &mw, e) < 0)
			return -1;
		*w = mw / 1000.0;
		return 0;
	}
	return err_set(e, "FRITZ device with AIN '%s' not found in the device list", ain);
}

/* ---- driver ---- */

enum fritz_step { FRITZ_LOGIN1, FRITZ_LOGIN2, FRITZ_LIST };

struct fritz_priv {
	struct http_req *req;
	char base[300];
	const char *user, *password;
	char ain[96];
	bool verify;
	long timeout_ms;
	char sid[32]; /* "" = no session */
	enum fritz_step step;
	bool relogged;
};

static void fritz_done(struct http_req *r, const struct http_result *res, void *arg);

static int fritz_get(struct pm_meter *m, struct fritz_priv *p, enum fritz_step step,
                     const char *query)
{
	char url[1400];
	const char *path =
	        step == FRITZ_LIST ? "/webservices/homeautoswitch.lua" : "/login_sid.lua";
	int n = snprintf(url, sizeof(url), "%s%s?%s", p->base, path, query);
	if (n < 0 || (size_t)n >= sizeof(url) || http_req_set_url(p->req, url) != 0)
		return -1;
	p->step = step;
	return http_req_start(p->req, fritz_done, m);
}

static int fritz_list(struct pm_meter *m, struct fritz_priv *p)
{
	char q[80];
	snprintf(q, sizeof(q), "switchcmd=getdevicelistinfos&sid=%s", p->sid);
	return fritz_get(m, p, FRITZ_LIST, q);
}

/* Handles one answer; returns 0 when the next request is running or the poll ended
 * (published/failed), -1 if the next request could not start. */
static int fritz_step(struct pm_meter *m, struct fritz_priv *p, const struct http_result *res)
{
	struct err e = {{0}};
	char sid[32], chal[160];
	long block = 0;
	if (p->step == FRITZ_LIST && res->status == 403) {
		/* The box answers an expired SID with 403: log in once more. */
		p->sid[0] = '\0';
		if (p->relogged) {
			pm_meter_fail(m, "device list refused (403) right after login");
			return 0;
		}
		p->relogged = true;
		return fritz_get(m, p, FRITZ_LOGIN1, "version=2");
	}
	if (res->status < 200 || res->status > 299) {
		pm_meter_fail(m, "%s: HTTP %ld",
		              p->step == FRITZ_LIST ? "homeautoswitch.lua" : "login_sid.lua",
		              res->status);
		return 0;
	}
	if (p->step == FRITZ_LIST) {
		double w;
		if (pm_fritz_parse_devicelist(res->body, res->len, p->ain, &w, &e) != 0) {
			pm_meter_fail(m, "%s", e.msg);
			return 0;
		}
		struct pm_reading rd = {.w = {w}, .n = 1};
		pm_meter_publish(m, &rd);
		return 0;
	}
	if (pm_fritz_parse_session(res->body, res->len, sid, sizeof(sid), chal, sizeof(chal),
	                           &block, &e) != 0) {
		pm_meter_fail(m, "login_sid.lua: %s", e.msg);
		return 0;
	}
	if (strcmp(sid, PM_FRITZ_INVALID_SID) != 0) {
		snprintf(p->sid, sizeof(p->sid), "%s", sid);
		return fritz_list(m, p);
	}
	if (p->step == FRITZ_LOGIN2) {
		pm_meter_fail(m, "FRITZ!Box login failed (check USER/PASSWORD); blocked for %lds",
		              block);
		return 0;
	}
	char resp[200], q[800], u[300], er[400];
	if (pm_fritz_login_response(chal, p->password, resp, sizeof(resp), &e) != 0) {
		pm_meter_fail(m, "login: %s", e.msg);
		return 0;
	}
	if (pmj_urlencode(p->user, u, sizeof(u)) != 0 || pmj_urlencode(resp, er, sizeof(er)) != 0) {
		pm_meter_fail(m, "login: USER too long");
		return 0;
	}
	snprintf(q, sizeof(q), "version=2&username=%s&response=%s", u, er);
	return fritz_get(m, p, FRITZ_LOGIN2, q);
}

static void fritz_done(struct http_req *r, const struct http_result *res, void *arg)
{
	(void)r;
	struct pm_meter *m = arg;
	struct fritz_priv *p = m->priv;
	if (!res->ok) {
		pm_meter_fail(m, "%s", res->error);
		return;
	}
	if (fritz_step(m, p, res) != 0)
		pm_meter_fail(m, "could not start the next request");
}

static int fritz_configure(struct pm_meter *m, struct cfg_section *sec, struct err *e)
{
	struct fritz_priv *p = m->priv;
	const char *host, *ain;
	bool https;
	double timeout;
	struct err pe;
	if (cfg_get_str(sec, "host", "fritz.box", &host, e) != 0 ||
	    cfg_get_str(sec, "user", "", &p->user, e) != 0 ||
	    cfg_get_str(sec, "password", "", &p->password, e) != 0 ||
	    cfg_get_str(sec, "ain", "", &ain, e) != 0 ||
	    cfg_get_bool(sec, "https", false, &https, e) != 0 ||
	    cfg_get_bool(sec, "verify_ssl", true, &p->verify, e) != 0 ||
	    cfg_get_double(sec, "timeout", 10.0, 0.1, 600, &timeout, e) != 0)
		return -1;
	if (pm_fritz_normalize_ain(ain, p->ain, sizeof(p->ain), &pe) != 0)
		return err_set(e, "[%s] AIN: %s", sec->name, pe.msg);
	while (*host == ' ' || *host == '\t')
		host++;
	size_t n = strlen(host);
	while (n && (host[n - 1] == '/' || host[n - 1] == ' ' || host[n - 1] == '\t'))
		n--;
	int w;
	if (strncmp(host, "http://", 7) == 0 || strncmp(host, "https://", 8) == 0)
		w = snprintf(p->base, sizeof(p->base), "%.*s", (int)n, host);
	else
		w = snprintf(p->base, sizeof(p->base), "%s://%.*s", https ? "https" : "http",
		             n ? (int)n : 9, n ? host : "fritz.box");
	if (w < 0 || (size_t)w >= sizeof(p->base))
		return err_set(e, "[%s] HOST: too long", sec->name);
	p->timeout_ms = (long)(timeout * 1000);
	return 0;
}

static int fritz_start(struct pm_meter *m, struct err *e)
{
	struct fritz_priv *p = m->priv;
	if (p->req)
		return 0;
	if (!m->ctx || !m->ctx->http || !(p->req = http_req_new(m->ctx->http)))
		return err_set(e, "[%s] could not set up the HTTP request", m->name);
	http_req_set_timeouts(p->req, p->timeout_ms, p->timeout_ms);
	/* VERIFY_SSL only matters for https (an explicit https:// HOST included). */
	if (strncmp(p->base, "https://", 8) == 0 && !p->verify)
		http_req_set_verify_tls(p->req, false);
	p->sid[0] = '\0';
	return 0;
}

static void fritz_stop(struct pm_meter *m)
{
	struct fritz_priv *p = m->priv;
	if (!p)
		return;
	http_req_free(p->req);
	p->req = NULL;
	p->sid[0] = '\0';
}

static int fritz_poll(struct pm_meter *m, ev_ms now)
{
	(void)now;
	struct fritz_priv *p = m->priv;
	if (!p->req)
		return -1;
	http_req_cancel(p->req);
	p->relogged = false;
	if (!p->sid[0])
		return fritz_get(m, p, FRITZ_LOGIN1, "version=2");
	return fritz_list(m, p);
}

const struct pm_driver pm_fritz_driver = {
        .name = "FRITZ",
        .priv_size = sizeof(struct fritz_priv),
        .configure = fritz_configure,
        .start = fritz_start,
        .stop = fritz_stop,
        .poll = fritz_poll,
        .keys = "HOST USER PASSWORD AIN HTTPS VERIFY_SSL TIMEOUT",
};
