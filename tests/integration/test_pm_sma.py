# SPDX-License-Identifier: GPL-3.0-or-later
"""The SMA_ENERGY_METER powermeter: the real daemon joins the Speedwire multicast group on
the loopback interface (INTERFACE = 127.0.0.1, a free port instead of 9522) and the test
sends real recorded telegrams and built ones to the group with IP_MULTICAST_LOOP; values
show up in CT002 replies. Covers the serial auto-lock, a configured serial, foreign and
broken datagrams, a parked request answered by the next telegram, and the hold answer
once the meter has been silent for 30 s."""

import os
import socket
import struct
import time

from amtest import AM_SRC, Daemon, Runner, Udp, check, ct_parse, ct_request, free_udp_port

GROUP = "239.12.255.254"
FIX = os.path.join(AM_SRC, "tests", "fixtures", "sma")


def fixture(name):
    with open(os.path.join(FIX, name), "rb") as f:
        return f.read()


def telegram(channels, susy=349, serial=3000012345, proto=0x6069):
    """Header as a real meter sends it, then (id, value) channels and the end marker."""
    h = bytearray(28)
    h[0:4] = b"SMA\x00"
    h[4:8] = b"\x00\x04\x02\xa0"
    struct.pack_into(">I", h, 8, 1)
    struct.pack_into(">H", h, 16, proto)
    struct.pack_into(">H", h, 18, susy)
    struct.pack_into(">I", h, 20, serial)
    body = b""
    for cid, v in channels:
        body += struct.pack(">I", cid)
        body += struct.pack(">Q", v) if (cid >> 8) & 0xFF == 8 else struct.pack(">I", v)
    return bytes(h) + body + b"\x00\x00\x00\x00"


def total(w10, susy=349, serial=3000012345):
    """A total-only telegram: import w10/10 W (negative = export)."""
    imp, exp = (w10, 0) if w10 >= 0 else (0, -w10)
    return telegram([(0x00010400, imp), (0x00010800, 123456789), (0x00020400, exp)],
                    susy, serial)


class Sender:
    def __init__(self, port):
        self.port = port
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                          socket.inet_aton("127.0.0.1"))
        self.s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)

    def send(self, data):
        self.s.sendto(data, (GROUP, self.port))

    def close(self):
        self.s.close()


def start(extra="", wait=False):
    ct = free_udp_port()
    mport = free_udp_port()
    cfg = f"""[GENERAL]
DEVICE_TYPE = ct002

[CT002]
UDP_PORT = {ct}
ACTIVE_CONTROL = False

[SMA_ENERGY_METER]
PORT = {mport}
INTERFACE = 127.0.0.1
WAIT_FOR_NEXT_MESSAGE = {"True" if wait else "False"}
{extra}
"""
    d = Daemon(cfg)
    check(d.wait_log("running", 5), "daemon did not start:\n" + d.output())
    check(d.wait_log("listening for SMA Speedwire", 2), d.output())
    return d, Udp(ct), Sender(mport)


def fields(reply):
    check(reply is not None, "no reply")
    return ct_parse(reply)[4:8]


def ask(u, mac="aabbccdd0001"):
    r, dt = u.ask(ct_request(mac=mac), timeout=4)
    return fields(r), dt


def test_recorded_three_phase_telegram():
    d, u, tx = start()
    try:
        r, dt = ask(u)
        check(r == ["0", "0", "0", "0"] and dt < 0.5, ("no telegram yet: hold", r, dt))
        tx.send(fixture("em20_three_phase.bin"))
        check(d.wait_log("auto-detected SMA Energy Meter 2.0 with serial 1901401956", 3),
              d.output())
        time.sleep(0.1)
        r, _ = ask(u, "aabbccdd0002")
        # 426.5, -125.4, 5.2 W (the CT rounds half to even, as upstream's round())
        check(r == ["426", "-125", "5", "306"], r)
    finally:
        tx.close()
        d.stop()


def test_auto_lock_and_foreign_datagrams():
    d, u, tx = start()
    try:
        tx.send(total(5000, susy=999, serial=111))  # unknown device: not locked, not used
        tx.send(b"garbage")
        tx.send(b"SMA\x00" + b"\x00" * 10)
        tx.send(telegram([(0x00010400, 7000)], proto=0x6065))  # inverter traffic
        time.sleep(0.2)
        r, _ = ask(u)
        check(r == ["0", "0", "0", "0"], r)
        tx.send(total(1000, susy=270, serial=222))  # EM 1.0: locks
        time.sleep(0.2)
        r, _ = ask(u, "aabbccdd0002")
        check(r == ["100", "0", "0", "100"], r)
        tx.send(total(9999, susy=349, serial=333))  # another meter: ignored
        cut = telegram([(0x00020400, 2500), (0x00010800, 5)], susy=270, serial=222)[:42]
        tx.send(cut)  # cut inside the counter channel: the export before it counts
        time.sleep(0.2)
        r, _ = ask(u, "aabbccdd0003")
        check(r == ["-250", "0", "0", "-250"], r)
        check(d.output().count("auto-detected") == 1, d.output())
        check(d.alive(), d.output())
    finally:
        tx.close()
        d.stop()


def test_configured_serial():
    d, u, tx = start("SERIAL_NUMBER = 3000012345")
    try:
        tx.send(total(4000, susy=349, serial=42))
        tx.send(total(1234, susy=999, serial=3000012345))  # SUSY does not matter here
        time.sleep(0.2)
        r, _ = ask(u)
        check(r == ["123", "0", "0", "123"], r)
    finally:
        tx.close()
        d.stop()


def test_parked_request_answered_by_next_telegram():
    d, u, tx = start(wait=True)
    try:
        tx.send(total(1000))
        time.sleep(0.2)
        u.send(ct_request(mac="aabbccdd0001"))
        time.sleep(0.3)
        t0 = time.monotonic()
        tx.send(total(2000))
        r = u.recv(3)
        dt = time.monotonic() - t0
        check(fields(r) == ["200", "0", "0", "200"], fields(r))
        check(dt < 0.5, ("answered by the telegram", dt))
        r, dt = ask(u, "aabbccdd0002")  # nothing comes: cached value at the deadline
        check(r == ["200", "0", "0", "200"] and 1.8 < dt < 3.0, (r, dt))
    finally:
        tx.close()
        d.stop()


def test_silent_meter_goes_stale():
    d, u, tx = start()
    try:
        tx.send(total(777))
        time.sleep(0.2)
        r, _ = ask(u)
        check(r == ["78", "0", "0", "78"], r)
        check(d.wait_log("no telegram for 30 s", 33), d.output())
        r, dt = ask(u, "aabbccdd0002")
        check(r == ["0", "0", "0", "0"] and dt < 0.5, ("stale: hold", r, dt))
        tx.send(total(-333))
        time.sleep(0.2)
        r, _ = ask(u, "aabbccdd0003")
        check(r == ["-33", "0", "0", "-33"], r)
    finally:
        tx.close()
        d.stop()


if __name__ == "__main__":
    Runner().run([
        test_recorded_three_phase_telegram,
        test_auto_lock_and_foreign_datagrams,
        test_configured_serial,
        test_parked_request_answered_by_next_telegram,
        test_silent_meter_goes_stale,
    ])
