"""The public edge (issue 15, SPEC §8 last paragraph): what an unauthenticated
client can send to the HTTP port -- pipelined requests, descriptor
exhaustion, slow headers, bodies the server will not read, oversized heads,
bytes that are not HTTP, malformed WebSocket frames -- must neither stop,
freeze nor starve notifyd, and error answers must reach the client.
Every test speaks raw bytes over a socket (tests/e2e/rawhttp.py)."""
import json
import random
import resource
import selectors
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest

import nd
import rawhttp as rh
from rawhttp import auth, request

SVC = rh.SVC
ADMIN = nd.token("edge-admin", "admin")
USER = nd.token("edge-user", "user")
JSON = ("Content-Type", "application/json")


def pct(values, q):
    """The q-quantile (0..1) of a list of numbers."""
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


# --- 1. pipelining ---

# name: (request bytes, expected status)
REQ = {
    "healthz": (request("GET", "/healthz"), 200),
    "readyz": (request("GET", "/readyz"), 200),
    "metrics": (request("GET", "/metrics"), 200),
    "notify": (request("POST", "/api/websocket/notification", [auth(SVC), JSON],
                       b'{"user_id":"pipe-user","message":"pipelined"}'), 200),
    "notify_anon": (request("POST", "/api/websocket/notification", [JSON],
                            b'{"user_id":"pipe-user","message":"no token"}'), 401),
    "broadcast": (request("POST", "/api/websocket/broadcast", [auth(SVC), JSON],
                          b'{"message":"pipelined broadcast"}'), 200),
    "template": (request("PUT", "/api/websocket/templates/x", [auth(ADMIN), JSON],
                         b'{"title":"t","message":"m"}'), 200),
    "template_svc": (request("PUT", "/api/websocket/templates/x", [auth(SVC), JSON],
                             b'{"title":"t","message":"m"}'), 403),
    "root_post": (request("POST", "/", body=b"{}"), 404),
}

PIPELINES = [
    ["healthz", "root_post"],  # the reported freeze, byte for byte
    ["healthz", "readyz"],
    ["healthz", "notify", "metrics"],
    ["notify", "notify", "broadcast", "readyz"],
    ["metrics", "template", "healthz", "notify_anon"],
    ["readyz", "notify_anon", "healthz"],
    ["broadcast", "template_svc", "root_post", "healthz", "healthz"],
    ["notify", "template", "broadcast", "metrics", "notify_anon"],
    ["healthz", "healthz", "readyz", "metrics", "healthz"],
]


def pipeline(names):
    return b"".join(REQ[n][0] for n in names), [REQ[n][1] for n in names]


def check_answers(answers, expected, what):
    """Answers come in order, one each; fewer only after a connection: close."""
    got = [a.status for a in answers]
    assert got == expected[:len(got)], "%s: answered %s, expected %s" % (what, got, expected)
    assert answers, "%s: no answer at all" % what
    if len(got) < len(expected):
        assert answers[-1].closes, "%s: closed after %s without connection: close" % (what, got)
    for a in answers:
        if a.headers.get("content-type", "").startswith("application/json"):
            a.json()


def check_still_serving(server):
    """/healthz answers quickly, a gRPC GetStats answers, a user gets a notification."""
    took, d = rh.assert_serving(server, 3.0)
    rh.grpc_stats(server, 3.0)
    print("after: /healthz %.3f s, delivery %.3f s" % (took, d))


def test_reported_pipelined_freeze():
    """The exact freeze of issue 15: GET /healthz and POST / with a 2-byte
    body in one write put nd-ws into a 100% CPU loop."""
    data = (b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
    with rh.serving() as s:
        answers, _ = rh.exchange(s.http_port, data, 2, timeout=5)
        assert [a.status for a in answers] == [200, 404], answers
        assert answers[0].json() == {"status": "ok"}
        check_still_serving(s)


@pytest.mark.parametrize("names", PIPELINES, ids=["+".join(p) for p in PIPELINES])
def test_pipelined_requests_in_one_write(names):
    """2-5 requests (GET, POST and PUT with bodies, REST routes with and
    without tokens) written at once are answered in order."""
    data, expected = pipeline(names)
    with rh.serving() as s:
        answers, _ = rh.exchange(s.http_port, data, len(expected), timeout=5)
        check_answers(answers, expected, "+".join(names))
        check_still_serving(s)


def test_a_pipelined_request_lws_cannot_read_is_refused_with_a_close():
    """Found by test_edge_fuzz: a GET with a body whose last bytes arrive in the
    same read as the next request's head. lws 4.1.6 then hands that request its
    own head as its body; notifyd used to close the connection silently after
    the GET's 200, which had gone out without connection: close, so the client
    could not tell. Now the unreadable request gets 503, connection: close and
    retry-after: 0 (send it again on a new connection), for every cut within
    the first request's last bytes -- or, since the answer to a GET held for
    its body's end closes the connection (the test below), the 200 closes and
    nothing after it is read."""
    first = request("GET", "/", [auth(ADMIN), JSON], b"\x00\xff\xfe")
    data = first + REQ["notify"][0] + REQ["healthz"][0]
    with rh.serving() as s:
        for back in range(1, 7):
            cut = len(first) - back
            answers, _ = rh.exchange(s.http_port, data, 3, timeout=5, pieces=[data[:cut], data[cut:]])
            got = [a.status for a in answers]
            assert got == [200, 200, 200] or (got[:1] == [200] and answers[-1].closes), (back, answers)
            if len(got) == 2:  # a GET's 200 held for its body closes (the test below) first
                assert got == [200, 503], (back, answers)
                assert answers[-1].headers.get("retry-after") == "0", answers[-1].headers
                assert "send it again on a new connection" in answers[-1].json()["message"]
        check_still_serving(s)


@pytest.mark.parametrize("threads", ["1", "2"])
def test_a_large_answer_held_for_a_body_then_a_pipelined_body_does_not_stop_the_thread(threads):
    """Found by test_edge_fuzz (EDGE_FUZZ_SEED=3103743388, burst 41): GET /metrics
    with a 28-byte body, then a GET with a body, in one write. The metrics answer
    (about 100 KB) waited for the first body's end and then went out in part;
    lws 4.1.6 looped in its rx-flow service over the buffered next request, and
    the WebSocket thread never came back: /healthz, upgrades and deliveries of
    that thread all waited until the watchdog's restart. An answer held for a
    body's end now closes the connection after it (connection: close): the
    pipelined request is not read, and the client can tell."""
    data = (request("GET", "/metrics", [], b'{"message":"fuzz broadcast"}') +
            request("GET", "/healthz", [JSON], b"x" * 3000))
    with rh.serving(env={"NOTIFYD_WS_THREADS": threads}) as s:
        for pieces in (None, [data[:400], data[400:]]):
            answers, _ = rh.exchange(s.http_port, data, 2, timeout=5, pieces=pieces)
            assert answers and answers[0].status == 200, answers
            assert b"notifyd_build_info" in answers[0].body and b"notifyd_ready" in answers[0].body
            assert len(answers) == 2 or answers[-1].closes, answers
            check_still_serving(s)


@pytest.mark.parametrize("names", [["healthz"] * 200, ["healthz", "notify"] * 50],
                         ids=["200-gets", "100-with-bodies"])
def test_long_pipeline(names):
    """'Any number' of requests in one write: 200 GETs (fine today), and 100
    alternating GET and POST-with-body (today: the freeze)."""
    data, expected = pipeline(names)
    with rh.serving() as s:
        t0 = time.monotonic()
        answers, _ = rh.exchange(s.http_port, data, len(expected), timeout=10)
        print("%d answers in %.3f s" % (len(answers), time.monotonic() - t0))
        check_answers(answers, expected, "%d pipelined" % len(names))
        check_still_serving(s)


def test_pipelined_one_byte_at_a_time():
    """The reported pair sent one byte per write: every parser state is cut."""
    data, expected = pipeline(["healthz", "root_post"])
    with rh.serving() as s:
        pieces = [data[i:i + 1] for i in range(len(data))]
        answers, _ = rh.exchange(s.http_port, data, 2, timeout=5, pieces=pieces)
        check_answers(answers, expected, "byte by byte")
        check_still_serving(s)


def test_pipelined_split_at_every_boundary():
    """The reported pair in two writes, for every cut position."""
    data, expected = pipeline(["healthz", "root_post"])
    with rh.serving() as s:
        for cut in range(1, len(data)):
            answers, _ = rh.exchange(s.http_port, data, 2, timeout=5,
                                     pieces=[data[:cut], data[cut:]])
            check_answers(answers, expected, "cut at %d" % cut)
        check_still_serving(s)


def test_pipelined_random_splits():
    """Every pipeline above, cut at random small boundaries (seeded)."""
    rng = random.Random(15)
    with rh.serving() as s:
        for names in PIPELINES:
            data, expected = pipeline(names)
            for _ in range(3):
                pieces = rh.random_chunks(data, rng, largest=rng.choice([3, 16, 64]))
                answers, _ = rh.exchange(s.http_port, data, len(expected), timeout=5,
                                         pieces=pieces)
                check_answers(answers, expected, "+".join(names) + " split")
        check_still_serving(s)


BODY_WHERE_NONE = [("GET", "/healthz"), ("GET", "/api/websocket/stats"),
                   ("DELETE", "/api/websocket/templates/x"), ("OPTIONS", "/api/websocket/stats")]


@pytest.mark.parametrize("then", [b"", REQ["readyz"][0]], ids=["alone", "then-readyz"])
@pytest.mark.parametrize("method,path", BODY_WHERE_NONE, ids=["%s %s" % mp for mp in BODY_WHERE_NONE])
def test_body_on_a_route_that_takes_none(method, path, then):
    """A request with a Content-Length body on a route that takes none (GET,
    DELETE, OPTIONS), alone or followed by GET /readyz in the same write:
    answered, then the next one or a close (a guard for the pipelining fix:
    the body is framed by its length whatever the method)."""
    data = request(method, path, [auth(ADMIN), JSON], b'{"a":1}') + then
    n = 2 if then else 1
    with rh.serving() as s:
        answers, _ = rh.exchange(s.http_port, data, n, timeout=5)
        print("answered", answers)
        assert answers, "no answer"
        if len(answers) < n:
            assert answers[-1].closes, "closed after %s without connection: close" % answers[-1]
        elif then:
            assert answers[1].status == 200, answers
        check_still_serving(s)


# --- 2. descriptor exhaustion ---

def low_nofile():
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


def open_idle(port, n, timeout=0.5):
    """Up to n idle TCP connections (a connect that does not finish in time
    is skipped: the backlog is full)."""
    socks, failed = [], 0
    for _ in range(n):
        try:
            socks.append(socket.create_connection((rh.HOST, port), timeout=timeout))
        except OSError:
            failed += 1
    return socks, failed


def accept_error_lines(server, since):
    """(lines mentioning accept or descriptors since index `since`, bytes logged since)."""
    with server.cond:
        lines = [l for l in server.lines[since:] if l is not None]
    words = ("accept", "descriptor", "emfile", "open files", "errno 24")
    hits = [l for l in lines if any(w in l.lower() for w in words)]
    return hits, sum(len(l) + 1 for l in lines)


def try_readyz(sock):
    """/readyz on a kept-alive connection: its status or the error's name."""
    try:
        sock.sendall(request("GET", "/readyz"))
        a = rh.Reader(sock).read_response(1.0)
        return a.status if a else "closed"
    except (OSError, rh.Closed, TimeoutError) as e:
        return type(e).__name__


def grpc_try(s):
    """GetStats on a new channel: "ok" or the failure's code."""
    try:
        rh.grpc_stats(s, 1.0)
        return "ok"
    except rh.grpc.RpcError as e:
        return e.code().name


def test_descriptor_exhaustion_recovers():
    """400 idle TCP connections to the HTTP port of a notifyd limited to 256
    descriptors: it must not spin or flood its log, and once they go both
    listeners serve again by themselves."""
    with rh.serving(preexec_fn=low_nofile) as s:
        keep = rh.connect(s.http_port)  # opened before: may see /readyz 503
        assert try_readyz(keep) == 200
        since = len(s.lines)
        t0 = time.monotonic()
        socks, failed = open_idle(s.http_port, 400)
        print("opened %d idle connections (%d connects timed out) in %.1f s"
              % (len(socks), failed, time.monotonic() - t0))
        ready_seen = [try_readyz(keep) for _ in range(3)]
        print("/readyz on an old connection while saturated:", ready_seen)
        print("gRPC while saturated:", grpc_try(s))  # its listener meets EMFILE too
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and s.proc.poll() is None:
            time.sleep(0.1)  # hold them open: give a spinning accept loop time to show
        alive = s.proc.poll() is None
        hits, nbytes = accept_error_lines(s, since)
        n_hits = len(hits)
        print("while saturated: %d accept/descriptor log lines, %d log bytes" % (n_hits, nbytes))
        print("first ones:", hits[:3])
        del hits
        for c in socks:
            c.close()
        keep.close()
        problems = [] if alive else ["notifyd died (rc %s)" % s.proc.returncode]
        if n_hits > 50:
            problems.append("%d log lines about accept errors (%d bytes)" % (n_hits, nbytes))
        problems += recovery_problems(s, t_closed=time.monotonic())
        assert not problems, "; ".join(problems)


def test_head_senders_past_the_descriptor_budget_are_bounded():
    """400 clients that each send the start of a head (so the kernel hands
    them over: an idle socket never leaves TCP_DEFER_ACCEPT) to a notifyd
    limited to 256 descriptors: the oldest are closed to make room, the log
    stays short, and normal requests keep being answered."""
    with rh.serving(preexec_fn=low_nofile) as s:
        since = len(s.lines)
        socks, failed = [], 0
        for _ in range(400):
            try:
                c = socket.create_connection((rh.HOST, s.http_port), timeout=0.5)
                c.sendall(b"GET /healthz HTTP/1.1\r\n")
                socks.append(c)
            except OSError:
                failed += 1
        t0 = time.monotonic()
        a = rh.get(s.http_port, "/healthz", 3.0)
        took = time.monotonic() - t0
        hits, nbytes = accept_error_lines(s, since)
        print("%d head senders (%d failed to connect); /healthz %s in %.3f s; %d log lines"
              % (len(socks), failed, a.status if a else None, took, len(hits)))
        for c in socks:
            c.close()
        assert a is not None and a.status == 200
        assert len(hits) <= 50, hits[:5]
        assert not recovery_problems(s, t_closed=time.monotonic())


def idle_grpc_flood(port, n):
    """n idle TCP connections to the gRPC port (gRPC accepts them all)."""
    return open_idle(port, n)


def test_grpc_listener_comes_back_after_emfile():
    """Idle connections to the gRPC port use up the 256 descriptors: gRPC
    1.51 stops accepting for good after "Failed accept4"; notifyd notices,
    says not ready, makes a new listener on the same port once descriptors
    are free, and both ports serve again."""
    with rh.serving(preexec_fn=low_nofile, env={"NOTIFYD_HTTP_HEADER_TIMEOUT_MS": "20000"}) as s:
        since = len(s.lines)
        socks, failed = idle_grpc_flood(s.grpc_port, 300)
        lost, _ = rh.poll(lambda: any("stopped accepting" in (l or "") for l in s.lines[since:]),
                          5.0, interval=0.1)
        try:
            ready = rh.get(s.http_port, "/readyz", 2.0)
        except (OSError, rh.Closed, TimeoutError):
            ready = None  # no descriptor for it: refused, which is fine too
        print("%d idle gRPC connections (%d failed); listener lost: %s; /readyz %s"
              % (len(socks), failed, lost, ready.status if ready else None))
        for c in socks:
            c.close()
        t_closed = time.monotonic()
        hits, nbytes = accept_error_lines(s, since)
        assert lost, "notifyd did not notice the gRPC listener failing"
        assert ready is None or ready.status == 503, "ready while gRPC cannot accept"
        assert len(hits) <= 50, hits[:5]
        back, took = rh.poll(
            lambda: any("accepts connections again" in (l or "") for l in s.lines[since:]),
            10.0, interval=0.1)
        assert back, "no new gRPC listener"
        print("gRPC listener back %.2f s after the flood went" % (time.monotonic() - t_closed))
        assert not recovery_problems(s, t_closed=time.monotonic())


def recovery_problems(s, t_closed, within=5.0):
    """What does not work again within `within` s of the flood going:
    /healthz, /readyz, gRPC on a new channel, a WebSocket delivery."""
    checks = [
        ("/healthz 200", lambda: rh.get(s.http_port, "/healthz", 1.0).status == 200),
        ("/readyz 200", lambda: rh.get(s.http_port, "/readyz", 1.0).status == 200),
        ("gRPC GetStats", lambda: rh.grpc_stats(s, 1.0) is not None),
        ("WebSocket delivery", lambda: rh.delivery(s, 1.0) is not None),
    ]
    problems = []
    for name, fn in checks:
        left = within - (time.monotonic() - t_closed)
        ok, _ = rh.poll(fn, max(0.0, left), interval=0.1)
        if not ok:
            problems.append("%s not working %.0f s after the idle connections closed" % (name, within))
    if not problems:
        print("recovered in %.2f s" % (time.monotonic() - t_closed))
    return problems


# --- 3. slowloris ---

class Slow:
    """n clients that send `GET /healthz HTTP/1.1\\r\\n` and then one header
    byte every `every` s, on a thread; each one's answer and close time are
    recorded. Stops sending to a client once it heard anything."""

    HEADER = b"X-Slow-Header: " + b"a" * 1000

    def __init__(self, port, n, every=0.5, limit=20.0):
        self.port, self.n, self.every, self.limit = port, n, every, limit
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.conns = []  # dicts: sock, t_connect, data, t_closed, pos
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        assert self.ready.wait(30), "slow clients did not connect"
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(10)
        for c in self.conns:
            c["sock"].close()

    def _connect(self, sel):
        for _ in range(self.n):
            s = socket.create_connection((rh.HOST, self.port), timeout=2)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(b"GET /healthz HTTP/1.1\r\n")
            s.setblocking(False)
            c = {"sock": s, "t_connect": time.monotonic(), "data": b"", "t_closed": None, "pos": 0}
            self.conns.append(c)
            sel.register(s, selectors.EVENT_READ, c)

    def _read(self, c, sel):
        try:
            chunk = c["sock"].recv(65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        c["data"] += chunk
        if not chunk:
            c["t_closed"] = time.monotonic()
            sel.unregister(c["sock"])

    def _trickle(self):
        for c in self.conns:
            if c["data"] or c["t_closed"]:
                continue
            try:
                c["sock"].send(self.HEADER[c["pos"] % len(self.HEADER):][:1])
                c["pos"] += 1
            except OSError:
                pass  # a reset shows on the read side

    def _run(self):
        sel = selectors.DefaultSelector()
        self._connect(sel)
        self.ready.set()
        t_end = time.monotonic() + self.limit
        next_tick = time.monotonic()
        while not self.stop.is_set() and time.monotonic() < t_end and sel.get_map():
            now = time.monotonic()
            if now >= next_tick:
                self._trickle()
                next_tick = now + self.every
            for key, _ in sel.select(max(0.0, min(next_tick, t_end) - time.monotonic())):
                self._read(key.data, sel)
        sel.close()

    def wait_all_closed(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not all(c["t_closed"] for c in self.conns):
            time.sleep(0.1)


def normal_requests(port, n, spacing=0.1, bound=3.0):
    """n GET /healthz on fresh connections; their latencies. Stops at the
    first one not answered 200 within `bound` (asserting it)."""
    took = []
    for _ in range(n):
        st, t = rh.timed_get(port, "/healthz", timeout=bound + 0.5)
        assert st == 200 and t < bound, "GET /healthz under slowloris: %s after %.2f s" % (st, t)
        took.append(t)
        time.sleep(spacing)
    return took


def ws_connect_time(port, bound=3.0):
    """Seconds for a WebSocket upgrade and its `connected` message."""
    t0 = time.monotonic()
    ws = rh.WSConn(port, timeout=bound + 0.5)
    try:
        assert ws.status == 101, ws.status
        assert ws.recv_json(bound)["type"] == "connected"
    finally:
        ws.close()
    return time.monotonic() - t0


def test_slowloris_200_clients():
    """200 clients sending their headers one byte per 500 ms: normal requests
    and upgrades are answered at once, the slow ones get 408 at the deadline."""
    timeout_ms = 3000
    with rh.serving(env={"NOTIFYD_HTTP_HEADER_TIMEOUT_MS": str(timeout_ms)}) as s:
        with Slow(s.http_port, 200, limit=timeout_ms / 1000 + 6) as slow:
            took = normal_requests(s.http_port, 20)
            print("GET /healthz under slowloris: p50 %.3f s, max %.3f s" % (pct(took, 0.5), max(took)))
            t_ws = ws_connect_time(s.http_port)
            print("WebSocket upgrade + connected under slowloris: %.3f s" % t_ws)
            assert t_ws < 3.0
            slow.wait_all_closed(timeout_ms / 1000 + 5)
            check_slow_answered(slow.conns, timeout_ms / 1000 + 3)


def check_slow_answered(conns, bound):
    """Each slow client got `HTTP/1.1 408` with a JSON code 408 and was
    closed within `bound` s of its connect."""
    late = [c for c in conns if c["t_closed"] is None or c["t_closed"] - c["t_connect"] > bound]
    spans = [c["t_closed"] - c["t_connect"] for c in conns if c["t_closed"]]
    if spans:
        print("slow clients closed after p50 %.2f s, max %.2f s (%d of %d)"
              % (pct(spans, 0.5), max(spans), len(spans), len(conns)))
    assert not late, "%d of %d slow clients not closed within %.1f s" % (len(late), len(conns), bound)
    for c in conns:
        assert c["data"].startswith(b"HTTP/1.1 408"), c["data"][:200]
        head, _, body = c["data"].partition(b"\r\n\r\n")
        assert json.loads(body)["code"] == 408, c["data"][:300]


@pytest.mark.parametrize("n", [60, 100])
def test_pre_upgrade_connection_cap_makes_room(n):
    """60 (and 100) slow-header clients against --max-http-connections 50: a
    normal request on a fresh connection is still answered (the oldest
    waiting connections are closed to make room). Today's 64 header slots
    pass 60 and starve at 100."""
    with rh.serving(env={"NOTIFYD_MAX_HTTP_CONNECTIONS": "50"}) as s:
        with Slow(s.http_port, n, limit=30) as slow:
            st, took = rh.timed_get(s.http_port, "/healthz", timeout=3.5)
            closed = sum(1 for c in slow.conns if c["t_closed"] or c["data"])
            print("GET /healthz past the cap: %s in %.3f s; %d slow clients closed/answered"
                  % (st, took, closed))
            assert st == 200 and took < 3.0


def test_thousands_of_idle_connections_do_not_starve():
    """2,000 connections that never send a byte (SPEC §8: thousands of idle
    or half-open connections; today about 64 of them take every header slot
    and /healthz waits forever): normal requests, upgrades and deliveries go on."""
    with rh.serving() as s:
        socks, failed = open_idle(s.http_port, 2000)
        try:
            print("%d idle connections open (%d connects timed out)" % (len(socks), failed))
            st, took = rh.timed_get(s.http_port, "/healthz", timeout=3.5)
            print("GET /healthz past them: %s in %.3f s" % (st, took))
            assert st == 200 and took < 3.0
            t_ws = ws_connect_time(s.http_port)
            print("WebSocket upgrade + connected: %.3f s" % t_ws)
            assert t_ws < 3.0
            rh.delivery(s, 3.0)
        finally:
            for c in socks:
                c.close()


# --- 4. error answers reach the client (lingering close) ---

NOTIFY_URL = "/api/websocket/notification"


def urllib_post(port, size, tok):
    """POST `size` bytes with urllib; (status, parsed JSON body)."""
    prefix = b'{"user_id":"big","message":"'
    body = prefix + b"x" * (size - len(prefix) - 2) + b'"}'
    headers = {"Content-Type": "application/json"}
    if tok:
        headers["Authorization"] = "Bearer " + tok
    req = urllib.request.Request("http://%s:%d%s" % (rh.HOST, port, NOTIFY_URL), data=body,
                                 headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def raw_post(port, size, tok):
    """POST `size` bytes on a raw socket, the body written by a thread that
    keeps sending; (status, parsed JSON body, writer's outcome)."""
    headers = [JSON] + ([auth(tok)] if tok else [])
    head = request("POST", NOTIFY_URL, headers, length=size)
    s = rh.connect(port, timeout=10)
    outcome = []

    def writer():
        try:
            s.sendall(head)
            s.sendall(b"x" * size)
            outcome.append("sent all")
        except OSError as e:
            outcome.append(type(e).__name__)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        a = rh.Reader(s).read_response(10)
        assert a is not None, "closed without an answer"
        t.join(10)
        return a.status, a.json(), outcome
    finally:
        s.close()


LINGER = [  # (body size, token, allowed statuses)
    (4 << 20, None, {401, 413}),
    (4 << 20, SVC, {413}),
    (200 << 10, USER, {403}),
    (200 << 10, None, {401}),
    (1000 << 10, USER, {403}),  # just under the 1 MiB body limit
]


@pytest.mark.parametrize("size,tok,allowed", LINGER, ids=["4MiB-anon", "4MiB-service",
                                                          "200KiB-user", "200KiB-anon",
                                                          "1000KiB-user"])
def test_error_answer_to_unread_body_reaches_the_client(size, tok, allowed):
    """An early 413/401/403 to a body the server will not read must reach
    urllib and a raw client (lingering close), never a reset, 3 of 3."""
    with rh.serving() as s:
        for i in range(3):
            try:
                st, body = urllib_post(s.http_port, size, tok)
            except (urllib.error.URLError, OSError) as e:
                pytest.fail("urllib try %d: %r instead of an answer" % (i + 1, e))
            assert st in allowed and body["code"] == st, (st, body)
            st, body, outcome = raw_post(s.http_port, size, tok)
            print("try %d: urllib and raw client saw %s; raw writer: %s" % (i + 1, st, outcome))
            assert st in allowed and body["code"] == st, (st, body)
        assert rh.get(s.http_port, "/healthz").status == 200


# --- 5. limits ---

def answer_then_close(port, data, timeout=3.0, pieces=None):
    """Sends data; (first answer or None, closed within timeout after it)."""
    s = rh.connect(port, timeout)
    try:
        try:
            if pieces is None:
                s.sendall(data)
            else:
                rh.send_pieces(s, pieces, pause=0)
        except OSError:
            pass  # the server may close before it read everything
        r = rh.Reader(s)
        a = r.read_response(timeout)
        return a, r.closed_within(timeout)
    finally:
        s.close()


def check_limit(port, data, status, json_body):
    """The answer is `status` (with a JSON {"code": status} body if
    `json_body`), then the server closes."""
    try:
        a, closed = answer_then_close(port, data)
    except (ConnectionResetError, rh.Closed) as e:
        pytest.fail("%r instead of an HTTP %d answer" % (e, status))
    assert a is not None, "closed without an HTTP %d answer" % status
    assert a.status == status, a
    print("%d answer: %r" % (status, a.body[:200]))
    if json_body:
        assert a.json()["code"] == status
    assert closed, "not closed after the %d" % status


@pytest.fixture(scope="module")
def limits_server():
    with rh.serving(env={"NOTIFYD_HTTP_HEADER_TIMEOUT_MS": "2000"}) as s:
        yield s


def test_request_line_over_16k_is_414(limits_server):
    """A 17,000-byte URL is answered 414 and closed, not dropped."""
    check_limit(limits_server.http_port, b"GET /" + b"a" * 17000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414,
                json_body=True)
    assert rh.get(limits_server.http_port, "/healthz").status == 200


def test_one_header_over_16k_is_431(limits_server):
    """One 17,000-byte header is answered 431 and closed."""
    data = request("GET", "/healthz", [("X-Big", "a" * 17000)])
    check_limit(limits_server.http_port, data, 431, json_body=False)
    assert rh.get(limits_server.http_port, "/healthz").status == 200


def test_many_headers_over_16k_are_431(limits_server):
    """40 headers of 500 bytes (20 KB in all) are answered 431 and closed."""
    data = request("GET", "/healthz", [("X-H%d" % i, "b" * 500) for i in range(40)])
    check_limit(limits_server.http_port, data, 431, json_body=False)
    assert rh.get(limits_server.http_port, "/healthz").status == 200


def test_header_just_under_the_limit_is_fine(limits_server):
    """A 12 KiB Authorization header on GET /healthz is answered 200."""
    a = rh.get(limits_server.http_port, "/healthz", headers=[("Authorization", "Bearer " + "a" * 12288)])
    assert a.status == 200, a


def test_body_shorter_than_content_length_is_408(limits_server):
    """Declares 100 bytes, sends 10 and waits: 408 at the header deadline
    (2 s here), then closed -- not a silent 10 s hang."""
    data = request("POST", NOTIFY_URL, [auth(SVC), JSON], body=b'{"user_id"', length=100)
    t0 = time.monotonic()
    a, closed = answer_then_close(limits_server.http_port, data, timeout=5.0)
    took = time.monotonic() - t0
    print("short body answered %s after %.2f s" % (a and a.status, took))
    assert a is not None and a.status == 408, a
    assert took < 2.0 + 3.0 and closed


TLS_HELLO = bytes.fromhex("16030100c4010000c00303") + bytes(range(32)) + bytes.fromhex(
    "000020c02bc02fc02cc030cca9cca8c013c014009c009d002f0035c012000a130113021303") + bytes(80)


@pytest.mark.parametrize("data", [TLS_HELLO, b"\x00" * 100, b"GARBAGE\r\n\r\n"],
                         ids=["tls-hello", "nul-bytes", "garbage"])
def test_bytes_that_are_not_http(limits_server, data):
    """A TLS hello on the plain port, NUL bytes, a garbage line: a 400 or a
    close within 3 s, never a hang."""
    t0 = time.monotonic()
    try:
        a, closed = answer_then_close(limits_server.http_port, data, timeout=3.0)
    except (ConnectionResetError, rh.Closed):
        a, closed = None, True
    except TimeoutError:
        pytest.fail("no answer and no close within 3 s")
    print("answered %s, closed %s, after %.2f s" % (a, closed, time.monotonic() - t0))
    assert a is None or a.status == 400, a
    assert closed
    assert rh.get(limits_server.http_port, "/healthz").status == 200


# --- 6. WebSocket frames ---

@pytest.fixture(scope="module")
def ws_server():
    with rh.serving() as s:
        yield s


def ws_attack(server, frame):
    """Upgrades, reads `connected`, sends the frame; (server's close, TCP closed)."""
    ws = rh.WSConn(server.http_port)
    try:
        assert ws.status == 101, ws.status
        assert ws.recv_json()["type"] == "connected"
        ws.send(frame)
        try:
            close = ws.wait_close(5.0)
        except TimeoutError:
            pytest.fail("no close frame and no close within 5 s")
        return close, ws.closed_within(3.0)
    finally:
        ws.close()


def test_unmasked_client_frame_is_1002(ws_server):
    """RFC 6455 §5.1: a client frame without a mask fails the connection."""
    close, gone = ws_attack(ws_server, rh.encode_frame(1, '{"type":"pong"}', mask=False))
    assert close is not None and close[0] == 1002, close
    assert gone, "TCP connection left open"
    assert rh.get(ws_server.http_port, "/healthz").status == 200


@pytest.mark.parametrize("code", [1000, 1001, 3000, 4999])
def test_valid_close_code_is_echoed(ws_server, code):
    """A close with a valid code is answered with the same code."""
    close, _ = ws_attack(ws_server, rh.encode_frame(8, rh.close_payload(code, b"bye")))
    assert close is not None and close[0] == code, close
    assert rh.get(ws_server.http_port, "/healthz").status == 200


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])
def test_invalid_close_code_is_1002(ws_server, code):
    """RFC 6455 §7.4: reserved or out-of-range codes get a 1002 close."""
    close, _ = ws_attack(ws_server, rh.encode_frame(8, rh.close_payload(code)))
    assert close is not None and close[0] == 1002, close
    assert rh.get(ws_server.http_port, "/healthz").status == 200


@pytest.mark.parametrize("frame", [rh.encode_frame(8, b"\x03"), rh.encode_frame(3, b"x"),
                                   rh.encode_frame(1, '{"type":"pong"}', rsv=4)],
                         ids=["close-1-byte", "opcode-3", "rsv1-no-deflate"])
def test_malformed_frame_is_1002(ws_server, frame):
    """A 1-byte close payload, a reserved opcode, RSV1 without deflate: 1002."""
    close, _ = ws_attack(ws_server, frame)
    assert close is not None and close[0] == 1002, close
    assert rh.get(ws_server.http_port, "/healthz").status == 200
