# SPDX-License-Identifier: GPL-3.0-or-later
"""The real daemon with a [HOMEASSISTANT] meter against a local WebSocket server speaking
Home Assistant's API (tests/integration/amws.py): auth (ok and invalid), the sorted
subscribe_entities, the recorded event stream from tests/fixtures/homeassistant, the
REST seed with the Bearer token, values in CT002 replies, a push (and a lu-only
re-report) waking a parked battery request, the hold answer for an unavailable sensor
and while disconnected, and recovery after the reconnect."""

import json
import os
import threading
import time

from amtest import AM_SRC, Daemon, Runner, Udp, check, ct_parse, ct_request, free_udp_port
from amws import WsServer

FIX = os.path.join(AM_SRC, "tests", "fixtures", "homeassistant")
TOKEN = "eyJhbGciOiJIUzI1NiJ9.test-token-do-not-log"
# Config order (values come in this order); the subscription sorts them.
ENTITIES = "sensor.power_phase3, sensor.power_phase1,sensor.power_phase2"


def stream(name):
    with open(os.path.join(FIX, name)) as f:
        return [ln.strip() for ln in f if ln.strip()]


class Ha:
    """Home Assistant's side: auth, subscribe, then the initial event (if any)."""

    def __init__(self, initial=None, token=TOKEN, states=None):
        self.initial = initial
        self.token = token
        self.states = states or {}  # entity -> REST body (bytes) or None (404)
        self.subs = []
        self.auths = []
        self.ready = threading.Event()
        self.server = WsServer(self.session, rest=self.rest)

    def session(self, c):
        c.send(json.dumps({"type": "auth_required", "ha_version": "2024.6.4"}))
        a = json.loads(c.recv(5))
        self.auths.append(a)
        if a.get("access_token") != self.token:
            c.send(json.dumps({"type": "auth_invalid", "message": "Invalid access token"}))
            c.close()
            return
        c.send(json.dumps({"type": "auth_ok", "ha_version": "2024.6.4"}))
        sub = json.loads(c.recv(5))
        self.subs.append(sub)
        c.send(json.dumps({"id": sub["id"], "type": "result", "success": True,
                           "result": None}))
        if self.initial:
            c.send(self.initial)
        self.ready.set()

    def rest(self, method, path, headers):
        if headers.get("authorization") != "Bearer " + self.token:
            return 401, b'{"message":"Unauthorized"}'
        eid = path.rsplit("/", 1)[-1]
        body = self.states.get(eid)
        return (200, body) if body is not None else (404, b'{"message":"Entity not found."}')

    def push(self, text):
        c = self.server.last()
        check(c is not None and c.send(text), "no connection to push on")


def config(ha, port, extra=""):
    return f"""[GENERAL]
DEVICE_TYPE = ct002

[CT002]
UDP_PORT = {port}
ACTIVE_CONTROL = False

[HOMEASSISTANT]
IP = 127.0.0.1
PORT = {ha.server.port}
ACCESSTOKEN = {TOKEN}
{extra}
"""


def start(ha, extra=f"CURRENT_POWER_ENTITY = {ENTITIES}\n"):
    port = free_udp_port()
    d = Daemon(config(ha, port, extra))
    check(d.wait_log("running", 5), "daemon did not start:\n" + d.output())
    return d, Udp(port)


def ask(u, timeout=4):
    r, dt = u.ask(ct_request(power=0), timeout=timeout)
    check(r is not None, "no reply")
    return ct_parse(r)[4:8], dt


def test_auth_subscribe_and_values():
    lines = stream("stream_three_phase.jsonl")
    ha = Ha(initial=lines[3])
    d, u = start(ha)
    try:
        check(ha.ready.wait(5), "no subscription:\n" + d.output())
        time.sleep(0.3)  # let the snapshot land before parking a request
        check(ha.auths[0] == {"type": "auth", "access_token": TOKEN}, ha.auths)
        sub = ha.subs[0]
        check(sub["type"] == "subscribe_entities", sub)
        check(sub["entity_ids"] == ["sensor.power_phase1", "sensor.power_phase2",
                                    "sensor.power_phase3"], ("sorted ids", sub))
        check(ha.server.upgrades[0][0] == "/api/websocket", ha.server.upgrades)
        # WAIT_FOR_NEXT_MESSAGE (default on): the request waits for the next push.
        timer = threading.Timer(0.5, ha.push, args=(lines[4],))
        timer.start()
        f, dt = ask(u)
        check(f == ["300", "150", "200", "650"], (f, d.output()[-1500:]))
        check(0.3 < dt < 1.5, ("answered by the push", dt))
        # lu-only re-report of an unchanged value still answers a parked request.
        threading.Timer(0.4, ha.push, args=(lines[5],)).start()
        f, dt = ask(u)
        check(f == ["300", "150", "200", "650"] and dt < 1.5, (f, dt))
        # An untracked entity's change does not answer it: 2 s deadline, cached values.
        threading.Timer(0.3, ha.push, args=(lines[6],)).start()
        f, dt = ask(u)
        check(f == ["300", "150", "200", "650"] and dt > 1.8, ("deadline", f, dt))
        # unavailable -> hold answer, at once
        threading.Timer(0.3, ha.push, args=(lines[7],)).start()
        f, dt = ask(u)
        check(f == ["0", "0", "0", "0"] and dt < 1.5, ("hold on unavailable", f, dt))
        check("not numeric" in d.output(), d.output()[-1500:])
        threading.Timer(0.3, ha.push, args=(lines[8],)).start()
        f, _ = ask(u)
        check(f == ["-42", "150", "200", "308"], ("back", f))
        check(TOKEN not in d.output(), "the token was logged")
        check(d.alive(), d.output())
    finally:
        d.stop()
        ha.server.stop()


def test_disconnect_holds_and_reconnect_recovers():
    lines = stream("stream_three_phase.jsonl")
    ha = Ha(initial=lines[3])
    d, u = start(ha, f"CURRENT_POWER_ENTITY = {ENTITIES}\nWAIT_FOR_NEXT_MESSAGE = False\n")
    try:
        check(ha.ready.wait(5), d.output())
        time.sleep(0.3)
        f, dt = ask(u)
        check(f == ["300", "100", "200", "600"] and dt < 0.5, ("from cache", f, dt))
        ha.ready.clear()
        ha.server.last().drop()
        time.sleep(0.5)
        f, dt = ask(u)
        check(f == ["0", "0", "0", "0"], ("hold while disconnected", f))
        # reconnect after 5 s with a fresh snapshot
        ha.initial = lines[3].replace('"s":"100"', '"s":"111"')
        check(ha.ready.wait(9), "no reconnect:\n" + d.output())
        time.sleep(0.3)
        f, _ = ask(u)
        check(f == ["300", "111", "200", "611"], ("recovered", f))
        check(len(ha.server.conns) == 2, len(ha.server.conns))
    finally:
        d.stop()
        ha.server.stop()


def test_rest_seed_with_bearer_and_calculate():
    with open(os.path.join(FIX, "rest_state.json"), "rb") as f:
        body = f.read()
    ha = Ha(initial=None, states={
        "sensor.power_input": body.replace(b'"123"', b'"1000"'),
        "sensor.power_output": body.replace(b'"123"', b'"250"'),
    })
    d, u = start(ha, "POWER_CALCULATE = True\nPOWER_INPUT_ALIAS = sensor.power_input\n"
                     "POWER_OUTPUT_ALIAS = sensor.power_output\nWAIT_FOR_NEXT_MESSAGE = False\n"
                     "API_PATH_PREFIX = /core\n")
    try:
        check(ha.ready.wait(5), d.output())
        time.sleep(0.5)
        f, _ = ask(u)
        check(f == ["750", "0", "0", "750"], (f, d.output()[-1500:]))
        paths = sorted(p for _, p, _ in ha.server.rest_requests)
        check(paths == ["/core/api/states/sensor.power_input",
                        "/core/api/states/sensor.power_output"], paths)
        check(ha.server.upgrades[0][0] == "/core/api/websocket", ha.server.upgrades)
        # a later event wins over the seed
        ha.push(stream("stream_calculate.jsonl")[3])
        time.sleep(0.3)
        f, _ = ask(u)
        check(f == ["-300", "0", "0", "-300"], f)
    finally:
        d.stop()
        ha.server.stop()


def test_auth_invalid_gives_hold_and_no_token_in_log():
    ha = Ha(initial=None, token="the-right-token")
    d, u = start(ha)
    try:
        time.sleep(1.0)
        f, _ = ask(u)
        check(f == ["0", "0", "0", "0"], f)
        check(d.wait_log("auth failed", 3), d.output())
        check(TOKEN not in d.output(), "the token was logged")
        check(not ha.subs, "subscribed without auth")
    finally:
        d.stop()
        ha.server.stop()


def test_server_gone_then_back():
    """Connection refused at start: hold; the server appears; values arrive."""
    lines = stream("stream_three_phase.jsonl")
    ha = Ha(initial=lines[3])
    ha.server.refuse = True
    d, u = start(ha)
    try:
        f, _ = ask(u)
        check(f == ["0", "0", "0", "0"], f)
        ha.server.refuse = False
        check(ha.ready.wait(8), d.output())
        time.sleep(0.3)
        threading.Timer(0.3, ha.push, args=(lines[4],)).start()
        f, _ = ask(u)
        check(f == ["300", "150", "200", "650"], f)
    finally:
        d.stop()
        ha.server.stop()


if __name__ == "__main__":
    Runner().run([test_auth_subscribe_and_values, test_disconnect_holds_and_reconnect_recovers,
                  test_rest_seed_with_bearer_and_calculate,
                  test_auth_invalid_gives_hold_and_no_token_in_log, test_server_gone_then_back])
