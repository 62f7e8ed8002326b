"""Start-up and shutdown as a user sees them, and the README's Python example."""
import os
import signal
import subprocess

import pytest
import websockets

import nd
from nd import recv, run


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_closes_clients_with_1001_and_exits_0(sig):
    s = nd.Server().start()
    try:
        async def go():
            socks = [(await s.connect(user="u%d" % (i % 3)))[0] for i in range(6)]
            s.send_signal(sig)
            for ws in socks:
                with pytest.raises(websockets.exceptions.ConnectionClosed):
                    while True:
                        await recv(ws)
                assert ws.close_code == 1001
                assert "shutting down" in ws.close_reason

        run(go())
        assert s.stop(timeout=15) == 0
        msgs = [r["msg"] for r in s.records()]
        assert "draining" in msgs and msgs[-1] == "stopped"
    finally:
        s.close()


def test_shutdown_with_nothing_connected_is_quick():
    s = nd.Server().start()
    try:
        assert s.stop(timeout=10) == 0
    finally:
        s.close()


def test_readme_python_example(server):
    async def go():
        ws, _ = await server.connect(user="42")
        tok = nd.token("backend", "service")
        example = os.path.join(nd.TOP, "examples", "python", "send_notification.py")
        p = subprocess.run(["/usr/bin/python3", example, "--addr", "127.0.0.1:%d" % server.grpc_port,
                            "--token", tok, "--user", "42", "--url", "https://a.example"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        assert "reached 1 connection" in p.stdout
        m = await recv(ws)
        assert m["type"] == "batchgo_open_url" and m["data"]["urls"] == ["https://a.example"]
        await ws.close()

    run(go())
