"""Several WebSocket threads (NOTIFYD_WS_THREADS, SPEC §9): the threads exist
and take WebSockets in turn; a user whose tabs sit on different threads gets
every message once and in order, and the RPC answer counts every thread's
connections; broadcasts, the per-user limit, DisconnectUser, stats, acks,
stored messages and /metrics span the threads. The whole suite also runs
with 1 and 2 threads (scripts/test.sh)."""
import asyncio
import os

import pytest
import websockets

import nd
from nd import pb, pbg, recv, recv_type, run

SVC = nd.token("backend", "service")
ADMIN = nd.token("ops", "admin")
THREADS = 3


@pytest.fixture(scope="module")
def server():
    with nd.Server(env={"NOTIFYD_WS_THREADS": str(THREADS), "NOTIFYD_MAX_CONNS_PER_USER": "7"}) as s:
        yield s


def thread_names(server):
    task = "/proc/%d/task" % server.proc.pid
    names = []
    for t in os.listdir(task):
        try:
            with open(os.path.join(task, t, "comm")) as f:
                names.append(f.read().strip())
        except OSError:
            pass  # gone meanwhile
    return sorted(n for n in names if n.startswith("nd-ws"))


def per_thread(server):
    m = nd.metrics(server)
    return {"nd-ws%s" % ("" if k == 0 else k):
            nd.metric(m, "notifyd_ws_thread_connections", thread="nd-ws%s" % ("" if k == 0 else k))
            for k in range(THREADS)}


async def notify(server, user, text):
    async with server.channel() as ch:
        return await pbg.NotificationServiceStub(ch).SendSystemNotification(
            pb.SendSystemNotificationRequest(user_id=user, message=text), metadata=nd.bearer(SVC),
            timeout=nd.TIMEOUT)


def test_the_threads_run_and_take_websockets_in_turn(server):
    assert thread_names(server) == ["nd-ws", "nd-ws1", "nd-ws2"]

    async def go():
        before = per_thread(server)
        tabs = [(await server.connect(user="t-spread"))[0] for _ in range(2 * THREADS)]
        after = per_thread(server)
        assert sum(after.values()) - sum(before.values()) == 2 * THREADS
        assert all(after[k] - before[k] == 2 for k in after), (before, after)  # in turn
        for ws in tabs:
            await ws.close()
        await nd.offline(server, "t-spread")

    run(go())


def test_a_users_tabs_on_every_thread_get_every_message_once_in_order(server):
    async def go():
        tabs = [(await server.connect(user="t-order"))[0] for _ in range(THREADS + 1)]
        other, _ = await server.connect(user="t-other")
        n = 200
        answers = await asyncio.gather(*[notify(server, "t-order", "m%d" % i) for i in range(n)])
        assert all(a.connections == THREADS + 1 for a in answers)
        ids = sorted(a.message_id for a in answers)
        for ws in tabs:
            got = [await recv_type(ws, "system_notification") for _ in range(n)]
            assert [m["message_id"] for m in got] == ids  # every one, once, in id order
        await nd.nothing(other, 0.2)
        for ws in tabs + [other]:
            await ws.close()

    run(go())


def test_broadcast_counts_and_reaches_every_thread(server):
    async def go():
        tabs = [(await server.connect(user="t-b%d" % i))[0] for i in range(2 * THREADS)]
        async with server.channel() as ch:
            stats = await pbg.NotificationServiceStub(ch).GetStats(pb.GetStatsRequest(), metadata=nd.bearer(SVC),
                                                                   timeout=nd.TIMEOUT)
            assert stats.total_connections == 2 * THREADS
            assert list(stats.connected_users) == sorted("t-b%d" % i for i in range(2 * THREADS))
            r = await pbg.NotificationServiceStub(ch).Broadcast(
                pb.BroadcastRequest(message="to all"), metadata=nd.bearer(SVC), timeout=nd.TIMEOUT)
        assert r.connections == 2 * THREADS
        for ws in tabs:
            assert (await recv_type(ws, "system_notification"))["message_id"] == r.message_id
        for ws in tabs:
            await ws.close()
        for i in range(2 * THREADS):
            await nd.offline(server, "t-b%d" % i)

    run(go())


def test_the_per_user_limit_counts_every_thread(server):
    async def go():
        tabs = [(await server.connect(user="t-limit"))[0] for _ in range(7)]
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as e:
            await server.connect(user="t-limit")
        assert e.value.status_code == 429
        await tabs.pop().close()
        await wait_conns(server, "t-limit", 6)
        tabs.append((await server.connect(user="t-limit"))[0])
        for ws in tabs:
            await ws.close()
        await nd.offline(server, "t-limit")

    run(go())


async def wait_conns(server, user, n):
    for _ in range(250):
        async with server.channel() as ch:
            r = await pbg.NotificationServiceStub(ch).IsUserOnline(pb.IsUserOnlineRequest(user_id=user),
                                                                   metadata=nd.bearer(SVC), timeout=nd.TIMEOUT)
        if r.connections == n:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("%s never had %d connections" % (user, n))


def test_disconnect_user_closes_tabs_on_every_thread(server):
    async def go():
        tabs = [(await server.connect(user="t-disc"))[0] for _ in range(THREADS)]
        async with server.channel() as ch:
            r = await pbg.NotificationServiceStub(ch).DisconnectUser(
                pb.DisconnectUserRequest(user_id="t-disc", reason="bye"), metadata=nd.bearer(ADMIN),
                timeout=nd.TIMEOUT)
        assert r.closed == THREADS
        for ws in tabs:
            with pytest.raises(websockets.exceptions.ConnectionClosed):
                while True:
                    await recv(ws)
            assert ws.close_code == 4004
        await nd.offline(server, "t-disc")
        # offline now: an important message is kept, and comes on the next connect
        stored = await notify(server, "t-disc", "kept")
        assert stored.stored
        ws, _ = await server.connect(user="t-disc")
        assert (await recv_type(ws, "system_notification"))["message_id"] == stored.message_id
        await ws.close()

    run(go())


def test_acks_and_resume_on_other_threads(server):
    async def go():
        # a tab in ack mode on each thread: a stored message is forgotten once acked, wherever
        tabs = [(await server.connect(user="t-ack", query="&ack=1"))[0] for _ in range(THREADS)]
        answers = [await notify(server, "t-ack", "a%d" % i) for i in range(3)]
        for ws in tabs:
            for a in answers:
                m = await recv_type(ws, "system_notification")
                assert m["message_id"] == a.message_id
                await ws.send('{"type":"ack","data":{"message_id":"%s"}}' % m["message_id"])
        nd.acks_seen(server, 3 * THREADS)
        for ws in tabs:
            await ws.close()
        await nd.offline(server, "t-ack")
        # resume with ?since= on whichever thread: the history after it
        again, hello = await server.connect(user="t-ack", query="&since=" + answers[0].message_id)
        assert hello["data"]["recovered"] is True
        got = [await recv_type(again, "system_notification") for _ in range(2)]
        assert [m["message_id"] for m in got] == [a.message_id for a in answers[1:]]
        await again.close()

    run(go())


def test_a_stalled_threads_backlog_is_bounded():
    """Back-pressure on the hub's hand-over (issue 17): the hub answers a call once it has
    handed the delivery to the other threads, so a thread that stops draining must not let
    its queue grow without end. With nd-ws1 stalled (the test fault), notifications to a user
    with a tab there are accepted until NOTIFYD_MAX_PENDING_CALLS wait for it, then refused
    RESOURCE_EXHAUSTED over gRPC and 503 over REST, naming the thread; /metrics shows the
    backlog; reads still answer; the tab on nd-ws got every accepted message."""
    import signal
    import grpc
    import rawhttp as rh
    bound = 25
    env = {"NOTIFYD_WS_THREADS": "2", "NOTIFYD_TEST_FAULTS": "1", "NOTIFYD_TEST_FAULT_WS": "1",
           "NOTIFYD_WATCHDOG_MS": "1000", "NOTIFYD_MAX_PENDING_CALLS": str(bound)}
    s = nd.Server(env=env).start()
    try:
        async def go():
            tabs = [(await s.connect(user="t-bp"))[0] for _ in range(2)]  # one on each thread
            per = nd.metrics(s)
            assert [nd.metric(per, "notifyd_ws_thread_connections", thread=t)
                    for t in ("nd-ws", "nd-ws1")] == [1, 1]
            s.proc.send_signal(signal.SIGUSR1)  # nd-ws1 stops at its next turn
            s.wait_log(lambda r: r.get("msg") == "thread stalled" and r.get("thread") == "nd-ws1",
                       timeout=10)
            accepted, refused = [], None
            for i in range(bound + 5):  # bounded: the bound plus the one the thread ran
                try:
                    a = await notify(s, "t-bp", "m%d" % i)
                    accepted.append(a.message_id)
                except grpc.aio.AioRpcError as e:
                    refused = e
                    break
            assert refused is not None, "still accepted after %d calls" % len(accepted)
            assert refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert refused.details() == ("server busy: WebSocket thread nd-ws1 has %d deliveries "
                                         "waiting; try again shortly" % bound), refused.details()
            assert bound <= len(accepted) <= bound + 1
            m = nd.metrics(s)
            assert nd.metric(m, "notifyd_ws_thread_backlog", thread="nd-ws1") == bound
            assert nd.metric(m, "notifyd_api_busy_total") >= 1
            # REST: the same refusal, as 503, for a user with no tab on nd-ws1 too (the
            # instance as a whole is behind)
            st, _, body = nd.http(s, "POST", "/api/websocket/notification",
                               body={"user_id": "t-elsewhere", "message": "x"},
                               headers={"Authorization": "Bearer " + SVC})
            assert st == 503 and "nd-ws1 has %d deliveries waiting" % bound in body["message"], body
            # reads answer
            async with s.channel() as ch:
                stats = await pbg.NotificationServiceStub(ch).GetStats(
                    pb.GetStatsRequest(), metadata=nd.bearer(SVC), timeout=nd.TIMEOUT)
            assert stats.total_connections == 2
            # the tab on the hub got every accepted message, in order
            got = [await recv_type(tabs[0], "system_notification") for _ in accepted]
            assert [g["message_id"] for g in got] == accepted
            rh.kill(s)
        run(go())
    finally:
        rh.kill(s)


def test_default_is_one_thread_per_core():
    with nd.Server(env={"NOTIFYD_WS_THREADS": "0"}) as s:
        cores = len(os.sched_getaffinity(s.proc.pid))
        assert len(thread_names(s)) == min(cores, 64)


def test_a_bad_thread_count_is_refused():
    import subprocess
    r = subprocess.run([nd.BIN, "--ws-threads", "65"], capture_output=True, text=True, timeout=30,
                       env={"NOTIFYD_JWT_SECRET": nd.SECRET, "PATH": os.environ.get("PATH", "")})
    assert r.returncode != 0 and "--ws-threads: 65 is out of range (0 to 64)" in r.stderr


def test_tls_spreads_every_connection_and_answers_rest_and_metrics_from_any_thread(tmp_path):
    """With TLS the edge cannot see an upgrade: every connection goes to the threads in
    turn, so REST calls and /metrics reach nd-ws1 and nd-ws2 too and must be answered
    (from the hub's data) as on nd-ws; WebSockets over wss on every thread get their
    messages."""
    import http.client
    import json
    import ssl
    import subprocess
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=60)
    ctx = ssl.create_default_context(cafile=cert)
    with nd.Server(args=["--tls-cert-file", cert, "--tls-key-file", key],
                   env={"NOTIFYD_WS_THREADS": str(THREADS)}) as s:
        def https(method, path, body=None, tok=SVC):
            c = http.client.HTTPSConnection("127.0.0.1", s.http_port, context=ctx, timeout=nd.TIMEOUT)
            try:
                c.request(method, path, body=json.dumps(body) if body is not None else None,
                          headers={"Authorization": "Bearer " + tok, "Content-Type": "application/json"})
                r = c.getresponse()
                return r.status, r.getheader("content-type"), r.read().decode()
            finally:
                c.close()

        async def go():
            url = "wss://127.0.0.1:%d/ws?token=%s" % (s.http_port, nd.token("tls-t"))
            tabs = []
            for _ in range(THREADS):
                ws = await websockets.connect(url, ssl=ctx, open_timeout=nd.TIMEOUT)
                assert json.loads(await ws.recv())["type"] == "connected"
                tabs.append(ws)
            # 2 x THREADS REST calls: each thread answers at least one
            for i in range(2 * THREADS):
                st, _, body = https("POST", "/api/websocket/notification",
                                    {"user_id": "tls-t", "title": "t", "message": "m%d" % i})
                assert st == 200, body
                assert json.loads(body)["data"]["connections"] == THREADS
                st, _, body = https("GET", "/api/websocket/stats")
                assert st == 200 and json.loads(body)["data"]["total_connections"] == THREADS, body
            for ws in tabs:
                got = [(await recv_type(ws, "system_notification"))["data"]["message"]
                       for _ in range(2 * THREADS)]
                assert got == ["m%d" % i for i in range(2 * THREADS)]
            # /metrics from every thread: the same counts, Prometheus text
            for _ in range(THREADS):
                st, ctype, text = https("GET", "/metrics")
                assert st == 200 and ctype.startswith("text/plain; version=0.0.4"), (st, ctype)
                assert "notifyd_connections %d" % THREADS in text
                for k in range(THREADS):
                    assert 'notifyd_ws_thread_connections{thread="nd-ws%s"} 1' % (k or "") in text
            # an error answered by another thread keeps its shape
            st, _, body = https("POST", "/api/websocket/notification", {"user_id": "tls-t"})
            assert st == 400 and json.loads(body)["code"] == 400
            for ws in tabs:
                await ws.close()

        run(go())
