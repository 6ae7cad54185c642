#!/bin/sh
# demo.sh - `sudo make demo`: the Docker demonstrations, done with ctrkit's tools on the
# default busybox image, each with a one-line caption.
#
# It runs in a network and mount namespace of its own (the bridge, veths and NAT rules never
# touch this machine's network), keeps images and state in a temporary directory and its
# cgroups under a parent of its own, and removes all of it at the end. A demonstration whose
# tool does not work yet says so, and the demo goes on.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
PATH="${CARGO_TARGET_DIR:-$here/../target}/${CARGO_BUILD_TARGET:-x86_64-unknown-linux-musl}/release:$here:$PATH"
export PATH

if [ "$(id -u)" != 0 ]; then
    echo "demo.sh: error: the demo makes namespaces, mounts and cgroups: run it as root (sudo make demo)" >&2
    exit 1
fi
if [ "${CTRKIT_DEMO_TMP-}" = '' ]; then
    # the default image is built out here, where apt-get download can reach the network
    CTRKIT_DEMO_TMP=$(mktemp -d /tmp/ctrkit-demo.XXXXXX)
    export CTRKIT_DEMO_TMP
    printf '# building the default image: mkimage-busybox -o %s/busybox-oci\n' "$CTRKIT_DEMO_TMP"
    mkimage-busybox -o "$CTRKIT_DEMO_TMP/busybox-oci" >/dev/null || true
    exec unshare -n -m --propagation private "$0" "$@"
fi
ip link set lo up

tmp=$CTRKIT_DEMO_TMP
CTRKIT_ROOT=$tmp/root CTRKIT_STATE=$tmp/state CTRKIT_CGROUP_PARENT=ctrkit-demo-$$
export CTRKIT_ROOT CTRKIT_STATE CTRKIT_CGROUP_PARENT
cleanup() {
    trap - EXIT INT TERM HUP PIPE
    for c in "$CTRKIT_STATE"/containers/*; do
        [ ! -d "$c" ] || ctr-rm -f "${c##*/}" >/dev/null 2>&1 || true
    done
    netbridge rm ctrkit0 --force >/dev/null 2>&1 || true
    for d in /sys/fs/cgroup/*/"$CTRKIT_CGROUP_PARENT" /sys/fs/cgroup/"$CTRKIT_CGROUP_PARENT"; do
        [ ! -d "$d" ] || rmdir "$d" 2>/dev/null || true
    done
    # the template mount namespace ctr-run pinned (nsenter-rs --mnt-template)
    nsenter-rs --unpin "$CTRKIT_STATE/template" >/dev/null 2>&1 || true
    rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
trap 'exit 141' PIPE

bold=$(printf '\033[1m') dim=$(printf '\033[2m') off=$(printf '\033[0m')
[ -t 1 ] || bold='' dim='' off=''
caption() { printf '\n%s# %s%s\n' "$bold" "$*" "$off"; }
# show CMD... : print the command line, then run it
show() {
    line=''
    for a in "$@"; do
        case $a in '' | *[!A-Za-z0-9_./:=,+-]*) a="'$a'" ;; esac
        line="$line $a"
    done
    printf '%s$%s%s\n' "$dim" "$line" "$off"
    "$@"
}
# sh_show SCRIPT : print a shell pipeline, then run it
sh_show() {
    printf '%s$ %s%s\n' "$dim" "$1" "$off"
    sh -c "$1"
}
# demo CAPTION FUNCTION : one demonstration; a failure is reported and the demo goes on
ok=0 failed=0
demo() {
    caption "$1"
    set +e
    (
        set -e # not in an if: there set -e would be ignored
        "$2"
    )
    rc=$?
    set -e
    if [ "$rc" = 0 ]; then
        ok=$((ok + 1))
    else
        failed=$((failed + 1))
        printf '%s  -> not working yet (a tool above failed); going on%s\n' "$bold" "$off"
    fi
}
# cg CONTROLLER NAME : container NAME's cgroup directory for CONTROLLER (cgroup v1 or v2)
cg() {
    if [ -d "/sys/fs/cgroup/$1/$CTRKIT_CGROUP_PARENT/$2" ]; then
        echo "/sys/fs/cgroup/$1/$CTRKIT_CGROUP_PARENT/$2"
    else
        echo "/sys/fs/cgroup/$CTRKIT_CGROUP_PARENT/$2"
    fi
}

versions() {
    for t in nsenter-rs cgset layermount netbridge ctr-ps ctr-state; do "$t" --version; done
}
image() {
    if [ -d "$tmp/busybox-oci" ]; then
        show ctr-load --name busybox "$tmp/busybox-oci"
    else
        show mkimage-busybox
    fi
    show layermount inspect busybox
    show ctr-images
}
pid1() {
    show ctr-run --rm --network none busybox ps -ef
    echo "(the host has $(ps -e --no-headers | wc -l) processes)"
}
hostname_demo() {
    show ctr-run --rm --network none --hostname demo-box busybox hostname
    echo "(the host is still $(hostname))"
}
cpus() {
    show ctr-run -d --network none --name spin --cpus 0.5 busybox sh -c 'while :; do :; done'
    d=$(cg cpu spin)
    if [ -f "$d/cpu.cfs_quota_us" ]; then
        sh_show "cat $d/cpu.cfs_quota_us $d/cpu.cfs_period_us"
        a=$(cat "$(cg cpuacct spin)/cpuacct.usage")
        sleep 2
        b=$(cat "$(cg cpuacct spin)/cpuacct.usage")
        echo "a busy loop used $(((b - a) / 1000000)) ms of CPU in 2000 ms," \
            "throttled $(awk '$1 == "nr_throttled" {print $2}' "$d/cpu.stat") times by the quota"
    else
        sh_show "cat $d/cpu.max"
    fi
    show ctr-rm -f spin
}
layers() {
    show ctr-run --name writer --network none busybox sh -c 'echo hello from a layer >/hello.txt'
    show layermount diff writer
    sh_show "ctr-run --rm --network none busybox cat /hello.txt || echo 'the image is unchanged: a new container has no /hello.txt'"
}
commit() {
    show ctr-commit writer hello
    show ctr-run --rm --network none hello cat /hello.txt
    show ctr-rm writer
    show ctr-images
}
bridge() {
    show ctr-run -d --name web busybox sh -c 'mkdir /www && echo hello from web >/www/index.html && exec httpd -f -p 80 -h /www'
    ip=$(jq -r '.ips[0].address' "$CTRKIT_STATE/containers/web/net.json" | cut -d/ -f1)
    echo "web's address: $ip"
    i=0 # (ctr-run -d returns once httpd runs; wait until it listens)
    until ctr-exec web wget -qO- http://127.0.0.1/ >/dev/null 2>&1 || [ "$i" -ge 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    show ctr-run --rm busybox sh -c "ip -4 -o addr show eth0 && wget -qO- http://$ip/"
}
modes() {
    show ctr-run --rm --network none busybox ip -o link
    show ctr-run --rm --network host busybox sh -c 'ip -o link | cut -d" " -f2'
    show ctr-run --rm --network container:web busybox sh -c 'ip -4 -o addr show eth0 && wget -qO- http://127.0.0.1/'
    show ctr-rm -f web
}

caption "ctrkit: one kernel primitive per tool (this demo runs in a network namespace of its own)"
versions || echo "  -> the tools are not all built"
demo "the default image: Debian's busybox-static (apt-get download) as an OCI image, imported into the layer store" image
demo "PID isolation: ps -ef shows the command as PID 1 and nothing of the host" pid1
demo "UTS isolation: the hostname is the container's" hostname_demo
demo "cgroups: --cpus 0.5 is a 50000/100000 CPU quota, and a busy loop gets half a CPU" cpus
demo "layers: a file written in a container lives only in its top layer; the image is unchanged" layers
demo "ctr-commit: the container's layer becomes a new image that has the file" commit
demo "bridge network: each container gets an address, and two containers reach each other" bridge
demo "network modes: none has only lo, host shares the host's links, container:web shares web's" modes
caption "done: $ok demonstrations worked, $failed did not; removing everything the demo made"
