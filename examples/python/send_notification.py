#!/usr/bin/python3
"""Send a notification to a user's browser tabs through notifyd's gRPC API.

    /usr/bin/python3 examples/python/send_notification.py --user 42 --token "$(./build/notifyd token --user backend --role service)"

Generates the gRPC stubs from proto/ on first use (python3-grpc-tools).
"""
import argparse
import os
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def stubs():
    out = os.path.join(tempfile.gettempdir(), "notifyd-example-stubs")
    if not os.path.exists(os.path.join(out, "notification", "v1", "notification_pb2_grpc.py")):
        os.makedirs(out, exist_ok=True)
        subprocess.check_call([sys.executable, "-m", "grpc_tools.protoc", "-I" + os.path.join(TOP, "proto"),
                               "--python_out=" + out, "--grpc_python_out=" + out,
                               "notification/v1/notification.proto"])
    sys.path.insert(0, out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--addr", default="localhost:50051", help="notifyd gRPC address")
    ap.add_argument("--token", required=True, help="a JWT with role service or admin")
    ap.add_argument("--user", required=True, help="the user to notify")
    ap.add_argument("--url", action="append", default=[], help="URL to open (repeatable)")
    args = ap.parse_args()

    stubs()
    import grpc
    from notification.v1 import notification_pb2 as pb
    from notification.v1 import notification_pb2_grpc as pbg

    with grpc.insecure_channel(args.addr) as channel:
        stub = pbg.NotificationServiceStub(channel)
        metadata = [("authorization", "Bearer " + args.token)]
        try:
            reply = stub.NotifyBatchGoOpenUrl(
                pb.NotifyBatchGoOpenUrlRequest(user_id=args.user, task_id="batch_001",
                                               urls=args.url or ["https://example.com"], delay=1000),
                metadata=metadata, timeout=5)
        except grpc.RpcError as e:
            print("failed: %s: %s" % (e.code().name, e.details()), file=sys.stderr)
            return 1
        print("message %s reached %d connection(s)" % (reply.message_id, reply.connections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
