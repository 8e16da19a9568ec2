/* SPDX-License-Identifier: GPL-3.0-or-later */
/* DEVICE_TYPE names -> emulator ops. */
#include <string.h>

#include "astrameter/emu.h"

const struct emu_ops *emu_ops_for_type(const char *t)
{
	if (strcmp(t, "ct002") == 0 || strcmp(t, "ct003") == 0)
		return &emu_ct002_ops;
	if (strcmp(t, "shellypro3em") == 0 || strcmp(t, "shellypro3em_old") == 0 ||
	    strcmp(t, "shellypro3em_new") == 0 || strcmp(t, "shellyemg3") == 0 ||
	    strcmp(t, "shellyproem50") == 0)
		return &emu_shelly_ops;
	return NULL;
}
