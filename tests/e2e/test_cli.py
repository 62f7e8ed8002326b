"""The command line: --help, configuration errors, ports in use, the
development token command and the JWT secret created in the data dir."""
import os
import re
import socket
import stat
import subprocess
import tempfile

import jwt
import pytest

import nd


def notifyd(*args, env=None, cwd=None, timeout=30):
    e = dict(os.environ)
    e.pop("NOTIFYD_JWT_SECRET", None)
    e.update(env or {})
    return subprocess.run([nd.BIN] + list(args), env=e, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def test_help_lists_every_variable_with_its_default():
    r = notifyd("--help")
    assert r.returncode == 0
    for var, default in [("NOTIFYD_GRPC_ADDR", "0.0.0.0:50051"), ("NOTIFYD_HTTP_ADDR", "0.0.0.0:8080"),
                         ("NOTIFYD_DATA_DIR", "./data"), ("NOTIFYD_JWT_SECRET", None),
                         ("NOTIFYD_LOG_LEVEL", "info"), ("NOTIFYD_SHUTDOWN_GRACE_MS", "10000")]:
        line = [l for l in r.stdout.splitlines() if var in l]
        assert line, var
        if default:
            assert default in line[0]
    assert "notifyd token" in r.stdout


def test_version():
    r = notifyd("--version")
    assert r.returncode == 0 and re.match(r"notifyd \d+\.\d+\.\d+", r.stdout)


@pytest.mark.parametrize("args,env,needle", [
    (["--http-addr", "127.0.0.1:99999"], {}, "--http-addr"),
    (["--grpc-addr", "nope"], {}, "--grpc-addr"),
    ([], {"NOTIFYD_LOG_LEVEL": "loud"}, "NOTIFYD_LOG_LEVEL"),
    ([], {"NOTIFYD_SHUTDOWN_GRACE_MS": "soon"}, "NOTIFYD_SHUTDOWN_GRACE_MS"),
    ([], {"NOTIFYD_MAX_FRAME_BYTES": "1"}, "NOTIFYD_MAX_FRAME_BYTES"),
    ([], {"NOTIFYD_WS_DEFLATE": "maybe"}, "NOTIFYD_WS_DEFLATE"),
    (["--ws-deflate", "enabled"], {}, "--ws-deflate"),
    (["--bogus"], {}, "--bogus"),
    (["--log-level"], {}, "--log-level"),
])
def test_bad_configuration_is_one_clear_line(args, env, needle):
    r = notifyd(*args, env=env)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("notifyd: ") and needle in lines[0], r.stderr


def _busy_port():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    return s


@pytest.mark.parametrize("which", ["--http-addr", "--grpc-addr"])
def test_port_in_use_is_one_clear_line(which):
    busy = _busy_port()
    try:
        other = "--grpc-addr" if which == "--http-addr" else "--http-addr"
        with tempfile.TemporaryDirectory() as d:
            r = notifyd(which, "127.0.0.1:%d" % busy.getsockname()[1], other, "127.0.0.1:0",
                        "--data-dir", d, env={"NOTIFYD_JWT_SECRET": nd.SECRET})
        assert r.returncode == 1
        errs = [l for l in r.stderr.splitlines() if l.startswith("notifyd: ")]
        assert len(errs) == 1 and "cannot listen" in errs[0] and str(busy.getsockname()[1]) in errs[0], r.stderr
    finally:
        busy.close()


def test_server_creates_the_secret_once_and_token_signs_with_it():
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "data")
        with nd.Server(data_dir=data, secret=None) as s:
            path = os.path.join(data, "jwt_secret")
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
            assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
            secret = open(path).read().strip()
            listening = s.wait_log(lambda r: r.get("msg") == "listening")
            assert listening["jwt_keys"] == "the HS256 secret in %s/jwt_secret" % data
            r = notifyd("token", "--user", "42", "--data-dir", data)
            assert r.returncode == 0, r.stderr
            tok = r.stdout.strip()
            assert "\n" not in tok  # stdout is the token alone
            assert r.stderr.strip() == "notifyd token: signed with the HS256 secret in %s/jwt_secret" % data
            claims = jwt.decode(tok, secret, algorithms=["HS256"])
            assert claims["user_id"] == "42" and claims["role"] == "user"
            assert 86000 < claims["exp"] - claims["iat"] <= 86400
            r2 = notifyd("token", "--user", "svc", "--role", "service", "--ttl", "15m", "--data-dir", data)
            c2 = jwt.decode(r2.stdout.strip(), secret, algorithms=["HS256"])
            assert c2["role"] == "service" and c2["exp"] - c2["iat"] == 900

            async def go():
                ws, hello = await s.connect(tok=tok)
                assert hello["user_id"] == "42"
                await ws.close()
            nd.run(go())
        assert open(path).read().strip() == secret


def test_token_never_creates_a_key():
    """Run from another directory with nothing configured, `notifyd token` says where it looked
    instead of signing with a new secret the server does not know."""
    with tempfile.TemporaryDirectory() as cwd:
        r = notifyd("token", "--user", "42", cwd=cwd)
        assert r.returncode == 1 and r.stdout == ""
        assert "no JWT key" in r.stderr and "NOTIFYD_JWT_SECRET" in r.stderr
        assert os.path.join(os.path.realpath(cwd), "data", "jwt_secret") in r.stderr, r.stderr
        assert os.listdir(cwd) == []


def test_token_command_errors():
    r = notifyd("token")
    assert r.returncode == 2 and "--user is required" in r.stderr
    r = notifyd("token", "--user", "42", "--role", "root")
    assert r.returncode == 2 and "root" in r.stderr
    r = notifyd("token", "--user", "has space")
    assert r.returncode == 1 and "--user" in r.stderr


def test_env_secret_wins_over_the_data_dir():
    with tempfile.TemporaryDirectory() as d:
        r = notifyd("token", "--user", "7", "--data-dir", d, env={"NOTIFYD_JWT_SECRET": "env-secret-env-secret-0123456789ab"})
        assert r.returncode == 0
        assert jwt.decode(r.stdout.strip(), "env-secret-env-secret-0123456789ab", algorithms=["HS256"])["user_id"] == "7"
        assert not os.path.exists(os.path.join(d, "jwt_secret"))


def _free(port):
    s = socket.socket()
    try:
        s.bind(("0.0.0.0", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def test_embedded_default_ports_and_data_dir():
    """What the README's run command starts: no flags at all."""
    if not (_free(50051) and _free(8080)):
        pytest.skip("ports 50051/8080 are taken on this machine")
    with tempfile.TemporaryDirectory() as cwd:
        s = nd.Server(cwd=cwd, data_dir="./data", secret=None, ports="default")
        s.start()
        try:
            assert (s.grpc_port, s.http_port) == (50051, 8080)
            assert stat.S_IMODE(os.stat(os.path.join(cwd, "data", "jwt_secret")).st_mode) == 0o600
            st, _, body = nd.http(s, "GET", "/healthz")
            assert st == 200
        finally:
            s.close()


@pytest.mark.parametrize("secret,needle", [
    ("too-short", "at least 32"),
    ("a-secret-that-is-long-enough-but-ends\n", "whitespace"),
    ("REPLACE-ME-with-the-output-of-openssl-rand-base64-48", "placeholder"),
])
def test_bad_env_secrets_are_refused(secret, needle):
    with tempfile.TemporaryDirectory() as d:
        r = notifyd("--data-dir", d, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
                    env={"NOTIFYD_JWT_SECRET": secret})
        assert r.returncode == 1 and needle in r.stderr and secret.strip() not in r.stderr


def test_secret_file_drops_its_newline():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "secret")
        with open(path, "w") as f:
            f.write(nd.SECRET + "\n")
        with nd.Server(args=["--jwt-secret-file", path], secret=None) as s:
            async def go():
                ws, hello = await s.connect(tok=nd.token("filed"))
                assert hello["user_id"] == "filed"
                await ws.close()
            nd.run(go())


def test_unknown_variables_are_warned_about_but_service_links_are_not():
    # the test fault switches are notifyd's own, too (read only with NOTIFYD_TEST_FAULTS=1)
    with nd.Server(env={"NOTIFYD_HEARTBEAT_INTERVALL_MS": "5", "NOTIFYD_SERVICE_HOST": "10.0.0.1",
                        "NOTIFYD_PORT_8080_TCP": "tcp://10.0.0.1:8080", "NOTIFYD_TEST_FAULT_WS": "1",
                        "NOTIFYD_TEST_FAULT_USR2": "nd-ckpt"}) as s:
        w = s.wait_log(lambda r: r.get("msg", "").startswith("unknown setting"))
        assert w["variable"] == "NOTIFYD_HEARTBEAT_INTERVALL_MS" and w["level"] == "warn"
        assert len([r for r in s.records() if r.get("msg", "").startswith("unknown setting")]) == 1
        listening = s.wait_log(lambda r: r.get("msg") == "listening")
        assert listening["max_connections"] > 0 and listening["open_files_limit"] > 0
    assert not [r for r in s.records() if r.get("variable") in ("NOTIFYD_SERVICE_HOST", "NOTIFYD_PORT_8080_TCP")]


def test_one_notifyd_per_data_dir():
    """A second notifyd on the same data dir refuses to start and names the holder; the lock
    goes with the holder, even when it is killed."""
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "data")
        first = nd.Server(data_dir=data).start()
        try:
            r = notifyd("--data-dir", data, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
                        env={"NOTIFYD_JWT_SECRET": nd.SECRET})
            assert r.returncode == 1, r.stderr
            errs = [l for l in r.stderr.splitlines() if l.startswith("notifyd: ")]
            assert len(errs) == 1, r.stderr
            assert "in use by notifyd pid %d" % first.proc.pid in errs[0], errs[0]
            assert os.path.realpath(data) in errs[0] and "--data-dir" in errs[0]
            # the first one is untouched
            st, _, _ = nd.http(first, "GET", "/readyz")
            assert st == 200
        finally:
            first.close()
        # stopped: the next one starts; killed: the kernel let go of the lock too
        second = nd.Server(data_dir=data).start()
        second.proc.kill()
        second.proc.wait(10)
        nd._LIVE.discard(second.proc)
        second.proc = None
        second.tmp.cleanup()
        with nd.Server(data_dir=data) as third:
            assert open(os.path.join(data, "notifyd.lock")).read().strip() == str(third.proc.pid)



def test_libwebsockets_logs_through_notifyds_own_formatter():
    """libwebsockets 4.1.6 formats every log line into one static buffer, which two
    WebSocket threads raced on (ThreadSanitizer). src/log.c defines _lws_log and
    _lws_logv with a buffer per call; they only help if the dynamic linker binds
    libwebsockets' own calls to them, which this checks (LD_DEBUG=bindings)."""
    r = notifyd("--help", env={"LD_DEBUG": "bindings"})
    assert r.returncode == 0
    for sym in ("_lws_log", "_lws_logv"):
        bound = [l for l in r.stderr.splitlines()
                 if "libwebsockets.so" in l and "symbol `%s'" % sym in l]
        assert bound, "%s: no binding from libwebsockets at all" % sym
        assert all(os.path.basename(nd.BIN) in l.split(" to ")[1] for l in bound), bound
