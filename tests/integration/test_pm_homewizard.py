# SPDX-License-Identifier: GPL-3.0-or-later
"""The real daemon with a [HOMEWIZARD] meter against a local wss:// server speaking the
HomeWizard P1 API, with a test CA and a server certificate for appliance/p1dongle/<serial>
made by the openssl CLI: token authorisation, measurement subscription, recorded
measurements (three phases, total only, missing phases), a push waking a parked request,
a certificate for another serial refused (hold), and a dongle that goes quiet: stale
after 30 s (hold), closed by the 45 s watchdog and reconnected."""

import json
import os
import shutil
import threading
import time

from amtest import AM_SRC, Daemon, Runner, Udp, check, ct_parse, ct_request, free_udp_port
from amws import WsServer, make_test_pki

FIX = os.path.join(AM_SRC, "tests", "fixtures", "homewizard")
TOKEN = "0123456789ABCDEF0123456789ABCDEF"
SERIAL = "5c2faf0a1b2c"

with open(os.path.join(FIX, "stream.jsonl")) as _f:
    LINES = [ln.strip() for ln in _f if ln.strip()]

PKI_DIR, CA, CERT, KEY = make_test_pki(["appliance/p1dongle/" + SERIAL])


class Dongle:
    def __init__(self, first=LINES[2]):
        self.first = first
        self.auths = []
        self.subs = []
        self.ready = threading.Event()
        self.server = WsServer(self.session, tls=(CERT, KEY))

    def session(self, c):
        c.send(LINES[0])  # authorization_requested
        a = json.loads(c.recv(5))
        self.auths.append(a)
        if a != {"type": "authorization", "data": TOKEN}:
            c.send(json.dumps({"type": "error", "data": {"message": "user:not-authorized"}}))
            c.close()
            return
        c.send(LINES[1])  # authorized
        self.subs.append(json.loads(c.recv(5)))
        if self.first:
            c.send(self.first)
        self.ready.set()

    def push(self, text):
        c = self.server.last()
        check(c is not None and c.send(text), "no connection to push on")


def start(dongle, serial=SERIAL, extra=""):
    port = free_udp_port()
    d = Daemon(f"""[GENERAL]
DEVICE_TYPE = ct002

[CT002]
UDP_PORT = {port}
ACTIVE_CONTROL = False

[HOMEWIZARD]
IP = 127.0.0.1:{dongle.server.port}
TOKEN = {TOKEN}
SERIAL = {serial}
CA_FILE = {CA}
{extra}
""")
    check(d.wait_log("running", 5), "daemon did not start:\n" + d.output())
    return d, Udp(port)


def ask(u, timeout=4):
    r, dt = u.ask(ct_request(power=0), timeout=timeout)
    check(r is not None, "no reply")
    return ct_parse(r)[4:8], dt


def test_tls_auth_subscribe_measurements():
    dg = Dongle()
    d, u = start(dg)
    try:
        check(dg.ready.wait(5), "no subscription:\n" + d.output())
        check(dg.subs == [{"type": "subscribe", "data": "measurement"}], dg.subs)
        check(dg.server.upgrades[0][0] == "/api/ws", dg.server.upgrades)
        time.sleep(0.3)
        # parked until the next measurement (WAIT_FOR_NEXT_MESSAGE default on)
        threading.Timer(0.5, dg.push, args=(LINES[3],)).start()
        f, dt = ask(u)
        check(f == ["500", "0", "0", "500"], (f, d.output()[-1500:]))
        check(0.3 < dt < 1.5, ("answered by the push", dt))
        threading.Timer(0.3, dg.push, args=(LINES[4],)).start()
        f, _ = ask(u)
        check(f == ["-543", "0", "0", "-543"], ("missing L2/L3 are 0", f))
        threading.Timer(0.3, dg.push, args=(LINES[2],)).start()
        f, _ = ask(u)
        check(f == ["-200", "-143", "-200", "-543"], ("three phases", f))
        # a measurement without power fields, an error, an unknown type: nothing changes
        for ln in LINES[5:]:
            dg.push(ln)
        f, dt = ask(u)
        check(f == ["-200", "-143", "-200", "-543"] and dt > 1.8, (f, dt))
        check("user:not-authorized" in d.output(), d.output()[-1500:])
        check(TOKEN not in d.output(), "the token was logged")
        check(d.alive(), d.output())
    finally:
        d.stop()
        dg.server.stop()


def test_wrong_serial_is_refused():
    dg = Dongle()
    d, u = start(dg, serial="ffffffffffff")
    try:
        time.sleep(1.0)
        f, _ = ask(u)
        check(f == ["0", "0", "0", "0"], f)
        check("verify failed" in d.output() or "certificate" in d.output(), d.output())
        check(not dg.auths, "token sent to an unverified peer")
    finally:
        d.stop()
        dg.server.stop()


def test_quiet_dongle_goes_stale_then_watchdog_reconnects():
    dg = Dongle()
    d, u = start(dg, extra="WAIT_FOR_NEXT_MESSAGE = False\n")
    try:
        check(dg.ready.wait(5), d.output())
        t0 = time.monotonic()
        time.sleep(0.3)
        f, _ = ask(u)
        check(f == ["-200", "-143", "-200", "-543"], f)
        # connection stays up, answers pings, sends nothing: still served at 28 s...
        time.sleep(28 - (time.monotonic() - t0))
        f, _ = ask(u)
        check(f == ["-200", "-143", "-200", "-543"], ("fresh before 30 s", f))
        # ...stale after 30 s
        time.sleep(31 - (time.monotonic() - t0))
        f, _ = ask(u)
        check(f == ["0", "0", "0", "0"], ("stale", f))
        check("stale" in d.output(), d.output()[-1500:])
        # the 45 s watchdog closes, 5 s later a new connection, values again
        dg.ready.clear()
        dg.first = LINES[3]
        check(dg.ready.wait(25), "no reconnect:\n" + d.output()[-2000:])
        dt = time.monotonic() - t0
        check(48 < dt < 55, ("watchdog 45 s + reconnect 5 s", dt))
        check("no measurement for 45 s" in d.output(), d.output()[-1500:])
        time.sleep(0.3)
        f, _ = ask(u)
        check(f == ["500", "0", "0", "500"], f)
        check(len(dg.server.conns) == 2, len(dg.server.conns))
    finally:
        d.stop()
        dg.server.stop()


if __name__ == "__main__":
    try:
        Runner().run([test_tls_auth_subscribe_measurements, test_wrong_serial_is_refused,
                      test_quiet_dongle_goes_stale_then_watchdog_reconnects])
    finally:
        shutil.rmtree(PKI_DIR, ignore_errors=True)
