# 40-netbridge-lib.bash - what the netbridge bats files share. Everything lives inside a
# test host network namespace (create_test_host); the real host's network is never touched.
# shellcheck shell=bash

# netbridge_setup : root, nft, a fresh test host (H = command prefix to run in it), and a
# CTRKIT_ROOT of the test's own (the networks die with the test host).
netbridge_setup() {
    require_root
    require_cmd nft jq
    create_test_host
    H=(nsenter -t "$TEST_HOST_PID" -n -m)
    CTRKIT_ROOT=$(mktemp -d "$TEST_DIR/root.XXXXXX")
    export CTRKIT_ROOT
}

# new_ctr : a "container" = a process in a fresh network namespace inside the test host.
# Prints its pid.
new_ctr() {
    nsenter -t "$TEST_HOST_PID" -n -m unshare -n sleep infinity </dev/null >/dev/null 2>&1 3>&- &
    local pid=$! i=0
    track_pid "$pid"
    # (until it is in a namespace of its own: neither the test host's, once nsenter entered
    # it, nor ours, before nsenter did -- under load a pid is seen still in ours)
    local ours
    ours=$(readlink /proc/$$/ns/net)
    while [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" = "$(readlink "/proc/$TEST_HOST_PID/ns/net")" ] ||
        [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" = "$ours" ] ||
        [ -z "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" ]; do
        i=$((i + 1))
        [ $i -lt 200 ] || return 1
        sleep 0.01
    done
    echo "$pid"
}

# in_ctr PID CMD... : run CMD in that container's network namespace
in_ctr() {
    local pid=$1
    shift
    nsenter -t "$pid" -n "$@"
}

# nb_fails RC MESSAGE ARGS... : netbridge ARGS (in the test host) fails with RC and MESSAGE as
# one line, printing nothing on stdout
nb_fails() {
    local rc=$1 msg=$2
    shift 2
    run_tool --rc "$rc" "${H[@]}" netbridge "$@"
    assert_error netbridge "$msg"
    # shellcheck disable=SC2154 # (set by bats' run, in run_tool)
    assert_eq "$output" ""
}
