#!/usr/bin/env python3
"""A fault-injecting HTTP proxy for the reliability tests: forwards requests to an S3 endpoint
and, as told by a control file, answers some of them with a fault instead.

usage: faultproxy.py LISTEN_PORT UPSTREAM_PORT CONTROL_FILE EVENT_LOG

CONTROL_FILE holds JSON read on every request, e.g. {"fault": "503", "count": 2, "match": "PUT"}:
  fault  "none" | "500" (InternalError) | "503" (SlowDown) | "reset" (connection reset, no answer)
         | "stall" (wait `seconds`, default 5, then forward)
  count  how many matching requests get the fault (-1: all); decremented in the file as used
  match  only requests whose "METHOD /path?query" contains this text
Every request appends one line to EVENT_LOG: "<fault or ok> METHOD /path".
Binds 127.0.0.1 only.
"""
import http.client
import http.server
import json
import os
import socket
import struct
import sys
import threading
import time

LISTEN, UPSTREAM, CONTROL, EVENTS = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
lock = threading.Lock()

XML = {
    "500": (500, "InternalError", "injected internal error"),
    "503": (503, "SlowDown", "injected slow down"),
}


def take_fault(line):
    """The fault for this request (and uses one of its count), or None."""
    with lock:
        try:
            with open(CONTROL) as f:
                c = json.load(f)
        except (OSError, ValueError):
            return None, 0
        fault, count = c.get("fault", "none"), c.get("count", -1)
        if fault == "none" or count == 0 or c.get("match", "") not in line:
            return None, 0
        if count > 0:
            c["count"] = count - 1
            tmp = CONTROL + ".tmp"
            with open(tmp, "w") as f:
                json.dump(c, f)
            os.replace(tmp, CONTROL)
        return fault, c.get("seconds", 5)


def event(text):
    with lock:
        with open(EVENTS, "a") as f:
            f.write(text + "\n")


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def relay(self):
        line = f"{self.command} {self.path}"
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        fault, seconds = take_fault(line)
        event(f"{fault or 'ok'} {line}")
        if fault == "reset":
            # RST instead of FIN: the client sees a connection reset.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if fault in XML:
            status, code, message = XML[fault]
            payload = f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            return
        if fault == "stall":
            time.sleep(seconds)
        upstream = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=120)
        upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for k, v in self.headers.items():
            if k.lower() not in ("expect", "connection"):
                upstream.putheader(k, v)
        upstream.endheaders(body)
        r = upstream.getresponse()
        data = r.read()
        self.send_response(r.status, r.reason)
        for k, v in r.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", (r.getheader("Content-Length") or "0") if self.command == "HEAD" else str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        upstream.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = relay


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


if __name__ == "__main__":
    server = Server(("127.0.0.1", LISTEN), Proxy)
    print("listening", flush=True)
    server.serve_forever()
