"""A user's backlog (GetBacklog, GET /api/websocket/user/{user_id}/backlog): how many
messages notifyd keeps for the user -- stored while offline, or sent to ack-mode
connections and not acked -- and the oldest and newest ids; the same answer over
REST and gRPC, what empties it, expiry, a restart, roles and errors."""
import asyncio
import os
import tempfile

import grpc
import pytest

import nd
from nd import pb, pbg, recv, run

SVC = nd.token("backend", "service")
AUTH = {"Authorization": "Bearer " + SVC}


def backlog(server, user, headers=None):
    h = dict(AUTH)
    h.update(headers or {})
    return nd.http(server, "GET", "/api/websocket/user/%s/backlog" % user, headers=h)


def count(server, user):
    st, _, resp = backlog(server, user)
    assert st == 200, resp
    return resp["data"]["messages"]


def server_notify(server, body):
    st, _, resp = nd.http(server, "POST", "/api/websocket/notification", headers=AUTH, body=body)
    assert st == 200, resp
    return resp["data"]


async def rpc(server, name, req, tok=SVC):
    async with server.channel() as ch:
        return await getattr(pbg.NotificationServiceStub(ch), name)(req, metadata=nd.bearer(tok),
                                                                    timeout=nd.TIMEOUT)


def test_what_is_kept_for_an_offline_user_and_what_empties_it(server):
    async def go():
        st, _, resp = backlog(server, "away")
        assert st == 200 and resp == {"code": 0, "message": "获取成功", "data": {
            "user_id": "away", "messages": 0, "oldest_message_id": "", "newest_message_id": ""}}
        first = server_notify(server, {"user_id": "away", "message": "one"})
        multi = server_notify(server, {"user_ids": ["away", "other"], "message": "two"})
        last = server_notify(server, {"user_id": "away", "message": "three", "priority": "urgent"})
        # live-only types are not kept: a progress update, a broadcast
        nd.http(server, "POST", "/api/websocket/task/progress", headers=AUTH,
                body={"user_id": "away", "task_id": "t", "task_type": "batchgo", "progress": 5})
        nd.http(server, "POST", "/api/websocket/broadcast", headers=AUTH, body={"message": "all"})
        st, _, resp = backlog(server, "away")
        assert resp["data"] == {"user_id": "away", "messages": 3, "oldest_message_id": first["message_id"],
                                "newest_message_id": last["message_id"]}
        assert multi["message_ids"][0] > first["message_id"]
        assert count(server, "other") == 1
        # gRPC answers the same
        r = await rpc(server, "GetBacklog", pb.GetBacklogRequest(user_id="away"))
        assert (r.user_id, r.messages, r.oldest_message_id, r.newest_message_id) == (
            "away", 3, first["message_id"], last["message_id"])
        # the user connects (no ack mode): written, forgotten
        ws, _ = await server.connect(user="away")
        got = [(await recv(ws))["message_id"] for _ in range(3)]
        assert sorted(got) == sorted([first["message_id"], multi["message_ids"][0], last["message_id"]])
        nd.until(lambda: count(server, "away") == 0, what="away's backlog empty")
        # online now: a new message goes to the connection, nothing is kept
        server_notify(server, {"user_id": "away", "message": "live"})
        await recv(ws)
        assert count(server, "away") == 0
        await ws.close()

    run(go())


def test_ack_mode_keeps_it_in_the_backlog_until_acked(server):
    async def go():
        ws, _ = await server.connect(user="acker", query="&ack=1")
        sent = server_notify(server, {"user_id": "acker", "message": "needs ack"})
        assert sent["stored"] and sent["connections"] == 1
        m = await recv(ws)
        assert count(server, "acker") == 1  # delivered, not acked
        await ws.send('{"type":"ack","data":{"message_id":"%s"}}' % m["message_id"])
        nd.until(lambda: count(server, "acker") == 0, what="the ack to empty the backlog")
        await ws.close()

    run(go())


def test_expired_messages_are_not_counted(server):
    async def go():
        brief = await rpc(server, "Publish", pb.PublishRequest(type="flash", user_id="quick",
                                                               store=pb.STORE_ALWAYS, ttl_ms=200))
        assert brief.stored
        assert count(server, "quick") == 1
        await asyncio.sleep(0.4)
        assert count(server, "quick") == 0

    run(go())


def test_the_backlog_survives_a_restart():
    with tempfile.TemporaryDirectory(prefix="notifyd-e2e-backlog-") as tmp:
        data = os.path.join(tmp, "data")
        with nd.Server(data_dir=data) as s:
            kept = server_notify(s, {"user_id": "later", "message": "kept"})
            assert kept["stored"]
        with nd.Server(data_dir=data) as s:
            st, _, resp = backlog(s, "later")
            assert resp["data"]["messages"] == 1 and resp["data"]["oldest_message_id"] == kept["message_id"]


def test_roles_errors_and_fields(server):
    async def go():
        # admin and service may ask; a user token may not, over either protocol
        st, _, _ = backlog(server, "u1", {"Authorization": "Bearer " + nd.token("ops", "admin")})
        assert st == 200
        st, _, resp = backlog(server, "u1", {"Authorization": "Bearer " + nd.token("u1", "user")})
        assert st == 403 and "admin or service" in resp["message"]
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await rpc(server, "GetBacklog", pb.GetBacklogRequest(user_id="u1"), tok=nd.token("u1", "user"))
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
        # the user is checked as everywhere, with the same words
        st, _, resp = backlog(server, "a%20b")
        assert st == 400 and resp["message"].startswith("user_id")
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await rpc(server, "GetBacklog", pb.GetBacklogRequest(user_id=""))
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and e.value.details() == "user_id is required"
        st, h, resp = nd.http(server, "POST", "/api/websocket/user/u1/backlog", headers=AUTH, body={})
        assert st == 405 and h["allow"] == "GET"
        # REST's data has exactly the gRPC response's fields
        st, _, resp = backlog(server, "u1")
        assert set(resp["data"]) == {f.name for f in pb.GetBacklogResponse.DESCRIPTOR.fields}
        # counted in /metrics under its route
        assert nd.metric(server, "notifyd_rest_requests_total", route="/api/websocket/user/{user_id}/backlog",
                         status="200") >= 2

    run(go())
