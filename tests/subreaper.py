#!/usr/bin/env python3
"""subreaper.py REPORT -- CMD...: run CMD as a child subreaper and report what it left.

The wrapper marks itself PR_SET_CHILD_SUBREAPER, so every process the command starts stays
in its subtree even when orphaned (a container's init, a daemonised helper). When the
command exits, it waits a moment for stragglers, then writes one line per process still in
its subtree to REPORT ("PID CMDLINE"), kills them by pid and reaps them. Exit status: the
command's. Used by tests/run.sh's leak check; it never touches a process outside its subtree.
"""
import ctypes
import os
import signal
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def children_map():
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
        except OSError:
            continue
        # the comm field may hold spaces and parentheses: split after the last ')'
        rest = stat[stat.rfind(")") + 2:].split()
        if len(rest) < 2:
            continue
        state, ppid = rest[0], int(rest[1])
        if state == "Z":
            continue
        kids.setdefault(ppid, []).append(int(name))
    return kids


def descendants(root):
    kids = children_map()
    out, todo = [], list(kids.get(root, []))
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return sorted(out)


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()[:100]
    except OSError:
        return "?"


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        print("usage: subreaper.py REPORT -- CMD...", file=sys.stderr)
        return 2
    report = sys.argv[1]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print("subreaper.py: cannot become a child subreaper", file=sys.stderr)
        return 125
    child = subprocess.Popen(sys.argv[3:])
    signal.signal(signal.SIGTERM, lambda *_: child.terminate())
    rc = child.wait()
    me = os.getpid()
    left = []
    for _ in range(20):  # up to 1 s for processes that are on their way out
        reap()
        left = descendants(me)
        if not left:
            break
        time.sleep(0.05)
    with open(report, "w") as f:
        for p in left:
            f.write(f"{p} {cmdline(p)}\n")
    for p in left:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
    deadline = time.time() + 5
    while descendants(me) and time.time() < deadline:
        reap()
        time.sleep(0.05)
    reap()
    return rc


if __name__ == "__main__":
    sys.exit(main())
