# SPDX-License-Identifier: GPL-3.0-or-later
"""systemd integration without systemd: the daemon is started the way systemd starts a
socket-activated Type=notify service. A small wrapper puts pre-bound sockets on fds 3.. and
sets LISTEN_FDS/LISTEN_PID to the pid it then execs the daemon as; NOTIFY_SOCKET points at
a datagram socket of ours, WATCHDOG_USEC asks for keep-alives. The daemon must serve the
batteries on the inherited UDP socket (it could not bind the port itself: the test keeps it
bound without SO_REUSEADDR), serve /health on an inherited TCP socket, survive a reload,
and tell the manager READY=1, WATCHDOG=1, RELOADING=1 and STOPPING=1."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from amtest import AM_BIN, Meter, Runner, Udp, check, ct_parse, ct_request

# Runs in the child: move the passed fds to 3.., set the activation env to our own pid
# (exec keeps it), then become the daemon.
WRAPPER = r"""
import fcntl, os, sys
fds = [int(x) for x in sys.argv[1].split(",")]
# First out of the way (fd 3.. may be among the sources), then into place.
high = [fcntl.fcntl(f, fcntl.F_DUPFD_CLOEXEC, 100) for f in fds]
for f in fds:
    os.close(f)
for i, f in enumerate(high):
    os.dup2(f, 3 + i, inheritable=True)
    os.set_inheritable(3 + i, True)
    os.close(f)
os.environ["LISTEN_FDS"] = str(len(fds))
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.argv[2], sys.argv[2:])
"""


def bound(kind, port=0):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("0.0.0.0", port))
    if kind == socket.SOCK_STREAM:
        s.listen(8)
    return s


class Activated:
    def __init__(self, config_text, socks, extra_env=None):
        self.dir = tempfile.mkdtemp(prefix="amtest-sa-")
        self.config = os.path.join(self.dir, "config.ini")
        with open(self.config, "w") as f:
            f.write(config_text)
        self.notify_path = os.path.join(self.dir, "notify")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.notify.settimeout(0.2)
        self.messages = []
        env = dict(os.environ)
        env["NOTIFY_SOCKET"] = self.notify_path
        env.update(extra_env or {})
        self.log_path = os.path.join(self.dir, "stderr.log")
        self.log = open(self.log_path, "w+b")
        fds = [s.fileno() for s in socks]
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WRAPPER, ",".join(map(str, fds)), AM_BIN, "-c", self.config,
             "-t", "--loglevel", "debug"],
            pass_fds=fds, env=env, stdout=subprocess.DEVNULL, stderr=self.log)

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def drain(self, want, timeout=5.0):
        """Collects notify messages until one contains want."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(want in m for m in self.messages):
                return True
            try:
                self.messages.append(self.notify.recv(4096).decode())
            except socket.timeout:
                pass
        return any(want in m for m in self.messages)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def config(meter, udp, web):
    return f"""[GENERAL]
DEVICE_TYPE = ct002
WEB_SERVER_PORT = {web}

[CT002]
UDP_PORT = {udp}
ACTIVE_CONTROL = False

[JSON_HTTP]
URL = {meter.url()}
JSON_PATHS = $.phase_a,$.phase_b,$.phase_c
"""


def test_serves_on_inherited_sockets_and_notifies():
    m = Meter()
    m.set_power(42, 1, 2)
    us, ts = bound(socket.SOCK_DGRAM), bound(socket.SOCK_STREAM)
    udp, web = us.getsockname()[1], ts.getsockname()[1]
    a = Activated(config(m, udp, web), [us, ts], {"WATCHDOG_USEC": "300000"})
    try:
        check(a.drain("READY=1"), "no READY=1:\n" + a.output() + repr(a.messages))
        # The test still holds both ports (no SO_REUSEADDR): serving proves the daemon
        # uses the inherited sockets instead of binding its own.
        u = Udp(udp)
        r, _ = u.ask(ct_request())
        check(r is not None and ct_parse(r)[4:8] == ["42", "1", "2", "45"], r)
        body = urllib.request.urlopen("http://127.0.0.1:%d/health" % web, timeout=3).read()
        check(b'"healthy"' in body, body)
        # Watchdog keep-alives at half the interval.
        a.messages = [x for x in a.messages if "WATCHDOG=1" not in x]
        t0 = time.monotonic()
        check(a.drain("WATCHDOG=1", 2), "no WATCHDOG=1")
        check(time.monotonic() - t0 < 0.4, "watchdog ping too late")
        # Reload: the devices are rebuilt and "bind" again - on the same inherited socket.
        a.proc.send_signal(signal.SIGHUP)
        check(a.drain("RELOADING=1"), "no RELOADING=1")
        a.messages = [x for x in a.messages if "READY=1" not in x]
        check(a.drain("READY=1"), "no READY=1 after reload:\n" + a.output())
        r, _ = u.ask(ct_request())
        check(r is not None, "no reply after reload:\n" + a.output())
        body = urllib.request.urlopen("http://127.0.0.1:%d/health" % web, timeout=3).read()
        check(b'"healthy"' in body, body)
        # The inherited fds are close-on-exec (script meters must not get them).
        pid = a.proc.pid
        fd3 = os.readlink("/proc/%d/fd/3" % pid)
        check(fd3.startswith("socket:"), fd3)
        with open("/proc/%d/fdinfo/3" % pid) as f:
            flags = int([l for l in f if l.startswith("flags:")][0].split()[1], 8)
        check(flags & 0o2000000, "fd 3 is not close-on-exec")
        u.close()
        check(a.stop() == 0, "exit code")
        check(a.drain("STOPPING=1", 1), "no STOPPING=1: %r" % a.messages)
    finally:
        a.stop()
        us.close()
        ts.close()
        m.stop()


def test_env_for_another_pid_is_ignored():
    """LISTEN_PID of someone else (e.g. inherited by a child): the sockets are not ours,
    the daemon binds the (free) port itself."""
    m = Meter()
    m.set_power(7)
    us = bound(socket.SOCK_DGRAM)
    udp = us.getsockname()[1]
    us.close()  # port free again: the daemon must bind it itself
    web_s = bound(socket.SOCK_STREAM)
    web = web_s.getsockname()[1]
    web_s.close()
    d = tempfile.mkdtemp(prefix="amtest-sa-")
    path = os.path.join(d, "config.ini")
    with open(path, "w") as f:
        f.write(config(m, udp, web))
    env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID="1")
    p = subprocess.Popen([AM_BIN, "-c", path, "-t"], env=env, stderr=subprocess.PIPE,
                         stdout=subprocess.DEVNULL)
    try:
        u = Udp(udp)
        r = None
        for _ in range(40):
            r, _ = u.ask(ct_request(), timeout=0.25)
            if r:
                break
        check(r is not None, "no reply")
        u.close()
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(10)
        p.stderr.close()
        m.stop()


if __name__ == "__main__":
    Runner().run([
        test_serves_on_inherited_sockets_and_notifies,
        test_env_for_another_pid_is_ignored,
    ])
