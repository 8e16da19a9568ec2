#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The second plant: our daemon (and the reference daemon, for comparison) steering the
*reference project's own* battery simulator, in real time, over loopback (issue 14).

The plant is the reference's `astra-sim run --no-tui` (tomquist/AstraMeter, from a checkout
whose path is given with --ref): its Marstek firmware models poll the controller's CT002
UDP port, and its HTTP server gives the grid at `GET /power` (read by the controller as a
`[JSON_HTTP]` meter) and the whole state at `GET /status` (sampled here every 0.1 s). The
step scenarios are scripted over its HTTP control endpoints (`POST /loads/N/toggle`,
`POST /solar`). Nothing of the reference is copied: this tool only starts its programs from
the checkout and talks to them over HTTP and UDP.

The controllers, each a separate process on its own loopback ports:
  ours          build/release/astrameter, default settings
  ours:K=V,...  the same with [CT002] overrides (e.g. ours:GRID_PREDICTOR=upstream)
  ref           the reference daemon (`astrameter.main`) from the same checkout

For every scenario and repeat, all controllers run at the same time (each with its own
plant), so they see the same machine load; compare the ratios, not absolute times.

    scripts/second-plant.py --ref /path/to/AstraMeter [--scenario one_venus ...]
        [--controller ours --controller ref ...] [--repeats 3] [--json out.json]

Python side: Debian's /usr/bin/python3 with python3-aiohttp (the simulator's HTTP server).
The reference imports a few PyPI packages the simulator and the daemon never use on this
path (aiomqtt, pymodbus, smllib, serial_asyncio_fast; jsonpath_ng is used, for `$.key`
only); they are replaced by small stubs written to a temp dir. Standard library only."""

import argparse
import ctypes
import errno
import json
import math
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

SETTLE_BAND_W = 25.0  # the settling band
SETTLE_HOLD_S = 5.0  # ... held this long
OSC_BAND_W = 20.0  # band-crossing hysteresis (the evaluation's)
STEADY_TAIL_S = 10.0  # steady RMS: the last 10 s before each next step
SAMPLE_S = 0.1

# Scenarios: batteries, base load per phase, loads (name, W, phase), solar phases, and the
# steps (t, action): ("load", index 1-based) toggles a load, ("solar", W) sets the solar.
STEP_S = 28.0
SCENARIOS = {
    "one_venus": {
        "desc": "1 Venus: +250 start, +400, -900 solar, -400, +900",
        "batteries": [("A", "HMG-50")],
        "base": [250.0, 0.0, 0.0],
        "loads": [("load400", 400.0, "A")],
        "solar_phases": ["A"],
        "steps": [(28.0, ("load", 1)), (56.0, ("solar", 900.0)), (84.0, ("load", 1)),
                  (112.0, ("solar", 0.0))],
    },
    "two_venus": {
        "desc": "2 Venus on phase A: +300 start, +1000, -1800 solar, -1000, +1800",
        "batteries": [("A", "HMG-50"), ("A", "HMG-50")],
        "base": [300.0, 0.0, 0.0],
        "loads": [("load1000", 1000.0, "A")],
        "solar_phases": ["A"],
        "steps": [(28.0, ("load", 1)), (56.0, ("solar", 1800.0)), (84.0, ("load", 1)),
                  (112.0, ("solar", 0.0))],
    },
    "three_phase": {
        "desc": "3 Venus on A/B/C: +300 start (100 each), +1000 on A, -1800 solar (3 phases),"
                " -1000, +1800",
        "batteries": [("A", "HMG-50"), ("B", "HMG-50"), ("C", "HMG-50")],
        "base": [100.0, 100.0, 100.0],
        "loads": [("load1000", 1000.0, "A")],
        "solar_phases": ["A", "B", "C"],
        "steps": [(28.0, ("load", 1)), (56.0, ("solar", 1800.0)), (84.0, ("load", 1)),
                  (112.0, ("solar", 0.0))],
    },
}
DURATION_S = 140.0

STUB = '''class _Unused:
    def __getattr__(self, name): return _Unused()
    def __call__(self, *a, **k): return _Unused()
    def __or__(self, o): return _Unused()
    __ror__ = __or__
    def __mro_entries__(self, bases): return (object,)
def __getattr__(name):
    if name.startswith('__'): raise AttributeError(name)
    return _Unused()
'''
# jsonpath_ng.ext.parse for the `$.key` paths of the [JSON_HTTP] meter used here.
JSONPATH_STUB = '''class _Match:
    def __init__(self, v): self.value = v
class _Path:
    def __init__(self, p):
        if not p.startswith('$.'): raise ValueError('stub supports $.key only: ' + p)
        self.keys = p[2:].split('.')
    def find(self, data):
        for k in self.keys:
            if not isinstance(data, dict) or k not in data: return []
            data = data[k]
        return [_Match(data)]
def parse(p): return _Path(p)
'''
STUB_MODULES = ["aiomqtt", "pymodbus", "pymodbus.client", "pymodbus.constants",
                "pymodbus.payload", "serial_asyncio_fast", "smllib", "smllib.const",
                "smllib.errors"]


# aiohttp names newer than Debian 12's python3-aiohttp (3.8) that the reference imports at
# module level but never uses on this path (digest auth of its Shelly meter).
COMPAT = """import aiohttp
class _Unused:
    def __init__(self, *a, **k): pass
for _n in ('DigestAuthMiddleware',):
    if not hasattr(aiohttp, _n):
        setattr(aiohttp, _n, _Unused)
"""


def write_stubs(d):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "plant_compat.py"), "w") as f:
        f.write(COMPAT)
    for m in STUB_MODULES + ["jsonpath_ng"]:
        p = os.path.join(d, *m.split("."))
        os.makedirs(p, exist_ok=True)
        with open(os.path.join(p, "__init__.py"), "w") as f:
            f.write(STUB if m != "jsonpath_ng" else "")
    p = os.path.join(d, "jsonpath_ng", "ext")
    os.makedirs(p, exist_ok=True)
    with open(os.path.join(p, "__init__.py"), "w") as f:
        f.write(JSONPATH_STUB)


# ---- ports ----------------------------------------------------------------------------

_procs_lock = threading.Lock()
_all_procs = []  # every child started, so that an interrupted run leaves none behind


def kill_all(*_):
    with _procs_lock:
        for p in _all_procs:
            if p.poll() is None:
                p.kill()
    os._exit(130)


_port_lock = threading.Lock()
_ports_taken = set()


def free_ports(host):
    """A UDP port free on every address and a TCP port free on host."""
    with _port_lock:
        for _ in range(200):
            u, t = random.randint(40000, 59999), random.randint(40000, 59999)
            if u in _ports_taken or t in _ports_taken or u == t:
                continue
            try:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.bind(("0.0.0.0", u))
                s.close()
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.bind((host, t))
                s.close()
            except OSError:
                continue
            _ports_taken.update((u, t))
            return u, t
    raise RuntimeError("no free loopback ports")


def udp_bound(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("0.0.0.0", port))
        return False
    except OSError as e:
        return e.errno == errno.EADDRINUSE
    finally:
        s.close()


# ---- HTTP -----------------------------------------------------------------------------

def http(host, port, path, body=None, timeout=2.0):
    url = f"http://{host}:{port}{path}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


# ---- one run ----------------------------------------------------------------------------

class Run:
    """One controller on one plant for one scenario: processes, the script, the samples."""

    def __init__(self, args, sc_name, ctl, host, workdir):
        self.args, self.sc_name, self.sc, self.ctl = args, sc_name, SCENARIOS[sc_name], ctl
        self.host, self.dir = host, workdir
        self.procs = []
        self.samples = []  # (t, grid_total, [battery powers], [socs])
        self.error = None

    def start_controller(self, ct_port, http_port):
        url = f"http://{self.host}:{http_port}/power"
        if self.ctl == "ref":
            cfg = (f"[GENERAL]\nDEVICE_TYPE = ct002\nSKIP_POWERMETER_TEST = True\n"
                   f"ENABLE_WEB_SERVER = False\n\n[CT002]\nUDP_PORT = {ct_port}\n"
                   f"ACTIVE_CONTROL = True\n\n[JSON_HTTP]\nURL = {url}\n"
                   f"JSON_PATHS = $.phase_a,$.phase_b,$.phase_c\n")
            path = os.path.join(self.dir, "ref.ini")
            with open(path, "w") as f:
                f.write(cfg)
            cmd = [self.args.python, "-c", "import plant_compat; from astrameter.main import main; main()",
                   "-c", path]
        else:
            extra = ""
            if ":" in self.ctl:
                for kv in self.ctl.split(":", 1)[1].split(","):
                    k, _, v = kv.partition("=")
                    extra += f"{k.strip()} = {v.strip()}\n"
            cfg = (f"[GENERAL]\nDEVICE_TYPE = ct002\nSKIP_POWERMETER_TEST = True\n"
                   f"ENABLE_WEB_SERVER = False\n\n[CT002]\nUDP_PORT = {ct_port}\n"
                   f"ACTIVE_CONTROL = True\n{extra}\n[JSON_HTTP]\nURL = {url}\n"
                   f"JSON_PATHS = $.phase_a,$.phase_b,$.phase_c\n")
            path = os.path.join(self.dir, "ours.ini")
            with open(path, "w") as f:
                f.write(cfg)
            cmd = [self.args.daemon, "-c", path, "--loglevel", "warning"]
        self.spawn("controller", cmd)

    def start_plant(self, ct_port, http_port):
        sc = self.sc
        bats = []
        for i, (ph, dev) in enumerate(sc["batteries"]):
            bats.append({"mac": f"02B25{self.args.mac_tag}{i + 1:06X}", "phase": ph,
                         "meter_dev_type": dev, "initial_soc": 0.5})
        cfg = {
            # The batteries use connected UDP sockets, and both controllers answer from a
            # wildcard-bound socket (source 127.0.0.1): the CT must be 127.0.0.1.
            "ct": {"host": "127.0.0.1", "port": ct_port},
            "http": {"host": self.host, "port": http_port},
            "batteries": bats,
            "powermeter": {
                "base_load": sc["base"], "base_noise": 20.0,
                "loads": [{"name": n, "power": w, "phase": p} for n, w, p in sc["loads"]],
                "solar_max": 5000.0, "solar_phases": sc["solar_phases"],
            },
            "log_interval": 3600.0,
        }
        path = os.path.join(self.dir, "plant.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        cmd = [self.args.python, "-c",
               "import sys, plant_compat; from astrameter.simulator.cli import main; "
               "sys.argv = ['astra-sim'] + sys.argv[1:]; main()",
               "run", "--config", path, "--no-tui"]
        self.spawn("plant", cmd)

    @staticmethod
    def _die_with_us():
        # Each child has its own session (a Ctrl-C reaches only this driver, which stops
        # them in order), but must still end when the thread that started it does, however
        # that happens (SIGKILL included): PR_SET_PDEATHSIG. run() starts and stops its
        # processes on one thread, so that thread outlives them.
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)

    def spawn(self, name, cmd):
        env = dict(os.environ)
        env["PYTHONPATH"] = f"{self.args.stubs}:{os.path.join(self.args.ref, 'src')}"
        log = open(os.path.join(self.dir, name + ".log"), "w")
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             env=env, cwd=self.dir, start_new_session=True,
                             preexec_fn=self._die_with_us)
        log.close()
        self.procs.append((name, p))
        with _procs_lock:
            _all_procs.append(p)

    def stop(self):
        for name, p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p in reversed(self.procs):
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def run(self):
        try:
            ct_port, http_port = free_ports(self.host)
            self.start_controller(ct_port, http_port)
            deadline = time.monotonic() + 30
            while not udp_bound(ct_port):
                if time.monotonic() > deadline or self.procs[0][1].poll() is not None:
                    raise RuntimeError(f"{self.ctl}: controller did not bind UDP {ct_port}")
                time.sleep(0.1)
            self.start_plant(ct_port, http_port)
            deadline = time.monotonic() + 30
            while True:
                try:
                    http(self.host, http_port, "/status")
                    break
                except OSError:
                    if time.monotonic() > deadline or self.procs[1][1].poll() is not None:
                        raise RuntimeError("plant did not start")
                    time.sleep(0.05)
            t0 = time.monotonic()
            steps = list(self.sc["steps"])
            nxt = 0.0
            while True:
                t = time.monotonic() - t0
                if t >= DURATION_S:
                    break
                while steps and steps[0][0] <= t:
                    _, (kind, v) = steps.pop(0)
                    if kind == "load":
                        http(self.host, http_port, f"/loads/{v}/toggle", {})
                    else:
                        http(self.host, http_port, "/solar", {"watts": v})
                st = http(self.host, http_port, "/status")
                self.samples.append((time.monotonic() - t0, st["grid"]["total"],
                                     [b["power"] for b in st["batteries"]],
                                     [b["soc"] for b in st["batteries"]]))
                nxt += SAMPLE_S
                time.sleep(max(0.0, nxt - (time.monotonic() - t0)))
            for name, p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited early ({p.returncode})")
        except Exception as e:  # reported per run, the others go on
            self.error = f"{self.ctl} {self.sc_name}: {e}"
        finally:
            self.stop()


# ---- metrics ----------------------------------------------------------------------------

def settle_time(s, t0, t1):
    cand = None
    for t, g, *_ in s:
        if t < t0 or t > t1:
            continue
        if abs(g) < SETTLE_BAND_W:
            if cand is None:
                cand = t
            if t - cand >= SETTLE_HOLD_S:
                return cand - t0
        else:
            cand = None
    return None


def metrics(sc, s):
    marks = [0.0] + [t for t, _ in sc["steps"]]
    settle, over = [], []
    unsettled = 0
    for k, t0 in enumerate(marks):
        t1 = marks[k + 1] if k + 1 < len(marks) else DURATION_S
        win = [x for x in s if t0 <= x[0] <= t1]
        # The step's sign: the grid just after it (before any battery can react).
        first = [x for x in win if x[0] <= t0 + 0.6]
        if not first:
            continue
        e0 = max((x[1] for x in first), key=abs)
        if abs(e0) < SETTLE_BAND_W:
            continue
        st = settle_time(s, t0, t1)
        if st is None:
            unsettled += 1
            st = t1 - t0
        settle.append(st)
        sign = 1.0 if e0 > 0 else -1.0
        over.append(max([0.0] + [-sign * x[1] for x in win]))
    crossings, state = 0, 0
    for _, g, *_ in s:
        if g > OSC_BAND_W:
            crossings += state == -1
            state = 1
        elif g < -OSC_BAND_W:
            crossings += state == 1
            state = -1
    imp = exp_ = imb = rms_sq = 0.0
    rms_n = 0
    phases = [ph for ph, _ in sc["batteries"]]
    groups = [[i for i, p in enumerate(phases) if p == ph] for ph in "ABC"]
    groups = [g for g in groups if len(g) > 1]
    imb_t = 0.0
    for i in range(1, len(s)):
        dt = min(s[i][0] - s[i - 1][0], 1.0)
        g = s[i - 1][1]
        if g > 0:
            imp += g * dt / 3600.0
        else:
            exp_ += -g * dt / 3600.0
        for grp in groups:
            pw = [s[i - 1][2][k] for k in grp]
            fair = sum(pw) / len(pw)
            imb += sum(abs(p - fair) for p in pw) * dt
        imb_t += dt
    for k, t0 in enumerate(marks):
        t1 = marks[k + 1] if k + 1 < len(marks) else DURATION_S
        for x in s:
            if t1 - STEADY_TAIL_S <= x[0] < t1:
                rms_sq += x[1] * x[1]
                rms_n += 1
    dur_min = (s[-1][0] - s[0][0]) / 60.0 if len(s) > 1 else 1.0
    return {
        "overshoot_max_w": round(max(over) if over else 0.0, 1),
        "settle_mean_s": round(statistics.mean(settle) if settle else 0.0, 2),
        "unsettled": unsettled,
        "crossings_per_min": round(crossings / dur_min, 2),
        "imbalance_w": round(imb / imb_t, 1) if groups and imb_t > 0 else None,
        "import_wh": round(imp, 2),
        "export_wh": round(exp_, 2),
        "steady_rms_w": round(math.sqrt(rms_sq / rms_n), 1) if rms_n else 0.0,
    }


METRICS = ["overshoot_max_w", "settle_mean_s", "crossings_per_min", "imbalance_w",
           "import_wh", "export_wh", "steady_rms_w", "unsettled"]


def summarise(results, controllers, base):
    """Per scenario: per controller mean ± sd over repeats, and the ratio to `base`."""
    out = {}
    for sc in SCENARIOS:
        rows = [r for r in results if r["scenario"] == sc and "metrics" in r]
        if not rows:
            continue
        out[sc] = {}
        for c in controllers:
            ms = [r["metrics"] for r in rows if r["controller"] == c]
            if not ms:
                continue
            agg = {}
            for m in METRICS:
                v = [x[m] for x in ms if x[m] is not None]
                if v:
                    agg[m] = {"mean": round(statistics.mean(v), 2),
                              "sd": round(statistics.stdev(v), 2) if len(v) > 1 else 0.0,
                              "min": min(v), "max": max(v), "n": len(v)}
            out[sc][c] = agg
    for sc, per in out.items():
        if base not in per:
            continue
        for c, agg in per.items():
            for m, a in agg.items():
                b = per[base].get(m)
                if b and b["mean"] > 0:
                    a["ratio"] = round(a["mean"] / b["mean"], 2)
    return out


def print_summary(summary, controllers, base):
    for sc, per in summary.items():
        print(f"\n{sc}: {SCENARIOS[sc]['desc']}")
        print(f"  {'metric':<18}" + "".join(f"{c[:30]:>34}" for c in controllers))
        for m in METRICS:
            cells = []
            for c in controllers:
                a = per.get(c, {}).get(m)
                if not a:
                    cells.append(f"{'-':>34}")
                    continue
                txt = f"{a['mean']:.1f} ±{a['sd']:.1f} [{a['min']:.0f}..{a['max']:.0f}]"
                if c != base and "ratio" in a:
                    txt += f" {a['ratio']:.2f}x"
                cells.append(f"{txt:>34}")
            print(f"  {m:<18}" + "".join(cells))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ref", required=False, help="checkout of tomquist/AstraMeter")
    ap.add_argument("--daemon", default=os.path.join(ROOT, "build", "release", "astrameter"))
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    ap.add_argument("--controller", action="append",
                    help="ours | ours:KEY=VAL,... | ref (repeatable; default ours and ref)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", help="write every run's metrics and the summary here")
    ap.add_argument("--traces", help="also write each run's samples to this directory")
    ap.add_argument("--input", help="summarise a saved --json file instead of running")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (configs, logs)")
    args = ap.parse_args()
    controllers = args.controller or ["ours", "ref"]
    base = "ref" if "ref" in controllers else controllers[0]
    if args.input:
        with open(args.input) as f:
            data = json.load(f)
        controllers = data["controllers"]
        base = data["base"]
        print_summary(summarise(data["runs"], controllers, base), controllers, base)
        return 0
    if not args.ref or not os.path.isdir(os.path.join(args.ref, "src", "astrameter")):
        ap.error("--ref must be a checkout of the reference (with src/astrameter)")
    if any(c != "ref" for c in controllers) and not os.access(args.daemon, os.X_OK):
        ap.error(f"{args.daemon}: not executable (build the release preset)")
    scenarios = args.scenario or list(SCENARIOS)
    signal.signal(signal.SIGINT, kill_all)
    signal.signal(signal.SIGTERM, kill_all)
    signal.signal(signal.SIGHUP, kill_all)
    tmp = tempfile.mkdtemp(prefix="second-plant-")
    args.stubs = os.path.join(tmp, "stubs")
    write_stubs(args.stubs)
    args.mac_tag = "%X" % random.randint(1, 15)
    results = []
    host_n = random.randint(20, 200)
    try:
        for rep in range(args.repeats):
            for sc in scenarios:
                runs = []
                for i, c in enumerate(controllers):
                    d = os.path.join(tmp, f"{sc}-r{rep}-c{i}")
                    os.makedirs(d)
                    host = f"127.0.{host_n}.{10 + i}"
                    runs.append(Run(args, sc, c, host, d))
                threads = [threading.Thread(target=r.run) for r in runs]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                for r in runs:
                    row = {"scenario": sc, "controller": r.ctl, "repeat": rep}
                    if r.error or len(r.samples) < 100:
                        row["error"] = r.error or f"only {len(r.samples)} samples"
                        print(f"run failed: {row['error']} (logs in {r.dir})", file=sys.stderr)
                        args.keep = True
                    else:
                        row["metrics"] = metrics(SCENARIOS[sc], r.samples)
                        print(f"{sc} r{rep} {r.ctl}: {json.dumps(row['metrics'])}", flush=True)
                    if args.traces:
                        os.makedirs(args.traces, exist_ok=True)
                        fn = f"{sc}-r{rep}-{r.ctl.replace(':', '_').replace('=', '-')}.csv"
                        with open(os.path.join(args.traces, fn), "w") as f:
                            f.write("t,grid,powers\n")
                            for t, g, p, _ in r.samples:
                                f.write(f"{t:.2f},{g},{' '.join(str(x) for x in p)}\n")
                    results.append(row)
    finally:
        if args.keep:
            print(f"temp dir kept: {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    summary = summarise(results, controllers, base)
    print_summary(summary, controllers, base)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"controllers": controllers, "base": base, "runs": results,
                       "summary": summary}, f, indent=1)
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
