"""Liveness that means working (issue 15, SPEC §9): /healthz and gRPC
Health/Check report failure when the WebSocket loop (nd-ws) or the gRPC loop
(nd-grpc) has not turned for NOTIFYD_WATCHDOG_MS, and SIGTERM ends the
process within the grace period plus 2 s even with a loop stuck.

The stall is made on purpose by the test-only fault switch: with
NOTIFYD_TEST_FAULTS=1, SIGUSR1 stalls nd-ws (NOTIFYD_TEST_FAULT_WS=k: nd-wsk) forever and SIGUSR2 stalls
nd-grpc (NOTIFYD_TEST_FAULT_USR2=nd-ckpt: the store's checkpointer) forever. Without it the
signals must stall nothing."""
import json
import signal
import subprocess
import time

import pytest

import rawhttp as rh

WATCHDOG_MS = 1000
GRACE_MS = 2000
SERVING, NOT_SERVING = 1, 2
FAULTS = {"NOTIFYD_TEST_FAULTS": "1", "NOTIFYD_WATCHDOG_MS": str(WATCHDOG_MS)}
GRACE = ["--shutdown-grace-ms", str(GRACE_MS)]


def healthz(server, timeout=2.0):
    """(status, body) of /healthz, or (exception name, None)."""
    try:
        a = rh.get(server.http_port, "/healthz", timeout)
        return a.status, a.body.decode(errors="replace")
    except (OSError, rh.Closed, TimeoutError) as e:
        return type(e).__name__, None


def health_check(server, timeout=2.0):
    """Health/Check's status number, or the RPC error's code name."""
    try:
        return rh.grpc_health(server, timeout)
    except rh.grpc.RpcError as e:
        return e.code().name


def wait_for(fn, timeout):
    """Polls fn() until it returns a true value; (value, seconds)."""
    t0 = time.monotonic()
    while True:
        v = fn()
        if v or time.monotonic() - t0 > timeout:
            return v, time.monotonic() - t0
        time.sleep(0.1)


def stop_stuck(server):
    """SIGTERM with a loop stalled: the process must end within the grace
    period + 2 s (+ 2 s margin), non-zero, logging "shutdown timed out"."""
    assert server.proc.poll() is None, "notifyd already exited (rc %s)" % server.proc.returncode
    t0 = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    bound = (GRACE_MS + 2000) / 1000 + 2
    try:
        rc = server.proc.wait(bound)
    except subprocess.TimeoutExpired:
        pytest.fail("still running %.0f s after SIGTERM with a stalled loop" % bound)
    took = time.monotonic() - t0
    with server.cond:
        server.cond.wait_for(lambda: server.lines and server.lines[-1] is None, 5)
    line = [r for r in server.records() if r.get("msg") == "shutdown timed out"]
    print("exit %s after %.2f s; %s" % (rc, took, line[:1]))
    rh.kill(server)  # reaped: the clean-stop checks do not apply
    assert rc != 0, "a shutdown that timed out exited 0"
    assert line, "no \"shutdown timed out\" log line"


def test_healthy_before_any_fault():
    """With the fault switch armed but not pulled, both checks say healthy."""
    with rh.serving(env=FAULTS) as s:
        assert health_check(s) == SERVING
        st, body = healthz(s)
        assert st == 200, (st, body)


def test_grpc_stall_shows_on_healthz():
    """nd-grpc stuck: /healthz answers 503 {"status":"stalled", ... nd-grpc}
    and the log names the thread; SIGTERM still ends the process."""
    with rh.serving(args=GRACE, env=FAULTS) as s:
        s.proc.send_signal(signal.SIGUSR2)
        last = []

        def stalled():
            last[:] = healthz(s)
            return last[0] == 503

        _, took = wait_for(stalled, 5.0)
        st, body = last
        print("/healthz after the gRPC stall: %s %s after %.2f s" % (st, body, took))
        assert st == 503, "no 503 within 5 s: last %s %s" % (st, body)
        doc = json.loads(body)
        assert doc.get("status") == "stalled", doc
        assert "nd-grpc" in body, body
        rec = s.wait_log(lambda r: r.get("msg") == "thread stalled" and r.get("thread") == "nd-grpc",
                         timeout=5)
        print("log:", rec)
        stop_stuck(s)


def test_ws_stall_shows_on_grpc_health():
    """nd-ws stuck: Health/Check answers NOT_SERVING within 5 s (/healthz,
    answered by the stuck thread, may time out); SIGTERM still ends it."""
    with rh.serving(args=GRACE, env=FAULTS) as s:
        s.proc.send_signal(signal.SIGUSR1)
        st, took = wait_for(lambda: health_check(s) == NOT_SERVING, 5.0)
        print("Health/Check NOT_SERVING after %.2f s: %s" % (took, st))
        assert st, "Health/Check still %s 5 s after the nd-ws stall" % health_check(s)
        h = healthz(s, 2.0)
        print("/healthz while nd-ws is stuck:", h)
        assert h[0] in (503, "TimeoutError"), h
        print("log:", [r for r in s.records() if r.get("msg") == "thread stalled"][:1])
        stop_stuck(s)


def test_a_second_websocket_threads_stall_shows_too():
    """nd-ws1 stuck (NOTIFYD_WS_THREADS=2; NOTIFYD_TEST_FAULT_WS=1 points SIGUSR1 at it):
    nd-ws still answers /healthz -- 503 naming nd-ws1 --, Health/Check is NOT_SERVING,
    the log says which thread, and SIGTERM still ends the process."""
    env = dict(FAULTS, NOTIFYD_WS_THREADS="2", NOTIFYD_TEST_FAULT_WS="1")
    with rh.serving(args=GRACE, env=env) as s:
        s.proc.send_signal(signal.SIGUSR1)

        def stalled():
            st, body = healthz(s)
            return (st, body) if st == 503 else None
        got, took = wait_for(stalled, 5.0)
        print("/healthz after the nd-ws1 stall: %s after %.2f s" % (got, took))
        assert got, "/healthz still %s 5 s after the nd-ws1 stall" % (healthz(s),)
        doc = json.loads(got[1])
        assert doc.get("status") == "stalled" and doc.get("thread") == "nd-ws1", doc
        assert health_check(s) == NOT_SERVING
        s.wait_log(lambda r: r.get("msg") == "thread stalled" and r.get("thread") == "nd-ws1",
                   timeout=5)
        stop_stuck(s)


def test_a_stuck_checkpointer_is_logged_and_named_at_the_stop():
    """nd-ckpt stuck (NOTIFYD_TEST_FAULT_USR2=nd-ckpt points SIGUSR2 at it): the log names it,
    not as liveness -- /healthz and Health/Check stay healthy and notifications still go out
    (commits do not wait for checkpoints) --, and SIGTERM ends the process naming nd-ckpt."""
    env = dict(FAULTS, NOTIFYD_TEST_FAULT_USR2="nd-ckpt")
    with rh.serving(args=GRACE, env=env) as s:
        s.proc.send_signal(signal.SIGUSR2)
        rec = s.wait_log(lambda r: r.get("msg") == "thread stalled" and r.get("thread") == "nd-ckpt",
                         timeout=5)
        print("log:", rec)
        assert rec.get("liveness") is False, rec
        assert healthz(s)[0] == 200, healthz(s)
        assert health_check(s) == SERVING
        rh.delivery(s)
        stop_stuck(s)
        line = [r for r in s.records() if r.get("msg") == "shutdown timed out"]
        assert line[0].get("stuck") == "nd-ckpt", line


@pytest.mark.parametrize("sig", [signal.SIGUSR1, signal.SIGUSR2], ids=["SIGUSR1", "SIGUSR2"])
def test_fault_signals_do_nothing_unarmed(sig):
    """Without NOTIFYD_TEST_FAULTS the fault signals stall nothing (and do
    not end the process): both checks stay healthy past the watchdog period."""
    with rh.serving(env={"NOTIFYD_WATCHDOG_MS": str(WATCHDOG_MS)}) as s:
        s.proc.send_signal(sig)
        deadline = time.monotonic() + 2 * WATCHDOG_MS / 1000
        while time.monotonic() < deadline:
            st, body = healthz(s)
            if st != 200:
                time.sleep(0.2)  # an exit after a signal takes a moment to show
                assert s.proc.poll() is None, "notifyd ended on %s (rc %s)" % (sig.name, s.proc.poll())
            assert st == 200, (st, body)
            time.sleep(0.2)
        assert health_check(s) == SERVING
        rh.delivery(s)
