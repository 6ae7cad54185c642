#!/usr/bin/env bash
# bench-rootless.sh - rootless `ctr-run --rm --network none busybox true` (issue 21: a user of
# its own, made here with a subuid range and removed at the end; user namespace through
# newuidmap, overlay mounted inside it, no cgroup) against root's ctr-run of the same
# image (overlay, a cgroup). Rootless podman is not measured yet.
#
# The user's commands go through setpriv (its cost is the line "setpriv ... true"); the
# user's store and state are under a temp folder of its own, removed with it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

[ "$(id -u)" = 0 ] || { echo "bench-rootless: needs root" >&2; exit 1; }
command -v newuidmap >/dev/null || { echo "bench-rootless: newuidmap missing (scripts/deps.sh)" >&2; exit 1; }
RUNS=${BENCH_RUNS:-30}

user=ctrkbench$$
tmp=$(mktemp -d /tmp/bench-rootless.XXXXXX)
chmod 755 "$tmp"
export CTRKIT_ROOT=$tmp/root CTRKIT_STATE=$tmp/run CTRKIT_CGROUP_PARENT=ctrkit-bench-rl-$$
cleanup() {
    for c in "$CTRKIT_STATE"/containers/*; do
        [ ! -d "$c" ] || ctr-rm -f "${c##*/}" >/dev/null 2>&1 || true
    done
    for d in /sys/fs/cgroup/*/"$CTRKIT_CGROUP_PARENT" /sys/fs/cgroup/unified/"$CTRKIT_CGROUP_PARENT"; do
        [ ! -d "$d" ] || rmdir "$d" 2>/dev/null || true
    done
    if id "$user" >/dev/null 2>&1; then
        userdel -r "$user" >/dev/null 2>&1 || true
        sed -i "/^$user:/d" /etc/subuid /etc/subgid
    fi
    rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT

useradd -m -d "$tmp/home" -s /bin/sh "$user"
grep -q "^$user:" /etc/subuid || echo "$user:$((400000 + ($$ % 1000) * 65536)):65536" >>/etc/subuid
grep -q "^$user:" /etc/subgid || echo "$user:$((400000 + ($$ % 1000) * 65536)):65536" >>/etc/subgid
install -d -m 700 -o "$user" "$tmp/xdg"
as_user="setpriv --reuid=$(id -u "$user") --regid=$(id -g "$user") --init-groups env -i HOME=$tmp/home XDG_RUNTIME_DIR=$tmp/xdg PATH=$PATH"

# the image for both: root's store and the user's
mkimage-busybox --busybox /bin/busybox >/dev/null
$as_user mkimage-busybox --busybox /bin/busybox >/dev/null
$as_user ctr-run --rm --network none busybox true || { echo "bench-rootless: rootless ctr-run does not work" >&2; exit 1; }

set -- \
    "rootless ctr-run --rm --network none (userns, overlay inside it, no cgroup)" "$as_user ctr-run --rm --network none busybox true" \
    "root ctr-run --rm --network none (overlay, cgroup)" "ctr-run --rm --network none busybox true" \
    "setpriv ... true (the user switch alone)" "$as_user true"
# rootless podman is not measured yet: it needs a per-user storage and network setup here
# (and pasta/slirp4netns) that this script does not make
echo "(rootless podman: not measured)"
compare "rootless container start to exit: busybox true" "$RUNS" "$@"
