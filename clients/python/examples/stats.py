#!/usr/bin/python3
"""Who is online: GetStats, and IsUserOnline for the users named.

    /usr/bin/python3 clients/python/examples/stats.py \
        --token "$(./build/notifyd token --user ops --role admin)" 42
"""
import argparse
import sys

import _path  # noqa: F401
from notifyd_client import NotifydClient, NotifydError


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--addr", default="localhost:50051", help="notifyd's gRPC address")
    ap.add_argument("--token", required=True, help="a JWT with role service or admin")
    ap.add_argument("users", nargs="*")
    args = ap.parse_args()

    with NotifydClient(args.addr, token=args.token) as client:
        try:
            s = client.get_stats()
            print("%d connection(s), %d user(s) online: %s" % (s.total_connections, s.online_users,
                                                               ", ".join(s.connected_users) or "-"))
            for u in args.users:
                o = client.is_user_online(u)
                print("%s: %s (%d connection(s))" % (o.user_id, "online" if o.is_online else "offline", o.connections))
        except NotifydError as e:
            print("failed: %s" % e, file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
