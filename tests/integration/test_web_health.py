# SPDX-License-Identifier: GPL-3.0-or-later
"""The health endpoint of the real daemon: /health and /api answers with meter and device
state, HEAD, 404/405, 503 once the meter has been dead for HEALTH_MAX_AGE, the
`--healthcheck` exit codes, a busy or disabled port, reload, and hostile HTTP clients
(slowloris, oversized headers, garbage, connection floods) while a CT002 battery keeps
asking: its replies must keep coming, and fast."""

import http.client
import json
import os
import signal
import socket
import statistics
import threading
import time

from amtest import (AM_BIN, Daemon, Meter, Runner, Udp, check, ct_parse, ct_request,
                    free_udp_port, run_cli)


def free_tcp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def config(meter_url, udp, web, general="", device="ct002"):
    return f"""[GENERAL]
DEVICE_TYPE = {device}
WEB_SERVER_PORT = {web}
{general}

[CT002]
UDP_PORT = {udp}
ACTIVE_CONTROL = False

[JSON_HTTP]
URL = {meter_url}
JSON_PATHS = $.phase_a,$.phase_b,$.phase_c
"""


def start(meter_url, general="", web=None, udp=None):
    web = web or free_tcp_port()
    udp = udp or free_udp_port()
    d = Daemon(config(meter_url, udp, web, general))
    check(d.wait_log("running", 8), "daemon did not start:\n" + d.output())
    return d, udp, web


def get(port, path="/health", method="GET", timeout=3.0):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path)
        r = c.getresponse()
        body = r.read()
        return r.status, dict(r.getheaders()), body
    finally:
        c.close()


def healthcheck(config_path):
    rc, out, err = run_cli(["-c", config_path, "--healthcheck"], timeout=15)
    return rc, out + err


def test_health_reports_meters_and_devices():
    m = Meter()
    m.set_power(100, 20, -5)
    d, udp, web = start(m.url())
    try:
        u = Udp(udp)
        r, _ = u.ask(ct_request(mac="aabbccddee01"))
        check(r is not None and ct_parse(r)[4:8] == ["100", "20", "-5", "115"], r)
        st, hdr, body = get(web)
        check(st == 200, (st, body))
        check(hdr.get("Content-Type") == "application/json", hdr)
        check(hdr.get("Cache-Control") == "no-cache", hdr)
        j = json.loads(body)
        check(j["status"] == "healthy" and j["service"] == "astrameter", j)
        check(isinstance(j["version"], str) and j["version"], j)
        check(isinstance(j["uptime_s"], (int, float)) and j["uptime_s"] >= 0, j)
        pm = j["powermeters"]
        check(len(pm) == 1 and pm[0]["name"] == "JSON_HTTP" and pm[0]["ok"] is True, pm)
        check(0 <= pm[0]["last_success_age_s"] < 5 and pm[0]["error"] is None, pm)
        dev = j["devices"]
        check(dev == [{"type": "ct002", "id": "device-1", "consumers": 1}], dev)
        for path in ("/health/", "/api", "/api/"):
            st, _, body = get(web, path)
            check(st == 200 and json.loads(body)["status"] == "healthy", (path, st))
        rc, out = healthcheck(d.config)
        check(rc == 0, out)
        u.close()
    finally:
        check(d.stop() == 0, "exit code")
        m.stop()


def test_head_404_405():
    m = Meter()
    m.set_power(1)
    d, _, web = start(m.url())
    try:
        st, hdr, body = get(web, "/health", "HEAD")
        check(st == 200 and body == b"" and int(hdr["Content-Length"]) > 20, (st, hdr, body))
        st, _, body = get(web, "/config")
        check(st == 404 and json.loads(body) == {"error": "Not Found"}, (st, body))
        st, _, _ = get(web, "/healthz")
        check(st == 404, st)
        st, hdr, _ = get(web, "/health", "POST")
        check(st == 405 and hdr.get("Allow") == "GET, HEAD", (st, hdr))
    finally:
        d.stop()
        m.stop()


def test_503_when_the_meter_is_dead_and_healthcheck_exit_codes():
    # Nothing listens on the meter's port: every fetch fails.
    dead = "http://127.0.0.1:%d/power" % free_tcp_port()
    d, udp, web = start(dead, general="HEALTH_MAX_AGE = 1.5")
    try:
        # Within the grace period after start: healthy.
        st, _, body = get(web)
        check(st == 200, (st, body))
        time.sleep(1.8)
        st, _, body = get(web)
        j = json.loads(body)
        check(st == 503 and j["status"] == "unhealthy", (st, body))
        pm = j["powermeters"][0]
        check(pm["ok"] is False and pm["last_success_age_s"] is None, pm)
        check(pm["failures"] >= 1 and pm["error"], pm)  # /health itself kicked a fetch
        rc, out = healthcheck(d.config)
        check(rc == 1 and "503" in out, (rc, out))
        # The daemon keeps answering batteries (hold answer) meanwhile.
        check(d.alive(), "daemon died")
    finally:
        d.stop()


def test_meter_that_dies_later_turns_503_and_recovers():
    m = Meter()
    m.set_power(50)
    d, udp, web = start(m.url(), general="HEALTH_MAX_AGE = 1")
    try:
        u = Udp(udp)
        check(u.ask(ct_request())[0] is not None, "no reply")
        check(get(web)[0] == 200, "not healthy with a live meter")
        m.routes.clear()  # the meter now answers 404 to everything
        time.sleep(0.6)
        get(web)  # kicks a refetch, which fails
        time.sleep(0.9)
        st, _, body = get(web)
        check(st == 503, (st, body))
        m.set_power(60)
        # /health kicks a fetch on an idle meter; the next probe sees the reading.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and get(web)[0] != 200:
            time.sleep(0.2)
        check(get(web)[0] == 200, "did not recover")
        u.close()
    finally:
        d.stop()
        m.stop()


def test_healthcheck_without_daemon_or_with_web_server_off():
    m = Meter()
    m.set_power(1)
    web = free_tcp_port()
    from amtest import write_config
    path = write_config(config(m.url(), free_udp_port(), web))
    rc, out = healthcheck(path)
    check(rc == 1 and "connect" in out, (rc, out))
    # Missing config file: default port, still a clean failure (or success if something
    # healthy runs there: accept both, but it must not crash).
    rc, out = healthcheck("/nonexistent/config.ini")
    check(rc in (0, 1), (rc, out))
    d, _, web2 = start(m.url(), general="ENABLE_WEB_SERVER = False")
    try:
        s = socket.socket()
        check(s.connect_ex(("127.0.0.1", web2)) != 0, "web server runs although disabled")
        s.close()
        rc, out = healthcheck(d.config)
        check(rc == 1 and "ENABLE_WEB_SERVER" in out, (rc, out))
    finally:
        d.stop()
        m.stop()


def test_busy_port_is_not_fatal_and_reload_keeps_serving():
    m = Meter()
    m.set_power(5)
    busy = socket.socket()
    busy.bind(("0.0.0.0", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    udp = free_udp_port()
    d = Daemon(config(m.url(), udp, port))
    try:
        check(d.wait_log("running", 8), d.output())
        check("health endpoint not available" in d.output(), d.output())
        u = Udp(udp)
        check(u.ask(ct_request())[0] is not None, "CT002 must run without the web server")
        busy.close()
        d.proc.send_signal(signal.SIGHUP)
        check(d.wait_log("configuration reloaded", 5), d.output())
        deadline = time.monotonic() + 5
        st = None
        while time.monotonic() < deadline:
            try:
                st = get(port)[0]
                break
            except OSError:
                time.sleep(0.1)
        check(st == 200, "no /health after reload: %s\n%s" % (st, d.output()))
        check(u.ask(ct_request())[0] is not None, "CT002 after reload")
        u.close()
    finally:
        busy.close()
        check(d.stop() == 0, "exit code")
        m.stop()


def latencies(udp, n, stop=None):
    u = Udp(udp)
    out = []
    for i in range(n):
        r, dt = u.ask(ct_request(mac="aabbccddee%02x" % (i % 4)), timeout=2.0)
        out.append(dt if r is not None else None)
        time.sleep(0.01)
    u.close()
    return out


def test_hostile_clients_do_not_delay_udp_replies():
    m = Meter()
    m.set_power(10)
    d, udp, web = start(m.url())
    try:
        base = latencies(udp, 50)
        check(all(x is not None for x in base), "baseline lost replies")
        socks = []
        stop = threading.Event()

        def slowloris():
            # Many connections that dribble a header byte now and then.
            for _ in range(40):
                try:
                    s = socket.create_connection(("127.0.0.1", web), timeout=1)
                    s.send(b"GET /health HTTP/1.1\r\nHost: x\r\n")
                    socks.append(s)
                except OSError:
                    pass
            while not stop.is_set():
                for s in list(socks):
                    try:
                        s.send(b"X-a: b\r\n")
                    except OSError:
                        socks.remove(s)
                stop.wait(0.2)

        def garbage():
            big = b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n"
            junk = [bytes(range(256)) * 50, b"\x00" * 10000, b"GET / HTTP/9.9\r\n\r\n",
                    b"GET " + b"/x" * 20000 + b" HTTP/1.1\r\n\r\n", big]
            while not stop.is_set():
                for p in junk:
                    try:
                        s = socket.create_connection(("127.0.0.1", web), timeout=1)
                        s.settimeout(1)
                        s.sendall(p)
                        s.recv(4096)
                    except OSError:
                        pass
                    finally:
                        s.close()

        threads = [threading.Thread(target=slowloris), threading.Thread(target=garbage)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        attacked = latencies(udp, 100)
        stop.set()
        for t in threads:
            t.join()
        for s in socks:
            s.close()
        lost = sum(1 for x in attacked if x is None)
        ok = [x for x in attacked if x is not None]
        b_med, a_med = statistics.median(base), statistics.median(ok)
        a_max = max(ok)
        print("    CT002 reply latency: baseline median %.2f ms, under attack median %.2f ms,"
              " max %.2f ms, lost %d/100" % (b_med * 1e3, a_med * 1e3, a_max * 1e3, lost))
        check(lost == 0, "replies lost under attack")
        check(a_max < 0.25, "a reply took %.0f ms under attack" % (a_max * 1e3))
        # The endpoint still answers once the attackers are gone.
        deadline = time.monotonic() + 12
        st = None
        while time.monotonic() < deadline:
            try:
                st = get(web)[0]
                if st == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        check(st == 200, "health endpoint did not come back: %s" % st)
        check(d.alive(), "daemon died")
    finally:
        check(d.stop() == 0, "exit code")
        m.stop()


def hold_connections(src, port, n):
    """Opens up to n idle TCP connections from source address src; returns them."""
    out = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(0.2)
        try:
            s.bind((src, 0))
            s.connect(("127.0.0.1", port))
            out.append(s)
        except OSError:
            s.close()
    return out


def test_two_hosts_cannot_exhaust_the_endpoint():
    """Two hosts (127.0.0.2 and .3 on loopback) open as many idle connections as they can
    (64 each, the server's total): /health from a third still answers within 1 s, and an
    idle connection is dropped after the idle timeout (5 s)."""
    m = Meter()
    m.set_power(3)
    d, udp, web = start(m.url())
    held = []
    try:
        held = hold_connections("127.0.0.2", web, 64) + hold_connections("127.0.0.3", web, 64)
        time.sleep(0.3)  # let the server accept (or refuse) them all
        for i in range(3):
            t0 = time.monotonic()
            st = get(web, timeout=1.0)[0]
            dt = time.monotonic() - t0
            check(st == 200 and dt < 1.0, (st, dt))
        print("    /health answered in %.0f ms with 2 x 64 idle connections open" % (dt * 1e3))
        for s in held:
            s.close()
        held = []
        # An idle connection (a fresh host, so the server takes it) is closed after the
        # idle timeout, not before.
        idle = hold_connections("127.0.0.4", web, 1)
        check(idle, "no connection from 127.0.0.4")
        idle[0].settimeout(8)
        t0 = time.monotonic()
        try:
            got = idle[0].recv(1)
        except OSError:
            got = b""
        dt = time.monotonic() - t0
        idle[0].close()
        check(got == b"" and 4.0 < dt < 7.0, "idle connection held %.1f s" % dt)
        check(d.alive(), d.output())
    finally:
        for s in held:
            s.close()
        check(d.stop() == 0, "exit code")
        m.stop()


if __name__ == "__main__":
    Runner().run([
        test_health_reports_meters_and_devices,
        test_head_404_405,
        test_503_when_the_meter_is_dead_and_healthcheck_exit_codes,
        test_meter_that_dies_later_turns_503_and_recovers,
        test_healthcheck_without_daemon_or_with_web_server_off,
        test_busy_port_is_not_fatal_and_reload_keeps_serving,
        test_hostile_clients_do_not_delay_udp_replies,
        test_two_hosts_cannot_exhaust_the_endpoint,
    ])
