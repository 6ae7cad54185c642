#!/bin/sh
# demo.sh - `make demo`: the Docker demonstrations, done with ctrkit's tools.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
PATH="$here/../target/release:$here:$PATH"
export PATH

caption() { printf '\n\033[1m# %s\033[0m\n' "$*"; }

caption "ctrkit: one kernel primitive per tool"
for t in nsenter-rs cgset layermount netbridge ctr-ps; do
    "$t" --version
done
