#!/usr/bin/env bash
# bench-mntns.sh - what a container's new mount namespace costs as the host's mounts grow
# (each running container adds two: its overlay and its pinned network namespace), and what it
# would cost made from a template namespace that holds one mount (join it, then unshare: the
# design option of issue 23 for keeping a start independent of the host's mount count).
#
# All in a private mount namespace of its own: the extra mounts (tmpfs, MOUNTS of them) and
# the template (a process in a namespace whose root is a small tmpfs) vanish with it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

[ "$(id -u)" = 0 ] || { echo "bench-mntns: needs root" >&2; exit 1; }
if [ "${1-}" != --inner ]; then
    exec unshare -m --propagation private bash "$0" --inner
fi
RUNS=${BENCH_RUNS:-200}
bb=$(command -v busybox) || { echo "bench-mntns: no busybox" >&2; exit 1; }

tmp=$(mktemp -d /tmp/bench-mntns.XXXXXX)
tpl=''
cleanup() {
    [ -z "$tpl" ] || kill -KILL "$tpl" 2>/dev/null || true
    [ -z "$tpl" ] || wait "$tpl" 2>/dev/null || true
    umount -l "$tmp/m" 2>/dev/null || true
    rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
cc -O2 -o "$tmp/mntns-create" "$here/mntns-create.c"
mkdir "$tmp/m"
mount -t tmpfs bench-mntns "$tmp/m"

# the template: a namespace whose root is a tmpfs holding busybox, the old root detached
mkdir "$tmp/tpl"
unshare -m --propagation private sh -c "mount -t tmpfs tpl '$tmp/tpl' && mkdir '$tmp/tpl/old' &&
    cp '$bb' '$tmp/tpl/busybox' && cd '$tmp/tpl' && pivot_root . old &&
    exec /busybox sh -c '/busybox umount -l /old && exec /busybox sleep 3600'" &
tpl=$!
for _ in $(seq 100); do
    [ "$(wc -l <"/proc/$tpl/mountinfo" 2>/dev/null || echo 0)" != 1 ] || break
    sleep 0.05
done
[ "$(wc -l <"/proc/$tpl/mountinfo")" = 1 ] || { echo "bench-mntns: no template namespace" >&2; exit 1; }

echo
echo "== a new mount namespace (fork, unshare(CLONE_NEWNS), exit; $RUNS alternating runs, median) =="
printf '  %-14s %26s %26s %8s\n' "host mounts" "from the host's namespace" "from a 1-mount template" "ratio"
made=0
for want in 0 500 1000 2000; do
    while [ "$made" -lt "$want" ]; do
        mkdir "$tmp/m/$made"
        mount -t tmpfs t "$tmp/m/$made"
        made=$((made + 1))
    done
    read -r host from_tpl < <("$tmp/mntns-create" "/proc/$tpl/ns/mnt" "$RUNS")
    printf '  %-14s %23.1f us %23.1f us %7.2fx\n' "$(wc -l </proc/self/mountinfo)" "$host" "$from_tpl" \
        "$(awk -v a="$host" -v b="$from_tpl" 'BEGIN{print (b > 0) ? a / b : 0}')"
done
