"""Delivery guarantees: offline messages kept on disk (kill -9 included) and
delivered on connect in order before live traffic; history and resume with
?since=; acks; expiry and bounds; a corrupt store refused at start."""
import asyncio
import os
import signal
import subprocess
import tempfile

import pytest

import nd
from nd import RawWS, pb, pbg, recv, nothing, run

SVC = nd.token("backend", "service")


async def notify(s, user, text, rpc="SendSystemNotification"):
    async with s.channel() as ch:
        stub = pbg.NotificationServiceStub(ch)
        if rpc == "SendSystemNotification":
            return await stub.SendSystemNotification(pb.SendSystemNotificationRequest(user_id=user, message=text),
                                                     metadata=nd.bearer(SVC), timeout=nd.TIMEOUT)
        return await stub.NotifyBatchGoProgress(
            pb.NotifyBatchGoProgressRequest(user_id=user, task=pb.TaskProgressData(task_id=text)),
            metadata=nd.bearer(SVC), timeout=nd.TIMEOUT)


def test_important_messages_wait_for_an_offline_user_and_come_first(server):
    async def go():
        sent = [await notify(server, "away", "m%d" % i) for i in range(5)]
        assert all(r.stored and r.connections == 0 for r in sent)
        p = await notify(server, "away", "t1", rpc="progress")  # progress is not kept
        assert not p.stored
        ws, hello = await server.connect(user="away")
        # a live message sent right after connecting comes after the stored ones
        live = await notify(server, "away", "live")
        assert not live.stored and live.connections == 1
        got = [await recv(ws) for _ in range(6)]
        assert [m["message_id"] for m in got] == [r.message_id for r in sent] + [live.message_id]
        assert [m["data"]["message"] for m in got] == ["m0", "m1", "m2", "m3", "m4", "live"]
        await ws.close()
        # delivered once: the next connection gets nothing more
        ws, _ = await server.connect(user="away")
        await nothing(ws, 0.5)
        await ws.close()

    run(go())


@pytest.mark.parametrize("rpc,req,kept", [
    ("SendSystemNotification", pb.SendSystemNotificationRequest(user_id="o", message="x"), True),
    ("NotifyTokenInsufficient", pb.NotifyTokenInsufficientRequest(user_id="o", required_tokens=5), True),
    ("NotifyPlanExpiring", pb.NotifyPlanExpiringRequest(user_id="o", plan_name="pro"), True),
    ("NotifyPlanExpired", pb.NotifyPlanExpiredRequest(user_id="o", plan_name="pro"), True),
    ("NotifyBatchGoComplete", pb.NotifyBatchGoCompleteRequest(user_id="o", task=pb.TaskProgressData(task_id="t")),
     True),
    ("NotifySiteRankComplete", pb.NotifySiteRankCompleteRequest(user_id="o", task=pb.TaskProgressData(task_id="t")),
     True),
    ("NotifyChengelinkComplete",
     pb.NotifyChengelinkCompleteRequest(user_id="o", task=pb.TaskProgressData(task_id="t")), True),
    ("NotifyBatchGoOpenUrl", pb.NotifyBatchGoOpenUrlRequest(user_id="o", task_id="t", urls=["https://x.example"]),
     True),
    ("NotifyBatchGoStart", pb.NotifyBatchGoStartRequest(user_id="o", task=pb.TaskProgressData(task_id="t")), False),
    ("NotifyBatchGoProgress", pb.NotifyBatchGoProgressRequest(user_id="o", task=pb.TaskProgressData(task_id="t")),
     False),
    ("SendTestMessage", pb.SendTestMessageRequest(user_id="o"), False),
    ("Broadcast", pb.BroadcastRequest(message="all"), False),
])
def test_which_types_are_kept(server, rpc, req, kept):
    async def go():
        async with server.channel() as ch:
            r = await getattr(pbg.NotificationServiceStub(ch), rpc)(req, metadata=nd.bearer(SVC), timeout=nd.TIMEOUT)
        assert r.stored is kept

    run(go())


def test_rest_answer_says_stored(server):
    st, _, resp = nd.http(server, "POST", "/api/websocket/notification", {"user_id": "r-away", "message": "hi"},
                          headers={"Authorization": "Bearer " + SVC})
    assert st == 200 and resp["data"]["stored"] is True and resp["data"]["connections"] == 0


def test_stored_messages_survive_repeated_kill_9():
    """20 restarts, each killed with -9 right after its messages were answered
    stored: afterwards every one is delivered exactly once, in order."""
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "data")
        sent = []
        for cycle in range(20):
            s = nd.Server(data_dir=data).start()
            try:
                async def go():
                    for i in range(3):
                        r = await notify(s, "crashy", "c%d-%d" % (cycle, i))
                        assert r.stored
                        sent.append(r.message_id)
                run(go())
                s.send_signal(signal.SIGKILL)
                s.proc.wait(10)
                s.proc = None
            finally:
                s.close()
        with nd.Server(data_dir=data) as s:
            async def collect():
                ws, _ = await s.connect(user="crashy")
                got = [(await recv(ws))["message_id"] for _ in sent]
                await nothing(ws, 0.5)
                await ws.close()
                return got
            got = run(collect())
        assert got == sent
        assert len(set(got)) == 60


def test_kill_9_with_clients_in_between_loses_nothing():
    """Messages stored, some read by a client, the server killed, again: every
    message reaches the user; any repeat carries the same id."""
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "data")
        sent, seen = [], []
        for cycle in range(6):
            s = nd.Server(data_dir=data).start()
            try:
                async def go():
                    for i in range(4):
                        sent.append((await notify(s, "flaky", "f%d-%d" % (cycle, i))).message_id)
                    if cycle % 2:
                        ws, _ = await s.connect(user="flaky")
                        while True:
                            try:
                                m = await recv(ws, timeout=0.5)
                            except asyncio.TimeoutError:
                                break
                            seen.append(m["message_id"])
                        await ws.close()
                run(go())
                s.send_signal(signal.SIGKILL)
                s.proc.wait(10)
                s.proc = None
            finally:
                s.close()
        with nd.Server(data_dir=data) as s:
            async def rest():
                ws, _ = await s.connect(user="flaky")
                while True:
                    try:
                        m = await recv(ws, timeout=0.5)
                    except asyncio.TimeoutError:
                        break
                    seen.append(m["message_id"])
                await ws.close()
            run(rest())
        assert set(seen) == set(sent)


def test_resume_since_replays_exactly_what_was_missed(server):
    async def go():
        ws, _ = await server.connect(user="res")
        first = [await notify(server, "res", "a%d" % i) for i in range(3)]
        got = [await recv(ws) for _ in first]
        last_seen = got[-1]["message_id"]
        await ws.close()
        await nd.offline(server, "res")  # so b0 and b1 are also kept for the user
        missed = [await notify(server, "res", "b0"), await notify(server, "res", "t9", rpc="progress"),
                  await notify(server, "res", "b1")]
        async with server.channel() as ch:  # a broadcast while away is missed too
            missed.append(await pbg.NotificationServiceStub(ch).Broadcast(pb.BroadcastRequest(message="all"),
                                                                          metadata=nd.bearer(SVC),
                                                                          timeout=nd.TIMEOUT))
        ws, hello = await server.connect(user="res", query="&since=" + last_seen)
        assert hello["data"]["recovered"] is True
        replay = [await recv(ws) for _ in missed]
        assert [m["message_id"] for m in replay] == [r.message_id for r in missed]
        await nothing(ws, 0.3)  # each exactly once, although b0 and b1 were also stored
        live = await notify(server, "res", "now")
        assert (await recv(ws))["message_id"] == live.message_id
        await ws.close()

    run(go())


def test_resume_too_old_says_not_recovered():
    with nd.Server(args=["--history-size", "3"]) as s:
        async def go():
            ws, _ = await s.connect(user="h")
            m = await notify(s, "h", "start")
            await recv(ws)
            await ws.close()
            await nd.offline(s, "h")
            for i in range(6):
                await notify(s, "h", "p%d" % i, rpc="progress")
            ws, hello = await s.connect(user="h", query="&since=" + m.message_id)
            assert hello["data"]["recovered"] is False
            got = [await recv(ws) for _ in range(3)]  # what is still remembered
            assert [x["data"]["task_id"] for x in got] == ["p3", "p4", "p5"]
            await ws.close()
            # an id from before this server started cannot be vouched for either
            ws, hello = await s.connect(user="h", query="&since=0000000000000001")
            assert hello["data"]["recovered"] is False
            await ws.close()
        run(go())


def test_bad_since_is_refused(server):
    c = RawWS(server, query="&since=zzz")
    assert c.status == 400
    c.close()


def test_ack_mode_redelivers_until_acked(server):
    async def go():
        ws, hello = await server.connect(user="acker", query="&ack=1")
        assert hello["data"]["ack"] is True
        sent = [await notify(server, "acker", "k%d" % i) for i in range(4)]
        # only an ack-mode client took them: kept until acked
        assert all(r.stored and r.connections == 1 for r in sent)
        got = [await recv(ws) for _ in sent]
        for m in got[:2]:
            await ws.send('{"type":"ack","data":{"message_id":"%s"}}' % m["message_id"])
        nd.acks_seen(server, 2)
        await ws.close()
        ws, _ = await server.connect(user="acker", query="&ack=1")
        again = [await recv(ws) for _ in range(2)]
        assert [m["message_id"] for m in again] == [r.message_id for r in sent[2:]]
        await nothing(ws, 0.3)
        for m in again:
            await ws.send('{"type":"ack","data":{"message_id":"%s"}}' % m["message_id"])
        nd.acks_seen(server, 4)
        await ws.close()
        ws, _ = await server.connect(user="acker", query="&ack=1")
        await nothing(ws, 0.3)
        await ws.close()

    run(go())


def test_acking_a_long_backlog_at_once_is_not_rate_limited(server):
    """A client owes one ack per message it was sent: those never count against
    the message rate (20/s, burst 40), so a backlog of 150 is acked in one go."""
    async def go():
        sent = [await notify(server, "backlog", "b%d" % i) for i in range(150)]
        assert all(r.stored for r in sent)
        ws, _ = await server.connect(user="backlog", query="&ack=1")
        got = [await recv(ws) for _ in sent]
        assert [m["message_id"] for m in got] == [r.message_id for r in sent]
        for m in got:
            await ws.send('{"type":"ack","data":{"message_id":"%s"}}' % m["message_id"])
        await ws.send('{"type":"ping"}')
        assert (await nd.recv_type(ws, "pong"))["type"] == "pong"  # no error came first
        await ws.close()
        ws, _ = await server.connect(user="backlog", query="&ack=1")
        await nothing(ws, 0.3)  # every ack counted
        await ws.close()

    run(go())


def test_acks_beyond_what_was_sent_are_rate_limited():
    # 5 messages/s, a burst of 10: 18 forged acks overrun it by up to 8 -- errors, but fewer
    # than the 10 that would close the connection, so the error frame is there to read
    with nd.Server(args=["--client-msg-rate", "5"]) as s:
        async def go():
            ws, _ = await s.connect(user="forger", query="&ack=1")
            for i in range(18):
                await ws.send('{"type":"ack","data":{"message_id":"%016x"}}' % (i + 1))
            m = await nd.recv_type(ws, "error")
            assert m["data"]["code"] == "rate_limited"
            await ws.close()

        run(go())


def test_a_plain_tab_takes_the_message_for_everyone(server):
    """With a non-ack connection online, nothing is stored."""
    async def go():
        plain, _ = await server.connect(user="mix")
        acker, _ = await server.connect(user="mix", query="&ack=1")
        r = await notify(server, "mix", "both")
        assert r.connections == 2 and not r.stored
        await plain.close()
        await acker.close()

    run(go())


def test_offline_messages_expire():
    with nd.Server(args=["--offline-ttl", "1"]) as s:
        async def go():
            assert (await notify(s, "late", "old")).stored
            await asyncio.sleep(1.5)
            ws, _ = await s.connect(user="late")
            await nothing(ws, 0.5)
            await ws.close()
        run(go())


def test_offline_messages_are_bounded_per_user():
    with nd.Server(args=["--offline-max-per-user", "5"]) as s:
        async def go():
            sent = [await notify(s, "many", "n%d" % i) for i in range(12)]
            ws, _ = await s.connect(user="many")
            got = [(await recv(ws))["message_id"] for _ in range(5)]
            assert got == [r.message_id for r in sent[-5:]]
            await nothing(ws, 0.3)
            await ws.close()
        run(go())


def test_corrupt_store_is_refused_with_the_file_named():
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "data")
        os.makedirs(data)
        path = os.path.join(data, "messages.db")
        with open(path, "wb") as f:
            f.write(b"this is not a database" * 100)
        r = subprocess.run([nd.BIN, "--data-dir", data, "--grpc-addr", "127.0.0.1:0", "--http-addr",
                            "127.0.0.1:0"], env=dict(os.environ, NOTIFYD_JWT_SECRET=nd.SECRET),
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 1
        errs = [l for l in r.stderr.splitlines() if l.startswith("notifyd: ")]
        assert len(errs) == 1 and path in errs[0] and "corrupt" in errs[0], r.stderr
        assert open(path, "rb").read().startswith(b"this is not a database")  # left for the operator

