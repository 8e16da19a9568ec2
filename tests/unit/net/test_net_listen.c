/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Socket activation in net_udp_bind / net_tcp_listen: a socket the service manager passed
 * (fd 3, LISTEN_PID = us, LISTEN_FDS = 1) bound to the requested port is handed out as a
 * duplicate instead of binding; anything else (other pid, other port, other type) falls
 * back to a normal bind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "astrameter/net.h"

/* Puts a fresh socket of type bound to 0.0.0.0:<ephemeral> on fd 3 (saving whatever was
 * there) and returns its port. */
struct passed {
	int saved3;
	uint16_t port;
};

static void pass_socket(struct passed *p, int type)
{
	p->saved3 = fcntl(3, F_DUPFD_CLOEXEC, 10); /* -1 if fd 3 was free */
	int s = socket(AF_INET, type, 0);
	assert_true(s >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_ANY);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (type == SOCK_STREAM)
		assert_int_equal(listen(s, 4), 0);
	socklen_t sl = sizeof(sa);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
	p->port = ntohs(sa.sin_port);
	if (s != 3) {
		assert_int_equal(dup2(s, 3), 3);
		close(s);
	}
	char pid[32];
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "1", 1);
}

static void unpass(struct passed *p)
{
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	if (p->saved3 >= 0) {
		dup2(p->saved3, 3);
		close(p->saved3);
	} else {
		close(3);
	}
}

static uint16_t port_of(int fd)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	return ntohs(sa.sin_port);
}

static void listen_fds_env(void **state)
{
	(void)state;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	assert_int_equal(net_listen_fds(), 0);
	char pid[32];
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "2", 1);
	assert_int_equal(net_listen_fds(), 2);
	setenv("LISTEN_FDS", "x", 1);
	assert_int_equal(net_listen_fds(), 0);
	setenv("LISTEN_FDS", "2", 1);
	setenv("LISTEN_PID", "1", 1); /* meant for someone else */
	assert_int_equal(net_listen_fds(), 0);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
}

static void udp_inherited_is_used(void **state)
{
	(void)state;
	struct passed p;
	pass_socket(&p, SOCK_DGRAM);
	struct err e = {{0}};
	int a = net_udp_bind(NULL, p.port, &e);
	assert_true(a >= 0);
	assert_int_not_equal(a, 3);
	assert_int_equal(port_of(a), p.port);
	assert_true(fcntl(a, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(a, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(3, F_GETFD) & FD_CLOEXEC); /* not leaked into script children */
	/* A reload "binds" again: another duplicate, no EADDRINUSE. */
	close(a);
	int b = net_udp_bind(NULL, p.port, &e);
	assert_true(b >= 0);
	/* It is the same socket: a datagram sent to the port arrives on it. */
	int c = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(p.port)};
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(sendto(c, "hi", 2, 0, (struct sockaddr *)&to, sizeof(to)), 2);
	char buf[8];
	ssize_t n = -1;
	for (int i = 0; i < 100 && n < 0; i++) {
		n = recv(b, buf, sizeof(buf), 0);
		if (n < 0)
			usleep(1000);
	}
	assert_int_equal(n, 2);
	close(c);
	close(b);
	/* Asked for a specific address: the wildcard socket does not match, so a fresh bind
	 * is tried (and fails: the port is taken without SO_REUSEADDR on the first). */
	assert_int_equal(net_udp_bind("127.0.0.1", p.port, &e), -1);
	assert_non_null(strstr(e.msg, "bind udp/"));
	unpass(&p);
}

static void udp_other_pid_or_port_binds(void **state)
{
	(void)state;
	struct passed p;
	pass_socket(&p, SOCK_DGRAM);
	struct err e = {{0}};
	/* Another port: normal bind of an ephemeral-like free port. */
	int a = net_udp_bind("127.0.0.1", 0, &e);
	assert_true(a >= 0);
	assert_int_not_equal(port_of(a), p.port);
	close(a);
	/* Env for another process: the passed socket is ignored, the port is busy. */
	setenv("LISTEN_PID", "1", 1);
	assert_int_equal(net_udp_bind(NULL, p.port, &e), -1);
	unpass(&p);
}

static void tcp_inherited_is_used_and_type_checked(void **state)
{
	(void)state;
	struct passed p;
	pass_socket(&p, SOCK_STREAM);
	struct err e = {{0}};
	/* A UDP request for the TCP socket's port is not served by it. */
	int u = net_udp_bind(NULL, p.port, &e);
	if (u >= 0) {
		int t = 0;
		socklen_t tl = sizeof(t);
		getsockopt(u, SOL_SOCKET, SO_TYPE, &t, &tl);
		assert_int_equal(t, SOCK_DGRAM);
		close(u);
	}
	int l = net_tcp_listen(NULL, p.port, 8, &e);
	assert_true(l >= 0);
	assert_int_equal(port_of(l), p.port);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(p.port)};
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(c, (struct sockaddr *)&to, sizeof(to)), 0);
	int acc = -1;
	for (int i = 0; i < 100 && acc < 0; i++) {
		acc = accept(l, NULL, NULL);
		if (acc < 0)
			usleep(1000);
	}
	assert_true(acc >= 0);
	close(acc);
	close(c);
	close(l);
	unpass(&p);
}

static void plain_bind_errors(void **state)
{
	(void)state;
	struct err e = {{0}};
	assert_int_equal(net_udp_bind("300.1.1.1", 1234, &e), -1);
	assert_non_null(strstr(e.msg, "invalid IPv4"));
	assert_int_equal(net_tcp_listen("x", 1234, 1, &e), -1);
	int a = net_tcp_listen("127.0.0.1", 0, 4, &e);
	assert_true(a >= 0);
	close(a);
}

static int udp_socket(int reuse_opt, const char *addr, uint16_t port)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(s >= 0);
	int one = 1;
	if (reuse_opt)
		assert_int_equal(setsockopt(s, SOL_SOCKET, reuse_opt, &one, sizeof(one)), 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	assert_int_equal(inet_pton(AF_INET, addr, &sa.sin_addr), 1);
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int err = errno;
		close(s);
		errno = err;
		return -1;
	}
	return s;
}

/* Nobody can bind beside our UDP socket (with or without SO_REUSEADDR/SO_REUSEPORT, on
 * the wildcard or on one address), and we do not bind beside someone else's. */
static void udp_port_is_exclusive(void **state)
{
	(void)state;
	struct err e = {{0}};
	int a = net_udp_bind(NULL, 0, &e);
	assert_true(a >= 0);
	uint16_t port = port_of(a);
	const int opts[] = {0, SO_REUSEADDR, SO_REUSEPORT};
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		assert_int_equal(udp_socket(opts[i], "0.0.0.0", port), -1);
		assert_int_equal(errno, EADDRINUSE);
		assert_int_equal(udp_socket(opts[i], "127.0.0.1", port), -1);
		assert_int_equal(errno, EADDRINUSE);
	}
	close(a);
	/* Someone else first, even with SO_REUSEADDR: a clear error naming the port. */
	int other = udp_socket(SO_REUSEADDR, "127.0.0.1", port);
	assert_true(other >= 0);
	assert_int_equal(net_udp_bind(NULL, port, &e), -1);
	char want[64];
	snprintf(want, sizeof(want), "bind udp/%u: ", (unsigned)port);
	assert_non_null(strstr(e.msg, want));
	assert_non_null(strstr(e.msg, "in use"));
	close(other);
}

static uint16_t free_udp_port(void)
{
	int s = udp_socket(0, "0.0.0.0", 0);
	assert_true(s >= 0);
	uint16_t p = port_of(s);
	close(s);
	return p;
}

static bool port_is_free(uint16_t port)
{
	int s = udp_socket(0, "0.0.0.0", port);
	if (s < 0)
		return false;
	close(s);
	return true;
}

/* A reload's hand-over: the new set gets the same socket for an unchanged port (what was
 * queued before the old device closed arrives on the new one); a port only the old set
 * used is released on commit; abort releases only what the new set bound. */
static void ports_hand_over(void **state)
{
	(void)state;
	struct err e = {{0}};
	struct net_ports *p = net_ports_new();
	assert_non_null(p);
	uint16_t pa = free_udp_port(), pb = free_udp_port(), pc = free_udp_port();
	/* startup: A and B */
	net_ports_begin(p);
	int a1 = net_ports_udp(p, NULL, pa, &e);
	int b1 = net_ports_udp(p, NULL, pb, &e);
	assert_true(a1 >= 0 && b1 >= 0);
	net_ports_commit(p);
	assert_int_equal(net_ports_count(p), 2);
	assert_false(port_is_free(pa));

	/* a datagram queued on A before the reload */
	int c = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(pa)};
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(sendto(c, "q1", 2, 0, (struct sockaddr *)&to, sizeof(to)), 2);

	/* a reload that fails: the new set wants A and C; C is released, A and B kept */
	net_ports_begin(p);
	int a2 = net_ports_udp(p, NULL, pa, &e);
	int c2 = net_ports_udp(p, NULL, pc, &e);
	assert_true(a2 >= 0 && c2 >= 0);
	close(a2);
	close(c2);
	net_ports_abort(p);
	assert_int_equal(net_ports_count(p), 2);
	assert_true(port_is_free(pc));
	assert_false(port_is_free(pb));

	/* a reload that works: the new set wants A only */
	net_ports_begin(p);
	int a3 = net_ports_udp(p, NULL, pa, &e);
	assert_true(a3 >= 0);
	close(a1); /* the old devices go */
	close(b1);
	net_ports_commit(p);
	assert_int_equal(net_ports_count(p), 1);
	assert_true(port_is_free(pb));
	assert_false(port_is_free(pa));
	char buf[8];
	ssize_t n = -1;
	for (int i = 0; i < 100 && n < 0; i++) {
		n = recv(a3, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0)
			usleep(1000);
	}
	assert_int_equal(n, 2);
	assert_memory_equal(buf, "q1", 2);
	close(a3);
	/* the table still holds A: nobody else can take it while no device has it open */
	assert_false(port_is_free(pa));
	net_ports_free(p);
	assert_true(port_is_free(pa));
	close(c);
	/* port 0 and no table: plain binds */
	int z = net_ports_udp(NULL, "127.0.0.1", 0, &e);
	assert_true(z >= 0);
	close(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(listen_fds_env),
	        cmocka_unit_test(udp_inherited_is_used),
	        cmocka_unit_test(udp_other_pid_or_port_binds),
	        cmocka_unit_test(tcp_inherited_is_used_and_type_checked),
	        cmocka_unit_test(plain_bind_errors),
	        cmocka_unit_test(udp_port_is_exclusive),
	        cmocka_unit_test(ports_hand_over),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
