"""Stands in for systemd's notification socket: binds a datagram socket
and appends every message it receives to a file, one line per field.
Usage: notify_listener.py SOCKET_PATH OUTPUT_FILE"""
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
if os.path.exists(path):
    os.unlink(path)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out, "a", buffering=1) as f:
    while True:
        data = s.recv(65536).decode(errors="replace")
        for line in data.split("\n"):
            if line:
                f.write(line + "\n")
