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
#   With BENCH_ROUNDS=N (default 1) hyperfine goes over all the commands N times, RUNS/N
#   runs each time, and the median is taken over all rounds' runs: a slow spell of a shared
#   machine then falls on every command alike. BENCH_PREPARE=CMD runs CMD (untimed) before
#   each timed run, e.g. 'sleep 0.03' for a machine that has been idle a moment.
compare() {
    local title=$1 runs=$2
    shift 2
    local names=() cmds=()
    while [ $# -ge 2 ]; do
        names+=("$1")
        cmds+=("$2")
        shift 2
    done
    local rounds=${BENCH_ROUNDS:-1} round json jsons=()
    [ "$rounds" -ge 1 ] && [ "$rounds" -le "$runs" ] || rounds=1
    for ((round = 0; round < rounds; round++)); do
        json=$(mktemp)
        jsons+=("$json")
        if ! hyperfine --warmup 2 --runs $((runs / rounds)) --style none --export-json "$json" \
            ${BENCH_PREPARE:+--prepare "$BENCH_PREPARE"} "${cmds[@]}" >/dev/null 2>"$json.err"; then
            echo "bench: $title: a command failed:" >&2
            cat "$json.err" >&2
            rm -f "${jsons[@]}" "$json.err"
            return 1
        fi
        rm -f "$json.err"
    done
    if [ "$rounds" = 1 ]; then
        report "$title ($runs runs, median)" "${names[@]}" -- "${jsons[@]}"
    else
        report "$title ($rounds rounds of $((runs / rounds)) runs, median of all)" \
            "${names[@]}" -- "${jsons[@]}"
    fi
    rm -f "${jsons[@]}"
}

# report HEADING NAME... -- JSON... : print each command's median over all its runs in the
# hyperfine JSON files, and its ratio to the first command's
report() {
    local heading=$1
    shift
    local names=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        names+=("$1")
        shift
    done
    shift
    echo
    echo "== $heading =="
    local i=0 base='' m
    while read -r m; do
        [ -n "$base" ] || base=$m
        awk -v n="${names[$i]}" -v m="$m" -v b="$base" \
            'BEGIN{printf "  %-44s %9.2f ms   %6.2fx\n", n, m*1000, m/b}'
        i=$((i + 1))
    done < <(jq -s -r '[.[].results] | transpose[] | [.[].times[]] | sort
        | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end' "$@")
}
