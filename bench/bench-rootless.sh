#!/usr/bin/env bash
# bench-rootless.sh - rootless `ctr-run --rm --network none busybox true` (issue 21: a user of
# its own, made here with a subuid range and removed at the end; user namespace through
# newuidmap, overlay mounted inside it, no cgroup) against root's ctr-run of the same
# image (overlay, a cgroup), and rootless podman (runc; crun 1.8 refuses this host's hybrid
# cgroups) of the same busybox, imported into the user's own podman storage.
#
# The user's commands go through setpriv (its cost is the line "setpriv ... true"); the
# user's store and state are under a temp folder of its own, removed with it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

[ "$(id -u)" = 0 ] || { echo "bench-rootless: needs root" >&2; exit 1; }
# (a mount namespace of its own: what root's ctr-run mounts and pins never reaches the host's)
if [ "${1-}" != --inner ]; then
    exec unshare -m --propagation private bash "$0" --inner
fi
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
    # the template mount namespace root's ctr-run pinned (nsenter-rs --mnt-template)
    nsenter-rs --unpin "$CTRKIT_STATE/template" >/dev/null 2>&1 || true
    if id "$user" >/dev/null 2>&1; then
        # (the user's podman storage: its layers are owned by subordinate IDs)
        # (and its pause process, which holds podman's user namespace)
        [ ! -d "$tmp/home/.local/share/containers" ] || (cd "$tmp" && ${as_user-} podman system reset -f >/dev/null 2>&1) || true
        pkill -KILL -u "$user" 2>/dev/null || true
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
# rootless podman: its storage and runtime folders in the user's home and XDG folder, the same
# busybox imported (podman's defaults otherwise; no cgroups for a user on cgroup v1)
if command -v podman >/dev/null && command -v runc >/dev/null; then
    printf '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nruntime = "runc"\n' >"$tmp/home/containers.conf"
    mkdir -p "$tmp/bb/bin" && cp /bin/busybox "$tmp/bb/bin/" && ln -s busybox "$tmp/bb/bin/true"
    tar -C "$tmp/bb" -cf "$tmp/bb.tar" .
    chmod 644 "$tmp/bb.tar"
    podman_user="$as_user CONTAINERS_CONF=$tmp/home/containers.conf"
    if (cd "$tmp" && $podman_user podman import "$tmp/bb.tar" bb >/dev/null 2>&1) &&
        (cd "$tmp" && $podman_user podman run --rm --network none bb true); then
        set -- "$@" "rootless podman run --rm --network none (runc, its overlay)" "$podman_user podman run --rm --network none bb true"
    else
        echo "(rootless podman: does not run here)"
    fi
else
    echo "(rootless podman: not installed)"
fi
compare "rootless container start to exit: busybox true" "$RUNS" "$@"
