#!/usr/bin/env bash
# bench-nsenter-rs.sh - nsenter-rs against its peers, side by side (medians and ratios).
#
#   create: nsenter-rs --new=pid,mnt,uts,ipc,net --rootfs R -- /bin/true
#           vs unshare -fpmiun --mount-proc --root R /bin/true
#           vs crun run (same rootfs, same five namespaces, cgroups disabled) and runc run
#   enter:  nsenter-rs -t PID -a true  vs  util-linux nsenter -t PID -a true
#
# crun 1.8 refuses this machine's hybrid cgroup layout, so the whole benchmark runs in a
# private mount namespace where a tmpfs hides /sys/fs/cgroup/unified (the host's mounts are
# untouched); every command is measured in that same namespace. Needs root.
# shellcheck shell=bash
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

if [ "${NSRS_BENCH_INNER:-}" != 1 ]; then
    exec unshare -m --propagation private env NSRS_BENCH_INNER=1 bash "$0" "$@"
fi
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

RUNS=${RUNS:-40}
for c in nsenter-rs unshare nsenter hyperfine jq; do
    command -v "$c" >/dev/null || { echo "bench-nsenter-rs: $c not found" >&2; exit 1; }
done

work=$(mktemp -d /tmp/ctrkit-bench-nsrs.XXXXXX)
target=''
cleanup() {
    [ -z "$target" ] || kill -KILL "$target" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# a static busybox root filesystem
R="$work/bundle/rootfs"
mkdir -p "$R"/bin "$R"/proc "$R"/sys "$R"/dev "$R"/tmp "$R"/etc
cp /bin/busybox "$R/bin/busybox"
for a in sh true sleep; do ln -s busybox "$R/bin/$a"; done

# hide the cgroup2 mount that makes crun refuse the hybrid layout (private namespace only)
if [ -d /sys/fs/cgroup/unified ]; then
    mount -t tmpfs -o size=4k,ro ctrkit-bench-hide /sys/fs/cgroup/unified
fi

peers=()
if command -v crun >/dev/null && command -v jq >/dev/null; then
    (cd "$work/bundle" && crun spec)
    jq '.process.terminal = false | .process.args = ["/bin/true"] | del(.linux.resources)' \
        "$work/bundle/config.json" >"$work/bundle/c.json"
    mv "$work/bundle/c.json" "$work/bundle/config.json"
    mkdir -p "$work/crun" "$work/runc"
    peers+=("crun run (cgroups disabled)"
        "crun --root $work/crun --cgroup-manager=disabled run --bundle $work/bundle nsrs-bench-crun")
    if command -v runc >/dev/null; then
        # runc cannot skip cgroups: it makes and removes /ctrkit-bench-nsrs-PID in each hierarchy
        mkdir -p "$work/runc-bundle"
        jq --arg cg "/ctrkit-bench-nsrs-$$" --arg r "$R" '.linux.cgroupsPath = $cg | .root.path = $r' \
            "$work/bundle/config.json" >"$work/runc-bundle/config.json"
        peers+=("runc run (with cgroups)"
            "runc --root $work/runc run --bundle $work/runc-bundle nsrs-bench-runc")
    fi
fi

# interleaved TITLE RUNS NAME1 CMD1 NAME2 CMD2 : run the two commands and /bin/true in
# turn (so a shared machine's changing load hits all alike) and print each median minus the
# median of /bin/true (the cost of starting any command from the shell), and the ratio.
# Complements compare(), which runs each command's runs back to back.
interleaved() {
    local title=$1 runs=$2 n1=$3 c1=$4 n2=$5 c2=$6 i s e t0='' t1='' t2=''
    for ((i = 0; i < runs; i++)); do
        s=$(date +%s%N); eval "$c1" >/dev/null 2>&1; e=$(date +%s%N); t1+="$(((e - s) / 1000)) "
        s=$(date +%s%N); eval "$c2" >/dev/null 2>&1; e=$(date +%s%N); t2+="$(((e - s) / 1000)) "
        s=$(date +%s%N); /bin/true; e=$(date +%s%N); t0+="$(((e - s) / 1000)) "
    done
    med() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)] / 1000}'; }
    local m0 m1 m2
    m0=$(echo "$t0" | med)
    m1=$(echo "$t1" | med)
    m2=$(echo "$t2" | med)
    echo
    echo "== $title ($runs runs each, alternating, median minus /bin/true's $m0 ms) =="
    awk -v n="$n1" -v m="$m1" -v z="$m0" 'BEGIN {printf "  %-44s %9.2f ms   %6.2fx\n", n, m - z, 1}'
    awk -v n="$n2" -v m="$m2" -v z="$m0" -v b="$m1" 'BEGIN {printf "  %-44s %9.2f ms   %6.2fx\n", n, m - z, (m - z) / (b - z)}'
}

compare "create: 5 new namespaces + rootfs, run /bin/true" "$RUNS" \
    "nsenter-rs --new=... --rootfs R" "nsenter-rs --new=pid,mnt,uts,ipc,net --rootfs $R -- /bin/true" \
    "unshare -fpmiun --mount-proc --root R" "unshare -fpmiun --mount-proc --root $R /bin/true" \
    "${peers[@]}"

interleaved "create, alternating" "$RUNS" \
    "nsenter-rs --new=... --rootfs R" "nsenter-rs --new=pid,mnt,uts,ipc,net --rootfs $R -- /bin/true" \
    "unshare -fpmiun --mount-proc --root R" "unshare -fpmiun --mount-proc --root $R /bin/true"

# the target: a container started by nsenter-rs
nsenter-rs --new=pid,mnt,uts,ipc,net --rootfs "$R" --pidfile "$work/target.pid" --detach -- /bin/sleep 600 >/dev/null
target=$(cat "$work/target.pid")

compare "enter: all namespaces of a container, run true" "$RUNS" \
    "nsenter-rs -t PID -a true" "nsenter-rs -t $target -a true" \
    "nsenter -t PID -a true" "nsenter -t $target -a true"

interleaved "enter, alternating" "$RUNS" \
    "nsenter-rs -t PID -a true" "nsenter-rs -t $target -a true" \
    "nsenter -t PID -a true" "nsenter -t $target -a true"

kill -KILL "$target"
target=''
for d in /sys/fs/cgroup/*/"ctrkit-bench-nsrs-$$"; do [ ! -d "$d" ] || rmdir "$d" 2>/dev/null || true; done
