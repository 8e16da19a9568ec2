/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Service-manager notifications (contract in astrameter/svc.h). libsystemd's sd_notify()
 * when the build has it; otherwise our own sender of the documented protocol: one
 * datagram with the state text to the AF_UNIX socket named in $NOTIFY_SOCKET (a leading
 * '@' means the abstract namespace). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "astrameter/svc.h"

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>

int svc_notify(const char *state)
{
	int r = sd_notify(0, state);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r > 0 ? 1 : 0;
}

ev_ms svc_watchdog_ms(void)
{
	uint64_t usec = 0;
	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	return (ev_ms)(usec / 1000);
}

int svc_have_libsystemd(void)
{
	return 1;
}

#else

int svc_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || !*path)
		return 0;
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	size_t len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	socklen_t sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, sl);
	int saved = errno;
	close(fd);
	errno = saved;
	return n < 0 ? -1 : 1;
}

ev_ms svc_watchdog_ms(void)
{
	const char *us = getenv("WATCHDOG_USEC");
	if (!us)
		return 0;
	const char *pid = getenv("WATCHDOG_PID");
	if (pid && strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(us, &end, 10);
	if (errno || *end || v == 0)
		return 0;
	return (ev_ms)(v / 1000);
}

int svc_have_libsystemd(void)
{
	return 0;
}

#endif
