#!/usr/bin/env bats
# 30 `ctr-run --rm` at once, on the bridge with limits: all succeed, with distinct
# addresses, and leave nothing behind.

load helpers
load 60-ctr-helpers

setup_file() { ctr_setup_file; }
teardown_file() { ctr_teardown_file; }
teardown() { ctr_teardown; }
setup() { ctr_setup_host; }

@test "30 ctr-run --rm at once: all succeed, distinct addresses, nothing left" {
    need_net
    out=$TEST_DIR/par
    mkdir -p "$out"
    # the bridge and the image exist before the rush (one run made them)
    run_host ctr-run --rm busybox true
    pids=()
    for i in $(seq 1 30); do
        nsenter -t "$TEST_HOST_PID" -n -m ctr-run --rm --name "par$i" --cpus 0.2 --memory 32m --pids-limit 20 busybox \
            sh -c 'ip -4 -o addr show eth0' >"$out/$i.out" 2>"$out/$i.err" 3>&- &
        pids+=($!)
    done
    failed=0
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}" || { failed=$((failed + 1)); cat "$out/$((i + 1)).err" >&2; }
    done
    assert_eq "$failed" 0 "ctr-run failures"
    addrs=$(cat "$out"/*.out | grep -oE 'inet [0-9.]+' | sort)
    assert_eq "$(printf '%s\n' "$addrs" | grep -c inet)" 30
    assert_eq "$(printf '%s\n' "$addrs" | sort -u | grep -c inet)" 30 "duplicate addresses: $addrs"
    [ -z "$(ls -A "$CTRKIT_STATE/containers")" ]
    host_veths 0
    run_host netbridge leases ctrkit0 --json
    assert_json length 0
    for i in $(seq 1 30); do no_leftovers "par$i" host; done
}

# races ROUNDS : a foreground `ctr-run --name race -p ...` whose calling shell is SIGKILLed
# at a different moment of setup each round, then `ctr-rm -f race`: it must return within
# 15 s, succeed, and leave nothing running and nothing behind
races() {
    local i d
    run_host ctr-run --rm busybox true # the bridge and the image, made once
    for i in $(seq 1 "$1"); do
        nsenter -t "$TEST_HOST_PID" -n -m sh -c 'ctr-run --name race -p 8080:80 busybox sleep 37; :' \
            >/dev/null 2>&1 3>&- &
        # 0 to 45 ms: before, during and after the launcher's setup
        d=$(((i * 7) % 46))
        sleep "0.$(printf '%03d' "$d")"
        kill -KILL $! 2>/dev/null || true
        run_tool timeout 15 nsenter -t "$TEST_HOST_PID" -n -m ctr-rm -f race
        [ "$status" = 0 ] || { echo "round $i (after ${d} ms): ctr-rm -f: status $status: $output" >&2; return 1; }
        # the orphaned launcher ends by itself once its container is gone
        wait_for test ! -e "$CTRKIT_STATE/containers/race" ||
            { echo "round $i: state folder left" >&2; return 1; }
        if pgrep -xf 'sleep 37' >/dev/null; then
            echo "round $i (after ${d} ms): the container still runs" >&2
            return 1
        fi
        no_leftovers race host || { echo "round $i (after ${d} ms)" >&2; return 1; }
    done
    host_clean
}

@test "ctr-rm -f during a slow setup: the launcher starts nothing, ctr-rm returns at once" {
    need_net
    run_host ctr-run --rm busybox true # the bridge and the image, made once
    # a cgroup step that takes 1 s: the launcher holds its lock, and no PID is written yet
    mkdir -p "$TEST_DIR/slow"
    printf '#!/bin/sh\nsleep 1\nexec %s/cgset "$@"\n' "$CTRKIT_BIN" >"$TEST_DIR/slow/cgset"
    chmod +x "$TEST_DIR/slow/cgset"
    nsenter -t "$TEST_HOST_PID" -n -m env PATH="$TEST_DIR/slow:$PATH" \
        sh -c 'ctr-run --name slowrace -p 8080:80 busybox sleep 37; :' >/dev/null 2>"$TEST_DIR/slow.err" 3>&- &
    launcher=$!
    track_pid "$launcher"
    wait_for test -d "$CTRKIT_STATE/containers/slowrace"
    sleep 0.3
    kill -KILL "$launcher"
    start=$(date +%s)
    run_tool timeout 15 nsenter -t "$TEST_HOST_PID" -n -m ctr-rm -f slowrace
    [ $(($(date +%s) - start)) -le 5 ]
    wait_for test ! -e "$CTRKIT_STATE/containers/slowrace"
    if pgrep -xf 'sleep 37' >/dev/null; then echo "the container runs" >&2 && false; fi
    no_leftovers slowrace host
    host_clean
}

@test "ctr-rm -f always wins: 150 launchers killed mid-setup, each removed at once, nothing left" {
    need_net
    races 150
}
