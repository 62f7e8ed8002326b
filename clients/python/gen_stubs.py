#!/usr/bin/python3
"""Generates notifyd_client/_proto/ from the repository's proto/ (protoc + grpc_python_plugin).

    clients/python/gen_stubs.py           # regenerate after changing proto/
    clients/python/gen_stubs.py --check   # exit 1 if the committed copy is stale (77: tools missing)

Debian: apt-get install protobuf-compiler protobuf-compiler-grpc. protoc 3.21 emits code for
protobuf runtimes >= 3.20 (Debian 12's python3-protobuf, and PyPI's 4.x and 5.x).
"""
import difflib
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
PROTO_DIR = os.path.join(TOP, "proto")
PROTO = "notification/v1/notification.proto"
OUT = os.path.join(HERE, "notifyd_client", "_proto")
PKG = "notifyd_client._proto"
FILES = ("notification_pb2.py", "notification_pb2.pyi", "notification_pb2_grpc.py")


def generate(dest):
    protoc = os.environ.get("PROTOC") or shutil.which("protoc")
    plugin = os.environ.get("GRPC_PYTHON_PLUGIN") or shutil.which("grpc_python_plugin")
    if not protoc or not plugin:
        return "needs protoc and grpc_python_plugin (apt-get install protobuf-compiler protobuf-compiler-grpc)"
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.check_call([protoc, "-I" + PROTO_DIR, "--python_out=" + tmp, "--pyi_out=" + tmp,
                               "--grpc_python_out=" + tmp, "--plugin=protoc-gen-grpc_python=" + plugin, PROTO])
        src = os.path.join(tmp, os.path.dirname(PROTO))
        for name in FILES:
            with open(os.path.join(src, name), encoding="utf-8") as f:
                text = f.read()
            # the stubs live in this package, not in a top-level `notification` package;
            # the .proto file name (its identity in protobuf's descriptor pool) is unchanged
            text = text.replace("from notification.v1 import notification_pb2 as", "from . import notification_pb2 as")
            text = text.replace("'notification.v1.notification_pb2'", "'%s.notification_pb2'" % PKG)
            with open(os.path.join(dest, name), "w", encoding="utf-8") as f:
                f.write(text)
    return None


def main():
    check = "--check" in sys.argv[1:]
    if not check:
        err = generate(OUT)
        if err:
            sys.exit("gen_stubs: " + err)
        print("gen_stubs: wrote " + ", ".join(FILES) + " to " + OUT)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        err = generate(tmp)
        if err:
            print("gen_stubs: SKIP: " + err, file=sys.stderr)
            return 77
        stale = False
        for name in FILES:
            with open(os.path.join(tmp, name), encoding="utf-8") as f:
                want = f.read()
            have_path = os.path.join(OUT, name)
            have = open(have_path, encoding="utf-8").read() if os.path.exists(have_path) else ""
            if have != want:
                stale = True
                sys.stdout.writelines(difflib.unified_diff(have.splitlines(True), want.splitlines(True),
                                                           "committed/" + name, "generated/" + name, n=1))
        if stale:
            print("gen_stubs: clients/python/notifyd_client/_proto is stale: run clients/python/gen_stubs.py")
            return 1
    print("gen_stubs: clients/python/notifyd_client/_proto matches proto/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
