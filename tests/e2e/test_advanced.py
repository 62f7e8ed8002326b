"""SPEC §7b end to end: multicast (NotifyUsers, REST user_ids), priority,
templates (gRPC and REST, persisted), grouping and batch frames -- real gRPC
and WebSocket clients against the real binary."""
import asyncio
import json

import grpc
import pytest

import nd
from nd import pb, pbg, recv, nothing, run, RawWS

SERVICE = nd.token("backend", "service")
ADMIN = nd.token("ops", "admin")


def rest(server, method, path, body=None, tok=ADMIN):
    return nd.http(server, method, "/api/websocket" + path, body,
                   headers={"Authorization": "Bearer " + tok})


async def rpc(server, name, req, tok=ADMIN):
    async with server.channel() as ch:
        return await getattr(pbg.NotificationServiceStub(ch), name)(
            req, metadata=nd.bearer(tok), timeout=nd.TIMEOUT)


async def rpc_error(server, name, req, tok=ADMIN):
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await rpc(server, name, req, tok)
    return e.value.code(), e.value.details()


# --- multicast ---

def test_multicast_to_500_users_reaches_exactly_them_with_distinct_ids():
    with nd.Server(args=["--max-connections", "2000"]) as s:
        async def go():
            users = ["m%03d" % i for i in range(500)]
            online = users[::2]  # every other recipient is connected; the rest are offline
            bystander, _ = await s.connect(user="not-listed")
            conns = {}
            for u in online:
                conns[u], _ = await s.connect(user=u)
            r = await rpc(s, "NotifyUsers", pb.NotifyUsersRequest(
                user_ids=users + users[:3],  # repeats count once
                title="Maintenance", message="tonight at 22:00", level=pb.LEVEL_WARNING),
                tok=SERVICE)
            assert r.users == 500 and len(r.message_ids) == 500
            assert len(set(r.message_ids)) == 500
            assert list(r.message_ids) == sorted(r.message_ids)  # in user_ids order
            assert r.reached == 250 and r.connections == 250
            assert r.stored == 250  # the offline half keeps it (system notifications are kept)
            ids = dict(zip(users, r.message_ids))
            for u in online:
                m = await recv(conns[u])
                assert m["type"] == "system_notification" and m["user_id"] == u
                assert m["message_id"] == ids[u]
                assert m["data"]["message"] == "tonight at 22:00"
                assert m["data"]["level"] == "warning"
            await nothing(bystander)
            # an offline recipient gets its own copy, with its own id, on connect
            late, _ = await s.connect(user=users[1])
            m = await recv(late)
            assert m["message_id"] == ids[users[1]] and m["user_id"] == users[1]
            for ws in list(conns.values()) + [bystander, late]:
                await ws.close()

        run(go())


def test_multicast_over_rest_and_its_errors(server):
    async def go():
        a, _ = await server.connect(user="ra")
        b, _ = await server.connect(user="rb")
        st, _, body = rest(server, "POST", "/notification",
                           {"user_ids": ["ra", "rb", "rc"], "title": "t", "message": "to three"},
                           tok=SERVICE)
        assert st == 200 and body["code"] == 0, body
        d = body["data"]
        assert d["users"] == 3 and d["reached"] == 2 and d["stored"] == 1
        assert len(set(d["message_ids"])) == 3
        for ws, u, mid in ((a, "ra", d["message_ids"][0]), (b, "rb", d["message_ids"][1])):
            m = await recv(ws)
            assert m["user_id"] == u and m["message_id"] == mid and m["data"]["message"] == "to three"
        await a.close()
        await b.close()

    run(go())
    for body, words in (({"user_ids": [], "message": "x"}, "at least one"),
                        ({"user_ids": "ra", "message": "x"}, "array"),
                        ({"user_ids": ["ok", 7], "message": "x"}, "user_ids[1]"),
                        ({"user_ids": ["u%d" % i for i in range(1001)], "message": "x"}, "limit is 1000"),
                        ({"user_ids": ["a"], "user_id": "b", "message": "x"}, "not both")):
        st, _, r = rest(server, "POST", "/notification", body, tok=SERVICE)
        assert st == 400 and words in r["message"], (body, r)


# --- priority and group ---

def test_priority_and_group_travel_in_the_envelope(server):
    async def go():
        ws, _ = await server.connect(user="pg")
        await rpc(server, "SendSystemNotification", pb.SendSystemNotificationRequest(
            user_id="pg", message="plain"), tok=SERVICE)
        m = await recv(ws)
        assert "priority" not in m and "group" not in m  # normal: the seed's envelope, unchanged
        await rpc(server, "SendSystemNotification", pb.SendSystemNotificationRequest(
            user_id="pg", message="hot", priority=pb.PRIORITY_URGENT, group='deploy "7"'), tok=SERVICE)
        m = await recv(ws)
        assert m["priority"] == "urgent" and m["group"] == 'deploy "7"'
        assert list(m)[:3] == ["type", "user_id", "data"] and list(m)[-1] == "message_id"
        st, _, body = rest(server, "POST", "/notification",
                           {"user_id": "pg", "message": "h", "priority": "high", "group": "g1"}, tok=SERVICE)
        assert st == 200
        m = await recv(ws)
        assert m["priority"] == "high" and m["group"] == "g1"
        st, _, body = rest(server, "POST", "/notification",
                           {"user_id": "pg", "message": "h", "priority": "asap"}, tok=SERVICE)
        assert st == 400 and "priority" in body["message"]
        await ws.close()

    run(go())


def test_urgent_overtakes_queued_messages_of_a_slow_reader():
    with nd.Server(args=["--max-queue-messages", "5000", "--max-queue-bytes", "64MiB"]) as s:
        c = RawWS(s, user="slow", rcvbuf=4096)  # reads nothing until the end
        assert c.recv_json()["type"] == "connected"
        pad = "z" * 3000
        n = 1500

        async def go():
            async with s.channel() as ch:
                stub = pbg.NotificationServiceStub(ch)
                for i in range(n):
                    await stub.SendSystemNotification(pb.SendSystemNotificationRequest(
                        user_id="slow", message="%d %s" % (i, pad)), metadata=nd.bearer(SERVICE),
                        timeout=nd.TIMEOUT)
                await stub.SendSystemNotification(pb.SendSystemNotificationRequest(
                    user_id="slow", message="URGENT", priority=pb.PRIORITY_URGENT),
                    metadata=nd.bearer(SERVICE), timeout=nd.TIMEOUT)

        run(go())
        got = [c.recv_json(answer_pings=True)["data"]["message"] for _ in range(n + 1)]
        at = got.index("URGENT")
        assert at < n, "the urgent message waited behind every queued one"
        normal = [int(m.split()[0]) for m in got if m != "URGENT"]
        assert normal == list(range(n))  # the others keep their order, nothing lost
        c.close()


def test_urgent_progress_is_never_coalesced_and_is_kept_offline():
    with nd.Server() as s:
        c = RawWS(s, user="p", rcvbuf=4096)
        assert c.recv_json()["type"] == "connected"
        pad = "y" * 3000
        n = 600

        async def go():
            async with s.channel() as ch:
                stub = pbg.NotificationServiceStub(ch)
                for i in range(n):
                    await stub.NotifyBatchGoProgress(pb.NotifyBatchGoProgressRequest(
                        user_id="p", task=pb.TaskProgressData(task_id="t", completed=i + 1, total=n, message=pad),
                        priority=pb.PRIORITY_URGENT if i % 100 == 99 else pb.PRIORITY_NORMAL),
                        metadata=nd.bearer(SERVICE), timeout=nd.TIMEOUT)
                await stub.SendSystemNotification(pb.SendSystemNotificationRequest(user_id="p", message="end"),
                                                  metadata=nd.bearer(SERVICE), timeout=nd.TIMEOUT)
                # progress is not kept for an offline user -- unless urgent
                r = await stub.NotifyBatchGoProgress(pb.NotifyBatchGoProgressRequest(
                    user_id="away", task=pb.TaskProgressData(task_id="t", completed=1)),
                    metadata=nd.bearer(SERVICE), timeout=nd.TIMEOUT)
                assert not r.stored
                r = await stub.NotifyBatchGoProgress(pb.NotifyBatchGoProgressRequest(
                    user_id="away", task=pb.TaskProgressData(task_id="t", completed=2),
                    priority=pb.PRIORITY_URGENT), metadata=nd.bearer(SERVICE), timeout=nd.TIMEOUT)
                assert r.stored
                ws, _ = await s.connect(user="away")
                m = await recv(ws)
                assert m["message_id"] == r.message_id and m["priority"] == "urgent"
                assert m["data"]["completed"] == 2
                await nothing(ws)
                await ws.close()

        run(go())
        got = []
        while True:
            m = c.recv_json(answer_pings=True)
            got.append(m)
            if m["type"] == "system_notification":
                break
        done = [m["data"]["completed"] for m in got if m["type"] == "batchgo_progress"]
        urgent = [m["data"]["completed"] for m in got if m.get("priority") == "urgent"]
        assert urgent == [100, 200, 300, 400, 500, 600]  # every urgent one arrived
        assert len(done) < n  # normal ones were replaced while queued
        c.close()


# --- templates ---

TRICKY = 'He said "hi" \\ {{not_a_param}} 😀 \u2028 <b>'


def test_template_crud_over_grpc():
    with nd.Server() as s:
        async def go():
            r = await rpc(s, "PutTemplate", pb.PutTemplateRequest(template=pb.Template(
                id="welcome", title="Hello {{name}}", message="{{name}}, your id is {{user_id}}. {{ extra }}")))
            assert r.created and r.template.id == "welcome" and r.template.updated_at > 0
            r = await rpc(s, "PutTemplate", pb.PutTemplateRequest(template=pb.Template(
                id="welcome", title="Hi {{name}}", message="{{name}} ({{user_id}}): {{ extra }}")))
            assert not r.created and r.template.title == "Hi {{name}}"
            await rpc(s, "PutTemplate", pb.PutTemplateRequest(template=pb.Template(id="a.b-c_1", message="x")))
            r = await rpc(s, "GetTemplate", pb.GetTemplateRequest(id="welcome"))
            assert r.template.message == "{{name}} ({{user_id}}): {{ extra }}"
            r = await rpc(s, "ListTemplates", pb.ListTemplatesRequest())
            assert [t.id for t in r.templates] == ["a.b-c_1", "welcome"]

            ws, _ = await s.connect(user="u-7")
            r = await rpc(s, "SendSystemNotification", pb.SendSystemNotificationRequest(
                user_id="u-7", template_id="welcome", params={"name": "Ann", "extra": TRICKY}), tok=SERVICE)
            m = await recv(ws)
            assert m["message_id"] == r.message_id
            assert m["data"]["title"] == "Hi Ann"
            assert m["data"]["message"] == "Ann (u-7): " + TRICKY  # inserted as text, nothing expanded

            # errors name the problem
            code, why = await rpc_error(s, "SendSystemNotification", pb.SendSystemNotificationRequest(
                user_id="u-7", template_id="welcome", params={"name": "Ann"}), tok=SERVICE)
            assert code == grpc.StatusCode.INVALID_ARGUMENT and '"extra"' in why
            code, why = await rpc_error(s, "SendSystemNotification", pb.SendSystemNotificationRequest(
                user_id="u-7", template_id="nope"), tok=SERVICE)
            assert code == grpc.StatusCode.INVALID_ARGUMENT and '"nope"' in why
            code, why = await rpc_error(s, "SendSystemNotification", pb.SendSystemNotificationRequest(
                user_id="u-7", template_id="welcome", message="both"), tok=SERVICE)
            assert code == grpc.StatusCode.INVALID_ARGUMENT and "not both" in why
            code, why = await rpc_error(s, "Broadcast", pb.BroadcastRequest(
                template_id="welcome", params={"name": "x", "extra": "y"}), tok=SERVICE)
            assert code == grpc.StatusCode.INVALID_ARGUMENT and "user_id" in why
            code, why = await rpc_error(s, "PutTemplate", pb.PutTemplateRequest(template=pb.Template(
                id="bad", message="oops {{ }}")))
            assert code == grpc.StatusCode.INVALID_ARGUMENT and "byte 5" in why
            code, why = await rpc_error(s, "PutTemplate", pb.PutTemplateRequest(template=pb.Template(
                id="has space", message="x")))
            assert code == grpc.StatusCode.INVALID_ARGUMENT and "id" in why
            code, why = await rpc_error(s, "GetTemplate", pb.GetTemplateRequest(id="missing"))
            assert code == grpc.StatusCode.NOT_FOUND and '"missing"' in why
            # admin only: a service token may use templates, not manage them
            code, why = await rpc_error(s, "PutTemplate", pb.PutTemplateRequest(template=pb.Template(
                id="x", message="x")), tok=SERVICE)
            assert code == grpc.StatusCode.PERMISSION_DENIED and "admin" in why
            code, _ = await rpc_error(s, "ListTemplates", pb.ListTemplatesRequest(), tok=SERVICE)
            assert code == grpc.StatusCode.PERMISSION_DENIED

            r = await rpc(s, "DeleteTemplate", pb.DeleteTemplateRequest(id="a.b-c_1"))
            assert r.id == "a.b-c_1"
            code, _ = await rpc_error(s, "DeleteTemplate", pb.DeleteTemplateRequest(id="a.b-c_1"))
            assert code == grpc.StatusCode.NOT_FOUND
            await nothing(ws)
            await ws.close()

        run(go())


def test_templates_over_rest_personalize_a_multicast_and_survive_a_restart(tmp_path):
    data = str(tmp_path / "data")
    with nd.Server(data_dir=data) as s:
        st, _, body = rest(s, "PUT", "/templates/plan-reminder",
                           {"title": "{{plan}} ends soon", "message": "Dear {{user_id}}, {{plan}} ends in {{days}} days"})
        assert st == 200 and body["data"]["created"] is True, body
        assert body["data"]["template"]["id"] == "plan-reminder"
        st, _, body = rest(s, "PUT", "/templates/plan-reminder", {"id": "other", "message": "x"})
        assert st == 400 and "path" in body["message"]
        st, _, body = rest(s, "PUT", "/templates/t2", {"title": "no message"})
        assert st == 400 and "message" in body["message"]
        st, _, body = rest(s, "PUT", "/templates/t2", {"message": "x"}, tok=SERVICE)
        assert st == 403
        st, _, body = rest(s, "GET", "/templates/none")
        assert st == 404 and "none" in body["message"]
        st, hdrs, body = rest(s, "POST", "/templates/x", {"message": "x"})
        assert st == 405 and "PUT" in hdrs.get("allow", "")

        async def go():
            a, _ = await s.connect(user="alice")
            b, _ = await s.connect(user="bob")
            st, _, body = rest(s, "POST", "/notification",
                               {"user_ids": ["alice", "bob"], "template_id": "plan-reminder",
                                "params": {"plan": "Pro", "days": 3}}, tok=SERVICE)
            assert st == 200, body
            ma, mb = await recv(a), await recv(b)
            assert ma["data"]["message"] == "Dear alice, Pro ends in 3 days"
            assert mb["data"]["message"] == "Dear bob, Pro ends in 3 days"
            assert ma["data"]["title"] == mb["data"]["title"] == "Pro ends soon"
            st, _, body = rest(s, "POST", "/plan/expiring",
                               {"user_id": "alice", "plan_name": "Pro", "template_id": "plan-reminder",
                                "params": {"plan": "Pro"}}, tok=SERVICE)
            assert st == 400 and '"days"' in body["message"]
            await a.close()
            await b.close()

        run(go())
    with nd.Server(data_dir=data) as s:  # the same data dir: the template is still there
        st, _, body = rest(s, "GET", "/templates")
        assert st == 200 and [t["id"] for t in body["data"]["templates"]] == ["plan-reminder"]
        assert body["data"]["templates"][0]["message"] == "Dear {{user_id}}, {{plan}} ends in {{days}} days"
        st, _, body = rest(s, "DELETE", "/templates/plan-reminder")
        assert st == 200 and body["data"]["id"] == "plan-reminder"
    with nd.Server(data_dir=data) as s:  # and the delete lasted
        st, _, body = rest(s, "GET", "/templates")
        assert st == 200 and body["data"]["templates"] == []


# --- batch frames ---

def test_batch_clients_get_batch_frames_and_plain_clients_do_not(server):
    async def go():
        # messages kept for two offline users come out together on connect
        n = 20
        async with server.channel() as ch:
            stub = pbg.NotificationServiceStub(ch)
            for u in ("bt-plain", "bt-batch"):
                for i in range(n):
                    r = await stub.SendSystemNotification(pb.SendSystemNotificationRequest(
                        user_id=u, message="m%d" % i, group="g"), metadata=nd.bearer(SERVICE),
                        timeout=nd.TIMEOUT)
                    assert r.stored
        plain, hello = await server.connect(user="bt-plain")
        assert "batch" not in hello["data"]
        plain_msgs = [await recv(plain) for _ in range(n)]  # one message per frame, as the seed expects
        assert [m["data"]["message"] for m in plain_msgs] == ["m%d" % i for i in range(n)]
        await nothing(plain)

        batched, hello = await server.connect(user="bt-batch", query="&batch=1")
        assert hello["data"]["batch"] is True
        f = await recv(batched)
        assert f["type"] == "batch" and set(f) == {"type", "data"}
        got = f["data"]["messages"]
        while len(got) < n:
            f = await recv(batched)
            got.extend(f["data"]["messages"] if f["type"] == "batch" else [f])
        assert [m["data"]["message"] for m in got] == ["m%d" % i for i in range(n)]
        assert all(m["group"] == "g" and m["user_id"] == "bt-batch" for m in got)
        ids = [m["message_id"] for m in got]
        assert ids == sorted(ids)
        await nothing(batched)

        # live messages: a single one goes as itself; the order holds either way
        st, _, _ = rest(server, "POST", "/notification", {"user_id": "bt-batch", "message": "solo"},
                        tok=SERVICE)
        assert st == 200
        m = await recv(batched)
        assert m["type"] == "system_notification" and m["data"]["message"] == "solo"
        async with server.channel() as ch:
            stub = pbg.NotificationServiceStub(ch)
            await asyncio.gather(*[stub.SendSystemNotification(pb.SendSystemNotificationRequest(
                user_id="bt-batch", message="live%d" % i), metadata=nd.bearer(SERVICE), timeout=nd.TIMEOUT)
                for i in range(100)])
        live = []
        while len(live) < 100:
            f = await recv(batched)
            live.extend(f["data"]["messages"] if f["type"] == "batch" else [f])
        assert sorted(m["data"]["message"] for m in live) == sorted("live%d" % i for i in range(100))
        assert [m["message_id"] for m in live] == sorted(m["message_id"] for m in live)
        await nothing(batched)
        await plain.close()
        await batched.close()

    run(go())
