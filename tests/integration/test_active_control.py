# SPDX-License-Identifier: GPL-3.0-or-later
"""The real daemon as a CT002 with ACTIVE_CONTROL on (the default), reading a local
JSON_HTTP meter, with UDP batteries on loopback: the active worked examples of REFERENCE
§1.10 end to end (pacing +30 then +60, the pacing-off split over A and B, raw values for an
inspection request), a manual target kept in the state file across a restart (STATE_FILE and
$STATE_DIRECTORY), the zero-delta hold while the meter is down, and a closed loop with
astra-sim: two simulated HMG-50 batteries on phases A and B, steered by the daemon, must bring
the grid to zero after a start and a load step and share the load. Standard library only."""

import os
import tempfile
import time

from amtest import Daemon, Meter, Runner, Udp, check, ct_parse, ct_request, free_udp_port
from test_sim_closedloop import SIM_BIN, Sim, free_tcp_port, get, post, wait_http


def config(meter, port, extra_ct=""):
    return f"""[GENERAL]
DEVICE_TYPE = ct002

[CT002]
UDP_PORT = {port}
{extra_ct}

[JSON_HTTP]
URL = {meter.url()}
JSON_PATHS = $.phase_a,$.phase_b,$.phase_c
"""


def start(meter, extra_ct="", env=None, port=None):
    port = port or free_udp_port()
    d = Daemon(config(meter, port, extra_ct), env=env)
    check(d.wait_log("running", 5), "daemon did not start:\n" + d.output())
    return d, port


def ask(u, **kw):
    r, _ = u.ask(ct_request(**kw))
    check(r is not None, "no reply to %r" % (kw,))
    f = ct_parse(r)
    check(len(f) == 24, f)
    return f


def test_active_is_the_default():
    m = Meter()
    m.set_power(0)
    d, _ = start(m)
    try:
        out = d.output()
        check("active control: load split" in out, out)
        check("not available yet" not in out, out)
        check("not supported yet" not in out, out)
    finally:
        check(d.stop() == 0, "daemon exit code")
        m.stop()


def worked_example_pacing(extra_ct):
    m = Meter()
    m.set_power(300)
    d, port = start(m, extra_ct)
    try:
        u = Udp(port)
        f = ask(u, mac="AABBCCDDEEFF", phase="A", power=100)
        # +30 W (PACE_BASE_STEP); count 1 on A only; the instructed 130 W as A discharge.
        check(f == ["HME-4", "112233445566", "HMG-50", "AABBCCDDEEFF", "30", "0", "0", "30",
                    "1", "0", "0", "0", "-50", f[13], "0", "0", "0", "0", "0", "0", "130",
                    "0", "0", "0"], f)
        time.sleep(1.05)
        m.set_power(250)
        time.sleep(0.3)  # past the meter's freshness bound: the next request fetches 250
        f = ask(u, mac="AABBCCDDEEFF", phase="A", power=130)
        # The battery followed, so the pace cap doubled: +60, net 190.
        check(f[4:12] == ["60", "0", "0", "60", "1", "0", "0", "0"], f)
        check(f[20] == "190", f)
        u.close()
    finally:
        check(d.stop() == 0, "daemon exit code")
        m.stop()


def test_worked_example_pacing():
    # REFERENCE §1.10's worked example is upstream's controller: run it that way.
    worked_example_pacing("GRID_PREDICTOR = upstream")


def test_default_is_upstream_controller():
    """Issue 14: the default controller is upstream's (the dead-time predictor overshot on
    a plant it was not tuned on), so the worked example holds without any setting."""
    worked_example_pacing("")


def test_deadtime_pacing_grows_in_one_poll():
    """The opt-in dead-time predictor: the same two requests start at the 30 W base step
    too, but once the battery follows the cap goes to PACE_MAX_STEP at once (upstream
    doubles it to 60), so the second delta is well above 60 and at most 400."""
    m = Meter()
    m.set_power(300)
    d, port = start(m, "GRID_PREDICTOR = deadtime")
    try:
        u = Udp(port)
        f = ask(u, mac="AABBCCDDEEFF", phase="A", power=100)
        check(f[4:8] == ["30", "0", "0", "30"], f)
        time.sleep(1.05)
        m.set_power(250)
        time.sleep(0.3)
        f = ask(u, mac="AABBCCDDEEFF", phase="A", power=130)
        delta = int(f[4])
        check(100 < delta <= 400 and f[5:8] == ["0", "0", str(delta)], f)
        check(int(f[20]) == 130 + delta, f)
        u.close()
    finally:
        check(d.stop() == 0, "daemon exit code")
        m.stop()


def test_worked_example_split_pacing_off():
    m = Meter()
    m.set_power(400)
    d, port = start(m, "PACE_BASE_STEP = 0")
    try:
        a, b = Udp(port), Udp(port)
        ask(a, mac="AABBCCDDEE01", phase="A", power=0)
        f = ask(b, mac="AABBCCDDEE02", phase="B", power=0)
        # B's 200 W share is split over the pool's phases A and B; counts stay 1.
        check(f[4:12] == ["100", "100", "0", "200", "1", "1", "0", "0"], f)
        a.close()
        b.close()
    finally:
        check(d.stop() == 0, "daemon exit code")
        m.stop()


def test_inspection_gets_raw_values():
    m = Meter()
    m.set_power(400, 10, 0)
    d, port = start(m)
    try:
        u = Udp(port)
        f = ask(u, mac="AABBCCDDEEFF", phase="0", power=0)
        check(f[4:12] == ["400", "10", "0", "410", "1", "1", "0", "0"], f)
        u.close()
    finally:
        check(d.stop() == 0, "daemon exit code")
        m.stop()


STATE = ("astrameter-controls 1\n"
         "consumer aabbccddeeff active=1 auto=0 manual=250 weight=1 eff_weight=1 min_dc=-\n")


def manual_target_reply(meter, extra_ct="", env=None):
    d, port = start(meter, extra_ct, env=env)
    try:
        u = Udp(port)
        f = ask(u, mac="AABBCCDDEEFF", phase="A", power=0)
        u.close()
        return f, d.output()
    finally:
        check(d.stop() == 0, "daemon exit code")


def test_restart_keeps_manual_target():
    m = Meter()
    m.set_power(500)
    tmp = tempfile.mkdtemp(prefix="amstate-")
    path = os.path.join(tmp, "ct.state")
    with open(path, "w") as fp:
        fp.write(STATE)
    try:
        for run in range(2):
            f, out = manual_target_reply(m, "STATE_FILE = " + path)
            # Manual mode: straight to 250 W whatever the grid says.
            check(f[4:8] == ["250", "0", "0", "250"], (run, f, out))
            check("controls kept in " + path in out, out)
            with open(path) as fp:
                check(fp.read() == STATE, "state file changed")
        # Via systemd's StateDirectory: $STATE_DIRECTORY/ct002-<port>.state.
        port = free_udp_port()
        with open(os.path.join(tmp, "ct002-%d.state" % port), "w") as fp:
            fp.write(STATE)
        d, _ = start(m, env={"STATE_DIRECTORY": tmp}, port=port)
        try:
            u = Udp(port)
            f = ask(u, mac="AABBCCDDEEFF", phase="A", power=0)
            check(f[4:8] == ["250", "0", "0", "250"], f)
            u.close()
        finally:
            check(d.stop() == 0, "daemon exit code")
        # Without either the controls are not persisted, and the battery is in auto.
        f, out = manual_target_reply(m, env={"STATE_DIRECTORY": ""})
        check("not persisted" in out, out)
        check(f[4:8] == ["30", "0", "0", "30"], f)
    finally:
        m.stop()


def test_dead_meter_holds():
    m = Meter()
    m.set_power(300)
    d, port = start(m)
    try:
        u = Udp(port)
        f = ask(u, mac="AABBCCDDEEFF", phase="A", power=100)
        check(f[4] == "30", f)
        m.routes["/power"] = lambda h: (500, b"broken", "text/plain")
        time.sleep(0.3)
        f = ask(u, mac="AABBCCDDEEFF", phase="A", power=130)
        # An explicit zero delta: the battery holds; its instructed net stays 130.
        check(f[4:8] == ["0", "0", "0", "0"], f)
        check(f[20] == "130", f)
        check(d.wait_log("sending a zero adjustment", 2), d.output())
        # The meter comes back: steering resumes.
        m.set_power(300)
        time.sleep(1.05)
        f = ask(u, mac="AABBCCDDEEFF", phase="A", power=130)
        check(f[4] != "0" and int(f[4]) > 0, f)
        u.close()
    finally:
        check(d.stop() == 0, "daemon exit code")
        m.stop()


def settle(samples, t0, band=50.0, hold=5.0):
    """Seconds from t0 until |grid| entered the band for good (held >= hold s), or None."""
    inside = None
    for t, g in samples:
        if t < t0:
            continue
        if abs(g) <= band:
            if inside is None:
                inside = t
        else:
            inside = None
    if inside is None or samples[-1][0] - inside < hold:
        return None
    return inside - t0


def test_sim_two_batteries_closed_loop():
    """astra-sim closed loop; prints settle times and residuals (the figures in the report)."""
    if not os.path.exists(SIM_BIN):
        print("skip: no astra-sim at", SIM_BIN)
        return
    http_port, ct_port = free_tcp_port(), free_udp_port()
    bats = [{"mac": "02B250000001", "phase": "A", "initial_soc": 0.8, "ramp_rate": 400},
            {"mac": "02B250000002", "phase": "B", "initial_soc": 0.8, "ramp_rate": 400}]
    sim = Sim({"ct": {"host": "127.0.0.1", "port": ct_port, "mac": "112233445566"},
               "http": {"host": "127.0.0.1", "port": http_port},
               "powermeter": {"base_load": [400, 300, 0], "base_noise": 5,
                              "loads": [{"name": "Kettle", "power": 600, "phase": "A"}]},
               "batteries": bats, "log_interval": 5, "seed": 7})
    d = None
    try:
        wait_http(http_port)
        d = Daemon(f"""[GENERAL]
DEVICE_TYPE = ct002

[CT002]
UDP_PORT = {ct_port}

[JSON_HTTP]
URL = http://127.0.0.1:{http_port}/power
JSON_PATHS = $.phase_a,$.phase_b,$.phase_c
""", loglevel="info")
        check(d.wait_log("running", 5), "daemon did not start:\n" + d.output())
        t_start = time.monotonic()
        samples, step_at, st = [], None, None
        while time.monotonic() - t_start < 75:
            st = get(http_port, "/status")
            now = time.monotonic() - t_start
            samples.append((now, st["grid"]["total"]))
            if step_at is None and now >= 40:
                post(http_port, "/loads/1/toggle")  # +600 W on A
                step_at = now
            time.sleep(0.25)
        s1 = settle([x for x in samples if x[0] < step_at], 0.0)
        s2 = settle(samples, step_at)
        tail = [g for t, g in samples if t > samples[-1][0] - 15]
        mean = sum(tail) / len(tail)
        rms = (sum(g * g for g in tail) / len(tail)) ** 0.5
        p = [b["power"] for b in st["batteries"]]
        print("closed loop: start->settled %s s, +600 W step->settled %s s, last 15 s grid "
              "mean %.1f W rms %.1f W, batteries %s W" % (s1, s2, mean, rms, p), flush=True)
        check(s1 is not None and s1 < 40, ("start did not settle", s1, samples[-20:]))
        check(s2 is not None and s2 < 30, ("step did not settle", s2, samples[-20:]))
        check(abs(mean) < 30 and rms < 50, (mean, rms))
        check(abs(p[0] - p[1]) < 150, ("batteries do not share", p))
        check(all(b["timeouts"] < 3 for b in st["batteries"]), st["batteries"])
    finally:
        if d:
            check(d.stop() == 0, "daemon exit code")
        sim.stop()


if __name__ == "__main__":
    Runner().run([
        test_active_is_the_default,
        test_worked_example_pacing,
        test_default_is_upstream_controller,
        test_deadtime_pacing_grows_in_one_poll,
        test_worked_example_split_pacing_off,
        test_inspection_gets_raw_values,
        test_restart_keeps_manual_target,
        test_dead_meter_holds,
        test_sim_two_batteries_closed_loop,
    ])
