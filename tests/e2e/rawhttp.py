"""Raw HTTP/1.1 and WebSocket over plain sockets, for the edge tests.

What no client library lets a test do: write several requests in one
segment, split them at any byte, lie about lengths, send unmasked or
malformed frames, and read exactly what the server answered (status line,
headers, a Content-Length body) or see that it closed. Every read has a
deadline. Shared by test_edge.py, test_edge_fuzz.py and test_watchdog.py.
"""
import base64
import contextlib
import json
import os
import socket
import struct
import subprocess
import time
import uuid

import grpc

import nd
from nd import pb, pbg

HOST = "127.0.0.1"
SVC = nd.token("edge-backend", "service")


class Closed(Exception):
    """The server closed the connection before a complete answer."""


class Response:
    """One HTTP answer: status, reason, headers (lower-case names), body."""

    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    @property
    def closes(self):
        return "close" in self.headers.get("connection", "").lower()

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<%d %s %r>" % (self.status, self.reason, self.body[:120])


# --- HTTP ---

def connect(port, timeout=5.0):
    """A TCP connection to the loopback port, Nagle off (splits stay splits)."""
    s = socket.create_connection((HOST, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def request(method, path, headers=(), body=b"", host="x", length=None):
    """The bytes of one HTTP/1.1 request. A body (or POST/PUT) gets a
    Content-Length unless `length` is False; an int `length` lies."""
    if isinstance(body, str):
        body = body.encode()
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: " + host]
    lines += ["%s: %s" % kv for kv in headers]
    if length is None and (body or method in ("POST", "PUT")):
        length = len(body)
    if length is not False and length is not None:
        lines.append("Content-Length: %s" % length)
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def auth(tok):
    """An Authorization header pair."""
    return ("Authorization", "Bearer " + tok)


class Reader:
    """Reads HTTP answers off one socket, with deadlines."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False

    def _fill(self, deadline):
        """More bytes into buf; False on EOF. Raises TimeoutError past the deadline."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no answer in time; have %r" % self.buf[:200])
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("no answer in time; have %r" % self.buf[:200]) from None
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _need(self, pred, deadline):
        while not pred():
            if not self._fill(deadline):
                raise Closed("closed mid-answer; have %r" % self.buf[:200])

    def read_response(self, timeout=5.0, head=False):
        """The next answer, or None if the server closed before sending a byte.
        `head`: the answer to a HEAD request (no body whatever its length)."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(deadline):
                if not self.buf:
                    return None
                raise Closed("closed mid-head; have %r" % self.buf[:200])
        raw, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise AssertionError("not an HTTP status line: %r" % lines[0])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        status = int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        if head or status in (101, 204, 304) or status < 200:
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._chunked(deadline)
        elif "content-length" in headers:
            n = int(headers["content-length"])
            self._need(lambda: len(self.buf) >= n, deadline)
            body, self.buf = self.buf[:n], self.buf[n:]
        else:  # delimited by the close
            while self._fill(deadline):
                pass
            body, self.buf = self.buf, b""
        return Response(status, reason, headers, body)

    def _chunked(self, deadline):
        """A chunked body (trailers skipped)."""
        body = b""
        while True:
            self._need(lambda: b"\r\n" in self.buf, deadline)
            line, _, self.buf = self.buf.partition(b"\r\n")
            n = int(line.split(b";")[0], 16)
            if n == 0:
                self._need(lambda: b"\r\n\r\n" in b"\r\n" + self.buf, deadline)
                self.buf = (b"\r\n" + self.buf).partition(b"\r\n\r\n")[2]
                return body
            self._need(lambda: len(self.buf) >= n + 2, deadline)
            body, self.buf = body + self.buf[:n], self.buf[n + 2:]

    def closed_within(self, timeout):
        """True when the server closes (EOF or reset) within timeout; extra
        bytes read meanwhile are kept in buf."""
        deadline = time.monotonic() + timeout
        try:
            while self._fill(deadline):
                pass
            return True
        except TimeoutError:
            return False
        except OSError:
            return True


def read_answers(sock, n, timeout=5.0, heads=()):
    """Up to n answers in order; stops early after an answer that says
    `connection: close` or when the server closes. `heads`: indexes that
    answer a HEAD request. Returns (answers, reader)."""
    r = Reader(sock)
    deadline = time.monotonic() + timeout
    out = []
    while len(out) < n:
        resp = r.read_response(max(0.01, deadline - time.monotonic()), head=len(out) in heads)
        if resp is None:
            break
        out.append(resp)
        if resp.closes:
            break
    return out, r


def chunks_of(data, sizes):
    """data cut into pieces of the given sizes (the rest in the last)."""
    out, pos = [], 0
    for n in sizes:
        if pos >= len(data):
            break
        out.append(data[pos:pos + n])
        pos += n
    if pos < len(data):
        out.append(data[pos:])
    return out


def random_chunks(data, rng, largest=16):
    """data cut at random boundaries into pieces of 1..largest bytes."""
    sizes = []
    total = 0
    while total < len(data):
        sizes.append(rng.randint(1, largest))
        total += sizes[-1]
    return chunks_of(data, sizes)


def send_pieces(sock, pieces, pause=0.001):
    """Writes each piece on its own, pausing so they arrive as separate reads."""
    for p in pieces:
        sock.sendall(p)
        if pause:
            time.sleep(pause)


def exchange(port, data, n, timeout=5.0, pieces=None, heads=()):
    """Sends data (whole, or as the given pieces) on a fresh connection and
    reads up to n answers. Writes the server refuses after it closed are
    dropped. Returns (answers, reader); the socket is closed."""
    s = connect(port, timeout)
    try:
        try:
            send_pieces(s, [data] if pieces is None else pieces, pause=0 if pieces is None else 0.001)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed after an answer with connection: close: read what came
        answers, r = read_answers(s, n, timeout, heads)
        return answers, r
    finally:
        s.close()


def get(port, path, timeout=3.0, headers=()):
    """GET on a fresh connection; the answer (raises on timeout or close)."""
    answers, _ = exchange(port, request("GET", path, headers), 1, timeout)
    if not answers:
        raise Closed("GET %s: closed without an answer" % path)
    return answers[0]


def timed_get(port, path, timeout=3.0):
    """(status or the exception's name, seconds taken) for a GET on a fresh connection."""
    t0 = time.monotonic()
    try:
        st = get(port, path, timeout).status
    except (OSError, Closed, TimeoutError) as e:
        st = type(e).__name__
    return st, time.monotonic() - t0


def poll(fn, timeout, interval=0.1):
    """Calls fn until it returns a true value or timeout passes; returns the
    last value and the seconds waited. fn's OSError/Closed count as false."""
    t0 = time.monotonic()
    val = None
    while True:
        try:
            val = fn()
        except (OSError, Closed, TimeoutError, grpc.RpcError):
            val = None
        if val or time.monotonic() - t0 > timeout:
            return val, time.monotonic() - t0
        time.sleep(interval)


# --- WebSocket ---

def encode_frame(opcode, payload=b"", fin=True, mask=True, rsv=0, length=None):
    """One WebSocket frame. `rsv`: the three RSV bits (0..7); `length`: a
    declared length other than the payload's."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv & 7) << 4 | opcode & 0x0F
    mbit = 0x80 if mask else 0
    if n < 126:
        hdr = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, mbit | 127, n)
    if mask:
        key = os.urandom(4)
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        hdr += key
    return hdr + payload


def close_payload(code, reason=b""):
    """The payload of a close frame with a code (and reason)."""
    return struct.pack("!H", code) + reason


def parse_close(payload):
    """(code or None, reason) of a close frame's payload."""
    if len(payload) < 2:
        return None, ""
    return struct.unpack("!H", payload[:2])[0], payload[2:].decode(errors="replace")


def upgrade_request(path, key, headers=()):
    """The bytes of a WebSocket upgrade request."""
    hs = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key),
          ("Sec-WebSocket-Version", "13")] + list(headers)
    return request("GET", path, hs, host=HOST)


class WSConn:
    """A WebSocket client on a raw socket. `status` is the handshake's HTTP
    status; after a 101 the server's frames are read with recv_frame()."""

    def __init__(self, port, tok=None, user="edge", timeout=5.0, query=""):
        tok = nd.token(user) if tok is None else tok
        self.sock = connect(port, timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(upgrade_request("/ws?token=%s%s" % (tok, query), key))
        self.reader = Reader(self.sock)
        resp = self.reader.read_response(timeout, head=True)
        if resp is None:
            raise Closed("closed during the handshake")
        self.status, self.headers = resp.status, resp.headers
        self.close_code = None

    def send(self, data):
        self.sock.sendall(data)

    def send_frame(self, opcode, payload=b"", **kw):
        self.sock.sendall(encode_frame(opcode, payload, **kw))

    def recv_frame(self, timeout=5.0):
        """(fin, rsv, opcode, payload) of the next frame; raises Closed on EOF."""
        r = self.reader
        deadline = time.monotonic() + timeout
        r._need(lambda: len(r.buf) >= 2, deadline)
        b0, b1 = r.buf[0], r.buf[1]
        n, pos = b1 & 0x7F, 2
        if n >= 126:
            pos = 4 if n == 126 else 10
            r._need(lambda: len(r.buf) >= pos, deadline)
            n = struct.unpack("!H" if pos == 4 else "!Q", r.buf[2:pos])[0]
        if b1 & 0x80:
            pos += 4  # a masked server frame is a protocol error, but read it whole
        r._need(lambda: len(r.buf) >= pos + n, deadline)
        payload, r.buf = r.buf[pos:pos + n], r.buf[pos + n:]
        if b0 & 0x0F == 8:
            self.close_code = parse_close(payload)[0]
        return bool(b0 & 0x80), b0 >> 4 & 7, b0 & 0x0F, payload

    def recv_json(self, timeout=5.0):
        """The next text message, parsed; other frames are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            _, _, op, payload = self.recv_frame(max(0.01, deadline - time.monotonic()))
            if op == 1:
                return json.loads(payload)
            if op == 8:
                raise Closed("close frame %s" % (parse_close(payload),))

    def wait_close(self, timeout=5.0):
        """Reads until the server's close frame. Returns (code, reason) of it,
        or None when the connection ended without one."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                _, _, op, payload = self.recv_frame(max(0.01, deadline - time.monotonic()))
            except (Closed, ConnectionResetError):
                return None
            if op == 8:
                return parse_close(payload)

    def closed_within(self, timeout):
        """True when the server ends the TCP connection within timeout."""
        return self.reader.closed_within(timeout)

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()


# --- the service still works ---

def grpc_stats(server, timeout=3.0):
    """GetStats with a service token on a new channel (raises grpc.RpcError)."""
    with grpc.insecure_channel("%s:%d" % (HOST, server.grpc_port)) as ch:
        return pbg.NotificationServiceStub(ch).GetStats(pb.GetStatsRequest(),
                                                        metadata=nd.bearer(SVC), timeout=timeout)


def grpc_health(server, timeout=3.0):
    """grpc.health.v1.Health/Check for service "" on a new channel: its status number."""
    with grpc.insecure_channel("%s:%d" % (HOST, server.grpc_port)) as ch:
        stub = nd.health_pb2_grpc.HealthStub(ch)
        return stub.Check(nd.health_pb2.HealthCheckRequest(service=""), timeout=timeout).status


def delivery(server, timeout=3.0):
    """A real user connects, a notification is sent over gRPC, the user gets
    it. Returns the seconds it took; raises on any failure."""
    t0 = time.monotonic()
    user = "edge-" + uuid.uuid4().hex[:12]
    ws = WSConn(server.http_port, user=user, timeout=timeout)
    try:
        assert ws.status == 101, "upgrade answered %s" % ws.status
        hello = ws.recv_json(timeout)
        assert hello["type"] == "connected", hello
        mark = uuid.uuid4().hex
        with grpc.insecure_channel("%s:%d" % (HOST, server.grpc_port)) as ch:
            pbg.NotificationServiceStub(ch).SendSystemNotification(
                pb.SendSystemNotificationRequest(user_id=user, message=mark),
                metadata=nd.bearer(SVC), timeout=timeout)
        deadline = t0 + 2 * timeout
        while True:
            m = ws.recv_json(max(0.01, deadline - time.monotonic()))
            if m["type"] == "system_notification" and m["data"]["message"] == mark:
                return time.monotonic() - t0
    finally:
        ws.close()


def assert_serving(server, timeout=3.0):
    """/healthz answers 200 within timeout and a user still receives a
    notification sent over gRPC within timeout. Returns the two figures."""
    st, took = timed_get(server.http_port, "/healthz", timeout)
    assert st == 200, "/healthz: %s after %.2f s" % (st, took)
    assert took < timeout, took
    d = delivery(server, timeout)
    assert d < timeout * 2, d
    return took, d


# --- a notifyd that may hang ---

def kill(server):
    """Ends a notifyd that may be stuck, without the clean-stop checks, and
    removes its data dir."""
    if server.proc is not None and server.proc.poll() is None:
        server.proc.kill()
    if server.proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.proc.wait(5)
        nd._LIVE.discard(server.proc)
        server.proc = None
    server.tmp.cleanup()


@contextlib.contextmanager
def serving(args=(), env=None, stop_timeout=15, **kw):
    """A notifyd for one test. When the test passes, it must stop cleanly
    (exit 0, no sanitizer report) within stop_timeout; when the test failed
    (or the server hung) it is killed so the suite goes on."""
    s = nd.Server(args=args, env=env, **kw).start()
    try:
        yield s
    except BaseException:
        kill(s)
        raise
    try:
        if s.proc is not None:  # None: the test reaped it itself
            rc = s.stop(timeout=stop_timeout)
            assert rc == 0, "notifyd exited with %s; log tail:\n%s" % (rc, s.text()[-3000:])
    finally:
        kill(s)
