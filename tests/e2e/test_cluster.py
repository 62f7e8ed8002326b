"""Scale-out: three notifyd instances and a real redis-server behave as one.
Routing, broadcast, cluster-wide stats, offline messages and resume across
instances, Redis killed and restarted, an instance killed with -9."""
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import grpc
import pytest
import websockets

import nd
from nd import pb, pbg, recv, nothing, run

SVC = nd.token("backend", "service")
REDIS = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(not REDIS, reason="redis-server is not installed (scripts/deps.sh test)")


class Redis:
    """A redis-server of our own on a free loopback port, persisting (AOF, fsync always)."""

    def __init__(self, password=None):
        self.password = password
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.dir = tempfile.mkdtemp(prefix="notifyd-redis-")
        self.proc = None

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def start(self):
        # the free port found in __init__ may be taken meanwhile by a test running in parallel:
        # redis-server then exits at once; before its first start it may move to another port
        for _ in range(5):
            self.proc = subprocess.Popen([REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
                                          self.dir, "--appendonly", "yes", "--appendfsync", "always", "--save", ""]
                                         + (["--requirepass", self.password] if self.password else []),
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    self.started = True
                    return self
                except OSError:
                    time.sleep(0.05)
            if self.proc.poll() is None or getattr(self, "started", False):
                break
            s = socket.socket()  # it could not bind: another port
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
            s.close()
        raise AssertionError("redis-server did not start")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster():
    r = Redis().start()
    nodes = []
    try:
        for _ in range(3):
            nodes.append(nd.Server(env={"NOTIFYD_REDIS_URL": r.url}).start())
        for n in nodes:
            n.wait_log(lambda x: x.get("msg") == "redis connected")
        yield r, nodes
    finally:
        # every node is stopped even when one of them fails its own check
        with contextlib.ExitStack() as stack:
            stack.callback(r.stop)
            for n in nodes:
                stack.callback(n.close)


async def notify(node, user, text, rpc="SendSystemNotification"):
    async with node.channel() as ch:
        stub = pbg.NotificationServiceStub(ch)
        if rpc == "Broadcast":
            return await stub.Broadcast(pb.BroadcastRequest(message=text), metadata=nd.bearer(SVC), timeout=nd.TIMEOUT)
        if rpc == "progress":
            return await stub.NotifyBatchGoProgress(
                pb.NotifyBatchGoProgressRequest(user_id=user, task=pb.TaskProgressData(task_id=text)),
                metadata=nd.bearer(SVC), timeout=nd.TIMEOUT)
        return await stub.SendSystemNotification(pb.SendSystemNotificationRequest(user_id=user, message=text),
                                                 metadata=nd.bearer(SVC), timeout=nd.TIMEOUT)


async def stats(node):
    async with node.channel() as ch:
        return await pbg.NotificationServiceStub(ch).GetStats(pb.GetStatsRequest(), metadata=nd.bearer(SVC),
                                                              timeout=nd.TIMEOUT)


async def settle(node, total, timeout=10):
    """Waits until the cluster counts @total connections (presence is asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        s = await stats(node)
        if s.total_connections == total or time.monotonic() > deadline:
            return s
        await asyncio.sleep(0.05)


def test_a_call_to_one_instance_reaches_the_user_everywhere(cluster):
    _, (a, b, c) = cluster

    async def go():
        tabs = [(await b.connect(user="alice"))[0], (await c.connect(user="alice"))[0],
                (await c.connect(user="alice"))[0]]
        other, _ = await a.connect(user="bob")
        await settle(a, 4)
        r = await notify(a, "alice", "hello")
        assert r.connections == 3 and not r.stored
        for ws in tabs:
            m = await recv(ws)
            assert m["message_id"] == r.message_id and m["data"]["message"] == "hello"
            await nothing(ws, 0.1)
        await nothing(other, 0.2)
        for ws in tabs + [other]:
            await ws.close()

    run(go())


def test_broadcast_reaches_every_instance_once(cluster):
    _, nodes = cluster

    async def go():
        socks = [(await n.connect(user="u%d" % i))[0] for i, n in enumerate(nodes)]
        await settle(nodes[0], 3)
        r = await notify(nodes[1], "", "all", rpc="Broadcast")
        assert r.connections == 3
        for ws in socks:
            m = await recv(ws)
            assert m["type"] == "system_notification" and "user_id" not in m and m["message_id"] == r.message_id
            await nothing(ws, 0.2)  # once, not once per instance
            await ws.close()

    run(go())


def test_stats_and_online_are_cluster_wide(cluster):
    _, (a, b, c) = cluster

    async def go():
        socks = [(await a.connect(user="x"))[0], (await b.connect(user="y"))[0], (await c.connect(user="y"))[0]]
        for n in (a, b, c):
            s = await settle(n, 3)
            assert s.total_connections == 3 and list(s.connected_users) == ["x", "y"] and s.online_users == 2
        async with c.channel() as ch:
            on = await pbg.NotificationServiceStub(ch).IsUserOnline(pb.IsUserOnlineRequest(user_id="y"),
                                                                    metadata=nd.bearer(SVC), timeout=nd.TIMEOUT)
            assert on.is_online and on.connections == 2
        st, _, body = nd.http(b, "GET", "/api/websocket/user/x/online", headers={"Authorization": "Bearer " + SVC})
        assert body["data"] == {"user_id": "x", "is_online": True, "connections": 1}
        for ws in socks:
            await ws.close()
        s = await settle(a, 0)
        assert s.total_connections == 0 and list(s.connected_users) == []

    run(go())


def test_ids_rise_whichever_instance_accepts(cluster):
    _, nodes = cluster

    async def go():
        ws, _ = await nodes[2].connect(user="order")
        await settle(nodes[0], 1)
        sent = [(await notify(nodes[i % 3], "order", "m%d" % i)).message_id for i in range(15)]
        got = [(await recv(ws))["message_id"] for _ in sent]
        assert got == sent and sent == sorted(sent) and len(set(sent)) == 15
        await ws.close()

    run(go())


def offline_drained(redis, user):
    """Waits until Redis holds no offline message for @user (forgetting one is asynchronous)."""
    nd.until(lambda: redis_command(redis, "XLEN", "notifyd:o:" + user) == b":0\r\n",
             what="the offline stream of %s empty" % user)


def test_offline_message_via_a_arrives_on_connect_to_c(cluster):
    redis, (a, b, c) = cluster

    async def go():
        r = await notify(a, "away", "kept")
        assert r.stored and r.connections == 0
        p = await notify(a, "away", "t1", rpc="progress")
        assert not p.stored
        ws, _ = await c.connect(user="away")
        m = await recv(ws)
        assert m["message_id"] == r.message_id and m["data"]["message"] == "kept"
        await nothing(ws, 0.3)
        await ws.close()
        offline_drained(redis, "away")  # written: Redis forgot its copy
        ws, _ = await b.connect(user="away")  # delivered once: not again elsewhere
        await nothing(ws, 0.3)
        await ws.close()

    run(go())


def test_resume_across_instances(cluster):
    _, (a, b, c) = cluster

    async def go():
        ws, _ = await a.connect(user="roam")
        await settle(b, 1)
        first = await notify(b, "roam", "seen")
        last = (await recv(ws))["message_id"]
        assert last == first.message_id
        await ws.close()
        await settle(b, 0)
        missed = [await notify(b, "roam", "m1"), await notify(c, "roam", "t", rpc="progress"),
                  await notify(a, "", "b1", rpc="Broadcast")]
        ws, hello = await c.connect(user="roam", query="&since=" + last)
        assert hello["data"]["recovered"] is True
        got = [(await recv(ws))["message_id"] for _ in missed]
        assert got == [r.message_id for r in missed]
        await nothing(ws, 0.3)
        await ws.close()

    run(go())


def test_ack_mode_across_instances(cluster):
    redis, (a, b, _) = cluster

    async def go():
        ws, _ = await a.connect(user="acker", query="&ack=1")
        await settle(b, 1)
        r = await notify(b, "acker", "needs ack")
        assert r.stored and r.connections == 1  # only an ack-mode tab: kept until acked
        assert (await recv(ws))["message_id"] == r.message_id
        await ws.close()
        ws, _ = await b.connect(user="acker", query="&ack=1")
        m = await recv(ws)
        assert m["message_id"] == r.message_id  # not acked: again
        await ws.send('{"type":"ack","data":{"message_id":"%s"}}' % m["message_id"])
        offline_drained(redis, "acker")  # the ack reached Redis
        await ws.close()
        ws, _ = await a.connect(user="acker", query="&ack=1")
        await nothing(ws, 0.3)
        await ws.close()

    run(go())


def test_a_users_backlog_is_counted_from_redis_on_any_instance(cluster):
    """GetBacklog reads the user's offline stream: the same on every instance, without
    expired entries, emptied by the acks of any instance."""
    redis, (a, b, c) = cluster

    async def go():
        none = await call(b, "GetBacklog", pb.GetBacklogRequest(user_id="owed"))
        assert (none.user_id, none.messages, none.oldest_message_id, none.newest_message_id) == ("owed", 0, "", "")
        first = await notify(a, "owed", "one")
        last = await notify(b, "owed", "two")
        await call(c, "Publish", pb.PublishRequest(type="flash", user_id="owed", store=pb.STORE_ALWAYS, ttl_ms=200))
        await notify(a, "owed", "t1", rpc="progress")  # live only: not kept
        for n in (a, b, c):
            r = await call(n, "GetBacklog", pb.GetBacklogRequest(user_id="owed"))
            assert r.messages == 3
        await asyncio.sleep(0.4)  # the flash's 200 ms are over: not counted, though still in the stream
        st, _, resp = nd.http(c, "GET", "/api/websocket/user/owed/backlog", headers={"Authorization": "Bearer " + SVC})
        assert st == 200 and resp["data"] == {"user_id": "owed", "messages": 2, "oldest_message_id": first.message_id,
                                              "newest_message_id": last.message_id}
        ws, _ = await c.connect(user="owed", query="&ack=1")
        for _ in range(2):
            m = await recv(ws)
            await ws.send('{"type":"ack","data":{"message_id":"%s"}}' % m["message_id"])
        nd.until(lambda: redis_command(redis, "XLEN", "notifyd:o:owed") == b":1\r\n",
                 what="the acks to reach Redis")  # the expired flash stays until trimmed
        r = await call(a, "GetBacklog", pb.GetBacklogRequest(user_id="owed"))
        assert (r.messages, r.oldest_message_id, r.newest_message_id) == (0, "", "")
        await ws.close()

    run(go())


def test_redis_down_keeps_local_delivery_and_loses_nothing_stored(cluster):
    redis, (a, b, c) = cluster

    async def go():
        local, _ = await a.connect(user="near")
        await settle(a, 1)
        kept = await notify(a, "later", "stored before the outage")
        assert kept.stored
        marks = {n: n.log_mark() for n in (a, b, c)}  # "redis connected" again comes after these
        redis.kill()
        a.wait_log(lambda x: x.get("msg", "").startswith("redis connection lost"))
        for n in (a, b, c):
            for _ in range(100):
                if nd.http(n, "GET", "/readyz")[0] == 503:
                    break
                await asyncio.sleep(0.05)
            st, _, body = nd.http(n, "GET", "/readyz")
            assert st == 503 and body["status"] == "redis unreachable"
        # local delivery goes on; nothing can be kept meanwhile, and the answer says so
        r = await notify(a, "near", "during")
        assert r.connections == 1 and not r.stored
        assert not r.feed  # a system notification's feed item is in Redis too: not kept, and said so
        assert (await recv(local))["data"]["message"] == "during"
        r = await notify(a, "later", "not kept")
        assert not r.stored and r.connections == 0
        # what is kept is in Redis: a backlog cannot be counted meanwhile, and the answer says so
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await call(b, "GetBacklog", pb.GetBacklogRequest(user_id="later"))
        assert e.value.code() == grpc.StatusCode.UNAVAILABLE and "redis" in e.value.details()
        redis.start()
        for n in (a, b, c):
            n.wait_log(lambda x: x.get("msg") == "redis connected", timeout=20, since=marks[n])
            for _ in range(100):
                if nd.http(n, "GET", "/readyz")[0] == 200:
                    break
                await asyncio.sleep(0.05)
            assert nd.http(n, "GET", "/readyz")[0] == 200
        # presence came back with the connection; the cluster works again
        s = await settle(c, 1)
        assert list(s.connected_users) == ["near"]
        r = await notify(c, "near", "after")
        assert r.connections == 1 and r.feed
        assert (await recv(local))["data"]["message"] == "after"
        # what was acknowledged as stored survived Redis's restart
        bl = await call(c, "GetBacklog", pb.GetBacklogRequest(user_id="later"))
        assert (bl.messages, bl.oldest_message_id, bl.newest_message_id) == (1, kept.message_id, kept.message_id)
        ws, _ = await b.connect(user="later")
        m = await recv(ws)
        assert m["message_id"] == kept.message_id
        await nothing(ws, 0.3)
        await ws.close()
        await local.close()

    run(go())


def test_an_instance_killed_with_9_leaves_presence_in_time(cluster):
    _, (a, b, c) = cluster

    async def go():
        ws, _ = await c.connect(user="doomed")
        s = await settle(a, 1)
        assert list(s.connected_users) == ["doomed"]
        c.send_signal(signal.SIGKILL)
        c.proc.wait(10)
        c.proc = None
        t0 = time.monotonic()
        s = await settle(a, 0, timeout=20)
        assert s.total_connections == 0 and list(s.connected_users) == []
        assert time.monotonic() - t0 < 15
        r = await notify(a, "doomed", "gone")
        assert r.stored  # nobody connected anywhere now: kept

    run(go())


def test_bad_redis_url_is_one_line():
    r = subprocess.run([nd.BIN, "--redis-url", "rediss://secure:6380", "--grpc-addr", "127.0.0.1:0",
                        "--http-addr", "127.0.0.1:0", "--data-dir", tempfile.mkdtemp()],
                       env=dict(os.environ, NOTIFYD_JWT_SECRET=nd.SECRET), capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 1 and "redis://" in r.stderr and "TLS" in r.stderr


def test_the_password_in_the_url_is_percent_decoded_and_never_shown():
    """redis://:p%40ss...@host: a password with @ : / % space reaches AUTH decoded."""
    from urllib.parse import quote
    password = "p@ss:w/rd%x y"
    r = Redis(password=password).start()
    try:
        url = "redis://:%s@127.0.0.1:%d/0" % (quote(password, safe=""), r.port)
        with nd.Server(env={"NOTIFYD_REDIS_URL": url}) as s:
            s.wait_log(lambda x: x.get("msg") == "redis connected")

            async def go():
                async with s.channel() as ch:
                    rep = await pbg.NotificationServiceStub(ch).SendSystemNotification(
                        pb.SendSystemNotificationRequest(user_id="pw-away", message="kept"),
                        metadata=nd.bearer(SVC), timeout=nd.TIMEOUT)
                    assert rep.stored
            run(go())
        for bad in ("redis://:p%%zzss@127.0.0.1:%d/0" % r.port, "redis://:p%%00ss@127.0.0.1:%d/0" % r.port,
                    "redis://:secret-pw@:%d/0" % r.port):
            p = subprocess.run([nd.BIN, "--redis-url", bad, "--grpc-addr", "127.0.0.1:0", "--http-addr",
                                "127.0.0.1:0", "--data-dir", tempfile.mkdtemp()],
                               env=dict(os.environ, NOTIFYD_JWT_SECRET=nd.SECRET), capture_output=True,
                               text=True, timeout=30)
            assert p.returncode == 1 and "NOTIFYD_REDIS_URL" in p.stderr, p.stderr
            assert "p%zzss" not in p.stderr and "secret-pw" not in p.stderr, p.stderr
    finally:
        r.stop()


def test_unreachable_redis_at_start_is_not_ready_then_recovers():
    r = Redis()
    with nd.Server(env={"NOTIFYD_REDIS_URL": r.url}) as s:
        assert nd.http(s, "GET", "/readyz")[0] == 503
        assert nd.http(s, "GET", "/healthz")[0] == 200  # alive all the same
        r.start()
        try:
            s.wait_log(lambda x: x.get("msg") == "redis connected", timeout=20)
            assert nd.http(s, "GET", "/readyz")[0] == 200
        finally:
            r.stop()


ADMIN = nd.token("ops", "admin")


async def call(node, name, req, tok=SVC):
    async with node.channel() as ch:
        return await getattr(pbg.NotificationServiceStub(ch), name)(req, metadata=nd.bearer(tok),
                                                                    timeout=nd.TIMEOUT)


async def template_on(node, tid, timeout=10):
    """The template as @node sees it, once it has it (changes travel through Redis)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return (await call(node, "GetTemplate", pb.GetTemplateRequest(id=tid), ADMIN)).template
        except grpc.aio.AioRpcError as e:
            if e.code() != grpc.StatusCode.NOT_FOUND or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.05)


def test_templates_multicast_and_priority_across_instances(cluster):
    redis, (a, b, c) = cluster

    async def go():
        # a template put on one instance is there on every other, and renders there
        r = await call(a, "PutTemplate", pb.PutTemplateRequest(template=pb.Template(
            id="hello", title="Hi {{user_id}}", message="{{what}} for {{user_id}}")), ADMIN)
        assert r.created
        for n in (b, c):
            assert (await template_on(n, "hello")).message == "{{what}} for {{user_id}}"
        # a multicast from c reaches users connected to a and b, each with its own id and text
        wa, _ = await a.connect(user="xa")
        wb, _ = await b.connect(user="xb")
        await settle(c, 2)
        r = await call(c, "NotifyUsers", pb.NotifyUsersRequest(
            user_ids=["xa", "xb", "xoff"], template_id="hello", params={"what": "news"},
            priority=pb.PRIORITY_HIGH, group="g"))
        assert r.users == 3 and r.reached == 2 and r.stored == 1 and len(set(r.message_ids)) == 3
        ma, mb = await recv(wa), await recv(wb)
        assert (ma["message_id"], ma["data"]["message"]) == (r.message_ids[0], "news for xa")
        assert (mb["message_id"], mb["data"]["message"]) == (r.message_ids[1], "news for xb")
        assert ma["priority"] == "high" and mb["group"] == "g"
        off, _ = await a.connect(user="xoff")
        m = await recv(off)
        assert m["message_id"] == r.message_ids[2] and m["data"]["title"] == "Hi xoff"
        # urgent survives the hop between instances (and is kept for the offline, whatever its type)
        r = await call(b, "NotifyBatchGoProgress", pb.NotifyBatchGoProgressRequest(
            user_id="xgone", task=pb.TaskProgressData(task_id="t"), priority=pb.PRIORITY_URGENT))
        assert r.stored
        await call(b, "NotifyBatchGoProgress", pb.NotifyBatchGoProgressRequest(
            user_id="xa", task=pb.TaskProgressData(task_id="t"), priority=pb.PRIORITY_URGENT))
        assert (await recv(wa))["priority"] == "urgent"
        # a change and a delete reach every instance; the deleted one is gone everywhere
        await call(b, "PutTemplate", pb.PutTemplateRequest(template=pb.Template(
            id="hello", message="v2 {{user_id}}")), ADMIN)
        await call(b, "PutTemplate", pb.PutTemplateRequest(template=pb.Template(id="bye", message="bye")), ADMIN)
        for n in (a, c):
            assert (await template_on(n, "bye")).message == "bye"
            assert (await template_on(n, "hello")).message == "v2 {{user_id}}"
        await call(c, "DeleteTemplate", pb.DeleteTemplateRequest(id="bye"), ADMIN)
        for n in (a, b):
            deadline = time.monotonic() + 10
            while True:
                ids = [t.id for t in (await call(n, "ListTemplates", pb.ListTemplatesRequest(), ADMIN)).templates]
                if ids == ["hello"] or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
            assert ids == ["hello"]
        for ws in (wa, wb, off):
            await ws.close()

    run(go())
    # a new instance loads the templates from Redis when it connects
    with nd.Server(env={"NOTIFYD_REDIS_URL": redis.url}) as d:
        d.wait_log(lambda x: x.get("msg") == "redis connected")
        assert run(template_on(d, "hello")).message == "v2 {{user_id}}"
    # with Redis gone, templates cannot change (and say why), but the known ones still render
    redis.kill()
    a.wait_log(lambda x: x.get("msg", "").startswith("redis connection lost"))

    async def down():
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await call(a, "PutTemplate", pb.PutTemplateRequest(template=pb.Template(id="z", message="z")), ADMIN)
        assert e.value.code() == grpc.StatusCode.UNAVAILABLE and "redis" in e.value.details()
        ws, _ = await a.connect(user="xlocal")
        await call(a, "SendSystemNotification", pb.SendSystemNotificationRequest(user_id="xlocal", template_id="hello"))
        assert (await recv(ws))["data"]["message"] == "v2 xlocal"
        await ws.close()

    run(down())


def redis_command(redis, *words):
    """One command to the test's redis-server over a plain socket (RESP); the raw reply."""
    payload = "*%d\r\n" % len(words) + "".join("$%d\r\n%s\r\n" % (len(w.encode()), w) for w in words)
    with socket.create_connection(("127.0.0.1", redis.port), timeout=5) as s:
        s.sendall(payload.encode())
        return s.recv(4096)


def test_scripts_go_by_sha_and_survive_a_script_flush(cluster):
    redis, (a, b, c) = cluster
    # loaded at connect: notifyd sends EVALSHA, never the whole script each time
    assert redis_command(redis, "INFO", "commandstats").count(b"cmdstat_evalsha") == 1

    async def go():
        ws, _ = await b.connect(user="f1")
        await settle(a, 1)
        assert (await notify(a, "f1", "before")).connections == 1
        assert (await recv(ws))["data"]["message"] == "before"
        # Redis forgets every script (an operator's SCRIPT FLUSH, a failover to a fresh replica)
        assert redis_command(redis, "SCRIPT", "FLUSH") == b"+OK\r\n"
        r = await notify(a, "f1", "after")  # NOSCRIPT -> sent whole, once, and it works
        assert r.connections == 1
        assert (await recv(ws))["data"]["message"] == "after"
        assert (await notify(a, "f1", "again")).connections == 1
        assert (await recv(ws))["data"]["message"] == "again"
        assert (await stats(c)).total_connections == 1
        await ws.close()

    run(go())
    assert not [x for n in (a, b, c) for x in n.records() if x.get("msg") == "redis command failed"]


def test_latency_through_redis_counts_from_the_accept(cluster):
    """A delivery that crossed Redis is timed from when the accepting instance took it:
    every one in a finite bucket, and the sum is the deliveries' time, not the host's uptime."""
    _, (a, b, _) = cluster
    n = 5

    async def go():
        far, _ = await b.connect(user="lat-far")  # accepted on a, written by b
        near, _ = await a.connect(user="lat-near")  # accepted on a, back to a through the channel
        await settle(a, 2)
        for i in range(n):
            await notify(a, "lat-far", "f%d" % i)
            await notify(a, "lat-near", "n%d" % i)
        for ws in (far, near):
            for i in range(n):
                assert (await recv(ws))["data"]["message"][1:] == str(i)
            await ws.close()

    run(go())
    for node in (a, b):
        m = nd.until(lambda: (lambda x: x if nd.metric(x, "notifyd_delivery_latency_seconds_count") >= n
                              else None)(nd.metrics(node)), what="latency counted")
        count = nd.metric(m, "notifyd_delivery_latency_seconds_count")
        assert count == n
        assert nd.metric(m, "notifyd_delivery_latency_seconds_bucket", le="+Inf") == count
        assert nd.metric(m, "notifyd_delivery_latency_seconds_bucket", le="5") == count
        assert nd.metric(m, "notifyd_delivery_latency_seconds_sum") < n * 1.0


def channel_line(user, text, head="10 0 0", tail=""):
    """A message as an instance puts it on the channel (cluster/wire.h), with a fresh id."""
    msgid = "%012x%04x" % (int(time.time() * 1000), 1)
    env = '{"type":"system_notification","user_id":"%s","data":{"message":"%s"},"timestamp":%d,' \
          '"message_id":"%s"}' % (user, text, int(time.time() * 1000), msgid)
    return "%s %s %s%s\n%s" % (msgid, head, user, tail, env)


def test_the_channel_reads_v1_lines_and_skips_unknown_operations(cluster):
    """Mixed versions in a rolling deploy: a line as notifyd 0.1 wrote it (the operation as a
    number) is delivered; an operation named by a newer version that this one does not know is
    skipped -- not delivered as something else -- and said once per instance."""
    redis, nodes = cluster

    async def go():
        ws, _ = await nodes[1].connect(user="mixed")
        await settle(nodes[0], 1)
        assert redis_command(redis, "PUBLISH", "notifyd:messages", channel_line("mixed", "from v1")) == b":3\r\n"
        m = await recv(ws)
        assert m["data"]["message"] == "from v1" and m["type"] == "system_notification"
        for i in range(2):
            redis_command(redis, "PUBLISH", "notifyd:messages",
                          channel_line("mixed", "future %d" % i, head="-1 0 0", tail=" op=NotifyFromTheFuture at=1"))
        redis_command(redis, "PUBLISH", "notifyd:messages",
                      channel_line("mixed", "named", head="-1 0 0", tail=" op=SendSystemNotification x=y"))
        assert (await recv(ws))["data"]["message"] == "named"  # the two before it were skipped
        await nothing(ws, 0.1)
        await ws.close()

    run(go())
    for n in nodes:
        said = lambda: [x for x in n.records() if x.get("op") == "NotifyFromTheFuture"]
        nd.until(said, what="the unknown operation logged")
        assert len(said()) == 1


async def farewell(ws):
    """The messages until the close; the last must be `disconnected`: returns it."""
    seen = []
    with pytest.raises(websockets.exceptions.ConnectionClosed):
        while True:
            seen.append(await recv(ws))
    assert seen and seen[-1]["type"] == "disconnected", seen
    return seen[-1]


def test_disconnect_user_closes_the_user_on_every_instance(cluster):
    """DisconnectUser on one instance reaches the user's tabs on the others through Redis
    (an operation on the channel, not a message: no id, history or offline copy)."""
    redis, (a, b, c) = cluster

    async def go():
        tabs = [(await b.connect(user="gone"))[0], (await c.connect(user="gone"))[0],
                (await c.connect(user="gone"))[0]]
        other, _ = await c.connect(user="stays")
        await settle(a, 4)
        r = await call(a, "DisconnectUser", pb.DisconnectUserRequest(user_id="gone", reason="bye"), tok=ADMIN)
        assert (r.user_id, r.closed) == ("gone", 3)
        for ws in tabs:
            m = await farewell(ws)
            assert m["data"] == {"code": 4004, "reason": "bye", "reconnect": False}
            assert (ws.close_code, ws.close_reason) == (4004, "bye")
        await settle(a, 1)
        n = await notify(b, "stays", "still here")
        assert n.connections == 1 and (await recv(other))["data"]["message"] == "still here"
        # a reconnecting tab does not get the disconnect again: it was never kept
        ws, hello = await b.connect(user="gone", query="&since=" + "0" * 15 + "1")
        await nothing(ws, 0.3)
        await ws.close()
        await other.close()
        # REST on another instance, reconnect passed on
        again, _ = await a.connect(user="gone")
        await settle(c, 1)
        st, _, ans = nd.http(c, "POST", "/api/websocket/user/gone/disconnect", {"reconnect": True},
                             headers={"authorization": "Bearer " + ADMIN})
        assert st == 200 and ans["data"] == {"user_id": "gone", "closed": 1}, ans
        assert (await farewell(again))["data"]["reconnect"] is True

    run(go())
    assert redis_command(redis, "EXISTS", "notifyd:h:gone") == b":0\r\n"  # not in any history


def test_publish_and_its_ttl_across_instances(cluster):
    """Publish through Redis: delivered elsewhere as written; a kept copy waits its own
    ttl_ms in the offline stream (its expiry is stored with it), not the offline TTL."""
    _, (a, b, c) = cluster

    async def go():
        ws, _ = await b.connect(user="pub")
        await settle(a, 1)
        data = b'{"price": 0.1, "n": 123456789012345678901234567890}'
        r = await call(a, "Publish", pb.PublishRequest(type="order.paid", user_id="pub", data=data))
        assert r.connections == 1
        text = await asyncio.wait_for(ws.recv(), nd.TIMEOUT)
        assert '"type":"order.paid"' in text and ('"data":' + data.decode() + ",") in text
        await ws.close()
        await settle(a, 0)
        brief = await call(a, "Publish", pb.PublishRequest(type="flash", user_id="pub", store=pb.STORE_ALWAYS,
                                                           ttl_ms=300))
        kept = await call(c, "Publish", pb.PublishRequest(type="flash", user_id="pub", store=pb.STORE_ALWAYS))
        assert brief.stored and kept.stored
        await asyncio.sleep(0.6)  # past the 300 ms
        ws, _ = await b.connect(user="pub")
        assert (await recv(ws))["message_id"] == kept.message_id
        await nothing(ws, 0.3)
        await ws.close()

    run(go())


OLD_BIN = os.environ.get("NOTIFYD_OLD_BIN")


@pytest.mark.skipif(not OLD_BIN, reason="NOTIFYD_OLD_BIN (a build of the previous version) not given")
def test_a_rolling_deploy_mixes_versions():
    """An instance of the previous version and one of this version share a Redis: each
    delivers what the other accepted, with its type, id and priority intact."""
    r = Redis().start()
    env = {"NOTIFYD_REDIS_URL": r.url}
    with contextlib.ExitStack() as stack:
        stack.callback(r.stop)
        old = stack.enter_context(nd.Server(env=env, bin=OLD_BIN))
        new = stack.enter_context(nd.Server(env=env))
        for n in (old, new):
            n.wait_log(lambda x: x.get("msg") == "redis connected")

        async def go():
            on_old, _ = await old.connect(user="o")
            on_new, _ = await new.connect(user="n")
            await settle(new, 2)
            for src, user, ws in ((new, "o", on_old), (old, "n", on_new)):
                sent = await notify(src, user, "hello " + user)
                m = await recv(ws)
                assert (m["type"], m["message_id"], m["data"]["message"]) == \
                    ("system_notification", sent.message_id, "hello " + user)
                await call(src, "NotifyBatchGoProgress", pb.NotifyBatchGoProgressRequest(
                    user_id=user, task=pb.TaskProgressData(task_id="t"), priority=pb.PRIORITY_URGENT))
                m = await recv(ws)
                assert m["type"] == "batchgo_progress" and m["priority"] == "urgent"
            r2 = await call(new, "NotifyUsers", pb.NotifyUsersRequest(user_ids=["o", "n"], message="both"))
            assert [(await recv(ws))["message_id"] for ws in (on_old, on_new)] == list(r2.message_ids)
            for ws in (on_old, on_new):
                await ws.close()

        run(go())
        m = nd.metrics(new)
        assert nd.metric(m, "notifyd_delivery_latency_seconds_bucket", le="5") == \
            nd.metric(m, "notifyd_delivery_latency_seconds_count") > 0
        assert not [x for x in new.records() + old.records() if "unreadable" in x.get("msg", "")]
