#!/usr/bin/env python3
"""Tries every way into a storage engine that a local process without the daemon's keys has.

Takes a JSON object as its argument: {"tcp": [ports], "unix": [paths], "files": [paths],
"bucket": "b", "key": "k"}. For each TCP port and Unix socket it sends, on fresh connections,
the requests that read, write, delete, list and assign through SeaweedFS's filer, volume, master
and S3 APIs, plus a gRPC (HTTP/2) greeting; for each file it tries to open it for reading.
Prints one JSON object: {"<target>": {"<action>": "refused: <why>" | "status <code>" | "grpc answered"}}.
"""
import errno
import json
import socket
import sys

TIMEOUT = 3


def connect(target):
    if target.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        addr = target[5:]
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        addr = ("127.0.0.1", int(target[4:]))
    s.settimeout(TIMEOUT)
    s.connect(addr)
    return s


def http(target, method, path, body=b""):
    try:
        s = connect(target)
    except OSError as e:
        return "refused: " + (errno.errorcode.get(e.errno, str(e.errno)) if e.errno else str(e))
    try:
        req = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body
        s.sendall(req)
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        line = data.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split(" ")
        if len(parts) >= 2 and parts[0].startswith("HTTP/"):
            return "status " + parts[1]
        return "no http answer: " + repr(data[:40])
    except OSError as e:
        return "refused: " + str(e)
    finally:
        s.close()


def grpc(target):
    try:
        s = connect(target)
    except OSError as e:
        return "refused: " + (errno.errorcode.get(e.errno, str(e.errno)) if e.errno else str(e))
    try:
        # The HTTP/2 client preface and an empty SETTINGS frame; a gRPC server answers with SETTINGS.
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        data = s.recv(9)
        if len(data) >= 4 and data[3] == 4:
            return "grpc answered"
        return "no grpc answer: " + repr(data[:20])
    except OSError as e:
        return "refused: " + str(e)
    finally:
        s.close()


def main():
    spec = json.loads(sys.argv[1])
    b, k = spec["bucket"], spec["key"]
    actions = {
        "filer read": ("GET", f"/buckets/{b}/{k}"),
        "filer write": ("PUT", f"/buckets/{b}/planted-by-probe"),
        "filer delete": ("DELETE", f"/buckets/{b}/{k}"),
        "filer listing": ("GET", f"/buckets/{b}/?limit=10"),
        "volume assign": ("GET", "/dir/assign"),
        "master status": ("GET", "/cluster/status"),
        "volume status": ("GET", "/status"),
        "s3 read": ("GET", f"/{b}/{k}"),
        "s3 write": ("PUT", f"/{b}/planted-by-probe"),
        "s3 delete": ("DELETE", f"/{b}/{k}"),
        "s3 listing": ("GET", f"/{b}?list-type=2"),
    }
    out = {}
    targets = [f"tcp:{p}" for p in spec.get("tcp", [])] + [f"unix:{p}" for p in spec.get("unix", [])]
    for t in targets:
        r = {}
        for name, (method, path) in actions.items():
            r[name] = http(t, method, path, b"planted" if method == "PUT" else b"")
        r["grpc"] = grpc(t)
        out[t] = r
    for f in spec.get("files", []):
        try:
            with open(f, "rb") as fh:
                fh.read(1)
            out["file:" + f] = {"open": "read"}
        except OSError as e:
            out["file:" + f] = {"open": "refused: " + errno.errorcode.get(e.errno, str(e.errno))}
    json.dump(out, sys.stdout, indent=1, sort_keys=True)


main()
