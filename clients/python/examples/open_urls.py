#!/usr/bin/python3
"""BatchGo Basic mode: ask a user's browser to open URLs, `delay` ms apart.

    /usr/bin/python3 clients/python/examples/open_urls.py --user 42 \
        --token "$(./build/notifyd token --user backend --role service)" https://example.com https://example.org
"""
import argparse
import sys

import _path  # noqa: F401
from notifyd_client import InvalidArgument, NotifydClient, NotifydError


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--addr", default="localhost:50051", help="notifyd's gRPC address")
    ap.add_argument("--token", required=True, help="a JWT with role service or admin")
    ap.add_argument("--user", required=True, help="the user whose browser opens the URLs")
    ap.add_argument("--task", default="batch_001", help="the BatchGo task id")
    ap.add_argument("--delay", type=int, default=1000, help="milliseconds between two tabs")
    ap.add_argument("urls", nargs="+", help="http:// or https:// URLs (1 to 100)")
    args = ap.parse_args()

    with NotifydClient(args.addr, token=args.token) as client:
        try:
            d = client.notify_batchgo_open_url(args.user, args.task, args.urls, delay=args.delay)
        except InvalidArgument as e:
            print("refused: %s" % e.details, file=sys.stderr)  # e.g. urls[1] must be an http:// or https:// URL
            return 2
        except NotifydError as e:
            print("failed: %s" % e, file=sys.stderr)
            return 1
    print("message %s reached %d connection(s)%s" % (d.message_id, d.connections, ", kept for later" if d.stored else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
