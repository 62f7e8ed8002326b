"""The Python client (clients/python) against the real notifyd: committed stubs are fresh,
every helper delivers its message type, publish sends the caller's own types, disconnect_user
closes a user's connections, multicast gives each user its own id, priority and group reach the
envelope, templates round-trip (NOT_FOUND is NotFound), errors carry the gRPC
code and notifyd's text, the examples run, and the package builds.

    NOTIFYD_BIN=build/notifyd /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/clients/test_python_client.py
"""
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

import jwt  # python3-jwt
import pytest
import websockets  # python3-websockets

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PKG = os.path.join(TOP, "clients", "python")
EXAMPLES = os.path.join(PKG, "examples")
BIN = os.environ.get("NOTIFYD_BIN", os.path.join(TOP, "build", "notifyd"))
SECRET = "client-tests-secret-0123456789abcdef"
PY = "/usr/bin/python3"
sys.path.insert(0, PKG)

import grpc  # noqa: E402

import notifyd_client as nc  # noqa: E402


def token(user, role="user", ttl=3600):
    now = int(time.time())
    body = {"sub": user, "user_id": user, "iat": now, "exp": now + ttl}
    if role:
        body["role"] = role
    return jwt.encode(body, SECRET, algorithm="HS256")


class Notifyd:
    """notifyd on ephemeral loopback ports; stop() checks exit 0 and no sanitizer report."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="notifyd-pyclient-")
        env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFYD_")}
        env["NOTIFYD_JWT_SECRET"] = SECRET
        self.proc = subprocess.Popen([BIN, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
                                      "--data-dir", os.path.join(self.tmp.name, "data")],
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.log = []
        ready = threading.Event()

        def read():
            for line in self.proc.stderr:
                self.log.append(line)
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                if r.get("msg") == "listening":
                    self.grpc_port, self.http_port = r["grpc_port"], r["http_port"]
                    ready.set()
            ready.set()

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        if not ready.wait(60) or not hasattr(self, "grpc_port"):
            self.proc.kill()
            raise AssertionError("notifyd did not start:\n" + "".join(self.log))
        self.addr = "127.0.0.1:%d" % self.grpc_port

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        self.reader.join(10)  # the log read to its end
        log = "".join(self.log)
        self.tmp.cleanup()
        assert "AddressSanitizer" not in log and "runtime error:" not in log, log
        assert rc == 0, "notifyd exited %s:\n%s" % (rc, log)


class Listener:
    """A user's WebSocket in a thread; .messages collects what arrives."""

    def __init__(self, server, user):
        self.url = "ws://127.0.0.1:%d/ws?token=%s" % (server.http_port, token(user))
        self.messages = []
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._run(),), daemon=True)
        self.thread.start()
        assert self.ready.wait(10), "WebSocket did not connect"

    async def _run(self):
        self.task = asyncio.current_task()
        try:
            async with websockets.connect(self.url, open_timeout=10) as ws:
                async for raw in ws:
                    m = json.loads(raw)
                    self.messages.append(m)
                    if m["type"] == "connected":
                        self.ready.set()
        except asyncio.CancelledError:
            pass

    def wait(self, pred, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in list(self.messages):
                if pred(m):
                    return m
            time.sleep(0.02)
        raise AssertionError("no such message in %ss; got %s" % (timeout, self.messages))

    def by_id(self, message_id):
        return self.wait(lambda m: m.get("message_id") == message_id)

    def close(self):
        self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(10)


@pytest.fixture(scope="module")
def server():
    s = Notifyd()
    yield s
    s.stop()


@pytest.fixture()
def client(server):
    with nc.NotifydClient(server.addr, token=token("backend", "service"), timeout=5) as c:
        yield c


def test_committed_stubs_match_proto():
    r = subprocess.run([PY, os.path.join(PKG, "gen_stubs.py"), "--check"], capture_output=True, text=True, timeout=60)
    if r.returncode == 77:
        pytest.skip(r.stderr.strip())
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_helper_delivers_its_type(server, client):
    ws = Listener(server, "py1")
    try:
        cases = [
            (client.notify_batchgo_start("py1", "b1", total=3), "batchgo_start", {"task_id": "b1", "task_type": "batchgo", "status": "running", "total": 3}),
            (client.notify_batchgo_progress("py1", "b1", progress=33.5, total=3, completed=1, message="1/3"), "batchgo_progress", {"progress": 33.5, "completed": 1, "message": "1/3"}),
            (client.notify_batchgo_complete("py1", "b1", total=3, completed=2, failed=1), "batchgo_complete", {"status": "completed", "progress": 100, "failed": 1}),
            (client.notify_siterank_start("py1", "s1"), "siterank_start", {"task_type": "siterank"}),
            (client.notify_siterank_progress("py1", "s1", progress=50), "siterank_progress", {"progress": 50}),
            (client.notify_siterank_complete("py1", "s1"), "siterank_complete", {"task_id": "s1"}),
            (client.notify_chengelink_start("py1", "c1"), "chengelink_start", {"task_type": "chengelink"}),
            (client.notify_chengelink_progress("py1", "c1", progress=10), "chengelink_progress", {"progress": 10}),
            (client.notify_chengelink_complete("py1", "c1"), "chengelink_complete", {"task_id": "c1"}),
            (client.notify_batchgo_open_url("py1", "b2", ["https://example.com/a", "http://example.org"], delay=250), "batchgo_open_url", {"task_id": "b2", "urls": ["https://example.com/a", "http://example.org"], "delay": 250}),
            (client.send_system_notification("py1", "您有新的消息", title="系统通知", level="warning", action="Open", action_url="https://example.com/x"), "system_notification", {"title": "系统通知", "message": "您有新的消息", "level": "warning", "action": "Open", "action_url": "https://example.com/x"}),
            (client.send_system_notification("py1", "ok", level=nc.Level.SUCCESS), "system_notification", {"level": "success"}),
            (client.notify_token_insufficient("py1", 5, 20, task_type="batchgo", message="low"), "token_insufficient", {"current_balance": 5, "required_tokens": 20, "task_type": "batchgo"}),
            (client.notify_plan_expiring("py1", "pro", 3, 1900000000, upgrade_url="https://example.com/up"), "plan_expiring", {"plan_name": "pro", "days_left": 3, "expires_at": 1900000000}),
            (client.notify_plan_expired("py1", "pro", 1800000000, message="ended"), "plan_expired", {"plan_name": "pro", "message": "ended"}),
            (client.send_test_message("py1"), "system_notification", {"test": True}),
            (client.broadcast("to everyone", title="all", level="info"), "system_notification", {"message": "to everyone", "title": "all"}),
        ]
        for d, typ, fields in cases:
            assert isinstance(d, nc.Delivery)
            assert len(d.message_id) == 16 and d.connections == 1, d
            m = ws.by_id(d.message_id)
            assert m["type"] == typ
            for k, v in fields.items():
                assert m["data"][k] == v, (typ, k, m["data"])
        ids = [d.message_id for d, _, _ in cases]
        assert ids == sorted(ids), "ids increase in the order sent"

        st = client.get_stats()
        assert isinstance(st, nc.Stats)
        assert st.total_connections == 1 and st.connected_users == ["py1"] and st.online_users == 1
        assert st.messages_total >= len(cases)
        on = client.is_user_online("py1")
        assert on == nc.Online(user_id="py1", is_online=True, connections=1)
        assert client.is_user_online("nobody").is_online is False
    finally:
        ws.close()


def test_offline_user_messages_are_kept(client):
    d = client.send_system_notification("py-offline", "later")
    assert d.connections == 0 and d.stored is True
    assert client.notify_batchgo_progress("py-offline", "t", progress=1).stored is False


def test_errors_carry_code_and_message(server, client):
    with pytest.raises(nc.InvalidArgument) as e:
        client.notify_batchgo_open_url("py1", "b", ["https://ok.example", "ftp://bad"])
    assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert e.value.code_name == "INVALID_ARGUMENT"
    assert e.value.details.startswith("urls[1]"), e.value.details
    assert e.value.method == "NotifyBatchGoOpenUrl"
    assert str(e.value).startswith("INVALID_ARGUMENT: urls[1]")
    assert isinstance(e.value, nc.NotifydError)

    with pytest.raises(nc.InvalidArgument, match="user_id"):
        client.send_system_notification("bad user!", "x")
    with pytest.raises(ValueError, match="level"):
        client.send_system_notification("py1", "x", level="loud")

    with nc.NotifydClient(server.addr) as anon:
        with pytest.raises(nc.Unauthenticated) as e:
            anon.get_stats()
        assert e.value.code == grpc.StatusCode.UNAUTHENTICATED
    with nc.NotifydClient(server.addr, token=token("backend", "service", ttl=-3600)) as expired:
        with pytest.raises(nc.Unauthenticated):
            expired.get_stats()
    with nc.NotifydClient(server.addr, token=token("someone", "user")) as user:
        with pytest.raises(nc.PermissionDenied) as e:
            user.send_test_message("py1")
        assert e.value.code_name == "PERMISSION_DENIED"
    with nc.NotifydClient("127.0.0.1:1", token="x", timeout=3) as nowhere:
        with pytest.raises(nc.Unavailable):
            nowhere.get_stats()
        with pytest.raises(nc.Unavailable):
            nowhere.wait_ready(timeout=0.5)


def test_token_callable_is_called_per_call(server):
    calls = []

    def fresh():
        calls.append(1)
        return token("backend", "service")

    with nc.NotifydClient(server.addr, token=fresh) as c:
        c.wait_ready(5)
        c.get_stats()
        c.is_user_online("x")
    assert len(calls) == 2


@pytest.fixture()
def admin(server):
    with nc.NotifydClient(server.addr, token=token("ops", "admin"), timeout=5) as c:
        yield c


def test_notify_users_multicast_gives_each_user_its_own_id(server, client):
    a, b = Listener(server, "pm1"), Listener(server, "pm2")
    try:
        r = client.notify_users(["pm1", "pm2", "pm-off", "pm1"], "Tonight 22:00-23:00", title="Maintenance",
                                level="warning", priority="high", group="maint")
        assert isinstance(r, nc.MulticastDelivery)
        assert r.users == 3, "a repeated user counts once"
        assert len(r.message_ids) == 3 and len(set(r.message_ids)) == 3, r.message_ids
        assert all(len(i) == 16 for i in r.message_ids)
        assert (r.reached, r.stored, r.connections) == (2, 1, 2), r
        for ws, user, message_id in ((a, "pm1", r.message_ids[0]), (b, "pm2", r.message_ids[1])):
            m = ws.by_id(message_id)
            assert m["type"] == "system_notification" and m["user_id"] == user
            assert m["data"]["message"] == "Tonight 22:00-23:00" and m["data"]["level"] == "warning"
            assert m["priority"] == "high" and m["group"] == "maint", m
        assert not any(m.get("message_id") == r.message_ids[1] for m in a.messages), "pm2's message not to pm1"
        with pytest.raises(nc.InvalidArgument):
            client.notify_users([], "nobody")
    finally:
        a.close()
        b.close()


def test_priority_and_group_arrive_in_the_envelope(server, client):
    ws = Listener(server, "pp1")
    try:
        d = client.send_system_notification("pp1", "Your account is locked", priority=nc.Priority.URGENT,
                                            group="security")
        m = ws.by_id(d.message_id)
        assert (m["priority"], m["group"]) == ("urgent", "security"), m
        d = client.notify_batchgo_progress("pp1", "t1", progress=10, priority="high", group="task:t1")
        m = ws.by_id(d.message_id)
        assert (m["type"], m["priority"], m["group"]) == ("batchgo_progress", "high", "task:t1"), m
        for d in (client.notify_token_insufficient("pp1", 1, 2, priority=3),
                  client.notify_batchgo_open_url("pp1", "b", ["https://example.com"], priority="URGENT"),
                  client.send_test_message("pp1", priority="urgent", group="t")):
            assert ws.by_id(d.message_id)["priority"] == "urgent"
        d = client.send_system_notification("pp1", "plain", priority="normal")
        m = ws.by_id(d.message_id)
        assert "priority" not in m and "group" not in m, "normal and no group: nothing in the envelope"
        with pytest.raises(ValueError, match="priority"):
            client.send_system_notification("pp1", "x", priority="loud")
        with pytest.raises(nc.InvalidArgument, match="group"):
            client.send_system_notification("pp1", "x", group="g" * 129)
    finally:
        ws.close()


def test_template_round_trip(server, client, admin):
    ws = Listener(server, "pt1")
    try:
        put = admin.put_template("py-welcome", "Welcome {{name}}, you are {{user_id}} ({{days}} days)",
                                 title="Hi {{name}}")
        assert isinstance(put, nc.TemplatePut) and put.created is True
        assert isinstance(put.template, nc.Template)
        assert (put.template.id, put.template.title) == ("py-welcome", "Hi {{name}}")
        assert put.template.updated_at > 1600000000000, "Unix milliseconds"
        assert admin.put_template("py-welcome", "Welcome {{name}}, you are {{user_id}} ({{days}} days)",
                                  title="Hi {{name}}").created is False, "replaced"
        got = admin.get_template("py-welcome")
        assert got.message == "Welcome {{name}}, you are {{user_id}} ({{days}} days)" and got.title == "Hi {{name}}"
        assert "py-welcome" in [t.id for t in admin.list_templates()]

        # rendered for a user with a service token; numbers are sent as strings
        d = client.send_system_notification("pt1", template_id="py-welcome", params={"name": "Ann \"{{x}}\"", "days": 3})
        m = ws.by_id(d.message_id)
        assert m["data"]["title"] == 'Hi Ann "{{x}}"'
        assert m["data"]["message"] == 'Welcome Ann "{{x}}", you are pt1 (3 days)'
        # a multicast is personalized per recipient
        r = client.notify_users(["pt1", "pt-off"], template_id="py-welcome", params={"name": "all", "days": "7"})
        assert ws.by_id(r.message_ids[0])["data"]["message"] == "Welcome all, you are pt1 (7 days)"
        d = client.notify_plan_expiring("pt1", "pro", 7, 1900000000, template_id="py-welcome",
                                        params={"name": "P", "days": 7})
        m = ws.by_id(d.message_id)
        assert m["type"] == "plan_expiring" and m["data"]["message"] == "Welcome P, you are pt1 (7 days)"

        with pytest.raises(nc.InvalidArgument, match="param"):
            client.send_system_notification("pt1", template_id="py-welcome", params={"name": "no days"})
        with pytest.raises(nc.InvalidArgument, match="not both"):
            client.send_system_notification("pt1", "text too", template_id="py-welcome", params={"name": "x", "days": 1})
        with pytest.raises(nc.InvalidArgument, match="no such template"):
            client.send_system_notification("pt1", template_id="py-nope")
        with pytest.raises(ValueError, match="template_id"):
            client.send_system_notification("pt1", "x", params={"a": "b"})
        with pytest.raises(nc.PermissionDenied):
            client.put_template("py-svc", "a service token may not")
        with pytest.raises(nc.PermissionDenied):
            client.list_templates()

        assert admin.delete_template("py-welcome") == "py-welcome"
        assert "py-welcome" not in [t.id for t in admin.list_templates()]
        with pytest.raises(nc.NotFound) as e:
            admin.get_template("py-welcome")
        assert e.value.code == grpc.StatusCode.NOT_FOUND and e.value.method == "GetTemplate"
        assert isinstance(e.value, nc.NotifydError)
        with pytest.raises(nc.NotFound):
            admin.delete_template("py-welcome")
    finally:
        ws.close()


def run_example(name, *args):
    return subprocess.run([PY, os.path.join(EXAMPLES, name)] + list(args), capture_output=True, text=True, timeout=60,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})


def test_publish_your_own_event(server, client):
    ws = Listener(server, "ppub1")
    try:
        p = client.publish("order.shipped", {"order_id": "A-1001", "price": 0.1, "tags": ["新"]}, user_id="ppub1",
                           priority="high", group="orders")
        assert isinstance(p, nc.Published) and p.connections == 1 and not p.stored and not p.message_ids
        m = ws.by_id(p.message_id)
        assert m["type"] == "order.shipped" and m["data"] == {"order_id": "A-1001", "price": 0.1, "tags": ["新"]}
        assert (m["priority"], m["group"]) == ("high", "orders")
        # JSON text goes as written; user_ids answer per user; store and ttl_ms
        p = client.publish("chat:message", b'{"text": "hi", "n": 12345678901234567890}',
                           user_ids=["ppub1", "ppub-off"], store=nc.Store.ALWAYS, ttl_ms=60000)
        assert (p.users, p.reached, p.stored_users, p.stored) == (2, 1, 1, True) and len(p.message_ids) == 2
        assert ws.by_id(p.message_ids[0])["data"]["n"] == 12345678901234567890
        p = client.publish("maintenance", broadcast=True)
        assert p.connections >= 1 and ws.by_id(p.message_id)["data"] == {}
        with pytest.raises(nc.InvalidArgument, match="one of notifyd's own"):
            client.publish("ping", user_id="ppub1")
        with pytest.raises(nc.InvalidArgument, match="data must be a JSON object"):
            client.publish("t", "[1]", user_id="ppub1")
        with pytest.raises(nc.InvalidArgument, match="exactly one target"):
            client.publish("t", {})
        with pytest.raises(ValueError, match="store"):
            client.publish("t", {}, user_id="ppub1", store="sometimes")
    finally:
        ws.close()


def test_disconnect_user(server, client, admin):
    ws = Listener(server, "pdis1")
    try:
        with pytest.raises(nc.PermissionDenied):
            client.disconnect_user("pdis1")  # a service token
        r = admin.disconnect_user("pdis1", "account suspended")
        assert r == nc.Disconnected(user_id="pdis1", closed=1)
        m = ws.wait(lambda m: m["type"] == "disconnected")
        assert m["data"] == {"code": 4004, "reason": "account suspended", "reconnect": False}
    finally:
        ws.close()


def test_examples_run_against_notifyd(server):
    svc = token("backend", "service")
    ws = Listener(server, "py2")
    try:
        r = run_example("send_notification.py", "--addr", server.addr, "--token", svc, "--user", "py2",
                        "--message", "hello from the example", "--level", "success")
        assert r.returncode == 0, r.stderr
        assert "reached 1 connection(s)" in r.stdout, r.stdout
        m = ws.by_id(r.stdout.split()[1])
        assert m["type"] == "system_notification" and m["data"]["message"] == "hello from the example"
        assert m["data"]["level"] == "success"

        r = run_example("open_urls.py", "--addr", server.addr, "--token", svc, "--user", "py2", "--delay", "100",
                        "https://example.com", "https://example.org")
        assert r.returncode == 0, r.stderr
        m = ws.by_id(r.stdout.split()[1])
        assert m["type"] == "batchgo_open_url" and m["data"]["urls"] == ["https://example.com", "https://example.org"]

        r = run_example("open_urls.py", "--addr", server.addr, "--token", svc, "--user", "py2", "https://ok.example", "javascript:alert(1)")
        assert r.returncode == 2 and "refused: urls[1]" in r.stderr, (r.returncode, r.stderr)

        r = run_example("task_progress.py", "--addr", server.addr, "--token", svc, "--user", "py2", "--items", "3", "--pause", "0.01")
        assert r.returncode == 0, r.stderr
        done = ws.wait(lambda m: m["type"] == "batchgo_complete")
        types = [m["type"] for m in ws.messages if m["type"].startswith("batchgo_") and m["type"] != "batchgo_open_url"]
        assert types == ["batchgo_start"] + ["batchgo_progress"] * 3 + ["batchgo_complete"], types
        assert done["data"]["completed"] == 3

        r = run_example("stats.py", "--addr", server.addr, "--token", token("ops", "admin"), "py2", "ghost")
        assert r.returncode == 0, r.stderr
        assert "py2: online (1 connection(s))" in r.stdout and "ghost: offline" in r.stdout, r.stdout

        r = run_example("stats.py", "--addr", server.addr, "--token", token("u", "user"))
        assert r.returncode == 1 and "PERMISSION_DENIED" in r.stderr, r.stderr

        r = run_example("multicast_template.py", "--addr", server.addr, "--token", svc,
                        "--admin-token", token("ops", "admin"), "--param", "plan=Pro", "--param", "days=3",
                        "--group", "billing", "py2", "py-ex-off")
        assert r.returncode == 0, r.stderr
        assert "template plan-reminder " in r.stdout, r.stdout
        assert "2 user(s): 1 reached on 1 connection(s), 1 kept for later" in r.stdout, r.stdout
        mid = [line.split()[2] for line in r.stdout.splitlines() if line.startswith("py2: message ")][0]
        m = ws.by_id(mid)
        assert m["data"]["title"] == "Pro ends soon" and m["group"] == "billing"
        assert m["data"]["message"] == "Dear py2, your Pro plan ends in 3 days"

        r = run_example("multicast_template.py", "--addr", server.addr, "--token", svc, "--param", "plan=Pro", "py2")
        assert r.returncode == 2 and "days" in r.stderr, (r.returncode, r.stderr)

        r = run_example("publish_event.py", "--addr", server.addr, "--token", svc, "--user", "py2",
                        "--type", "order.shipped", "--data", '{"order_id": "A-1001", "carrier": "DHL"}')
        assert r.returncode == 0, r.stderr
        assert "reached 1 connection(s)" in r.stdout, r.stdout
        m = ws.by_id(r.stdout.split()[1])
        assert m["type"] == "order.shipped" and m["data"] == {"order_id": "A-1001", "carrier": "DHL"}
        r = run_example("publish_event.py", "--addr", server.addr, "--token", svc, "--user", "py2", "--type", "pong")
        assert r.returncode == 2 and "refused: type" in r.stderr, (r.returncode, r.stderr)
    finally:
        ws.close()


def test_package_builds_a_wheel_with_the_stubs(tmp_path):
    # a copy: setuptools writes build/ and *.egg-info next to the sources
    src = os.path.join(str(tmp_path), "src")
    shutil.copytree(PKG, src, ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__"))
    out = os.path.join(str(tmp_path), "dist")
    r = subprocess.run([PY, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                        "-w", out, src], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"))
    if r.returncode != 0 and ("No module named pip" in r.stderr or "setuptools" in r.stderr):
        pytest.skip("pip/setuptools missing: " + r.stderr.strip()[-200:])
    assert r.returncode == 0, r.stdout + r.stderr
    wheels = [f for f in os.listdir(out) if f.endswith(".whl")]
    assert len(wheels) == 1, wheels
    names = zipfile.ZipFile(os.path.join(out, wheels[0])).namelist()
    for f in ("notifyd_client/__init__.py", "notifyd_client/client.py", "notifyd_client/py.typed",
              "notifyd_client/_proto/notification_pb2.py", "notifyd_client/_proto/notification_pb2_grpc.py",
              "notifyd_client/_proto/notification_pb2.pyi"):
        assert f in names, (f, names)


def test_the_feed_rpcs(client):
    sent = [client.send_system_notification("py-feed", "f%d" % i) for i in range(3)]
    assert all(d.feed for d in sent)  # kept in the feed, and the answer says so
    assert not client.send_system_notification("py-feed-no", "x", feed=False).feed
    ids = [d.message_id for d in sent]
    page = client.list_feed("py-feed", limit=2)
    assert [i.id for i in page.items] == [ids[2], ids[1]] and page.next_before == ids[1]
    top = page.items[0]
    assert top.type == "system_notification" and top.data["message"] == "f2" and top.priority == "normal"
    assert not (top.seen or top.read or top.archived)
    assert [i.id for i in client.list_feed("py-feed", before=page.next_before).items] == [ids[0]]
    assert client.get_feed_counts("py-feed") == nc.FeedCounts(total=3, unseen=3, unread=3)
    m = client.mark_feed("py-feed", "read", ids[:2])
    assert m == nc.FeedMarked(updated=2, counts=nc.FeedCounts(total=3, unseen=1, unread=1))
    assert client.mark_feed("py-feed", "archive", all=True).counts.total == 0
    assert [i.id for i in client.list_feed("py-feed", filter="archived").items] == list(reversed(ids))
    with pytest.raises(ValueError):
        client.mark_feed("py-feed", "delete", ids[:1])
    with pytest.raises(nc.InvalidArgument) as e:
        client.list_feed("py-feed", limit=500)
    assert "limit" in e.value.details


def test_the_feed_flag_on_publish_and_notify(client):
    """feed=True keeps an event of one's own in the feed, feed=False keeps a notification out of
    it, and no feed= follows the type's default (system_notification: kept; publish: not)."""
    kept = client.publish("order.shipped", {"order_id": "A-1"}, user_id="py-feedflag", feed=True).message_id
    client.publish("order.packed", {"order_id": "A-1"}, user_id="py-feedflag")
    client.send_system_notification("py-feedflag", "not in the feed", feed=False)
    default = client.send_system_notification("py-feedflag", "in the feed").message_id
    items = client.list_feed("py-feedflag").items
    assert [i.id for i in items] == [default, kept]
    assert items[1].type == "order.shipped" and items[1].data == {"order_id": "A-1"}
