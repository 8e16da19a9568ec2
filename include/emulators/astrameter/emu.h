/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Emulated meter devices (CT002/CT003, Shelly Pro 3EM / EM gen3 / Pro EM50). Two phases,
 * so that nothing opens a socket before the whole config validated: create() reads and
 * checks the device's config; start() binds its sockets and registers them in the loop. */
#ifndef ASTRAMETER_EMU_H
#define ASTRAMETER_EMU_H

#include <stddef.h>
#include <stdint.h>
#include "astrameter/config.h"
#include "astrameter/err.h"
#include "astrameter/ev.h"
#include "astrameter/powermeter.h"

struct net_ports;

struct emu_env {
	struct ev_loop *loop;
	struct pm_set *meters; /* routing by NETMASK, in config order */
	struct cfg *cfg;
	struct cfg_section *general;
	struct net_ports *ports; /* UDP ports held across reloads (net.h); NULL = plain bind */
};

/* What the health endpoint reports about a running device. */
struct emu_status {
	unsigned consumers; /* batteries currently tracked (seen and not yet expired) */
};

struct emu_ops {
	const char *name;
	/* device_type is the lower-case DEVICE_TYPE entry; device_id the resolved id.
	 * Returns an opaque handle or NULL with e set. */
	void *(*create)(const struct emu_env *env, const char *device_type, const char *device_id,
	                struct err *e);
	int (*start)(void *self, struct err *e);
	/* Answers parked requests (current reading if one may be served, else the device's
	 * hold answer), then closes sockets and frees. */
	void (*destroy)(void *self);
	/* One line for --check-config / startup log. */
	void (*describe)(void *self, char *buf, size_t len);
	/* Optional (may be NULL): the device's state for the health endpoint. */
	void (*status)(void *self, struct emu_status *st);
};

extern const struct emu_ops emu_ct002_ops;  /* ct002, ct003 */
extern const struct emu_ops emu_shelly_ops; /* shellypro3em[_old|_new], shellyemg3, shellyproem50 */

/* One emulated device type (a DEVICE_TYPE value): the only list of them is the table in
 * src/emulators/registry.c. */
#define EMU_MAX_PORTS 2
struct emu_type {
	const char *name;          /* DEVICE_TYPE value, lower case */
	const struct emu_ops *ops; /* the emulator that serves it */
	/* Default device id "<id_prefix>-ec4609c439c<N>" (N = 1-based position in
	 * DEVICE_TYPE), or NULL for "device-<N>". */
	const char *id_prefix;
	/* CT kinds: the section holding UDP_PORT (falls back to [CT002]); NULL otherwise. */
	const char *ct_section;
	/* Fixed UDP ports (the Shelly kinds; a CT port comes from its section). */
	uint16_t ports[EMU_MAX_PORTS];
	size_t n_ports;
};

/* The type named device_type (exact, lower case), or NULL if unknown. */
const struct emu_type *emu_type_find(const char *device_type);
/* The whole table, in the reference's documentation order; *n receives its length. */
const struct emu_type *emu_types(size_t *n);

/* The names, comma-separated in table order ("ct002, ct003, ..."), into buf (truncated to
 * fit). */
void emu_type_names(char *buf, size_t len);

/* The ops for a device type name, or NULL if unknown. */
const struct emu_ops *emu_ops_for_type(const char *device_type);

#endif
