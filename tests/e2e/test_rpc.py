"""Every RPC of notification.v1.NotificationService, end to end: a real gRPC
client calls the real notifyd, real WebSocket clients receive the messages."""
import asyncio

import grpc
import pytest

import nd
from nd import pb, pbg, recv, nothing, run

SERVICE = nd.token("backend", "service")
ADMIN = nd.token("ops", "admin")

TASK = dict(task_id="t-1", task_type="", status="running", progress=65.5, total=20,
            completed=13, failed=1, message="working", start_time=1700000000, end_time=0)

# rpc name -> (request, expected type, expected data)
TASK_DATA = lambda fam: dict(TASK, task_type=fam)
CASES = {
    "NotifyBatchGoStart": (pb.NotifyBatchGoStartRequest(user_id="alice", task=pb.TaskProgressData(**TASK)),
                           "batchgo_start", TASK_DATA("batchgo")),
    "NotifyBatchGoProgress": (pb.NotifyBatchGoProgressRequest(user_id="alice", task=pb.TaskProgressData(**TASK)),
                              "batchgo_progress", TASK_DATA("batchgo")),
    "NotifyBatchGoComplete": (pb.NotifyBatchGoCompleteRequest(user_id="alice", task=pb.TaskProgressData(**TASK)),
                              "batchgo_complete", TASK_DATA("batchgo")),
    "NotifySiteRankStart": (pb.NotifySiteRankStartRequest(user_id="alice", task=pb.TaskProgressData(**TASK)),
                            "siterank_start", TASK_DATA("siterank")),
    "NotifySiteRankProgress": (pb.NotifySiteRankProgressRequest(user_id="alice", task=pb.TaskProgressData(**TASK)),
                               "siterank_progress", TASK_DATA("siterank")),
    "NotifySiteRankComplete": (pb.NotifySiteRankCompleteRequest(user_id="alice", task=pb.TaskProgressData(**TASK)),
                               "siterank_complete", TASK_DATA("siterank")),
    "NotifyChengelinkStart": (pb.NotifyChengelinkStartRequest(user_id="alice", task=pb.TaskProgressData(**TASK)),
                              "chengelink_start", TASK_DATA("chengelink")),
    "NotifyChengelinkProgress": (pb.NotifyChengelinkProgressRequest(user_id="alice", task=pb.TaskProgressData(**TASK)),
                                 "chengelink_progress", TASK_DATA("chengelink")),
    "NotifyChengelinkComplete": (pb.NotifyChengelinkCompleteRequest(user_id="alice", task=pb.TaskProgressData(**TASK)),
                                 "chengelink_complete", TASK_DATA("chengelink")),
    "NotifyBatchGoOpenUrl": (pb.NotifyBatchGoOpenUrlRequest(user_id="alice", task_id="batch_001",
                                                            urls=["https://example1.com", "http://example2.com/a?b=c"],
                                                            delay=1000),
                             "batchgo_open_url",
                             dict(task_id="batch_001", urls=["https://example1.com", "http://example2.com/a?b=c"],
                                  delay=1000)),
    "SendSystemNotification": (pb.SendSystemNotificationRequest(user_id="alice", title="系统通知", message="您有新的消息",
                                                                level=pb.LEVEL_WARNING, action="查看",
                                                                action_url="https://app.example/x"),
                               "system_notification",
                               dict(title="系统通知", message="您有新的消息", level="warning", action="查看",
                                    action_url="https://app.example/x")),
    "NotifyTokenInsufficient": (pb.NotifyTokenInsufficientRequest(user_id="alice", current_balance=50,
                                                                  required_tokens=100, task_type="batchgo",
                                                                  message="Token余额不足"),
                                "token_insufficient",
                                dict(current_balance=50, required_tokens=100, task_type="batchgo",
                                     message="Token余额不足")),
    "NotifyPlanExpiring": (pb.NotifyPlanExpiringRequest(user_id="alice", plan_name="pro", days_left=3,
                                                        expires_at=1694592000, message="soon",
                                                        upgrade_url="https://app.example/upgrade"),
                           "plan_expiring",
                           dict(plan_name="pro", days_left=3, expires_at=1694592000, message="soon",
                                upgrade_url="https://app.example/upgrade")),
    "NotifyPlanExpired": (pb.NotifyPlanExpiredRequest(user_id="alice", plan_name="pro", expires_at=1694592000,
                                                      message="ended", upgrade_url="https://app.example/upgrade"),
                          "plan_expired",
                          dict(plan_name="pro", expires_at=1694592000, message="ended",
                               upgrade_url="https://app.example/upgrade")),
    "SendTestMessage": (pb.SendTestMessageRequest(user_id="alice"), "system_notification", None),
}


FEED_TYPES = {"system_notification", "token_insufficient", "plan_expiring", "plan_expired", "batchgo_complete",
              "siterank_complete", "chengelink_complete"}


@pytest.mark.parametrize("rpc", sorted(CASES))
def test_notify_reaches_every_tab_of_the_user_and_nobody_else(server, rpc):
    req, type_, data = CASES[rpc]

    async def go():
        a1, _ = await server.connect(user="alice")
        a2, _ = await server.connect(user="alice")
        b, _ = await server.connect(user="bob")
        async with server.channel() as ch:
            resp = await getattr(pbg.NotificationServiceStub(ch), rpc)(req, metadata=nd.bearer(SERVICE),
                                                                      timeout=nd.TIMEOUT)
        assert resp.connections == 2
        assert not resp.stored
        assert len(resp.message_id) == 16
        for ws in (a1, a2):
            m = await recv(ws)
            assert m["type"] == type_
            assert m["user_id"] == "alice"
            assert m["message_id"] == resp.message_id
            assert isinstance(m["timestamp"], int) and m["timestamp"] > 1.6e12
            # kept in the user's feed by default (SPEC §7d): the envelope says so
            in_feed = type_ in FEED_TYPES and rpc != "SendTestMessage"
            assert set(m) == {"type", "user_id", "data", "timestamp", "message_id"} | ({"feed"} if in_feed else set())
            assert m.get("feed") is (True if in_feed else None)
            if data is not None:
                assert m["data"] == data
            else:
                assert m["data"]["test"] is True and m["data"]["message"]
        await nothing(b)
        for ws in (a1, a2, b):
            await ws.close()

    run(go())


def test_broadcast_reaches_everyone_without_user_id(server):
    async def go():
        socks = [(await server.connect(user=u))[0] for u in ("u1", "u2", "u2", "u3")]
        async with server.channel() as ch:
            resp = await pbg.NotificationServiceStub(ch).Broadcast(
                pb.BroadcastRequest(title="系统公告", message="新功能上线啦！", level=pb.LEVEL_SUCCESS),
                metadata=nd.bearer(ADMIN), timeout=nd.TIMEOUT)
        assert resp.connections == 4 and not resp.stored
        for ws in socks:
            m = await recv(ws)
            assert m["type"] == "system_notification"
            assert "user_id" not in m
            assert m["data"] == dict(title="系统公告", message="新功能上线啦！", level="success", action="",
                                     action_url="")
            assert m["message_id"] == resp.message_id
            await ws.close()

    run(go())


def test_stats_and_online_answer_from_the_live_registry(server):
    async def go():
        async with server.channel() as ch:
            stub = pbg.NotificationServiceStub(ch)
            md = nd.bearer(SERVICE)
            s = await stub.GetStats(pb.GetStatsRequest(), metadata=md, timeout=nd.TIMEOUT)
            assert s.total_connections == 0 and list(s.connected_users) == [] and s.online_users == 0
            socks = [(await server.connect(user=u))[0] for u in ("zed", "amy", "amy")]
            s = await stub.GetStats(pb.GetStatsRequest(), metadata=md, timeout=nd.TIMEOUT)
            assert s.total_connections == 3
            assert list(s.connected_users) == ["amy", "zed"]
            assert s.online_users == 2
            on = await stub.IsUserOnline(pb.IsUserOnlineRequest(user_id="amy"), metadata=md, timeout=nd.TIMEOUT)
            assert on.user_id == "amy" and on.is_online and on.connections == 2
            off = await stub.IsUserOnline(pb.IsUserOnlineRequest(user_id="nobody"), metadata=md, timeout=nd.TIMEOUT)
            assert off.user_id == "nobody" and not off.is_online and off.connections == 0
            for ws in socks:
                await ws.close()
            # closes are processed asynchronously: poll, bounded
            for _ in range(100):
                s = await stub.GetStats(pb.GetStatsRequest(), metadata=md, timeout=nd.TIMEOUT)
                if s.total_connections == 0:
                    break
                await asyncio.sleep(0.05)
            assert s.total_connections == 0 and s.online_users == 0
            assert s.messages_total == 0

    run(go())


def test_message_ids_increase_per_user(server):
    async def go():
        ws, _ = await server.connect(user="alice")
        async with server.channel() as ch:
            stub = pbg.NotificationServiceStub(ch)
            ids = []
            for i in range(20):
                r = await stub.SendSystemNotification(
                    pb.SendSystemNotificationRequest(user_id="alice", message="n%d" % i),
                    metadata=nd.bearer(SERVICE), timeout=nd.TIMEOUT)
                ids.append(r.message_id)
        got = [(await recv(ws))["message_id"] for _ in ids]
        assert got == ids
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        await ws.close()

    run(go())


def test_offline_user_gets_nothing_and_answer_says_zero(server):
    async def go():
        async with server.channel() as ch:
            r = await pbg.NotificationServiceStub(ch).NotifyBatchGoProgress(
                pb.NotifyBatchGoProgressRequest(user_id="ghost", task=pb.TaskProgressData(task_id="t")),
                metadata=nd.bearer(SERVICE), timeout=nd.TIMEOUT)
        assert r.connections == 0 and len(r.message_id) == 16

    run(go())


async def _call(server, rpc, req, md):
    async with server.channel() as ch:
        return await getattr(pbg.NotificationServiceStub(ch), rpc)(req, metadata=md, timeout=nd.TIMEOUT)


def _code(server, rpc, req, md):
    try:
        run(_call(server, rpc, req, md))
    except grpc.aio.AioRpcError as e:
        return e.code(), e.details()
    return grpc.StatusCode.OK, ""


@pytest.mark.parametrize("md,code,text", [
    ((), grpc.StatusCode.UNAUTHENTICATED, "no token"),
    (nd.bearer("not-a-jwt"), grpc.StatusCode.UNAUTHENTICATED, "malformed"),
    ((("authorization", "Basic abc"),), grpc.StatusCode.UNAUTHENTICATED, "Bearer"),
    (nd.bearer(nd.token("svc", "service", secret="another-secret-another-secret")),
     grpc.StatusCode.UNAUTHENTICATED, "signature"),
    (nd.bearer(nd.token("svc", "service", ttl=-3600)), grpc.StatusCode.UNAUTHENTICATED, "expired"),
    (nd.bearer(nd.none_token("svc", "admin")), grpc.StatusCode.UNAUTHENTICATED, "algorithm"),
    (nd.bearer(nd.token("svc", "service", alg="HS384")), grpc.StatusCode.UNAUTHENTICATED, "algorithm"),
    (nd.bearer(nd.token("42", "user")), grpc.StatusCode.PERMISSION_DENIED, "admin or service"),
    (nd.bearer(nd.token("42", None)), grpc.StatusCode.PERMISSION_DENIED, "admin or service"),
    (nd.bearer(nd.token("ops", None, roles=["ops", "admin"])), grpc.StatusCode.OK, ""),
])
def test_auth_failures(server, md, code, text):
    got, details = _code(server, "GetStats", pb.GetStatsRequest(), md)
    assert got == code, details
    assert text in details


@pytest.mark.parametrize("rpc,req,field", [
    ("SendSystemNotification", pb.SendSystemNotificationRequest(message="x"), "user_id"),
    ("SendSystemNotification", pb.SendSystemNotificationRequest(user_id="a b", message="x"), "user_id"),
    ("SendSystemNotification", pb.SendSystemNotificationRequest(user_id="a"), "message"),
    ("SendSystemNotification", pb.SendSystemNotificationRequest(user_id="a", message="x", action_url="ftp://x"),
     "action_url"),
    ("SendSystemNotification", pb.SendSystemNotificationRequest(user_id="a", message="x" * 4097), "message"),
    ("NotifyBatchGoOpenUrl", pb.NotifyBatchGoOpenUrlRequest(user_id="a", task_id="t", urls=[]), "urls"),
    ("NotifyBatchGoOpenUrl", pb.NotifyBatchGoOpenUrlRequest(user_id="a", task_id="t", urls=["javascript:alert(1)"]),
     "urls[0]"),
    ("NotifyBatchGoOpenUrl", pb.NotifyBatchGoOpenUrlRequest(user_id="a", task_id="t",
                                                            urls=["https://ok.example", "data:text/html,x"]),
     "urls[1]"),
    ("NotifyBatchGoOpenUrl", pb.NotifyBatchGoOpenUrlRequest(user_id="a", urls=["https://x.example"]), "task_id"),
    ("NotifyBatchGoOpenUrl", pb.NotifyBatchGoOpenUrlRequest(user_id="a", task_id="t", urls=["https://x.example"],
                                                            delay=-1), "delay"),
    ("NotifyBatchGoProgress", pb.NotifyBatchGoProgressRequest(user_id="a", task=pb.TaskProgressData(
        task_id="t", progress=101)), "progress"),
    ("NotifyBatchGoProgress", pb.NotifyBatchGoProgressRequest(user_id="a"), "task_id"),
    ("NotifyPlanExpiring", pb.NotifyPlanExpiringRequest(user_id="a", days_left=3), "plan_name"),
    ("NotifyTokenInsufficient", pb.NotifyTokenInsufficientRequest(user_id="a", required_tokens=-5),
     "required_tokens"),
    ("Broadcast", pb.BroadcastRequest(title="only a title"), "message"),
    ("IsUserOnline", pb.IsUserOnlineRequest(), "user_id"),
    ("SendTestMessage", pb.SendTestMessageRequest(), "user_id"),
])
def test_invalid_argument_names_the_field(server, rpc, req, field):
    code, details = _code(server, rpc, req, nd.bearer(SERVICE))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.startswith(field), details


def test_garbage_request_bytes_are_invalid_argument(server):
    async def go():
        async with server.channel() as ch:
            call = ch.unary_unary("/notification.v1.NotificationService/SendSystemNotification",
                                  request_serializer=lambda b: b, response_deserializer=lambda b: b)
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await call(b"\xff\xff\xff\xff\x0f", metadata=nd.bearer(SERVICE), timeout=nd.TIMEOUT)
            assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "SendSystemNotificationRequest" in e.value.details()

    run(go())


def test_unknown_method_is_unimplemented(server):
    async def go():
        async with server.channel() as ch:
            call = ch.unary_unary("/notification.v1.NotificationService/Nope",
                                  request_serializer=lambda b: b, response_deserializer=lambda b: b)
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await call(b"", metadata=nd.bearer(SERVICE), timeout=nd.TIMEOUT)
            assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED

    run(go())


def test_health_check(server):
    async def go():
        async with server.channel() as ch:
            h = nd.health_pb2_grpc.HealthStub(ch)
            r = await h.Check(nd.health_pb2.HealthCheckRequest(), timeout=nd.TIMEOUT)
            assert r.status == nd.health_pb2.HealthCheckResponse.SERVING
            r = await h.Check(nd.health_pb2.HealthCheckRequest(service="notification.v1.NotificationService"),
                              timeout=nd.TIMEOUT)
            assert r.status == nd.health_pb2.HealthCheckResponse.SERVING
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await h.Check(nd.health_pb2.HealthCheckRequest(service="other.Service"), timeout=nd.TIMEOUT)
            assert e.value.code() == grpc.StatusCode.NOT_FOUND

    run(go())


def test_broadcast_and_test_message_are_audited_without_tokens(server):
    async def go():
        await _call(server, "Broadcast", pb.BroadcastRequest(message="hi"), nd.bearer(ADMIN))
        await _call(server, "SendTestMessage", pb.SendTestMessageRequest(user_id="u9"), nd.bearer(ADMIN))

    run(go())
    server.wait_log(lambda r: r.get("msg") == "audit" and r.get("op") == "SendTestMessage")
    audits = [r for r in server.records() if r.get("msg") == "audit"]
    assert {(a["op"], a["caller"], a["target"]) for a in audits} == {
        ("Broadcast", "ops", "*"), ("SendTestMessage", "ops", "u9")}
    assert ADMIN not in server.text() and ADMIN.split(".")[2] not in server.text()
