/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Nonblocking socket helpers. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "astrameter/net.h"

int net_udp_bind(const char *addr, uint16_t port, struct err *e)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	if (!addr || !*addr)
		sa.sin_addr.s_addr = htonl(INADDR_ANY);
	else if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return err_set(e, "invalid IPv4 address '%s'", addr);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(e, "socket: %s", strerror(errno));
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
		err_set(e, "setsockopt(SO_REUSEADDR): %s", strerror(errno));
		close(fd);
		return -1;
	}
	/* Batteries discover the meter by broadcast; allow answering on such sockets. */
	(void)setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int saved = errno;
		err_set(e, "bind udp/%u: %s%s", (unsigned)port, strerror(saved),
			saved == EACCES && port < 1024
				? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
				: "");
		close(fd);
		return -1;
	}
	return fd;
}

void net_sockaddr_str(const struct sockaddr_in *sa, char *buf, size_t len)
{
	char ip[INET_ADDRSTRLEN] = "?";
	inet_ntop(AF_INET, &sa->sin_addr, ip, sizeof(ip));
	snprintf(buf, len, "%s:%u", ip, (unsigned)ntohs(sa->sin_port));
}
