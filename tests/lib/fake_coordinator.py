"""A fake coordinator for agent tests: a CURVE ROUTER (no ZAP, so any key
gets in) that welcomes the agent, asks it about N command ids, counts the
answers, then sends one frame above the agent's max_message_bytes and
waits for the agent to say Hello again and heartbeat.
Usage: fake_coordinator.py ENDPOINT_FILE SECRET_KEY_FILE NODE_ID N_IDS BIG
Writes the bound endpoint to ENDPOINT_FILE; prints one line per step."""
import re
import sys
import time

import zmq


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def field(num, payload):
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def coordinator_message(body_field, body):
    return b"\x08\x01" + field(body_field, body)


def body_of(msg):
    """The AgentMessage body's field number (10 Hello, 11 Heartbeat, 12 CommandStatus)."""
    return msg[2] >> 3 if len(msg) > 2 and msg[:2] == b"\x08\x01" else 0


ep_file, secret_file, node_id, n_ids, big = sys.argv[1:6]
text = open(secret_file).read()
ctx = zmq.Context()
s = ctx.socket(zmq.ROUTER)
s.setsockopt(zmq.LINGER, 0)
s.curve_server = True
s.curve_secretkey = re.search(r'secret-key = "(.{40})"', text).group(1).encode()
s.bind("tcp://127.0.0.1:0")
open(ep_file, "w").write(s.getsockopt(zmq.LAST_ENDPOINT).decode())
welcome = coordinator_message(10, field(1, node_id.encode()))


def wait_for(body, secs):
    end = time.time() + secs
    while time.time() < end:
        if s.poll(100):
            rid, msg = s.recv_multipart()
            if body_of(msg) == body:
                return rid
    return None


rid = wait_for(10, 20)
print("hello", rid is not None, flush=True)
s.send_multipart([rid, welcome])
ids = b"".join(field(1, b"q-%d" % i) for i in range(int(n_ids)))
s.send_multipart([rid, coordinator_message(13, ids)])
answers, end = 0, time.time() + 20
while answers < int(n_ids) and time.time() < end:
    if s.poll(100):
        _, msg = s.recv_multipart()
        answers += body_of(msg) == 12
print("answers", answers, flush=True)
s.send_multipart([rid, b"\x08\x01" + b"x" * int(big)])
rid2 = wait_for(10, 20)
print("hello again", rid2 is not None and rid2 != rid, flush=True)
if rid2:
    s.send_multipart([rid2, welcome])
    print("heartbeat", wait_for(11, 10) is not None, flush=True)
