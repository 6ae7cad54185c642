# 50-ctr-ps-lib.bash - start real containers for the ctr-ps bats files: bare unshare,
# runc, crun (in a private mount namespace hiding the cgroup2 mount, which crun refuses
# on this hybrid layout) and ctrkit-style state folders. Everything started is tracked and
# removed in teardown.
# shellcheck shell=bash

# start_unshare FLAG... -- CMD... : an `unshare FLAGS --kill-child CMD` container in the
# background. Sets LAUNCHER_PID (unshare) and CTR_PID (its child, the container's init).
start_unshare() {
    local flags=()
    while [ "$1" != -- ]; do
        flags+=("$1")
        shift
    done
    shift
    unshare "${flags[@]}" --kill-child "$@" </dev/null >/dev/null 2>&1 3>&- &
    LAUNCHER_PID=$!
    track_pid "$LAUNCHER_PID"
    local i=0 kid=''
    while :; do
        kid=$(awk '{print $1}' "/proc/$LAUNCHER_PID/task/$LAUNCHER_PID/children" 2>/dev/null)
        if [ -n "$kid" ] && [ "$(cat "/proc/$kid/comm" 2>/dev/null)" != unshare ]; then
            break
        fi
        i=$((i + 1))
        [ $i -lt 250 ] || { echo "unshare container did not start" >&2; return 1; }
        sleep 0.02
    done
    CTR_PID=$kid
    track_pid "$CTR_PID"
}

# make_bundle_rootfs : one busybox rootfs for every runc/crun bundle of the file
make_bundle_rootfs() {
    [ -d "$TEST_DIR/rootfs" ] || make_busybox_rootfs "$TEST_DIR/rootfs"
}

# oci_bundle ID CMD... : $TEST_DIR/bundle-ID with a `runc spec` config running CMD, the
# shared rootfs, and a cgroup under the file's test cgroup
oci_bundle() {
    local id=$1
    shift
    local b="$TEST_DIR/bundle-$id"
    mkdir -p "$b"
    (cd "$b" && runc spec)
    local args
    args=$(printf '%s\n' "$@" | jq -R . | jq -s .)
    jq --argjson a "$args" --arg root "$TEST_DIR/rootfs" --arg cg "/$TEST_CGROUP/$id" \
        '.process.args = $a | .process.terminal = false | .root.path = $root | .linux.cgroupsPath = $cg' \
        "$b/config.json" >"$b/config.json.new"
    mv "$b/config.json.new" "$b/config.json"
    echo "$b"
}

# runc_start ID CMD... : `runc run -d` a container; sets RUNC_PID. Remembered for teardown.
runc_start() {
    local id=$1 b
    b=$(oci_bundle "$@")
    echo "runc $id" >>"$TEST_DIR/oci-ids"
    runc run -d --bundle "$b" "$id" </dev/null >/dev/null 2>&1 3>&-
    RUNC_PID=$(runc state "$id" | jq -r .pid)
    track_pid "$RUNC_PID"
}

# crun_cmd ARGS... : crun in a private mount namespace where /sys/fs/cgroup/unified is hidden
crun_cmd() {
    unshare -m --propagation private sh -c \
        'mount -t tmpfs ctrps-hide /sys/fs/cgroup/unified && exec crun "$@"' crun "$@"
}

# crun_start ID CMD... : `crun run -d`; sets CRUN_PID, or returns 1 when crun cannot run here
crun_start() {
    local id=$1 b
    b=$(oci_bundle "$@")
    echo "crun $id" >>"$TEST_DIR/oci-ids"
    crun_cmd run -d --bundle "$b" "$id" </dev/null >/dev/null 2>"$TEST_DIR/crun.err" 3>&- || return 1
    CRUN_PID=$(crun_cmd state "$id" | jq -r .pid)
    track_pid "$CRUN_PID"
}

# oci_cleanup : kill and delete every runc/crun container this file made, and wait until
# their inits are reaped (pid 1 here reaps orphans only every few seconds, and a zombie
# still counts as a leftover in the test cgroup)
oci_cleanup() {
    [ -f "$TEST_DIR/oci-ids" ] || return 0
    local rt id pids=() p i
    while read -r rt id; do
        p=$(jq -r '.init_process_pid // .pid // empty' "/run/$rt/$id/state.json" "/run/$rt/$id/status" 2>/dev/null | head -1)
        [ -z "$p" ] || pids+=("$p")
        case $rt in
            runc)
                runc kill "$id" KILL 2>/dev/null || true
                runc delete -f "$id" 2>/dev/null || true
                ;;
            crun)
                crun_cmd kill "$id" KILL 2>/dev/null || true
                crun_cmd delete -f "$id" 2>/dev/null || true
                ;;
        esac
        rm -rf "$TEST_DIR/bundle-$id"
    done <"$TEST_DIR/oci-ids"
    : >"$TEST_DIR/oci-ids"
    for p in "${pids[@]}"; do
        i=0
        while [ -d "/proc/$p" ] && [ $i -lt 200 ]; do
            sleep 0.05
            i=$((i + 1))
        done
    done
}

# json_of_pid PID : the ctr-ps --json object for the container whose init is PID
json_of_pid() {
    ctr-ps --json | jq -c --argjson p "$1" '.[] | select(.pid == $p)'
}
