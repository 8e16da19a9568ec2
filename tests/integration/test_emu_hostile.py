# SPDX-License-Identifier: GPL-3.0-or-later
"""The real daemon as a CT002 on a hostile LAN: one host floods it (one MAC, then a new MAC
in every datagram) while three real batteries poll at 1 Hz against a slow meter that makes
every request wait; 5000 made-up MACs against the consumer table; a flood of made-up MACs
that starts before the real batteries arrive (each still gets a slot and its answers); one reply per reading
when a battery polls again while its request waits (#542); requests waiting for a reading
when a SIGHUP reload comes; control bytes in a battery's id kept out of the log. Every
real battery must get its correct answer, and the log must stay short."""

import random
import re
import signal
import socket
import threading
import time

from amtest import Daemon, Meter, Runner, check, ct_parse, ct_request, free_udp_port

REAL = [("127.0.0.2", "0000000000a1", "A"), ("127.0.0.3", "0000000000a2", "A"),
        ("127.0.0.4", "0000000000b1", "B")]


def start(meter, loglevel="info", extra=""):
    port = free_udp_port()
    cfg = f"""[GENERAL]
DEVICE_TYPE = ct002

[CT002]
UDP_PORT = {port}
ACTIVE_CONTROL = False

[JSON_HTTP]
URL = {meter.url()}
JSON_PATHS = $.phase_a,$.phase_b,$.phase_c
{extra}
"""
    d = Daemon(cfg, loglevel=loglevel)
    check(d.wait_log("listening on udp", 5), "daemon did not start:\n" + d.output())
    return d, port


def sock_at(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 0))
    return s


class Battery(threading.Thread):
    """A real battery: polls once a second from its own address and records every reply
    (fields) and every poll left unanswered."""

    def __init__(self, port, addr, mac, phase, power=100, timeout=2.5):
        super().__init__(daemon=True)
        self.timeout = timeout
        self.port, self.mac, self.phase, self.power = port, mac, phase, power
        self.s = sock_at(addr)
        self.replies, self.missed = [], 0
        self.stop = threading.Event()

    def poll(self, timeout=2.5):
        self.s.settimeout(timeout)
        self.s.sendto(ct_request(mac=self.mac, phase=self.phase, power=self.power),
                      ("127.0.0.1", self.port))
        try:
            return ct_parse(self.s.recvfrom(65536)[0])
        except socket.timeout:
            return None

    def run(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            f = self.poll(self.timeout)
            if f is None:
                self.missed += 1
            else:
                self.replies.append(f)
            self.stop.wait(max(0.0, 1.0 - (time.monotonic() - t0)))


def flood(port, seconds, rate, macs):
    """Sends `rate` requests a second from 127.0.0.1 for `seconds`; macs(i) names the MAC
    of the i-th datagram. Replies are drained and dropped."""
    s = sock_at("127.0.0.1")
    s.setblocking(False)
    end = time.monotonic() + seconds
    i = 0
    nxt = time.monotonic()
    while time.monotonic() < end:
        s.sendto(ct_request(mac=macs(i), phase="A", power=900), ("127.0.0.1", port))
        i += 1
        try:
            while True:
                s.recv(65536)
        except BlockingIOError:
            pass
        nxt += 1.0 / rate
        time.sleep(max(0.0, nxt - time.monotonic()))
    s.close()
    return i


def log_lines(d):
    return [ln for ln in d.output().splitlines() if ln.strip()]


def test_flood_from_one_host_costs_real_batteries_nothing():
    m = Meter()
    m.set_power(300, 40, -20)
    m.delay = 0.8  # every request waits for a fetch (fresh for 250 ms only)
    d, port = start(m)
    try:
        bats = [Battery(port, a, mac, ph) for a, mac, ph in REAL]
        for b in bats:
            b.start()
        time.sleep(2.5)  # they are known batteries by now
        before = len(log_lines(d))
        sent = flood(port, 5, 200, lambda i: "00000000ffff")
        sent += flood(port, 5, 200, lambda i: "f%011x" % i)
        time.sleep(1.5)
        for b in bats:
            b.stop.set()
        for b in bats:
            b.join(5)
        check(sent > 1500, ("flood too slow to mean anything", sent))
        for b in bats:
            # ~13 polls each; each answered with the meter (never the 0 W hold).
            check(len(b.replies) >= 10, (b.mac, len(b.replies), b.missed))
            check(b.missed == 0, (b.mac, "unanswered polls", b.missed))
            for f in b.replies:
                check(f[4:8] == ["300", "40", "-20", "320"], (b.mac, "got", f[4:8]))
        lines = log_lines(d)[before:]
        check(len(lines) < 40, ("log lines during the flood", len(lines), lines[-20:]))
        check(d.alive())
    finally:
        check(d.stop() == 0, "daemon exit code")
        m.stop()


def test_made_up_macs_neither_evict_nor_count():
    m = Meter()
    m.set_power(300, 40, -20)
    d, port = start(m)
    try:
        bats = [Battery(port, a, mac, ph) for a, mac, ph in REAL]
        first = []
        for _ in range(3):
            first = [b.poll() for b in bats]
            time.sleep(0.3)
        check(all(f is not None for f in first), first)
        # Relay counts per phase: two batteries on A, one on B.
        check([f[8:12] for f in first] == [["2", "1", "0", "0"]] * 3, first)
        before = len(log_lines(d))
        s = sock_at("127.0.0.1")
        s.setblocking(False)
        for i in range(5000):
            s.sendto(ct_request(mac="e%011x" % i, phase="A", power=900), ("127.0.0.1", port))
            if i % 50 == 49:
                try:
                    while True:
                        s.recv(65536)
                except BlockingIOError:
                    pass
                time.sleep(0.002)
        s.close()
        time.sleep(0.3)
        after = [b.poll() for b in bats]
        check(all(f is not None for f in after), after)
        # The same counts and buckets: the made-up batteries changed nothing they are told.
        for f0, f1 in zip(first, after):
            check(f1[8:12] == f0[8:12], ("counts", f0[8:12], f1[8:12]))
            check(f1[14:24] == f0[14:24], ("buckets", f0[14:24], f1[14:24]))
            check(f1[4:8] == ["300", "40", "-20", "320"], f1)
        lines = log_lines(d)[before:]
        warn = [ln for ln in lines if " WARNING " in ln]
        check(len(warn) <= 3, ("warnings", len(warn), warn[:5]))
        check(len(lines) < 60, ("log lines", len(lines), lines[-10:]))
        # One address inventing ids churns among its own few slots: said once.
        check(any("invents battery ids" in ln for ln in warn), warn)
        check(d.alive())
    finally:
        d.stop()
        m.stop()


def test_flood_before_the_batteries_arrive():
    """A host floods made-up MACs (1000/s) before any real battery has polled; the real
    ones that arrive during the flood each get a slot and every request is answered
    within 1.5 s with the reading and the counts of the real batteries only. The flood
    holds at most MAX_CONSUMERS_PER_ADDRESS slots and is answered too."""
    m = Meter()
    m.set_power(300, 40, -20)
    m.delay = 0.3  # some requests wait for a fetch
    d, port = start(m)
    stop = threading.Event()
    got = {"sent": 0, "replies": 0}

    def flood_host():
        s = sock_at("127.0.9.9")
        s.setblocking(False)
        rnd = random.Random(7)
        nxt = time.monotonic()
        while not stop.is_set():
            for _ in range(10):
                s.sendto(ct_request(mac="%012x" % rnd.getrandbits(48), phase="A", power=900),
                         ("127.0.0.1", port))
                got["sent"] += 1
            try:
                while True:
                    s.recv(65536)
                    got["replies"] += 1
            except BlockingIOError:
                pass
            nxt += 0.01
            time.sleep(max(0.0, nxt - time.monotonic()))
        s.close()

    fl = threading.Thread(target=flood_host, daemon=True)
    fl.start()
    try:
        time.sleep(1.5)  # the flood has had the table to itself
        real = REAL + [("127.0.0.%d" % (20 + i), "0000000000c%d" % i, "C") for i in range(5)]
        bats = [Battery(port, a, mac, ph, timeout=1.5) for a, mac, ph in real]
        for b in bats:
            b.start()
        time.sleep(6)
        for b in bats:
            b.stop.set()
        for b in bats:
            b.join(5)
        stop.set()
        fl.join(5)
        check(got["sent"] > 5000, ("flood too slow to mean anything", got["sent"]))
        for b in bats:
            check(b.missed == 0, (b.mac, "unanswered within 1.5 s", b.missed))
            check(len(b.replies) >= 5, (b.mac, len(b.replies)))
            for f in b.replies:
                check(f[4:8] == ["300", "40", "-20", "320"], (b.mac, "got", f[4:8]))
            # Once all have polled twice: counts of the real batteries only (2 A, 1 B,
            # 5 C), the flood's made-up batteries on A are nobody's business.
            check(b.replies[-1][8:12] == ["2", "1", "5", "0"], (b.mac, b.replies[-1][8:12]))
            check(b.replies[-1][15] == "0" and b.replies[-1][20] == "200",
                  (b.mac, "bucket A", b.replies[-1][15:24]))
        check(got["replies"] > 1000, ("the flood is answered too", got["replies"]))
        check(d.alive())
        out = d.output()
        check(out.count(" WARNING ") <= 5, out[-2000:])
    finally:
        stop.set()
        d.stop()
        m.stop()


def test_one_reply_per_reading_when_a_battery_repeats():
    m = Meter()
    m.set_power(250)
    m.delay = 0.7
    d, port = start(m)
    try:
        s = sock_at("127.0.0.5")
        s.settimeout(0.05)
        for _ in range(5):  # polls again and again while its request waits
            s.sendto(ct_request(mac="00000000c542", phase="A", power=10), ("127.0.0.1", port))
            time.sleep(0.1)
        got = []
        end = time.monotonic() + 2.5
        while time.monotonic() < end:
            try:
                got.append(ct_parse(s.recvfrom(65536)[0]))
            except socket.timeout:
                pass
        check(len(got) == 1, ("replies to one reading", len(got)))
        check(got[0][4] == "250", got[0])
        s.close()
    finally:
        d.stop()
        m.stop()


def test_requests_waiting_across_reload_are_answered():
    m = Meter()
    m.set_power(75)
    m.delay = 1.5
    d, port = start(m)
    try:
        answered = 0
        asked = 0
        for rnd in range(5):
            socks = [sock_at("127.0.0.%d" % (10 + i)) for i in range(10)]
            for i, s in enumerate(socks):
                s.sendto(ct_request(mac="0000000d%02x%02x" % (rnd, i), phase="A"),
                         ("127.0.0.1", port))
            asked += len(socks)
            time.sleep(0.3)  # all waiting for the slow fetch
            d.proc.send_signal(signal.SIGHUP)
            for s in socks:
                s.settimeout(3)
                try:
                    f = ct_parse(s.recvfrom(65536)[0])
                    check(f[4] in ("0", "75"), f)  # hold, or the reading
                    answered += 1
                except socket.timeout:
                    pass
                s.close()
            n = rnd + 1
            end = time.monotonic() + 5
            while d.output().count("configuration reloaded") < n and time.monotonic() < end:
                time.sleep(0.05)
            check(d.output().count("configuration reloaded") == n, d.output()[-2000:])
            check(d.wait_log("listening on udp", 5))
            time.sleep(0.3)
        check(answered == asked, ("answered across reloads", answered, asked))
    finally:
        d.stop()
        m.stop()


def test_control_bytes_in_ids_do_not_reach_the_log():
    m = Meter()
    m.set_power(5)
    d, port = start(m)
    try:
        s = sock_at("127.0.0.6")
        s.settimeout(2)
        s.sendto(ct_request(mac="ev\x1b[2Jil\x07", phase="B", dev="X\x01Y"), ("127.0.0.1", port))
        check(s.recvfrom(65536)[0] is not None)
        check(d.wait_log("phase detected", 3), d.output())
        out = d.output()
        check("consumer ev\\x1b[2jil\\x07 phase detected: B" in out, out[-500:])
        check(not re.search("[\x00-\x09\x0b-\x1f\x7f]", out), repr(out[-500:]))
        s.close()
    finally:
        d.stop()
        m.stop()


if __name__ == "__main__":
    Runner().run([
        test_flood_from_one_host_costs_real_batteries_nothing,
        test_made_up_macs_neither_evict_nor_count,
        test_flood_before_the_batteries_arrive,
        test_one_reply_per_reading_when_a_battery_repeats,
        test_requests_waiting_across_reload_are_answered,
        test_control_bytes_in_ids_do_not_reach_the_log,
    ])
