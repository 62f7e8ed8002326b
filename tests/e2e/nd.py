"""Test harness for notifyd end-to-end tests.

Starts the real binary (NOTIFYD_BIN) on ephemeral loopback ports with a temp
data dir, mints tokens with PyJWT, and opens real WebSocket (python3-websockets)
and gRPC (python3-grpcio) clients. Every wait is bounded.
"""
import asyncio
import atexit
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

import jwt  # PyJWT (python3-jwt)

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("NOTIFYD_BIN", os.path.join(TOP, "build", "notifyd"))
STUBS = os.environ.get("NOTIFYD_TEST_STUBS", os.path.join(TOP, "build", "pystubs"))
SECRET = "e2e-test-secret-0123456789abcdef"
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "ThreadSanitizer", "SUMMARY: UndefinedBehaviorSanitizer")
TIMEOUT = 10  # seconds for any single wait


def _generate_stubs():
    """Generates Python stubs from proto/ once per build dir (locked: ctest runs files in parallel)."""
    os.makedirs(STUBS, exist_ok=True)
    protos = [os.path.join(TOP, "proto", p) for p in
              ("notification/v1/notification.proto", "grpc/health/v1/health.proto")]
    stamp = os.path.join(STUBS, ".stamp")
    with open(os.path.join(STUBS, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        newest = max(os.path.getmtime(p) for p in protos)
        if not os.path.exists(stamp) or os.path.getmtime(stamp) < newest:
            py = "/usr/bin/python3"
            subprocess.check_call([py, "-m", "grpc_tools.protoc", "-I" + os.path.join(TOP, "proto"),
                                   "--python_out=" + STUBS, "--grpc_python_out=" + STUBS,
                                   "notification/v1/notification.proto"])
            # the health stubs go top-level: a `grpc` package would shadow grpcio
            subprocess.check_call([py, "-m", "grpc_tools.protoc",
                                   "-I" + os.path.join(TOP, "proto", "grpc", "health", "v1"),
                                   "--python_out=" + STUBS, "--grpc_python_out=" + STUBS,
                                   "health.proto"])
            open(stamp, "w").close()
    if STUBS not in sys.path:
        sys.path.insert(0, STUBS)


_generate_stubs()
import grpc  # noqa: E402
import health_pb2  # noqa: E402
import health_pb2_grpc  # noqa: E402
import websockets  # noqa: E402
from notification.v1 import notification_pb2 as pb  # noqa: E402
from notification.v1 import notification_pb2_grpc as pbg  # noqa: E402


def token(user="42", role="user", ttl=3600, secret=SECRET, alg="HS256", **claims):
    """A signed JWT; role=None leaves the role out; extra claims override."""
    now = int(time.time())
    body = {"sub": str(user), "user_id": str(user), "iat": now, "exp": now + ttl}
    if role is not None:
        body["role"] = role
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, secret, algorithm=alg)


def none_token(user="42", role="admin"):
    """An unsigned token (alg none): must always be refused."""
    import base64
    enc = lambda o: base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode()
    return enc({"alg": "none", "typ": "JWT"}) + "." + enc(
        {"user_id": user, "role": role, "exp": int(time.time()) + 3600}) + "."


def bearer(tok):
    return (("authorization", "Bearer " + tok),)


_LIVE = set()  # servers started and not yet stopped


@atexit.register
def _kill_leftovers():
    """A test that failed half-way must not leave a notifyd running behind it."""
    for proc in list(_LIVE):
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


class Server:
    """One notifyd process. Use as a context manager or call start()/stop()."""

    def __init__(self, args=(), env=None, data_dir=None, secret=SECRET, cwd=None, ports=None,
                 preexec_fn=None, bin=None):
        self.tmp = tempfile.TemporaryDirectory(prefix="notifyd-e2e-")
        self.data_dir = data_dir or os.path.join(self.tmp.name, "data")
        self.args = list(args)
        # the test's own NOTIFYD_BIN etc. are not notifyd settings: leave them out
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFYD_")}
        # the suite runs with 1 and with 2 WebSocket threads (scripts/test.sh)
        if os.environ.get("ND_TEST_WS_THREADS"):
            self.env["NOTIFYD_WS_THREADS"] = os.environ["ND_TEST_WS_THREADS"]
        if secret is not None:
            self.env["NOTIFYD_JWT_SECRET"] = secret
        self.env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        self.env.update(env or {})
        self.cwd = cwd or self.tmp.name
        self.ports = ports  # None: ephemeral
        self.preexec_fn = preexec_fn  # run in the child before exec (e.g. a lower RLIMIT_NOFILE)
        self.bin = bin or BIN  # another build: an older version, say
        self.proc = None
        self.signalled = False
        self.lines = []
        self.cond = threading.Condition()
        self.grpc_port = self.http_port = None

    def start(self):
        argv = [self.bin]
        if self.ports is None:
            argv += ["--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"]
        argv += ["--data-dir", self.data_dir] + self.args
        self.proc = subprocess.Popen(argv, cwd=self.cwd, env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, errors="replace",
                                     preexec_fn=self.preexec_fn)
        _LIVE.add(self.proc)
        threading.Thread(target=self._read, daemon=True).start()
        line = self.wait_log(lambda r: r.get("msg") == "listening", timeout=60)
        self.grpc_port, self.http_port = line["grpc_port"], line["http_port"]
        return self

    def _read(self):
        for raw in self.proc.stderr:
            with self.cond:
                self.lines.append(raw.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)  # EOF marker
            self.cond.notify_all()

    def records(self):
        """Parsed JSON log lines so far (non-JSON lines are skipped)."""
        out = []
        with self.cond:
            lines = [l for l in self.lines if l is not None]
        for l in lines:
            try:
                out.append(json.loads(l))
            except ValueError:
                pass
        return out

    def log_mark(self):
        """Where the log is now: wait_log(..., since=mark) looks only at lines written after it."""
        with self.cond:
            return len(self.lines)

    def wait_log(self, pred, timeout=TIMEOUT, since=0):
        """Waits for a JSON log line matching pred (from line `since` on); returns it."""
        deadline = time.monotonic() + timeout
        seen = since
        with self.cond:
            while True:
                while seen < len(self.lines):
                    l = self.lines[seen]
                    seen += 1
                    if l is None:
                        raise AssertionError("notifyd exited; log:\n" + self.text())
                    try:
                        r = json.loads(l)
                    except ValueError:
                        continue
                    if pred(r):
                        return r
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("log line not seen in %ss; log:\n%s" % (timeout, self.text()))
                self.cond.wait(left)

    def text(self):
        with self.cond:
            return "\n".join(l for l in self.lines if l is not None)

    def send_signal(self, sig):
        """Signals notifyd once (a second SIGTERM/SIGINT would end it at once)."""
        self.signalled = True
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Stops the server; returns its exit code. Asserts no sanitizer report."""
        if self.proc is None:
            return None
        if self.proc.poll() is None and not self.signalled:
            self.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError("notifyd did not exit within %ss of %s" % (timeout, sig))
        with self.cond:
            self.cond.wait_for(lambda: self.lines and self.lines[-1] is None, 5)
        _LIVE.discard(self.proc)
        self.proc = None
        log = self.text()
        for m in SANITIZER_MARKERS:
            assert m not in log, "sanitizer report:\n" + log
        return rc

    def close(self):
        try:
            if self.proc is not None:
                rc = self.stop()
                assert rc == 0, "notifyd exited with %s; log:\n%s" % (rc, self.text())
        finally:
            self.tmp.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # --- clients ---
    @property
    def ws_url(self):
        return "ws://127.0.0.1:%d/ws" % self.http_port

    @property
    def http_url(self):
        return "http://127.0.0.1:%d" % self.http_port

    def channel(self):
        return grpc.aio.insecure_channel("127.0.0.1:%d" % self.grpc_port)

    async def connect(self, tok=None, user="42", query="", headers=None, expect_connected=True):
        """Opens a WebSocket; returns (ws, connected message)."""
        if tok is None:
            tok = token(user)
        url = self.ws_url + ("?token=" + tok if tok else "") + query
        ws = await asyncio.wait_for(websockets.connect(url, extra_headers=headers or {},
                                                       open_timeout=TIMEOUT, max_size=2 ** 22,
                                                       ping_interval=None), TIMEOUT)
        hello = None
        if expect_connected:
            hello = await recv(ws)
            assert hello["type"] == "connected", hello
        return ws, hello


async def recv(ws, timeout=TIMEOUT):
    """The next message, parsed."""
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_type(ws, type_, timeout=TIMEOUT):
    """The next message of a type, skipping others (ping etc.)."""
    deadline = time.monotonic() + timeout
    while True:
        m = await recv(ws, max(0.05, deadline - time.monotonic()))
        if m["type"] == type_:
            return m


async def nothing(ws, within=0.3):
    """Asserts no message arrives within `within` seconds."""
    try:
        m = await asyncio.wait_for(ws.recv(), within)
    except asyncio.TimeoutError:
        return
    raise AssertionError("unexpected message: %s" % m)


def http(server, method, path, body=None, headers=None, timeout=TIMEOUT):
    """A plain HTTP request; returns (status, headers, parsed JSON or text)."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=timeout)
    data = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
    h = {"content-type": "application/json"} if data is not None else {}
    h.update(headers or {})
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    raw = r.read()
    c.close()
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = raw.decode(errors="replace")
    return r.status, {k.lower(): v for k, v in r.getheaders()}, parsed


def until(fn, timeout=TIMEOUT, every=0.02, what="a condition"):
    """Polls fn() until it returns something true and returns that: the way to wait for
    the server to have done something (a log line, a metric, an answer), never a sleep."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("%s not reached in %ss (last: %r)" % (what, timeout, v))
        time.sleep(every)


async def until_async(fn, timeout=TIMEOUT, every=0.02, what="a condition"):
    """until() for coroutines: fn is awaited each round."""
    deadline = time.monotonic() + timeout
    while True:
        v = await fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("%s not reached in %ss (last: %r)" % (what, timeout, v))
        await asyncio.sleep(every)


_METRIC = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')


def metrics(server):
    """/metrics as {(name, frozenset(labels)): value} (test_operations checks the syntax)."""
    st, _, text = http(server, "GET", "/metrics")
    assert st == 200, text
    out = {}
    for line in text.splitlines():
        m = _METRIC.match(line)
        if m and not line.startswith("#"):
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
            out[(m.group(1), labels)] = float(m.group(4))
    return out


def metric(server_or_metrics, name, **labels):
    """One value of /metrics (0 when absent): from a server, or from what metrics() returned."""
    m = server_or_metrics if isinstance(server_or_metrics, dict) else metrics(server_or_metrics)
    return m.get((name, frozenset(labels.items())), 0.0)


async def offline(server, user, timeout=TIMEOUT):
    """Waits until @server no longer counts a connection of @user (closes are processed
    asynchronously): what is sent to the user from then on is for an offline user."""
    async def gone():
        async with server.channel() as ch:
            r = await pbg.NotificationServiceStub(ch).IsUserOnline(
                pb.IsUserOnlineRequest(user_id=user), metadata=bearer(token("backend", "service")),
                timeout=TIMEOUT)
        return not r.is_online
    await until_async(gone, timeout, what="%s offline" % user)


def acks_seen(server, n, timeout=TIMEOUT):
    """Waits until @server has received @n acks in all (notifyd_acks_total): from then on what
    those acks forget is forgotten for every later connect."""
    until(lambda: metric(server, "notifyd_acks_total") >= n, timeout, what="%d acks" % n)


def run(coro):
    """Runs a test coroutine with an overall bound."""
    return asyncio.run(asyncio.wait_for(coro, 120))


class RawWS:
    """A WebSocket client on a plain socket, for behaviour no library allows:
    never reading, not answering PINGs, sending garbage. Frames are masked."""

    def __init__(self, server, tok=None, user="42", query="", rcvbuf=None, timeout=TIMEOUT):
        import base64
        import socket
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", server.http_port))
        tok = token(user) if tok is None else tok
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET /ws?token=%s%s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
                           % (tok, query, key)).encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise AssertionError("connection closed during the handshake: %r" % self.buf)
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.status = int(head.split(b" ")[1])
        self.closed = None  # (code, reason) once a close frame arrived

    @staticmethod
    def frame(payload, opcode=1, fin=True, mask=True):
        """One frame's bytes."""
        import struct
        if isinstance(payload, str):
            payload = payload.encode()
        b0 = (0x80 if fin else 0) | opcode
        n = len(payload)
        if n < 126:
            hdr = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
        else:
            hdr = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
        if mask:
            m = os.urandom(4)
            payload = bytes(b ^ m[i % 4] for i, b in enumerate(payload))
            hdr += m
        return hdr + payload

    def send_frame(self, payload, opcode=1, fin=True, mask=True):
        self.sock.sendall(self.frame(payload, opcode, fin, mask))

    def send_frames(self, payloads):
        """Several text frames in one write."""
        self.sock.sendall(b"".join(self.frame(p) for p in payloads))

    def send_json(self, obj):
        self.send_frame(json.dumps(obj))

    def _fill(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("socket closed")
            self.buf += chunk

    def recv_frame(self):
        """(opcode, payload bytes); raises EOFError/timeout."""
        import struct
        self._fill(2)
        op, ln = self.buf[0] & 0x0F, self.buf[1] & 0x7F
        pos = 2
        if ln == 126:
            self._fill(4)
            ln = struct.unpack("!H", self.buf[2:4])[0]
            pos = 4
        elif ln == 127:
            self._fill(10)
            ln = struct.unpack("!Q", self.buf[2:10])[0]
            pos = 10
        self._fill(pos + ln)
        payload, self.buf = self.buf[pos:pos + ln], self.buf[pos + ln:]
        if op == 8:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
            self.closed = (code, payload[2:].decode(errors="replace"))
        return op, payload

    def recv_json(self, answer_pings=False):
        """The next text message, parsed (WebSocket PINGs answered if asked, else skipped)."""
        while True:
            op, payload = self.recv_frame()
            if op == 1:
                return json.loads(payload)
            if op == 8:
                raise EOFError("closed: %s" % (self.closed,))
            if op == 9 and answer_pings:
                self.send_frame(payload, opcode=10)

    def wait_closed(self, timeout=TIMEOUT, on_message=None):
        """Reads until the server's close frame; returns (code, reason)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                op, payload = self.recv_frame()
            except EOFError:
                return self.closed
            if op == 8:
                return self.closed
            if op == 1 and on_message:
                on_message(json.loads(payload))
        raise AssertionError("not closed within %ss" % timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
