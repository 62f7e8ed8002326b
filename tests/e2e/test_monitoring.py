"""Monitoring: the metrics of SPEC §9 (names and types under promtool, and that they move:
close codes whoever closed, reconnects, connection lifetimes, store commits, the offline
backlog, REST latency), the README listing every metric, and the log lines an operator
reads -- WebSocket open/close with peer and code, failed REST and gRPC calls, reads audited
at debug, durations without float noise."""
import os
import re
import shutil
import socket
import subprocess

import grpc
import pytest

import nd
from nd import RawWS, pb, pbg, run

SVC = nd.token("backend", "service")
TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC_9 = {
    "notifyd_connection_duration_seconds": "histogram",
    "notifyd_disconnects_total": "counter",
    "notifyd_reconnects_total": "counter",
    "notifyd_store_commit_seconds": "histogram",
    "notifyd_offline_messages": "gauge",
    "notifyd_rest_request_duration_seconds": "histogram",
    "notifyd_rpc_duration_seconds": "histogram",
}


def scrape(server):
    st, _, text = nd.http(server, "GET", "/metrics")
    assert st == 200
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    return text, types, _values(text)


def _values(text):
    out = {}
    for line in text.splitlines():
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        if m and not line.startswith("#"):
            out[(m.group(1), frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(3) or "")))] = float(m.group(4))
    return out


def v(values, name, **labels):
    return values.get((name, frozenset(labels.items())), 0.0)


def test_metric_names_and_types_under_promtool_and_in_the_readme(server):
    nd.http(server, "GET", "/api/websocket/stats", headers={"Authorization": "Bearer " + SVC})
    text, types, values = scrape(server)
    for name, kind in SPEC_9.items():
        assert types.get(name) == kind, (name, types.get(name))
    # RPC latency buckets reach 10 s
    assert ("notifyd_rpc_duration_seconds_bucket", frozenset({("method", "GetStats"), ("le", "10")})) in values
    assert v(values, "notifyd_rest_request_duration_seconds_count", route="/api/websocket/stats") == 1
    assert shutil.which("promtool"), "promtool (apt prometheus) is part of scripts/deps.sh test"
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    readme = open(os.path.join(TOP, "README.md")).read()
    missing = [n for n in types if "`%s`" % n not in readme]
    assert not missing, "README's Monitoring section does not list %s" % missing


def test_close_codes_reconnects_and_lifetimes():
    with nd.Server(args=["--heartbeat-interval-ms", "100", "--heartbeat-timeout-ms", "400"]) as s:
        _, _, before = scrape(s)

        async def go():
            ws, hello = await s.connect(user="cc1")
            await ws.close(code=1000)  # the client's 1000 is 1000
            ws, _ = await s.connect(user="cc2")
            await ws.close(code=4321, reason="app said so")
            ws, _ = await s.connect(user="cc3", query="&since=0000000000000001")
            await ws.close()
        run(go())
        silent = RawWS(s, user="cc4")  # never answers: the server closes it with 4002
        assert silent.wait_closed(timeout=5)[0] == 4002
        silent.close()
        lost = RawWS(s, user="cc5")  # TCP gone without a close frame: 1006
        lost.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        lost.close()
        closed = {}
        for user in ("cc1", "cc2", "cc3", "cc4", "cc5"):
            closed[user] = s.wait_log(lambda r, u=user: r.get("msg") == "websocket closed" and r.get("user_id") == u)
        assert [closed[u]["code"] for u in ("cc1", "cc2", "cc3", "cc4", "cc5")] == [1000, 4321, 1000, 4002, 1006]
        assert [closed[u]["by"] for u in ("cc1", "cc4")] == ["client", "server"]
        for r in closed.values():
            assert r["level"] == "info" and re.fullmatch(r"127\.0\.0\.1:\d+", r["peer"]), r
            assert isinstance(r["duration_ms"], int) and r["client_id"]
        opened = [r for r in s.records() if r.get("msg") == "websocket connected"]
        assert {r["user_id"] for r in opened} == {"cc1", "cc2", "cc3", "cc4", "cc5"}
        assert all(r["level"] == "info" and r["peer"].startswith("127.0.0.1:") for r in opened)
        assert [r["resume"] for r in opened if r["user_id"] == "cc3"] == [True]

        text, _, after = scrape(s)
        d = lambda name, **l: v(after, name, **l) - v(before, name, **l)
        assert d("notifyd_disconnects_total", code="1000") == 2
        assert d("notifyd_disconnects_total", code="4321") == 1
        assert d("notifyd_disconnects_total", code="4002") == 1
        assert d("notifyd_disconnects_total", code="1006") == 1
        assert d("notifyd_reconnects_total") == 1
        assert d("notifyd_connection_duration_seconds_count") == 5
        assert v(after, "notifyd_connection_duration_seconds_bucket", le="+Inf") == 5


def test_store_commits_and_the_offline_backlog(server):
    async def go():
        async with server.channel() as ch:
            stub = pbg.NotificationServiceStub(ch)
            for i in range(3):
                r = await stub.SendSystemNotification(pb.SendSystemNotificationRequest(
                    user_id="away", message="m%d" % i), metadata=nd.bearer(SVC), timeout=nd.TIMEOUT)
                assert r.stored
        _, _, m = scrape(server)
        assert v(m, "notifyd_offline_messages") == 3
        assert v(m, "notifyd_store_commit_seconds_count") >= 3
        ws, _ = await server.connect(user="away")
        for _ in range(3):
            await nd.recv_type(ws, "system_notification")
        # written to the socket: forgotten by the store
        nd.until(lambda: v(scrape(server)[2], "notifyd_offline_messages") == 0, what="the backlog emptied")
        await ws.close()
    run(go())


def test_failed_calls_are_logged_with_a_level_and_reads_are_not_audited_at_info(server):
    h = {"Authorization": "Bearer " + SVC}
    for _ in range(3):  # a console polling stats
        assert nd.http(server, "GET", "/api/websocket/stats", headers=h)[0] == 200
    assert nd.http(server, "POST", "/api/websocket/notification", {"user_id": "u1"}, headers=h)[0] == 400
    assert nd.http(server, "GET", "/api/websocket/stats")[0] == 401
    assert nd.http(server, "GET", "/api/websocket/stats",
                   headers={"Authorization": "Bearer " + nd.token("browser")})[0] == 403
    assert nd.http(server, "POST", "/api/websocket/notification", {"user_id": "u1", "message": "hi"},
                   headers=h)[0] == 200

    async def go():
        async with server.channel() as ch:
            nope = ch.unary_unary("/notification.v1.NotificationService/NoSuchMethod")
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await nope(b"", metadata=nd.bearer(SVC), timeout=nd.TIMEOUT)
            assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
            with pytest.raises(grpc.aio.AioRpcError):
                await pbg.NotificationServiceStub(ch).GetStats(pb.GetStatsRequest(), timeout=nd.TIMEOUT)
    run(go())

    server.wait_log(lambda r: r.get("msg") == "audit" and r.get("op") == "SendSystemNotification")
    unknown = server.wait_log(lambda r: r.get("msg") == "rpc" and r.get("status") == "UNIMPLEMENTED")
    assert unknown["rpc"] == "notification.v1.NotificationService/NoSuchMethod" and unknown["level"] == "info"
    unauth = server.wait_log(lambda r: r.get("msg") == "rpc" and r.get("status") == "UNAUTHENTICATED")
    assert unauth["rpc"] == "GetStats" and unauth["error"].startswith("no token")
    rest = [r for r in server.records() if r.get("msg") == "rest"]
    assert [(r["status"], r["level"]) for r in rest] == [(400, "info"), (401, "info"), (403, "info")], rest
    assert rest[0]["path"] == "/api/websocket/notification" and rest[0]["method"] == "POST"
    assert rest[0]["error"].startswith("message") and rest[0]["caller"] == "backend"
    assert rest[1]["error"].startswith("no token")
    audits = [r for r in server.records() if r.get("msg") == "audit"]
    assert [a["op"] for a in audits] == ["SendSystemNotification"], audits  # no GetStats at info
    # durations without float noise
    for line in server.text().splitlines():
        for num in re.findall(r'"duration_ms":(-?[0-9.eE+-]+)', line):
            assert len(num.replace(".", "").replace("-", "").lstrip("0")) <= 10, line


def test_reads_are_audited_at_debug():
    with nd.Server(args=["--log-level", "debug"]) as s:
        assert nd.http(s, "GET", "/api/websocket/stats", headers={"Authorization": "Bearer " + SVC})[0] == 200
        a = s.wait_log(lambda r: r.get("msg") == "audit" and r.get("op") == "GetStats")
        assert a["level"] == "debug"
        ok = s.wait_log(lambda r: r.get("msg") == "rest" and r.get("status") == 200)
        assert ok["level"] == "debug" and ok["path"] == "/api/websocket/stats"
