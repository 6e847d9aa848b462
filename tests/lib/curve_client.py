"""A CURVE DEALER client for tests, speaking raw bytes to the coordinator.
Usage: curve_client.py ENDPOINT SERVER_PUBLIC_Z85 SECRET_KEY_FILE SCRIPT
SCRIPT is a list of steps, one per line:
  send HEX            one frame
  sendmulti HEX HEX   one message of several frames
  random N COUNT      COUNT frames of N random bytes
  big N               one frame of N bytes
  sleep SECONDS
  reconnect
  expect SECONDS      wait for any reply, print its hex (exit 1 if none)
  replies N SECONDS   wait for N replies in all, print "replies N" (exit 1 if fewer)
Prints what it did; exits 0 when the script ran."""
import os
import re
import sys
import time

import zmq


def read_keys(path):
    text = open(path).read()
    pub = re.search(r'public-key = "(.{40})"', text).group(1)
    sec = re.search(r'secret-key = "(.{40})"', text).group(1)
    return pub.encode(), sec.encode()


endpoint, server_key, secret_file, script = sys.argv[1:5]
pub, sec = read_keys(secret_file)
ctx = zmq.Context()


def connect():
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.curve_serverkey = server_key.encode()
    s.curve_publickey = pub
    s.curve_secretkey = sec
    s.connect(endpoint)
    return s


sock = connect()
for line in open(script):
    words = line.split()
    if not words:
        continue
    op, args = words[0], words[1:]
    if op == "send":
        sock.send(bytes.fromhex(args[0]) if args else b"")
    elif op == "sendmulti":
        sock.send_multipart([bytes.fromhex(a) for a in args])
    elif op == "random":
        for _ in range(int(args[1])):
            sock.send(os.urandom(int(args[0])))
    elif op == "big":
        sock.send(b"\x08\x01" + b"x" * int(args[0]))
    elif op == "sleep":
        time.sleep(float(args[0]))
    elif op == "reconnect":
        sock.close()
        sock = connect()
    elif op == "expect":
        if not sock.poll(int(float(args[0]) * 1000)):
            print("no reply")
            sys.exit(1)
        print("reply", sock.recv().hex())
    elif op == "replies":
        want, got = int(args[0]), 0
        deadline = time.monotonic() + float(args[1])
        while got < want and sock.poll(max(0, int((deadline - time.monotonic()) * 1000))):
            sock.recv()
            got += 1
        print("replies", got)
        if got < want:
            sys.exit(1)
    print("did", op, *args[:1])
sock.close()
ctx.term()
