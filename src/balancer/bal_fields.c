/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The control-field table (see astrameter/bal_fields.h): one const row per control with its
 * wire facts and accessors, the scalar payload parser MQTT uses, and wire <-> internal
 * conversion. The live setters are balancer.h's (bal_controls.c); this file only routes to
 * them, so a new path (REST, dashboard) goes through the same bounds. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "astrameter/bal_fields.h"
#include "balancer/bal_config.h"

/* ---- accessors --------------------------------------------------------------------------- */

static void get_active(const struct bal_controls *c, struct bal_value *v)
{
	*v = (struct bal_value){.set = true, .b = c->active};
}
static void put_active(struct bal_controls *c, const struct bal_value *v)
{
	c->active = v->b;
}
static int apply_active(const struct bal_field_ctx *x, const struct bal_value *v, struct err *e)
{
	return bal_set_active(x->b, x->id, v->b, x->now, e);
}

static void get_auto(const struct bal_controls *c, struct bal_value *v)
{
	*v = (struct bal_value){.set = true, .b = c->auto_target};
}
static void put_auto(struct bal_controls *c, const struct bal_value *v)
{
	c->auto_target = v->b;
}
static int apply_auto(const struct bal_field_ctx *x, const struct bal_value *v, struct err *e)
{
	return bal_set_auto_target(x->b, x->id, v->b, x->now, e);
}

static void get_manual(const struct bal_controls *c, struct bal_value *v)
{
	*v = (struct bal_value){.set = true, .num = c->manual_target};
}
static void put_manual(struct bal_controls *c, const struct bal_value *v)
{
	c->manual_target = v->num;
}
static int apply_manual(const struct bal_field_ctx *x, const struct bal_value *v, struct err *e)
{
	return bal_set_manual_target(x->b, x->id, v->num, e);
}

static void get_weight(const struct bal_controls *c, struct bal_value *v)
{
	*v = (struct bal_value){.set = true, .num = c->weight};
}
static void put_weight(struct bal_controls *c, const struct bal_value *v)
{
	c->weight = v->num;
}
static int apply_weight(const struct bal_field_ctx *x, const struct bal_value *v, struct err *e)
{
	return bal_set_weight(x->b, x->id, v->num, e);
}

static void get_effw(const struct bal_controls *c, struct bal_value *v)
{
	*v = (struct bal_value){.set = true, .num = c->eff_window_weight};
}
static void put_effw(struct bal_controls *c, const struct bal_value *v)
{
	c->eff_window_weight = v->num;
}
static int apply_effw(const struct bal_field_ctx *x, const struct bal_value *v, struct err *e)
{
	return bal_set_eff_window_weight(x->b, x->id, v->num, e);
}

static void get_mindc(const struct bal_controls *c, struct bal_value *v)
{
	*v = (struct bal_value){.set = c->has_min_dc_output, .num = c->min_dc_output};
}
static void put_mindc(struct bal_controls *c, const struct bal_value *v)
{
	c->has_min_dc_output = v->set;
	c->min_dc_output = v->set ? v->num : 0.0;
}
static int apply_mindc(const struct bal_field_ctx *x, const struct bal_value *v, struct err *e)
{
	return bal_set_min_dc_output(x->b, x->id, v->num, e);
}

static int apply_active_control(const struct bal_field_ctx *x, const struct bal_value *v,
                                struct err *e)
{
	(void)e;
	bal_set_active_control(x->b, v->b);
	return 0;
}

static int apply_rotation(const struct bal_field_ctx *x, const struct bal_value *v, struct err *e)
{
	(void)v;
	(void)e;
	bal_force_rotation(x->b, x->reports, x->n, x->now);
	return 0;
}

/* ---- the table ----------------------------------------------------------------------------- */

static const struct bal_field fields[BAL_F_COUNT] = {
        [BAL_F_ACTIVE] = {.id = BAL_F_ACTIVE,
                          .name = "active",
                          .label = "Active",
                          .file_key = "active",
                          .scope = BAL_FS_BATTERY,
                          .type = BAL_FT_BOOL,
                          .scale = 1,
                          .retained = true,
                          .get = get_active,
                          .put = put_active,
                          .apply = apply_active},
        [BAL_F_AUTO_TARGET] = {.id = BAL_F_AUTO_TARGET,
                               .name = "auto_target",
                               .label = "Auto Target",
                               .file_key = "auto",
                               .scope = BAL_FS_BATTERY,
                               .type = BAL_FT_BOOL,
                               .scale = 1,
                               .retained = true,
                               .get = get_auto,
                               .put = put_auto,
                               .apply = apply_auto},
        [BAL_F_MANUAL_TARGET] = {.id = BAL_F_MANUAL_TARGET,
                                 .name = "manual_target",
                                 .label = "Manual Target",
                                 .file_key = "manual",
                                 .scope = BAL_FS_BATTERY,
                                 .type = BAL_FT_NUMBER,
                                 .unit = "W",
                                 .min = -BAL_MANUAL_TARGET_MAX,
                                 .max = BAL_MANUAL_TARGET_MAX,
                                 .scale = 1,
                                 .retained = true,
                                 .get = get_manual,
                                 .put = put_manual,
                                 .apply = apply_manual},
        [BAL_F_DISTRIBUTION_WEIGHT] = {.id = BAL_F_DISTRIBUTION_WEIGHT,
                                       .name = "distribution_weight",
                                       .label = "Distribution Weight",
                                       .file_key = "weight",
                                       .scope = BAL_FS_BATTERY,
                                       .type = BAL_FT_NUMBER,
                                       .min = 0,
                                       .max = BAL_WEIGHT_MAX,
                                       .step = 0.1,
                                       .scale = 1,
                                       .retained = true,
                                       .get = get_weight,
                                       .put = put_weight,
                                       .apply = apply_weight},
        [BAL_F_EFFICIENCY_WINDOW_WEIGHT] = {.id = BAL_F_EFFICIENCY_WINDOW_WEIGHT,
                                            .name = "efficiency_window_weight",
                                            .label = "Efficiency Window Weight",
                                            .file_key = "eff_weight",
                                            .scope = BAL_FS_BATTERY,
                                            .type = BAL_FT_NUMBER,
                                            .when = BAL_FW_EFFICIENCY,
                                            .unit = "%",
                                            .min = 0,
                                            .max = BAL_EFF_WEIGHT_MAX * 100.0,
                                            .step = 5,
                                            .scale = 0.01,
                                            .retained = true,
                                            .get = get_effw,
                                            .put = put_effw,
                                            .apply = apply_effw},
        [BAL_F_MIN_DC_OUTPUT] = {.id = BAL_F_MIN_DC_OUTPUT,
                                 .name = "min_dc_output",
                                 .label = "Min DC Output",
                                 .file_key = "min_dc",
                                 .scope = BAL_FS_BATTERY,
                                 .type = BAL_FT_NUMBER,
                                 .when = BAL_FW_DC_FLOOR,
                                 .unit = "W",
                                 .min = 0,
                                 .max = BAL_MIN_DC_OUTPUT_MAX,
                                 .step = 1,
                                 .scale = 1,
                                 .retained = true,
                                 .nullable = true,
                                 .get = get_mindc,
                                 .put = put_mindc,
                                 .apply = apply_mindc},
        [BAL_F_ACTIVE_CONTROL] = {.id = BAL_F_ACTIVE_CONTROL,
                                  .name = "active_control",
                                  .label = "Active Control",
                                  .scope = BAL_FS_DEVICE,
                                  .type = BAL_FT_BOOL,
                                  .scale = 1,
                                  .retained = true,
                                  .apply = apply_active_control},
        [BAL_F_FORCE_ROTATION] = {.id = BAL_F_FORCE_ROTATION,
                                  .name = "force_rotation",
                                  .label = "Force Rotation",
                                  .scope = BAL_FS_DEVICE,
                                  .type = BAL_FT_BUTTON,
                                  .when = BAL_FW_EFFICIENCY,
                                  .scale = 1,
                                  /* a retained press would fire on every reconnect */
                                  .retained = false,
                                  .apply = apply_rotation},
};

const struct bal_field *bal_field_get(enum bal_field_id id)
{
	return (unsigned)id < BAL_F_COUNT ? &fields[id] : NULL;
}

const struct bal_field *bal_field_find(enum bal_field_scope scope, const char *name, size_t len)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < BAL_F_COUNT; i++)
		if (fields[i].scope == scope && strlen(fields[i].name) == len &&
		    memcmp(fields[i].name, name, len) == 0)
			return &fields[i];
	return NULL;
}

bool bal_field_needs_dc_floor(const char *device_type)
{
	return bal_dev_needs_dc_floor(device_type);
}

bool bal_field_offered(const struct bal_field *f, const char *device_type, bool efficiency)
{
	switch (f->when) {
	case BAL_FW_EFFICIENCY:
		return efficiency;
	case BAL_FW_DC_FLOOR:
		return bal_dev_needs_dc_floor(device_type);
	case BAL_FW_ALWAYS:
		break;
	}
	return true;
}

/* ---- parsing --------------------------------------------------------------------------- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Python's float() grammar for finite decimals plus inf/nan words; copies the number into
 * out without underscores. false if s is not one. */
static bool py_float_text(const char *s, size_t n, char *out, size_t cap)
{
	size_t i = 0, o = 0;
	if (n + 1 > cap)
		return false;
	if (i < n && (s[i] == '+' || s[i] == '-'))
		out[o++] = s[i++];
	/* inf, infinity, nan (any case): parsed so they are refused as "not finite", as
	 * upstream refuses them after float() accepted them. */
	static const char *const words[] = {"infinity", "inf", "nan"};
	for (size_t w = 0; w < 3; w++) {
		size_t wl = strlen(words[w]);
		if (n - i == wl && strncasecmp(s + i, words[w], wl) == 0) {
			memcpy(out + o, s + i, wl);
			out[o + wl] = '\0';
			return true;
		}
	}
	size_t digits = 0;
	/* integer part, fraction, exponent: digits with single underscores between them */
	for (int part = 0; part < 3; part++) {
		if (part == 1) {
			if (i < n && s[i] == '.')
				out[o++] = s[i++];
			else
				continue;
		}
		if (part == 2) {
			if (i < n && (s[i] == 'e' || s[i] == 'E')) {
				if (digits == 0)
					return false;
				out[o++] = s[i++];
				if (i < n && (s[i] == '+' || s[i] == '-'))
					out[o++] = s[i++];
				if (i >= n || !isdigit((unsigned char)s[i]))
					return false;
			} else {
				break;
			}
		}
		bool prev_digit = false;
		while (i < n) {
			if (isdigit((unsigned char)s[i])) {
				out[o++] = s[i++];
				prev_digit = true;
				if (part < 2)
					digits++;
			} else if (s[i] == '_' && prev_digit && i + 1 < n &&
			           isdigit((unsigned char)s[i + 1])) {
				i++;
				prev_digit = false;
			} else {
				break;
			}
		}
	}
	out[o] = '\0';
	return i == n && digits > 0;
}

int bal_field_parse(const struct bal_field *f, const char *s, size_t len, struct bal_value *out,
                    struct err *e)
{
	*out = (struct bal_value){.set = true};
	if (!s)
		len = 0;
	while (len > 0 && is_space(*s)) {
		s++;
		len--;
	}
	while (len > 0 && is_space(s[len - 1]))
		len--;
	if (f->type == BAL_FT_BUTTON)
		return 0;
	if (len == 0)
		return err_set(e, "%s: empty value", f->name);
	if (memchr(s, '\0', len))
		return err_set(e, "%s: value contains a NUL byte", f->name);
	if (f->type == BAL_FT_BOOL) {
		static const char *const yes[] = {"true", "on", "1"}, *const no[] = {"false", "off",
		                                                                     "0"};
		for (size_t i = 0; i < 3; i++) {
			if (len == strlen(yes[i]) && strncasecmp(s, yes[i], len) == 0) {
				out->b = true;
				return 0;
			}
			if (len == strlen(no[i]) && strncasecmp(s, no[i], len) == 0) {
				out->b = false;
				return 0;
			}
		}
		return err_set(e, "%s: expected true/false, on/off or 1/0", f->name);
	}
	char num[64];
	if (!py_float_text(s, len, num, sizeof(num)))
		return err_set(e, "%s: not a number", f->name);
	errno = 0;
	char *end;
	double d = strtod(num, &end);
	if (*end)
		return err_set(e, "%s: not a number", f->name);
	out->num = d;
	return bal_field_check(f, out, e);
}

int bal_field_check(const struct bal_field *f, const struct bal_value *wire, struct err *e)
{
	if (f->type != BAL_FT_NUMBER)
		return 0;
	if (!wire->set)
		return f->nullable ? 0 : err_set(e, "%s: a value is required", f->name);
	if (!isfinite(wire->num))
		return err_set(e, "%s: value must be finite", f->name);
	if (wire->num < f->min || wire->num > f->max)
		return err_set(e, "%s: %g is out of range [%g, %g]%s%s", f->name, wire->num, f->min,
		               f->max, f->unit ? " " : "", f->unit ? f->unit : "");
	return 0;
}

int bal_field_apply_wire(const struct bal_field *f, const struct bal_field_ctx *x,
                         const struct bal_value *wire, struct err *e)
{
	if (bal_field_check(f, wire, e) < 0)
		return -1;
	if (f->type == BAL_FT_NUMBER && !wire->set)
		return err_set(e, "%s: clearing the value is not supported", f->name);
	if (f->scope == BAL_FS_BATTERY && !x->id)
		return err_set(e, "%s: no battery given", f->name);
	struct bal_value v = *wire;
	v.num = wire->num * f->scale;
	/* 0..100 % * 0.01 may land a hair above 1.0 */
	if (f->type == BAL_FT_NUMBER && f->scale != 1.0) {
		double lo = f->min * f->scale, hi = f->max * f->scale;
		v.num = v.num < lo ? lo : v.num > hi ? hi : v.num;
	}
	return f->apply(x, &v, e);
}

int bal_field_read_wire(const struct bal_field *f, const struct balancer *b, const char *id,
                        struct bal_value *out)
{
	*out = (struct bal_value){.set = true};
	if (f->id == BAL_F_ACTIVE_CONTROL) {
		out->b = bal_active_control(b);
		return 0;
	}
	if (!f->get)
		return -1;
	struct bal_controls c;
	bal_get_controls(b, id, &c);
	f->get(&c, out);
	if (f->type == BAL_FT_NUMBER && f->scale != 1.0)
		out->num /= f->scale;
	return 0;
}

int bal_fmt_double(double d, char *buf, size_t len)
{
	if (!isfinite(d))
		return -1;
	if (d == 0.0)
		d = 0.0; /* no "-0" */
	for (int prec = 1; prec <= 17; prec++) {
		int k = snprintf(buf, len, "%.*g", prec, d);
		if (k < 0 || (size_t)k >= len)
			return -1;
		if (strtod(buf, NULL) == d)
			return k;
	}
	return -1;
}

int bal_field_format(const struct bal_field *f, const struct bal_value *wire, char *buf, size_t len)
{
	if (f->type == BAL_FT_BUTTON || !wire->set)
		return -1;
	if (f->type == BAL_FT_BOOL) {
		int k = snprintf(buf, len, "%s", wire->b ? "true" : "false");
		return k < 0 || (size_t)k >= len ? -1 : k;
	}
	return bal_fmt_double(wire->num, buf, len);
}
