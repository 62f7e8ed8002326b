"""Operations: /metrics in the Prometheus text format with counters that move,
gRPC health Check and Watch, readiness through a drain, and logs that are
JSON lines without tokens."""
import asyncio
import json
import re
import shutil
import signal
import subprocess
import threading
import time

import grpc
import pytest

import nd
from nd import RawWS, pb, pbg, recv, run

SVC = nd.token("backend", "service")
LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[^"}]|"(?:[^"\\]|\\.)*")*)\})? (-?[0-9.eE+-]+|\+Inf|NaN)$')


def scrape(server):
    """{(name, frozenset(labels)): value}, checking every line's syntax."""
    st, h, text = nd.http(server, "GET", "/metrics")
    assert st == 200 and h["content-type"].startswith("text/plain; version=0.0.4")
    out, typed = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            typed[name] = kind
            continue
        if line.startswith("#") or not line:
            continue
        m = LINE.match(line)
        assert m, "bad line: %r" % line
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
        key = (m.group(1), labels)
        assert key not in out, "duplicate series %r" % line
        out[key] = float(m.group(4))
        base = re.sub(r'_(bucket|sum|count)$', '', m.group(1))
        assert m.group(1) in typed or base in typed, "no TYPE for %s" % m.group(1)
    return out, text


def val(metrics, name, **labels):
    return metrics.get((name, frozenset(labels.items())), 0.0)


def test_metrics_are_valid_and_move(server):
    before, text = scrape(server)
    if shutil.which("promtool"):
        p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True,
                           timeout=30)
        assert p.returncode == 0, p.stdout + p.stderr

    async def go():
        ws, _ = await server.connect(user="m1")
        async with server.channel() as ch:
            stub = pbg.NotificationServiceStub(ch)
            await stub.SendSystemNotification(pb.SendSystemNotificationRequest(user_id="m1", message="x"),
                                              metadata=nd.bearer(SVC), timeout=nd.TIMEOUT)
            await stub.SendSystemNotification(pb.SendSystemNotificationRequest(user_id="gone", message="x"),
                                              metadata=nd.bearer(SVC), timeout=nd.TIMEOUT)
            with pytest.raises(grpc.aio.AioRpcError):
                await stub.GetStats(pb.GetStatsRequest(), timeout=nd.TIMEOUT)
        await recv(ws)
        nd.http(server, "GET", "/api/websocket/stats", headers={"Authorization": "Bearer " + SVC})
        nd.http(server, "GET", "/api/websocket/nope", headers={"Authorization": "Bearer " + SVC})
        after, _ = scrape(server)
        await ws.close()
        return after

    after = run(go())
    d = lambda name, **l: val(after, name, **l) - val(before, name, **l)
    assert val(after, "notifyd_connections") == 1 and val(after, "notifyd_users_online") == 1
    assert d("notifyd_messages_total", type="system_notification", outcome="delivered") == 1
    assert d("notifyd_messages_total", type="system_notification", outcome="stored") == 1
    assert d("notifyd_rpc_requests_total", method="SendSystemNotification", code="OK") == 2
    assert d("notifyd_rpc_requests_total", method="GetStats", code="UNAUTHENTICATED") == 1
    assert d("notifyd_rest_requests_total", route="/api/websocket/stats", status="200") == 1
    assert d("notifyd_rest_requests_total", route="other", status="404") == 1
    assert d("notifyd_delivery_latency_seconds_count") >= 1
    assert val(after, "notifyd_delivery_latency_seconds_bucket", le="+Inf") == \
        val(after, "notifyd_delivery_latency_seconds_count")
    assert d("notifyd_connections_opened_total") == 1
    assert d("notifyd_auth_failures_total") == 1
    assert val(after, "notifyd_build_info", version=after and next(
        dict(k[1])["version"] for k in after if k[0] == "notifyd_build_info")) == 1
    assert val(after, "process_resident_memory_bytes") > 1e6
    assert val(after, "notifyd_ready") == 1


def test_closes_and_refusals_are_counted():
    with nd.Server(args=["--max-conns-per-user", "1", "--heartbeat-interval-ms", "100",
                         "--heartbeat-timeout-ms", "300"]) as s:
        a = RawWS(s, user="one")
        b = RawWS(s, user="one")
        assert b.status == 429
        bad = RawWS(s, tok="nope")
        assert bad.status == 401
        a.wait_closed(timeout=5)  # silent: heartbeat timeout
        for _ in range(50):
            m, _ = scrape(s)
            if val(m, "notifyd_connections_closed_total", reason="heartbeat_timeout") == 1:
                break
            time.sleep(0.05)
        assert val(m, "notifyd_connections_closed_total", reason="heartbeat_timeout") == 1
        assert val(m, "notifyd_connections_refused_total", reason="user_limit") == 1
        assert val(m, "notifyd_connections_refused_total", reason="auth") == 1
        for c in (a, b, bad):
            c.close()


def test_health_check_and_watch_through_a_drain():
    s = nd.Server(args=["--drain-delay-ms", "1500"]).start()
    try:
        updates = {"": [], "notification.v1.NotificationService": [], "nope": []}
        done = {}
        ready = threading.Barrier(4, timeout=10)

        def watch(service):
            ch = grpc.insecure_channel("127.0.0.1:%d" % s.grpc_port)
            stub = nd.health_pb2_grpc.HealthStub(ch)
            try:
                stream = stub.Watch(nd.health_pb2.HealthCheckRequest(service=service), timeout=20)
                for i, r in enumerate(stream):
                    updates[service].append(r.status)
                    if i == 0:
                        ready.wait()
                done[service] = "ended"
            except grpc.RpcError as e:
                done[service] = e.code()
            finally:
                ch.close()

        threads = [threading.Thread(target=watch, args=(svc,)) for svc in updates]
        for t in threads:
            t.start()
        ready.wait()
        ws_client = RawWS(s)
        s.send_signal(signal.SIGTERM)
        saw_503 = False
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not saw_503:
            try:
                saw_503 = nd.http(s, "GET", "/readyz")[0] == 503
            except OSError:
                break
        for t in threads:
            t.join(20)
        H = nd.health_pb2.HealthCheckResponse
        assert updates[""][0] == H.SERVING and updates[""][-1] == H.NOT_SERVING
        assert updates["notification.v1.NotificationService"][0] == H.SERVING
        assert updates["notification.v1.NotificationService"][-1] == H.NOT_SERVING
        assert updates["nope"][0] == H.SERVICE_UNKNOWN
        assert done[""] == "ended" and done["notification.v1.NotificationService"] == "ended"
        assert saw_503
        assert ws_client.wait_closed(timeout=10)[0] == 1001  # after the delay
        ws_client.close()
        assert s.stop() == 0
    finally:
        s.close()


def test_watch_survives_client_cancel(server):
    ch = grpc.insecure_channel("127.0.0.1:%d" % server.grpc_port)
    stub = nd.health_pb2_grpc.HealthStub(ch)
    for _ in range(5):
        stream = stub.Watch(nd.health_pb2.HealthCheckRequest(service=""), timeout=10)
        assert next(stream).status == nd.health_pb2.HealthCheckResponse.SERVING
        stream.cancel()
    ch.close()
    # the server keeps serving and later stops cleanly (checked by the fixture)
    assert nd.http(server, "GET", "/healthz")[0] == 200


def test_logs_are_json_lines_without_tokens():
    with nd.Server(args=["--log-level", "debug"]) as s:
        tok_user = nd.token("loguser")

        async def go():
            ws, _ = await s.connect(tok=tok_user)
            async with s.channel() as ch:
                await pbg.NotificationServiceStub(ch).Broadcast(pb.BroadcastRequest(message="hi"),
                                                                metadata=nd.bearer(SVC), timeout=nd.TIMEOUT)
                with pytest.raises(grpc.aio.AioRpcError):
                    await pbg.NotificationServiceStub(ch).GetStats(pb.GetStatsRequest(),
                                                                   metadata=nd.bearer(SVC + "x"),
                                                                   timeout=nd.TIMEOUT)
            await recv(ws)
            await ws.close()
        run(go())
        nd.http(s, "POST", "/api/websocket/notification", {"user_id": "x", "message": "m"},
                headers={"Authorization": "Bearer " + SVC})
        s.stop()
        lines = s.text().splitlines()
        assert len(lines) > 5
        for line in lines:
            rec = json.loads(line)
            assert {"ts", "level", "msg"} <= set(rec), line
            assert rec["level"] in ("debug", "info", "warn", "error")
        text = s.text()
        for tok in (tok_user, SVC):
            for part in tok.split("."):
                assert part not in text
        msgs = [json.loads(l) for l in lines]
        assert any(m["msg"] == "rpc" and m.get("rpc") == "Broadcast" and "duration_ms" in m for m in msgs)
        assert any(m["msg"] == "audit" and m["op"] == "Broadcast" for m in msgs)
