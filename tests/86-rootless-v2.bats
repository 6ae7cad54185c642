#!/usr/bin/env bats
# Rootless limits (issue 21) on a pure cgroup v2 kernel: run it with
#   tests/vm/run-v2.sh tests/86-rootless-v2.bats
# (skipped elsewhere: this host is v1 hybrid, where tests/85 checks the refusal). A user this
# file creates gets a delegated subtree as systemd's Delegate=yes gives one -- a cgroup
# chowned to it with its cgroup.procs, cgroup.subtree_control and cgroup.threads, the memory
# and pids controllers enabled for its children, and the user's shell in a leaf of it --
# and ctr-run's --memory works there: an allocation past the limit is OOM-killed (137).

load helpers

setup_file() {
    ctrkit_setup_file
    require_root
    # (skipped test by test: a skip in setup_file makes bats 1.8 fail teardown_file)
    export RL_SKIP=''
    [ -f /sys/fs/cgroup/cgroup.controllers ] || RL_SKIP="needs a pure cgroup v2 hierarchy (tests/vm/run-v2.sh)"
    command -v newuidmap >/dev/null || RL_SKIP="newuidmap (uidmap) missing"
    [ -z "$RL_SKIP" ] || return 0
    export RL_USER="ctrk86u$$"
    useradd -m -s /bin/sh "$RL_USER"
    RL_UID=$(id -u "$RL_USER") RL_GID=$(id -g "$RL_USER")
    RL_HOME=$(getent passwd "$RL_USER" | cut -d: -f6)
    grep -q "^$RL_USER:" /etc/subuid || echo "$RL_USER:$((300000 + ($$ % 1000) * 65536)):65536" >>/etc/subuid
    grep -q "^$RL_USER:" /etc/subgid || echo "$RL_USER:$((300000 + ($$ % 1000) * 65536)):65536" >>/etc/subgid
    export RL_UID RL_GID RL_HOME
    export RL_RUN="/tmp/ctrk86-run-$$"
    install -d -m 700 -o "$RL_USER" -g "$RL_GID" "$RL_RUN"
    # the store on the guest's tmpfs: its / is an overlay, where an overlay's upper layer
    # cannot be
    export RL_DATA="/tmp/ctrk86-data-$$"
    install -d -m 700 -o "$RL_USER" -g "$RL_GID" "$RL_DATA"
    # the delegated subtree: DELEG (the user's), DELEG/session (where its shell runs)
    export RL_CG="ctrk86-$$"
    local d=/sys/fs/cgroup/$RL_CG
    mkdir "$d"
    echo "+memory +pids" >"$d/cgroup.subtree_control"
    mkdir "$d/session"
    chown "$RL_USER" "$d" "$d/cgroup.procs" "$d/cgroup.subtree_control" "$d/cgroup.threads" \
        "$d/session" "$d/session/cgroup.procs" "$d/session/cgroup.threads"
    as_user mkimage-busybox --busybox /bin/busybox >/dev/null
}

setup() {
    [ -z "$RL_SKIP" ] || skip "$RL_SKIP"
}

teardown_file() {
    if [ -n "${RL_USER-}" ]; then
        for c in "$RL_RUN"/ctrkit/containers/*; do
            [ -d "$c" ] || continue
            as_user ctr-rm -f "${c##*/}" || true
        done
        userdel -r "$RL_USER" 2>/dev/null || true
        sed -i "/^$RL_USER:/d" /etc/subuid /etc/subgid
        rm -rf "$RL_RUN" "$RL_DATA"
        if [ -n "${RL_CG-}" ]; then
            rmdir /sys/fs/cgroup/"$RL_CG"/*/ 2>/dev/null || true
            rmdir /sys/fs/cgroup/"$RL_CG" 2>/dev/null || true
        fi
    fi
    ctrkit_teardown_file
}

# as_user CMD... : CMD as the test user, its shell in the delegated subtree's leaf
as_user() {
    sh -c 'echo $$ >"/sys/fs/cgroup/$0/session/cgroup.procs" && exec "$@"' "$RL_CG" \
        setpriv --reuid="$RL_UID" --regid="$RL_GID" --init-groups \
        env -i HOME="$RL_HOME" XDG_RUNTIME_DIR="$RL_RUN" XDG_DATA_HOME="$RL_DATA" USER="$RL_USER" \
        PATH="$CTRKIT_BIN:$CTRKIT_SRC/scripts:/usr/sbin:/usr/bin:/sbin:/bin" \
        sh -c 'cd / && exec "$@"' sh "$@"
}

@test "rootless v2: --memory works in a delegated subtree, and an allocation past it is OOM-killed (137)" {
    run as_user ctr-run -d --name lim --network none --memory 32M --pids-limit 50 \
        --cgroup-parent "$RL_CG" busybox sleep 60
    echo "ctr-run: $output"
    assert_eq "$status" 0
    assert_eq "$(cat "/sys/fs/cgroup/$RL_CG/lim/memory.max")" 33554432
    assert_eq "$(cat "/sys/fs/cgroup/$RL_CG/lim/pids.max")" 50
    pid=$(cat "$RL_RUN/ctrkit/containers/lim/pid")
    assert_eq "$(cat "/proc/$pid/cgroup")" "0::/$RL_CG/lim"
    run -0 as_user ctr-rm -f lim
    [ ! -e "/sys/fs/cgroup/$RL_CG/lim" ]
    run -137 as_user ctr-run --rm --network none --memory 32M --memory-swap 32M \
        --cgroup-parent "$RL_CG" busybox dd if=/dev/zero of=/dev/null bs=64M count=1
    # without the delegation the same flag is refused
    run -125 as_user ctr-run --rm --network none --memory 32M busybox true
    assert_contains "$output" "delegated to uid $RL_UID"
}
