#!/usr/bin/env bash
# bench-ctr-run.sh - `ctr-run --rm busybox true` (overlay, cgroup limits, bridge network; with
# --network none; on a named network with a named volume) against `crun run` and `runc run` of the same busybox root filesystem.
# Three views: each command's runs back to back (hyperfine), the same after 30 ms of idle
# machine, and the commands in turn (alternate.py).
#
# Runs in a network namespace of its own (the bridge, veths and nft rules never touch the
# host's network) and with its own CTRKIT_ROOT/CTRKIT_STATE and cgroup parent, all removed at
# the end. Runtime state (ctrkit's state folders, crun's and runc's --root) is on a tmpfs, as
# /run is on a systemd host; images and container layers are on disk. crun 1.8 refuses this
# machine's hybrid cgroup layout unless the cgroup2 mount is hidden, so it runs through `nsenter -m` into a mount namespace where it is (that adds
# nsenter's ~1 ms; the line "nsenter -m true" shows how much).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

[ "$(id -u)" = 0 ] || { echo "bench-ctr-run: needs root" >&2; exit 1; }
if [ "${1-}" != --inner ]; then
    exec unshare -n -m --propagation private bash "$0" --inner
fi
ip link set lo up
RUNS=${BENCH_RUNS:-45}

tmp=$(mktemp -d /tmp/bench-ctr-run.XXXXXX)
# runtime state on a tmpfs, as /run is on a systemd host: ctrkit's, crun's and runc's alike
# (images and container layers stay on disk, in $tmp/root)
mkdir "$tmp/run"
mount -t tmpfs -o size=64m,mode=0700 ctrkit-bench-run "$tmp/run"
export CTRKIT_ROOT=$tmp/root CTRKIT_STATE=$tmp/run/ctrkit CTRKIT_CGROUP_PARENT=ctrkit-bench-$$
hider=''
cleanup() {
    [ -z "$hider" ] || kill "$hider" 2>/dev/null || true
    for c in "$CTRKIT_STATE"/containers/*; do
        [ ! -d "$c" ] || ctr-rm -f "${c##*/}" >/dev/null 2>&1 || true
    done
    ctr-network rm benchnet >/dev/null 2>&1 || true
    ctr-volume rm benchvol >/dev/null 2>&1 || true
    for d in /sys/fs/cgroup/*/"$CTRKIT_CGROUP_PARENT" /sys/fs/cgroup/unified/"$CTRKIT_CGROUP_PARENT"; do
        [ ! -d "$d" ] || rmdir "$d" 2>/dev/null || true
    done
    # the template mount namespace ctr-run pinned (nsenter-rs --mnt-template)
    nsenter-rs --unpin "$CTRKIT_STATE/template" >/dev/null 2>&1 || true
    umount "$tmp/run" 2>/dev/null || true
    rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT

# the default image and, for crun and runc, an OCI bundle of the same busybox
mkimage-busybox --busybox /bin/busybox >/dev/null
ctr-run --rm --network none busybox true || { echo "bench-ctr-run: ctr-run does not work yet" >&2; exit 1; }
bundle=$tmp/bundle
mkdir -p "$bundle/rootfs"
tar -C "$bundle/rootfs" -xf <(layermount export busybox 2>/dev/null) 2>/dev/null || {
    mkdir -p "$bundle/rootfs"/{bin,proc,sys,dev,tmp,etc}
    cp /bin/busybox "$bundle/rootfs/bin/" && ln -s busybox "$bundle/rootfs/bin/true"
}
(cd "$bundle" && runc spec && jq '.process.args = ["true"] | .process.terminal = false' config.json >c && mv c config.json)

# a mount namespace where crun sees no cgroup2 mount
unshare -m --propagation private sh -c 'umount -l /sys/fs/cgroup/unified 2>/dev/null; exec sleep infinity' &
hider=$!
sleep 0.2

# the same steps with the tools alone, one after the other, no launcher logic (a folder
# from ctr-state, but no undo log, no lock, nothing side by side): what the tools cost
cat >"$tmp/floor.sh" <<FLOOR
set -e
d=$tmp/run/floor
ctr-state claim "\$d"
layermount mount busybox "\$d/m" --container floor --mkdir --iidfile "\$d/iid" >/dev/null
cgset create "$CTRKIT_CGROUP_PARENT/floor" --parent-ok --cpus 0.5 --memory 64m --pids 100 --devices container >/dev/null
nsenter-rs --new=pid,mnt,uts,ipc,net --loopback --rootfs "\$d/m" --hostname floor --cgroup="$CTRKIT_CGROUP_PARENT/floor" -- true
cgset delete "$CTRKIT_CGROUP_PARENT/floor" --kill >/dev/null
layermount rm-container floor
ctr-state rm "\$d"
FLOOR

limits="--cpus 0.5 --memory 64m --pids-limit 100"
# in rounds, so that a slow spell of this shared machine falls on every line alike
export BENCH_ROUNDS=${BENCH_ROUNDS:-3}
compare "container start to exit: busybox true" "$RUNS" \
    "ctr-run --rm (bridge, limits, overlay)" "ctr-run --rm $limits busybox true" \
    "ctr-run --rm --network none (limits, overlay)" "ctr-run --rm --network none $limits busybox true" \
    "the same, without the seccomp filter (seccomp=unconfined)" "ctr-run --rm --network none --security-opt seccomp=unconfined $limits busybox true" \
    "the same tools alone, no script (network none)" "sh $tmp/floor.sh" \
    "crun run (no network, no limits)" "nsenter -t $hider -m crun --root $tmp/run/crun run -b $bundle bench-crun" \
    "runc run (no network, no limits)" "runc --root $tmp/run/runc run -b $bundle bench-runc" \
    "nsenter -m true (crun's wrapper alone)" "nsenter -t $hider -m true"

# a named network (ctr-network create) and a named volume (ctr-volume create, filled on the
# first run), beside the default bridge: what Docker users' --network NAME -v NAME:/path cost
ctr-network create benchnet >/dev/null
ctr-volume create benchvol >/dev/null
ctr-run --rm --network benchnet -v benchvol:/data busybox true
compare "ctr-run --rm on a named network with a named volume" "$RUNS" \
    "ctr-run --rm (default bridge, limits, overlay)" "ctr-run --rm $limits busybox true" \
    "ctr-run --rm --network benchnet -v benchvol:/data (limits)" "ctr-run --rm --network benchnet -v benchvol:/data $limits busybox true"

# ctr-run -it: the container on a pty of its own, relayed to the caller's terminal. script(1)
# gives the run a terminal to relay to; the second line is the same terminal around a run
# without -it, so the difference is what -it costs.
compare "ctr-run -it: start to exit on a terminal (under script -qec)" "$RUNS" \
    "ctr-run -it --rm --network none (limits, overlay)" "script -qec 'ctr-run -it --rm --network none $limits busybox true' /dev/null" \
    "ctr-run --rm --network none, the same terminal around it" "script -qec 'ctr-run --rm --network none $limits busybox true' /dev/null"

# The same after 30 ms of idle machine before each run, as when a container is started now
# and then rather than in a tight loop: back to back, crun's runs profit from the work of
# the run before (kernel caches, RCU grace periods already under way) far more than ctr-run's
BENCH_PREPARE='sleep 0.03' compare "container start to exit, 30 ms idle before each run" "$RUNS" \
    "ctr-run --rm --network none (limits, overlay)" "ctr-run --rm --network none $limits busybox true" \
    "crun run (no network, no limits)" "nsenter -t $hider -m crun --root $tmp/run/crun run -b $bundle bench-crun"

# The commands in turn (bench/alternate.py), one run of each per round: neither profits from
# running right after itself, as a host starting several kinds of containers sees it
python3 "$here/alternate.py" "container start to exit, the commands in turn" "$RUNS" \
    "ctr-run --rm --network none (limits, overlay)" "ctr-run --rm --network none $limits busybox true" \
    "crun run (no network, no limits)" "nsenter -t $hider -m crun --root $tmp/run/crun run -b $bundle bench-crun" \
    "runc run (no network, no limits)" "runc --root $tmp/run/runc run -b $bundle bench-runc"
