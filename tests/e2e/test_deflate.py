"""permessage-deflate (RFC 7692, NOTIFYD_WS_DEFLATE): negotiated only when on
and offered; unicast, broadcast, large and non-ASCII messages arrive intact
through it; client messages are inflated and answered; a compressed client
message is held to NOTIFYD_MAX_FRAME_BYTES by its inflated size (close 1009,
the server's memory stays put)."""
import asyncio
import base64
import json
import os
import random
import socket
import string
import struct
import zlib

import pytest
import websockets

import nd
from nd import pb, pbg, recv, recv_type, run

SVC = nd.token("backend", "service")
EXT = "Sec-WebSocket-Extensions"


@pytest.fixture
def dserver():
    """notifyd with permessage-deflate on."""
    s = nd.Server(env={"NOTIFYD_WS_DEFLATE": "on"}).start()
    try:
        yield s
    finally:
        s.close()


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


async def stub_call(s, method, req):
    async with s.channel() as ch:
        return await getattr(pbg.NotificationServiceStub(ch), method)(
            req, metadata=nd.bearer(SVC), timeout=nd.TIMEOUT)


def raw_handshake(server, offer, user="raw"):
    """A WebSocket handshake on a plain socket: (socket, response headers, rest)."""
    sock = socket.create_connection(("127.0.0.1", server.http_port), timeout=nd.TIMEOUT)
    key = base64.b64encode(os.urandom(16)).decode()
    req = ("GET /ws?token=%s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
           % (nd.token(user), key))
    if offer:
        req += "%s: %s\r\n" % (EXT, offer)
    sock.sendall((req + "\r\n").encode())
    buf = b""
    for _ in range(100):  # bounded: the answer is a few hundred bytes
        if b"\r\n\r\n" in buf:
            break
        chunk = sock.recv(4096)
        if not chunk:
            break
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0].startswith("HTTP/1.1 101"), lines
    headers = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        headers[k.strip().lower()] = v.strip()
    return sock, headers, rest


def test_negotiated_when_on(dserver):
    async def go():
        ws, hello = await dserver.connect(user="d1")  # websockets offers it by default
        assert ws.response_headers.get(EXT, "").startswith("permessage-deflate"), ws.response_headers
        assert hello["data"]["user_id"] == "d1"
        await ws.close()
        # a client that does not offer it gets a plain connection
        ws = await websockets.connect(dserver.ws_url + "?token=" + nd.token("d2"), compression=None,
                                      open_timeout=nd.TIMEOUT, ping_interval=None)
        assert EXT not in ws.response_headers
        assert (await recv(ws))["type"] == "connected"
        await ws.close()

    run(go())


def test_not_negotiated_when_off():
    for env in ({}, {"NOTIFYD_WS_DEFLATE": "off"}):
        with nd.Server(env=env) as s:
            async def go():
                ws, hello = await s.connect(user="p1")
                assert EXT not in ws.response_headers, ws.response_headers
                await ws.close()

            run(go())
            sock, headers, _ = raw_handshake(s, "permessage-deflate; client_max_window_bits")
            assert "sec-websocket-extensions" not in headers
            sock.close()


def test_server_frames_are_compressed_on_the_wire(dserver):
    """The first server frame (connected) carries RSV1 and inflates to JSON."""
    sock, headers, rest = raw_handshake(dserver, "permessage-deflate; client_max_window_bits", "w1")
    try:
        assert headers["sec-websocket-extensions"].startswith("permessage-deflate")
        buf = rest
        while len(buf) < 2:
            buf += sock.recv(4096)
        b0, b1 = buf[0], buf[1]
        assert b0 & 0x40, "RSV1 not set on the first data frame"
        assert b0 & 0x0F == 1
        n = b1 & 0x7F
        pos = 2
        if n == 126:
            while len(buf) < 4:
                buf += sock.recv(4096)
            n, pos = struct.unpack("!H", buf[2:4])[0], 4
        while len(buf) < pos + n:
            buf += sock.recv(4096)
        text = zlib.decompressobj(-15).decompress(buf[pos:pos + n] + b"\x00\x00\xff\xff")
        msg = json.loads(text)
        assert msg["type"] == "connected" and msg["user_id"] == "w1"
        assert n < len(text)  # smaller on the wire than inflated
    finally:
        sock.close()


def test_unicast_broadcast_large_and_unicode_intact(dserver):
    async def go():
        a, _ = await dserver.connect(user="alice")
        b, _ = await dserver.connect(user="bob")
        text = "任务完成 ✅ — Ünïcödé 𝄞 emoji 🚀 " * 20
        r = await stub_call(dserver, "SendSystemNotification", pb.SendSystemNotificationRequest(
            user_id="alice", title="标题", message=text))
        assert r.connections == 1
        m = await recv_type(a, "system_notification")
        assert m["data"]["message"] == text and m["data"]["title"] == "标题"
        assert m["message_id"] == r.message_id

        await stub_call(dserver, "Broadcast", pb.BroadcastRequest(title="all", message="hello 👋 everyone"))
        for ws in (a, b):
            m = await recv_type(ws, "system_notification")
            assert m["data"]["message"] == "hello 👋 everyone"

        # tens of KB of barely compressible text, over several deflate buffers
        rnd = random.Random(7)
        urls = ["https://example.com/%s" % "".join(rnd.choice(string.ascii_letters + string.digits)
                                                    for _ in range(400)) for _ in range(100)]
        r = await stub_call(dserver, "NotifyBatchGoOpenUrl", pb.NotifyBatchGoOpenUrlRequest(
            user_id="bob", task_id="big", urls=urls, delay=10))
        assert r.connections == 1
        m = await recv_type(b, "batchgo_open_url")
        assert m["data"]["urls"] == urls
        assert len(json.dumps(m)) > 40000

        # many messages in a row: the compressor starts afresh each time, the
        # client keeps its context; both must stay in step
        for i in range(30):
            await stub_call(dserver, "SendSystemNotification", pb.SendSystemNotificationRequest(
                user_id="alice", message="repeat %d %s" % (i, text[:50])))
        for i in range(30):
            m = await recv_type(a, "system_notification")
            assert m["data"]["message"] == "repeat %d %s" % (i, text[:50])
        await a.close()
        await b.close()

    run(go())


def test_compressed_client_messages_are_understood(dserver):
    """websockets compresses what it sends (with context takeover): many
    messages in a row must all inflate, also for a client that asked for
    server_no_context_takeover (lws 4.1 reads that switch crosswise)."""
    async def go():
        ws, _ = await dserver.connect(user="c1")
        for i in range(40):
            await ws.send(json.dumps({"type": "ping", "seq": i, "pad": "x" * (i * 50)}))
            assert (await recv_type(ws, "pong"))["type"] == "pong"
        await ws.close()

        from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
        ext = ClientPerMessageDeflateFactory(server_no_context_takeover=True, client_max_window_bits=True)
        ws = await websockets.connect(dserver.ws_url + "?token=" + nd.token("c2"), extensions=[ext],
                                      compression=None, open_timeout=nd.TIMEOUT, ping_interval=None)
        assert "server_no_context_takeover" in ws.response_headers.get(EXT, "")
        assert (await recv(ws))["type"] == "connected"
        for i in range(40):
            await ws.send(json.dumps({"type": "ping", "seq": i}))
            assert (await recv_type(ws, "pong"))["type"] == "pong"
        for i in range(10):
            await stub_call(dserver, "SendSystemNotification", pb.SendSystemNotificationRequest(
                user_id="c2", message="same text every time"))
            assert (await recv_type(ws, "system_notification"))["data"]["message"] == "same text every time"
        await ws.close()

    run(go())


def test_inflated_size_is_what_the_limit_counts():
    """A 10 MiB message that compresses to ~10 KiB (a zip bomb) is closed with
    1009 like any message over NOTIFYD_MAX_FRAME_BYTES, without the server
    growing; a compressed message under the limit still passes."""
    with nd.Server(env={"NOTIFYD_WS_DEFLATE": "on", "NOTIFYD_MAX_FRAME_BYTES": "16KiB"}) as s:
        async def go():
            ws, _ = await s.connect(user="z1")
            # under the limit inflated (and far under it compressed)
            await ws.send(json.dumps({"type": "ping", "pad": "y" * 12000}))
            assert (await recv_type(ws, "pong"))["type"] == "pong"
            # over the limit only once inflated
            small = json.dumps({"type": "ping", "pad": "a" * 20000})
            assert len(zlib.compress(small.encode())) < 1024
            await ws.send(small)
            with pytest.raises(websockets.ConnectionClosed) as e:
                for _ in range(10):
                    await recv(ws)
            assert e.value.code == 1009, e.value

            before = rss_kb(s.proc.pid)
            ws, _ = await s.connect(user="z2")
            bomb = '{"type":"ping","pad":"' + "a" * (10 << 20) + '"}'
            wire = zlib.compressobj(9, zlib.DEFLATED, -15)
            assert len(wire.compress(bomb.encode()) + wire.flush()) < 64 * 1024
            await ws.send(bomb)
            with pytest.raises(websockets.ConnectionClosed) as e:
                for _ in range(10):
                    await recv(ws)
            assert e.value.code == 1009, e.value
            assert rss_kb(s.proc.pid) - before < 4096, "server grew by %d KB" % (rss_kb(s.proc.pid) - before)

            ws, hello = await s.connect(user="z3")  # still serving
            assert hello["user_id"] == "z3"
            await ws.close()

        run(go())
