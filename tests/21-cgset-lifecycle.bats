#!/usr/bin/env bats
# cgset: running in, attaching, freezing, killing and deleting cgroups, on the host's
# hierarchy and (through tests/vm/run-v2.sh) on pure cgroup v2.

load helpers

setup_file() {
    ctrkit_setup_file
    MODE=$(cgset info --json | jq -r .mode)
    export MODE
}

teardown() {
    cgset delete --kill --missing-ok "$TEST_CGROUP" >/dev/null 2>&1 || true
    ctrkit_teardown
}

# wait_for CMD... : up to 5 s for CMD to succeed
wait_for() {
    local i=0
    until "$@"; do
        i=$((i + 1))
        [ $i -lt 100 ] || { echo "timed out waiting for: $*" >&2; return 1; }
        sleep 0.05
    done
}

# wait_pids CGROUP N : up to 5 s for the subtree to hold at least N processes
wait_pids() {
    local i=0
    until [ "$(cgset pids -r "$1" | wc -l)" -ge "$2" ]; do
        i=$((i + 1))
        [ $i -lt 100 ] || { echo "timed out waiting for $2 processes in $1" >&2; return 1; }
        sleep 0.05
    done
}

# changes FILE VALUE : up to 5 s for FILE to hold something other than VALUE
changes() {
    local i=0
    until [ "$(cat "$1")" != "$2" ]; do
        i=$((i + 1))
        [ $i -lt 100 ] || { echo "$1 still holds $2" >&2; return 1; }
        sleep 0.05
    done
}

# the cgroup a pid is in, for a controller cgset uses on this machine
cgroup_line() {
    if [ "$MODE" = v2 ]; then grep '^0::' "/proc/$1/cgroup"; else grep ':memory:' "/proc/$1/cgroup"; fi
}

@test "exec: exit status is the command's, 125/126/127 when it cannot run" {
    require_root
    local g="$TEST_CGROUP/exec"
    run_tool --rc 125 cgset exec "$g" -- true
    assert_error cgset "no cgroup '$g'"
    run_tool cgset exec --create "$g" -- sh -c 'cat /proc/self/cgroup'
    assert_contains "$output" "/$g"
    run_tool --rc 7 cgset exec "$g" -- sh -c 'exit 7'
    run_tool --rc 127 cgset exec "$g" -- /no/such/cmd
    assert_error cgset "/no/such/cmd"
    run_tool --rc 126 cgset exec "$g" -- /etc/passwd
    run_tool --rc 143 cgset exec "$g" -- sh -c 'kill -TERM $$'
}

@test "attach, pids and /proc/PID/cgroup agree" {
    require_root
    local g="$TEST_CGROUP/attach"
    run_tool cgset create "$g" --parent-ok
    sleep 60 &
    local p=$!
    track_pid "$p"
    run_tool cgset attach "$g" "$p"
    assert_contains "$(cgroup_line "$p")" "/$g"
    run_tool cgset pids "$g"
    assert_eq "$output" "$p"
    run_tool cgset pids -r "$TEST_CGROUP"
    assert_eq "$output" "$p"
    run_tool --rc 1 cgset attach "$g" 999999999
    assert_error cgset "999999999"
}

@test "freeze stops the processes, thaw resumes them" {
    require_root
    local g="$TEST_CGROUP/freeze"
    local f="$TEST_DIR/counter"
    run_tool cgset create "$g" --parent-ok
    cgset exec "$g" -- sh -c "i=0; while :; do i=\$((i+1)); echo \$i > $f; sleep 0.02; done" &
    track_pid $!
    wait_for test -s "$f"
    run_tool cgset freeze "$g"
    local a b
    sleep 0.3
    a=$(cat "$f")
    sleep 0.5
    b=$(cat "$f")
    assert_eq "$b" "$a" "the counter moved while frozen"
    if [ "$MODE" = v2 ]; then
        grep -qx 'frozen 1' "/sys/fs/cgroup/$g/cgroup.events"
    else
        assert_eq "$(cat "/sys/fs/cgroup/freezer/$g/freezer.state")" FROZEN
    fi
    run_tool cgset thaw "$g"
    changes "$f" "$b"
}

@test "kill ends every process in the subtree" {
    require_root
    local g="$TEST_CGROUP/kill"
    # processes live in leaves only (cgroup v2's rule; v1 does not mind)
    run_tool cgset create "$g/a" --parent-ok
    run_tool cgset create "$g/b/c" --parent-ok
    cgset exec "$g/a" -- sleep 60 &
    local p1=$!
    cgset exec "$g/b/c" -- sh -c 'sleep 60 & sleep 60' &
    local p2=$!
    track_pid "$p1" "$p2"
    wait_pids "$g" 3
    run_tool cgset kill "$g"
    run_tool cgset pids -r "$g"
    assert_eq "$output" ""
    wait "$p1" || true
    ! kill -0 "$p1" 2>/dev/null
    # TERM, which a process may catch: delivered once
    cgset exec "$g/a" -- sh -c 'trap "echo got-term > '"$TEST_DIR"'/term; exit 0" TERM; while :; do sleep 0.05; done' &
    track_pid $!
    wait_pids "$g" 1
    sleep 0.2
    run_tool cgset kill --signal TERM "$g"
    wait_for test -s "$TEST_DIR/term"
}

@test "delete refuses a populated subtree, --kill empties and removes it everywhere" {
    require_root
    local g="$TEST_CGROUP/del"
    run_tool cgset create "$g/a/b" --parent-ok --memory 64M --pids 50
    run_tool cgset create "$g/c" --cpus 0.5
    cgset exec "$g/a/b" -- sleep 60 &
    track_pid $!
    cgset exec "$g/c" -- sleep 60 &
    track_pid $!
    wait_pids "$g" 2
    run_tool --rc 1 cgset delete "$g"
    assert_error cgset "still has processes"
    [ -n "$(cgset pids -r "$g")" ]
    run_tool cgset delete --kill "$g"
    local d
    for d in /sys/fs/cgroup/*/"$g" /sys/fs/cgroup/"$g"; do
        [ ! -d "$d" ] || { echo "left: $d" >&2; return 1; }
    done
    run_tool --rc 1 cgset delete "$g"
    assert_error cgset "no cgroup"
    run_tool cgset delete --missing-ok "$g"
}

@test "--leaf: v2's no-internal-processes rule is explained, and --leaf moves the processes" {
    require_root
    local g="$TEST_CGROUP/leaf"
    run_tool cgset create "$g" --parent-ok
    cgset exec "$g" -- sleep 60 &
    local p=$!
    track_pid "$p"
    wait_pids "$g" 1
    assert_eq "$(cgset pids "$g")" "$p"
    if [ "$MODE" = v2 ]; then
        run_tool --rc 1 cgset create "$g/web" --memory 32M
        assert_error cgset "no internal processes"
        assert_contains "$stderr" "--leaf"
        [ ! -d "/sys/fs/cgroup/$g/web" ] || { echo "half-made cgroup left" >&2; return 1; }
        run_tool cgset create --leaf "$g/web" --memory 32M
        assert_eq "$(cat "/sys/fs/cgroup/$g/leaf/cgroup.procs")" "$p"
        assert_eq "$(cat "/sys/fs/cgroup/$g/web/memory.max")" 33554432
        # and joining an inner cgroup is refused with the reason
        run_tool --rc 125 cgset exec "$g" -- true
        assert_error cgset "only join leaf cgroups"
    else
        # v1 has no such rule: the child is made, the process stays where it is
        run_tool cgset create --leaf "$g/web" --memory 32M
        assert_eq "$(cat "/sys/fs/cgroup/memory/$g/web/memory.limit_in_bytes")" 33554432
        assert_eq "$(cgset pids "$g")" "$p"
    fi
}

@test "get, watch and ls show usage under one schema" {
    require_root
    local g="$TEST_CGROUP/watch"
    run_tool cgset create "$g" --parent-ok --memory 64M --pids 40 --cpus 0.2
    cgset exec "$g" -- sh -c 'while :; do :; done' &
    track_pid $!
    wait_pids "$g" 1
    run_tool cgset get --json "$g"
    assert_json '[has("memory_current_bytes", "memory_peak_bytes", "memory_max_bytes", "memory_oom_count",
        "memory_oom_kill_count", "cpu_usage_usec", "cpu_user_usec", "cpu_system_usec", "cpu_nr_periods",
        "cpu_nr_throttled", "cpu_throttled_usec", "pids_current", "pids_max", "io")] | all' true
    assert_json '[.memory_max_bytes, .pids_max, .pids_current]' '[
  67108864,
  40,
  1
]'
    run_tool cgset watch "$g" --interval 500ms --count 3 --jsonl
    assert_eq "$(printf '%s\n' "$output" | wc -l)" 3
    # a loop capped at 0.2 CPUs: clearly busy, clearly capped
    assert_json '.cpu_percent > 5 and .cpu_percent < 40' true "$(printf '%s\n' "$output" | tail -1)"
    run_tool cgset ls --json -r "$TEST_CGROUP"
    assert_json ".[] | select(.path == \"$g\") | [.procs, .pids_max]" '[
  1,
  40
]'
    run_tool --rc 2 cgset get "$g" no_such_key
    assert_error cgset "unknown key"
}
