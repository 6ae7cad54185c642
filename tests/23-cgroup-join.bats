#!/usr/bin/env bats
# nsenter-rs --cgroup joins a cgroup that cgset made, on the host's hierarchy and (through
# tests/vm/run-v2.sh) on pure cgroup v2: the container is born in its cgroup2 directory
# (clone3 CLONE_INTO_CGROUP) and moves its one thread into each v1 hierarchy.

load helpers

setup_file() {
    ctrkit_setup_file
}

teardown() {
    cgset delete --kill --missing-ok "$TEST_CGROUP" >/dev/null 2>&1 || true
    ctrkit_teardown
}

@test "nsenter-rs --cgroup: the command is in the cgroup in every hierarchy, limits apply" {
    require_root
    cg="$TEST_CGROUP/join"
    run_tool cgset create "$cg" --parent-ok --pids 5
    run_tool nsenter-rs --new=pid,uts --cgroup "$cg" -- cat /proc/self/cgroup
    # one line a hierarchy; each that holds the cgroup names it
    while IFS=: read -r id ctrl path; do
        if [ "$id" = 0 ] || [[ "$ctrl" == *pids* ]]; then
            assert_eq "$path" "/$cg" "hierarchy $id ($ctrl)"
        fi
    done <<<"$output"
    # its limit holds the container: 5 processes at most, so the eighth fork fails
    run_tool --rc any nsenter-rs --new=pid,uts --cgroup "$cg" -- sh -c \
        'for i in 1 2 3 4 5 6 7 8; do sleep 0.3 & done; wait'
    assert_match "$stderr" "[Ff]ork|[Rr]esource temporarily unavailable"
    run_tool cgset pids "$cg"
    assert_eq "$output" ""
}

@test "nsenter-rs --cgroup in a new user namespace: the parent moves it" {
    require_root
    cg="$TEST_CGROUP/userns"
    run_tool cgset create "$cg" --parent-ok
    run_tool nsenter-rs --new=user,pid --map-root-user --cgroup "$cg" -- cat /proc/self/cgroup
    while IFS=: read -r id ctrl path; do
        if [ "$id" = 0 ] || [[ "$ctrl" == *pids* ]]; then
            assert_eq "$path" "/$cg" "hierarchy $id ($ctrl)"
        fi
    done <<<"$output"
}
