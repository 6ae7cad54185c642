#!/usr/bin/env bats
# The test harness itself: the leak check really fails a run that leaks.

load helpers

@test "the leak check fails a leaking run and lists what leaked" {
    require_root
    run_tool --rc 1 env CTRKIT_TEST_LEAK=1 "$CTRKIT_SRC/tests/run.sh" "$CTRKIT_SRC/tests/99-leak-demo.bats"
    assert_contains "$output" "leak check: FAILED"
    assert_match "$output" "process [0-9]+: sleep 300"
    assert_match "$output" "mount: [^ ]*/leaked-mount"
    assert_match "$output" "cgroup: [^ ]*/99-leak-demo/leaked"
    assert_contains "$output" "bats: 1 passed, 1 failed"
    # and it cleaned up what it found: that very process is gone (by its pid: another
    # 'sleep 300' on the machine is none of this test's business)
    [[ "$output" =~ process\ ([0-9]+):\ sleep\ 300 ]]
    local pid=${BASH_REMATCH[1]}
    [ ! -e "/proc/$pid" ] || [ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" != "sleep 300 " ]
}

@test "create_test_host gives a network namespace of its own" {
    require_root
    create_test_host
    assert_eq "$(in_host ip -o link show | wc -l)" "1" "only lo in the test host"
    [ "$(readlink "/proc/$TEST_HOST_PID/ns/net")" != "$(readlink /proc/self/ns/net)" ]
}
