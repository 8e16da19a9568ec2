# SPDX-License-Identifier: GPL-3.0-or-later
"""The real daemon as a CT002/CT003 in relay mode, reading a local JSON_HTTP meter, with
real UDP batteries on loopback: wire format, relay counts and buckets, several devices,
slow and dead meters (hold answer at the 2 s deadline while others are served at once),
malformed datagrams, and a clean SIGTERM shutdown."""

import os
import signal
import socket
import threading
import time

from amtest import (Daemon, Meter, Runner, Udp, check, ct_frame, ct_parse, ct_request,
                    free_udp_port)


def config(meter, port, extra_ct="", extra="", device="ct002"):
    return f"""[GENERAL]
DEVICE_TYPE = {device}

[CT002]
UDP_PORT = {port}
ACTIVE_CONTROL = False
{extra_ct}

[JSON_HTTP]
URL = {meter.url()}
JSON_PATHS = $.phase_a,$.phase_b,$.phase_c
{extra}
"""


def start(meter, extra_ct="", extra="", device="ct002", port=None):
    port = port or free_udp_port()
    d = Daemon(config(meter, port, extra_ct, extra, device))
    check(d.wait_log("running", 5), "daemon did not start:\n" + d.output())
    return d, port


def test_relay_reply_matches_upstream_worked_example():
    m = Meter()
    m.set_power(300, -50, 0)
    d, port = start(m)
    try:
        other = Udp(port)
        r, _ = other.ask(ct_request(mac="aabbccddeef1", phase="A", power=-200))
        check(r is not None, "no reply to the first battery")
        me = Udp(port)
        r, _ = me.ask(ct_request(mac="AABBCCDDEEF2", phase="B", power=150))
        f = ct_parse(r)
        check(len(f) == 24, f)
        # CT first, then the battery (MAC case preserved), meter per phase, total.
        check(f[0:4] == ["HME-4", "112233445566", "HMG-50", "AABBCCDDEEF2"], f)
        check(f[4:8] == ["300", "-50", "0", "250"], f)
        check(f[8:12] == ["1", "1", "0", "0"], f)       # real counts per phase in relay
        check(f[12] == "-50", f)                         # WIFI_RSSI default
        check(f[14:19] == ["0", "-200", "0", "0", "0"], f)   # charge buckets x,A,B,C,ABC
        check(f[19:24] == ["0", "0", "150", "0", "0"], f)    # discharge buckets
        other.close()
        me.close()
    finally:
        check(d.stop() == 0, "daemon exit code")
        m.stop()


def test_info_idx_changes_every_reply():
    m = Meter()
    m.set_power(10)
    d, port = start(m)
    try:
        u = Udp(port)
        seen = []
        for _ in range(3):
            r, _ = u.ask(ct_request())
            seen.append(int(ct_parse(r)[13]))
        check(seen[1] == (seen[0] + 1) % 256 and seen[2] == (seen[1] + 1) % 256, seen)
    finally:
        d.stop()
        m.stop()


def test_ct_mac_policy():
    m = Meter()
    m.set_power(100)
    d, port = start(m, extra_ct="CT_MAC = 0A0B0C0D0E0F")
    try:
        u = Udp(port)
        r, _ = u.ask(ct_request(ct_mac="0a0b0c0d0e0f"))
        check(r is not None and ct_parse(r)[1] == "0A0B0C0D0E0F", r)
        r, _ = u.ask(ct_request(ct_mac="000000000000"), timeout=0.5)
        check(r is None, "wildcard MAC must not be answered")
        r, _ = u.ask(ct_request(ct_mac="112233445566"), timeout=0.5)
        check(r is None, "other MAC must not be answered")
    finally:
        d.stop()
        m.stop()


def test_ct002_and_ct003_on_two_ports():
    m = Meter()
    m.set_power(120, 30, -10)
    p2, p3 = free_udp_port(), free_udp_port()
    cfg = f"""[GENERAL]
DEVICE_TYPE = ct002, ct003
[CT002]
UDP_PORT = {p2}
ACTIVE_CONTROL = False
[CT003]
UDP_PORT = {p3}
ACTIVE_CONTROL = False
[JSON_HTTP]
URL = {m.url()}
JSON_PATHS = $.phase_a,$.phase_b,$.phase_c
"""
    d = Daemon(cfg)
    try:
        check(d.wait_log("running", 5), d.output())
        a, b = Udp(p2), Udp(p3)
        ra, _ = a.ask(ct_request(ct_type="HME-4"))
        rb, _ = b.ask(ct_request(ct_type="HME-3"))
        check(ct_parse(ra)[0] == "HME-4" and ct_parse(rb)[0] == "HME-3", (ra, rb))
        check(ct_parse(rb)[4:8] == ["120", "30", "-10", "140"], rb)
    finally:
        d.stop()
        m.stop()


def test_same_port_for_ct002_and_ct003_is_a_config_error():
    m = Meter()
    p = free_udp_port()
    cfg = f"""[GENERAL]
DEVICE_TYPE = ct002, ct003
[CT002]
UDP_PORT = {p}
[JSON_HTTP]
URL = {m.url()}
JSON_PATHS = $.phase_a
"""
    d = Daemon(cfg)
    rc = d.proc.wait(10)
    check(rc != 0, "duplicate ports must be refused")
    check("UDP_PORT" in d.output(), d.output())
    d.stop()
    m.stop()


def test_dead_meter_gives_hold_answer():
    # Nothing listens on this port: connection refused.
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port_dead = dead.getsockname()[1]
    dead.close()
    port = free_udp_port()
    cfg = f"""[GENERAL]
DEVICE_TYPE = ct002
[CT002]
UDP_PORT = {port}
ACTIVE_CONTROL = False
[JSON_HTTP]
URL = http://127.0.0.1:{port_dead}/power
JSON_PATHS = $.phase_a
"""
    d = Daemon(cfg)
    try:
        check(d.wait_log("running", 5), d.output())
        u = Udp(port)
        r, dt = u.ask(ct_request(power=75))
        check(r is not None, "a failing meter must still be answered (hold)")
        f = ct_parse(r)
        check(f[4:8] == ["0", "0", "0", "0"], f)
        check(dt < 2.5, dt)
        check(d.alive())
    finally:
        d.stop()


def test_slow_meter_parks_until_deadline_while_others_are_served():
    fast = Meter()
    fast.set_power(200, 0, 0)
    slow = Meter()
    slow.set_power(999, 0, 0)
    slow.delay = 3.5   # longer than the 2 s total HTTP timeout
    port = free_udp_port()
    cfg = f"""[GENERAL]
DEVICE_TYPE = ct002
[CT002]
UDP_PORT = {port}
ACTIVE_CONTROL = False
[JSON_HTTP_SLOW]
URL = {slow.url()}
JSON_PATHS = $.phase_a
NETMASK = 127.0.0.2/32
[JSON_HTTP]
URL = {fast.url()}
JSON_PATHS = $.phase_a,$.phase_b,$.phase_c
"""
    d = Daemon(cfg)
    try:
        check(d.wait_log("running", 5), d.output())
        slow_bat = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        slow_bat.bind(("127.0.0.2", 0))
        slow_bat.settimeout(4)
        fast_bat = Udp(port)
        t0 = time.monotonic()
        slow_bat.sendto(ct_request(mac="00000000000a", power=10), ("127.0.0.1", port))
        # While the slow request is parked, the other battery is answered promptly.
        latencies = []
        for _ in range(5):
            r, dt = fast_bat.ask(ct_request(mac="00000000000b"))
            check(r is not None and ct_parse(r)[4] == "200", r)
            latencies.append(dt)
            time.sleep(0.1)
        check(max(latencies) < 0.5, latencies)
        data, _ = slow_bat.recvfrom(65536)
        waited = time.monotonic() - t0
        f = ct_parse(data)
        check(f[4:8] == ["0", "0", "0", "0"], ("hold answer expected", f))
        check(1.7 < waited < 2.8, waited)
        slow_bat.close()
    finally:
        d.stop()
        fast.stop()
        slow.stop()


def test_concurrent_requests_coalesce_into_one_fetch():
    m = Meter()
    m.set_power(50)
    m.delay = 0.3
    d, port = start(m, extra="THROTTLE_INTERVAL = 1")
    try:
        before = len(m.requests)
        socks = [Udp(port) for _ in range(6)]
        for i, s in enumerate(socks):
            s.send(ct_request(mac="0000000000%02x" % i))
        replies = [s.recv(3) for s in socks]
        check(all(r is not None and ct_parse(r)[4] == "50" for r in replies), replies)
        check(len(m.requests) - before == 1, ("fetches", len(m.requests) - before))
    finally:
        d.stop()
        m.stop()


def wrong_length(frame):
    """The same frame with its length field one too large (checksum recomputed)."""
    bar = frame.index(b"|")
    n = int(frame[2:bar]) + 1
    head = b"\x01\x02" + str(n).encode() + frame[bar:-2]
    x = 0
    for b in head:
        x ^= b
    return head + ("%02x" % x).encode()


def test_malformed_datagrams_are_dropped_and_cost_nothing():
    m = Meter()
    m.set_power(42)
    d, port = start(m)
    try:
        u = Udp(port)
        good = ct_request(power=5)
        bad = [
            b"",
            b"\x01\x02",
            good[:-5],                                   # truncated
            good[:-2] + b"zz",                           # bad checksum
            wrong_length(good),
            os.urandom(65000),                           # garbage
            b"\x01\x02" + "é".encode() * 20,             # non-ASCII
            ct_frame(["HMG-50", "aabbccddeeff", "HME-4", "112233445566", "A", "9" * 1500]),
            ct_frame(["HMG-50", "aabbccddeeff", "HME-4"]),  # too few fields
            b'{"id":1,"method":"EM.GetStatus","params":{"id":0}}',
        ]
        for b in bad:
            r, _ = u.ask(b, timeout=0.3)
            check(r is None, ("no reply expected to", b[:40], r))
        r, _ = u.ask(ct_request(mac="aabbccddeeff", phase="A", power=5))
        f = ct_parse(r)
        check(f[4] == "42", f)
        # The 1500-digit power never reached another battery's buckets.
        check(all(len(x) < 20 for x in f), f)
        check(d.alive())
    finally:
        check(d.stop() == 0)
        m.stop()


def test_uppercase_and_space_padded_checksums_are_accepted():
    m = Meter()
    m.set_power(7)
    d, port = start(m)
    try:
        u = Udp(port)
        frame = ct_request(power=0)
        upper = frame[:-2] + frame[-2:].upper()
        r, _ = u.ask(upper)
        check(r is not None, "uppercase checksum refused")
        # Find a request whose checksum has a zero high nibble and pad it with a space.
        for p in range(0, 400):
            f = ct_request(power=p)
            if f[-2:-1] == b"0":
                r, _ = u.ask(f[:-2] + b" " + f[-1:])
                check(r is not None, ("space-padded checksum refused", f))
                break
    finally:
        d.stop()
        m.stop()


def test_sigterm_and_sighup():
    m = Meter()
    m.set_power(1)
    d, port = start(m)
    try:
        u = Udp(port)
        check(u.ask(ct_request())[0] is not None)
        d.proc.send_signal(signal.SIGHUP)
        check(d.wait_log("configuration reloaded", 5), d.output())
        check(d.wait_log("running", 5))
        r, _ = u.ask(ct_request())
        check(r is not None, "no reply after reload")
    finally:
        rc = d.stop(signal.SIGTERM)
        check(rc == 0, rc)
        m.stop()


if __name__ == "__main__":
    Runner().run([
        test_relay_reply_matches_upstream_worked_example,
        test_info_idx_changes_every_reply,
        test_ct_mac_policy,
        test_ct002_and_ct003_on_two_ports,
        test_same_port_for_ct002_and_ct003_is_a_config_error,
        test_dead_meter_gives_hold_answer,
        test_slow_meter_parks_until_deadline_while_others_are_served,
        test_concurrent_requests_coalesce_into_one_fetch,
        test_malformed_datagrams_are_dropped_and_cost_nothing,
        test_uppercase_and_space_padded_checksums_are_accepted,
        test_sigterm_and_sighup,
    ])
