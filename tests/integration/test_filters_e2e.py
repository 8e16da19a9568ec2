# SPDX-License-Identifier: GPL-3.0-or-later
"""The filter chain configured in config.ini, seen through real CT002 and Shelly replies:
transform per phase, Hampel rejecting a spike but passing a sustained step, EMA advancing
once per fresh reading (not once per battery request), deadband, and the [GENERAL]
default with a per-section override."""

import json
import time

from amtest import Daemon, Meter, Runner, Udp, check, ct_parse, ct_request, free_udp_port, shelly_request


def daemon(meter, extra_pm="", extra_general="", devices="ct002"):
    port = free_udp_port()
    d = Daemon(f"""[GENERAL]
DEVICE_TYPE = {devices}
{extra_general}
[CT002]
UDP_PORT = {port}
ACTIVE_CONTROL = False
[JSON_HTTP]
URL = {meter.url()}
JSON_PATHS = $.phase_a,$.phase_b,$.phase_c
{extra_pm}
""")
    check(d.wait_log("running", 5), d.output())
    return d, port


def phases(reply):
    f = ct_parse(reply)
    return [int(x) for x in f[4:8]]


def test_transform_per_phase():
    m = Meter()
    m.set_power(100, 50, 20)
    d, port = daemon(m, "POWER_MULTIPLIER = 2\nPOWER_OFFSET = 10,0,-10")
    try:
        r, _ = Udp(port).ask(ct_request())
        check(phases(r) == [210, 100, 30, 340], phases(r))
    finally:
        d.stop()
        m.stop()


def test_hampel_rejects_spike_passes_step():
    m = Meter()
    m.set_power(100)
    # Every request 0.35 s apart needs a fresh reading (THROTTLE_INTERVAL 0.3 s).
    d, port = daemon(m, "HAMPEL_WINDOW = 5\nHAMPEL_MIN_THRESHOLD = 50\nTHROTTLE_INTERVAL = 0.3")
    u = Udp(port)

    def read(value):
        m.set_power(value)
        time.sleep(0.35)
        r, _ = u.ask(ct_request())
        return phases(r)[0]

    try:
        warm = [read(100) for _ in range(6)]
        check(warm[-1] == 100, warm)
        spike = read(5000)
        check(spike == 100, ("a single spike must be rejected", spike))
        check(read(100) == 100)
        seen = [read(480) for _ in range(5)]
        # A sustained step passes within about half a window (upstream locks it out).
        check(480 in seen[:3], ("sustained step must pass", seen))
        check(seen[-1] == 480, seen)
    finally:
        d.stop()
        m.stop()


def test_ema_runs_once_per_reading_not_per_request():
    m = Meter()
    m.set_power(0)
    d, port = daemon(m, "THROTTLE_INTERVAL = 1.5", extra_general="SMOOTH_TARGET_ALPHA = 0.5")
    try:
        u = Udp(port)
        check(phases(u.ask(ct_request())[0])[3] == 0)   # seeds the EMA
        m.set_power(100)
        time.sleep(1.6)
        # Five batteries within one throttle interval: all see the same smoothed value.
        socks = [Udp(port) for _ in range(5)]
        vals = [phases(s.ask(ct_request(mac="0000000001%02x" % i))[0])[3] for i, s in enumerate(socks)]
        check(vals == [50] * 5, ("EMA must advance once per reading", vals))
        # The next fresh reading advances it once more (a repeated identical sample would be
        # skipped, as upstream does, so the meter moves to 102).
        m.set_power(102)
        time.sleep(1.6)
        r, _ = u.ask(ct_request())
        check(phases(r)[3] == 76, phases(r))
    finally:
        d.stop()
        m.stop()


def test_deadband_through_shelly_and_section_override():
    m = Meter()
    m.set_power(10, 10, 10)
    # [GENERAL] DEADBAND 50 applies; the per-section 0 would disable it, so use 40 vs 20.
    d, port = daemon(m, "DEADBAND = 20", extra_general="DEADBAND = 50", devices="ct002, shellyproem50")
    try:
        r, _ = Udp(port).ask(ct_request())
        check(phases(r) == [10, 10, 10, 30], ("section DEADBAND 20 overrides 50", phases(r)))
        m.set_power(5, 5, 5)
        time.sleep(0.3)
        r, _ = Udp(2223).ask(shelly_request(rid=2))
        j = json.loads(r)["result"]
        check(j == {"a_act_power": 0.001, "b_act_power": 0.001, "c_act_power": 0.001,
                    "total_act_power": 0.001}, j)
    finally:
        d.stop()
        m.stop()


if __name__ == "__main__":
    Runner().run([
        test_transform_per_phase,
        test_hampel_rejects_spike_passes_step,
        test_ema_runs_once_per_reading_not_per_request,
        test_deadband_through_shelly_and_section_override,
    ])
