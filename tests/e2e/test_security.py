"""Security: TLS on both ports, every JWT case (HS256, RS256, ES256, alg none,
algorithm confusion, iss/aud, leeway, size), key reload on SIGHUP without
dropping connections, Origin allow-list, user isolation under random load,
and audit lines."""
import asyncio
import os
import random
import signal
import ssl
import subprocess
import tempfile
import time

import grpc
import jwt
import pytest
import websockets
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import nd
from nd import RawWS, pb, pbg, recv, nothing, run

SVC = nd.token("backend", "service")


def keypair(kind):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048) if kind == "rsa" \
        else ec.generate_private_key(ec.SECP256R1() if kind == "ec" else ec.SECP384R1())
    pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    priv = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    return priv, pub


def signed(priv, alg, user="42", role="user", ttl=3600, **claims):
    now = int(time.time())
    body = {"user_id": user, "role": role, "iat": now, "exp": now + ttl}
    body.update(claims)
    return jwt.encode(body, priv, algorithm=alg)


@pytest.fixture(scope="module")
def certs():
    d = tempfile.mkdtemp(prefix="notifyd-tls-")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=60)
    return cert, key


def test_tls_on_both_ports(certs):
    cert, key = certs
    with nd.Server(args=["--tls-cert-file", cert, "--tls-key-file", key]) as s:
        ctx = ssl.create_default_context(cafile=cert)

        async def go():
            url = "wss://127.0.0.1:%d/ws?token=%s" % (s.http_port, nd.token("tls-user"))
            ws = await websockets.connect(url, ssl=ctx, open_timeout=nd.TIMEOUT)
            assert nd.json.loads(await ws.recv())["type"] == "connected"
            creds = grpc.ssl_channel_credentials(root_certificates=open(cert, "rb").read())
            async with grpc.aio.secure_channel("127.0.0.1:%d" % s.grpc_port, creds) as ch:
                r = await pbg.NotificationServiceStub(ch).SendSystemNotification(
                    pb.SendSystemNotificationRequest(user_id="tls-user", message="secret"),
                    metadata=nd.bearer(SVC), timeout=nd.TIMEOUT)
            assert r.connections == 1
            m = await recv(ws)
            assert m["data"]["message"] == "secret"
            await ws.close()
            # plain text on the TLS ports fails
            with pytest.raises(Exception):
                await websockets.connect("ws://127.0.0.1:%d/ws?token=%s" % (s.http_port, nd.token()),
                                         open_timeout=3)
            async with grpc.aio.insecure_channel("127.0.0.1:%d" % s.grpc_port) as ch:
                with pytest.raises(grpc.aio.AioRpcError):
                    await pbg.NotificationServiceStub(ch).GetStats(pb.GetStatsRequest(), metadata=nd.bearer(SVC),
                                                                   timeout=3)

        run(go())
        import http.client
        c = http.client.HTTPSConnection("127.0.0.1", s.http_port, context=ctx, timeout=nd.TIMEOUT)
        c.request("GET", "/healthz")
        assert c.getresponse().status == 200
        c.close()


def test_tls_needs_readable_files(certs):
    cert, _ = certs
    r = subprocess.run([nd.BIN, "--tls-cert-file", cert, "--tls-key-file", "/nonexistent/key.pem",
                        "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--data-dir",
                        tempfile.mkdtemp()], env=dict(os.environ, NOTIFYD_JWT_SECRET=nd.SECRET),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "/nonexistent/key.pem" in r.stderr
    r = subprocess.run([nd.BIN, "--tls-cert-file", cert], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "NOTIFYD_TLS_KEY_FILE" in r.stderr


@pytest.fixture(scope="module")
def rsa_keys():
    return keypair("rsa")


def _expect(server, tok, ok):
    async def go():
        if ok:
            ws, hello = await server.connect(tok=tok)
            await ws.close()
            return hello["user_id"]
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as e:
            await server.connect(tok=tok)
        return e.value.status_code
    return run(go())


def test_rs256_and_the_algorithm_confusion_attack(rsa_keys):
    priv, pub = rsa_keys
    with tempfile.NamedTemporaryFile("wb", suffix=".pem", delete=False) as f:
        f.write(pub)
    with nd.Server(args=["--jwt-public-key-file", f.name], secret=None) as s:
        assert _expect(s, signed(priv, "RS256"), True) == "42"
        assert _expect(s, signed(priv, "RS512", user="u512"), True) == "u512"
        # HS256 signed with the public key text as the HMAC secret: refused
        # (signed by hand: PyJWT itself refuses a PEM as an HMAC key)
        import base64, hashlib, hmac
        b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=")
        head = b64(b'{"alg":"HS256","typ":"JWT"}')
        body = b64(nd.json.dumps({"user_id": "42", "role": "admin", "exp": int(time.time()) + 60}).encode())
        confused = (head + b"." + body + b"." + b64(hmac.new(pub, head + b"." + body, hashlib.sha256).digest())).decode()
        assert _expect(s, confused, False) == 401
        assert _expect(s, nd.none_token(), False) == 401
        # with a public key and no secret, HS256 is off: even a "valid" HS256 token fails
        assert _expect(s, nd.token("42"), False) == 401
        # another RSA key's signature
        other, _ = keypair("rsa")
        assert _expect(s, signed(other, "RS256"), False) == 401
        s.wait_log(lambda r: r.get("msg") == "websocket refused" and r["reason"] == "bad token signature")
        refused = [r["reason"] for r in s.records() if r.get("msg") == "websocket refused"]
        assert "token algorithm not accepted" in refused
        r = subprocess.run([nd.BIN, "token", "--user", "x", "--jwt-public-key-file", f.name,
                            "--data-dir", s.data_dir], capture_output=True, text=True, timeout=30,
                           env={k: v for k, v in os.environ.items() if k != "NOTIFYD_JWT_SECRET"})
        assert r.returncode == 1 and "HS256 is off" in r.stderr
    os.unlink(f.name)


def test_es256_with_secret_too():
    priv, pub = keypair("ec")
    with tempfile.NamedTemporaryFile("wb", suffix=".pem", delete=False) as f:
        f.write(pub)
    with nd.Server(args=["--jwt-public-key-file", f.name]) as s:  # and the HS256 test secret
        assert _expect(s, signed(priv, "ES256", user="ec-user"), True) == "ec-user"
        assert _expect(s, nd.token("hs-user"), True) == "hs-user"
        assert _expect(s, signed(priv, "ES384"), False) == 401  # P-256 key: ES256 only
        rsa_priv, _ = keypair("rsa")
        assert _expect(s, signed(rsa_priv, "RS256"), False) == 401
    os.unlink(f.name)


def test_bad_public_key_file_is_one_line():
    with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as f:
        f.write("not a key")
    r = subprocess.run([nd.BIN, "--jwt-public-key-file", f.name, "--grpc-addr", "127.0.0.1:0",
                        "--http-addr", "127.0.0.1:0", "--data-dir", tempfile.mkdtemp()],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert f.name in r.stderr and "PEM public key" in r.stderr
    os.unlink(f.name)


def test_issuer_audience_and_leeway():
    with nd.Server(args=["--jwt-issuer", "https://id.example", "--jwt-audience", "notifyd",
                         "--jwt-leeway", "20s"]) as s:
        good = dict(iss="https://id.example", aud="notifyd")
        assert _expect(s, nd.token("a", **good), True) == "a"
        assert _expect(s, nd.token("b", iss="https://id.example", aud=["other", "notifyd"]), True) == "b"
        assert _expect(s, nd.token("c", iss="https://evil.example", aud="notifyd"), False) == 401
        assert _expect(s, nd.token("d", iss="https://id.example", aud="other"), False) == 401
        assert _expect(s, nd.token("e", aud="notifyd"), False) == 401  # no iss
        assert _expect(s, nd.token("f", ttl=-10, **good), True) == "f"  # within the 20 s leeway
        assert _expect(s, nd.token("g", ttl=-40, **good), False) == 401
        assert _expect(s, nd.token("h", nbf=int(time.time()) + 10, **good), True) == "h"
        assert _expect(s, nd.token("i", nbf=int(time.time()) + 60, **good), False) == 401
        s.wait_log(lambda r: r.get("reason") == "token not valid yet")
        reasons = {r["reason"] for r in s.records() if r.get("msg") == "websocket refused"}
        assert {"token issuer not accepted", "token audience not accepted", "token expired",
                "token not valid yet"} <= reasons


def test_sighup_reloads_keys_without_dropping_connections():
    k1, p1 = keypair("rsa")
    k2, p2 = keypair("rsa")
    d = tempfile.mkdtemp()
    path = os.path.join(d, "pub.pem")
    open(path, "wb").write(p1)
    with nd.Server(args=["--jwt-public-key-file", path], secret=None) as s:
        async def go():
            old, _ = await s.connect(tok=signed(k1, "RS256", user="stay"))
            open(path, "wb").write(p2)
            s.proc.send_signal(signal.SIGHUP)
            s.wait_log(lambda r: r.get("msg") == "jwt keys reloaded")
            new, _ = await s.connect(tok=signed(k2, "RS256", user="new"))
            with pytest.raises(websockets.exceptions.InvalidStatusCode):
                await s.connect(tok=signed(k1, "RS256", user="late"))
            # the connection made with the old key is still there
            await old.send('{"type":"ping"}')
            assert (await recv(old))["type"] == "pong"
            # a broken key file keeps the current keys
            open(path, "w").write("garbage")
            s.proc.send_signal(signal.SIGHUP)
            s.wait_log(lambda r: r.get("msg", "").startswith("jwt keys not reloaded"))
            again, _ = await s.connect(tok=signed(k2, "RS256", user="again"))
            for ws in (old, new, again):
                await ws.close()
        run(go())


def test_origin_allow_list():
    with nd.Server(args=["--allowed-origins", "https://app.example.com, http://localhost:3000/"]) as s:
        async def attempt(origin):
            try:
                ws = await websockets.connect("%s?token=%s" % (s.ws_url, nd.token()), origin=origin,
                                              open_timeout=nd.TIMEOUT)
            except websockets.exceptions.InvalidStatusCode as e:
                return e.status_code
            await ws.close()
            return 101
        assert run(attempt("https://app.example.com")) == 101
        assert run(attempt("HTTPS://APP.EXAMPLE.COM")) == 101
        assert run(attempt("http://localhost:3000")) == 101
        assert run(attempt("https://evil.example")) == 403
        assert run(attempt("https://app.example.com.evil.example")) == 403
        assert run(attempt(None)) == 101  # not a browser: no Origin to check


def test_random_load_never_crosses_users(server):
    """10,000 random sends to 50 users (and some broadcasts): each client gets
    exactly its own messages."""
    rng = random.Random(7)
    users = ["iso%02d" % i for i in range(50)]

    async def go():
        socks = {u: [(await server.connect(user=u))[0] for _ in range(1 + (i % 2))] for i, u in enumerate(users)}
        expected = {u: [] for u in users}
        broadcasts = 0
        async with server.channel() as ch:
            stub = pbg.NotificationServiceStub(ch)

            async def send(i):
                nonlocal broadcasts
                if i % 500 == 0:
                    broadcasts += 1
                    await stub.Broadcast(pb.BroadcastRequest(message="b%d" % i), metadata=nd.bearer(SVC),
                                         timeout=30)
                    return
                u = rng.choice(users)
                r = await stub.SendSystemNotification(pb.SendSystemNotificationRequest(user_id=u, message=u),
                                                      metadata=nd.bearer(SVC), timeout=30)
                expected[u].append(r.message_id)

            for start in range(0, 10000, 200):
                await asyncio.gather(*(send(i) for i in range(start, start + 200)))
        for u, tabs in socks.items():
            for ws in tabs:
                got = []
                for _ in range(len(expected[u]) + broadcasts):
                    m = await recv(ws, timeout=30)
                    if m["type"] == "ping":
                        continue
                    if "user_id" in m:
                        assert m["user_id"] == u and m["data"]["message"] == u
                        got.append(m["message_id"])
                assert sorted(got) == sorted(expected[u])
                await nothing(ws, 0.05)
                await ws.close()

    run(go())


def test_audit_lines():
    with nd.Server() as s:  # NOTIFYD_AUDIT=all by default
        nd.http(s, "POST", "/api/websocket/notification", {"user_id": "target-1", "message": "m"},
                headers={"Authorization": "Bearer " + SVC})
        a = s.wait_log(lambda r: r.get("msg") == "audit")
        assert (a["op"], a["caller"], a["target"]) == ("SendSystemNotification", "backend", "target-1")
        nd.http(s, "POST", "/api/websocket/notification", {"user_ids": ["a", "b", "a"], "message": "m"},
                headers={"Authorization": "Bearer " + SVC})
        a = s.wait_log(lambda r: r.get("msg") == "audit" and r["op"] == "NotifyUsers")
        assert (a["caller"], a["target"]) == ("backend", "2 users")
        nd.http(s, "PUT", "/api/websocket/templates/t1", {"message": "hi"},
                headers={"Authorization": "Bearer " + nd.token("ops", "admin")})
        a = s.wait_log(lambda r: r.get("msg") == "audit" and r["op"] == "PutTemplate")
        assert (a["caller"], a["target"]) == ("ops", "t1")
    with nd.Server(args=["--audit", "admin"]) as s:
        nd.http(s, "POST", "/api/websocket/notification", {"user_id": "t", "message": "m"},
                headers={"Authorization": "Bearer " + SVC})
        nd.http(s, "POST", "/api/websocket/broadcast", {"message": "all"},
                headers={"Authorization": "Bearer " + SVC})
        s.wait_log(lambda r: r.get("msg") == "audit" and r["op"] == "Broadcast")
        assert not [r for r in s.records() if r.get("msg") == "audit" and r["op"] != "Broadcast"]
