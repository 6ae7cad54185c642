#!/usr/bin/env bash
# bench-ctr-ps.sh - listing containers on a host with ~2000 processes in ~20 containers:
# ctr-ps (every column) against `lsns -J`, `ps -eo pid,pidns,cgroup,comm`, `docker ps` /
# `podman ps` when they run here, and a floor: a minimal C walk of /proc that reads each
# process's eight ns links and what the table shows (bench/proc-floor.c; `-w`: the ns links
# and cgroup file of each process, the floor before 2026-12-04). Then `ctr-ps --pid NAME`
# (a ctrkit state folder) against a bare process start (/bin/true).
#
# The containers are `unshare -fp --mount-proc --kill-child` groups of sleeps, killed by
# their launcher's pid at the end; the temp dir (state folder, floor binary) is removed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

[ "$(id -u)" = 0 ] || { echo "bench-ctr-ps: needs root" >&2; exit 1; }
command -v ctr-ps >/dev/null || { echo "bench-ctr-ps: no ctr-ps on PATH (make build)" >&2; exit 1; }
RUNS=${BENCH_RUNS:-20}
CONTAINERS=${BENCH_CONTAINERS:-20}
PER=${BENCH_PER_CONTAINER:-100}

tmp=$(mktemp -d /tmp/bench-ctr-ps.XXXXXX)
launchers=()
cleanup() {
    local p k kids
    exec 2>/dev/null # no "Killed" job notices for the containers
    for p in "${launchers[@]}"; do
        # the init first (its pid namespace dies with it), then the launcher
        kids=()
        read -ra kids <"/proc/$p/task/$p/children" 2>/dev/null || true
        for k in "${kids[@]}"; do kill -KILL "$k" 2>/dev/null || true; done
        kill -KILL "$p" 2>/dev/null || true
    done
    for p in "${launchers[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

cc -O2 -o "$tmp/proc-floor" "$here/proc-floor.c"

# CONTAINERS containers of PER processes each (an init shell and PER-1 sleeps)
for ((c = 0; c < CONTAINERS; c++)); do
    unshare -fp --mount-proc --kill-child sh -c \
        "i=1; while [ \$i -lt $PER ]; do sleep 3600 & i=\$((i + 1)); done; wait" 2>/dev/null &
    launchers+=("$!")
done
want=$((CONTAINERS * PER))
for _ in $(seq 200); do
    have=$("$tmp/proc-floor")
    [ "$have" -lt $((want + 50)) ] || break
    sleep 0.1
done
export CTRKIT_STATE=$tmp/state
first_init=$(awk '{print $1}' "/proc/${launchers[0]}/task/${launchers[0]}/children")
mkdir -p "$CTRKIT_STATE/containers/bench"
echo "$first_init" >"$CTRKIT_STATE/containers/bench/pid"

echo "processes on the host: $("$tmp/proc-floor"), containers seen by ctr-ps: $(ctr-ps -q | wc -l)"
[ "$(ctr-ps --pid bench)" = "$first_init" ] || { echo "bench-ctr-ps: --pid bench is wrong" >&2; exit 1; }

peers=(
    "lsns -J" "lsns -J >/dev/null"
    "ps -eo pid,pidns,cgroup,comm" "ps -eo pid,pidns,cgroup,comm >/dev/null"
)
if command -v docker >/dev/null && timeout 5 docker ps >/dev/null 2>&1; then
    peers+=("docker ps" "docker ps >/dev/null")
fi
if command -v podman >/dev/null && timeout 5 podman ps >/dev/null 2>&1; then
    peers+=("podman ps" "podman ps >/dev/null")
fi

compare "list every container, ~$want processes in $CONTAINERS containers" "$RUNS" \
    "ctr-ps (all columns)" "ctr-ps >/dev/null" \
    "ctr-ps --json" "ctr-ps --json >/dev/null" \
    "${peers[@]}" \
    "floor: /proc walk + the table's reads" "$tmp/proc-floor >/dev/null" \
    "floor: ns links + cgroup of each" "$tmp/proc-floor -w >/dev/null"

# A process start is too short for a shell-wrapped measurement: run both without a shell.
direct() {
    local title=$1 runs=$2 json
    shift 2
    json=$(mktemp)
    hyperfine -N --warmup 20 --runs "$runs" --style none --export-json "$json" "$@" >/dev/null
    echo
    echo "== $title ($runs runs, median, no shell) =="
    jq -r '.results[] | "\(.command)\t\(.median)"' "$json" | awk -F'\t' '
        NR == 1 { base = $2 }
        { printf "  %-44s %9.2f ms   %6.2fx\n", $1, $2 * 1000, $2 / base }'
    rm -f "$json"
}
direct "one container's init pid by name" "$((RUNS * 20))" "ctr-ps --pid bench" "/bin/true"
