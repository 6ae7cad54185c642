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

compare "create: 5 new namespaces + rootfs, run /bin/true" "$RUNS" \
    "nsenter-rs --new=... --rootfs R" "nsenter-rs --new=pid,mnt,uts,ipc,net --rootfs $R -- /bin/true" \
    "unshare -fpmiun --mount-proc --root R" "unshare -fpmiun --mount-proc --root $R /bin/true" \
    "${peers[@]}"

# the same, the commands in turn (bench/alternate.py): the fairer view on a noisy machine
python3 "$here/alternate.py" "create, alternating" "$RUNS" \
    "nsenter-rs --new=... --rootfs R" "nsenter-rs --new=pid,mnt,uts,ipc,net --rootfs $R -- /bin/true" \
    "unshare -fpmiun --mount-proc --root R" "unshare -fpmiun --mount-proc --root $R /bin/true" \
    "/bin/true (starting any command)" "/bin/true"

# the target: a container started by nsenter-rs
nsenter-rs --new=pid,mnt,uts,ipc,net --rootfs "$R" --pidfile "$work/target.pid" --detach -- /bin/sleep 600 >/dev/null
target=$(cat "$work/target.pid")

compare "enter: all namespaces of a container, run true" "$RUNS" \
    "nsenter-rs -t PID -a true" "nsenter-rs -t $target -a true" \
    "nsenter -t PID -a true" "nsenter -t $target -a true"

python3 "$here/alternate.py" "enter, alternating" "$RUNS" \
    "nsenter-rs -t PID -a true" "nsenter-rs -t $target -a true" \
    "nsenter -t PID -a true" "nsenter -t $target -a true" \
    "/bin/true (starting any command)" "/bin/true"

kill -KILL "$target"
target=''
for d in /sys/fs/cgroup/*/"ctrkit-bench-nsrs-$$"; do [ ! -d "$d" ] || rmdir "$d" 2>/dev/null || true; done
