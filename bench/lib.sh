#!/usr/bin/env bash
# lib.sh - helpers for ctrkit's benchmarks (sourced by bench/bench-*.sh).
# shellcheck shell=bash

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CTRKIT_SRC=$(cd "$BENCH_DIR/.." && pwd)
CTRKIT_RELEASE=${CTRKIT_RELEASE:-${CARGO_TARGET_DIR:-$CTRKIT_SRC/target}/${CARGO_BUILD_TARGET:-x86_64-unknown-linux-musl}/release}
PATH="$CTRKIT_RELEASE:$CTRKIT_SRC/scripts:$PATH"
export PATH CTRKIT_SRC

# compare TITLE RUNS NAME1 CMD1 [NAME2 CMD2 ...]
#   Times each command (a shell string, run by hyperfine, which subtracts the shell's own
#   start-up) RUNS times, side by side in one run, and prints each median and its ratio to
#   the first command's (the ctrkit tool by convention). Commands clean up after themselves.
compare() {
    local title=$1 runs=$2
    shift 2
    local names=() cmds=()
    while [ $# -ge 2 ]; do
        names+=("$1")
        cmds+=("$2")
        shift 2
    done
    local json
    json=$(mktemp)
    if ! hyperfine --warmup 2 --runs "$runs" --style none --export-json "$json" "${cmds[@]}" >/dev/null 2>"$json.err"; then
        echo "bench: $title: a command failed:" >&2
        cat "$json.err" >&2
        rm -f "$json" "$json.err"
        return 1
    fi
    echo
    echo "== $title ($runs runs, median) =="
    local i=0 base='' m
    while read -r m; do
        [ -n "$base" ] || base=$m
        awk -v n="${names[$i]}" -v m="$m" -v b="$base" \
            'BEGIN{printf "  %-44s %9.2f ms   %6.2fx\n", n, m*1000, m/b}'
        i=$((i + 1))
    done < <(jq -r '.results[].median' "$json")
    rm -f "$json" "$json.err"
}
