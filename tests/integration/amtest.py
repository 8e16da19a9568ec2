# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared helpers for the integration tests: run the real astrameter binary on loopback
against real peers (a local HTTP meter, UDP batteries), with the Python standard library
only. Each test file is one program; it exits non-zero on the first failed check and
prints 'N passed, N failed' at the end."""

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

AM_BIN = os.environ.get("AM_BIN", os.path.join(os.path.dirname(__file__), "../../build/release/astrameter"))
AM_SRC = os.environ.get("AM_SRC", os.path.join(os.path.dirname(__file__), "../.."))


# ---------------------------------------------------------------- CT002 wire format

def ct_frame(fields):
    """Builds a CT002 frame: SOH STX <len> |f1|f2... ETX <xor as 2 lowercase hex>."""
    body = ("|" + "|".join(fields)).encode("ascii")
    # The length counts SOH, STX, its own digits, the body, ETX and 2 checksum chars.
    for width in range(1, 5):
        total = 2 + width + len(body) + 1 + 2
        if len(str(total)) == width:
            break
    head = b"\x01\x02" + str(total).encode() + body + b"\x03"
    x = 0
    for b in head:
        x ^= b
    return head + ("%02x" % x).encode()


def ct_parse(data):
    """Parses and fully validates a CT002 frame; returns the list of fields."""
    assert data[0:2] == b"\x01\x02", data
    bar = data.index(b"|")
    length = int(data[2:bar])
    assert length == len(data), (length, len(data), data)
    assert data[-3] == 3, data
    x = 0
    for b in data[:-2]:
        x ^= b
    assert data[-2:].decode() == "%02x" % x, ("checksum", data)
    return data[bar + 1:-3].decode("ascii").split("|")


def ct_request(mac="aabbccddeeff", phase="A", power=0, ct_mac="112233445566", dev="HMG-50",
               ct_type="HME-4", participate=None):
    f = [dev, mac, ct_type, ct_mac, phase, str(power)]
    if participate is not None:
        f.append(str(participate))
    return ct_frame(f)


# ---------------------------------------------------------------- UDP clients

class Udp:
    def __init__(self, port, host="127.0.0.1", bind_port=0):
        self.addr = (host, port)
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", bind_port))

    def ask(self, payload, timeout=3.0):
        """Sends payload, returns (reply bytes or None, seconds)."""
        self.s.settimeout(timeout)
        t0 = time.monotonic()
        self.s.sendto(payload, self.addr)
        try:
            data, _ = self.s.recvfrom(65536)
            return data, time.monotonic() - t0
        except socket.timeout:
            return None, time.monotonic() - t0

    def send(self, payload):
        self.s.sendto(payload, self.addr)

    def recv(self, timeout):
        self.s.settimeout(timeout)
        try:
            return self.s.recvfrom(65536)[0]
        except socket.timeout:
            return None

    def close(self):
        self.s.close()


def shelly_request(method="EM.GetStatus", rid=1):
    return json.dumps({"id": rid, "src": "cli", "method": method, "params": {"id": 0}}).encode()


# ---------------------------------------------------------------- HTTP meter

class Meter:
    """A local HTTP server standing in for a meter. `routes` maps a path to a callable
    returning (status, body bytes, content type) or to a fixed JSON-able value; `delay`
    makes every response slow; `dead` makes it hang until stopped."""

    def __init__(self, routes=None):
        self.routes = dict(routes or {})
        self.delay = 0.0
        self.hang = False
        self.requests = []
        meter = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                meter.requests.append((self.path, dict(self.headers)))
                if meter.hang:
                    time.sleep(5)
                    return
                if meter.delay:
                    time.sleep(meter.delay)
                path = self.path.split("?")[0]
                r = meter.routes.get(self.path, meter.routes.get(path))
                if r is None:
                    status, body, ctype = 404, b"not found", "text/plain"
                elif callable(r):
                    status, body, ctype = r(self)
                else:
                    status, body, ctype = 200, json.dumps(r).encode(), "application/json"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the daemon gave up on a slow answer, as it should

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/power"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def set_power(self, a, b=0.0, c=0.0, path="/power"):
        self.routes[path] = {"phase_a": a, "phase_b": b, "phase_c": c}

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- the daemon

def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Daemon:
    """Runs the real binary with a config text; stderr is collected in a file."""

    def __init__(self, config_text, args=("-t",), loglevel="debug", env=None, prefix=()):
        self.dir = tempfile.mkdtemp(prefix="amtest-")
        self.config = os.path.join(self.dir, "config.ini")
        with open(self.config, "w") as f:
            f.write(config_text)
        self.log_path = os.path.join(self.dir, "stderr.log")
        self.log = open(self.log_path, "w+b")
        e = dict(os.environ)
        e.update(env or {})
        # prefix: a command the binary runs under (e.g. unshare with private mounts).
        self.proc = subprocess.Popen(list(prefix) + [AM_BIN, "-c", self.config, "--loglevel", loglevel] + list(args),
                                     stdout=subprocess.DEVNULL, stderr=self.log, env=e)

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, needle, timeout=5.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if needle in self.output():
                return True
            if self.proc.poll() is not None:
                return needle in self.output()
            time.sleep(0.02)
        return False

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def run_cli(args, timeout=20):
    p = subprocess.run([AM_BIN] + list(args), capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def write_config(text):
    d = tempfile.mkdtemp(prefix="amtest-")
    path = os.path.join(d, "config.ini")
    with open(path, "w") as f:
        f.write(text)
    return path


# ---------------------------------------------------------------- a tiny test runner

class Runner:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def run(self, tests):
        for t in tests:
            name = t.__name__
            t0 = time.monotonic()
            try:
                t()
                self.passed += 1
                print("ok   %-55s %.2fs" % (name, time.monotonic() - t0), flush=True)
            except Exception:
                self.failed += 1
                print("FAIL %s" % name, flush=True)
                traceback.print_exc()
        print("%d passed, %d failed" % (self.passed, self.failed), flush=True)
        sys.exit(1 if self.failed else 0)


def check(cond, msg=""):
    if not cond:
        raise AssertionError(msg)
