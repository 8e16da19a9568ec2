# SPDX-License-Identifier: GPL-3.0-or-later
"""The SCRIPT meter through the real daemon (value, timeout, failure), and a leak check:
the daemon under valgrind answers batteries, gets SIGTERM, and must exit 0 with no leak."""

import os
import shutil
import stat
import subprocess
import tempfile
import time

from amtest import AM_BIN, Daemon, Meter, Runner, Udp, check, ct_parse, ct_request, free_udp_port


def script(body):
    d = tempfile.mkdtemp(prefix="amtest-")
    p = os.path.join(d, "meter.sh")
    with open(p, "w") as f:
        f.write("#!/bin/sh\n" + body + "\n")
    os.chmod(p, stat.S_IRWXU)
    return p


def test_script_meter_values_timeout_and_failure():
    p = script('echo 120.4; echo -30; echo 0')
    port = free_udp_port()
    d = Daemon(f"[GENERAL]\nDEVICE_TYPE = ct002\n[CT002]\nUDP_PORT = {port}\nACTIVE_CONTROL = False\n"
               f"[SCRIPT]\nCOMMAND = {p}\n")
    try:
        check(d.wait_log("running", 5), d.output())
        r, _ = Udp(port).ask(ct_request())
        check(ct_parse(r)[4:8] == ["120", "-30", "0", "90"], ct_parse(r))
    finally:
        check(d.stop() == 0)
    slow = script("sleep 30; echo 1")
    d = Daemon(f"[GENERAL]\nDEVICE_TYPE = ct002\n[CT002]\nUDP_PORT = {port}\nACTIVE_CONTROL = False\n"
               f"[SCRIPT]\nCOMMAND = {slow}\nTIMEOUT = 1\n")
    try:
        check(d.wait_log("running", 5), d.output())
        r, dt = Udp(port).ask(ct_request())
        check(r is not None and ct_parse(r)[4:8] == ["0", "0", "0", "0"], r)
        check(dt < 2.5, dt)
    finally:
        check(d.stop() == 0)
    bad = script("echo not-a-number; exit 3")
    d = Daemon(f"[GENERAL]\nDEVICE_TYPE = ct002\n[CT002]\nUDP_PORT = {port}\nACTIVE_CONTROL = False\n"
               f"[SCRIPT]\nCOMMAND = {bad}\n")
    try:
        check(d.wait_log("running", 5), d.output())
        r, _ = Udp(port).ask(ct_request())
        check(ct_parse(r)[4:8] == ["0", "0", "0", "0"], r)
        check(d.alive())
    finally:
        check(d.stop() == 0)


def test_no_leak_after_sigterm_under_valgrind():
    if not shutil.which("valgrind"):
        raise AssertionError("valgrind is required (scripts/install-deps.sh installs it)")
    m = Meter()
    m.set_power(10, 20, 30)
    port = free_udp_port()
    cfgdir = tempfile.mkdtemp(prefix="amtest-")
    cfg = os.path.join(cfgdir, "config.ini")
    with open(cfg, "w") as f:
        f.write(f"[GENERAL]\nDEVICE_TYPE = ct002, shellyproem50\n[CT002]\nUDP_PORT = {port}\n"
                f"ACTIVE_CONTROL = False\n[JSON_HTTP]\nURL = {m.url()}\nJSON_PATHS = $.phase_a,$.phase_b,$.phase_c\n")
    log = os.path.join(cfgdir, "vg.log")
    p = subprocess.Popen(["valgrind", "--leak-check=full", "--show-leak-kinds=definite,indirect",
                          "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99",
                          "--log-file=" + log, AM_BIN, "-c", cfg, "-t"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        u = Udp(port)
        got = None
        end = time.monotonic() + 30
        while got is None and time.monotonic() < end:
            got, _ = u.ask(ct_request(), timeout=1)
        check(got is not None, "no reply under valgrind")
        for i in range(20):
            u.ask(ct_request(mac="0000000000%02x" % i, phase="ABC"[i % 3], power=i))
        u.ask(b"\x01\x02garbage", timeout=0.2)
        s = Udp(2223)
        check(s.ask(b'{"id":1,"method":"EM.GetStatus","params":{"id":0}}', timeout=5)[0] is not None)
    finally:
        p.terminate()
        rc = p.wait(60)
        m.stop()
    text = open(log).read()
    check(rc == 0, ("valgrind exit", rc, text[-3000:]))
    check("definitely lost: 0 bytes" in text or "no leaks are possible" in text, text[-3000:])


if __name__ == "__main__":
    Runner().run([
        test_script_meter_values_timeout_and_failure,
        test_no_leak_after_sigterm_under_valgrind,
    ])
