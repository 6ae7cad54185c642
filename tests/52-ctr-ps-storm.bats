#!/usr/bin/env bats
# ctr-ps never fails because processes (and whole containers) come and go during a scan.

load helpers
load 50-ctr-ps-lib

# storm N : N short-lived processes on the host, in batches of 50
storm() {
    local i
    for ((i = 1; i <= $1; i++)); do
        /bin/true &
        [ $((i % 50)) -ne 0 ] || wait
    done
    wait
}

@test "scans during a storm of 2000 short-lived processes and short-lived containers never error" {
    require_root
    # a long-lived container that itself spawns 1000 short-lived processes
    # shellcheck disable=SC2016 # expanded by the container's shell
    start_unshare -fp --mount-proc -- sh -c 'i=0; while [ $i -lt 1000 ]; do /bin/true & i=$((i + 1)); [ $((i % 50)) -ne 0 ] || wait; done; wait; sleep 300'
    inner=$CTR_PID
    # 2000 on the host, and 40 containers that live a few milliseconds each
    ( storm 2000 ) 3>&- &
    s1=$!
    track_pid "$s1"
    (
        for ((i = 0; i < 40; i++)); do unshare -fp --mount-proc --kill-child /bin/true; done
    ) 3>&- &
    s2=$!
    track_pid "$s2"
    n=0
    while kill -0 "$s1" 2>/dev/null || kill -0 "$s2" 2>/dev/null || [ $n -lt 10 ]; do
        for cmd in "ctr-ps" "ctr-ps --json" "ctr-ps procs" "ctr-ps ns --json" "ctr-ps procs --tree --json"; do
            # shellcheck disable=SC2086
            run_tool $cmd
            # shellcheck disable=SC2154 # run_tool sets stderr
            assert_eq "$stderr" "" "stderr of '$cmd'"
        done
        run_tool ctr-ps --json
        printf '%s' "$output" | jq -e 'type == "array"' >/dev/null
        n=$((n + 1))
        [ $n -lt 200 ] || break
    done
    wait "$s1" "$s2"
    echo "scans: $n rounds of 6" >&3
    [ "$n" -ge 10 ]
    # the spawning container is still found, with its init
    run_tool ctr-ps --json --filter "pid=$inner"
    assert_json length 1
    run_tool ctr-ps top -i 50ms -n 3 --jsonl
    assert_eq "$stderr" ""
}

@test "zombies: a container whose child is a zombie is listed, the zombie in procs with state Z" {
    require_root
    # the init starts a child that exits and is never reaped (exec replaces the shell)
    start_unshare -fp --mount-proc -- sh -c '/bin/true & exec sleep 300'
    local i=0
    while [ "$(awk '$3 == "Z"' "/proc/$(pgrep -P "$CTR_PID" | head -1)/stat" 2>/dev/null)" = "" ]; do
        i=$((i + 1)); [ $i -lt 100 ] || skip "no zombie appeared"
        sleep 0.05
    done
    zombie=$(pgrep -P "$CTR_PID" | head -1)
    run_tool ctr-ps procs "$(ctr-ps -q --filter "pid=$CTR_PID")" --json
    assert_json ".[] | select(.pid == $zombie) | .state" Z
    assert_json ".[] | select(.pid == $zombie) | .container_pid" "$(awk '/^NSpid:/{print $NF}' "/proc/$zombie/status")"
    run_tool ctr-ps --json --filter "pid=$CTR_PID"
    assert_json '.[0].pids' 2
}
