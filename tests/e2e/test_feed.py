"""The notification feed (SPEC §7d) against the real notifyd: what goes in by
default and by the `feed` flag, ListFeed paging and filters, counts, MarkFeed
and its feed_update to every tab, the REST and /me routes with CORS,
feed_mark over the WebSocket, isolation between users, retention, kill -9
durability and the schema migrations from versions 2 and 3."""
import asyncio
import json
import os
import signal
import sqlite3
import time

import grpc
import pytest

import nd
from nd import nothing, pb, pbg, recv, recv_type, run

SVC = nd.token("backend", "service")
ORIGIN = "https://app.example"


@pytest.fixture(scope="module")
def server():
    with nd.Server(env={"NOTIFYD_ALLOWED_ORIGINS": ORIGIN}) as s:
        yield s


async def call(server, rpc, req, tok=SVC):
    async with server.channel() as ch:
        return await getattr(pbg.NotificationServiceStub(ch), rpc)(req, metadata=nd.bearer(tok),
                                                                   timeout=nd.TIMEOUT)


async def notice(server, user, text, **kw):
    return await call(server, "SendSystemNotification",
                      pb.SendSystemNotificationRequest(user_id=user, title="t", message=text, **kw))


async def listing(server, user, **kw):
    return await call(server, "ListFeed", pb.ListFeedRequest(user_id=user, **kw))


async def counts(server, user):
    c = await call(server, "GetFeedCounts", pb.GetFeedCountsRequest(user_id=user))
    return (c.total, c.unseen, c.unread)


async def mark(server, user, action, ids=(), all=False):
    return await call(server, "MarkFeed", pb.MarkFeedRequest(user_id=user, ids=list(ids), all=all, action=action))


def rest(server, method, path, body=None, tok=SVC, headers=None):
    h = {"authorization": "Bearer " + tok}
    h.update(headers or {})
    return nd.http(server, method, "/api/websocket" + path, body, headers=h)


def test_what_goes_in_by_default_and_by_the_flag(server):
    u = "fd-defaults"

    async def go():
        ws, _ = await server.connect(user=u)
        # the envelope says "feed": true when the item is kept, and so does the answer
        a = await notice(server, u, "kept")
        m = await recv(ws)
        assert m["feed"] is True and m["message_id"] == a.message_id and a.feed
        r = await call(server, "NotifyBatchGoProgress", pb.NotifyBatchGoProgressRequest(
            user_id=u, task=pb.TaskProgressData(task_id="t1", progress=5)))
        assert "feed" not in await recv(ws) and not r.feed
        done = await call(server, "NotifyBatchGoComplete", pb.NotifyBatchGoCompleteRequest(
            user_id=u, task=pb.TaskProgressData(task_id="t1", status="completed")))
        assert (await recv(ws))["feed"] is True and done.feed
        r = await notice(server, u, "not kept", feed=False)
        assert "feed" not in await recv(ws) and not r.feed
        prog = await call(server, "NotifyBatchGoProgress", pb.NotifyBatchGoProgressRequest(
            user_id=u, task=pb.TaskProgressData(task_id="t2"), feed=True))
        assert (await recv(ws))["feed"] is True and prog.feed
        r = await call(server, "Publish", pb.PublishRequest(type="my.event", data=b'{"x":1}', user_id=u))
        assert "feed" not in await recv(ws) and not r.feed
        pub = await call(server, "Publish", pb.PublishRequest(type="my.event", data=b'{"x":2}', user_id=u, feed=True))
        assert (await recv(ws))["feed"] is True and pub.feed
        r = await call(server, "SendTestMessage", pb.SendTestMessageRequest(user_id=u))
        assert "feed" not in await recv(ws) and not r.feed
        # a multicast counts the feeds it went to; REST answers say it too
        many = await call(server, "NotifyUsers", pb.NotifyUsersRequest(user_ids=["fd-m1", "fd-m2"], message="m"))
        assert many.feed_users == 2
        many = await call(server, "Publish", pb.PublishRequest(type="my.event", user_ids=["fd-m1", "fd-m2"], feed=True))
        assert many.feed and many.feed_users == 2
        many = await call(server, "Publish", pb.PublishRequest(type="my.event", user_ids=["fd-m1"]))
        assert not many.feed and many.feed_users == 0
        st, _, ans = rest(server, "POST", "/notification", {"user_id": "fd-m1", "message": "m"})
        assert st == 200 and ans["data"]["feed"] is True, ans
        st, _, ans = rest(server, "POST", "/notification", {"user_id": "fd-m1", "message": "m", "feed": False})
        assert st == 200 and ans["data"]["feed"] is False, ans
        got = await listing(server, u, filter=pb.FEED_FILTER_ALL)
        assert [i.id for i in got.items] == [pub.message_id, prog.message_id, done.message_id, a.message_id]
        top = got.items[0]
        assert top.type == "my.event" and json.loads(top.data) == {"x": 2}
        assert not top.seen and not top.read and not top.archived and top.timestamp > 0
        assert json.loads(got.items[3].data)["message"] == "kept"
        assert got.next_before == ""
        await ws.close()

    run(go())


def test_list_feed_over_grpc_and_rest_agree_item_for_item(server):
    """gRPC packs ListFeed straight from the kept envelopes (no JSON round trip); REST
    renders the same page as JSON: they agree on every field, escapes and priorities too."""
    u = "fd-agree"

    async def go():
        await call(server, "SendSystemNotification", pb.SendSystemNotificationRequest(
            user_id=u, title="t", message='quote " and \\ back', priority=pb.PRIORITY_HIGH, group='g"1\\é'))
        await call(server, "Publish", pb.PublishRequest(
            type="my.event", user_id=u, feed=True, data=b'{"n": 0.1, "s": "\\u00e9", "deep": {"a": [1, 2]}}'))
        await call(server, "SendSystemNotification", pb.SendSystemNotificationRequest(
            user_id=u, message="urgent", priority=pb.PRIORITY_URGENT))
        await notice(server, u, "plain")
        await mark(server, u, pb.FEED_ACTION_READ, ids=[(await listing(server, u)).items[0].id])
        got = await listing(server, u, filter=pb.FEED_FILTER_ALL, limit=3)
        st, _, ans = rest(server, "GET", "/feed/%s?filter=all&limit=3" % u)
        assert st == 200, ans
        items = ans["data"]["items"]
        assert [i.id for i in got.items] == [i["id"] for i in items] and len(items) == 3
        assert got.next_before == ans["data"]["next_before"] != ""
        for g, r in zip(got.items, items):
            assert g.type == r["type"] and json.loads(g.data) == r["data"] and g.timestamp == r["timestamp"]
            assert g.group == r.get("group", "")
            want = "PRIORITY_" + r["priority"].upper() if "priority" in r else "PRIORITY_UNSPECIFIED"
            assert pb.Priority.Name(g.priority) == want, (g, r)
            assert (g.seen, g.read, g.archived) == (r["seen"], r["read"], r["archived"])
        assert got.items[0].read and not got.items[1].read
        assert got.items[1].priority == pb.PRIORITY_URGENT
        assert json.loads(got.items[2].data) == {"n": 0.1, "s": "é", "deep": {"a": [1, 2]}}
        rest_page = (await listing(server, u, filter=pb.FEED_FILTER_ALL, before=got.next_before)).items
        assert len(rest_page) == 1 and rest_page[0].group == 'g"1\\é'
        assert json.loads(rest_page[0].data)["message"] == 'quote " and \\ back'
        assert rest_page[0].priority == pb.PRIORITY_HIGH

    run(go())


def test_a_broadcast_with_feed_is_one_item_in_every_feed_with_state_per_user():
    # its own server: a shared item is in every feed of it
    with nd.Server() as server:
        run(broadcast_items(server))


async def broadcast_items(server):
    plain = await call(server, "Broadcast", pb.BroadcastRequest(title="b", message="not kept"))
    shared = await call(server, "Broadcast", pb.BroadcastRequest(title="b", message="shared", feed=True))
    for u in ("fd-b1", "fd-b2"):
        ids = [i.id for i in (await listing(server, u)).items]
        assert shared.message_id in ids and plain.message_id not in ids
    await mark(server, "fd-b1", pb.FEED_ACTION_READ, ids=[shared.message_id])
    one = {i.id: i for i in (await listing(server, "fd-b1")).items}[shared.message_id]
    two = {i.id: i for i in (await listing(server, "fd-b2")).items}[shared.message_id]
    assert one.read and one.seen and not two.read and not two.seen


def test_paging_edges_and_filters(server):
    u = "fd-pages"

    async def go():
        ids = [(await notice(server, u, "n%d" % i)).message_id for i in range(7)]
        newest = list(reversed(ids))
        seen, before = [], ""
        for want in (3, 3, 1):
            page = await listing(server, u, limit=3, before=before)
            assert len(page.items) == want
            seen += [i.id for i in page.items]
            before = page.next_before
        assert seen == newest and before == ""
        # exactly one page: no cursor after it
        page = await listing(server, u, limit=7)
        assert len(page.items) == 7 and page.next_before == ""
        page = await listing(server, u, limit=6)
        assert page.next_before == newest[5]
        # before the oldest: nothing; 0 means the default page (20)
        assert list((await listing(server, u, before=ids[0])).items) == []
        assert len((await listing(server, u, limit=0)).items) == 7
        # filters
        await mark(server, u, pb.FEED_ACTION_READ, ids=newest[:2])
        await mark(server, u, pb.FEED_ACTION_ARCHIVE, ids=[newest[2]])
        unread = [i.id for i in (await listing(server, u, filter=pb.FEED_FILTER_UNREAD)).items]
        assert unread == newest[3:]
        assert [i.id for i in (await listing(server, u, filter=pb.FEED_FILTER_ARCHIVED)).items] == [newest[2]]
        assert [i.id for i in (await listing(server, u)).items] == newest[:2] + newest[3:]
        assert len((await listing(server, u, filter=pb.FEED_FILTER_ALL)).items) == 7
        # bad input names the field
        for req, field in ((pb.ListFeedRequest(user_id=u, limit=101), "limit"),
                           (pb.ListFeedRequest(user_id=u, before="nothex"), "before"),
                           (pb.ListFeedRequest(user_id=""), "user_id")):
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await call(server, "ListFeed", req)
            assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and field in e.value.details()

    run(go())


def test_counts_and_every_action(server):
    u = "fd-marks"

    async def go():
        ids = [(await notice(server, u, "m%d" % i)).message_id for i in range(4)]
        assert await counts(server, u) == (4, 4, 4)
        r = await mark(server, u, pb.FEED_ACTION_SEEN, ids=ids[:1])
        assert r.updated == 1 and (r.counts.total, r.counts.unseen, r.counts.unread) == (4, 3, 4)
        r = await mark(server, u, pb.FEED_ACTION_READ, ids=ids[:2])  # read implies seen
        assert r.updated == 2 and (r.counts.total, r.counts.unseen, r.counts.unread) == (4, 2, 2)
        r = await mark(server, u, pb.FEED_ACTION_READ, ids=ids[:2])
        assert r.updated == 0
        r = await mark(server, u, pb.FEED_ACTION_UNREAD, ids=ids[:1])
        assert r.updated == 1 and (r.counts.unseen, r.counts.unread) == (2, 3)
        r = await mark(server, u, pb.FEED_ACTION_ARCHIVE, ids=ids[3:])  # archived items are not counted
        assert (r.counts.total, r.counts.unseen, r.counts.unread) == (3, 1, 2)
        r = await mark(server, u, pb.FEED_ACTION_UNARCHIVE, ids=ids[3:])
        assert (r.counts.total, r.counts.unseen, r.counts.unread) == (4, 2, 3)
        r = await mark(server, u, pb.FEED_ACTION_READ, all=True)
        assert r.updated == 3 and (r.counts.total, r.counts.unseen, r.counts.unread) == (4, 0, 0)
        for req, field in ((pb.MarkFeedRequest(user_id=u, ids=ids), "action"),
                           (pb.MarkFeedRequest(user_id=u, action=pb.FEED_ACTION_READ), "ids"),
                           (pb.MarkFeedRequest(user_id=u, ids=ids, all=True, action=pb.FEED_ACTION_READ), "ids"),
                           (pb.MarkFeedRequest(user_id=u, ids=["zz"], action=pb.FEED_ACTION_READ), "ids[0]"),
                           (pb.MarkFeedRequest(user_id=u, ids=["0"] * 501, action=pb.FEED_ACTION_READ), "ids")):
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await call(server, "MarkFeed", req)
            assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and field in e.value.details()

    run(go())


def test_every_answered_change_is_in_the_next_read_while_others_write(server):
    """gRPC reads run on the store's read connection, beside nd-store's writes: an item answered
    OK is listed by the next ListFeed, a mark answered over REST is in the next GetFeedCounts,
    while another user's notifications keep nd-store writing."""
    u, other = "fd-next-read", "fd-next-read-other"

    async def flood(stop):
        n = 0
        while not stop.is_set() and n < 2000:
            await asyncio.gather(*(notice(server, other, "x%d" % (n + i)) for i in range(8)))
            n += 8
        return n

    async def go():
        stop = asyncio.Event()
        writer = asyncio.ensure_future(flood(stop))
        try:
            for i in range(40):
                mid = (await notice(server, u, "n%d" % i)).message_id
                page = await listing(server, u, limit=1)
                assert [it.id for it in page.items] == [mid]
                assert await counts(server, u) == (i + 1, 1, 1)  # the ones before are read
                st, _, body = await asyncio.get_running_loop().run_in_executor(
                    None, rest, server, "POST", "/feed/%s/mark" % u, {"ids": [mid], "action": "read"})
                assert st == 200 and body["data"]["updated"] == 1
                assert await counts(server, u) == (i + 1, 0, 0)
        finally:
            stop.set()
        assert await writer > 0

    run(go())


def test_read_state_across_two_tabs(server):
    u = "fd-tabs"

    async def go():
        one, _ = await server.connect(user=u)
        two, _ = await server.connect(user=u)
        a = await notice(server, u, "x")
        b = await notice(server, u, "y")
        for ws in (one, two):
            assert (await recv(ws))["message_id"] == a.message_id
            assert (await recv(ws))["message_id"] == b.message_id
        # a tab marks over its own socket: both tabs hear it, with the new counts
        await one.send(json.dumps({"type": "feed_mark", "data": {"ids": [a.message_id], "action": "read"}}))
        for ws in (one, two):
            up = await recv_type(ws, "feed_update")
            assert up["data"] == {"ids": [a.message_id], "action": "read",
                                  "counts": {"total": 2, "unseen": 1, "unread": 1}}
            assert up["user_id"] == u
        # a backend marks all seen: both tabs again
        await mark(server, u, pb.FEED_ACTION_SEEN, all=True)
        for ws in (one, two):
            up = await recv_type(ws, "feed_update")
            assert up["data"]["all"] is True and up["data"]["counts"] == {"total": 2, "unseen": 0, "unread": 1}
        # nothing changed: no update
        await mark(server, u, pb.FEED_ACTION_SEEN, all=True)
        await nothing(one, 0.3)
        # a bad feed_mark is an error to the tab that sent it only
        await two.send(json.dumps({"type": "feed_mark", "data": {"ids": [a.message_id]}}))
        err = await recv_type(two, "error")
        assert "action" in err["data"]["message"]
        await nothing(one, 0.2)
        await one.close()
        await two.close()

    run(go())


def test_isolation_between_users(server):
    async def go():
        mine = await notice(server, "fd-alice", "for alice")
        other = await notice(server, "fd-bob", "for bob")
        bob, _ = await server.connect(user="fd-bob")
        # bob's socket cannot name alice, and marking alice's id changes nothing of anyone's
        await bob.send(json.dumps({"type": "feed_mark", "data": {"user_id": "fd-alice", "all": True,
                                                                 "action": "read"}}))
        assert (await recv_type(bob, "error"))["data"]["code"] == "feed_mark_failed"
        await bob.send(json.dumps({"type": "feed_mark", "data": {"ids": [mine.message_id], "action": "read"}}))
        await nothing(bob, 0.3)
        assert await counts(server, "fd-alice") == (1, 1, 1)
        assert [i.id for i in (await listing(server, "fd-bob")).items] == [other.message_id]
        # a user's token: its own feed over /me, never another's
        tok = nd.token("fd-bob")
        st, _, body = rest(server, "GET", "/me/feed", tok=tok)
        assert st == 200 and [i["id"] for i in body["data"]["items"]] == [other.message_id]
        st, _, body = rest(server, "GET", "/feed/fd-alice", tok=tok)
        assert st == 403
        st, _, body = rest(server, "POST", "/me/feed/mark", {"user_id": "fd-alice", "all": True, "action": "read"},
                           tok=tok)
        assert st == 400 and "user_id" in body["message"]
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await call(server, "ListFeed", pb.ListFeedRequest(user_id="fd-alice"), tok=tok)
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert await counts(server, "fd-alice") == (1, 1, 1)
        await bob.close()

    run(go())


def test_rest_routes_and_me_with_cors(server):
    u = "fd-rest"

    async def go():
        return [(await notice(server, u, "r%d" % i)).message_id for i in range(3)]

    ids = run(go())
    st, _, body = rest(server, "GET", "/feed/%s?limit=2&filter=inbox" % u)
    assert st == 200 and body["code"] == 0
    page = body["data"]
    assert [i["id"] for i in page["items"]] == [ids[2], ids[1]] and page["next_before"] == ids[1]
    item = page["items"][0]
    assert item["type"] == "system_notification" and item["data"]["message"] == "r2"
    assert item["seen"] is False and item["read"] is False and item["archived"] is False
    st, _, body = rest(server, "GET", "/feed/%s?before=%s" % (u, page["next_before"]))
    assert [i["id"] for i in body["data"]["items"]] == [ids[0]] and body["data"]["next_before"] == ""
    st, _, body = rest(server, "GET", "/feed/%s?limit=500" % u)
    assert st == 400 and "limit" in body["message"]
    st, _, body = rest(server, "GET", "/feed/%s?filter=bogus" % u)
    assert st == 400 and "filter" in body["message"]
    st, _, body = rest(server, "GET", "/feed/%s/counts" % u)
    assert st == 200 and body["data"] == {"total": 3, "unseen": 3, "unread": 3}
    st, _, body = rest(server, "POST", "/feed/%s/mark" % u, {"ids": [ids[0]], "action": "archive"})
    assert st == 200 and body["data"] == {"updated": 1, "counts": {"total": 2, "unseen": 2, "unread": 2}}
    st, _, body = rest(server, "GET", "/feed/%s?filter=archived" % u)
    assert [i["id"] for i in body["data"]["items"]] == [ids[0]] and body["data"]["items"][0]["archived"]
    # the browser's own routes, from an allowed Origin
    tok = nd.token(u)
    st, h, body = rest(server, "GET", "/me/feed/counts", tok=tok, headers={"origin": ORIGIN})
    assert st == 200 and body["data"]["total"] == 2 and h["access-control-allow-origin"] == ORIGIN
    st, h, body = rest(server, "POST", "/me/feed/mark", {"all": True, "action": "read"}, tok=tok,
                       headers={"origin": ORIGIN})
    assert st == 200 and body["data"]["counts"] == {"total": 2, "unseen": 0, "unread": 0}
    assert h["access-control-allow-origin"] == ORIGIN
    st, h, _ = nd.http(server, "OPTIONS", "/api/websocket/me/feed/mark",
                       headers={"origin": ORIGIN, "access-control-request-method": "POST",
                                "access-control-request-headers": "authorization, content-type"})
    assert st == 204 and h["access-control-allow-origin"] == ORIGIN
    assert "POST" in h["access-control-allow-methods"] and "authorization" in h["access-control-allow-headers"]
    st, h, body = rest(server, "GET", "/me/feed", tok=tok, headers={"origin": "https://evil.example"})
    assert st == 403 and "access-control-allow-origin" not in h and "Origin" in body["message"]
    st, _, body = nd.http(server, "GET", "/api/websocket/me/feed")
    assert st == 401
    # the backend routes still need a backend's role
    st, _, _ = rest(server, "GET", "/feed/%s/counts" % u, tok=tok)
    assert st == 403


def test_retention_by_count_and_by_age():
    with nd.Server(env={"NOTIFYD_FEED_MAX_PER_USER": "5", "NOTIFYD_FEED_TTL": "2s"}) as s:
        async def go():
            ids = [(await notice(s, "fd-keep", "k%d" % i)).message_id for i in range(8)]
            got = [i.id for i in (await listing(s, "fd-keep")).items]
            assert got == list(reversed(ids))[:5]
            assert await counts(s, "fd-keep") == (5, 5, 5)
            await asyncio.sleep(2.3)
            assert list((await listing(s, "fd-keep")).items) == []
            assert await counts(s, "fd-keep") == (0, 0, 0)

        run(go())


def test_items_answered_ok_survive_kill_9():
    s = nd.Server()
    s.start()
    data_dir = s.data_dir
    try:
        async def write():
            ids = []
            for i in range(30):
                ids.append((await notice(s, "fd-durable", "d%d" % i)).message_id)
            shared = await call(s, "Broadcast", pb.BroadcastRequest(title="b", message="all", feed=True))
            r = await mark(s, "fd-durable", pb.FEED_ACTION_READ, ids=ids[:10])
            assert r.updated == 10
            r = await mark(s, "fd-durable", pb.FEED_ACTION_ARCHIVE, ids=[shared.message_id])
            assert r.updated == 1
            return ids, shared.message_id

        ids, shared = run(write())
        s.proc.send_signal(signal.SIGKILL)
        s.proc.wait(10)
        s.proc = None
        again = nd.Server(data_dir=data_dir)
        again.start()
        try:
            async def read():
                got = await listing(again, "fd-durable", filter=pb.FEED_FILTER_ALL, limit=100)
                by = {i.id: i for i in got.items}
                assert set(ids) | {shared} == set(by)
                assert all(by[i].read for i in ids[:10]) and not any(by[i].read for i in ids[10:])
                assert by[shared].archived
                assert await counts(again, "fd-durable") == (30, 20, 20)
                # the user was away: each item waited with its message (one row for both);
                # delivered now, each message leaves the queue and its item stays as it was
                ws, _ = await again.connect(user="fd-durable")
                sent = [await recv(ws) for _ in ids]
                assert [m["message_id"] for m in sent] == ids and all(m.get("feed") is True for m in sent)
                db = sqlite3.connect("file:%s?mode=ro" % os.path.join(data_dir, "messages.db"), uri=True)
                for _ in range(100):
                    if db.execute("SELECT COUNT(*) FROM offline").fetchone()[0] == 0:
                        break
                    await asyncio.sleep(0.05)
                assert db.execute("SELECT COUNT(*) FROM offline").fetchone()[0] == 0
                assert db.execute("SELECT COUNT(*) FROM feed WHERE user_id = 'fd-durable'").fetchone()[0] == 30
                db.close()
                after = await listing(again, "fd-durable", filter=pb.FEED_FILTER_ALL, limit=100)
                assert [(i.id, i.read, i.archived, i.data) for i in after.items] == [
                    (i.id, i.read, i.archived, i.data) for i in got.items]
                assert await counts(again, "fd-durable") == (30, 20, 20)
                await ws.close()

            run(read())
        finally:
            again.close()
    finally:
        s.close()


def test_a_version_2_store_is_migrated_and_keeps_its_messages():
    """A messages.db made by the schema before the feed (version 2) opens,
    keeps its offline messages and templates, and gains the feed."""
    s = nd.Server()
    os.makedirs(s.data_dir, exist_ok=True)
    db = sqlite3.connect(os.path.join(s.data_dir, "messages.db"))
    # version 1 and 2 exactly as store.c creates them
    db.executescript(
        "CREATE TABLE IF NOT EXISTS offline (user_id TEXT NOT NULL, id INTEGER NOT NULL,"
        " expires_at INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (user_id, id)) WITHOUT ROWID;"
        "CREATE INDEX IF NOT EXISTS offline_expiry ON offline (expires_at);"
        "PRAGMA user_version = 1;"
        "CREATE TABLE IF NOT EXISTS templates (id TEXT PRIMARY KEY, body TEXT NOT NULL);"
        "PRAGMA user_version = 2;")
    now = int(time.time() * 1000)
    mid = (now << 16) | 1
    hexid = "%016x" % mid
    body = json.dumps({"type": "system_notification", "user_id": "fd-old", "data": {"message": "from v2"},
                       "timestamp": now, "message_id": hexid})
    db.execute("INSERT INTO offline VALUES (?, ?, ?, ?)", ("fd-old", mid, now + 3600_000, body))
    db.commit()
    db.close()
    s.start()
    try:
        async def go():
            ws, hello = await s.connect(user="fd-old")
            m = await recv(ws)
            assert m["message_id"] == hexid and m["data"]["message"] == "from v2"
            await ws.close()
            a = await notice(s, "fd-old", "new")
            assert [i.id for i in (await listing(s, "fd-old")).items] == [a.message_id]

        run(go())
        v = sqlite3.connect(os.path.join(s.data_dir, "messages.db")).execute("PRAGMA user_version").fetchone()[0]
        assert v == 5
    finally:
        s.close()


# version 3 exactly as store.c and store_feed.c created it (before the feed_id index was dropped)
V3_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS offline (user_id TEXT NOT NULL, id INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (user_id, id)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS offline_expiry ON offline (expires_at);"
    "PRAGMA user_version = 1;"
    "CREATE TABLE IF NOT EXISTS templates (id TEXT PRIMARY KEY, body TEXT NOT NULL);"
    "PRAGMA user_version = 2;"
    "CREATE TABLE IF NOT EXISTS feed (user_id TEXT NOT NULL, id INTEGER NOT NULL,"
    " flags INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (user_id, id)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS feed_id ON feed (id);"
    "CREATE TABLE IF NOT EXISTS feed_body (id INTEGER PRIMARY KEY, body TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS feed_state (user_id TEXT NOT NULL, id INTEGER NOT NULL,"
    " flags INTEGER NOT NULL, PRIMARY KEY (user_id, id)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS feed_state_id ON feed_state (id);"
    "CREATE TRIGGER IF NOT EXISTS feed_gone AFTER DELETE ON feed BEGIN"
    " DELETE FROM feed_body WHERE id = old.id;"
    " DELETE FROM feed_state WHERE id = old.id AND old.user_id = '';"
    " END;"
    "PRAGMA user_version = 3;")


def test_a_version_3_store_is_migrated_with_every_item_and_its_state():
    """A messages.db of schema version 3 (with the feed_id index) opens as
    version 4 without it; every item of every feed is there with its state,
    the shared one's per user; marks and the bound work on it afterwards."""
    s = nd.Server()
    os.makedirs(s.data_dir, exist_ok=True)
    db = sqlite3.connect(os.path.join(s.data_dir, "messages.db"))
    db.executescript(V3_SCHEMA)
    now = int(time.time() * 1000)
    # (owner, flags): own items of fd-v3a in every state, one of fd-v3b, a shared one
    rows = [("fd-v3a", 0), ("fd-v3a", 1), ("fd-v3a", 3), ("fd-v3a", 7), ("fd-v3b", 3), ("", 0)]
    ids = []
    for n, (owner, flags) in enumerate(rows):
        mid = ((now - 60000 + n) << 16) | n
        ids.append(mid)
        body = json.dumps({"type": "system_notification", "user_id": owner, "data": {"n": n},
                           "timestamp": now, "message_id": "%016x" % mid})
        db.execute("INSERT INTO feed VALUES (?, ?, ?)", (owner, mid, flags))
        db.execute("INSERT INTO feed_body VALUES (?, ?)", (mid, body))
    db.execute("INSERT INTO feed_state VALUES ('fd-v3b', ?, 7)", (ids[5],))  # fd-v3b archived it
    db.commit()
    db.close()
    hexid = ["%016x" % i for i in ids]
    s.start()
    try:
        async def go():
            a = await listing(s, "fd-v3a", filter=pb.FEED_FILTER_ALL)
            assert [i.id for i in a.items] == [hexid[5], hexid[3], hexid[2], hexid[1], hexid[0]]
            assert [(i.seen, i.read, i.archived) for i in a.items] == [
                (False, False, False), (True, True, True), (True, True, False), (True, False, False),
                (False, False, False)]
            assert [json.loads(i.data)["n"] for i in a.items] == [5, 3, 2, 1, 0]
            assert await counts(s, "fd-v3a") == (4, 2, 3)
            b = await listing(s, "fd-v3b", filter=pb.FEED_FILTER_ALL)
            assert [(i.id, i.seen, i.read, i.archived) for i in b.items] == [
                (hexid[5], True, True, True), (hexid[4], True, True, False)]
            assert await counts(s, "fd-v3b") == (1, 0, 0)
            r = await mark(s, "fd-v3a", pb.FEED_ACTION_READ, ids=[hexid[0]])
            assert r.updated == 1 and (r.counts.total, r.counts.unseen, r.counts.unread) == (4, 1, 2)
            new = await notice(s, "fd-v3a", "after", feed=True)
            a = await listing(s, "fd-v3a", filter=pb.FEED_FILTER_ALL)
            assert [i.id for i in a.items][:2] == [new.message_id, hexid[5]]

        run(go())
        db = sqlite3.connect(os.path.join(s.data_dir, "messages.db"))
        assert db.execute("PRAGMA user_version").fetchone()[0] == 5
        assert db.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'feed_id'").fetchone()[0] == 0
        db.close()
    finally:
        s.close()
