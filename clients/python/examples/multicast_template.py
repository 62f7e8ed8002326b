#!/usr/bin/python3
"""Keep a message template (admin token), then send it to several users in one call (service token).

    /usr/bin/python3 clients/python/examples/multicast_template.py \
        --admin-token "$(./build/notifyd token --user ops --role admin)" \
        --token "$(./build/notifyd token --user backend --role service)" \
        --param plan=Pro --param days=3 alice bob carol

Each user gets their own message id and text: "Dear alice, your Pro plan ends in 3 days".
Without --admin-token the template must exist already; --title/--message change it.
"""
import argparse
import sys

import _path  # noqa: F401
from notifyd_client import NotifydClient, NotifydError

TITLE = "{{plan}} ends soon"
MESSAGE = "Dear {{user_id}}, your {{plan}} plan ends in {{days}} days"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--addr", default="localhost:50051", help="notifyd's gRPC address")
    ap.add_argument("--token", required=True, help="a JWT with role service or admin (sends)")
    ap.add_argument("--admin-token", help="a JWT with role admin: puts the template first")
    ap.add_argument("--template", default="plan-reminder", help="the template's id")
    ap.add_argument("--title", default=TITLE)
    ap.add_argument("--message", default=MESSAGE)
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="a placeholder's value")
    ap.add_argument("--priority", default="normal", choices=["normal", "high", "urgent"])
    ap.add_argument("--group", default="", help="grouping key delivered in the envelope")
    ap.add_argument("users", nargs="+", help="the users to notify (up to 1000)")
    args = ap.parse_args()
    try:
        params = dict(p.split("=", 1) for p in args.param)
    except ValueError:
        ap.error("--param takes NAME=VALUE")

    try:
        if args.admin_token:
            with NotifydClient(args.addr, token=args.admin_token) as admin:
                put = admin.put_template(args.template, args.message, title=args.title)
                print("template %s %s: %r" % (put.template.id, "created" if put.created else "replaced",
                                              put.template.message))
        with NotifydClient(args.addr, token=args.token) as client:
            r = client.notify_users(args.users, template_id=args.template, params=params,
                                    priority=args.priority, group=args.group)
    except NotifydError as e:
        print("failed: %s" % e, file=sys.stderr)
        return 2 if e.code_name == "INVALID_ARGUMENT" else 1
    for user, message_id in zip(dict.fromkeys(args.users), r.message_ids):
        print("%s: message %s" % (user, message_id))
    print("%d user(s): %d reached on %d connection(s), %d kept for later" % (r.users, r.reached, r.connections,
                                                                           r.stored))
    return 0


if __name__ == "__main__":
    sys.exit(main())
