#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Soak: the real daemon for a bounded time under a mixed, partly hostile load, all on
loopback. It checks that every simulated battery is answered in time and that the daemon's
memory stays flat once warmed up.

Peers (each hostile or flaky one in its own process, so the battery clock stays honest):
  - a flaky JSON_HTTP meter: mostly good, sometimes HTTP 500, sometimes slow (0.3-1.0 s),
    sometimes garbage (not JSON, NaN, 1e999, a string);
  - a real mosquitto broker with an MQTT meter fed at 5 Hz; the broker is killed and
    restarted every --broker-restart-every seconds;
  - a hostile Home Assistant server: it completes the handshake, sends one valid state,
    then floods WebSocket PINGs and never reads the PONGs;
  - a hostile datagram flood from one address (127.0.9.9): random bytes, truncated and
    mis-checksummed frames, oversized datagrams and valid-looking CT002 requests with
    random MACs (which park in the emulator's pool and fill it);
  - 20 simulated batteries, each its own UDP socket on its own loopback address, polling
    about once a second. NETMASK routes 8 to the MQTT meter, 4 to the Home Assistant
    meter and 8 (and the flood) to the flaky HTTP meter.

A battery request counts as answered when a well-formed CT002 reply (a reading or the
hold answer) arrives within --answer-timeout (1.5 s); the battery sends its next request
after the reply, or after the timeout, and at least a period after the last one.

Prints RSS at start, after warm-up, at the end and the maximum, answered / expected per
battery, p50 / p99 reply latency and the daemon's log line count. Exits 1 on any missed or
malformed answer, on RSS growth beyond --rss-growth-kib after warm-up, on more than
--max-log-per-min log lines per minute after warm-up (a flood must not turn into a log
flood), or if the daemon dies; 2 if the set-up fails (mosquitto missing, daemon does not
start). --flood-rate 0 / --ping-rate 0 switch a hostile peer off, to tell faults apart.

    python3 tests/soak/soak.py --duration 600      # the long run (10 min)
    python3 tests/soak/soak.py --duration 45       # what ctest runs (test_soak_short.py)
"""

import argparse
import json
import multiprocessing
import os
import random
import selectors
import shutil
import signal
import socket
import struct
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from amtest import Daemon, Meter, ct_frame, ct_parse, ct_request, free_udp_port  # noqa: E402
from amws import accept_key  # noqa: E402
from test_pm_mqtt import MOSQUITTO, Broker  # noqa: E402

HA_TOKEN = "soak-token"
HA_ENTITIES = ["sensor.soak_l1", "sensor.soak_l2", "sensor.soak_l3"]
FLOOD_ADDR = "127.0.9.9"
MQTT_NET, HA_NET = "127.0.1.0/28", "127.0.2.0/28"


def free_tcp_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def quiet_child():
    """A peer process ends on SIGTERM without a traceback."""
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# ---------------------------------------------------------------- flaky HTTP meter

def flaky_meter_main(port_out, seed):
    quiet_child()
    rnd = random.Random(seed)
    lock = threading.Lock()
    garbage = [b"<html>500</html>", b'{"a": NaN, "b": 1, "c": 2}', b'{"a": 1e999, "b": 0, "c": 0}',
               b'{"a": "inf", "b": 0, "c": 0}', b'{"a": 1', b"", b"\x00\xff\xfe" * 50,
               b'{"b": 1}', b'[1, 2, 3]']

    def route(req):
        with lock:
            x = rnd.random()
            delay = rnd.uniform(0.3, 1.0)
            g = rnd.choice(garbage)
            w = [rnd.uniform(-2000, 3000) for _ in range(3)]
        if x < 0.12:
            return 500, b"internal error", "text/plain"
        if x < 0.24:
            return 200, g, "application/json"
        if x < 0.36:
            time.sleep(delay)
        body = json.dumps({"a": round(w[0], 1), "b": round(w[1], 1), "c": round(w[2], 1)})
        return 200, body.encode(), "application/json"

    m = Meter({"/power": route})
    port_out.send(m.port)
    while True:
        time.sleep(3600)


# ---------------------------------------------------------------- MQTT publisher

def _rl(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def _s(x):
    x = x.encode() if isinstance(x, str) else x
    return len(x).to_bytes(2, "big") + x


def mqtt_publisher_main(port, topic, hz, seed):
    """One persistent MQTT 3.1.1 connection publishing QoS 0 at hz; reconnects while the
    broker is down."""
    quiet_child()
    rnd = random.Random(seed)
    s = None
    while True:
        if s is None:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=1)
                v = _s("MQTT") + bytes([4, 0x02, 0, 30]) + _s("soak-pub")
                s.sendall(bytes([0x10]) + _rl(len(v)) + v)
                ack = s.recv(4)
                if ack[:1] != b"\x20":
                    raise OSError("no CONNACK")
            except OSError:
                s = None
                time.sleep(0.2)
                continue
        p = _s(topic) + json.dumps({"p": [round(rnd.uniform(-1500, 2500), 1) for _ in range(3)]}).encode()
        try:
            s.sendall(bytes([0x30]) + _rl(len(p)) + p)
        except OSError:
            s.close()
            s = None
            continue
        time.sleep(1.0 / hz)


# ---------------------------------------------------------------- hostile HA server

def _ws_read_frame(sock):
    def exact(n):
        buf = b""
        while len(buf) < n:
            c = sock.recv(n - len(buf))
            if not c:
                raise ConnectionError("eof")
            buf += c
        return buf
    b0, b1 = exact(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", exact(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", exact(8))[0]
    mask = exact(4) if b1 & 0x80 else b"\0\0\0\0"
    data = bytearray(exact(n))
    for i in range(n):
        data[i] ^= mask[i % 4]
    return b0 & 0x0F, bytes(data)


def _ws_frame(op, data):
    n = len(data)
    if n < 126:
        return struct.pack("!BB", 0x80 | op, n) + data
    return struct.pack("!BBH", 0x80 | op, 126, n) + data


def _ws_read_text(sock):
    while True:
        op, data = _ws_read_frame(sock)
        if op == 0x1:
            return json.loads(data)
        if op == 0x8:
            raise ConnectionError("closed")


def _ha_session(s, ping_rate, stats):
    s.settimeout(10)
    buf = b""
    while b"\r\n\r\n" not in buf:
        c = s.recv(4096)
        if not c:
            return
        buf += c
    head = buf.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    hdr = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in head[1:])}
    if hdr.get("upgrade", "").lower() != "websocket":
        eid = head[0].split(" ")[1].rsplit("/", 1)[-1]
        body = json.dumps({"entity_id": eid, "state": "100",
                           "attributes": {"unit_of_measurement": "W"}}).encode()
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                  b"Connection: close\r\n\r\n" % len(body) + body)
        return
    s.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade"
               "\r\nSec-WebSocket-Accept: %s\r\n\r\n" % accept_key(hdr.get("sec-websocket-key", "")))
              .encode())
    s.sendall(_ws_frame(0x1, json.dumps({"type": "auth_required", "ha_version": "2024.6.4"}).encode()))
    _ws_read_text(s)
    s.sendall(_ws_frame(0x1, json.dumps({"type": "auth_ok", "ha_version": "2024.6.4"}).encode()))
    sub = _ws_read_text(s)
    sid = sub.get("id", 1)
    s.sendall(_ws_frame(0x1, json.dumps({"id": sid, "type": "result", "success": True,
                                         "result": None}).encode()))
    ev = {"a": {e: {"s": str(100 * (i + 1)), "a": {"unit_of_measurement": "W"}, "c": "x%d" % i,
                    "lc": 1718000000.0} for i, e in enumerate(HA_ENTITIES)}}
    s.sendall(_ws_frame(0x1, json.dumps({"id": sid, "type": "event", "event": ev}).encode()))
    stats["sessions"] += 1
    # The flood: PINGs with a 125-byte payload, never reading what comes back. Bounded by
    # rate; the daemon may close the connection (a defence), which ends the session.
    if ping_rate <= 0:  # the flood switched off: a quiet, healthy Home Assistant
        s.settimeout(None)
        while True:
            op, data = _ws_read_frame(s)
            if op == 0x9:
                s.sendall(_ws_frame(0xA, data))
            elif op == 0x8:
                return
    ping = _ws_frame(0x9, b"p" * 125)
    batch = max(1, ping_rate // 100)
    s.settimeout(1.0)
    while True:
        t0 = time.monotonic()
        try:
            s.sendall(ping * batch)
        except socket.timeout:
            pass  # the daemon is not reading: keep the pressure, try again
        stats["pings"] += batch
        rest = 0.01 - (time.monotonic() - t0)
        if rest > 0:
            time.sleep(rest)


def hostile_ha_main(port_out, ping_rate):
    quiet_child()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    port_out.send(ls.getsockname()[1])
    stats = {"sessions": 0, "pings": 0}

    def serve(s):
        try:
            _ha_session(s, ping_rate, stats)
        except (OSError, ValueError, ConnectionError):
            pass
        try:
            s.close()
        except OSError:
            pass

    while True:
        s, _ = ls.accept()
        threading.Thread(target=serve, args=(s,), daemon=True).start()


# ---------------------------------------------------------------- datagram flood

def flood_main(udp_port, rate, seed):
    quiet_child()
    rnd = random.Random(seed)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((FLOOD_ADDR, 0))
    s.setblocking(False)
    dst = ("127.0.0.1", udp_port)

    def one():
        k = rnd.randrange(7)
        mac = "%012x" % rnd.getrandbits(48)
        if k == 0:
            return bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(1, 200)))
        if k == 1:
            f = ct_request(mac=mac)
            return f[:rnd.randrange(1, len(f))]
        if k == 2:
            f = bytearray(ct_request(mac=mac))
            f[-1] ^= 1
            return bytes(f)
        if k == 3:
            return b"\x01\x02" + b"9" * rnd.randrange(1, 5000)
        if k == 4:
            return ct_frame(["HMG-50", mac, "HME-4", "112233445566", "A", "x" * rnd.randrange(0, 300)])
        return ct_request(mac=mac, phase=rnd.choice("ABC"), power=rnd.randrange(-800, 800))

    batch = max(1, rate // 100)
    while rate > 0:
        t0 = time.monotonic()
        for _ in range(batch):
            try:
                s.sendto(one(), dst)
            except (BlockingIOError, OSError):
                pass
        try:
            while True:
                s.recv(65536)  # replies to the valid-looking ones: drop them
        except (BlockingIOError, OSError):
            pass
        rest = 0.01 - (time.monotonic() - t0)
        if rest > 0:
            time.sleep(rest)


# ---------------------------------------------------------------- batteries

class Battery:
    def __init__(self, idx, addr, meter, daemon_port, period, rnd):
        self.idx = idx
        self.addr = addr
        self.meter = meter
        self.mac = "50c2e8%06x" % (0x100 + idx)
        self.phase = "ABC"[idx % 3]
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((addr, 0))
        self.sock.setblocking(False)
        self.dst = ("127.0.0.1", daemon_port)
        self.period = period
        self.next_send = time.monotonic() + rnd.uniform(0, period)
        self.sent_at = None
        self.expected = self.answered = self.missed = self.malformed = self.late = 0
        self.latencies = []
        self.power = rnd.randrange(-500, 500)

    def send(self, now):
        self.sock.sendto(ct_request(mac=self.mac, phase=self.phase, power=self.power), self.dst)
        self.sent_at = now
        self.expected += 1
        self.next_send = now + self.period

    def on_readable(self, now, timeout):
        while True:
            try:
                data = self.sock.recv(65536)
            except (BlockingIOError, OSError):
                return
            if self.sent_at is None:
                self.late += 1  # the answer to a request already counted as missed
                continue
            dt = now - self.sent_at
            self.sent_at = None
            try:
                f = ct_parse(data)
                ok = len(f) >= 8
            except (AssertionError, ValueError, IndexError, UnicodeDecodeError):
                ok = False
            if not ok:
                self.malformed += 1
            elif dt <= timeout:
                self.answered += 1
                self.latencies.append(dt)
            else:
                self.missed += 1

    def check_timeout(self, now, timeout):
        if self.sent_at is not None and now - self.sent_at > timeout:
            self.missed += 1
            self.sent_at = None
            self.next_send = max(self.next_send, now)


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for ln in f:
                if ln.startswith("VmRSS:"):
                    return int(ln.split()[1])
    except OSError:
        pass
    return None


def pct(v, p):
    if not v:
        return float("nan")
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def config(udp, web, http_port, broker_port, ha_port, active):
    return f"""[GENERAL]
DEVICE_TYPE = ct002
WEB_SERVER_PORT = {web}

[CT002]
UDP_PORT = {udp}
ACTIVE_CONTROL = {active}

[MQTT]
BROKER = 127.0.0.1
PORT = {broker_port}
TOPIC = soak/grid
JSON_PATHS = $.p[0],$.p[1],$.p[2]
NETMASK = {MQTT_NET}
WAIT_FOR_NEXT_MESSAGE = False

[HOMEASSISTANT]
IP = 127.0.0.1
PORT = {ha_port}
ACCESSTOKEN = {HA_TOKEN}
CURRENT_POWER_ENTITY = {",".join(HA_ENTITIES)}
NETMASK = {HA_NET}
WAIT_FOR_NEXT_MESSAGE = False

[JSON_HTTP]
URL = http://127.0.0.1:{http_port}/power
JSON_PATHS = $.a,$.b,$.c
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=600, help="seconds of load (default 600)")
    ap.add_argument("--warmup", type=float, default=None,
                    help="seconds before the RSS baseline (default min(60, duration/4))")
    ap.add_argument("--batteries", type=int, default=20)
    ap.add_argument("--period", type=float, default=1.0, help="battery poll period, s")
    ap.add_argument("--answer-timeout", type=float, default=1.5)
    ap.add_argument("--rss-growth-kib", type=int, default=2048,
                    help="allowed RSS growth after warm-up, KiB (default 2048)")
    ap.add_argument("--max-log-per-min", type=int, default=600,
                    help="allowed daemon log lines per minute after warm-up (default 600; the "
                    "flaky meter and the broker restarts alone give about 200)")
    ap.add_argument("--flood-rate", type=int, default=1000, help="hostile datagrams per second")
    ap.add_argument("--ping-rate", type=int, default=5000, help="hostile WebSocket PINGs per second")
    ap.add_argument("--broker-restart-every", type=float, default=None,
                    help="seconds between broker restarts (default max(20, duration/4))")
    ap.add_argument("--active-control", action="store_true", help="CT002 ACTIVE_CONTROL = True")
    ap.add_argument("--seed", type=int, default=12)
    a = ap.parse_args()
    warmup = a.warmup if a.warmup is not None else min(60.0, a.duration / 4)
    restart_every = a.broker_restart_every or max(20.0, a.duration / 4)

    if not os.path.exists(MOSQUITTO):
        print("soak: mosquitto (the broker) is not installed; scripts/install-deps.sh adds it")
        return 2
    if not os.path.exists(os.environ.get("AM_BIN", "")) and "AM_BIN" in os.environ:
        print("soak: AM_BIN %s does not exist" % os.environ["AM_BIN"])
        return 2

    ctx = multiprocessing.get_context("fork")
    procs = []

    def spawn(target, *args):
        p = ctx.Process(target=target, args=args, daemon=True)
        p.start()
        procs.append(p)
        return p

    def port_from(target, *args):
        rx, tx = ctx.Pipe(duplex=False)
        spawn(target, tx, *args)
        if not rx.poll(10):
            raise RuntimeError("%s did not start" % target.__name__)
        return rx.recv()

    broker = d = None
    rc = 1
    try:
        broker = Broker()
        http_port = port_from(flaky_meter_main, a.seed)
        ha_port = port_from(hostile_ha_main, a.ping_rate)
        spawn(mqtt_publisher_main, broker.port, "soak/grid", 5, a.seed + 1)
        udp, web = free_udp_port(), free_tcp_port()
        d = Daemon(config(udp, web, http_port, broker.port, ha_port, a.active_control),
                   loglevel="info")
        if not d.wait_log("running", 10):
            print("soak: the daemon did not start:\n" + d.output())
            return 2
        pid = d.proc.pid
        rss_boot = rss_kib(pid)

        rnd = random.Random(a.seed)
        bats = []
        for i in range(a.batteries):
            if i % 5 in (0, 1):
                addr, meter = "127.0.1.%d" % (1 + len([b for b in bats if b.meter == "MQTT"])), "MQTT"
            elif i % 5 == 2:
                addr, meter = "127.0.2.%d" % (1 + len([b for b in bats if b.meter == "HA"])), "HA"
            else:
                addr, meter = "127.0.3.%d" % (1 + len([b for b in bats if b.meter == "HTTP"])), "HTTP"
            bats.append(Battery(i + 1, addr, meter, udp, a.period, rnd))
        sel = selectors.DefaultSelector()
        for b in bats:
            sel.register(b.sock, selectors.EVENT_READ, b)

        spawn(flood_main, udp, a.flood_rate, a.seed + 2)
        print("soak: daemon pid %d, %d batteries, %.0f s (warm-up %.0f s), flood %d/s, "
              "ping flood %d/s, broker restart every %.0f s" %
              (pid, len(bats), a.duration, warmup, a.flood_rate, a.ping_rate, restart_every),
              flush=True)

        t0 = time.monotonic()
        end = t0 + a.duration
        next_rss = t0
        next_restart = t0 + restart_every
        next_report = t0 + 60
        rss_warm = rss_max = log_warm = None
        samples = []
        restarts = 0
        restarter = None

        def restart_broker():
            broker.kill()
            time.sleep(2.0)
            broker.start()
        died = False
        while True:
            now = time.monotonic()
            if now >= end:
                break
            if d.proc.poll() is not None:
                died = True
                break
            if now >= next_rss:
                r = rss_kib(pid)
                if r is not None:
                    samples.append((now - t0, r))
                    if now - t0 >= warmup:
                        if rss_warm is None:
                            rss_warm = r
                            log_warm = len(d.output().splitlines())
                        rss_max = max(rss_max or 0, r)
                next_rss += 1.0
            if now >= next_restart and not (restarter and restarter.is_alive()):
                # Off the battery loop: the broker is away for 2 s, batteries keep polling.
                restarter = threading.Thread(target=restart_broker, daemon=True)
                restarter.start()
                restarts += 1
                next_restart += restart_every
            if now >= next_report:
                tot_e = sum(b.expected for b in bats)
                tot_m = sum(b.missed + b.malformed for b in bats)
                print("soak: t=%4.0f s  rss %s KiB  requests %d  missed %d" %
                      (now - t0, samples[-1][1] if samples else "?", tot_e, tot_m), flush=True)
                next_report += 60
            for b in bats:
                b.check_timeout(now, a.answer_timeout)
                if b.sent_at is None and now >= b.next_send:
                    b.send(now)
            wait = min([b.next_send for b in bats if b.sent_at is None] +
                       [b.sent_at + a.answer_timeout for b in bats if b.sent_at is not None] +
                       [next_rss, end])
            for key, _ in sel.select(max(0.0, min(0.05, wait - time.monotonic()))):
                key.data.on_readable(time.monotonic(), a.answer_timeout)
        # the last requests in flight: wait for them, not for new ones
        last = time.monotonic() + a.answer_timeout
        while any(b.sent_at is not None for b in bats) and time.monotonic() < last and not died:
            for key, _ in sel.select(0.05):
                key.data.on_readable(time.monotonic(), a.answer_timeout)
        for b in bats:
            b.check_timeout(time.monotonic() + a.answer_timeout + 1, a.answer_timeout)

        if restarter:
            restarter.join(10)
        rss_end = rss_kib(pid) if not died else None
        for p in procs:
            p.terminate()
        out = d.output()
        log_lines = len(out.splitlines())
        # A battery the flood pushed out of the consumer table registers again: count the
        # extra "phase detected" lines per real battery (information, not a check: the
        # line is at info level and may be rate-limited).
        rejoins = sum(max(0, out.count("consumer %s phase detected" % b.mac) - 1) for b in bats)

        # ---- report
        print()
        print("battery  address        meter  answered/expected  missed  malformed  late")
        lat = []
        for b in bats:
            lat += b.latencies
            print("%7d  %-13s  %-5s  %8d/%-8d  %6d  %9d  %4d" %
                  (b.idx, b.addr, b.meter, b.answered, b.expected, b.missed, b.malformed,
                   b.late))
        missed = sum(b.missed + b.malformed for b in bats)
        expected = sum(b.expected for b in bats)
        answered = sum(b.answered for b in bats)
        print()
        print("answered %d / expected %d, missed %d" % (answered, expected, missed))
        print("reply latency p50 %.1f ms, p99 %.1f ms, max %.1f ms" %
              (pct(lat, 50) * 1e3, pct(lat, 99) * 1e3, (max(lat) if lat else float("nan")) * 1e3))
        print("RSS KiB: at start %s, after warm-up (%.0f s) %s, end %s, max %s" %
              (rss_boot, warmup, rss_warm, rss_end, rss_max))
        if len(samples) > 2:
            post = [s for s in samples if s[0] >= warmup]
            if len(post) > 2:
                n = len(post)
                mx = sum(s[0] for s in post) / n
                my = sum(s[1] for s in post) / n
                sxx = sum((s[0] - mx) ** 2 for s in post) or 1
                slope = sum((s[0] - mx) * (s[1] - my) for s in post) / sxx
                print("RSS trend after warm-up: %+.1f KiB/min" % (slope * 60))
        log_rate = None
        if log_warm is not None and a.duration > warmup:
            log_rate = (log_lines - log_warm) / ((a.duration - warmup) / 60.0)
        print("broker restarts %d; daemon log lines %d, %s per minute after warm-up" %
              (restarts, log_lines, "%.1f" % log_rate if log_rate is not None else "?"))
        print("real batteries registered again after being dropped from the consumer table: "
              "%d times" % rejoins)

        fails = []
        if died:
            fails.append("the daemon died (exit %s)" % d.proc.returncode)
        if missed:
            fails.append("%d of %d battery requests were not answered within %.1f s" %
                         (missed, expected, a.answer_timeout))
        if rss_warm is not None and rss_max is not None and rss_max - rss_warm > a.rss_growth_kib:
            fails.append("RSS grew by %d KiB after warm-up (bound %d KiB)" %
                         (rss_max - rss_warm, a.rss_growth_kib))
        if log_rate is not None and log_rate > a.max_log_per_min:
            fails.append("the daemon logged %.0f lines per minute after warm-up (bound %d)" %
                         (log_rate, a.max_log_per_min))
        if expected == 0:
            fails.append("no battery request was sent")
        for f in fails:
            print("SOAK FAIL: " + f)
        if fails:
            tail = d.output().splitlines()[-15:]
            print("last daemon log lines:\n  " + "\n  ".join(tail))
        else:
            print("SOAK OK")
        rc = 1 if fails else 0
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(2)
        if d is not None:
            d.stop()
        if broker is not None:
            broker.stop()
    return rc


if __name__ == "__main__":
    sys.exit(main())
