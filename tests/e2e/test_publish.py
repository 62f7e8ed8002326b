"""Publish ("send your own event") over gRPC and REST: a type of the caller's,
data delivered as written, one target of user_id / user_ids / broadcast,
store and ttl_ms; NOTIFYD_COMMAND_TTL for browser commands; the bound on
/metrics for callers' own types."""
import asyncio
import json
import time

import grpc
import pytest

import nd
from nd import nothing, pb, pbg, recv, run

SVC = nd.token("backend", "service")

# JSON a re-serializer would change: 0.1, an integer past 64 bits, escapes, spacing, key order
DATA = b'{"z": 0.1, "big": 123456789012345678901234567890, "s": "caf\\u00e9 \\"q\\"", "a": [1, {}]}'


@pytest.fixture(scope="module")
def server():
    with nd.Server() as s:
        yield s


async def publish(server, tok=SVC, **fields):
    async with server.channel() as ch:
        return await pbg.NotificationServiceStub(ch).Publish(pb.PublishRequest(**fields), metadata=nd.bearer(tok),
                                                             timeout=nd.TIMEOUT)


def rest(server, body, tok=SVC, path="/api/websocket/publish"):
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return nd.http(server, "POST", path, raw, headers={"authorization": "Bearer " + tok})


async def raw_frame(ws):
    """The next frame as text, and parsed."""
    text = await asyncio.wait_for(ws.recv(), nd.TIMEOUT)
    return text, json.loads(text)


def test_grpc_publish_delivers_the_data_as_written(server):
    async def go():
        ws, _ = await server.connect(user="p1")
        r = await publish(server, type="order.shipped", user_id="p1", data=DATA, priority=pb.PRIORITY_HIGH,
                          group="orders")
        assert r.connections == 1 and not r.stored and len(r.message_id) == 16
        assert not r.message_ids  # the one-user answer
        text, m = await raw_frame(ws)
        assert m["type"] == "order.shipped" and m["user_id"] == "p1" and m["message_id"] == r.message_id
        assert m["priority"] == "high" and m["group"] == "orders" and isinstance(m["timestamp"], int)
        assert ('"data":' + DATA.decode() + ",") in text  # byte for byte
        await ws.close()

    run(go())


def test_rest_publish_delivers_the_data_as_written(server):
    async def go():
        ws, _ = await server.connect(user="p2")
        body = b'{"type": "chat:message", "user_id": "p2", "data": ' + DATA + b', "ttl_ms": 1000}'
        st, _, ans = rest(server, body)
        assert st == 200 and ans["code"] == 0, ans
        assert set(ans["data"]) == {"message_id", "connections", "stored", "feed"}
        assert ans["data"]["feed"] is False  # an event of your own: in the feed only when asked
        assert ans["data"]["connections"] == 1
        text, m = await raw_frame(ws)
        assert m["type"] == "chat:message" and m["message_id"] == ans["data"]["message_id"]
        assert ('"data":' + DATA.decode() + ",") in text
        # no data: an empty object
        assert rest(server, {"type": "ping.me", "user_id": "p2"})[0] == 200
        assert (await recv(ws))["data"] == {}
        await ws.close()

    run(go())


BAD_TYPES = ["", "Order", "1st", "_x", "a b", "a/b", "x" * 65, "ünï"]
RESERVED = ["connected", "ping", "pong", "error", "disconnected", "refreshed", "batch", "feed_update"]


@pytest.mark.parametrize("t", BAD_TYPES + RESERVED)
def test_malformed_and_reserved_types_are_refused(server, t):
    want = "type is required" if not t else "one of notifyd's own" if t in RESERVED else "type"

    async def go():
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await publish(server, type=t, user_id="p3")
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and e.value.details().startswith("type"), \
            e.value.details()
        assert want in e.value.details()
        return e.value.details()

    grpc_err = run(go())
    st, _, ans = rest(server, {"type": t, "user_id": "p3"})
    assert st == 400 and ans["message"] == grpc_err  # one validator, one text


@pytest.mark.parametrize("data,want", [
    (b"[1, 2]", "data must be a JSON object, not an array"),
    (b'"text"', "data must be a JSON object, not a string"),
    (b"42", "data must be a JSON object, not a number"),
    (b"null", "data must be a JSON object, not null"),
    (b'{"a": }', "data is not valid JSON"),
    (b'{"a": 1} x', "data is not valid JSON"),
    (b'{"a": "\xff"}', "data is not valid JSON"),
])
def test_grpc_data_must_be_a_json_object(server, data, want):
    async def go():
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await publish(server, type="t", user_id="p4", data=data)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and want in e.value.details(), e.value.details()

    run(go())


@pytest.mark.parametrize("data,want", [
    ([1, 2], "data must be a JSON object, not an array"),
    ("{\"a\":1}", "data must be a JSON object, not a string"),
    (7.5, "not a number"),
    (True, "not a boolean"),
])
def test_rest_data_must_be_a_json_object(server, data, want):
    st, _, ans = rest(server, {"type": "t", "user_id": "p4", "data": data})
    assert st == 400 and want in ans["message"], ans


def test_data_over_64_kib_is_refused_both_ways(server):
    filler = b" " * (65536 - 2)
    exact = b"{}" + filler  # 64 KiB as written: accepted
    over = b"{}" + filler + b" "

    async def go():
        r = await publish(server, type="big", user_id="p5", data=exact)
        assert r.message_id
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await publish(server, type="big", user_id="p5", data=over)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert e.value.details() == "data is 65537 bytes, the limit is 65536"

    run(go())
    st, _, ans = rest(server, b'{"type":"big","user_id":"p5","data":{"x":"' + b"y" * 65536 + b'"}}')
    assert st == 400 and "data is 65544 bytes, the limit is 65536" in ans["message"], ans


@pytest.mark.parametrize("fields,want", [
    ({"type": "t"}, "needs exactly one target: user_id, user_ids or broadcast: true (none was given)"),
    ({"type": "t", "user_id": "a", "broadcast": True}, "more than one was given"),
    ({"type": "t", "user_id": "a", "user_ids": ["b"]}, "more than one was given"),
    ({"type": "t", "broadcast": True, "store": "always"}, "store: always needs user_id or user_ids"),
    ({"type": "t", "user_id": "a", "store": "sometimes"}, "store must be one of auto, always, never"),
    ({"type": "t", "user_id": "a", "ttl_ms": -5}, "ttl_ms is -5"),
    ({"type": "t", "user_id": "a", "ttl_ms": 604800001}, "ttl_ms is 604800001, it must be at most 604800000"),
    ({"type": "t", "user_id": "bad id"}, "user_id must be"),
])
def test_targets_and_options_are_checked(server, fields, want):
    st, _, ans = rest(server, fields)
    assert st == 400 and want in ans["message"], ans


def test_grpc_target_errors_name_the_field(server):
    async def go():
        for kw, want in [({}, "Publish needs exactly one target"),
                         ({"broadcast": True, "store": pb.STORE_ALWAYS}, "store: always"),
                         ({"user_id": "a", "ttl_ms": 604800001}, "ttl_ms is 604800001")]:
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await publish(server, type="t", **kw)
            assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and want in e.value.details()

    run(go())


def test_user_ids_and_broadcast(server):
    async def go():
        a, _ = await server.connect(user="m1")
        b, _ = await server.connect(user="m2")
        r = await publish(server, type="promo", user_ids=["m1", "m-off", "m2", "m1"], data=b'{"x":1}',
                          store=pb.STORE_ALWAYS)
        assert r.users == 3 and r.reached == 2 and r.stored_users == 1 and r.stored and r.connections == 2
        assert len(r.message_ids) == 3 and r.message_ids == sorted(r.message_ids)
        ma, mb = await recv(a), await recv(b)
        assert (ma["user_id"], ma["message_id"]) == ("m1", r.message_ids[0])
        assert (mb["user_id"], mb["message_id"]) == ("m2", r.message_ids[2])
        # REST: NotifyUsers' shape, with stored_users
        st, _, ans = rest(server, {"type": "promo", "user_ids": ["m1", "m2"], "data": {"y": 2}})
        assert st == 200 and ans["data"]["users"] == 2 and ans["data"]["stored_users"] == 0, ans
        assert len(ans["data"]["message_ids"]) == 2
        await recv(a), await recv(b)
        # everyone: no user_id in the envelope, never stored
        r = await publish(server, type="maintenance", broadcast=True, data=b'{"at":"22:00"}')
        assert r.connections >= 2 and not r.stored
        for ws in (a, b):
            m = await recv(ws)
            assert m["type"] == "maintenance" and "user_id" not in m and m["data"] == {"at": "22:00"}
        await a.close()
        await b.close()

    run(go())


def test_store_never_always_and_auto_for_an_offline_user(server):
    async def go():
        ids = {}
        for name, kw in [("auto-custom", {}),  # a type of the caller's own: live only
                         ("never-urgent", {"store": pb.STORE_NEVER, "priority": pb.PRIORITY_URGENT}),
                         ("always", {"store": pb.STORE_ALWAYS}),
                         ("urgent", {"priority": pb.PRIORITY_URGENT})]:
            r = await publish(server, type="e." + name, user_id="off1", **kw)
            ids[name] = (r.message_id, r.stored)
        r = await publish(server, type="system_notification", user_id="off1", data=b'{"message":"kept"}')
        ids["known-type"] = (r.message_id, r.stored)
        r = await publish(server, type="system_notification", user_id="off1", store=pb.STORE_NEVER)
        ids["known-never"] = (r.message_id, r.stored)
        assert {k: v[1] for k, v in ids.items()} == {"auto-custom": False, "never-urgent": False, "always": True,
                                                     "urgent": True, "known-type": True, "known-never": False}
        ws, hello = await server.connect(user="off1")
        got = [await recv(ws) for _ in range(3)]
        assert [m["type"] for m in got] == ["e.always", "e.urgent", "system_notification"]
        assert [m["message_id"] for m in got] == [ids["always"][0], ids["urgent"][0], ids["known-type"][0]]
        await nothing(ws)
        await ws.close()

    run(go())


def test_ttl_ms_overrides_how_long_a_copy_waits():
    with nd.Server() as s:
        async def go():
            short = await publish(s, type="flash", user_id="off2", store=pb.STORE_ALWAYS, ttl_ms=300)
            assert short.stored
            st, _, ans = rest(s, {"type": "flash.rest", "user_id": "off2", "store": "always", "ttl_ms": 300})
            assert st == 200 and ans["data"]["stored"]
            longer = await publish(s, type="flash", user_id="off2", store=pb.STORE_ALWAYS, ttl_ms=600000)
            # a short-TTL open-url command too: ttl_ms wins over NOTIFYD_COMMAND_TTL (5m)
            await publish(s, type="batchgo_open_url", user_id="off2", ttl_ms=300,
                          data=b'{"task_id":"t","urls":["https://a.example"],"delay":0}')
            await asyncio.sleep(0.6)  # let the 300 ms pass: time itself is what is tested
            ws, _ = await s.connect(user="off2")
            m = await recv(ws)
            assert m["message_id"] == longer.message_id
            await nothing(ws)
            await ws.close()

        run(go())


def test_command_ttl_expires_open_url_commands():
    with nd.Server(env={"NOTIFYD_COMMAND_TTL": "1s"}) as s:
        async def go():
            async with s.channel() as ch:
                stub = pbg.NotificationServiceStub(ch)
                r1 = await stub.NotifyBatchGoOpenUrl(
                    pb.NotifyBatchGoOpenUrlRequest(user_id="off3", task_id="t1", urls=["https://a.example"]),
                    metadata=nd.bearer(SVC), timeout=nd.TIMEOUT)
                r2 = await stub.SendSystemNotification(
                    pb.SendSystemNotificationRequest(user_id="off3", message="still kept"),
                    metadata=nd.bearer(SVC), timeout=nd.TIMEOUT)
            assert r1.stored and r2.stored
            # within the command TTL the command is delivered
            await publish(s, type="batchgo_open_url", user_id="off4",
                          data=b'{"task_id":"t2","urls":["https://b.example"],"delay":0}')
            ws4, _ = await s.connect(user="off4")
            assert (await recv(ws4))["type"] == "batchgo_open_url"
            await ws4.close()
            await asyncio.sleep(1.3)  # past NOTIFYD_COMMAND_TTL, far from the 7-day offline TTL
            ws, _ = await s.connect(user="off3")
            m = await recv(ws)
            assert m["message_id"] == r2.message_id and m["data"]["message"] == "still kept"
            await nothing(ws)
            await ws.close()

        run(go())


def test_custom_types_on_metrics_stay_bounded():
    with nd.Server() as s:
        async def go():
            async with s.channel() as ch:
                stub = pbg.NotificationServiceStub(ch)
                for i in range(70):
                    await stub.Publish(pb.PublishRequest(type="kind%02d" % i, broadcast=True),
                                       metadata=nd.bearer(SVC), timeout=nd.TIMEOUT)
                await stub.Publish(pb.PublishRequest(type="system_notification", user_id="off5",
                                                     data=b'{"message":"m"}'),
                                   metadata=nd.bearer(SVC), timeout=nd.TIMEOUT)

        run(go())
        m = nd.metrics(s)
        types = {dict(k[1])["type"] for k in m if k[0] == "notifyd_messages_total"}
        custom = {t for t in types if t.startswith("kind")}
        assert len(custom) == 64 and "kind00" in custom and "kind69" not in custom
        assert nd.metric(m, "notifyd_messages_total", type="other", outcome="dropped") == 6
        assert nd.metric(m, "notifyd_messages_total", type="kind00", outcome="dropped") == 1
        # a type notifyd knows is counted with it
        assert nd.metric(m, "notifyd_messages_total", type="system_notification", outcome="stored") == 1


def test_publish_needs_an_api_token(server):
    st, _, _ = rest(server, {"type": "t", "broadcast": True}, tok=nd.token("u", "user"))
    assert st == 403

    async def go():
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await publish(server, tok=nd.token("u", "user"), type="t", broadcast=True)
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED

    run(go())
