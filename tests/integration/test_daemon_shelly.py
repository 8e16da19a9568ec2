# SPDX-License-Identifier: GPL-3.0-or-later
"""The real daemon as Shelly Pro 3EM (old and new port), EM gen3 and Pro EM50: exact reply
format and device ids, EM1.GetStatus, silence on meter failure and on malformed requests."""

import json
import os

from amtest import Daemon, Meter, Runner, Udp, check, free_udp_port, shelly_request


def cfg(url, device_type, extra=""):
    return f"""[GENERAL]
DEVICE_TYPE = {device_type}
{extra}

[JSON_HTTP]
URL = {url}
JSON_PATHS = $.phase_a,$.phase_b,$.phase_c
"""


def test_pro3em_listens_on_both_ports_with_one_id():
    m = Meter()
    m.set_power(100, 0, -50.26)
    d = Daemon(cfg(m.url(), "shellypro3em"))
    try:
        check(d.wait_log("running", 5), d.output())
        for port in (1010, 2220):
            u = Udp(port)
            r, _ = u.ask(shelly_request(rid=7))
            check(r is not None, ("no reply on", port, d.output()))
            # Byte-exact as upstream (REFERENCE 1.10).
            check(r == b'{"id":7,"src":"shellypro3em-ec4609c439c1","dst":"unknown","result":'
                       b'{"a_act_power":100.0,"b_act_power":0.001,"c_act_power":-50.3,'
                       b'"total_act_power":49.74}}', r)
            u.close()
    finally:
        check(d.stop() == 0)
        m.stop()


def test_emg3_proem50_ids_and_em1():
    m = Meter()
    m.set_power(300, 0, 0)
    d = Daemon(cfg(m.url(), "shellyemg3, shellyproem50"))
    try:
        check(d.wait_log("running", 5), d.output())
        u = Udp(2222)
        r, _ = u.ask(shelly_request(method="EM1.GetStatus", rid=3))
        j = json.loads(r)
        check(j["src"] == "shellyemg3-ec4609c439c1", j)
        check(r.endswith(b'"result":{"act_power":300.001}}'), r)
        u2 = Udp(2223)
        r, _ = u2.ask(shelly_request(rid="abc"))
        j = json.loads(r)
        check(j["id"] == "abc" and j["src"] == "shellyproem50-ec4609c439c2", j)
    finally:
        d.stop()
        m.stop()


def test_device_ids_from_config():
    m = Meter()
    m.set_power(1, 2, 3)
    d = Daemon(cfg(m.url(), "shellypro3em_new", "DEVICE_IDS = shellypro3em-001122334455"))
    try:
        check(d.wait_log("running", 5), d.output())
        u = Udp(2220)
        r, _ = u.ask(shelly_request())
        check(json.loads(r)["src"] == "shellypro3em-001122334455", r)
    finally:
        d.stop()
        m.stop()


def test_silence_on_meter_failure_and_bad_requests():
    m = Meter()
    m.routes["/power"] = lambda h: (500, b"boom", "text/plain")
    d = Daemon(cfg(m.url(), "shellypro3em_new"))
    try:
        check(d.wait_log("running", 5), d.output())
        u = Udp(2220)
        r, _ = u.ask(shelly_request(), timeout=2.5)
        check(r is None, ("meter failure must give no reply", r))
        m.set_power(10, 20, 30)
        bad = [b"", b"{", b"null", b"[]", os.urandom(3000), b"\xff\xfe{}",
               json.dumps({"id": 1, "method": "EM.GetStatus", "params": {"id": "0"}}).encode(),
               json.dumps({"id": 1, "method": "Sys.Reboot", "params": {"id": 0}}).encode(),
               b"{" * 60000]
        for b in bad:
            r, _ = u.ask(b, timeout=0.3)
            check(r is None, ("no reply expected", b[:30], r))
        r, _ = u.ask(shelly_request(rid=9), timeout=3)
        check(r is not None and b'"total_act_power":60.001' in r, r)
        check(d.alive())
    finally:
        check(d.stop() == 0)
        m.stop()


if __name__ == "__main__":
    Runner().run([
        test_pro3em_listens_on_both_ports_with_one_id,
        test_emg3_proem50_ids_and_em1,
        test_device_ids_from_config,
        test_silence_on_meter_failure_and_bad_requests,
    ])
