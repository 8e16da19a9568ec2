/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The controls' state-file text (bal_controls_serialize / bal_controls_parse): the
 * battery fields of the control-field table (astrameter/bal_fields.h), in internal units,
 * one record per battery, so a field added to the table is persisted without an edit
 * here and the file accepts exactly the bounds every other path accepts.
 *
 * File format (text, one record per line, '#' comments):
 *     astrameter-controls 1
 *     active_control 0|1                       (only if switched live)
 *     consumer <id> active=0|1 auto=0|1 manual=<W> weight=<w> eff_weight=<w> min_dc=<W>|-
 * Unknown keys in a consumer record (from a newer version) are ignored. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrameter/bal_fields.h"
#include "balancer/bal_state.h"

#define CTL_MAGIC "astrameter-controls 1"

static int put(char *buf, size_t len, size_t *off, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static int put(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= len - *off)
		return -1;
	*off += (size_t)k;
	return 0;
}

long bal_controls_serialize(const struct balancer *b, char *buf, size_t len)
{
	size_t off = 0;
	if (!buf || len == 0 || put(buf, len, &off, "%s\n", CTL_MAGIC) < 0)
		return -1;
	if (b->active_control_set &&
	    put(buf, len, &off, "active_control %d\n", b->active_control ? 1 : 0) < 0)
		return -1;
	for (size_t i = 0; i < BAL_MAX_CONTROLS; i++) {
		const struct bal_ctl_entry *en = &b->ctl[i];
		if (!en->used)
			continue;
		if (put(buf, len, &off, "consumer %s", en->id) < 0)
			return -1;
		for (int k = 0; k < BAL_F_COUNT; k++) {
			const struct bal_field *f = bal_field_get((enum bal_field_id)k);
			if (!f->file_key || !f->get)
				continue;
			struct bal_value v;
			f->get(&en->c, &v);
			int rc;
			if (!v.set)
				rc = put(buf, len, &off, " %s=-", f->file_key);
			else if (f->type == BAL_FT_BOOL)
				rc = put(buf, len, &off, " %s=%d", f->file_key, v.b ? 1 : 0);
			else
				rc = put(buf, len, &off, " %s=%.17g", f->file_key, v.num);
			if (rc < 0)
				return -1;
		}
		if (put(buf, len, &off, "\n") < 0)
			return -1;
	}
	return (long)off;
}

static int parse_bool(const char *v, bool *out)
{
	if (strcmp(v, "1") == 0)
		*out = true;
	else if (strcmp(v, "0") == 0)
		*out = false;
	else
		return -1;
	return 0;
}

static int parse_num(const char *v, double *out)
{
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	if (end == v || *end || errno == ERANGE || !isfinite(d))
		return -1;
	*out = d;
	return 0;
}

/* One file value of field f (internal units) into c; -1 if malformed or out of bounds. */
static int parse_value(const struct bal_field *f, const char *v, struct bal_controls *c)
{
	struct bal_value val = {.set = true};
	if (f->nullable && strcmp(v, "-") == 0) {
		val.set = false;
	} else if (f->type == BAL_FT_BOOL) {
		if (parse_bool(v, &val.b) < 0)
			return -1;
	} else {
		if (parse_num(v, &val.num) < 0)
			return -1;
		/* the table's wire bounds, in internal units */
		if (val.num < f->min * f->scale || val.num > f->max * f->scale)
			return -1;
	}
	f->put(c, &val);
	return 0;
}

/* One "consumer" record's fields (tokens after the id). */
static int parse_consumer(char *rest, struct bal_controls *c, int line, struct err *e)
{
	bal_controls_default(c);
	char *save = NULL;
	for (char *tok = strtok_r(rest, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq)
			return err_set(e, "controls line %d: expected key=value, got '%s'", line,
			               tok);
		*eq = '\0';
		const char *k = tok, *v = eq + 1;
		const struct bal_field *f = NULL;
		for (int i = 0; i < BAL_F_COUNT && !f; i++) {
			const struct bal_field *g = bal_field_get((enum bal_field_id)i);
			if (g->file_key && g->put && strcmp(g->file_key, k) == 0)
				f = g;
		}
		if (!f)
			continue; /* unknown key from a newer version: ignore */
		if (parse_value(f, v, c) < 0)
			return err_set(e, "controls line %d: bad %s '%s'", line, k, v);
	}
	return 0;
}

int bal_controls_parse(struct balancer *b, const char *text, size_t len, struct err *e)
{
	if (len >= BAL_CONTROLS_TEXT_MAX)
		return err_set(e, "controls file too large (%zu bytes)", len);
	/* Parse into copies first: a broken file changes nothing. */
	char *copy = malloc(len + 1);
	struct bal_ctl_entry *tab = calloc(BAL_MAX_CONTROLS, sizeof(*tab));
	if (!copy || !tab) {
		free(copy);
		free(tab);
		return err_set(e, "out of memory");
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	bool ac_set = false, ac = b->active_control, magic = false;
	size_t ntab = 0;
	int rc = 0, line = 0;
	char *save = NULL;
	if (memchr(text, '\0', len)) {
		rc = err_set(e, "controls file contains a NUL byte");
		goto out;
	}
	for (char *ln = strtok_r(copy, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
		line++;
		size_t l = strlen(ln);
		while (l > 0 && (ln[l - 1] == '\r' || ln[l - 1] == ' ' || ln[l - 1] == '\t'))
			ln[--l] = '\0';
		while (*ln == ' ' || *ln == '\t')
			ln++;
		if (!*ln || *ln == '#')
			continue;
		if (!magic) {
			if (strcmp(ln, CTL_MAGIC) != 0) {
				rc = err_set(e, "controls line %d: not a controls file (v1)", line);
				goto out;
			}
			magic = true;
			continue;
		}
		if (strncmp(ln, "active_control ", 15) == 0) {
			if (parse_bool(ln + 15, &ac) < 0) {
				rc = err_set(e, "controls line %d: bad active_control", line);
				goto out;
			}
			ac_set = true;
		} else if (strncmp(ln, "consumer ", 9) == 0) {
			char *id = ln + 9;
			while (*id == ' ')
				id++;
			char *sp = strpbrk(id, " \t");
			char empty[1] = "";
			char *rest = empty;
			if (sp) {
				*sp = '\0';
				rest = sp + 1;
			}
			if (!bal_ctl_id_ok(id)) {
				rc = err_set(e, "controls line %d: bad consumer id", line);
				goto out;
			}
			size_t slot = ntab;
			for (size_t i = 0; i < ntab; i++)
				if (strcmp(tab[i].id, id) == 0)
					slot = i; /* duplicate: the last one wins */
			if (slot == BAL_MAX_CONTROLS) {
				rc = err_set(e, "controls line %d: more than %d consumers", line,
				             BAL_MAX_CONTROLS);
				goto out;
			}
			struct bal_controls c;
			if (parse_consumer(rest, &c, line, e) < 0) {
				rc = -1;
				goto out;
			}
			tab[slot].used = true;
			snprintf(tab[slot].id, sizeof(tab[slot].id), "%s", id);
			tab[slot].c = c;
			if (slot == ntab)
				ntab++;
		} else {
			rc = err_set(e, "controls line %d: unknown record", line);
			goto out;
		}
	}
	if (!magic) {
		rc = err_set(e, "controls file is empty");
		goto out;
	}
	memcpy(b->ctl, tab, BAL_MAX_CONTROLS * sizeof(*tab));
	b->ctl_version++;
	if (ac_set) {
		b->active_control = ac;
		b->active_control_set = true;
	}
out:
	free(copy);
	free(tab);
	return rc;
}
