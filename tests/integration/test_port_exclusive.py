# SPDX-License-Identifier: GPL-3.0-or-later
"""Nobody can take over a battery port. The daemon binds its UDP ports without
SO_REUSEADDR: a port that another socket holds (even one that set SO_REUSEADDR or
SO_REUSEPORT, as a port thief would) is a start-up error naming the port and the config
key, and while the daemon runs no other socket can bind the port (wildcard or one
address, with or without the reuse options), so it cannot receive a share of the
batteries' requests. A second daemon on the same CT port exits non-zero naming the port;
a second daemon on the same web port cannot bind it (a live TCP listener is exclusive on
Linux even with SO_REUSEADDR) and the first keeps answering /health."""

import errno
import http.client
import socket

from amtest import Daemon, Meter, Runner, Udp, check, ct_parse, ct_request, free_udp_port


def free_tcp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def config(meter, udp, web, ids="first"):
    return f"""[GENERAL]
DEVICE_TYPE = ct002
DEVICE_IDS = {ids}
WEB_SERVER_PORT = {web}

[CT002]
UDP_PORT = {udp}
ACTIVE_CONTROL = False

[JSON_HTTP]
URL = {meter.url()}
JSON_PATHS = $.phase_a,$.phase_b,$.phase_c
"""


REUSE = [("plain", []), ("SO_REUSEADDR", [socket.SO_REUSEADDR]),
         ("SO_REUSEPORT", [socket.SO_REUSEPORT]),
         ("both", [socket.SO_REUSEADDR, socket.SO_REUSEPORT])]


def bind_err(kind, addr, port, opts):
    """Tries to bind; returns the errno (0 if the bind worked, the socket then closed)."""
    s = socket.socket(socket.AF_INET, kind)
    try:
        for o in opts:
            s.setsockopt(socket.SOL_SOCKET, o, 1)
        s.bind((addr, port))
        if kind == socket.SOCK_STREAM:
            s.listen(1)
        return 0
    except OSError as e:
        return e.errno
    finally:
        s.close()


def exits(d, timeout=8):
    try:
        return d.proc.wait(timeout)
    except Exception:
        return None


def test_busy_port_at_startup_is_an_error_naming_it():
    m = Meter()
    m.set_power(10)
    try:
        for name, opts in REUSE:
            udp = free_udp_port()
            thief = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for o in opts:
                thief.setsockopt(socket.SOL_SOCKET, o, 1)
            thief.bind(("0.0.0.0", udp))
            d = Daemon(config(m, udp, free_tcp_port()))
            try:
                rc = exits(d)
                out = d.output()
                check(rc not in (None, 0), "%s thief: daemon did not exit (rc %r):\n%s"
                      % (name, rc, out))
                check("udp/%d" % udp in out and "[CT002] UDP_PORT" in out
                      and "in use" in out, "%s: message does not name the port:\n%s"
                      % (name, out))
            finally:
                d.stop()
                thief.close()
    finally:
        m.stop()


def test_running_port_cannot_be_bound_beside():
    m = Meter()
    m.set_power(33)
    udp = free_udp_port()
    d = Daemon(config(m, udp, free_tcp_port()))
    try:
        check(d.wait_log("running", 8), d.output())
        for addr in ("0.0.0.0", "127.0.0.1"):
            for name, opts in REUSE:
                err = bind_err(socket.SOCK_DGRAM, addr, udp, opts)
                check(err == errno.EADDRINUSE, "bind %s:%d with %s: errno %s (want EADDRINUSE)"
                      % (addr, udp, name, err))
        # The batteries are all ours: every request answered.
        u = Udp(udp)
        for i in range(5):
            r, _ = u.ask(ct_request(mac="aabbccdd00%02d" % i), timeout=2)
            check(r is not None and ct_parse(r)[4:8] == ["33", "0", "0", "33"], r)
        u.close()
    finally:
        check(d.stop() == 0, "exit code")
        m.stop()


def test_second_daemon_on_the_same_ports():
    m = Meter()
    m.set_power(5)
    udp, web = free_udp_port(), free_tcp_port()
    a = Daemon(config(m, udp, web))
    b = c = None
    try:
        check(a.wait_log("running", 8), a.output())
        # Same CT port: the second one refuses to start.
        b = Daemon(config(m, udp, free_tcp_port()))
        rc = exits(b)
        check(rc not in (None, 0), "second daemon on udp/%d still runs:\n%s" % (udp, b.output()))
        check("udp/%d" % udp in b.output() and "in use" in b.output(), b.output())
        # Same web port (another CT port): it cannot take the listener.
        for name, opts in REUSE[:2]:
            err = bind_err(socket.SOCK_STREAM, "0.0.0.0", web, opts)
            check(err == errno.EADDRINUSE, "listen on tcp/%d with %s: errno %s"
                  % (web, name, err))
        udp2 = free_udp_port()
        c = Daemon(config(m, udp2, web, ids="second"))
        check(c.wait_log("running", 8), c.output())
        check(c.wait_log("health endpoint not available", 3), c.output())
        check("tcp/%d" % web in c.output() and "in use" in c.output(), c.output())
        # The first daemon still owns both: its /health and its battery port answer.
        for _ in range(5):
            h = http.client.HTTPConnection("127.0.0.1", web, timeout=3)
            h.request("GET", "/health")
            body = h.getresponse().read()
            h.close()
            check(b'"id":"first"' in body and b"second" not in body, body)
        u = Udp(udp)
        check(u.ask(ct_request())[0] is not None, "first daemon no longer answers")
        u.close()
        check(a.alive(), a.output())
    finally:
        for d in (c, b):
            if d:
                d.stop()
        check(a.stop() == 0, "exit code")
        m.stop()


if __name__ == "__main__":
    Runner().run([
        test_busy_port_at_startup_is_an_error_naming_it,
        test_running_port_cannot_be_bound_beside,
        test_second_daemon_on_the_same_ports,
    ])
