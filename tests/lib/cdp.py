#!/usr/bin/python3
"""A minimal Chrome DevTools Protocol client (stdlib only: a WebSocket
handshake and frames, enough for one request and its answer) for the
tests that drive a headless Chromium already showing a page:

  cdp.py PORT eval EXPR          prints EXPR's value (JSON) in the first page
  cdp.py PORT screenshot FILE    writes a PNG of the first page to FILE

Chromium listens on 127.0.0.1:PORT (--remote-debugging-port). Exit 1 with
a message when there is no page or the evaluation throws."""
import base64
import json
import os
import socket
import struct
import sys
import urllib.request


def page_ws_path(port):
    targets = json.load(urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=5))
    for t in targets:
        if t.get("type") == "page":
            url = t["webSocketDebuggerUrl"]
            return url[url.index("/", len("ws://")):]
    sys.exit("cdp: no page target")


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            sys.exit("cdp: connection closed")
        buf += chunk
    return buf


def ws_send(s, text):
    data = text.encode()
    head = bytes([0x81])
    n = len(data)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    mask = os.urandom(4)
    s.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))


def ws_recv(s):
    """One whole text message (continuation frames joined)."""
    msg = b""
    while True:
        b0, b1 = recv_exact(s, 2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", recv_exact(s, 2))[0]
        elif n == 127:
            n = struct.unpack(">Q", recv_exact(s, 8))[0]
        msg += recv_exact(s, n)
        if b0 & 0x80:
            return msg.decode()


def call(port, method, params):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (page_ws_path(port), port, key)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += recv_exact(s, 1)
    if b" 101 " not in head.split(b"\r\n")[0]:
        sys.exit("cdp: handshake refused: %r" % head[:80])
    ws_send(s, json.dumps({"id": 1, "method": method, "params": params}))
    while True:
        m = json.loads(ws_recv(s))
        if m.get("id") == 1:
            s.close()
            if "error" in m:
                sys.exit("cdp: %s" % m["error"])
            return m["result"]


def main():
    port, what, arg = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    if what == "eval":
        r = call(port, "Runtime.evaluate", {"expression": arg, "returnByValue": True})
        if "exceptionDetails" in r:
            sys.exit("cdp: %s" % r["exceptionDetails"].get("text"))
        print(json.dumps(r["result"].get("value")))
    elif what == "screenshot":
        r = call(port, "Page.captureScreenshot", {"format": "png"})
        with open(arg, "wb") as f:
            f.write(base64.b64decode(r["data"]))
    else:
        sys.exit("cdp: unknown command %s" % what)


main()
