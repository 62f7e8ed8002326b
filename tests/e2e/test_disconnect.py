"""Closing connections from the server: DisconnectUser over gRPC and REST
(admin, close 4004, an audit line), and the `disconnected` message that comes
before every close the server starts (4002 heartbeat, 4003 token expiry,
1001 shutdown, 4004). Across instances: test_cluster.py."""
import asyncio
import signal

import grpc
import pytest
import websockets

import nd
from nd import RawWS, nothing, pb, pbg, recv, run

ADMIN = nd.token("ops", "admin")
SVC = nd.token("backend", "service")


@pytest.fixture(scope="module")
def server():
    with nd.Server() as s:
        yield s


async def disconnect(server, tok=ADMIN, **fields):
    async with server.channel() as ch:
        return await pbg.NotificationServiceStub(ch).DisconnectUser(pb.DisconnectUserRequest(**fields),
                                                                    metadata=nd.bearer(tok), timeout=nd.TIMEOUT)


async def farewell(ws):
    """The messages until the close: the last must be `disconnected`; returns it."""
    seen = []
    with pytest.raises(websockets.exceptions.ConnectionClosed):
        while True:
            seen.append(await recv(ws))
    assert seen and seen[-1]["type"] == "disconnected", seen
    return seen[-1]


def test_disconnect_user_closes_every_tab_with_4004(server):
    async def go():
        tabs = [(await server.connect(user="d1"))[0] for _ in range(2)]
        other, _ = await server.connect(user="d2")
        r = await disconnect(server, user_id="d1", reason="account suspended")
        assert (r.user_id, r.closed) == ("d1", 2)
        for ws in tabs:
            m = await farewell(ws)
            assert m["user_id"] == "d1" and "message_id" not in m
            assert m["data"] == {"code": 4004, "reason": "account suspended", "reconnect": False}
            assert ws.close_code == 4004 and ws.close_reason == "account suspended"
        # nobody else
        async with server.channel() as ch:
            n = await pbg.NotificationServiceStub(ch).SendSystemNotification(
                pb.SendSystemNotificationRequest(user_id="d2", message="still here"), metadata=nd.bearer(SVC),
                timeout=nd.TIMEOUT)
        assert n.connections == 1 and (await recv(other))["data"]["message"] == "still here"
        await other.close()
        await nd.offline(server, "d1")
        # offline: nothing closed, not an error
        assert (await disconnect(server, user_id="d1")).closed == 0

    run(go())
    line = server.wait_log(lambda r: r.get("msg") == "audit" and r.get("op") == "DisconnectUser")
    assert (line["caller"], line["target"], line["reason"], line["reconnect"]) == \
        ("ops", "d1", "account suspended", False)
    assert nd.metric(server, "notifyd_connections_closed_total", reason="disconnected") >= 2


def test_queued_messages_go_first_and_reconnect_is_passed_on(server):
    async def go():
        ws, _ = await server.connect(user="d3")
        async with server.channel() as ch:
            await pbg.NotificationServiceStub(ch).SendSystemNotification(
                pb.SendSystemNotificationRequest(user_id="d3", message="before"), metadata=nd.bearer(SVC),
                timeout=nd.TIMEOUT)
        r = await disconnect(server, user_id="d3", reconnect=True)
        assert r.closed == 1
        first = await recv(ws)
        assert first["type"] == "system_notification"
        m = await farewell(ws)
        assert m["data"] == {"code": 4004, "reason": "disconnected by the server", "reconnect": True}
        assert ws.close_code == 4004

    run(go())


def test_rest_disconnect(server):
    async def go():
        ws, _ = await server.connect(user="d4")
        path = "/api/websocket/user/d4/disconnect"
        hdr = {"authorization": "Bearer " + ADMIN}
        st, _, ans = nd.http(server, "POST", path, {"reason": "moved to EU", "reconnect": True}, headers=hdr)
        assert st == 200 and ans["code"] == 0 and ans["data"] == {"user_id": "d4", "closed": 1}, ans
        m = await farewell(ws)
        assert m["data"] == {"code": 4004, "reason": "moved to EU", "reconnect": True}
        # no body is fine; the defaults apply
        st, _, ans = nd.http(server, "POST", path, headers=hdr)
        assert st == 200 and ans["data"]["user_id"] == "d4", ans

    run(go())
    hdr = {"authorization": "Bearer " + ADMIN}
    st, _, ans = nd.http(server, "POST", "/api/websocket/user/d4/disconnect", {"user_id": "other"}, headers=hdr)
    assert st == 400 and "differs from the path" in ans["message"]
    st, _, ans = nd.http(server, "POST", "/api/websocket/user/d4/disconnect", {"reconnect": "yes"}, headers=hdr)
    assert st == 400 and ans["message"] == "reconnect must be true or false"
    st, _, ans = nd.http(server, "POST", "/api/websocket/user/d4/disconnect", {"reason": "x" * 124}, headers=hdr)
    assert st == 400 and "reason is 124 bytes, the limit is 123" in ans["message"]
    st, _, ans = nd.http(server, "POST", "/api/websocket/user/bad%20id/disconnect", {}, headers=hdr)
    assert st == 400 and ans["message"].startswith("user_id must be")
    st, h, _ = nd.http(server, "GET", "/api/websocket/user/d4/disconnect", headers=hdr)
    assert st == 405 and h["allow"] == "POST"


def test_disconnect_is_for_admins(server):
    st, _, ans = nd.http(server, "POST", "/api/websocket/user/d5/disconnect", {},
                         headers={"authorization": "Bearer " + SVC})
    assert st == 403 and "role admin" in ans["message"]

    async def go():
        for tok, code in [(SVC, grpc.StatusCode.PERMISSION_DENIED), (nd.token("d5"), grpc.StatusCode.PERMISSION_DENIED),
                          ("garbage", grpc.StatusCode.UNAUTHENTICATED)]:
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await disconnect(server, tok=tok, user_id="d5")
            assert e.value.code() == code
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await disconnect(server, user_id="")
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and e.value.details() == "user_id is required"

    run(go())


HB = ["--heartbeat-interval-ms", "200", "--heartbeat-timeout-ms", "600"]


def test_disconnected_before_heartbeat_timeout_and_token_expiry():
    with nd.Server(args=HB) as s:
        silent = RawWS(s, user="hb")
        seen = []
        code, _ = silent.wait_closed(timeout=5, on_message=seen.append)
        assert code == 4002 and seen[-1]["type"] == "disconnected", seen
        assert seen[-1]["data"]["code"] == 4002 and seen[-1]["data"]["reconnect"] is True
        assert "heartbeat" in seen[-1]["data"]["reason"]
        silent.close()

        expiring = RawWS(s, tok=nd.token("exp", ttl=2))
        seen = []

        def on(m):
            seen.append(m)
            if m["type"] == "ping":
                expiring.send_json({"type": "pong"})

        code, _ = expiring.wait_closed(timeout=6, on_message=on)
        assert code == 4003 and seen[-1]["type"] == "disconnected", seen
        assert seen[-1]["data"] == {"code": 4003, "reason": "token expired", "reconnect": True}
        expiring.close()


def test_disconnected_before_shutdown():
    s = nd.Server().start()
    try:
        async def go():
            socks = [(await s.connect(user="sd%d" % i))[0] for i in range(3)]
            s.send_signal(signal.SIGTERM)
            for ws in socks:
                m = await farewell(ws)
                assert m["data"]["code"] == 1001 and m["data"]["reconnect"] is True
                assert ws.close_code == 1001

        run(go())
        assert s.stop(timeout=15) == 0
    finally:
        s.close()
