/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The emulated device types: one row per DEVICE_TYPE value, the only list of their names,
 * with the emulator that serves each, its default device id and its UDP ports (REFERENCE
 * §1.1). A new device type is one row here (and its emulator). */
#include <stdio.h>
#include <string.h>

#include "astrameter/emu.h"

static const struct emu_type types[] = {
        {"ct002", &emu_ct002_ops, NULL, "CT002", {0}, 0},
        {"ct003", &emu_ct002_ops, NULL, "CT003", {0}, 0},
        {"shellypro3em", &emu_shelly_ops, "shellypro3em", NULL, {1010, 2220}, 2},
        {"shellyemg3", &emu_shelly_ops, "shellyemg3", NULL, {2222}, 1},
        {"shellyproem50", &emu_shelly_ops, "shellyproem50", NULL, {2223}, 1},
        {"shellypro3em_old", &emu_shelly_ops, "shellypro3em", NULL, {1010}, 1},
        {"shellypro3em_new", &emu_shelly_ops, "shellypro3em", NULL, {2220}, 1},
};

const struct emu_type *emu_types(size_t *n)
{
	*n = sizeof(types) / sizeof(types[0]);
	return types;
}

const struct emu_type *emu_type_find(const char *device_type)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(device_type, types[i].name) == 0)
			return &types[i];
	return NULL;
}

void emu_type_names(char *buf, size_t len)
{
	size_t o = 0;
	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]) && o < len; i++) {
		int w = snprintf(buf + o, len - o, "%s%s", i ? ", " : "", types[i].name);
		if (w < 0)
			break;
		o += (size_t)w;
	}
}

const struct emu_ops *emu_ops_for_type(const char *device_type)
{
	const struct emu_type *t = emu_type_find(device_type);
	return t ? t->ops : NULL;
}
