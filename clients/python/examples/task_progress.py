#!/usr/bin/python3
"""A BatchGo task reporting its progress: batchgo_start, batchgo_progress per item, batchgo_complete.

    /usr/bin/python3 clients/python/examples/task_progress.py --user 42 \
        --token "$(./build/notifyd token --user backend --role service)" --items 5
"""
import argparse
import sys
import time

import _path  # noqa: F401
from notifyd_client import NotifydClient, NotifydError


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--addr", default="localhost:50051", help="notifyd's gRPC address")
    ap.add_argument("--token", required=True, help="a JWT with role service or admin")
    ap.add_argument("--user", required=True)
    ap.add_argument("--task", default="batch_002")
    ap.add_argument("--items", type=int, default=5)
    ap.add_argument("--pause", type=float, default=0.2, help="seconds per item")
    args = ap.parse_args()

    total, started = args.items, int(time.time())
    with NotifydClient(args.addr, token=args.token) as client:
        try:
            client.notify_batchgo_start(args.user, args.task, total=total, start_time=started, message="开始处理")
            for done in range(1, total + 1):
                time.sleep(args.pause)  # the real work
                client.notify_batchgo_progress(args.user, args.task, progress=100.0 * done / total, total=total,
                                               completed=done, start_time=started,
                                               message="处理进度: %d/%d" % (done, total))
            d = client.notify_batchgo_complete(args.user, args.task, total=total, completed=total,
                                               start_time=started, end_time=int(time.time()), message="完成")
        except NotifydError as e:
            print("failed: %s" % e, file=sys.stderr)
            return 1
    print("task %s: %d items reported; completion %s reached %d connection(s)" % (args.task, total, d.message_id, d.connections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
