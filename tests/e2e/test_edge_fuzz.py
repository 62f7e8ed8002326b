"""Robustness of the public edge (issue 15): bounded random and adversarial
byte streams at the HTTP port, in bursts of concurrent connections --
pipelined requests with bodies on every route and method, random splits,
truncated and huge heads, random bytes, wrong Content-Lengths, chunked
bodies, and garbage, fragmented, oversized and malformed frames after a
real WebSocket upgrade. After each burst /healthz must answer and a real
user must still receive a notification sent over gRPC.

EDGE_FUZZ_SEED replays a run (the seed is printed at the start);
EDGE_FUZZ_SECONDS sets its length (default 40)."""
import concurrent.futures
import os
import random
import time

import nd
import rawhttp as rh
from rawhttp import request

SEED = int(os.environ.get("EDGE_FUZZ_SEED") or random.SystemRandom().randrange(1 << 32))
SECONDS = float(os.environ.get("EDGE_FUZZ_SECONDS", "40"))
HEADER_TIMEOUT_MS = 1500

TOKENS = [None, rh.SVC, nd.token("fz-admin", "admin"), nd.token("fz-user", "user"), "not.a.token"]
API = "/api/websocket"
PATHS = ["/healthz", "/readyz", "/metrics", "/ws", "/", "/index.html", "/nope", "/api/nope",
         API + "/notification", API + "/batchgo/open-url", API + "/task/progress",
         API + "/token/insufficient", API + "/plan/expiring", API + "/plan/expired",
         API + "/broadcast", API + "/stats", API + "/user/fz-1/online", API + "/test?user_id=fz-1",
         API + "/templates", API + "/templates/fz", API + "/templates/", API + "/nope"]
METHODS = ["GET", "POST", "PUT", "DELETE", "OPTIONS"]
BODIES = [b"", b"{}", b'{"user_id":"fz-1","message":"fuzz"}', b'{"message":"fuzz broadcast"}',
          b'{"user_id":"fz-1","task_id":"t","task_type":"batchgo","status":"running","progress":5}',
          b'{"user_id":"fz-1","task_id":"t","urls":["https://example.com"],"delay":10}',
          b'{"title":"t","message":"m"}', b"[1,2", b"\x00\xff\xfe", b"x" * 3000]


def valid_request(rng):
    """One well-formed request: any route, method, token and body."""
    headers = [("Content-Type", "application/json")] if rng.random() < 0.7 else []
    tok = rng.choice(TOKENS)
    if tok:
        headers.append(rh.auth(tok))
    method = rng.choice(METHODS)
    body = rng.choice(BODIES) if method != "GET" or rng.random() < 0.2 else b""
    return request(method, rng.choice(PATHS), headers, body)


def pieces_for(rng, data):
    """data whole, or cut at random boundaries."""
    r = rng.random()
    if r < 0.4:
        return [data]
    if r < 0.5 and len(data) < 400:
        return [data[i:i + 1] for i in range(len(data))]
    largest = max(rng.choice([2, 7, 50, 500]), len(data) // 200)  # at most ~200 writes
    return rh.random_chunks(data, rng, largest=largest)


def send(sock, pieces):
    """Writes the pieces; False if the server closed meanwhile."""
    try:
        rh.send_pieces(sock, pieces, pause=0.0005)
        return True
    except OSError:
        return False


def drain(sock, seconds):
    """Reads whatever comes for up to `seconds` (or until EOF); the bytes."""
    data = b""
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    return data


def check_http_bytes(data, what):
    """Whatever the server answered on plain HTTP starts as an HTTP/1.x status line."""
    if data and not data.startswith(b"HTTP/1."):
        raise AssertionError("%s: answer is not HTTP: %r" % (what, data[:120]))
    return "answered" if data else "closed/silent"


# --- attacks: each takes (rng, port) and returns a short outcome tag ---

def attack_pipeline(rng, port):
    """1-5 well-formed requests in one stream: answered in order, one each,
    fewer only after connection: close (the strong check)."""
    reqs = [valid_request(rng) for _ in range(rng.randint(1, 5))]
    data = b"".join(reqs)
    try:
        answers, _ = rh.exchange(port, data, len(reqs), timeout=5.0, pieces=pieces_for(rng, data))
    except (OSError, rh.Closed) as e:  # TimeoutError is an OSError
        raise AssertionError("pipeline of %d: %r; sent %r" % (len(reqs), e, data[:600])) from e
    if not answers or (len(answers) < len(reqs) and not answers[-1].closes):
        raise AssertionError("pipeline of %d answered %s without connection: close; sent %r"
                             % (len(reqs), [a.status for a in answers], data[:600]))
    return "pipeline %d/%d" % (len(answers), len(reqs))


def attack_truncated(rng, port):
    """A well-formed pipeline cut short, then silence or a close."""
    data = b"".join(valid_request(rng) for _ in range(rng.randint(1, 3)))
    data = data[:rng.randint(1, len(data) - 1)]
    with rh.connect(port) as s:
        send(s, pieces_for(rng, data))
        return check_http_bytes(drain(s, rng.choice([0.0, 0.3, 1.0])), "truncated")


def attack_huge_head(rng, port):
    """A request line, one header, or many headers of 10-70 KB."""
    n = rng.randint(10000, 70000)
    kind = rng.randrange(3)
    if kind == 0:
        data = b"GET /" + b"a" * n + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    elif kind == 1:
        data = request(rng.choice(METHODS), rng.choice(PATHS), [("X-Big", "b" * n)])
    else:
        data = request("GET", "/healthz", [("X-H%d" % i, "c" * 500) for i in range(n // 520)])
    with rh.connect(port) as s:
        send(s, pieces_for(rng, data))
        return check_http_bytes(drain(s, 1.0), "huge head")


def attack_random_bytes(rng, port):
    """Random bytes, or printable junk with CRLFs, or a mutated request."""
    kind = rng.randrange(3)
    if kind == 0:
        data = rng.randbytes(rng.randint(1, 4096))
    elif kind == 1:
        alphabet = b"GETPOST /:\r\n HTTP/1.1 abc0123-\t"
        data = bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 600)))
    else:
        data = bytearray(valid_request(rng))
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        data = bytes(data)
    with rh.connect(port) as s:
        send(s, pieces_for(rng, data))
        drain(s, rng.choice([0.0, 0.5]))
    return "random %d" % kind


BAD_LENGTHS = [["5"], ["100000"], ["-1"], ["abc"], ["1e3"], ["+10"], [" 10 "], ["0x10"],
               ["99999999999999999999999"], ["10", "20"], ["10", "10"], ["10, 10"], [""]]


def attack_bad_length(rng, port):
    """Content-Length too short, too long, negative, non-numeric, duplicated."""
    body = rng.choice(BODIES[1:]) + (valid_request(rng) if rng.random() < 0.5 else b"")
    lengths = rng.choice(BAD_LENGTHS)
    headers = [("Content-Length", v) for v in lengths]
    if rng.random() < 0.5:
        headers.append(rh.auth(rng.choice(TOKENS[1:])))
    data = request(rng.choice(["POST", "PUT", "GET"]), rng.choice(PATHS), headers, body, length=False)
    with rh.connect(port) as s:
        send(s, pieces_for(rng, data))
        return check_http_bytes(drain(s, rng.choice([0.3, 1.0])), "content-length %s" % lengths)


def attack_chunked(rng, port):
    """Transfer-Encoding: chunked, well-formed or not, with or without a length."""
    chunks = rng.choice([b"10\r\n{\"message\":\"hi\"}\r\n0\r\n\r\n", b"zz\r\nxx\r\n",
                         b"ffffffffffffffff\r\nabc", b"5\r\nabc", b"0\r\n\r\n"])
    headers = [("Transfer-Encoding", rng.choice(["chunked", "gzip, chunked", "chunked, chunked"])),
               rh.auth(rh.SVC)]
    if rng.random() < 0.3:
        headers.append(("Content-Length", str(len(chunks))))
    data = request(rng.choice(["POST", "PUT"]), rng.choice(PATHS), headers, chunks, length=False)
    with rh.connect(port) as s:
        send(s, pieces_for(rng, data + (valid_request(rng) if rng.random() < 0.5 else b"")))
        return check_http_bytes(drain(s, 0.5), "chunked")


def ws_frames(rng):
    """Bytes of garbage, fragmented, oversized or malformed frames."""
    f = rh.encode_frame
    kind = rng.randrange(9)
    if kind == 0:
        return rng.randbytes(rng.randint(1, 2000))
    if kind == 1:  # a fragmented text message, sometimes with a ping inside
        parts = [f(1, b'{"type":', fin=False), f(0, b'"pong",', fin=False)]
        if rng.random() < 0.5:
            parts.insert(1, f(9, b"p"))
        return b"".join(parts) + f(0, b'"data":{}}')
    if kind == 2:  # continuation without a start, or a new message inside one
        return rng.choice([f(0, b"orphan"), f(1, b"a", fin=False) + f(1, b"b")])
    if kind == 3:  # declared lengths far past what is sent
        return f(rng.choice([1, 2]), b"abc", length=rng.choice([1 << 40, (1 << 63) - 1, 70000]))
    if kind == 4:  # control frames over 125 bytes, or fragmented
        return rng.choice([f(9, b"p" * 126), f(8, rh.close_payload(1000, b"r" * 200)),
                           f(10, b"q" * 300), f(9, b"p", fin=False)])
    if kind == 5:  # reserved opcodes and RSV bits, unmasked frames
        return f(rng.choice([3, 4, 5, 6, 7, 11, 12, 15]), b"x", rsv=rng.randrange(8),
                 mask=rng.random() < 0.5)
    if kind == 6:  # invalid UTF-8 text, binary
        return f(1, b"\xff\xfe\xc3") + f(2, rng.randbytes(50))
    if kind == 7:  # a flood of small valid messages
        return b"".join(f(1, b'{"type":"pong"}') for _ in range(rng.randint(5, 60)))
    return f(1, rng.randbytes(rng.randint(0, 200)), mask=rng.random() < 0.8) + \
        f(8, rh.close_payload(rng.choice([1000, 1002, 5000, 0]))[:rng.choice([0, 1, 2, 5])])


def attack_ws(rng, port):
    """A real upgrade, then a random run of malformed frames."""
    ws = rh.WSConn(port, user="fz-ws-%d" % rng.randrange(1000), timeout=5.0)
    try:
        if ws.status != 101:
            raise AssertionError("upgrade answered %s" % ws.status)
        data = b"".join(ws_frames(rng) for _ in range(rng.randint(1, 4)))
        try:
            rh.send_pieces(ws.sock, pieces_for(rng, data), pause=0.0005)
        except OSError:
            return "ws closed early"
        drain(ws.sock, rng.choice([0.0, 0.5]))
        return "ws"
    finally:
        ws.close()


ATTACKS = [(attack_pipeline, 4), (attack_truncated, 2), (attack_huge_head, 1), (attack_random_bytes, 2),
           (attack_bad_length, 2), (attack_chunked, 1), (attack_ws, 3)]


def run_one(burst, i, port):
    """One attack with its own deterministic generator; (name, outcome, error)."""
    rng = random.Random("%d-%d-%d" % (SEED, burst, i))
    fn = rng.choices([a for a, _ in ATTACKS], [w for _, w in ATTACKS])[0]
    try:
        return fn.__name__, fn(rng, port), None
    except (OSError, rh.Closed) as e:  # a hostile client may be cut off any way
        return fn.__name__, type(e).__name__, None
    except AssertionError as e:
        return fn.__name__, None, "%s (burst %d, #%d): %s" % (fn.__name__, burst, i, e)


def test_edge_survives_random_and_adversarial_streams():
    """Bursts of 20-50 concurrent hostile connections; after each, /healthz
    answers within 3 s and a user still gets a notification over gRPC."""
    print("EDGE_FUZZ_SEED=%d EDGE_FUZZ_SECONDS=%g" % (SEED, SECONDS))
    env = {"NOTIFYD_HTTP_HEADER_TIMEOUT_MS": str(HEADER_TIMEOUT_MS)}
    counts, checks = {}, []
    with rh.serving(env=env) as s, concurrent.futures.ThreadPoolExecutor(50) as pool:
        t_end = time.monotonic() + SECONDS
        burst = 0
        while time.monotonic() < t_end:
            n = random.Random("%d-%d" % (SEED, burst)).randint(20, 50)
            results = list(pool.map(lambda i: run_one(burst, i, s.http_port), range(n)))
            errors = [e for _, _, e in results if e]
            assert not errors, "EDGE_FUZZ_SEED=%d: %s" % (SEED, errors[0])
            for name, outcome, _ in results:
                counts[name] = counts.get(name, 0) + 1
            assert s.proc.poll() is None, "notifyd exited (rc %s) in burst %d" % (s.proc.poll(), burst)
            try:
                checks.append(rh.assert_serving(s, 3.0))
            except (AssertionError, OSError, rh.Closed, TimeoutError, rh.grpc.RpcError) as e:
                raise AssertionError("EDGE_FUZZ_SEED=%d: not serving after burst %d: %r"
                                     % (SEED, burst, e)) from e
            burst += 1
        print("%d bursts, attacks: %s" % (burst, sorted(counts.items())))
        print("after each burst: /healthz max %.3f s, delivery max %.3f s"
              % (max(c[0] for c in checks), max(c[1] for c in checks)))
