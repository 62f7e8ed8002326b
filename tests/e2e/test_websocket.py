"""The browser side: handshake and authentication, the connected message,
client messages, and the plain HTTP routes on the same port."""
import asyncio
import json

import pytest
import websockets

import nd
from nd import recv, nothing, run


def test_connect_with_query_token_gets_connected(server):
    async def go():
        ws, hello = await server.connect(user="42")
        assert hello["user_id"] == "42"
        d = hello["data"]
        assert d["user_id"] == "42" and d["client_id"] and d["recovered"] is True
        assert "message_id" not in hello
        ws2, hello2 = await server.connect(user="42")
        assert hello2["data"]["client_id"] != d["client_id"]
        await ws.close()
        await ws2.close()

    run(go())


def test_connect_with_authorization_header(server):
    async def go():
        ws, hello = await server.connect(tok="", headers={"Authorization": "Bearer " + nd.token("hdr-user")})
        assert hello["user_id"] == "hdr-user"
        await ws.close()

    run(go())


def test_numeric_user_id_claim_and_sub_fallback(server):
    async def go():
        ws, hello = await server.connect(tok=nd.token("x", user_id=7))
        assert hello["user_id"] == "7"
        await ws.close()
        ws, hello = await server.connect(tok=nd.token("subject-only", user_id=None))
        assert hello["user_id"] == "subject-only"
        await ws.close()

    run(go())


@pytest.mark.parametrize("tok,reason", [
    ("", "no token"),
    ("garbage", "malformed"),
    (nd.token("42", ttl=-3600), "expired"),
    (nd.token("42", nbf=2_000_000_000 + 10 ** 9), "not valid yet"),
    (nd.token("42", secret="wrong-secret-wrong-secret-wrong"), "signature"),
    (nd.none_token("42"), "algorithm"),
    (nd.token("42", alg="HS512"), "algorithm"),
    (nd.token(None, user_id=None, sub=None), "names no user"),
    (nd.token("bad user", user_id="bad user"), "user id"),
])
def test_bad_tokens_get_401_before_the_upgrade(server, tok, reason):
    async def go():
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as e:
            await server.connect(tok=tok)
        assert e.value.status_code == 401
        assert e.value.headers.get("www-authenticate") == "Bearer"

    run(go())
    refused = server.wait_log(lambda r: r.get("msg") == "websocket refused")
    assert reason in refused["reason"]
    assert tok == "" or tok not in server.text()


def test_oversized_token_is_refused(server):
    async def go():
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as e:
            await server.connect(tok=nd.token("42", pad="x" * 9000))
        assert e.value.status_code == 401

    run(go())


def test_upgrade_on_another_path_is_404(server):
    async def go():
        url = "ws://127.0.0.1:%d/other?token=%s" % (server.http_port, nd.token())
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as e:
            await websockets.connect(url, open_timeout=nd.TIMEOUT)
        assert e.value.status_code == 404

    run(go())


def test_ping_pong_and_client_messages(server):
    async def go():
        ws, _ = await server.connect()
        await ws.send(json.dumps({"type": "ping", "data": {}, "timestamp": 1}))
        m = await recv(ws)
        assert m["type"] == "pong" and m["user_id"] == "42"
        # the seed client's own messages are accepted silently
        await ws.send(json.dumps({"type": "client_ready", "data": {}, "timestamp": 1}))
        await ws.send(json.dumps({"type": "pong", "data": {}, "timestamp": 1}))
        await ws.send(json.dumps({"type": "ack", "data": {"message_id": "0123456789abcdef"}}))
        await nothing(ws)
        await ws.close()

    run(go())


@pytest.mark.parametrize("frame,code", [
    ("{not json", "bad_json"),
    ("[1,2]", "bad_json"),
    ('{"data":{}}', "bad_message"),
    ('{"type":"launch_missiles"}', "unknown_type"),
    ('{"type":"ack","data":{}}', "bad_ack"),
    ('{"type":"ack","data":{"message_id":"xyz"}}', "bad_ack"),
    (b"\x00\x01binary", "binary_unsupported"),
])
def test_bad_client_messages_get_an_error_and_the_connection_stays(server, frame, code):
    async def go():
        ws, _ = await server.connect()
        await ws.send(frame)
        m = await recv(ws)
        assert m["type"] == "error" and m["data"]["code"] == code and m["data"]["message"]
        await ws.send('{"type":"ping"}')
        assert (await recv(ws))["type"] == "pong"
        await ws.close()

    run(go())


def test_fragmented_message_is_reassembled(server):
    async def go():
        ws, _ = await server.connect()
        await ws.send(iter(['{"type":', '"ping"', "}"]))
        assert (await recv(ws))["type"] == "pong"
        await ws.close()

    run(go())


def test_message_over_the_frame_limit_closes_1009():
    with nd.Server(args=["--max-frame-bytes", "1024"]) as server:
        async def go():
            ws, _ = await server.connect()
            await ws.send(json.dumps({"type": "ping", "pad": "x" * 2000}))
            with pytest.raises(websockets.exceptions.ConnectionClosed):
                await recv(ws)
            assert ws.close_code == 1009

        run(go())


def test_healthz_readyz(server):
    st, h, body = nd.http(server, "GET", "/healthz")
    assert st == 200 and body == {"status": "ok"} and h["content-type"] == "application/json"
    st, _, body = nd.http(server, "GET", "/readyz")
    assert st == 200 and body == {"status": "ready"}
    st, h, body = nd.http(server, "POST", "/healthz", body={})
    assert st == 405 and h["allow"] == "GET" and body["code"] == 405


def test_unknown_route_is_json_404_and_plain_get_ws_is_426(server):
    st, _, body = nd.http(server, "GET", "/nope")
    assert st == 404 and body["code"] == 404 and "/nope" in body["message"]
    st, _, body = nd.http(server, "GET", "/ws")
    assert st == 426 and "upgrade" in body["message"]


def test_many_tabs_and_users_get_only_their_messages(server):
    """Ten users with three tabs each: every notification reaches exactly its user's tabs."""
    async def go():
        socks = {}
        for u in range(10):
            socks["u%d" % u] = [(await server.connect(user="u%d" % u))[0] for _ in range(3)]
        async with server.channel() as ch:
            stub = nd.pbg.NotificationServiceStub(ch)
            for u in socks:
                r = await stub.SendSystemNotification(nd.pb.SendSystemNotificationRequest(user_id=u, message="for " + u),
                                                      metadata=nd.bearer(nd.token("svc", "service")),
                                                      timeout=nd.TIMEOUT)
                assert r.connections == 3
        for u, tabs in socks.items():
            for ws in tabs:
                m = await recv(ws)
                assert m["user_id"] == u and m["data"]["message"] == "for " + u
                await nothing(ws, 0.05)
                await ws.close()

    run(go())


def test_client_message_larger_than_the_receive_chunk(server):
    """lws hands over client frames in 512-byte chunks: a bigger message is reassembled."""
    async def go():
        ws, _ = await server.connect()
        await ws.send(json.dumps({"type": "ping", "pad": "x" * 6000}))
        assert (await recv(ws))["type"] == "pong"
        await ws.send(json.dumps({"type": "refresh", "data": {"token": nd.token("42", pad="y" * 3000)}}))
        m = await recv(ws)
        assert m["type"] == "refreshed", m
        await ws.close()

    run(go())


def test_times_in_connected_and_refreshed_are_milliseconds_or_say_so(server):
    """heartbeat_* are ms, server_time and token_expires_at_ms unix ms; token_expires_at stays the
    token's exp in seconds (existing clients read it)."""
    import time as _time
    exp = int(_time.time()) + 3600

    async def go():
        ws, hello = await server.connect(tok=nd.token("units", exp=exp))
        d = hello["data"]
        assert d["token_expires_at"] == exp and d["token_expires_at_ms"] == exp * 1000
        assert abs(d["server_time"] - _time.time() * 1000) < 60000
        assert d["heartbeat_interval"] == 30000 and d["heartbeat_timeout"] == 60000
        await ws.send(json.dumps({"type": "refresh", "data": {"token": nd.token("units", exp=exp + 60)}}))
        r = await nd.recv_type(ws, "refreshed")
        assert r["data"]["expires_at"] == exp + 60 and r["data"]["expires_at_ms"] == (exp + 60) * 1000
        await ws.close()
    nd.run(go())
