# SPDX-License-Identifier: GPL-3.0-or-later
"""Every HTTP-polled powermeter against a local test server that serves the recorded
responses from tests/fixtures (with the device's auth: basic, digest, query credentials,
session cookie login, FRITZ!Box challenge, bearer token over TLS): the real daemon polls
it and the value shows up in a CT002 reply. Server errors and timeouts give the hold
answer (zeros) and the meter recovers afterwards."""

import base64
import hashlib
import http.server
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse

from amtest import AM_SRC, Daemon, Runner, Udp, check, ct_parse, ct_request, free_udp_port

FIX = os.path.join(AM_SRC, "tests", "fixtures")


def fixture(rel):
    with open(os.path.join(FIX, rel), "rb") as f:
        return f.read()


class Server:
    """Threaded HTTP(S) server; routes map a path (no query) to fn(req) -> (status, body,
    headers dict) where req has method, path, query (dict), headers, body."""

    def __init__(self, routes, tls=None):
        self.routes = routes
        self.requests = []
        self.fail_status = None  # answer every request with this status
        self.hang = False
        srv = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle_any(self):
                n = int(self.headers.get("Content-Length") or 0)
                self.body = self.rfile.read(n) if n else b""
                u = urllib.parse.urlsplit(self.path)
                self.query = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
                self.route = u.path
                srv.requests.append((self.command, self.path, dict(self.headers), self.body))
                if srv.hang:
                    time.sleep(4)
                    return
                if srv.fail_status:
                    status, body, hdrs = srv.fail_status, b"error", {}
                else:
                    fn = srv.routes.get(u.path)
                    status, body, hdrs = fn(self) if fn else (404, b"nope", {})
                try:
                    self.send_response(status)
                    for k, v in hdrs.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = handle_any
            do_POST = handle_any

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.addr = "127.0.0.1:%d" % self.port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def ok(body, ctype="application/json"):
    return 200, body, {"Content-Type": ctype}


def basic_ok(req, user, pw):
    want = "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()
    return req.headers.get("Authorization") == want


def _split_digest(s):
    out, cur, q = [], "", False
    for ch in s:
        if ch == '"':
            q = not q
        if ch == "," and not q:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        out.append(cur)
    return out



def digest_check(req, user, pw, realm="shelly", nonce="5f1e2d3c"):
    """Minimal RFC 7616 MD5 digest server check."""
    h = req.headers.get("Authorization", "")
    if not h.startswith("Digest "):
        return False
    parts = {}
    for item in _split_digest(h[7:]):
        k, _, v = item.partition("=")
        parts[k.strip()] = v.strip().strip('"')
    md5 = lambda s: hashlib.md5(s.encode()).hexdigest()
    ha1 = md5(f"{user}:{realm}:{pw}")
    ha2 = md5(f"{req.command}:{parts.get('uri', '')}")
    want = md5(f"{ha1}:{nonce}:{parts.get('nc')}:{parts.get('cnonce')}:{parts.get('qop')}:{ha2}")
    return parts.get("username") == user and parts.get("response") == want


def digest_challenge(realm="shelly", nonce="5f1e2d3c"):
    return 401, b"", {"WWW-Authenticate":
                      f'Digest realm="{realm}", nonce="{nonce}", qop="auth", algorithm=MD5'}


def run_meter(section, server, expect, hold_check=True, settle=0.3):
    """Starts the daemon with section, asks a CT002 request, checks the meter fields."""
    port = free_udp_port()
    cfg = f"""[GENERAL]
DEVICE_TYPE = ct002

[CT002]
UDP_PORT = {port}
ACTIVE_CONTROL = False

{section}
"""
    d = Daemon(cfg)
    try:
        check(d.wait_log("running", 5), "daemon did not start:\n" + d.output())
        u = Udp(port)
        r, _ = u.ask(ct_request(power=0), timeout=4)
        check(r is not None, "no reply\n" + d.output())
        f = ct_parse(r)
        check(f[4:8] == expect, (f[4:8], expect, d.output()[-2000:]))
        if hold_check:
            server.fail_status = 500
            time.sleep(settle)
            r, dt = u.ask(ct_request(power=0), timeout=4)
            f = ct_parse(r)
            check(f[4:8] == ["0", "0", "0", "0"], ("hold on HTTP 500", f))
            check("HTTP 500" in d.output(), "one-line error expected:\n" + d.output())
            server.fail_status = None
            time.sleep(settle)
            r, _ = u.ask(ct_request(power=0), timeout=4)
            f = ct_parse(r)
            check(f[4:8] == expect, ("recovered", f[4:8], expect))
        u.close()
        check(d.alive(), d.output())
        return d.output()
    finally:
        d.stop()


def test_shelly_gen1_basic_auth():
    def status(req):
        if not basic_ok(req, "admin", "s3cret"):
            return 401, b"", {}
        return ok(fixture("shelly/em_status.json"))
    s = Server({"/status": status})
    try:
        out = run_meter(f"[SHELLY]\nTYPE = 3EM\nIP = {s.addr}\nUSER = admin\nPASS = s3cret\n",
                        s, ["789", "1011", "1213", "3013"])
        check("s3cret" not in out, "password logged")
    finally:
        s.stop()


def test_shelly_pro3em_digest_all_phases():
    def em(req):
        if not digest_check(req, "admin", "pw"):
            return digest_challenge()
        return ok(fixture("shelly/3empro_emstatus.json"))
    s = Server({"/rpc/EM.GetStatus": em})
    try:
        run_meter(f"[SHELLY]\nTYPE = 3EMPro\nIP = {s.addr}\nUSER = admin\nPASS = pw\n", s,
                  ["120", "-30", "200", "290"])
    finally:
        s.stop()


def test_tasmota_query_credentials():
    def cm(req):
        if req.query.get("user") != "u" or req.query.get("password") != "p&w" or \
                req.query.get("cmnd") != "status 10":
            return 401, b"", {}
        return ok(fixture("tasmota/three_phase.json"))
    s = Server({"/cm": cm})
    try:
        run_meter(f"[TASMOTA]\nIP = {s.addr}\nUSER = u\nPASS = p&w\nJSON_STATUS = StatusSNS\n"
                  "JSON_PAYLOAD_MQTT_PREFIX = eBZ\n"
                  "JSON_POWER_MQTT_LABEL = Power_L1, Power_L2, Power_L3\n", s,
                  ["100", "200", "300", "600"], hold_check=False)
    finally:
        s.stop()


def test_shrdzm_emlog_esphome_amis_fronius():
    s = Server({
        "/getLastData": lambda r: ok(fixture("shrdzm/lastdata.json")),
        "/pages/getinformation.php": lambda r: ok(fixture("emlog/import_export.json")),
        "/sensor/power": lambda r: ok(fixture("esphome/sensor.json")),
        "/rest": lambda r: ok(fixture("amisreader/rest.json")),
        "/solar_api/v1/GetMeterRealtimeData.cgi": lambda r: ok(fixture("fronius/per_phase.json")),
    })
    try:
        run_meter(f"[SHRDZM]\nIP = {s.addr}\nUSER = a\nPASS = b\n", s, ["3000", "0", "0", "3000"])
        run_meter(f"[EMLOG]\nIP = {s.addr}\nMETER_INDEX = 1\nJSON_POWER_CALCULATE = True\n", s,
                  ["250", "0", "0", "250"], hold_check=False)
        run_meter(f"[ESPHOME]\nIP = 127.0.0.1\nPORT = {s.port}\nDOMAIN = sensor\nID = power\n",
                  s, ["234", "0", "0", "234"], hold_check=False)
        run_meter(f"[AMIS_READER]\nIP = {s.addr}\n", s, ["1200", "0", "0", "1200"],
                  hold_check=False)
        run_meter(f"[FRONIUS]\nIP = {s.addr}\nPER_PHASE = True\n", s,
                  ["100", "200", "300", "600"], hold_check=False)
    finally:
        s.stop()


def test_iobroker_and_vzlogger():
    s = Server({
        "/getBulk/input_alias,output_alias": lambda r: ok(fixture("iobroker/calculate.json")),
        "/uuid-l1": lambda r: ok(b'{"data": [{"tuples": [[null, 100]]}]}'),
        "/uuid-l2": lambda r: ok(b'{"data": [{"tuples": [[null, 200]]}]}'),
        "/uuid-l3": lambda r: ok(fixture("vzlogger/channel.json")),
    })
    try:
        run_meter(f"[IOBROKER]\nIP = 127.0.0.1\nPORT = {s.port}\nPOWER_CALCULATE = True\n"
                  "POWER_INPUT_ALIAS = input_alias\nPOWER_OUTPUT_ALIAS = output_alias\n", s,
                  ["150", "0", "0", "150"], hold_check=False)
        run_meter(f"[VZLOGGER]\nIP = 127.0.0.1\nPORT = {s.port}\nUUID = uuid-l1, uuid-l2,uuid-l3\n",
                  s, ["100", "200", "900", "1200"])
    finally:
        s.stop()


def test_tq_em_cookie_login_and_relogin():
    state = {"sessions": set(), "logins": 0}

    def cookie(req):
        c = req.headers.get("Cookie", "")
        return c.split("PHPSESSID=")[1].split(";")[0] if "PHPSESSID=" in c else None

    def start(req):
        if req.command == "POST":
            form = dict(urllib.parse.parse_qsl(req.body.decode()))
            if form.get("login") != "123" or form.get("password") != "pw":
                return ok(b'{"authentication": false}')
            state["logins"] += 1
            sid = "s%d" % state["logins"]
            state["sessions"].add(sid)
            return 200, b'{"authentication": true}', {"Set-Cookie": f"PHPSESSID={sid}; path=/"}
        authed = cookie(req) in state["sessions"]
        return ok(b'{"serial": "123", "authentication": %s}' % (b"true" if authed else b"false"))

    def data(req):
        if cookie(req) not in state["sessions"]:
            return ok(fixture("tq_em/data_expired.json"))
        return ok(fixture("tq_em/data_three_phase.json"))
    s = Server({"/start.php": start, "/mum-webservice/data.php": data})
    try:
        port = free_udp_port()
        d = Daemon(f"[GENERAL]\nDEVICE_TYPE = ct002\n[CT002]\nUDP_PORT = {port}\n"
                   f"ACTIVE_CONTROL = False\n[TQ_EM]\nIP = {s.addr}\nPASSWORD = pw\n")
        try:
            check(d.wait_log("running", 5), d.output())
            u = Udp(port)
            r, _ = u.ask(ct_request(), timeout=4)
            check(ct_parse(r)[4:8] == ["1", "2", "3", "6"], (r, d.output()))
            check(state["logins"] == 1)
            # The device forgets the session: the next poll logs in again transparently.
            state["sessions"].clear()
            time.sleep(0.3)
            r, _ = u.ask(ct_request(), timeout=4)
            check(ct_parse(r)[4:8] == ["1", "2", "3", "6"], (r, d.output()))
            check(state["logins"] == 2, state)
            check("pw" not in d.output().replace("pwd", ""), "password logged")
            u.close()
        finally:
            d.stop()
    finally:
        s.stop()


def test_fritz_pbkdf2_login_and_403_relogin():
    chal = fixture("fritz/challenge.xml")
    st = {"valid": True, "logins": 0}

    def expected_response():
        h1 = hashlib.pbkdf2_hmac("sha256", b"fritzpw", bytes.fromhex("5A1711"), 10000)
        return "5A1722$" + hashlib.pbkdf2_hmac("sha256", h1, bytes.fromhex("5A1722"), 2000).hex()

    def login(req):
        if "response" not in req.query:
            return ok(chal, "text/xml")
        if req.query.get("username") == "user" and req.query["response"] == expected_response():
            st["logins"] += 1
            st["valid"] = True
            return ok(fixture("fritz/sid.xml"), "text/xml")
        return ok(fixture("fritz/login_failed.xml"), "text/xml")

    def homeauto(req):
        if req.query.get("sid") != "abcdef0123456789" or not st["valid"]:
            return 403, b"", {}
        return ok(fixture("fritz/devicelist.xml"), "text/xml")
    s = Server({"/login_sid.lua": login, "/webservices/homeautoswitch.lua": homeauto})
    try:
        port = free_udp_port()
        d = Daemon(f"[GENERAL]\nDEVICE_TYPE = ct002\n[CT002]\nUDP_PORT = {port}\n"
                   f"ACTIVE_CONTROL = False\n[FRITZ]\nHOST = {s.addr}\nUSER = user\n"
                   "PASSWORD = fritzpw\nAIN = 12345 0123456\n")
        try:
            check(d.wait_log("running", 5), d.output())
            u = Udp(port)
            r, _ = u.ask(ct_request(), timeout=4)
            check(ct_parse(r)[4:8] == ["-71", "0", "0", "-71"], (r, d.output()))
            st["valid"] = False  # SID expires: 403, then a transparent re-login
            time.sleep(0.3)
            r, _ = u.ask(ct_request(), timeout=4)
            check(ct_parse(r)[4:8] == ["-71", "0", "0", "-71"], (r, d.output()))
            check(st["logins"] == 2, st)
            check("fritzpw" not in d.output(), "password logged")
            u.close()
        finally:
            d.stop()
    finally:
        s.stop()


def make_cert():
    if not shutil.which("openssl"):
        return None
    d = tempfile.mkdtemp(prefix="amtest-tls-")
    key, crt = os.path.join(d, "k.pem"), os.path.join(d, "c.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", crt, "-days", "1", "-subj", "/CN=envoy.local"],
                   check=True, capture_output=True)
    return crt, key


def test_envoy_bearer_token_over_self_signed_tls():
    tls = make_cert()
    if not tls:
        print("skip: no openssl")
        return

    def prod(req):
        if req.headers.get("Authorization") != "Bearer eyJtest.token.sig":
            return 401, b"", {}
        return ok(fixture("envoy/production_lines.json"))
    s = Server({"/production.json": prod}, tls=tls)
    try:
        out = run_meter(f"[ENVOY]\nHOST = {s.addr}\nTOKEN = eyJtest.token.sig\n", s,
                        ["-100", "-80", "-120", "-300"])
        check("eyJtest" not in out, "token logged")
    finally:
        s.stop()


def test_tibber_pulse_sml_with_basic_auth():
    def data(req):
        if not basic_ok(req, "admin", "AD56-54BA") or req.query.get("node_id") != "1":
            return 401, b"", {}
        return ok(fixture("tibber_pulse/multiphase.bin"), "application/octet-stream")
    s = Server({"/data.json": data})
    try:
        run_meter(f"[TIBBER_PULSE]\nIP = {s.addr}\nPASSWORD = AD56-54BA\n", s,
                  ["400", "500", "334", "1234"])
    finally:
        s.stop()


def test_timeout_gives_hold_and_recovers():
    s = Server({"/rest": lambda r: ok(fixture("amisreader/rest.json"))})
    try:
        port = free_udp_port()
        d = Daemon(f"[GENERAL]\nDEVICE_TYPE = ct002\n[CT002]\nUDP_PORT = {port}\n"
                   f"ACTIVE_CONTROL = False\n[AMIS_READER]\nIP = {s.addr}\n")
        try:
            check(d.wait_log("running", 5), d.output())
            u = Udp(port)
            r, _ = u.ask(ct_request(), timeout=4)
            check(ct_parse(r)[4:8] == ["1200", "0", "0", "1200"], r)
            s.hang = True
            time.sleep(0.3)
            r, dt = u.ask(ct_request(), timeout=5)
            check(r is not None and ct_parse(r)[4:8] == ["0", "0", "0", "0"], (r, dt))
            check(dt < 2.6, dt)
            s.hang = False
            time.sleep(2.5)
            r, _ = u.ask(ct_request(), timeout=4)
            check(ct_parse(r)[4:8] == ["1200", "0", "0", "1200"], (r, d.output()))
            check("timeout" in d.output(), d.output())
            u.close()
        finally:
            d.stop()
    finally:
        s.stop()


def test_config_errors_name_section_and_key():
    from amtest import run_cli, write_config
    for section, needle in [("[SHELLY]\nTYPE = 4EM\nIP = x\n", "TYPE"),
                            ("[FRITZ]\nAIN = \n", "AIN"),
                            ("[ENVOY]\nHOST = h\n", "TOKEN or USERNAME"),
                            ("[TASMOTA]\nIP = x\nJSON_POWER_CALCULATE = True\n"
                             "JSON_POWER_INPUT_MQTT_LABEL = a,b\nJSON_POWER_OUTPUT_MQTT_LABEL = c\n",
                             "same number"),
                            ("[TIBBER_PULSE]\nIP = x\nOBIS_POWER_L1 = deadbeef\n", "OBIS_POWER_L1")]:
        path = write_config("[GENERAL]\nDEVICE_TYPE = ct002\n" + section)
        rc, out, err = run_cli(["-c", path, "-t", "-n"])
        check(rc != 0 and needle in (out + err), (section, rc, out, err))


if __name__ == "__main__":
    Runner().run([
        test_shelly_gen1_basic_auth,
        test_shelly_pro3em_digest_all_phases,
        test_tasmota_query_credentials,
        test_shrdzm_emlog_esphome_amis_fronius,
        test_iobroker_and_vzlogger,
        test_tq_em_cookie_login_and_relogin,
        test_fritz_pbkdf2_login_and_403_relogin,
        test_envoy_bearer_token_over_self_signed_tls,
        test_tibber_pulse_sml_with_basic_auth,
        test_timeout_gives_hold_and_recovers,
        test_config_errors_name_section_and_key,
    ])
