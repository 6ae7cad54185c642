# 60-ctr-helpers.bash - shared by the launcher tests (tests/6x-ctr-*.bats): probes that say
# whether each tool ctr-run composes works yet, the default image, and leak checks.
# shellcheck shell=bash

# Each probe checks the tool's behaviour once per file and caches the verdict in $TEST_DIR;
# a test that needs a tool which does not work fails at once, naming the tool and its error
# (all five tools have landed: a broken one is a failure, never a skip).

# probe NAME CMD... : run CMD once per file; remember success or its last stderr line
probe() {
    local name=$1 f="$TEST_DIR/probe.$1"
    shift
    if [ ! -f "$f" ]; then
        if "$@" >"$f.out" 2>"$f.err"; then
            echo ok >"$f"
        else
            { tail -n 1 "$f.err"; [ -s "$f.err" ] || tail -n 1 "$f.out"; } | head -c 300 >"$f"
        fi
    fi
    [ "$(cat "$f")" = ok ]
}

probe_layermount() {
    local d=$TEST_DIR/probe-lm
    mkdir -p "$d/m"
    ( # the default image, from this machine's static busybox (tests do not need the network)
        layermount inspect busybox --json >/dev/null 2>&1 ||
            mkimage-busybox --busybox /bin/busybox >/dev/null || exit 1
        layermount inspect busybox --json | jq -e . >/dev/null || exit 1
        unshare -m --propagation private sh -c "layermount mount busybox '$d/m' --container probe-lm >/dev/null && test -x '$d/m/bin/busybox'"
        rc=$?
        layermount rm-container probe-lm >/dev/null || exit 1
        exit $rc
    )
}

probe_cgset() {
    cgset create "$TEST_CGROUP/probe" --parent-ok --pids 10 --cpus 0.5 --memory 64M >/dev/null &&
        cgset delete "$TEST_CGROUP/probe" >/dev/null
}

probe_nsenter() {
    local r=$TEST_DIR/probe-rootfs
    [ -d "$r" ] || make_busybox_rootfs "$r"
    mkdir -p "$TEST_DIR/probe-ns"
    nsenter-rs --new=pid,mnt,uts,ipc --rootfs "$r" --hostname probe -- /bin/true &&
        nsenter-rs --new=net --pin "$TEST_DIR/probe-ns" -- true &&
        nsenter-rs --unpin "$TEST_DIR/probe-ns"
}

# inside the test host (create_test_host first)
probe_netbridge() {
    mkdir -p "$TEST_DIR/probe-nb"
    in_host sh -c "
        nsenter-rs --new=net --pin '$TEST_DIR/probe-nb' -- true || exit 1
        netbridge create probebr0 --subnet 10.250.0.0/24 >/dev/null &&
        netbridge attach '$TEST_DIR/probe-nb/net' --bridge probebr0 --name probe --json >/dev/null &&
        netbridge detach --name probe --bridge probebr0 && netbridge rm probebr0 >/dev/null
        rc=\$?
        nsenter-rs --unpin '$TEST_DIR/probe-nb'
        exit \$rc"
}

probe_netbridge_none() {
    mkdir -p "$TEST_DIR/probe-nn"
    nsenter-rs --new=net --pin "$TEST_DIR/probe-nn" -- true || return 1
    netbridge attach --none "$TEST_DIR/probe-nn/net" >/dev/null
    local rc=$?
    nsenter-rs --unpin "$TEST_DIR/probe-nn"
    return $rc
}

probe_ctr_ps() {
    local out
    out=$(ctr-ps --json) && jq -e 'type == "array"' >/dev/null <<<"$out"
}

# need TOOL... : fail unless every named tool works (layermount cgset nsenter netbridge
# netbridge-none ctr-ps)
need() {
    local t
    for t in "$@"; do
        probe "$t" "probe_${t//-/_}" || {
            echo "$t does not work: $(cat "$TEST_DIR/probe.$t")" >&2
            return 1
        }
    done
}

# need_run : everything ctr-run --network none uses
need_run() {
    require_root
    need layermount cgset nsenter netbridge-none
}

# need_net : everything ctr-run in bridge mode uses
need_net() {
    need_run
    need netbridge
}

# ctr_setup_host : setup for tests that run the launcher inside a test host namespace
ctr_setup_host() {
    ctrkit_setup
    require_root
    create_test_host
}

# the launcher's cgroups go under the test's parent
ctr_setup_file() {
    ctrkit_setup_file
    export CTRKIT_CGROUP_PARENT="$TEST_CGROUP/ctr"
}

# every container a test left (a failed test) is removed, in the test host when there is one
ctr_teardown() {
    local c
    for c in "$CTRKIT_STATE"/containers/*; do
        [ -d "$c" ] || continue
        if [ -n "${TEST_HOST_PID-}" ] && [ -d "/proc/$TEST_HOST_PID" ]; then
            nsenter -t "$TEST_HOST_PID" -n -m ctr-rm -f "${c##*/}" || true
        else
            ctr-rm -f "${c##*/}" || true
        fi
    done
    ctrkit_teardown
}

# the launcher's parent cgroup goes with the file (the containers' own must be gone by then)
ctr_teardown_file() {
    rmdir /sys/fs/cgroup/*/"$CTRKIT_CGROUP_PARENT" /sys/fs/cgroup/"$CTRKIT_CGROUP_PARENT" 2>/dev/null || true
    ctrkit_teardown_file
}

# no_leftovers NAME [IN_HOST] : nothing of container NAME remains: state folder, mounts of
# the state dir, cgroup directories, processes in them
no_leftovers() {
    local name=$1 run=()
    [ "${2-}" = host ] && run=(in_host)
    [ ! -e "$CTRKIT_STATE/containers/$name" ] || { echo "state folder of $name left" >&2; return 1; }
    if "${run[@]}" findmnt -rn -o TARGET | grep -F "$CTRKIT_STATE/containers/$name"; then
        echo "mounts of $name left" >&2
        return 1
    fi
    local d
    for d in /sys/fs/cgroup/*/"$CTRKIT_CGROUP_PARENT/$name" /sys/fs/cgroup/"$CTRKIT_CGROUP_PARENT/$name"; do
        [ ! -e "$d" ] || { echo "cgroup $d left" >&2; return 1; }
    done
}

# host_veths N : wait until the test host has N veths -- a container's pair goes with its
# network namespace, which the kernel removes in the background -- then assert N (5 s at most)
host_veths() {
    local i=0
    while [ "$(in_host ip -o link show type veth | grep -c '' || true)" != "$1" ] && [ $i -lt 500 ]; do
        i=$((i + 1))
        sleep 0.01
    done
    assert_eq "$(in_host ip -o link show type veth | grep -c '' || true)" "$1" "veths: $(in_host ip -o link show type veth)"
}

# host_clean : the test host has no veth, no lease, no nft rule of a container left
host_clean() {
    host_veths 0
    if in_host ip link show "${CTRKIT_BRIDGE:-ctrkit0}" >/dev/null 2>&1; then
        run_host netbridge leases "${CTRKIT_BRIDGE:-ctrkit0}" --json
        assert_json 'length' 0
    fi
    ! in_host nft list ruleset 2>/dev/null | grep -q 'dnat to'
}

# cgroup_dir CONTROLLER NAME : the v1 directory of container NAME's cgroup for CONTROLLER
cgroup_dir() {
    echo "/sys/fs/cgroup/$1/$CTRKIT_CGROUP_PARENT/$2"
}

# run_host [--rc N] CMD... : run_tool CMD inside the test host (create_test_host first)
run_host() {
    local rc=()
    if [ "$1" = --rc ]; then
        rc=(--rc "$2")
        shift 2
    fi
    run_tool "${rc[@]}" nsenter -t "$TEST_HOST_PID" -n -m "$@"
}

# wait_for CMD... : retry CMD for up to 10 s
wait_for() {
    local i=0
    until "$@" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 200 ] || return 1
        sleep 0.05
    done
}
