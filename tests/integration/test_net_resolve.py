# SPDX-License-Identifier: GPL-3.0-or-later
"""Name resolution on a hostile LAN, with the real daemon in a private mount namespace
(unshare --mount) whose /etc/hosts and /etc/resolv.conf are the test's own:

- a DNS server that never answers (a UDP socket on 127.53.0.1:53 that only counts the
  queries): an HTTP meter and a Home Assistant (WebSocket) meter given by a name it is
  asked for must not stall the loop: a battery routed to a healthy meter is answered
  promptly all along (before the fix: libcurl joined its resolver thread inside the loop,
  and the WebSocket code waited 2 s in gai_suspend when its open timed out);
- a broker name that resolves to ::1 first and 127.0.0.1 second (as a standard Debian
  /etc/hosts answers for localhost, or a LAN name with an IPv6 and an IPv4 address) with
  the broker listening on 127.0.0.1 only: the MQTT meter must reach it at the second
  address (before the fix it tried only the first, refused forever); over TLS too, with
  the certificate still checked against the name (and the name in SNI).

Needs root (mount namespaces, port 53); skipped with a message otherwise."""

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

from amtest import Daemon, Meter, Runner, Udp, check, ct_parse, ct_request, free_udp_port

DNS_IP = "127.53.0.1"
HOSTS = "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n"


class SilentDns:
    """Receives DNS queries and never answers; remembers the names asked for."""

    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((DNS_IP, 53))
        self.s.settimeout(0.2)
        self.names = []
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping:
            try:
                data, _ = self.s.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self.names.append(qname(data))

    def stop(self):
        self.stopping = True
        self.thread.join()
        self.s.close()


def qname(data):
    """The first question's name of a DNS query."""
    labels, i = [], 12
    while i < len(data) and data[i]:
        n = data[i]
        labels.append(data[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    return ".".join(labels)


def namespace(hosts, resolv):
    """The prefix that runs the daemon with our hosts and resolv.conf bind-mounted over the
    system's, in a mount namespace of its own (the host's files are untouched)."""
    d = tempfile.mkdtemp(prefix="amtest-ns-")
    h = os.path.join(d, "hosts")
    r = os.path.join(d, "resolv.conf")
    with open(h, "w") as f:
        f.write(hosts)
    with open(r, "w") as f:
        f.write(resolv)
    script = 'mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/resolv.conf && shift 2 && exec "$@"'
    return ["unshare", "--mount", "--propagation", PROPAGATION, "sh", "-c", script, "ns", h, r]


def propagation():
    """How unshare treats existing mounts. "private" normally. In a chroot (e.g. the
    fresh-Debian rig) "/" is no mount point and cannot be made private; there, leaving it
    unchanged is safe only if no mount is shared (our bind mounts cannot leak out). None
    if neither holds."""
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split(" - ")[0].split() for line in f]
    # (os.path.ismount("/") is always true, also in a chroot: ask the kernel's table.)
    if any(m[4] == "/" for m in mounts):
        return "private"
    if any(x.startswith("shared:") for m in mounts for x in m[6:]):
        return None
    return "unchanged"


PROPAGATION = propagation()


# One try that lasts 30 s: a lookup still in flight when the daemon gives up on it.
SILENT_RESOLV = f"nameserver {DNS_IP}\noptions timeout:30 attempts:1\n"


def daemon_with(dead_meter_section):
    """A daemon with a healthy JSON_HTTP meter for 127.0.0.1 and the given meter (whose
    name never resolves) for 127.0.0.2; returns (daemon, meter, port)."""
    healthy = Meter()
    healthy.set_power(100, 20, 3)
    port = free_udp_port()
    cfg = f"""[GENERAL]
DEVICE_TYPE = ct002

[CT002]
UDP_PORT = {port}
ACTIVE_CONTROL = False

[JSON_HTTP]
URL = {healthy.url()}
JSON_PATHS = $.phase_a,$.phase_b,$.phase_c
NETMASK = 127.0.0.1/32

{dead_meter_section}
NETMASK = 127.0.0.2/32
"""
    d = Daemon(cfg, prefix=namespace(HOSTS, SILENT_RESOLV))
    check(d.wait_log("running", 5), "daemon did not start:\n" + d.output())
    return d, healthy, port


def healthy_latencies(port, seconds, poke=None):
    """Asks as the healthy battery (127.0.0.1) every 0.2 s for `seconds`; meanwhile the
    battery of the dead meter (127.0.0.2) asks once a second (so that it keeps fetching).
    Returns the reply latencies (None for no reply within 3 s)."""
    u = Udp(port)
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind(("127.0.0.2", 0))
    other.setblocking(False)
    lat = []
    end = time.monotonic() + seconds
    last_poke = 0.0
    try:
        while time.monotonic() < end:
            if time.monotonic() - last_poke >= 1.0:
                other.sendto(ct_request(mac="aabbccdd0002"), ("127.0.0.1", port))
                last_poke = time.monotonic()
            try:
                while other.recv(4096):
                    pass
            except BlockingIOError:
                pass
            r, dt = u.ask(ct_request(mac="aabbccdd0001"), timeout=3)
            if r is None:
                lat.append(None)
            else:
                check(ct_parse(r)[4:8] == ["100", "20", "3", "123"], ct_parse(r))
                lat.append(dt)
            time.sleep(0.2)
    finally:
        u.close()
        other.close()
    return lat


def check_prompt(lat, d):
    missing = lat.count(None)
    worst = max(x for x in lat if x is not None) if len(lat) > missing else None
    print("  %d requests, %d unanswered, worst latency %s s" %
          (len(lat), missing, "%.3f" % worst if worst is not None else "-"), flush=True)
    check(missing == 0, "%d requests to the healthy meter unanswered:\n%s" % (missing, d.output()))
    check(worst < 1.0, "the loop stalled: a reply took %.2f s\n%s" % (worst, d.output()))


def test_http_meter_dns_timeout_never_stalls_the_loop():
    dns = SilentDns()
    try:
        d, healthy, port = daemon_with("[JSON_HTTP_dead]\nURL = http://amtest-meter.lan:8080/power\n"
                                       "JSON_PATHS = $.phase_a")
    except BaseException:
        dns.stop()
        raise
    try:
        lat = healthy_latencies(port, 15)
        check(any(n.startswith("amtest-meter.lan") for n in dns.names),
              "the daemon never asked the DNS server: %r" % dns.names)
        check_prompt(lat, d)
        check(d.alive(), d.output())
    finally:
        d.stop()
        healthy.stop()
        dns.stop()


def test_websocket_meter_dns_timeout_never_stalls_the_loop():
    dns = SilentDns()
    # The open times out after 10 s, in the middle of the 30 s lookup.
    try:
        d, healthy, port = daemon_with("[HOMEASSISTANT]\nIP = amtest-ha.lan\nPORT = 8123\n"
                                       "ACCESSTOKEN = x\nCURRENT_POWER_ENTITY = sensor.p")
    except BaseException:
        dns.stop()
        raise
    try:
        lat = healthy_latencies(port, 14)
        check(any(n.startswith("amtest-ha.lan") for n in dns.names),
              "the daemon never asked the DNS server: %r" % dns.names)
        check(d.wait_log("timeout", 1), "the WebSocket open did not time out:\n" + d.output())
        check_prompt(lat, d)
    finally:
        d.stop()
        healthy.stop()
        dns.stop()


def test_mqtt_broker_name_second_address():
    from test_pm_mqtt import Broker, publish  # a real mosquitto on 127.0.0.1 only

    b = Broker()
    port = free_udp_port()
    cfg = f"""[GENERAL]
DEVICE_TYPE = ct002

[CT002]
UDP_PORT = {port}
ACTIVE_CONTROL = False

[MQTT]
BROKER = amtest-dual
PORT = {b.port}
TOPIC = n
WAIT_FOR_NEXT_MESSAGE = False
"""
    # ::1 first: getaddrinfo's order puts the IPv6 loopback before 127.0.0.1.
    hosts = HOSTS + "::1 amtest-dual\n127.0.0.1 amtest-dual\n"
    d = Daemon(cfg, prefix=namespace(hosts, SILENT_RESOLV))
    try:
        check(d.wait_log("running", 5), "daemon did not start:\n" + d.output())
        publish(b.port, "n", "7", retain=True)
        check(d.wait_log("connected to MQTT broker amtest-dual", 8),
              "never connected by the second address:\n" + d.output())
        check("at 127.0.0.1:%d" % b.port in d.output(), d.output())
        time.sleep(0.3)
        u = Udp(port)
        r, _ = u.ask(ct_request(), timeout=4)
        check(r is not None and ct_parse(r)[4:8] == ["7", "0", "0", "7"], r)
    finally:
        d.stop()
        b.stop()


def tls_broker(names):
    """mosquitto with a TLS listener (a certificate for `names`) and a plain one to publish
    on, both on 127.0.0.1 only. Returns (proc, tls_port, plain_port, ca_pem)."""
    from amws import make_test_pki
    from test_pm_mqtt import MOSQUITTO, free_tcp_port

    d, ca, cert, key = make_test_pki(names)
    # Started as root, mosquitto drops to its own user, which must read the files.
    os.chmod(d, 0o755)
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o644)
    tls_port, plain_port = free_tcp_port(), free_tcp_port()
    conf = os.path.join(d, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write(f"""per_listener_settings false
allow_anonymous true
persistence false
listener {plain_port} 127.0.0.1
listener {tls_port} 127.0.0.1
certfile {cert}
keyfile {key}
""")
    proc = subprocess.Popen([MOSQUITTO, "-c", conf], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    end = time.monotonic() + 5
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", plain_port), timeout=0.2).close()
            socket.create_connection(("127.0.0.1", tls_port), timeout=0.2).close()
            return proc, tls_port, plain_port, ca
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("mosquitto did not start")


def tls_daemon(tls_port, ca):
    port = free_udp_port()
    cfg = f"""[GENERAL]
DEVICE_TYPE = ct002

[CT002]
UDP_PORT = {port}
ACTIVE_CONTROL = False

[MQTT]
BROKER = amtest-dual
PORT = {tls_port}
TLS = True
TOPIC = n
WAIT_FOR_NEXT_MESSAGE = False
"""
    hosts = HOSTS + "::1 amtest-dual\n127.0.0.1 amtest-dual\n"
    # OpenSSL's default verify paths honour SSL_CERT_FILE: our test CA is the trust store.
    return Daemon(cfg, prefix=namespace(hosts, SILENT_RESOLV),
                  env={"SSL_CERT_FILE": ca}), port


def test_mqtt_tls_by_name_checks_the_name_at_every_address():
    """The library is handed numeric addresses; the certificate must still be checked
    against the configured name (and SNI carry it): a certificate for that name is
    accepted at the second address, one for another name is refused."""
    from test_pm_mqtt import publish

    proc, tls_port, plain_port, ca = tls_broker(["amtest-dual"])
    d, port = tls_daemon(tls_port, ca)
    try:
        publish(plain_port, "n", "9", retain=True)
        check(d.wait_log("connected to MQTT broker amtest-dual:%d at 127.0.0.1:%d (TLS)" %
                         (tls_port, tls_port), 8), "no TLS connection:\n" + d.output())
        time.sleep(0.3)
        u = Udp(port)
        r, _ = u.ask(ct_request(), timeout=4)
        check(r is not None and ct_parse(r)[4:8] == ["9", "0", "0", "9"], r)
    finally:
        d.stop()
        proc.kill()
        proc.wait()

    proc, tls_port, plain_port, ca = tls_broker(["some-other-name"])
    d, port = tls_daemon(tls_port, ca)
    try:
        check(d.wait_log("every address failed", 8), d.output())
        check("connected to MQTT" not in d.output(), d.output())
    finally:
        d.stop()
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("SKIP: needs root (a private mount namespace for /etc/hosts and "
              "/etc/resolv.conf, a DNS socket on port 53)")
        sys.exit(0)
    if PROPAGATION is None:
        print("SKIP: shared mounts and no mount at /: private bind mounts of /etc/hosts "
              "could leak out of the test's mount namespace")
        sys.exit(0)
    Runner().run([
        test_mqtt_broker_name_second_address,
        test_mqtt_tls_by_name_checks_the_name_at_every_address,
        test_http_meter_dns_timeout_never_stalls_the_loop,
        test_websocket_meter_dns_timeout_never_stalls_the_loop,
    ])
