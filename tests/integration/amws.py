# SPDX-License-Identifier: GPL-3.0-or-later
"""A minimal RFC 6455 WebSocket server for the integration tests (standard library only):
the peer the Home Assistant and HomeWizard meters talk to. It answers the HTTP upgrade,
reads masked client frames (text, ping -> pong, close -> close), sends unmasked text
frames, and optionally speaks TLS. Plain HTTP requests on the same port (Home Assistant
serves its REST API there too) go to a `rest` callable. Each accepted WebSocket runs
`session(conn)` on its own thread; the test keeps the WsConn to push more messages,
drop the connection or look at what the daemon sent."""

import base64
import hashlib
import os
import queue
import socket
import ssl
import struct
import subprocess
import tempfile
import threading

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_key(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


class WsConn:
    def __init__(self, sock, path, headers):
        self.sock = sock
        self.path = path
        self.headers = headers
        self.inbox = queue.Queue()
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self.pings = 0
        self.reader = threading.Thread(target=self._read_loop, daemon=True)

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("eof")
            buf += chunk
        return buf

    def _read_frame(self):
        b0, b1 = self._recv_exact(2)
        op = b0 & 0x0F
        masked = b1 & 0x80
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._recv_exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._recv_exact(8))[0]
        if not masked:
            raise ConnectionError("client frame not masked")
        mask = self._recv_exact(4)
        data = bytearray(self._recv_exact(n))
        for i in range(n):
            data[i] ^= mask[i % 4]
        return b0 & 0x80, op, bytes(data)

    def _read_loop(self):
        parts = b""
        try:
            while True:
                fin, op, data = self._read_frame()
                if op == 0x9:
                    self.pings += 1
                    self._send_frame(0xA, data)
                elif op == 0xA:
                    pass
                elif op == 0x8:
                    try:
                        self._send_frame(0x8, data[:2])
                    except OSError:
                        pass
                    break
                elif op in (0x1, 0x0):
                    parts += data
                    if fin:
                        self.inbox.put(parts.decode())
                        parts = b""
        except (ConnectionError, OSError, ValueError):
            pass
        self.closed.set()
        try:
            self.sock.close()
        except OSError:
            pass

    def _send_frame(self, op, data):
        n = len(data)
        if n < 126:
            head = struct.pack("!BB", 0x80 | op, n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | op, 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | op, 127, n)
        with self.lock:
            self.sock.sendall(head + data)

    def send(self, text):
        """Sends one text message (str); False if the connection is gone."""
        try:
            self._send_frame(0x1, text.encode())
            return True
        except OSError:
            return False

    def send_fragmented(self, text, pieces=3):
        """Sends text as a fragmented message (first frame text, then continuations)."""
        data = text.encode()
        step = max(1, len(data) // pieces)
        chunks = [data[i:i + step] for i in range(0, len(data), step)]
        with self.lock:
            for i, c in enumerate(chunks):
                op = 0x1 if i == 0 else 0x0
                fin = 0x80 if i == len(chunks) - 1 else 0
                self.sock.sendall(struct.pack("!BB", fin | op, len(c)) + c)

    def recv(self, timeout=5.0):
        """Next text message from the daemon, or None."""
        try:
            return self.inbox.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self, code=1000):
        try:
            self._send_frame(0x8, struct.pack("!H", code))
        except OSError:
            pass
        self.closed.wait(2)

    def drop(self):
        """Ends the TCP connection without a close frame."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.closed.set()


class WsServer:
    def __init__(self, session, rest=None, tls=None, host="127.0.0.1"):
        """session(conn) runs per WebSocket; rest(method, path, headers) -> (status, body
        bytes) serves plain HTTP; tls = (certfile, keyfile) for wss."""
        self.session = session
        self.rest = rest
        self.conns = []
        self.rest_requests = []
        self.upgrades = []
        self.refuse = False  # close new connections at once
        self.ctx = None
        if tls:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(*tls)
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((host, 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.running = True
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self):
        while self.running:
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    def _serve(self, s):
        if self.refuse:
            s.close()
            return
        try:
            if self.ctx:
                s.settimeout(5)
                s = self.ctx.wrap_socket(s, server_side=True)
            s.settimeout(None)
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(4096)
                if not chunk:
                    s.close()
                    return
                buf += chunk
                if len(buf) > 65536:
                    s.close()
                    return
        except (OSError, ssl.SSLError):
            try:
                s.close()
            except OSError:
                pass
            return
        head = buf.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        lines = head.split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            headers[k.strip().lower()] = v.strip()
        if headers.get("upgrade", "").lower() != "websocket":
            self.rest_requests.append((method, path, headers))
            status, body = self.rest(method, path, headers) if self.rest else (404, b"")
            reason = {200: "OK", 401: "Unauthorized", 404: "Not Found"}.get(status, "X")
            s.sendall(("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                       "Content-Length: %d\r\nConnection: close\r\n\r\n"
                       % (status, reason, len(body))).encode() + body)
            s.close()
            return
        self.upgrades.append((path, headers))
        key = headers.get("sec-websocket-key", "")
        s.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n"
                   % accept_key(key)).encode())
        c = WsConn(s, path, headers)
        self.conns.append(c)
        c.reader.start()
        try:
            self.session(c)
        except Exception:  # a session that fails only ends its connection
            c.drop()

    def last(self):
        return self.conns[-1] if self.conns else None

    def stop(self):
        self.running = False
        try:
            self.lsock.close()
        except OSError:
            pass
        for c in self.conns:
            c.drop()


def make_test_pki(names):
    """Creates a test CA and a server certificate for the DNS names given (with the
    openssl CLI). Returns (dir, ca_pem, cert_pem, key_pem)."""
    d = tempfile.mkdtemp(prefix="amws-pki-")
    ca_key, ca_pem = os.path.join(d, "ca.key"), os.path.join(d, "ca.pem")
    key, csr, cert = (os.path.join(d, n) for n in ("srv.key", "srv.csr", "srv.pem"))
    ext = os.path.join(d, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=" + ",".join("DNS:" + n for n in names) + "\n")
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key,
        "-out", ca_pem, "-days", "2", "-subj", "/CN=Test Appliance CA")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
        "-subj", "/CN=test appliance")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key,
        "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext)
    return d, ca_pem, cert, key
