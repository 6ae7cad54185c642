#!/usr/bin/env python3
"""alternate.py TITLE RUNS NAME1 CMD1 [NAME2 CMD2 ...]

Runs the commands in turn, RUNS rounds (so a shared machine's changing load hits all alike),
and prints each one's median wall time and its ratio to the first's (the ctrkit tool by
convention). Commands are shell words split on spaces (no quoting), run without a shell.
Complements compare() in lib.sh, where hyperfine runs each command's runs back to back.
"""
import statistics
import subprocess
import sys
import time


def main():
    title, runs, rest = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    names, cmds = rest[0::2], [c.split() for c in rest[1::2]]
    times = [[] for _ in cmds]
    for _ in range(runs):
        for i, cmd in enumerate(cmds):
            start = time.perf_counter()
            done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[i].append((time.perf_counter() - start) * 1000)
            if done.returncode != 0:
                sys.exit(f"bench: {title}: '{' '.join(cmd)}' exited {done.returncode}")
    print()
    print(f"== {title} ({runs} rounds, commands in turn, median) ==")
    base = statistics.median(times[0])
    for name, t in zip(names, times):
        m = statistics.median(t)
        print(f"  {name:<44} {m:9.2f} ms   {m / base:6.2f}x")


if __name__ == "__main__":
    main()
