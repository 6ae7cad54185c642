#!/usr/bin/env bash
# run.sh - `make bench`: every bench/bench-*.sh, side by side with the peer tools, as root.
# Prints medians and ratios (ratio = time / time of the first command, the ctrkit tool).
set -u
here=$(cd "$(dirname "$0")" && pwd)
rc=0
found=0
for b in "$here"/bench-*.sh; do
    [ -f "$b" ] || continue
    found=1
    echo "### $(basename "$b" .sh)"
    bash "$b" || { echo "bench: $(basename "$b") failed" >&2; rc=1; }
done
[ "$found" = 1 ] || echo "bench: no benchmarks yet"
exit "$rc"
