# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile peers on the LAN must not starve the loop or exhaust memory. Two raw-socket
peers on loopback: a WebSocket "Home Assistant" that accepts the upgrade and then floods
PING frames as fast as it can without ever reading our PONGs (before any auth, over the
default plain ws://), and an MQTT "broker" that answers CONNECT and SUBSCRIBE and then
floods QoS 1 PUBLISH packets without ever reading our PUBACKs. Meanwhile two batteries
ask the CT002 emulator all the time: one routed (NETMASK) to the hostile meter, which must
get the hold answer or its last value at once, one routed to a healthy JSON_HTTP meter,
which must get its reading at once. Checked: every request answered, p99 latency small,
the daemon's RSS bounded, and a log line saying the peer was dropped for not reading."""

import os
import socket
import struct
import threading
import time

from amtest import Daemon, Meter, Runner, check, ct_parse, ct_request, free_udp_port

RUN_S = 8.0
RSS_LIMIT_KB = 32 * 1024
P99_LIMIT_S = 0.5


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    return 0


class Flooder:
    """Accepts connections on 127.0.0.1; for each runs greet(sock) (the handshake, may
    read) and then sends chunk() over and over without ever reading again, until the
    daemon drops the connection or the test stops."""

    def __init__(self, greet, chunk):
        self.greet = greet
        self.chunk = chunk
        self.conns = 0
        self.sent = 0
        self.running = True
        self.socks = []
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # A small receive window (inherited by accepted sockets): what the daemon sends
        # backs up into its own socket soon, as with a peer that really never reads.
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self):
        while self.running:
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            self.socks.append(s)
            threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    def _serve(self, s):
        try:
            s.settimeout(5)
            self.greet(s)
            s.settimeout(None)
            self.conns += 1
            data = self.chunk()
            while self.running:
                s.sendall(data)
                self.sent += len(data)
        except (OSError, ValueError):
            pass
        try:
            s.close()
        except OSError:
            pass

    def stop(self):
        self.running = False
        for s in [self.lsock] + self.socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass


def recv_until(s, end):
    buf = b""
    while end not in buf:
        b = s.recv(4096)
        if not b:
            raise ConnectionError("eof")
        buf += b
    return buf


# ---------------------------------------------------------------- WebSocket: PING flood

def ws_greet(s):
    import base64
    import hashlib
    head = recv_until(s, b"\r\n\r\n").decode("latin-1")
    key = ""
    for ln in head.split("\r\n"):
        k, _, v = ln.partition(":")
        if k.strip().lower() == "sec-websocket-key":
            key = v.strip()
    acc = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
                                        .encode()).digest()).decode()
    s.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n" % acc).encode())


def ws_pings():
    return b"\x89\x00" * 32768  # 64 KiB of empty PING frames


# ---------------------------------------------------------------- MQTT: QoS 1 flood

def _rl(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def read_packet(s):
    h = s.recv(1)
    if not h:
        raise ConnectionError("eof")
    n, shift = 0, 0
    while True:
        b = s.recv(1)[0]
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    body = b""
    while len(body) < n:
        c = s.recv(n - len(body))
        if not c:
            raise ConnectionError("eof")
        body += c
    return h[0], body


MQTT_TOPIC = "hostile/power"


def mqtt_greet(s):
    t, _ = read_packet(s)
    if t >> 4 != 1:
        raise ConnectionError("no CONNECT")
    s.sendall(b"\x20\x02\x00\x00")
    t, body = read_packet(s)
    if t >> 4 != 8:
        raise ConnectionError("no SUBSCRIBE")
    # Grant QoS 0 as asked; the flood below is QoS 1 anyway.
    s.sendall(b"\x90\x03" + body[:2] + b"\x00")


def mqtt_publishes():
    topic = struct.pack("!H", len(MQTT_TOPIC)) + MQTT_TOPIC.encode()
    out = []
    for pid in range(1, 4097):
        v = topic + struct.pack("!H", pid) + b"500"
        out.append(b"\x32" + _rl(len(v)) + v)
    return b"".join(out)


# ---------------------------------------------------------------- the batteries

class Battery(threading.Thread):
    """Asks the CT002 emulator from its own loopback address, one request at a time, a
    new one 20 ms after each answer (or timeout); records latencies and answers."""

    def __init__(self, addr, port, mac, stop):
        super().__init__(daemon=True)
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((addr, 0))
        self.s.settimeout(1.0)
        self.port = port
        self.mac = mac
        self.stop_ev = stop
        self.sent = 0
        self.lat = []
        self.answers = []

    def run(self):
        while not self.stop_ev.is_set():
            t0 = time.monotonic()
            self.s.sendto(ct_request(mac=self.mac), ("127.0.0.1", self.port))
            self.sent += 1
            try:
                data, _ = self.s.recvfrom(4096)
                self.lat.append(time.monotonic() - t0)
                self.answers.append(ct_parse(data)[4:8])
            except socket.timeout:
                pass
            time.sleep(0.02)
        self.s.close()

    def p99(self):
        if not self.lat:
            return float("inf")
        xs = sorted(self.lat)
        return xs[min(len(xs) - 1, int(len(xs) * 0.99))]


def run_scenario(meter_section, flooder, log_needle, hostile_ok):
    """Starts the daemon with the hostile meter on 127.0.0.2 and a healthy JSON_HTTP meter
    on 127.0.0.3, runs both batteries for RUN_S seconds while sampling RSS, then checks."""
    http = Meter()
    http.set_power(11, 22, 33)
    port = free_udp_port()
    d = Daemon(f"""[GENERAL]
DEVICE_TYPE = ct002

[CT002]
UDP_PORT = {port}
ACTIVE_CONTROL = False

{meter_section}
NETMASK = 127.0.0.2/32
WAIT_FOR_NEXT_MESSAGE = False

[JSON_HTTP]
URL = {http.url()}
JSON_PATHS = $.phase_a,$.phase_b,$.phase_c
NETMASK = 127.0.0.3/32
""", loglevel="info")
    stop = threading.Event()
    try:
        check(d.wait_log("running", 5), "daemon did not start:\n" + d.output())
        end = time.monotonic() + 5
        while time.monotonic() < end and flooder.conns == 0:
            time.sleep(0.02)
        check(flooder.conns > 0, "the daemon never reached the hostile peer:\n" + d.output())
        hostile = Battery("127.0.0.2", port, "aabbccdd0001", stop)
        healthy = Battery("127.0.0.3", port, "aabbccdd0002", stop)
        hostile.start()
        healthy.start()
        rss_max = 0
        t_end = time.monotonic() + RUN_S
        while time.monotonic() < t_end:
            check(d.alive(), "daemon died:\n" + d.output()[-2000:])
            rss_max = max(rss_max, rss_kb(d.proc.pid))
            time.sleep(0.1)
        stop.set()
        hostile.join(3)
        healthy.join(3)
        dropped = d.wait_log(log_needle, 15)
        answered = len(hostile.lat) + len(healthy.lat)
        expected = hostile.sent + healthy.sent
        print("    rss max %d kB, answered %d/%d, p99 hostile %.3f s healthy %.3f s, "
              "flood %.1f MB over %d connection(s), dropped: %s"
              % (rss_max, answered, expected, hostile.p99(), healthy.p99(),
                 flooder.sent / 1e6, flooder.conns, dropped), flush=True)
        check(rss_max < RSS_LIMIT_KB, "RSS %d kB" % rss_max)
        check(hostile.sent > 50 and healthy.sent > 50, ("too few requests went out",
                                                        hostile.sent, healthy.sent))
        check(answered == expected, "answered %d of %d" % (answered, expected))
        check(healthy.p99() < P99_LIMIT_S, "healthy p99 %.3f s" % healthy.p99())
        check(hostile.p99() < P99_LIMIT_S, "hostile p99 %.3f s" % hostile.p99())
        check(all(a == ["11", "22", "33", "66"] for a in healthy.answers),
              ("healthy battery got", set(map(tuple, healthy.answers))))
        bad = [a for a in hostile.answers if not hostile_ok(a)]
        check(not bad, ("hostile-routed battery got", bad[:5]))
        check(dropped, "no log line about dropping the peer:\n" + d.output()[-3000:])
        check(d.alive(), d.output()[-2000:])
        if os.environ.get("AM_VERBOSE"):
            print(d.output())
    finally:
        stop.set()
        flooder.stop()
        d.stop()
        http.stop()


def test_websocket_ping_flood():
    f = Flooder(ws_greet, ws_pings)
    run_scenario(f"[HOMEASSISTANT]\nIP = 127.0.0.1\nPORT = {f.port}\nACCESSTOKEN = t0k3n\n"
                 "CURRENT_POWER_ENTITY = sensor.power", f,
                 "Home Assistant WebSocket closed: peer is not reading",
                 lambda a: a == ["0", "0", "0", "0"])


def test_mqtt_qos1_flood():
    f = Flooder(mqtt_greet, mqtt_publishes)
    run_scenario(f"[MQTT]\nBROKER = 127.0.0.1\nPORT = {f.port}\nTOPIC = {MQTT_TOPIC}", f,
                 "(broker is not reading",
                 lambda a: a in (["500", "0", "0", "500"], ["0", "0", "0", "0"]))


if __name__ == "__main__":
    Runner().run([test_websocket_ping_flood, test_mqtt_qos1_flood])
