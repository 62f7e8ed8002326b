#!/usr/bin/python3
"""Send a system notification to every open tab of a user.

    /usr/bin/python3 clients/python/examples/send_notification.py --user 42 \
        --token "$(./build/notifyd token --user backend --role service)" --message "您有新的消息"
"""
import argparse
import sys

import _path  # noqa: F401
from notifyd_client import NotifydClient, NotifydError


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--addr", default="localhost:50051", help="notifyd's gRPC address")
    ap.add_argument("--token", required=True, help="a JWT with role service or admin")
    ap.add_argument("--user", required=True, help="the user to notify")
    ap.add_argument("--title", default="系统通知")
    ap.add_argument("--message", default="您有新的消息")
    ap.add_argument("--level", default="info", choices=["info", "warning", "error", "success"])
    args = ap.parse_args()

    with NotifydClient(args.addr, token=args.token) as client:
        try:
            d = client.send_system_notification(args.user, args.message, title=args.title, level=args.level)
        except NotifydError as e:
            print("failed: %s" % e, file=sys.stderr)
            return 1
    print("message %s reached %d connection(s)%s" % (d.message_id, d.connections, ", kept for later" if d.stored else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
