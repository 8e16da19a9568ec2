# SPDX-License-Identifier: GPL-3.0-or-later
"""The MQTT powermeter against a real mosquitto broker on a free loopback port (a
test-owned config file, no persistence): plain and JSON payloads in CT002 replies, one
topic with three JSON paths and three topics, values invalid until every topic has spoken,
a parked request answered by the next publish and one answered with the last value at the
2 s deadline, URI credentials (never logged), a host name resolved off the loop, and the
broker killed and restarted mid-run: the daemon reconnects, never stalls, and a battery
routed to another meter is answered at once meanwhile; after MAX_AGE without a message
the values are stale and batteries get the hold answer."""

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

from amtest import (Daemon, Meter, Runner, Udp, check, ct_parse, ct_request, free_udp_port)

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"


def free_tcp_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Broker:
    """A real mosquitto on 127.0.0.1:port, optionally with a password file."""

    def __init__(self, port=None, users=None):
        self.port = port or free_tcp_port()
        self.dir = tempfile.mkdtemp(prefix="amtest-mosq-")
        # Started as root, mosquitto drops to its own user, which must read the files.
        os.chmod(self.dir, 0o755)
        conf = os.path.join(self.dir, "mosquitto.conf")
        lines = ["listener %d 127.0.0.1" % self.port, "persistence false"]
        if users:
            pw = os.path.join(self.dir, "passwd")
            open(pw, "w").close()
            for u, p in users.items():
                subprocess.run([MOSQUITTO_PASSWD, "-b", pw, u, p], check=True,
                               capture_output=True)
            os.chmod(pw, 0o644)
            lines += ["allow_anonymous false", "password_file " + pw]
        else:
            lines.append("allow_anonymous true")
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.conf = conf
        self.proc = None
        self.start()

    def start(self):
        self.log = open(os.path.join(self.dir, "broker.log"), "ab")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", self.conf], stdout=self.log,
                                     stderr=self.log)
        end = time.monotonic() + 5
        while time.monotonic() < end:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def stop(self):
        self.kill()


def _rl(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def _s(x):
    x = x.encode() if isinstance(x, str) else x
    return len(x).to_bytes(2, "big") + x


def publish(port, topic, payload, retain=False, user=None, password=None):
    """MQTT 3.1.1 over a raw socket: CONNECT, PUBLISH (QoS 0), DISCONNECT."""
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    flags = 0x02
    tail = _s("amtest-pub-%d" % time.monotonic_ns())
    if user is not None:
        flags |= 0x80
        tail += _s(user)
    if password is not None:
        flags |= 0x40
        tail += _s(password)
    v = _s("MQTT") + bytes([4, flags, 0, 60]) + tail
    s.sendall(bytes([0x10]) + _rl(len(v)) + v)
    ack = s.recv(4)
    assert ack[:1] == b"\x20" and ack[3:4] == b"\x00", ack
    p = _s(topic) + (payload.encode() if isinstance(payload, str) else payload)
    s.sendall(bytes([0x30 | (1 if retain else 0)]) + _rl(len(p)) + p + bytes([0xE0, 0]))
    s.close()


def config(port, mqtt, extra=""):
    return f"""[GENERAL]
DEVICE_TYPE = ct002

[CT002]
UDP_PORT = {port}
ACTIVE_CONTROL = False

[MQTT]
{mqtt}

{extra}
"""


def start(broker, mqtt, extra=""):
    port = free_udp_port()
    d = Daemon(config(port, mqtt, extra))
    check(d.wait_log("running", 5), "daemon did not start:\n" + d.output())
    check(d.wait_log("connected to MQTT broker", 5), "no broker connection:\n" + d.output())
    time.sleep(0.2)  # SUBSCRIBE on its way
    return d, port


def fields(reply):
    check(reply is not None, "no reply")
    return ct_parse(reply)[4:8]


def test_plain_value_next_publish_and_deadline():
    b = Broker()
    d, port = start(b, f"BROKER = 127.0.0.1\nPORT = {b.port}\nTOPIC = home/grid")
    try:
        u = Udp(port)
        # No value yet: the request waits 2 s and gets the hold answer.
        r, dt = u.ask(ct_request(mac="aabbccdd0001"), timeout=4)
        check(fields(r) == ["0", "0", "0", "0"] and 1.8 < dt < 3.0, (fields(r), dt))
        publish(b.port, "home/grid", "250")
        time.sleep(0.3)
        # Parked until the next publish, which answers it at once.
        u.send(ct_request(mac="aabbccdd0002"))
        time.sleep(0.3)
        t0 = time.monotonic()
        publish(b.port, "home/grid", " 321.6\n")
        r = u.recv(3)
        dt = time.monotonic() - t0
        check(fields(r) == ["322", "0", "0", "322"], fields(r))
        check(dt < 0.5, ("answered by the publish, not the deadline", dt))
        # No publish: answered at the 2 s deadline with the last value.
        r, dt = u.ask(ct_request(mac="aabbccdd0003"), timeout=4)
        check(fields(r) == ["322", "0", "0", "322"], fields(r))
        check(1.8 < dt < 3.0, ("deadline", dt))
        # A payload that is not a number is logged and the value kept.
        publish(b.port, "home/grid", "n/a")
        check(d.wait_log("cannot use the payload on 'home/grid'", 3), d.output())
        r, dt = u.ask(ct_request(mac="aabbccdd0004"), timeout=4)
        check(fields(r) == ["322", "0", "0", "322"], fields(r))
        u.close()
        check(d.alive(), d.output())
    finally:
        d.stop()
        b.stop()


def test_no_wait_answers_from_cache():
    b = Broker()
    d, port = start(b, f"BROKER = 127.0.0.1\nPORT = {b.port}\nTOPIC = p\n"
                       "WAIT_FOR_NEXT_MESSAGE = False")
    try:
        u = Udp(port)
        r, dt = u.ask(ct_request(mac="aabbccdd0001"), timeout=4)
        check(fields(r) == ["0", "0", "0", "0"] and dt < 0.5, ("no value: hold at once", dt))
        publish(b.port, "p", "-75")
        time.sleep(0.3)
        r, dt = u.ask(ct_request(mac="aabbccdd0002"), timeout=4)
        check(fields(r) == ["-75", "0", "0", "-75"] and dt < 0.5, (fields(r), dt))
    finally:
        d.stop()
        b.stop()


def test_one_topic_three_json_paths():
    b = Broker()
    mq = (f"BROKER = 127.0.0.1\nPORT = {b.port}\nTOPIC = tele/sml\n"
          "JSON_PATHS = $.l1.power, $.l2.power, $.l3.power\nWAIT_FOR_NEXT_MESSAGE = False")
    d, port = start(b, mq)
    try:
        publish(b.port, "tele/sml",
                '{"l1": {"power": 110.7}, "l2": {"power": -220.3}, "l3": {"power": 330.1}}')
        time.sleep(0.3)
        u = Udp(port)
        r, _ = u.ask(ct_request(), timeout=4)
        check(fields(r) == ["111", "-220", "330", "220"], fields(r))
        publish(b.port, "tele/sml", '{"l1": {"power": 1}}')  # l2 missing: whole message refused
        check(d.wait_log("no match for JSON path", 3), d.output())
    finally:
        d.stop()
        b.stop()


def test_three_topics_invalid_until_all_seen():
    b = Broker()
    mq = (f"BROKER = 127.0.0.1\nPORT = {b.port}\nTOPICS = ph/l1, ph/l2, ph/l3\n"
          "JSON_PATH = $.w\nWAIT_FOR_NEXT_MESSAGE = False")
    d, port = start(b, mq)
    try:
        u = Udp(port)
        publish(b.port, "ph/l1", '{"w": 100}')
        publish(b.port, "ph/l2", '{"w": 200}')
        time.sleep(0.3)
        r, _ = u.ask(ct_request(mac="aabbccdd0001"), timeout=4)
        check(fields(r) == ["0", "0", "0", "0"], ("l3 never seen: hold", fields(r)))
        publish(b.port, "ph/l3", '{"w": 300}')
        time.sleep(0.3)
        r, _ = u.ask(ct_request(mac="aabbccdd0002"), timeout=4)
        check(fields(r) == ["100", "200", "300", "600"], fields(r))
        publish(b.port, "ph/l2", '{"w": -50}')
        time.sleep(0.3)
        r, _ = u.ask(ct_request(mac="aabbccdd0003"), timeout=4)
        check(fields(r) == ["100", "-50", "300", "350"], fields(r))
    finally:
        d.stop()
        b.stop()


def test_uri_credentials_never_logged():
    b = Broker(users={"meter": "p@ss:word"})
    mq = (f"URI = mqtt://meter:p%40ss%3Aword@127.0.0.1:{b.port}\nTOPIC = secure/p\n"
          "WAIT_FOR_NEXT_MESSAGE = False")
    d, port = start(b, mq)
    try:
        publish(b.port, "secure/p", "42", user="meter", password="p@ss:word")
        time.sleep(0.3)
        u = Udp(port)
        r, _ = u.ask(ct_request(), timeout=4)
        check(fields(r) == ["42", "0", "0", "42"], fields(r))
    finally:
        d.stop()
        b.stop()
    out = d.output()
    check("p@ss" not in out and "p%40ss" not in out and "word" not in out, out)


def test_wrong_password_retries_without_stalling():
    b = Broker(users={"meter": "right"})
    port = free_udp_port()
    mq = f"BROKER = 127.0.0.1\nPORT = {b.port}\nUSERNAME = meter\nPASSWORD = wrong\nTOPIC = p"
    d = Daemon(config(port, mq))
    try:
        check(d.wait_log("running", 5), d.output())
        check(d.wait_log("refused", 5), d.output())
        u = Udp(port)
        r, dt = u.ask(ct_request(), timeout=4)
        check(fields(r) == ["0", "0", "0", "0"] and dt < 3.0, (fields(r), dt))
        check("wrong" not in d.output(), d.output())
    finally:
        d.stop()
        b.stop()


def test_host_name_resolved_off_the_loop():
    b = Broker()
    d, port = start(b, f"BROKER = localhost\nPORT = {b.port}\nTOPIC = n\n"
                       "WAIT_FOR_NEXT_MESSAGE = False")
    try:
        publish(b.port, "n", "7", retain=True)
        time.sleep(0.3)
        u = Udp(port)
        r, _ = u.ask(ct_request(), timeout=4)
        check(fields(r) == ["7", "0", "0", "7"], fields(r))
    finally:
        d.stop()
        b.stop()


def test_broker_restart_reconnects_and_never_stalls():
    b = Broker()
    http = Meter()
    http.set_power(11, 22, 33)
    extra = f"""[JSON_HTTP]
URL = {http.url()}
JSON_PATHS = $.phase_a,$.phase_b,$.phase_c
NETMASK = 127.0.0.2/32
"""
    mq = f"BROKER = 127.0.0.1\nPORT = {b.port}\nTOPIC = r/p\nNETMASK = 127.0.0.1/32"
    d, port = start(b, mq, extra)
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind(("127.0.0.2", 0))
    other.settimeout(4)
    try:
        u = Udp(port)
        publish(b.port, "r/p", "500", retain=True)
        time.sleep(0.3)
        r, dt = u.ask(ct_request(mac="aabbccdd0001"), timeout=4)
        check(fields(r) == ["500", "0", "0", "500"], fields(r))

        b.kill()
        check(d.wait_log("connection to MQTT broker", 5), d.output())
        # Broker down: the MQTT battery gets the last value at the deadline; a battery
        # on the other meter is answered at once, several times, meanwhile.
        u.send(ct_request(mac="aabbccdd0002"))
        for i in range(3):
            t0 = time.monotonic()
            other.sendto(ct_request(mac="aabbccdd01%02d" % i), ("127.0.0.1", port))
            data, _ = other.recvfrom(4096)
            check(fields(data) == ["11", "22", "33", "66"], fields(data))
            check(time.monotonic() - t0 < 0.5, "other battery stalled")
        r = u.recv(4)
        check(fields(r) == ["500", "0", "0", "500"], fields(r))

        time.sleep(1.5)  # a few failed reconnects
        b.start()
        end = time.monotonic() + 10
        while time.monotonic() < end and d.output().count("INFO MQTT: connected to MQTT") < 2:
            time.sleep(0.1)
        check(d.output().count("INFO MQTT: connected to MQTT") >= 2,
              "no reconnect:\n" + d.output())
        time.sleep(0.3)
        u.send(ct_request(mac="aabbccdd0003"))
        time.sleep(0.2)
        publish(b.port, "r/p", "650")
        r = u.recv(3)
        check(fields(r) == ["650", "0", "0", "650"], fields(r))
        check(d.alive(), d.output())
    finally:
        other.close()
        check(d.stop() == 0, "exit code")
        b.stop()
        http.stop()


def test_values_go_stale_after_max_age():
    """The broker dies: after MAX_AGE without a message the batteries get the hold answer
    (upstream, and this daemon before MAX_AGE, kept telling them the last import
    forever); the log says why; a publish after the broker's return brings the values
    back."""
    b = Broker()
    d, port = start(b, f"BROKER = 127.0.0.1\nPORT = {b.port}\nTOPIC = s/p\n"
                       "WAIT_FOR_NEXT_MESSAGE = False\nMAX_AGE = 3")
    try:
        u = Udp(port)
        publish(b.port, "s/p", "800")
        t_pub = time.monotonic()
        time.sleep(0.3)
        r, _ = u.ask(ct_request(mac="aabbccdd0001"), timeout=4)
        check(fields(r) == ["800", "0", "0", "800"], fields(r))
        b.kill()
        # Until MAX_AGE the last value stands; then hold, and it stays hold.
        first_hold = None
        seen = []
        while time.monotonic() - t_pub < 6.5:
            r, _ = u.ask(ct_request(mac="aabbccdd0002"), timeout=2)
            f = fields(r)
            seen.append((round(time.monotonic() - t_pub, 2), f))
            if f == ["0", "0", "0", "0"] and first_hold is None:
                first_hold = time.monotonic() - t_pub
            if first_hold is not None:
                check(f == ["0", "0", "0", "0"], ("back to a stale value", seen))
            elif time.monotonic() - t_pub < 2.8:
                check(f == ["800", "0", "0", "800"], seen)
            time.sleep(0.1)
        check(first_hold is not None, ("still the stale value %.1f s after the last message"
                                       % (time.monotonic() - t_pub), seen[-3:]))
        print("    hold answer %.2f s after the last message (MAX_AGE 3 s)" % first_hold)
        check(first_hold < 3.0 + 1.5, first_hold)
        check(d.wait_log("the values are stale", 1), d.output())
        b.start()
        end = time.monotonic() + 10
        while time.monotonic() < end and d.output().count("INFO MQTT: connected to MQTT") < 2:
            time.sleep(0.1)
        time.sleep(0.3)
        publish(b.port, "s/p", "-120")
        time.sleep(0.3)
        r, _ = u.ask(ct_request(mac="aabbccdd0003"), timeout=4)
        check(fields(r) == ["-120", "0", "0", "-120"], fields(r))
        u.close()
    finally:
        check(d.stop() == 0, "exit code")
        b.stop()


if __name__ == "__main__":
    if not os.path.exists(MOSQUITTO):
        print("SKIP: mosquitto (the broker) is not installed; scripts/install-deps.sh adds it")
        raise SystemExit(0)
    Runner().run([
        test_plain_value_next_publish_and_deadline,
        test_no_wait_answers_from_cache,
        test_one_topic_three_json_paths,
        test_three_topics_invalid_until_all_seen,
        test_uri_credentials_never_logged,
        test_wrong_password_retries_without_stalling,
        test_host_name_resolved_off_the_loop,
        test_broker_restart_reconnects_and_never_stalls,
        test_values_go_stale_after_max_age,
    ])
