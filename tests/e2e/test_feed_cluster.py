"""The notification feed scaled out: two notifyd instances and a real
redis-server agree on every feed -- items kept through either, read state
marked on one seen on the other, feed_update to the user's tabs on every
instance, shared broadcast items, paging, retention, and items answered OK
surviving an instance's kill -9 and Redis's restart."""
import asyncio
import contextlib
import json
import signal

import grpc
import pytest

import nd
from nd import nothing, pb, pbg, recv, recv_type, run
from test_cluster import REDIS, Redis

SVC = nd.token("backend", "service")
pytestmark = pytest.mark.skipif(not REDIS, reason="redis-server is not installed (scripts/deps.sh test)")


@pytest.fixture
def pair():
    r = Redis().start()
    nodes = []
    try:
        for _ in range(2):
            nodes.append(nd.Server(env={"NOTIFYD_REDIS_URL": r.url, "NOTIFYD_FEED_MAX_PER_USER": "6"}).start())
        for n in nodes:
            n.wait_log(lambda x: x.get("msg") == "redis connected")
        yield r, nodes
    finally:
        with contextlib.ExitStack() as stack:
            stack.callback(r.stop)
            for n in nodes:
                stack.callback(n.close)


async def call(node, rpc, req, tok=SVC):
    async with node.channel() as ch:
        return await getattr(pbg.NotificationServiceStub(ch), rpc)(req, metadata=nd.bearer(tok), timeout=nd.TIMEOUT)


async def notice(node, user, text, **kw):
    return await call(node, "SendSystemNotification",
                      pb.SendSystemNotificationRequest(user_id=user, title="t", message=text, **kw))


async def listing(node, user, **kw):
    return await call(node, "ListFeed", pb.ListFeedRequest(user_id=user, **kw))


async def counts(node, user):
    c = await call(node, "GetFeedCounts", pb.GetFeedCountsRequest(user_id=user))
    return (c.total, c.unseen, c.unread)


async def settle(node, total):
    for _ in range(200):
        s = await call(node, "GetStats", pb.GetStatsRequest())
        if s.total_connections == total:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("presence did not settle")


def test_read_state_and_feed_update_across_instances(pair):
    _, (a, b) = pair

    async def go():
        on_a, _ = await a.connect(user="fc-u")
        on_b, _ = await b.connect(user="fc-u")
        await settle(a, 2)
        one = await notice(a, "fc-u", "first")
        two = await notice(b, "fc-u", "second")
        for ws in (on_a, on_b):
            m1, m2 = await recv(ws), await recv(ws)
            assert m1["feed"] is True and m1["message_id"] == one.message_id
            assert m2["message_id"] == two.message_id
        # both instances list the same feed, newest first
        for n in (a, b):
            assert [i.id for i in (await listing(n, "fc-u")).items] == [two.message_id, one.message_id]
        # a tab on b marks over its socket: the tab on a hears it too
        await on_b.send(json.dumps({"type": "feed_mark", "data": {"ids": [one.message_id], "action": "read"}}))
        for ws in (on_a, on_b):
            up = await recv_type(ws, "feed_update")
            assert up["data"] == {"ids": [one.message_id], "action": "read",
                                  "counts": {"total": 2, "unseen": 1, "unread": 1}}
        assert await counts(a, "fc-u") == (2, 1, 1)
        item = {i.id: i for i in (await listing(a, "fc-u")).items}[one.message_id]
        assert item.read and item.seen
        # a backend marks through a: both tabs again
        r = await call(a, "MarkFeed", pb.MarkFeedRequest(user_id="fc-u", all=True, action=pb.FEED_ACTION_ARCHIVE))
        assert r.updated == 2 and (r.counts.total, r.counts.unseen, r.counts.unread) == (0, 0, 0)
        for ws in (on_a, on_b):
            up = await recv_type(ws, "feed_update")
            assert up["data"]["all"] is True and up["data"]["counts"] == {"total": 0, "unseen": 0, "unread": 0}
        archived = await listing(b, "fc-u", filter=pb.FEED_FILTER_ARCHIVED)
        assert [i.id for i in archived.items] == [two.message_id, one.message_id]
        assert all(i.archived for i in archived.items)
        # another user sees none of it, and marking those ids changes nothing of theirs
        other = await notice(b, "fc-v", "v's")
        r = await call(b, "MarkFeed", pb.MarkFeedRequest(user_id="fc-v", ids=[one.message_id],
                                                         action=pb.FEED_ACTION_READ))
        assert r.updated == 0
        assert [i.id for i in (await listing(a, "fc-v")).items] == [other.message_id]
        await nothing(on_a, 0.2)
        await on_a.close()
        await on_b.close()

    run(go())


def test_shared_items_paging_retention_and_rest(pair):
    _, (a, b) = pair

    async def go():
        shared = await call(a, "Broadcast", pb.BroadcastRequest(title="b", message="all", feed=True))
        plain = await call(a, "Broadcast", pb.BroadcastRequest(title="b", message="not kept"))
        for u in ("fc-p", "fc-q"):
            ids = [i.id for i in (await listing(b, u)).items]
            assert ids == [shared.message_id]
        await call(b, "MarkFeed", pb.MarkFeedRequest(user_id="fc-p", ids=[shared.message_id],
                                                     action=pb.FEED_ACTION_SEEN))
        assert await counts(a, "fc-p") == (1, 0, 1)
        assert await counts(a, "fc-q") == (1, 1, 1)
        # NOTIFYD_FEED_MAX_PER_USER=6: the window is the newest 6, own and shared
        mine = [(await notice(a if i % 2 else b, "fc-p", "p%d" % i)).message_id for i in range(7)]
        newest = list(reversed(mine))
        got, before = [], ""
        for want in (4, 2):
            page = await listing(b, "fc-p", limit=4, before=before)
            assert len(page.items) == want
            got += [i.id for i in page.items]
            before = page.next_before
        assert got == newest[:6] and before == ""
        assert plain.message_id not in got
        return newest

    newest = run(go())
    st, _, body = nd.http(b, "GET", "/api/websocket/feed/fc-p/counts", headers={"authorization": "Bearer " + SVC})
    assert st == 200 and body["data"] == {"total": 6, "unseen": 6, "unread": 6}
    tok = nd.token("fc-p")
    st, _, body = nd.http(a, "POST", "/api/websocket/me/feed/mark", {"ids": newest[:2], "action": "read"},
                          headers={"authorization": "Bearer " + tok})
    assert st == 200 and body["data"] == {"updated": 2, "counts": {"total": 6, "unseen": 4, "unread": 4}}
    st, _, body = nd.http(b, "GET", "/api/websocket/me/feed?filter=unread&limit=10",
                          headers={"authorization": "Bearer " + tok})
    assert st == 200 and [i["id"] for i in body["data"]["items"]] == newest[2:6]


def test_items_answered_ok_survive_kill_9_and_a_redis_restart(pair):
    redis, (a, b) = pair

    async def write():
        ids = [(await notice(a, "fc-d", "d%d" % i)).message_id for i in range(5)]
        r = await call(a, "MarkFeed", pb.MarkFeedRequest(user_id="fc-d", ids=ids[:2], action=pb.FEED_ACTION_READ))
        assert r.updated == 2
        return ids

    ids = run(write())
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait(10)
    a.proc = None
    mark = b.log_mark()
    redis.kill()
    redis.start()
    b.wait_log(lambda x: x.get("msg") == "redis connected", timeout=20, since=mark)

    async def read():
        for _ in range(100):
            try:
                got = await listing(b, "fc-d", limit=10)
                break
            except grpc.aio.AioRpcError as e:
                assert e.code() == grpc.StatusCode.UNAVAILABLE
                await asyncio.sleep(0.1)
        assert [i.id for i in got.items] == list(reversed(ids))
        assert [i.read for i in got.items] == [False, False, False, True, True]
        assert await counts(b, "fc-d") == (5, 3, 3)

    run(read())
