#!/usr/bin/python3
"""Checks of tests/integration/95-upgrade.sh on what the nodes themselves
recorded (collected by the test into a directory: NODE.journal, the
agent's `journal --json`; NODE.maint, /var/log/hitless-test-maint.log;
NODE.hooks, the drain hook log; NODE.svc, hitless-test-svc's journal with
-o short-unix; NODE.versions, dpkg-query lines), never on the coordinator's
word. Each subcommand prints what it found and exits 1 (saying why) when the
check fails.

  steps DIR UPGRADE NODE=KIND,KIND...   the upgrade's commands on each node,
                                        in the order issued; each succeeded,
                                        or KIND:STATE
  no-commands DIR UPGRADE NODE...       no command of the upgrade reached them
  once DIR NODE...                      no command id twice; per upgrade, each
                                        step kind at most once per node
                                        between two rollbacks
  maint BEFORE AFTER PREFIX COUNT NODE...
                                        lines starting with PREFIX added to
                                        the maintainer-script log between the
                                        two collections: exactly COUNT
  drain-windows DIR SINCE NODE...       drain windows (hook log) after SINCE
                                        never overlap between the nodes
  rollback-order DIR SINCE BATCH PHASE=NODE,NODE... (last phase first)
                                        service restarts after SINCE, per
                                        node (its rollback window): each
                                        phase's windows end before the next
                                        listed phase's begin, and at most
                                        BATCH[i] windows of phase i overlap
  observer FILE MEMBER... [--max-down N] the quorum observer's samples: never
                                        more than N (default 1) members down
                                        together; the samples cover the run
                                        without a gap over 3 s; each member
                                        was seen down at least once"""
import json
import re
import sys

STEP_KINDS = ("drain", "install", "repoint", "restart", "undrain")


def fail(msg):
    print("    " + msg.replace("\n", "\n    "))
    sys.exit(1)


def journal(d, node):
    with open("%s/%s.journal" % (d, node)) as f:
        cmds = json.load(f)["commands"]
    return cmds


def seq_key(cmd_id):
    """Issue order of "up-N-M" ids: (N, M); others last, by id."""
    m = re.match(r"^up-(\d+)-(\d+)$", cmd_id)
    return (int(m.group(1)), int(m.group(2))) if m else (1 << 60, cmd_id)


def upgrade_of(cmd_id):
    m = re.match(r"^(up-\d+)-\d+$", cmd_id)
    return m.group(1) if m else ""


def of_upgrade(d, node, up):
    cmds = [c for c in journal(d, node) if upgrade_of(c["id"]) == up]
    return sorted(cmds, key=lambda c: seq_key(c["id"]))


def cmd_steps(d, up, specs):
    bad = []
    for spec in specs:
        node, kinds = spec.split("=", 1)
        want = [tuple((k + ":succeeded").split(":")[:2]) for k in kinds.split(",") if k]
        got = [(c["kind"], c["state"]) for c in of_upgrade(d, node, up)]
        print("    %s: %s" % (node, ", ".join("%s %s" % g for g in got) or "nothing"))
        if got != want:
            bad.append("%s: %s commands %s, expected %s" % (node, up, got, want))
    if bad:
        fail("\n".join(bad))


def cmd_no_commands(d, up, nodes):
    bad = ["%s: %s" % (n, [(c["id"], c["kind"], c["state"]) for c in of_upgrade(d, n, up)])
           for n in nodes if of_upgrade(d, n, up)]
    if bad:
        fail("commands of %s reached: %s" % (up, "; ".join(bad)))
    print("    no command of %s on %s" % (up, ", ".join(nodes)))


def cmd_once(d, nodes):
    bad = []
    total = 0
    for n in nodes:
        cmds = journal(d, n)
        ids = [c["id"] for c in cmds]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            bad.append("%s: command ids twice in the journal: %s" % (n, dup))
        by_up = {}
        for c in sorted(cmds, key=lambda c: seq_key(c["id"])):
            by_up.setdefault(upgrade_of(c["id"]), []).append(c)
        for up, cs in by_up.items():
            if not up:
                continue
            seen = {}
            for c in cs:
                total += 1
                if c["kind"] == "rollback":
                    seen = {}
                    continue
                if c["kind"] in STEP_KINDS:
                    if c["kind"] in seen:
                        bad.append("%s: %s ran %s twice without a rollback between: %s and %s"
                                   % (n, up, c["kind"], seen[c["kind"]], c["id"]))
                    seen[c["kind"]] = c["id"]
    if bad:
        fail("\n".join(bad))
    print("    %d upgrade commands on %d nodes: no id twice, no step twice" % (total, len(nodes)))


def cmd_maint(before, after, prefix, count, nodes):
    bad = []
    for n in nodes:
        with open("%s/%s.maint" % (before, n)) as f:
            old = f.read().splitlines()
        with open("%s/%s.maint" % (after, n)) as f:
            new = f.read().splitlines()
        if new[:len(old)] != old:
            bad.append("%s: the maintainer-script log was rewritten" % n)
            continue
        added = [l for l in new[len(old):] if l.startswith(prefix)]
        if len(added) != int(count):
            bad.append("%s: %d x '%s...' (expected %s): %s" % (n, len(added), prefix, count, new[len(old):]))
    if bad:
        fail("\n".join(bad))
    print("    '%s...' ran exactly %s time(s) on each of %s" % (prefix, count, ", ".join(nodes)))


def hook_windows(d, node, since):
    wins, start = [], None
    with open("%s/%s.hooks" % (d, node)) as f:
        for line in f:
            p = line.split()
            if len(p) != 2 or float(p[1]) < since:
                continue
            if p[0] == "drain":
                if start is not None:
                    fail("%s: drained twice without an undrain (%s)" % (node, p[1]))
                start = float(p[1])
            elif p[0] == "undrain" and start is not None:
                wins.append((start, float(p[1]), node))
                start = None
    if start is not None:
        wins.append((start, float("inf"), node))
    return wins


def cmd_drain_windows(d, since, nodes):
    wins = sorted(w for n in nodes for w in hook_windows(d, n, float(since)))
    for a, b in zip(wins, wins[1:]):
        if b[0] < a[1]:
            fail("%s drained at %.3f while %s was drained (%.3f .. %.3f)" % (b[2], b[0], a[2], a[0], a[1]))
    print("    %d drain windows of %s, never two at once" % (len(wins), ", ".join(nodes)))


def svc_window(d, node, since):
    """First and last event of the node's service after since."""
    ts = []
    with open("%s/%s.svc" % (d, node)) as f:
        for line in f:
            p = line.split(None, 1)
            try:
                t = float(p[0])
            except (ValueError, IndexError):
                continue
            if t >= since:
                ts.append(t)
    if not ts:
        fail("%s: no service event after %.3f" % (node, since))
    return (min(ts), max(ts))


def cmd_rollback_order(d, since, batches, phases):
    since = float(since)
    batches = [int(b) for b in batches.split(",")]
    spans = []
    for i, spec in enumerate(phases):
        name, nodes = spec.split("=", 1)
        wins = {n: svc_window(d, n, since) for n in nodes.split(",")}
        for n, (a, b) in sorted(wins.items(), key=lambda x: x[1]):
            print("    %-10s %-6s service events %.3f .. %.3f" % (name, n, a, b))
        # At most batches[i] windows of the phase at once.
        points = sorted([(a, 1) for a, _ in wins.values()] + [(b, -1) for _, b in wins.values()],
                        key=lambda p: (p[0], p[1]))
        cur = peak = 0
        for _, delta in points:
            cur += delta
            peak = max(peak, cur)
        if peak > batches[i]:
            fail("phase %s: %d nodes rolling back at once, batch size %d" % (name, peak, batches[i]))
        spans.append((name, min(a for a, _ in wins.values()), max(b for _, b in wins.values())))
    for (pa, _, ea), (pb, sb, _) in zip(spans, spans[1:]):
        if sb < ea:
            fail("phase %s began rolling back (%.3f) before phase %s was done (%.3f)" % (pb, sb, pa, ea))
    print("    phases rolled back in order: %s" % " > ".join(s[0] for s in spans))


def cmd_observer(path, members, max_down):
    samples = []
    with open(path) as f:
        for line in f:
            if line.strip():
                samples.append(json.loads(line))
    if len(samples) < 20:
        fail("only %d observer samples" % len(samples))
    worst = max(samples, key=lambda s: len(s["down"]))
    if len(worst["down"]) > max_down:
        fail("at %.3f the observer saw %s down at once (max_down %d): %s"
             % (worst["t"], worst["down"], max_down, json.dumps(worst["nodes"])))
    gaps = [(b["t"] - a["t"], a["t"]) for a, b in zip(samples, samples[1:])]
    gap, at = max(gaps)
    if gap > 3:
        fail("no observer sample for %.1f s after %.3f" % (gap, at))
    seen = {m: sum(1 for s in samples if m in s["down"]) for m in members}
    unread = sum(1 for s in samples for m in members if s["nodes"].get(m) is None)
    if unread:
        fail("%d reads of a member failed" % unread)
    never = [m for m, k in seen.items() if k == 0]
    if never:
        fail("the observer never saw %s down: it watched nothing" % never)
    print("    %d samples over %.0f s (largest gap %.1f s); down samples per member: %s; never more than %d down"
          % (len(samples), samples[-1]["t"] - samples[0]["t"], gap,
             ", ".join("%s %d" % x for x in sorted(seen.items())), max_down))


def main():
    a = sys.argv[1:]
    if not a:
        fail(__doc__)
    cmd, args = a[0], a[1:]
    if cmd == "steps":
        cmd_steps(args[0], args[1], args[2:])
    elif cmd == "no-commands":
        cmd_no_commands(args[0], args[1], args[2:])
    elif cmd == "once":
        cmd_once(args[0], args[1:])
    elif cmd == "maint":
        cmd_maint(args[0], args[1], args[2], args[3], args[4:])
    elif cmd == "drain-windows":
        cmd_drain_windows(args[0], args[1], args[2:])
    elif cmd == "rollback-order":
        cmd_rollback_order(args[0], args[1], args[2], args[3:])
    elif cmd == "observer":
        max_down = 1
        if "--max-down" in args:
            i = args.index("--max-down")
            max_down = int(args[i + 1])
            del args[i:i + 2]
        cmd_observer(args[0], args[1:], max_down)
    else:
        fail("unknown check %s" % cmd)


if __name__ == "__main__":
    main()
