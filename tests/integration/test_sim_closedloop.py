# SPDX-License-Identifier: GPL-3.0-or-later
"""astra-sim against the real daemon on loopback: one simulated HMG-50 battery polls the
daemon (CT002, relay mode), the daemon reads astra-sim's /power as a JSON_HTTP meter, and
the grid must converge toward zero. Also: the HTTP control API changes loads, solar, SoC
and max power; bad requests are refused; and start/status/stop round-trips the daemon
mode with its PID file. Standard library only."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from amtest import Daemon, Runner, check, free_udp_port  # noqa: E402

AM_BUILD = os.environ.get("AM_BUILD", os.path.join(os.path.dirname(__file__), "../../build/release"))
SIM_BIN = os.environ.get("SIM_BIN", os.path.join(AM_BUILD, "astra-sim"))


def free_tcp_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
        return json.loads(r.read())


def post(port, path, body=None):
    data = json.dumps(body if body is not None else {}).encode()
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data,
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def wait_http(port, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            return get(port, "/status")
        except OSError:
            time.sleep(0.05)
    raise AssertionError("astra-sim HTTP on %d did not come up" % port)


class Sim:
    def __init__(self, cfg, args=()):
        self.dir = tempfile.mkdtemp(prefix="simtest-")
        self.cfg = os.path.join(self.dir, "sim.json")
        with open(self.cfg, "w") as f:
            json.dump(cfg, f)
        self.log_path = os.path.join(self.dir, "sim.log")
        self.log = open(self.log_path, "w+b")
        self.proc = subprocess.Popen([SIM_BIN, "run", "--no-tui", "-c", self.cfg] + list(args),
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def sim_config(http_port, ct_port, base=(600, 0, 0), batteries=None):
    return {
        "ct": {"host": "127.0.0.1", "port": ct_port, "mac": "112233445566"},
        "http": {"host": "127.0.0.1", "port": http_port},
        "powermeter": {"base_load": list(base), "base_noise": 5,
                       "loads": [{"name": "Kettle", "power": 500, "phase": "A"},
                                 {"name": "Fridge", "power": 100, "phase": "B"}],
                       "solar_max": 1500, "solar_phases": ["A"]},
        "batteries": batteries if batteries is not None else
        [{"mac": "02B250000001", "phase": "A", "initial_soc": 0.8, "ramp_rate": 400}],
        "log_interval": 1,
        "seed": 7,
    }


def daemon_config(ct_port, http_port):
    return f"""[GENERAL]
DEVICE_TYPE = ct002

[CT002]
UDP_PORT = {ct_port}
ACTIVE_CONTROL = False

[JSON_HTTP]
URL = http://127.0.0.1:{http_port}/power
JSON_PATHS = $.phase_a,$.phase_b,$.phase_c
"""


def test_relay_daemon_steers_grid_toward_zero():
    http_port, ct_port = free_tcp_port(), free_udp_port()
    sim = Sim(sim_config(http_port, ct_port))
    d = None
    try:
        wait_http(http_port)
        d = Daemon(daemon_config(ct_port, http_port), loglevel="info")
        check(d.wait_log("running", 5), "daemon did not start:\n" + d.output())
        start = get(http_port, "/status")["grid"]["phase_a"]
        check(start > 500, start)
        # The HMG-50 law walks up ~50-400 W per poll after a 2 s start-up; give it 40 s.
        end = time.monotonic() + 40
        recent = []
        while time.monotonic() < end:
            st = get(http_port, "/status")
            recent = (recent + [st["grid"]["phase_a"]])[-5:]
            if len(recent) == 5 and max(abs(x) for x in recent) < 60:
                break
            time.sleep(1)
        bat = st["batteries"][0]
        check(len(recent) == 5 and max(abs(x) for x in recent) < 60,
              "grid did not settle: %s battery %s\n%s" % (recent, bat, sim.output()[-2000:]))
        check(400 < bat["power"] < 700, bat)
        check(bat["timeouts"] == 0 or bat["timeouts"] < 3, bat)
        # A 500 W kettle switches on: the battery follows again.
        code, _ = post(http_port, "/loads/1/toggle")
        check(code == 200)
        end = time.monotonic() + 40
        while time.monotonic() < end:
            st = get(http_port, "/status")
            if st["batteries"][0]["power"] >= 790:
                break
            time.sleep(1)
        # max discharge 800 W: the battery saturates and the residual import remains.
        check(st["batteries"][0]["power"] >= 790, st)
    finally:
        if d:
            d.stop()
        rc = sim.stop()
        check(rc == 0, "astra-sim exit %s\n%s" % (rc, sim.output()[-2000:]))


def test_http_control_api():
    http_port, ct_port = free_tcp_port(), free_udp_port()
    sim = Sim(sim_config(http_port, ct_port, base=(100, 100, 100)))
    try:
        st = wait_http(http_port)
        p = get(http_port, "/power")
        check(set(p) == {"phase_a", "phase_b", "phase_c"}, p)
        check(abs(p["phase_a"] - 100) <= 5.1, p)
        check(st["loads"][0]["active"] is False, st["loads"])
        code, st = post(http_port, "/loads/1/toggle")
        check(code == 200 and st["loads"][0]["active"] is True, st["loads"])
        check(get(http_port, "/power")["phase_a"] > 590)
        code, st = post(http_port, "/loads/9/toggle")
        check(code == 400, (code, st))
        code, st = post(http_port, "/solar", {"watts": "max"})
        check(code == 200 and st["solar"]["current"] == 1500, st["solar"])
        code, st = post(http_port, "/solar", {"watts": 300})
        check(st["solar"]["current"] == 300, st["solar"])
        check(abs(get(http_port, "/power")["phase_a"] - 300) <= 5.1)
        code, st = post(http_port, "/solar", {"watts": "bogus"})
        check(code == 400, code)
        code, st = post(http_port, "/batteries/02b250000001/soc", {"soc": 0.25})
        check(code == 200 and st["batteries"][0]["soc"] == 0.25, st["batteries"])
        code, _ = post(http_port, "/batteries/02B250000001/soc", {"soc": 1.5})
        check(code == 400, code)
        code, _ = post(http_port, "/batteries/FFFFFFFFFFFF/soc", {"soc": 0.5})
        check(code == 404, code)
        code, st = post(http_port, "/batteries/02B250000001/max_power",
                        {"charge": 300, "discharge": 400})
        b = st["batteries"][0]
        check(code == 200 and b["max_charge"] == 300 and b["max_discharge"] == 400, b)
        code, _ = post(http_port, "/batteries/02B250000001/dc", {"watts": 100})
        check(code == 400, code)  # no DC input configured
        code, st = post(http_port, "/auto", {"enabled": True})
        check(code == 200 and st["auto_mode"] is True)
        # the CLI speaks the same API
        r = subprocess.run([SIM_BIN, "load", "toggle", "2", "--http-port", str(http_port)],
                           capture_output=True, text=True, timeout=10)
        check(r.returncode == 0 and json.loads(r.stdout)["loads"][1]["active"] is True, r)
        r = subprocess.run([SIM_BIN, "battery", "02B250000001", "soc", "0.6",
                            "--http-port", str(http_port)], capture_output=True, text=True,
                           timeout=10)
        check(r.returncode == 0 and json.loads(r.stdout)["batteries"][0]["soc"] == 0.6, r)
        # /events streams status as SSE
        s = socket.create_connection(("127.0.0.1", http_port), timeout=5)
        s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        buf = b""
        while b"data: " not in buf or not buf.endswith(b"\n\n"):
            chunk = s.recv(65536)
            check(chunk, "SSE stream closed early")
            buf += chunk
        s.close()
        check(b"event: status" in buf, buf[:200])
    finally:
        rc = sim.stop()
        check(rc == 0, "astra-sim exit %s\n%s" % (rc, sim.output()[-2000:]))


def test_start_status_stop_round_trip():
    http_port, ct_port = free_tcp_port(), free_udp_port()
    home = tempfile.mkdtemp(prefix="simhome-")
    env = dict(os.environ, HOME=home)
    cfg = os.path.join(home, "sim.json")
    with open(cfg, "w") as f:
        json.dump(sim_config(http_port, ct_port), f)
    r = subprocess.run([SIM_BIN, "start", "-c", cfg], env=env, capture_output=True, text=True,
                       timeout=10)
    check(r.returncode == 0 and "Daemon started" in r.stdout, r)
    pidfile = os.path.join(home, ".astra-sim.pid")
    check(os.path.exists(pidfile))
    pid = int(open(pidfile).read())
    try:
        wait_http(http_port)
        r = subprocess.run([SIM_BIN, "status", "--http-port", str(http_port)], env=env,
                           capture_output=True, text=True, timeout=10)
        check(r.returncode == 0 and json.loads(r.stdout)["batteries"][0]["mac"] == "02B250000001", r)
        r = subprocess.run([SIM_BIN, "start", "-c", cfg], env=env, capture_output=True, text=True,
                           timeout=10)
        check(r.returncode == 1 and "already running" in r.stdout, r)
        r = subprocess.run([SIM_BIN, "stop", "--http-port", str(http_port)], env=env,
                           capture_output=True, text=True, timeout=10)
        check(r.returncode == 0 and "shutting_down" in r.stdout, r)
        end = time.monotonic() + 5
        while time.monotonic() < end:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            # reap if it is our grandchild's zombie (it is not: setsid + reparent)
            time.sleep(0.05)
        else:
            check(False, "daemon still running after stop")
        check(not os.path.exists(pidfile))
        r = subprocess.run([SIM_BIN, "status", "--http-port", str(http_port)], env=env,
                           capture_output=True, text=True, timeout=10)
        check(r.returncode == 1)
    finally:
        try:
            os.kill(pid, 15)
        except ProcessLookupError:
            pass


def test_config_is_rejected_with_a_reason():
    d = tempfile.mkdtemp(prefix="simbad-")
    cfg = os.path.join(d, "bad.json")
    with open(cfg, "w") as f:
        json.dump({"batteries": [{"mac": "XYZ", "phase": "A"}]}, f)
    r = subprocess.run([SIM_BIN, "run", "--no-tui", "-c", cfg], capture_output=True, text=True,
                       timeout=10)
    check(r.returncode != 0 and "12 hex" in r.stderr, r)
    with open(cfg, "w") as f:
        f.write("{not json")
    r = subprocess.run([SIM_BIN, "run", "--no-tui", "-c", cfg], capture_output=True, text=True,
                       timeout=10)
    check(r.returncode != 0 and "invalid JSON" in r.stderr, r)


if __name__ == "__main__":
    Runner().run([
        test_http_control_api,
        test_config_is_rejected_with_a_reason,
        test_start_status_stop_round_trip,
        test_relay_daemon_steers_grid_toward_zero,
    ])
