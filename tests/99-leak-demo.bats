#!/usr/bin/env bats
# A deliberately leaking test, kept out of the normal run: `make leak-demo` runs it with
# CTRKIT_TEST_LEAK=1 to show that the leak check fails the suite with a clear list.

load helpers

@test "leak demo: leaves a process, a mount and a cgroup behind" {
    [ "${CTRKIT_TEST_LEAK-}" = 1 ] || skip "set CTRKIT_TEST_LEAK=1 to run"
    require_root
    # a process, not tracked for teardown
    sleep 300 3>&- >/dev/null 2>&1 &
    # a mount in the host's mount namespace, under the test temp dir
    mkdir -p "$TEST_DIR/leaked-mount"
    mount -t tmpfs leak "$TEST_DIR/leaked-mount"
    # a cgroup under the test parent
    mkdir -p "/sys/fs/cgroup/pids/$TEST_CGROUP/leaked"
}
