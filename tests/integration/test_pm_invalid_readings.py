# SPDX-License-Identifier: GPL-3.0-or-later
"""A meter that reports NaN, infinity or a number that overflows (#550) is an unavailable
meter, never a controller input: the real daemon reads a local JSON_HTTP meter whose body
turns bad, and a UDP battery must get the hold answer (zeros) at once, /health must name
the failure, the failure is logged once however many requests arrive, and the next good
body is answered normally. Also covers a value that only becomes infinite in the filter
chain (POWER_MULTIPLIER), which the old daemon passed on and then could not encode, so
the battery got no answer at all."""

import http.client
import json
import socket
import time

from amtest import Daemon, Meter, Runner, Udp, check, ct_parse, ct_request, free_udp_port

GOOD = b'{"a": 100, "b": 20, "c": -5}'
GOOD_F = ["100", "20", "-5", "115"]
HOLD_F = ["0", "0", "0", "0"]
FRESH_S = 0.30  # a little over the 250 ms the daemon serves a cached reading

# Bodies a broken meter or gateway sends: JSON extensions Python's json.dumps writes for
# non-finite floats, overflowing exponents, and numeric strings that C's strtod would take.
BAD_BODIES = [
    b'{"a": NaN, "b": 20, "c": -5}',
    b'{"a": 100, "b": Infinity, "c": -5}',
    b'{"a": 100, "b": 20, "c": -Infinity}',
    b'{"a": 1e999, "b": 20, "c": -5}',
    b'{"a": 100, "b": -1e999, "c": -5}',
    b'{"a": "nan", "b": 20, "c": -5}',
    b'{"a": 100, "b": "NaN", "c": -5}',
    b'{"a": 100, "b": 20, "c": "inf"}',
    b'{"a": "-inf", "b": 20, "c": -5}',
    b'{"a": "1e999", "b": 20, "c": -5}',
    b'{"a": 100, "b": 20, "c": 5e12}',
    b'1e999',
    b'NaN',
]


class Body:
    """The meter's current body, switchable by the test."""

    def __init__(self):
        self.body = GOOD

    def __call__(self, req):
        return 200, self.body, "application/json"


def free_tcp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def health(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    try:
        c.request("GET", "/health")
        r = c.getresponse()
        return r.status, json.loads(r.read())
    finally:
        c.close()


def start(meter, extra="", active=False):
    udp, web = free_udp_port(), free_tcp_port()
    d = Daemon(f"""[GENERAL]
DEVICE_TYPE = ct002
WEB_SERVER_PORT = {web}
HEALTH_MAX_AGE = 60

[CT002]
UDP_PORT = {udp}
ACTIVE_CONTROL = {active}

[JSON_HTTP]
URL = {meter.url()}
JSON_PATHS = $.a,$.b,$.c
{extra}
""", loglevel="info")
    check(d.wait_log("running", 8), "daemon did not start:\n" + d.output())
    return d, udp, web


def ask(u, mac="aabbccddee01"):
    r, _ = u.ask(ct_request(mac=mac), timeout=3.0)
    check(r is not None, "no answer at all")
    return ct_parse(r)[4:8]


def test_bad_bodies_hold_then_recover():
    body = Body()
    m = Meter({"/power": body})
    d, udp, web = start(m)
    try:
        u = Udp(udp)
        check(ask(u) == GOOD_F, "first good reading")
        for bad in BAD_BODIES:
            body.body = bad
            time.sleep(FRESH_S)
            f = ask(u)
            check(f == HOLD_F, ("body %r: battery got %s, not the hold answer" % (bad, f)))
            st, j = health(web)
            pm = j["powermeters"][0]
            check(pm["ok"] is False and pm["error"], ("health after %r" % bad, st, pm))
            body.body = GOOD
            time.sleep(FRESH_S)
            f = ask(u)
            check(f == GOOD_F, ("after %r the good reading came back as %s" % (bad, f)))
            st, j = health(web)
            check(j["powermeters"][0]["ok"] is True, ("health after recovery", j))
        check(d.alive(), "daemon died")
        u.close()
    finally:
        check(d.stop() == 0, "exit code\n" + d.output())
        m.stop()


def test_failure_logged_once_under_a_request_flood():
    body = Body()
    m = Meter({"/power": body})
    d, udp, _ = start(m)
    try:
        u = Udp(udp)
        check(ask(u) == GOOD_F, "first good reading")
        body.body = b'{"a": 1e999, "b": 0, "c": 0}'
        time.sleep(FRESH_S)
        n = 0
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            check(ask(u) == HOLD_F, "hold during the flood")
            n += 1
            time.sleep(0.02)
        fetches = len(m.requests)
        lines = [ln for ln in d.output().splitlines() if "JSON_HTTP:" in ln and "WARN" in ln]
        check(n >= 40 and fetches >= 5, (n, fetches))
        check(len(lines) == 1, ("%d requests, %d fetches, %d complaint lines" %
                                (n, fetches, len(lines)), lines))
        check("not a finite number" in lines[0] or "invalid value" in lines[0], lines)
        body.body = GOOD
        time.sleep(FRESH_S)
        check(ask(u) == GOOD_F, "recovery")
        check(d.wait_log("reading again after", 2), "no recovery line")
        u.close()
    finally:
        check(d.stop() == 0, "exit code")
        m.stop()


def test_overflow_in_the_filter_chain_is_a_hold():
    # A kW meter scaled to W: a glitch of 1e9 "kW" overflows to infinity in the transform.
    body = Body()
    body.body = b'{"a": 0, "b": 0.02, "c": -0.005}'
    m = Meter({"/power": body})
    d, udp, web = start(m, extra="POWER_MULTIPLIER = 1e300,1000,1000\n")
    try:
        u = Udp(udp)
        f = ask(u)
        check(f == ["0", "20", "-5", "15"], f)
        body.body = b'{"a": 1e9, "b": 0, "c": 0}'
        time.sleep(FRESH_S)
        f = ask(u)
        check(f == HOLD_F, ("chain overflow: battery got %s" % f))
        _, j = health(web)
        check("filters" in (j["powermeters"][0]["error"] or ""), j)
        body.body = b'{"a": 0, "b": 0.02, "c": -0.005}'
        time.sleep(FRESH_S)
        check(ask(u) == ["0", "20", "-5", "15"], "recovery")
        u.close()
    finally:
        check(d.stop() == 0, "exit code")
        m.stop()


def test_active_control_holds_on_nan():
    body = Body()
    m = Meter({"/power": body})
    d, udp, _ = start(m, active=True)
    try:
        u = Udp(udp)
        for _ in range(3):
            ask(u)
            time.sleep(FRESH_S)
        body.body = b'{"a": NaN, "b": 0, "c": 0}'
        time.sleep(FRESH_S)
        for _ in range(3):
            f = ask(u)
            check(f == HOLD_F, ("active control on a NaN meter: %s" % f))
            time.sleep(FRESH_S)
        body.body = GOOD
        time.sleep(FRESH_S)
        f = ask(u)
        check(f != HOLD_F, ("active control after recovery still holds: %s" % f))
        check(d.wait_log("powermeter readings are back", 2), "no recovery line")
        u.close()
    finally:
        check(d.stop() == 0, "exit code")
        m.stop()


if __name__ == "__main__":
    Runner().run([
        test_bad_bodies_hold_then_recover,
        test_failure_logged_once_under_a_request_flood,
        test_overflow_in_the_filter_chain_is_a_hold,
        test_active_control_holds_on_nan,
    ])
