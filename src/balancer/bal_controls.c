/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Per-battery user controls (pause, auto/manual target, manual target value, distribution
 * weight, efficiency-window weight, min DC output) and the device-level ACTIVE_CONTROL
 * switch. They are keyed by consumer id and kept apart from controller state, so a battery
 * that is evicted and comes back finds its settings again (upstream's ConsumerOverride),
 * and they serialise to a small text that the owner (the CT002 emulator) keeps in a file so
 * they also survive a restart; bal_controls_version() tells it when to write it again.
 *
 * File format (text, one record per line, '#' comments):
 *     astrameter-controls 1
 *     active_control 0|1                       (only if switched live)
 *     consumer <id> active=0|1 auto=0|1 manual=<W> weight=<w> eff_weight=<w> min_dc=<W>|-
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balancer/bal_efficiency.h"
#include "balancer/bal_saturation.h"
#include "balancer/bal_state.h"

#define CTL_MAGIC "astrameter-controls 1"

void bal_get_controls(const struct balancer *b, const char *id, struct bal_controls *out)
{
	const struct bal_controls *c = id ? bal_ctl_find(b, id) : NULL;
	if (c)
		*out = *c;
	else
		bal_controls_default(out);
}

static bool id_ok(const char *id)
{
	if (!id || !*id || strlen(id) >= BAL_ID_LEN)
		return false;
	for (const char *p = id; *p; p++)
		if (*p <= ' ' || *p == 0x7f || *p == '=')
			return false;
	return true;
}

/* The entry for id, created with defaults; NULL (e set) if the table is full. Every caller
 * changes the entry, so this counts a change of what must be persisted. */
static struct bal_controls *ctl_get(struct balancer *b, const char *id, struct err *e)
{
	if (!id_ok(id)) {
		err_set(e, "invalid consumer id");
		return NULL;
	}
	struct bal_ctl_entry *free_slot = NULL;
	for (size_t i = 0; i < BAL_MAX_CONTROLS; i++) {
		if (b->ctl[i].used && strcmp(b->ctl[i].id, id) == 0) {
			b->ctl_version++;
			return &b->ctl[i].c;
		}
		if (!b->ctl[i].used && !free_slot)
			free_slot = &b->ctl[i];
	}
	if (!free_slot) {
		err_set(e, "too many batteries with controls (max %d)", BAL_MAX_CONTROLS);
		return NULL;
	}
	free_slot->used = true;
	snprintf(free_slot->id, sizeof(free_slot->id), "%s", id);
	bal_controls_default(&free_slot->c);
	b->ctl_version++;
	return &free_slot->c;
}

int bal_set_active(struct balancer *b, const char *id, bool active, ev_ms now, struct err *e)
{
	struct bal_controls *c = ctl_get(b, id, e);
	if (!c)
		return -1;
	c->active = active;
	if (active)
		bal_reset_consumer(b, id, (double)now / 1000.0);
	return 0;
}

int bal_set_auto_target(struct balancer *b, const char *id, bool auto_target, ev_ms now,
                        struct err *e)
{
	struct bal_controls *c = ctl_get(b, id, e);
	if (!c)
		return -1;
	if (auto_target) {
		bool was_manual = !c->auto_target;
		c->auto_target = true;
		if (was_manual)
			bal_reset_consumer(b, id, (double)now / 1000.0);
	} else {
		c->auto_target = false;
		bal_detach_from_auto_pool(b, id);
	}
	return 0;
}

int bal_set_manual_target(struct balancer *b, const char *id, double w, struct err *e)
{
	if (!isfinite(w))
		return err_set(e, "manual target must be finite, got %g", w);
	struct bal_controls *c = ctl_get(b, id, e);
	if (!c)
		return -1;
	c->manual_target = w;
	return 0;
}

int bal_set_weight(struct balancer *b, const char *id, double w, struct err *e)
{
	if (!isfinite(w) || w < 0.0 || w > 10.0)
		return err_set(e, "distribution weight must be in [0, 10], got %g", w);
	struct bal_controls *c = ctl_get(b, id, e);
	if (!c)
		return -1;
	c->weight = w;
	return 0;
}

int bal_set_eff_window_weight(struct balancer *b, const char *id, double w, struct err *e)
{
	if (!isfinite(w) || w < 0.0 || w > 1.0)
		return err_set(e, "efficiency window weight must be in [0, 1], got %g", w);
	struct bal_controls *c = ctl_get(b, id, e);
	if (!c)
		return -1;
	c->eff_window_weight = w;
	return 0;
}

int bal_set_min_dc_output(struct balancer *b, const char *id, double w, struct err *e)
{
	if (!isfinite(w) || w < 0.0)
		return err_set(e, "min_dc_output must be finite and >= 0, got %g", w);
	struct bal_controls *c = ctl_get(b, id, e);
	if (!c)
		return -1;
	c->has_min_dc_output = true;
	c->min_dc_output = w;
	return 0;
}

void bal_force_rotation(struct balancer *b, const struct bal_report *reports, size_t n, ev_ms now)
{
	if (!b || !reports || n > BAL_MAX_CONSUMERS)
		return;
	struct bal_ctx x;
	memset(&x, 0, sizeof(x));
	x.r = reports;
	x.n = n;
	struct bal_view pool = {0};
	for (size_t i = 0; i < n; i++) {
		const struct bal_report *r = &reports[i];
		if (!r->id)
			return;
		struct bal_controls c;
		bal_get_controls(b, r->id, &c);
		bool steered =
		        r->phase == 'A' || r->phase == 'B' || r->phase == 'C' || r->phase == 'D';
		if (c.active && c.auto_target && steered)
			pool.idx[pool.n++] = i;
	}
	bal_eff_force_rotation(b, &x, &pool, (double)now / 1000.0);
}

/* ---- serialisation ----------------------------------------------------------------------- */

long bal_controls_serialize(const struct balancer *b, char *buf, size_t len)
{
	size_t off = 0;
	int k = snprintf(buf, len, "%s\n", CTL_MAGIC);
	if (k < 0 || (size_t)k >= len)
		return -1;
	off = (size_t)k;
	if (b->active_control_set) {
		k = snprintf(buf + off, len - off, "active_control %d\n",
		             b->active_control ? 1 : 0);
		if (k < 0 || (size_t)k >= len - off)
			return -1;
		off += (size_t)k;
	}
	for (size_t i = 0; i < BAL_MAX_CONTROLS; i++) {
		const struct bal_ctl_entry *en = &b->ctl[i];
		if (!en->used)
			continue;
		char mindc[40];
		if (en->c.has_min_dc_output)
			snprintf(mindc, sizeof(mindc), "%.17g", en->c.min_dc_output);
		else
			snprintf(mindc, sizeof(mindc), "-");
		k = snprintf(buf + off, len - off,
		             "consumer %s active=%d auto=%d manual=%.17g weight=%.17g "
		             "eff_weight=%.17g min_dc=%s\n",
		             en->id, en->c.active ? 1 : 0, en->c.auto_target ? 1 : 0,
		             en->c.manual_target, en->c.weight, en->c.eff_window_weight, mindc);
		if (k < 0 || (size_t)k >= len - off)
			return -1;
		off += (size_t)k;
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
		int rc = 0;
		if (strcmp(k, "active") == 0) {
			rc = parse_bool(v, &c->active);
		} else if (strcmp(k, "auto") == 0) {
			rc = parse_bool(v, &c->auto_target);
		} else if (strcmp(k, "manual") == 0) {
			rc = parse_num(v, &c->manual_target);
		} else if (strcmp(k, "weight") == 0) {
			rc = parse_num(v, &c->weight);
			if (rc == 0 && (c->weight < 0 || c->weight > 10))
				rc = -1;
		} else if (strcmp(k, "eff_weight") == 0) {
			rc = parse_num(v, &c->eff_window_weight);
			if (rc == 0 && (c->eff_window_weight < 0 || c->eff_window_weight > 1))
				rc = -1;
		} else if (strcmp(k, "min_dc") == 0) {
			if (strcmp(v, "-") == 0) {
				c->has_min_dc_output = false;
			} else {
				c->has_min_dc_output = true;
				rc = parse_num(v, &c->min_dc_output);
				if (rc == 0 && c->min_dc_output < 0)
					rc = -1;
			}
		} else {
			continue; /* unknown key from a newer version: ignore */
		}
		if (rc < 0)
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
			if (!id_ok(id)) {
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

uint64_t bal_controls_version(const struct balancer *b)
{
	return b->ctl_version;
}
