#!/usr/bin/env bash
# bench-ctr-oci.sh - ctr-oci, the OCI runtime, against runc and crun on the same bundle.
#
#   ctr-oci run  vs  runc run  vs  crun run: one busybox bundle, /bin/true, the default
#   spec's namespaces, a cgroup of its own (the same cgroupsPath; crun without cgroups)
#
# crun 1.8 refuses this machine's hybrid cgroup layout, so the whole benchmark runs in a
# private mount namespace where a tmpfs hides /sys/fs/cgroup/unified (the host's mounts are
# untouched); every runtime is measured in that same namespace. Needs root.
# shellcheck shell=bash
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

if [ "${OCI_BENCH_INNER:-}" != 1 ]; then
    exec unshare -m --propagation private env OCI_BENCH_INNER=1 bash "$0" "$@"
fi
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

RUNS=${RUNS:-40}
for c in ctr-oci hyperfine jq; do
    command -v "$c" >/dev/null || { echo "bench-ctr-oci: $c not found" >&2; exit 1; }
done

work=$(mktemp -d /tmp/ctrkit-bench-oci.XXXXXX)
cg="ctrkit-bench-oci-$$"
cleanup() {
    for d in /sys/fs/cgroup/*/"$cg" /sys/fs/cgroup/"$cg"; do
        [ ! -d "$d" ] || find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# a static busybox root filesystem and the default spec, running /bin/true
B="$work/bundle"
R="$B/rootfs"
mkdir -p "$R"/bin "$R"/proc "$R"/sys "$R"/dev "$R"/tmp "$R"/etc
cp /bin/busybox "$R/bin/busybox"
for a in sh true sleep; do ln -s busybox "$R/bin/$a"; done
ctr-oci spec -b "$B"
jq --arg cg "/$cg/c" '.process.terminal = false | .process.args = ["/bin/true"] | .linux.cgroupsPath = $cg' \
    "$B/config.json" >"$B/c.json"
mv "$B/c.json" "$B/config.json"

if [ -d /sys/fs/cgroup/unified ]; then
    mount -t tmpfs -o size=4k,ro ctrkit-bench-hide /sys/fs/cgroup/unified
fi
mkdir -p "$work/ctr-oci" "$work/runc" "$work/crun"
cmds=("ctr-oci run" "ctr-oci --root $work/ctr-oci run --bundle $B bench-oci")
command -v runc >/dev/null && cmds+=("runc run" "runc --root $work/runc run --bundle $B bench-runc")
# (crun 1.8 still sees the hybrid layout through the hidden mount point: without cgroups)
command -v crun >/dev/null &&
    cmds+=("crun run (cgroups disabled)" "crun --root $work/crun --cgroup-manager=disabled run --bundle $B bench-crun")

compare "run a busybox bundle (/bin/true), create to delete" "$RUNS" "${cmds[@]}"
# the same, the commands in turn (bench/alternate.py): the fairer view on a noisy machine
python3 "$here/alternate.py" "run, alternating" "$RUNS" "${cmds[@]}"
