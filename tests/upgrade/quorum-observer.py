#!/usr/bin/python3
"""Watches the real state of a quorum group's members, independently of the
coordinator, for tests/integration/95-upgrade.sh.

    quorum-observer.py OUT INTERVAL NODE=PID...

PID is the host PID of the node's container init (nspawn_leader). Every
INTERVAL seconds it reads, inside each node (nsenter into all its
namespaces):
  - active:  `systemctl is-active hitless-test-svc.service` says "active";
  - drained: /var/lib/test-drained exists (the drain hook's flag);
  - dpkg:    a dpkg process runs (an install or removal under way).
A member is down when its service is not active, or it is drained, or dpkg
runs there.

Each sample is two reads of every member, all members read at once (one
nsenter per member, in parallel), the second read starting only after every
first read has finished. A member counts as down in the sample only when
both reads say so: then, for any two members down in one sample, each was
down over an interval that contains the other's, so they were down at the
same instant (a read is not atomic across members: without this, a member
coming up just as the next one goes down could be seen down together with
it, which never happened).

One JSON object per line is appended to OUT:
  {"t": START, "t_end": END, "down": [NODE...],
   "nodes": {NODE: {"active": "active", "drained": false, "dpkg": false,
                    "down": false}}}  (the second read's facts; "down" as above)
Stops on SIGTERM or SIGINT, or when no member can be read any more."""
import json
import signal
import subprocess
import sys
import time

PROBE = ("systemctl is-active hitless-test-svc.service 2>/dev/null; "
         "if [ -e /var/lib/test-drained ]; then echo drained; else echo undrained; fi; "
         "if pgrep -x dpkg >/dev/null 2>&1; then echo dpkg; else echo idle; fi")
ENV = ["/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
       "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0"]

stop = False


def on_signal(signum, frame):
    global stop
    stop = True


def read_all(members):
    """One read of every member, in parallel: {node: facts or None}."""
    procs = {}
    for node, pid in members:
        procs[node] = subprocess.Popen(["nsenter", "-t", pid, "-a", "--"] + ENV + ["/bin/sh", "-c", PROBE],
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    facts = {}
    for node, p in procs.items():
        try:
            out, _ = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            out = ""
        f = out.split()
        if p.returncode != 0 or len(f) != 3:
            facts[node] = None
            continue
        active, drained, dpkg = f[0], f[1] == "drained", f[2] == "dpkg"
        facts[node] = {"active": active, "drained": drained, "dpkg": dpkg,
                       "down": active != "active" or drained or dpkg}
    return facts


def main():
    out, interval = sys.argv[1], float(sys.argv[2])
    members = [a.split("=", 1) for a in sys.argv[3:]]
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with open(out, "a", buffering=1) as f:
        while not stop:
            t = time.time()
            r1 = read_all(members)
            r2 = read_all(members)
            t_end = time.time()
            if all(x is None for x in r2.values()):
                break   # the containers are gone
            nodes = {}
            down = []
            for node, _ in members:
                a, b = r1.get(node), r2.get(node)
                if b is None:
                    nodes[node] = None
                    continue
                d = bool(a and a["down"] and b["down"])
                nodes[node] = dict(b, down=d)
                if d:
                    down.append(node)
            f.write(json.dumps({"t": t, "t_end": t_end, "down": down, "nodes": nodes}) + "\n")
            left = interval - (time.time() - t)
            if left > 0 and not stop:
                time.sleep(left)


if __name__ == "__main__":
    main()
