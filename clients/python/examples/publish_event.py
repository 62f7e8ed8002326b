#!/usr/bin/python3
"""Send your own event: any type, any JSON object as data, to one user (or several, or everyone).

    /usr/bin/python3 clients/python/examples/publish_event.py \
        --token "$(./build/notifyd token --user backend --role service)" \
        --user 42 --type order.shipped --data '{"order_id": "A-1001", "carrier": "DHL"}'

Every tab of user 42 gets
{"type":"order.shipped","user_id":"42","data":{"order_id": "A-1001", "carrier": "DHL"},...}
(data exactly as written). --store always keeps it for a user who is offline, --ttl-ms for how long.
"""
import argparse
import json
import sys

import _path  # noqa: F401
from notifyd_client import InvalidArgument, NotifydClient, NotifydError


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--addr", default="localhost:50051", help="notifyd's gRPC address")
    ap.add_argument("--token", required=True, help="a JWT with role service or admin")
    target = ap.add_mutually_exclusive_group(required=True)
    target.add_argument("--user", help="one user")
    target.add_argument("--users", help="several users, comma-separated")
    target.add_argument("--broadcast", action="store_true", help="every connection")
    ap.add_argument("--type", required=True, help="your event's type, e.g. order.shipped")
    ap.add_argument("--data", default="{}", help="a JSON object, delivered as written")
    ap.add_argument("--store", default="auto", choices=["auto", "always", "never"])
    ap.add_argument("--ttl-ms", type=int, default=0, help="how long a kept copy waits (0: the type's own)")
    ap.add_argument("--priority", default="normal", choices=["normal", "high", "urgent"])
    ap.add_argument("--group", default="", help="grouping key delivered in the envelope")
    args = ap.parse_args()
    try:
        json.loads(args.data)
    except ValueError as e:
        ap.error("--data is not JSON: %s" % e)

    try:
        with NotifydClient(args.addr, token=args.token) as client:
            p = client.publish(args.type, args.data.encode(), user_id=args.user or "",
                               user_ids=args.users.split(",") if args.users else None, broadcast=args.broadcast,
                               store=args.store, ttl_ms=args.ttl_ms, priority=args.priority, group=args.group)
    except InvalidArgument as e:
        print("refused: %s" % e.details, file=sys.stderr)
        return 2
    except NotifydError as e:
        print("failed: %s" % e, file=sys.stderr)
        return 1
    if p.message_ids:
        print("messages %s: %d user(s), %d reached, %d kept for later" % (
            " ".join(p.message_ids), p.users, p.reached, p.stored_users))
    else:
        print("message %s reached %d connection(s)%s" % (p.message_id, p.connections,
                                                         ", kept for later" if p.stored else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
