"""The seed's REST routes (API接口): bodies exactly as the seed shows them,
answers in {"code","message","data"}, every error status, and the guarantee
that REST and gRPC share one code path (same field errors)."""
import json
import signal
import socket
import time

import grpc
import pytest

import nd
from nd import pb, pbg, recv, nothing, run

SVC = nd.token("backend", "service")
AUTH = {"Authorization": "Bearer " + SVC}


def call(server, method, path, body=None, headers=None):
    h = dict(AUTH)
    h.update(headers or {})
    return nd.http(server, method, "/api/websocket" + path, body=body, headers=h)


SEED = {
    "/notification": ({"user_id": "user_123", "title": "系统通知", "message": "您有新的消息", "level": "info"},
                      "system_notification",
                      {"title": "系统通知", "message": "您有新的消息", "level": "info", "action": "",
                       "action_url": ""}),
    "/batchgo/open-url": ({"user_id": "user_123", "task_id": "batch_001",
                           "urls": ["https://example1.com", "https://example2.com"], "delay": 1000},
                          "batchgo_open_url",
                          {"task_id": "batch_001", "urls": ["https://example1.com", "https://example2.com"],
                           "delay": 1000}),
    "/task/progress": ({"user_id": "user_123", "task_id": "task_001", "task_type": "batchgo", "status": "running",
                        "progress": 65.5, "total": 20, "completed": 13, "failed": 0, "message": "处理中..."},
                       "batchgo_progress",
                       {"task_id": "task_001", "task_type": "batchgo", "status": "running", "progress": 65.5,
                        "total": 20, "completed": 13, "failed": 0, "message": "处理中...", "start_time": 0,
                        "end_time": 0}),
    "/token/insufficient": ({"user_id": "user_123", "current_balance": 50, "required_tokens": 100,
                             "task_type": "batchgo"},
                            "token_insufficient",
                            {"current_balance": 50, "required_tokens": 100, "task_type": "batchgo", "message": ""}),
    "/plan/expiring": ({"user_id": "user_123", "plan_name": "pro", "days_left": 3, "expires_at": 1694592000},
                       "plan_expiring",
                       {"plan_name": "pro", "days_left": 3, "expires_at": 1694592000, "message": "",
                        "upgrade_url": ""}),
    "/plan/expired": ({"user_id": "user_123", "plan_name": "pro", "expires_at": 1694592000},
                      "plan_expired",
                      {"plan_name": "pro", "expires_at": 1694592000, "message": "", "upgrade_url": ""}),
}


@pytest.mark.parametrize("route", sorted(SEED))
def test_seed_routes_deliver_to_the_user(server, route):
    body, type_, data = SEED[route]

    async def go():
        a, _ = await server.connect(user="user_123")
        other, _ = await server.connect(user="user_456")
        st, h, resp = call(server, "POST", route, body)
        assert st == 200 and h["content-type"] == "application/json"
        assert resp["code"] == 0 and resp["message"] == "发送成功"
        assert resp["data"]["connections"] == 1 and resp["data"]["stored"] is False
        m = await recv(a)
        assert m["type"] == type_ and m["user_id"] == "user_123" and m["data"] == data
        assert m["message_id"] == resp["data"]["message_id"]
        await nothing(other)
        await a.close()
        await other.close()

    run(go())


@pytest.mark.parametrize("task_type", ["batchgo", "siterank", "chengelink"])
def test_task_progress_routes_by_task_type(server, task_type):
    async def go():
        a, _ = await server.connect(user="u1")
        st, _, resp = call(server, "POST", "/task/progress",
                           {"user_id": "u1", "task_id": "t", "task_type": task_type, "progress": 10})
        assert st == 200, resp
        m = await recv(a)
        assert m["type"] == task_type + "_progress" and m["data"]["task_type"] == task_type
        await a.close()

    run(go())


def test_broadcast_route(server):
    async def go():
        socks = [(await server.connect(user=u))[0] for u in ("a", "b")]
        st, _, resp = call(server, "POST", "/broadcast", {"title": "系统公告", "message": "新功能上线啦！",
                                                          "level": "success"})
        assert st == 200 and resp["code"] == 0 and resp["data"]["connections"] == 2
        for ws in socks:
            m = await recv(ws)
            assert m["type"] == "system_notification" and "user_id" not in m
            assert m["data"]["title"] == "系统公告" and m["data"]["level"] == "success"
            await ws.close()

    run(go())


def test_stats_online_and_test_routes(server):
    async def go():
        a, _ = await server.connect(user="user_123")
        b, _ = await server.connect(user="user_001")
        st, _, resp = call(server, "GET", "/stats")
        assert st == 200 and resp["code"] == 0 and resp["message"] == "获取成功"
        assert resp["data"]["total_connections"] == 2
        assert resp["data"]["connected_users"] == ["user_001", "user_123"]
        st, _, resp = call(server, "GET", "/user/user_123/online")
        assert st == 200 and resp == {"code": 0, "message": "检查完成",
                                      "data": {"user_id": "user_123", "is_online": True, "connections": 1}}
        st, _, resp = call(server, "GET", "/user/nobody/online")
        assert resp["data"]["is_online"] is False
        st, _, resp = call(server, "GET", "/test?user_id=user_123")
        assert st == 200 and resp["code"] == 0 and resp["data"]["connections"] == 1
        m = await recv(a)
        assert m["type"] == "system_notification" and m["data"]["test"] is True
        await nothing(b)
        await a.close()
        await b.close()

    run(go())


def test_answers_match_grpc_fields(server):
    """The REST `data` has exactly the fields of the gRPC response message."""
    st, _, stats = call(server, "GET", "/stats")
    assert set(stats["data"]) == {f.name for f in pb.GetStatsResponse.DESCRIPTOR.fields}
    st, _, online = call(server, "GET", "/user/x/online")
    assert set(online["data"]) == {f.name for f in pb.IsUserOnlineResponse.DESCRIPTOR.fields}
    st, _, sent = call(server, "POST", "/notification", {"user_id": "x", "message": "m"})
    assert set(sent["data"]) == {f.name for f in pb.SendSystemNotificationResponse.DESCRIPTOR.fields}


@pytest.mark.parametrize("headers,status,text", [
    ({"Authorization": ""}, 401, "no token"),
    ({"Authorization": "Bearer nope"}, 401, "malformed"),
    ({"Authorization": "Bearer " + nd.token("s", "service", ttl=-3600)}, 401, "expired"),
    ({"Authorization": "Bearer " + nd.none_token("s", "admin")}, 401, "algorithm"),
    ({"Authorization": "Bearer " + nd.token("42", "user")}, 403, "admin or service"),
])
def test_auth_errors(server, headers, status, text):
    for method, path, body in (("GET", "/stats", None), ("POST", "/notification", {"user_id": "a", "message": "m"})):
        st, h, resp = call(server, method, path, body, headers)
        assert st == status and resp["code"] == status and text in resp["message"], resp
        if status == 401:
            assert h["www-authenticate"] == "Bearer"


def test_unknown_route_and_wrong_method(server):
    st, _, resp = call(server, "GET", "/nope")
    assert st == 404 and resp["code"] == 404 and "/api/websocket/nope" in resp["message"]
    st, h, resp = call(server, "GET", "/notification")
    assert st == 405 and h["allow"] == "POST"
    assert resp["code"] == 405 and "takes POST, not GET" in resp["message"]
    st, h, resp = call(server, "POST", "/stats", {})
    assert st == 405 and h["allow"] == "GET" and "takes GET, not POST" in resp["message"]
    st, h, resp = call(server, "GET", "/user/u1/online")
    assert st == 200


@pytest.mark.parametrize("path,body,field", [
    ("/notification", "{\"user_id\":", "malformed JSON"),
    ("/notification", "[1]", "JSON object"),
    ("/notification", "", "empty"),
    ("/notification", {"title": "t", "message": "m"}, "user_id"),
    ("/notification", {"user_id": "a", "title": "t"}, "message"),
    ("/notification", {"user_id": "a", "message": "m", "level": "loud"}, "level"),
    ("/notification", {"user_id": "a", "message": 5}, "message"),
    ("/batchgo/open-url", {"user_id": "a", "task_id": "t", "urls": "https://x.example"}, "urls"),
    ("/batchgo/open-url", {"user_id": "a", "task_id": "t", "urls": ["file:///etc/passwd"]}, "urls[0]"),
    ("/batchgo/open-url", {"user_id": "a", "task_id": "t", "urls": ["https://x.example"], "delay": "1000"}, "delay"),
    ("/task/progress", {"user_id": "a", "task_id": "t"}, "task_type"),
    ("/task/progress", {"user_id": "a", "task_id": "t", "task_type": "other"}, "task_type"),
    ("/task/progress", {"user_id": "a", "task_id": "t", "task_type": "batchgo", "progress": 150}, "progress"),
    ("/plan/expiring", {"user_id": "a", "plan_name": "pro", "days_left": -1}, "days_left"),
    ("/token/insufficient", {"user_id": "a", "current_balance": "50"}, "current_balance"),
])
def test_bad_bodies_are_400_naming_the_problem(server, path, body, field):
    st, _, resp = call(server, "POST", path, body)
    assert st == 400 and resp["code"] == 400 and field in resp["message"], resp


def test_bad_user_in_path_and_query(server):
    st, _, resp = call(server, "GET", "/test")
    assert st == 400 and resp["message"].startswith("user_id")
    st, _, resp = call(server, "GET", "/user/a%20b/online")
    assert st == 400 and resp["message"].startswith("user_id")


SHARED = [
    ("/notification", "SendSystemNotification", {"user_id": "a", "message": "m", "action_url": "javascript:x"}),
    ("/notification", "SendSystemNotification", {"user_id": "bad id", "message": "m"}),
    ("/notification", "SendSystemNotification", {"user_id": "a", "message": "x" * 5000}),
    ("/batchgo/open-url", "NotifyBatchGoOpenUrl", {"user_id": "a", "task_id": "t",
                                                   "urls": ["https://ok.example", "ftp://no.example"]}),
    ("/batchgo/open-url", "NotifyBatchGoOpenUrl", {"user_id": "a", "urls": ["https://ok.example"]}),
    ("/plan/expiring", "NotifyPlanExpiring", {"user_id": "a", "days_left": 2}),
    ("/broadcast", "Broadcast", {"title": "t"}),
]


@pytest.mark.parametrize("path,rpc,body", SHARED)
def test_rest_and_grpc_give_the_same_field_error(server, path, rpc, body):
    st, _, resp = call(server, "POST", path, body)
    assert st == 400
    req = getattr(pb, rpc + "Request")(**body)

    async def go():
        async with server.channel() as ch:
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await getattr(pbg.NotificationServiceStub(ch), rpc)(req, metadata=nd.bearer(SVC), timeout=nd.TIMEOUT)
            return e.value

    err = run(go())
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details() == resp["message"]


def _raw(server, request, read_timeout=5):
    s = socket.create_connection(("127.0.0.1", server.http_port), timeout=read_timeout)
    s.sendall(request)
    data = b""
    deadline = time.monotonic() + read_timeout
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
        if b"\r\n\r\n" in data:
            head, _, rest = data.partition(b"\r\n\r\n")
            cl = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
            if cl and len(rest) >= int(cl[0].split(b":")[1]):
                break
    s.close()
    return data


def test_oversized_body_is_413_without_reading_it(server):
    # declares 100 MB, sends a few bytes: the answer must come without the rest
    req = ("POST /api/websocket/notification HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{\"user_id\":" % SVC).encode()
    data = _raw(server, req)
    assert data.startswith(b"HTTP/1.1 413"), data[:200]
    assert b'"code":413' in data and b"limit" in data


def test_body_over_the_limit_without_declaring_it():
    with nd.Server(args=["--max-body-bytes", "1KiB"]) as server:
        st, _, resp = call(server, "POST", "/notification", {"user_id": "a", "message": "x" * 2000})
        assert st == 413 and resp["code"] == 413
        st, _, resp = call(server, "POST", "/notification", {"user_id": "a", "message": "x" * 500})
        assert st == 200


def test_chunked_body_is_refused_clearly(server):
    req = ("POST /api/websocket/broadcast HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "Transfer-Encoding: chunked\r\n\r\n10\r\n{\"message\":\"hi\"}\r\n0\r\n\r\n" % SVC).encode()
    data = _raw(server, req)
    assert data.startswith(b"HTTP/1.1 411"), data[:200]


def test_keep_alive_serves_several_requests(server):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=nd.TIMEOUT)
    for i in range(5):
        c.request("POST", "/api/websocket/notification", body=json.dumps({"user_id": "k", "message": str(i)}),
                  headers=dict(AUTH, **{"content-type": "application/json"}))
        r = c.getresponse()
        assert r.status == 200 and json.loads(r.read())["code"] == 0
    c.close()


def test_rate_limit_is_429_over_rest_and_resource_exhausted_over_grpc():
    with nd.Server(args=["--api-rate-limit", "3"]) as server:
        codes = [call(server, "GET", "/stats")[0] for _ in range(6)]
        assert codes[:3] == [200, 200, 200] and 429 in codes[3:]
        st, _, resp = call(server, "GET", "/stats")
        assert st == 429 and "rate limit" in resp["message"]

        async def go():
            async with server.channel() as ch:
                with pytest.raises(grpc.aio.AioRpcError) as e:
                    for _ in range(6):
                        await pbg.NotificationServiceStub(ch).GetStats(pb.GetStatsRequest(), metadata=nd.bearer(SVC),
                                                                       timeout=nd.TIMEOUT)
                assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        run(go())
        # another caller has its own budget
        other = {"Authorization": "Bearer " + nd.token("other-backend", "service")}
        assert call(server, "GET", "/stats", headers=other)[0] == 200


def test_draining_answers_503():
    """During the drain delay after SIGTERM, REST answers 503."""
    s = nd.Server(args=["--drain-delay-ms", "1500"]).start()
    try:
        s.send_signal(signal.SIGTERM)
        s.wait_log(lambda r: r.get("msg") == "draining")
        st, _, resp = call(s, "GET", "/stats")
        assert st == 503 and resp["code"] == 503 and "shutting down" in resp["message"]
        st, _, resp = call(s, "POST", "/notification", {"user_id": "a", "message": "m"})
        assert st == 503
        assert s.stop() == 0
    finally:
        s.close()
