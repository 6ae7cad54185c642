#!/usr/bin/env bats
# cgset on a v1-only view (no cgroup2 mount at all): derived from a hybrid host by hiding
# /sys/fs/cgroup/unified in a private mount namespace, so the v1 code paths without
# cgroup.kill/cgroup.freeze (freeze, signal, thaw until empty) run against a real kernel.

load helpers

setup_file() {
    ctrkit_setup_file
    MODE=$(cgset info --json | jq -r .mode)
    export MODE
}

setup() {
    ctrkit_setup
    require_root
    [ "$MODE" = hybrid ] || skip "needs a hybrid host to derive a v1-only view (this one is $MODE)"
}

teardown() {
    cgset delete --kill --missing-ok "$TEST_CGROUP" >/dev/null 2>&1 || true
    ctrkit_teardown
}

# "${V1[@]}" CMD... : run CMD where /sys/fs/cgroup/unified is hidden (a private mount namespace)
V1=(unshare -m --propagation private sh -c
    'mount -t tmpfs -o size=4k ctrkit-hide /sys/fs/cgroup/unified && exec "$@"' sh)

@test "v1 view: info says v1, and nothing is made in the v2 mount" {
    run_tool "${V1[@]}" cgset info --json
    assert_json .mode v1
    assert_json '.mounts | map(select(.version == "v2")) | length' 0
    run_tool "${V1[@]}" cgset create "$TEST_CGROUP/a" --parent-ok --memory 32M --pids 10
    [ -d "/sys/fs/cgroup/memory/$TEST_CGROUP/a" ]
    [ ! -d "/sys/fs/cgroup/unified/$TEST_CGROUP/a" ]
    run_tool cgget -n -v -r pids.max "$TEST_CGROUP/a"
    assert_eq "$output" 10
}

@test "v1 view: kill empties a subtree without cgroup.kill (freeze, signal, thaw)" {
    local g="$TEST_CGROUP/k"
    run_tool "${V1[@]}" cgset create "$g/a" --parent-ok
    "${V1[@]}" cgset exec "$g/a" -- sh -c 'sleep 60 & sleep 60 & wait' &
    track_pid $!
    local i=0
    until [ "$(cgset pids -r "$g" | wc -l)" -ge 3 ]; do
        i=$((i + 1))
        [ $i -lt 100 ] || { echo "processes did not start" >&2; return 1; }
        sleep 0.05
    done
    # no v2 twin exists, so cgroup.kill cannot be what does it
    [ ! -d "/sys/fs/cgroup/unified/$g" ]
    run_tool "${V1[@]}" cgset kill "$g"
    run_tool cgset pids -r "$g"
    assert_eq "$output" ""
    assert_eq "$(cat "/sys/fs/cgroup/freezer/$g/a/freezer.state")" THAWED
    run_tool "${V1[@]}" cgset delete "$g"
    [ ! -d "/sys/fs/cgroup/memory/$g" ]
}
