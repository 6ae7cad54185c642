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
# shared rootfs, and a cgroup under the file's test cgroup; then the jq filter $OCI_JQ, if
# set, edits the config (annotations, hostname)
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
        "$b/config.json" | jq "${OCI_JQ:-.}" >"$b/config.json.new"
    mv "$b/config.json.new" "$b/config.json"
    echo "$b"
}

# runc_start ID CMD... : `runc run -d` a container; sets RUNC_PID. Remembered for teardown.
# With RUNC_ROOT set, runc keeps its state there (runc --root) instead of /run/runc.
runc_start() {
    local id=$1 b r=()
    [ -z "${RUNC_ROOT-}" ] || r=(--root "$RUNC_ROOT")
    b=$(oci_bundle "$@")
    echo "runc $id ${RUNC_ROOT-}" >>"$TEST_DIR/oci-ids"
    runc "${r[@]}" run -d --bundle "$b" "$id" </dev/null >/dev/null 2>&1 3>&-
    RUNC_PID=$(runc "${r[@]}" state "$id" | jq -r .pid)
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
    local rt id root pids=() p i r
    while read -r rt id root; do
        r=()
        [ -z "$root" ] || r=(--root "$root")
        p=$(jq -r '.init_process_pid // .pid // empty' "${root:-/run/$rt}/$id/state.json" "/run/$rt/$id/status" 2>/dev/null | head -1)
        [ -z "$p" ] || pids+=("$p")
        case $rt in
            runc)
                runc "${r[@]}" kill "$id" KILL 2>/dev/null || true
                runc "${r[@]}" delete -f "$id" 2>/dev/null || true
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

# --- Podman and Docker, with every root under the test dir --------------------------------

# podman_setup : Podman 4 with its storage, run root and temp files under $TEST_DIR/podman
# (rootful, runc, cgroupfs; containers go under the file's test cgroup with
# --cgroup-parent "$PODMAN_CGROUP", so nothing lands in libpod_parent), and a busybox image
# $PODMAN_IMAGE. Exports CONTAINERS_CONF and CONTAINERS_STORAGE_CONF.
podman_setup() {
    P=$TEST_DIR/podman
    mkdir -p "$P/tmp" "$P/vol" "$P/net.d" "$P/graph" "$P/run"
    cat >"$P/containers.conf" <<EOC
[containers]
default_ulimits = ["nofile=20000:20000","nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
tmp_dir = "$P/tmp"
volume_path = "$P/vol"
[network]
network_backend = "cni"
network_config_dir = "$P/net.d"
EOC
    cat >"$P/storage.conf" <<EOC
[storage]
driver = "vfs"
graphroot = "$P/graph"
runroot = "$P/run"
EOC
    export CONTAINERS_CONF="$P/containers.conf" CONTAINERS_STORAGE_CONF="$P/storage.conf"
    export PODMAN_CGROUP=/$TEST_CGROUP/podman PODMAN_IMAGE=ctrps54img
    make_bundle_rootfs
    [ -f "$TEST_DIR/rootfs.tar" ] || tar -C "$TEST_DIR/rootfs" -cf "$TEST_DIR/rootfs.tar" .
    podman import -q "$TEST_DIR/rootfs.tar" "$PODMAN_IMAGE" >/dev/null
}

# podman_cleanup : remove every container and image of this podman, and its cgroups
podman_cleanup() {
    [ -n "${P-}" ] && [ -f "$P/storage.conf" ] || return 0
    # (its own config named again: never the host's default storage)
    CONTAINERS_CONF="$P/containers.conf" CONTAINERS_STORAGE_CONF="$P/storage.conf" \
        podman rm -a -f -t 0 >/dev/null 2>&1 || true
    CONTAINERS_CONF="$P/containers.conf" CONTAINERS_STORAGE_CONF="$P/storage.conf" \
        podman rmi -a -f >/dev/null 2>&1 || true
    remove_test_cgroups podman
}

# remove_test_cgroups NAME : remove $TEST_CGROUP/NAME and below in every hierarchy (only
# ours: the file's own test cgroup)
remove_test_cgroups() {
    local c
    for c in /sys/fs/cgroup/*/"$TEST_CGROUP/$1" /sys/fs/cgroup/"$TEST_CGROUP/$1"; do
        [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    return 0
}

# dockerd_start : Debian's dockerd (20.10) with its data root under $TEST_DIR/docker, its
# exec root (sockets, containerd state) in a short temp dir, no bridge and no iptables
# rules, containers under the file's test cgroup. Exports DOCKER_HOST. Returns 1 with the
# reason in DOCKERD_WHY when it does not start within 30 s. What it writes outside
# (/etc/docker/key.json, /run/docker, /run/containerd) is remembered for dockerd_stop.
dockerd_start() {
    local d=$TEST_DIR/docker i=0
    mkdir -p "$d/data"
    DOCKER_EXEC=$(mktemp -d /tmp/ctrps-dk.XXXXXX)
    echo '{}' >"$d/daemon.json"
    HAD_DOCKER_KEY=0
    [ -e /etc/docker/key.json ] && HAD_DOCKER_KEY=1
    HAD_RUN_DOCKER=0
    [ -e /run/docker ] && HAD_RUN_DOCKER=1
    HAD_RUN_CONTAINERD=0
    [ -e /run/containerd ] && HAD_RUN_CONTAINERD=1
    export DOCKER_HOST="unix://$DOCKER_EXEC/docker.sock"
    dockerd --config-file "$d/daemon.json" --data-root "$d/data" --exec-root "$DOCKER_EXEC" \
        --pidfile "$DOCKER_EXEC/docker.pid" -H "$DOCKER_HOST" --iptables=false \
        --ip6tables=false --ip-masq=false --bridge=none --storage-driver=vfs \
        --cgroup-parent="/$TEST_CGROUP/docker" </dev/null >"$d/dockerd.log" 2>&1 3>&- &
    DOCKERD_PID=$!
    track_pid "$DOCKERD_PID"
    until docker version >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -ge 150 ] || ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
            DOCKERD_WHY="dockerd did not start: $(tail -n 1 "$d/dockerd.log")"
            export DOCKERD_WHY
            return 1
        fi
        sleep 0.2
    done
}

# dockerd_stop : remove the containers, stop dockerd (and the containerd it started), and
# remove what it made outside the test dir, when it was not there before
dockerd_stop() {
    [ -n "${DOCKERD_PID-}" ] || return 0
    docker -H "$DOCKER_HOST" ps -aq 2>/dev/null |
        xargs -r docker -H "$DOCKER_HOST" rm -f >/dev/null 2>&1 || true
    kill -TERM "$DOCKERD_PID" 2>/dev/null || true
    local i=0
    while kill -0 "$DOCKERD_PID" 2>/dev/null && [ $i -lt 200 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -KILL "$DOCKERD_PID" 2>/dev/null || true
    wait "$DOCKERD_PID" 2>/dev/null || true
    DOCKERD_PID=
    [ "$HAD_DOCKER_KEY" = 1 ] || rm -f /etc/docker/key.json
    [ "$HAD_RUN_DOCKER" = 1 ] || rmdir /run/docker/plugins /run/docker 2>/dev/null || true
    [ "$HAD_RUN_CONTAINERD" = 1 ] || rmdir /run/containerd/s /run/containerd 2>/dev/null || true
    remove_test_cgroups docker
    rm -rf "$DOCKER_EXEC"
}

# containerd_start : containerd (1.6) with its root, state and sockets under a short temp
# dir; sets CTD (the `ctr` command line to use). Returns 1 with the reason in CTD_WHY when
# it does not start within 30 s. It makes /run/containerd (runc state, fifos, shim
# sockets) whatever its config: containerd_stop removes what is left there empty, when it
# was not there before.
containerd_start() {
    local i=0
    CTD_DIR=$(mktemp -d /tmp/ctrps-ctd.XXXXXX)
    HAD_RUN_CONTAINERD_CTD=0
    [ -e /run/containerd ] && HAD_RUN_CONTAINERD_CTD=1
    cat >"$CTD_DIR/config.toml" <<EOC
version = 2
root = "$CTD_DIR/root"
state = "$CTD_DIR/state"
[grpc]
  address = "$CTD_DIR/c.sock"
[ttrpc]
  address = "$CTD_DIR/c.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
EOC
    containerd --config "$CTD_DIR/config.toml" </dev/null >"$CTD_DIR/log" 2>&1 3>&- &
    CTD_PID=$!
    track_pid "$CTD_PID"
    CTD=(ctr -a "$CTD_DIR/c.sock")
    until "${CTD[@]}" version >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -ge 150 ] || ! kill -0 "$CTD_PID" 2>/dev/null; then
            CTD_WHY="containerd did not start: $(tail -n 1 "$CTD_DIR/log")"
            export CTD_WHY
            return 1
        fi
        sleep 0.2
    done
}

# containerd_stop : kill and remove its tasks and containers, stop it, remove its dirs
containerd_stop() {
    [ -n "${CTD_PID-}" ] || return 0
    local c i=0
    for c in $("${CTD[@]}" task ls -q 2>/dev/null); do
        "${CTD[@]}" task kill -s KILL "$c" >/dev/null 2>&1 || true
    done
    for c in $("${CTD[@]}" container ls -q 2>/dev/null); do
        i=0
        until "${CTD[@]}" task rm -f "$c" >/dev/null 2>&1 || [ $i -ge 50 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        "${CTD[@]}" container rm "$c" >/dev/null 2>&1 || true
    done
    kill -TERM "$CTD_PID" 2>/dev/null || true
    i=0
    while kill -0 "$CTD_PID" 2>/dev/null && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -KILL "$CTD_PID" 2>/dev/null || true
    wait "$CTD_PID" 2>/dev/null || true
    CTD_PID=
    if [ "$HAD_RUN_CONTAINERD_CTD" = 0 ] && [ -d /run/containerd ]; then
        find /run/containerd -depth -type d -empty -delete 2>/dev/null || true
    fi
    remove_test_cgroups containerd
    rm -rf "$CTD_DIR"
}
