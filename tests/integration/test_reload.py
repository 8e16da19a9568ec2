# SPDX-License-Identifier: GPL-3.0-or-later
"""SIGHUP never silences a battery and never stops the daemon. Batteries poll all the
time (several, each on its own socket); every request must be answered across every
reload: during a meter outage (HTTP 500, then a closed port) with the hold answer, with a
broken config (the running setup is kept and the error names section, key and value),
with a changed valid config (applied: new meter values, a moved CT port that frees the
old one), with a new CT port that another program holds (refused, old kept), and on a
Shelly device's fixed port (so this file holds the fixed_ports lock)."""

import json
import os
import signal
import socket
import threading
import time

from amtest import Daemon, Meter, Runner, check, ct_parse, ct_request, free_udp_port


def config(meter_url, udp, general="", ct=""):
    return f"""[GENERAL]
DEVICE_TYPE = ct002
ENABLE_WEB_SERVER = False
{general}

[CT002]
UDP_PORT = {udp}
ACTIVE_CONTROL = False
{ct}

[JSON_HTTP]
URL = {meter_url}
JSON_PATHS = $.phase_a,$.phase_b,$.phase_c
"""


class Batteries:
    """n batteries asking port every `period` s, each waiting up to `timeout` s for its
    answer. Records (time, answer fields or None)."""

    def __init__(self, port, n=3, period=0.05, timeout=2.0):
        self.port = port
        self.stop_ev = threading.Event()
        self.log = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i, period, timeout))
                        for i in range(n)]
        for t in self.threads:
            t.start()

    def run(self, i, period, timeout):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.settimeout(timeout)
        k = 0
        while not self.stop_ev.is_set():
            k += 1
            s.sendto(ct_request(mac="aabbccdd%02x%02x" % (i, k % 256)), ("127.0.0.1", self.port))
            try:
                data, _ = s.recvfrom(4096)
                ans = ct_parse(data)[4:8]
            except socket.timeout:
                ans = None
            with self.lock:
                self.log.append((time.monotonic(), ans))
            self.stop_ev.wait(period)
        s.close()

    def since(self, t0):
        with self.lock:
            return [a for t, a in self.log if t >= t0]

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join()


def wait_answers(b, t0, want, timeout=5.0):
    """Waits until a battery asking after t0 got want."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if want in b.since(t0):
            return True
        time.sleep(0.05)
    return False


def hup(d, n_before, timeout=5.0):
    """Sends SIGHUP and waits for the reload's verdict line; returns it."""
    d.proc.send_signal(signal.SIGHUP)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        lines = [l for l in d.output().splitlines()
                 if "configuration reloaded" in l or "reload refused" in l]
        if len(lines) > n_before:
            return lines[-1]
        if not d.alive():
            break
        time.sleep(0.02)
    raise AssertionError("no reload verdict (alive: %s):\n%s" % (d.alive(), d.output()))


def rewrite(d, text):
    tmp = d.config + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, d.config)


HOLD = ["0", "0", "0", "0"]


def test_reload_during_meter_outage_keeps_answering():
    m = Meter()
    m.set_power(800)
    udp = free_udp_port()
    d = Daemon(config(m.url(), udp), args=())  # with the startup self-test
    b = None
    try:
        check(d.wait_log("running", 10), d.output())
        b = Batteries(udp)
        check(wait_answers(b, 0, ["800", "0", "0", "800"]), "no reading before the outage")
        # The meter fails: HTTP 500.
        m.routes["/power"] = lambda h: (500, b"boom", "text/plain")
        t_out = time.monotonic()
        check(wait_answers(b, t_out, HOLD), "no hold answer during the outage")
        n = 0
        for i in range(4):
            line = hup(d, n)
            n += 1
            check("configuration reloaded" in line, line)
            time.sleep(0.3)
        # Then the meter's port closes altogether, and more reloads.
        m.stop()
        for i in range(3):
            line = hup(d, n)
            n += 1
            check("configuration reloaded" in line, line)
            time.sleep(0.3)
        time.sleep(1.0)
        check(d.alive(), "daemon exited:\n" + d.output())
        ans = b.since(t_out)
        lost = sum(1 for a in ans if a is None)
        print("    %d requests during the outage and 7 reloads, %d unanswered" % (len(ans), lost))
        check(lost == 0, "%d of %d requests unanswered:\n%s" % (lost, len(ans), d.output()))
        settled = b.since(t_out + 1.0)
        check(all(a == HOLD for a in settled), "not all hold answers: %r" % settled[:20])
        after = d.output().split("reloading the configuration", 1)[1]
        check("self-test" not in after, "a reload ran the self-test:\n" + after)
    finally:
        if b:
            b.stop()
        rc = d.stop()
        check(rc == 0, "exit code %s" % rc)


def test_broken_config_keeps_the_running_setup():
    m = Meter()
    m.set_power(120)
    udp = free_udp_port()
    d = Daemon(config(m.url(), udp))
    b = None
    try:
        check(d.wait_log("running", 8), d.output())
        b = Batteries(udp)
        t0 = time.monotonic()
        check(wait_answers(b, 0, ["120", "0", "0", "120"]), "no reading")
        m.set_power(60, path="/other")
        rewrite(d, config(m.url("/other"), udp, general="THROTTLE_INTERVAL = banana"))
        line = hup(d, 0)
        check("reload refused" in line, line)
        check("THROTTLE_INTERVAL" in line and "banana" in line and "GENERAL" in line, line)
        check("keeping the running setup" in line, line)
        t1 = time.monotonic()
        time.sleep(0.5)
        # Still the old setup: the old URL's value.
        check(wait_answers(b, t1, ["120", "0", "0", "120"]), "old setup not kept")
        check(["60", "0", "0", "60"] not in b.since(t1), "new URL used although refused")
        # A bad value in a device section: named too.
        rewrite(d, config(m.url("/other"), udp, ct="CONSUMER_TTL = -3"))
        line = hup(d, 1)
        check("reload refused" in line and "CONSUMER_TTL" in line and "-3" in line, line)
        ans = b.since(t0)
        check(all(a is not None for a in ans), "requests unanswered:\n" + d.output())
        check(d.alive(), d.output())
    finally:
        if b:
            b.stop()
        check(d.stop() == 0, "exit code")
        m.stop()


def test_valid_change_is_applied_and_a_moved_port_released():
    m = Meter()
    m.set_power(120)
    m.set_power(-45, path="/other")
    udp, udp2 = free_udp_port(), free_udp_port()
    d = Daemon(config(m.url(), udp))
    b = None
    try:
        check(d.wait_log("running", 8), d.output())
        b = Batteries(udp)
        check(wait_answers(b, 0, ["120", "0", "0", "120"]), "no reading")
        # Same port, another meter URL: applied, and nobody goes unanswered.
        t0 = time.monotonic()
        rewrite(d, config(m.url("/other"), udp))
        line = hup(d, 0)
        check("configuration reloaded" in line, line)
        check(wait_answers(b, t0, ["-45", "0", "0", "-45"]), "new config not applied")
        time.sleep(0.3)
        b.stop()
        ans = b.since(t0)
        check(ans and all(a is not None for a in ans), "requests unanswered:\n" + d.output())
        # The CT port moves: the new one answers, the old one is free again.
        rewrite(d, config(m.url("/other"), udp2))
        line = hup(d, 1)
        check("configuration reloaded" in line, line)
        b = Batteries(udp2, n=1)
        check(wait_answers(b, 0, ["-45", "0", "0", "-45"]), "new port does not answer")
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", udp))  # raises if the old port were still held
        # A new port that another program holds: refused, the running port kept.
        rewrite(d, config(m.url(), udp))
        line = hup(d, 2)
        check("reload refused" in line and "udp/%d" % udp in line and "in use" in line, line)
        s.close()
        t1 = time.monotonic()
        time.sleep(0.3)
        check(wait_answers(b, t1, ["-45", "0", "0", "-45"]), "old setup not kept")
        check(d.alive(), d.output())
    finally:
        if b:
            b.stop()
        check(d.stop() == 0, "exit code")
        m.stop()


def test_shelly_port_handed_over():
    """A Shelly device (EM gen3, fixed UDP 2222) keeps answering across reloads too."""
    m = Meter()
    m.set_power(250)
    d = Daemon(config(m.url(), free_udp_port(), general="").replace(
        "DEVICE_TYPE = ct002", "DEVICE_TYPE = ct002, shellyemg3"))
    try:
        check(d.wait_log("listening on UDP port 2222", 8), d.output())
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.settimeout(2)
        stop = threading.Event()
        got = []

        def poll():
            k = 0
            while not stop.is_set():
                k += 1
                s.sendto(json.dumps({"id": k, "src": "t", "method": "EM1.GetStatus",
                                     "params": {"id": 0}}).encode(), ("127.0.0.1", 2222))
                try:
                    got.append(json.loads(s.recvfrom(4096)[0])["id"] == k)
                except socket.timeout:
                    got.append(False)
                stop.wait(0.05)

        t = threading.Thread(target=poll)
        t.start()
        try:
            time.sleep(0.3)
            for i in range(3):
                check("configuration reloaded" in hup(d, i), d.output())
                time.sleep(0.3)
        finally:
            stop.set()
            t.join()
            s.close()
        print("    shelly: %d requests across 3 reloads, %d unanswered"
              % (len(got), got.count(False)))
        check(got and all(got), "shelly requests unanswered:\n" + d.output())
    finally:
        check(d.stop() == 0, "exit code")
        m.stop()


if __name__ == "__main__":
    Runner().run([
        test_reload_during_meter_outage_keeps_answering,
        test_broken_config_keeps_the_running_setup,
        test_valid_change_is_applied_and_a_moved_port_released,
        test_shelly_port_handed_over,
    ])
